-- GCRA for every key in KEYS, all charged only if all conform.
-- ARGV[1]: now in microseconds, or '' to use the Redis server clock.
-- ARGV[2i], ARGV[2i+1]: emission interval T and tolerance tau (= T*burst)
-- of KEYS[i], in microseconds. Each key holds its theoretical arrival time.
-- Reply: {all_allowed, then per key: allowed, remaining|retry_us, reset_us,
-- then per key: the TAT it stored (0 if none)}. The stored TATs let a
-- Cluster caller refund exactly this charge (refund.lua).
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local all = 1
local reply = {0}
local newtat = {}
for i = 1, #KEYS do
  local T = tonumber(ARGV[2 * i])
  local tau = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if tat < now then tat = now end
  local nt = tat + T
  local allow_at = nt - tau
  if now < allow_at then
    all = 0
    reply[#reply + 1] = 0
    reply[#reply + 1] = allow_at - now
    reply[#reply + 1] = tat - now
  else
    newtat[i] = nt
    reply[#reply + 1] = 1
    reply[#reply + 1] = math.floor((now - allow_at) / T)
    reply[#reply + 1] = nt - now
  end
end
if all == 1 then
  for i = 1, #KEYS do
    local ttl = math.ceil((newtat[i] - now) / 1000) + 1000
    redis.call('SET', KEYS[i], string.format('%.0f', newtat[i]), 'PX', ttl)
  end
end
reply[1] = all
for i = 1, #KEYS do
  if all == 1 then
    reply[#reply + 1] = newtat[i]
  else
    reply[#reply + 1] = 0
  end
end
return reply
