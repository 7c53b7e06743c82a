-- Progressive lockout state of one account in a hash {f = failures, u = until_us}.
-- ARGV: cmd ('check' | 'fail' | 'reset'), now_us ('' = server clock),
--       after_failures, base_us, max_us. Reply: lock remaining/triggered in us.
local cmd = ARGV[1]
if cmd == 'reset' then
  redis.call('DEL', KEYS[1])
  return 0
end
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[2])
end
local after = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local maxl = tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'f', 'u')
local f = tonumber(v[1] or '0') or 0
local u = tonumber(v[2] or '0') or 0
if cmd == 'check' then
  if f >= after and u > now then return u - now end
  return 0
end
-- fail
if f > 0 and now - u > maxl then f = 0 end
f = f + 1
local lock = 0
if f >= after then
  lock = base
  local i = after
  while i < f and lock < maxl do
    lock = lock * 2
    i = i + 1
  end
  if lock > maxl then lock = maxl end
end
if now + lock > u then u = now + lock end
redis.call('HSET', KEYS[1], 'f', f, 'u', string.format('%.0f', u))
redis.call('PEXPIRE', KEYS[1], math.ceil((u - now + maxl) / 1000) + 1000)
return lock
