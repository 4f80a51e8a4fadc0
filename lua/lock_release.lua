-- lock_release: the owner-checked release (also how a waiter that gives up leaves the queue).
-- When the lease becomes free and no live reader remains, it is handed to the first live queued
-- writer at once (with its own ttl, read from its token, and the next fencing token), and the
-- grant is published so that writer need not ask again. Otherwise a "free" wake-up is published,
-- if anyone can be waiting: a queue exists or waiting readers keep their marker alive (an
-- uncontended release publishes nothing).
-- KEYS[1]  lease
-- KEYS[2]  readers: zset token -> expiry ms
-- KEYS[3]  queue: zset token -> ticket
-- KEYS[4]  queue expiries: zset token -> expiry ms
-- KEYS[5]  fence: the fencing-token counter (persistent)
-- KEYS[6]  read waiters marker (see lua/lock_acquire.lua)
-- ARGV[1]  mode: "write" | "read"
-- ARGV[2]  token
-- ARGV[3]  the wake-up channel (sharded; carries the keys' hash tag, as route channels do)
-- Returns  1 if the token held the lease (write) or was a live reader (read), else 0; as
--          {1 | 0, message} when it granted the lease, with the grant message it published (so a
--          grantee in the releaser's own process is told without the pub/sub hop)
-- Publishes "g <fence> <ticket> <token>" (a grant of the queue entry with that ticket) on the
-- grantee's route channel "<channel>:<route>" (the route is its token's third part; the lock's
-- channel for a token without one), so only its process hears it; or "f" (free: waiters should
-- try) on the lock's channel; on a standalone server, with PUBLISH as well (lua/_publish.lua)
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local lease, readers, queue, qexp, fence = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local mode, token, channel = ARGV[1], ARGV[2], ARGV[3]

-- distkit:const QUEUE_SWEEP
-- distkit:include fmt
-- distkit:include server_ms
-- distkit:include publish

-- The lease is free: grant it to the first live queued writer, if no live reader holds. Returns
-- the grant message, or false.
local function handOff()
  if redis.call("EXISTS", queue) == 0 then return false end
  local now = serverMs()
  redis.call("ZREMRANGEBYSCORE", readers, "-inf", fmt(now))
  if redis.call("ZCARD", readers) > 0 then return false end
  local dead = redis.call("ZRANGEBYSCORE", qexp, "-inf", fmt(now), "LIMIT", 0, QUEUE_SWEEP)
  if #dead > 0 then
    redis.call("ZREM", queue, unpack(dead))
    redis.call("ZREM", qexp, unpack(dead))
  end
  local first = redis.call("ZRANGE", queue, 0, 0, "WITHSCORES")
  local front, ticket = first[1], first[2]
  if not front then return false end
  local ttl = tonumber(string.match(front, "^[^/]*/(%d+)/"))
  if not ttl or ttl <= 0 then return false end
  local n = redis.call("INCR", fence)
  redis.call("SET", lease, front, "PX", ttl)
  redis.call("ZREM", queue, front)
  redis.call("ZREM", qexp, front)
  local route = string.match(front, "^[^/]*/%d+/([^/]+)/")
  local to = channel
  if route then to = channel .. ":" .. route end
  local message = "g " .. fmt(n) .. " " .. ticket .. " " .. front
  publish(to, message)
  return message
end

if mode == "write" then
  if redis.call("GET", lease) == token then
    redis.call("DEL", lease)
    if redis.call("EXISTS", queue, KEYS[6]) > 0 then
      local grant = handOff()
      if grant then return {1, grant} end
      publish(channel, "f")
    end
    return 1
  end
  local queued = redis.call("ZREM", queue, token)
  redis.call("ZREM", qexp, token)
  if queued == 1 and redis.call("EXISTS", lease) == 0 then
    local grant = handOff()
    if grant then return {0, grant} end
    publish(channel, "f")
  end
  return 0
end
local now = serverMs()
redis.call("ZREMRANGEBYSCORE", readers, "-inf", fmt(now))
local held = redis.call("ZREM", readers, token)
if held == 1 and redis.call("ZCARD", readers) == 0 and redis.call("EXISTS", lease) == 0 then
  local grant = handOff()
  if grant then return {held, grant} end
end
return held
