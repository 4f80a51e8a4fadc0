-- lock_release: the owner-checked release (also how a waiter that gives up leaves the queue).
-- Publishes a wake-up on the lock's channel when it freed something a waiter may want.
-- KEYS[1]  lease
-- KEYS[2]  readers: zset token -> expiry ms
-- KEYS[3]  queue: zset token -> ticket
-- KEYS[4]  queue expiries: zset token -> expiry ms
-- ARGV[1]  mode: "write" | "read"
-- ARGV[2]  token
-- ARGV[3]  the wake-up channel (sharded; carries the keys' hash tag)
-- Returns  1 if the token held the lease (write) or was a live reader (read), else 0
local lease, readers, queue, qexp = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, token, channel = ARGV[1], ARGV[2], ARGV[3]
if mode == "write" then
  local queued = redis.call("ZREM", queue, token)
  redis.call("ZREM", qexp, token)
  local held = 0
  if redis.call("GET", lease) == token then
    redis.call("DEL", lease)
    held = 1
  end
  if held == 1 or queued == 1 then redis.call("SPUBLISH", channel, "w") end
  return held
end
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", readers, "-inf", string.format("%.0f", now))
local held = redis.call("ZREM", readers, token)
if held == 1 and redis.call("ZCARD", readers) == 0 then redis.call("SPUBLISH", channel, "r") end
return held
