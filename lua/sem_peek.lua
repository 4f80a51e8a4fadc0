-- sem_peek: a read-only look at a semaphore (changes nothing).
-- KEYS[1]  holders, KEYS[2] queue expiries, KEYS[3] state (see lua/sem_acquire.lua)
-- Returns  {permits held by live holders, live waiters, the semaphore's permits or -1 when idle}
-- distkit:include fmt
-- distkit:include server_ms
local now = serverMs()
local used = 0
for _, m in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. fmt(now), "+inf")) do
  used = used + (tonumber(string.match(m, "^[^/]*%*(%d+)/")) or 0)
end
local waiting = redis.call("ZCOUNT", KEYS[2], "(" .. fmt(now), "+inf")
local limit = tonumber(redis.call("HGET", KEYS[3], "permits") or "-1")
if used == 0 and waiting == 0 then limit = -1 end
return {used, waiting, limit}
