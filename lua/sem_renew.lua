-- sem_renew: extends a holder's lease by a full ttl, if the token still holds live permits (a
-- lapsed holder never comes back: its permits may be someone else's already).
-- KEYS[1]  holders, KEYS[2] queue, KEYS[3] queue expiries, KEYS[4] state (see lua/sem_acquire.lua)
-- ARGV[1]  token
-- ARGV[2]  ttl ms
-- Returns  1 if renewed, 0 if the permits are gone
local token, ttl = ARGV[1], tonumber(ARGV[2])
-- distkit:include fmt
-- distkit:include server_ms
local now = serverMs()
local score = redis.call("ZSCORE", KEYS[1], token)
if not score or tonumber(score) <= now then return 0 end
redis.call("ZADD", KEYS[1], fmt(now + ttl), token)
-- Every key of the semaphore expires at the same instant: move them together.
if redis.call("PTTL", KEYS[1]) < ttl then
  for i = 1, 4 do redis.call("PEXPIRE", KEYS[i], ARGV[2]) end
end
return 1
