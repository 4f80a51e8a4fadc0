-- lock_renew: extends a held lease by a full ttl, if the token still holds it.
-- KEYS[1]  lease (write mode)
-- KEYS[2]  readers (read mode): zset token -> expiry ms
-- ARGV[1]  mode: "write" | "read"
-- ARGV[2]  token
-- ARGV[3]  ttl ms
-- Returns  1 if renewed, 0 if the lease is gone
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local lease, readers = KEYS[1], KEYS[2]
local mode, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if mode == "write" then
  if redis.call("GET", lease) ~= token then return 0 end
  redis.call("PEXPIRE", lease, ARGV[3])
  return 1
end
-- distkit:include server_ms
local now = serverMs()
redis.call("ZREMRANGEBYSCORE", readers, "-inf", string.format("%.0f", now))
if not redis.call("ZSCORE", readers, token) then return 0 end
redis.call("ZADD", readers, string.format("%.0f", now + ttl), token)
if redis.call("PTTL", readers) < ttl then redis.call("PEXPIRE", readers, ttl) end
return 1
