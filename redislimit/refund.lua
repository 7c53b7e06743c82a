-- Refund one GCRA charge of KEYS[1] (Cluster path: a request that another
-- limit refused must not stay charged here).
-- ARGV[1]: emission interval T (us); ARGV[2]: the TAT our charge stored.
-- A charge adds exactly T to the TAT (TAT = max(TAT, now) + T), and later
-- charges only add more, so subtracting T restores the state as if we had
-- never charged. If the stored TAT is below ours, the key expired or was
-- reset since: our charge is gone already and nothing is refunded.
-- Reply: 1 refunded, 0 not.
local T = tonumber(ARGV[1])
local ours = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < ours then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then ttl = 1000 end
redis.call('SET', KEYS[1], string.format('%.0f', tat - T), 'PX', ttl)
return 1
