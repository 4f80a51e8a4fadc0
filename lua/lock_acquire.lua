-- lock_acquire: one attempt to take a lock in write mode (Mutex, RwLock write) or read mode.
-- A writer gets in when no lease is held, no live reader remains and no other writer is ahead of
-- it in the queue; a reader when no lease is held and no writer is queued (writer preference).
-- Every reader and queued writer carries its own expiry (server time), so mixed TTLs are correct
-- and crashed holders and waiters disappear by themselves. The fence counter never expires.
-- KEYS[1]  lease: string, the writer's token, PX ttl
-- KEYS[2]  readers: zset token -> expiry ms
-- KEYS[3]  queue: zset token -> ticket (FIFO order of waiting writers; tickets come from the
--          fence counter)
-- KEYS[4]  queue expiries: zset token -> expiry ms
-- KEYS[5]  fence: the fencing-token counter (persistent; also numbers queue tickets)
-- KEYS[6]  read waiters: a marker ("1", PX) that readers are waiting, so a release wakes them
-- ARGV[1]  mode: "write" | "read"
-- ARGV[2]  token (one per acquisition): "<uuid>/<ttl ms>/<owner id>"
-- ARGV[3]  ttl ms of the lease
-- ARGV[4]  ms a failed writer stays queued, or a failed reader keeps the waiters marker alive
--          ("0": the caller does not wait)
-- Returns  the fence (an integer reply, 0 for a reader) on success; {0, hint} on failure, where
--          hint is the ms until the blocking holders' leases run out (-1 when a queued writer
--          blocks), and {0, hint, ticket} when the writer is queued: its queue entry's ticket,
--          drawn from the fence counter, so never reused (a grant names the ticket it consumed:
--          see lua/lock_release.lua). An integer, not a table: the uncontended path's reply is INCR's own value (a
--          fence never comes near 2^53), with no table or number-to-string conversion to pay for.
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local lease, readers, queue, qexp, fence = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local mode, token = ARGV[1], ARGV[2]

-- The uncontended path: three commands, no TIME, no conversions.
if mode == "write" and redis.call("EXISTS", lease, readers, qexp) == 0 then
  local n = redis.call("INCR", fence)
  redis.call("SET", lease, token, "PX", ARGV[3])
  return n
end

local ttl, wait = tonumber(ARGV[3]), tonumber(ARGV[4])
-- distkit:const QUEUE_SWEEP
-- distkit:include fmt
-- distkit:include server_ms
local function extend(key, ms)
  if redis.call("PTTL", key) < ms then redis.call("PEXPIRE", key, ms) end
end

local holder = redis.call("GET", lease)
if holder == token then return tonumber(redis.call("GET", fence) or "0") end

local now = serverMs()

redis.call("ZREMRANGEBYSCORE", readers, "-inf", fmt(now))
local dead = redis.call("ZRANGEBYSCORE", qexp, "-inf", fmt(now), "LIMIT", 0, QUEUE_SWEEP)
if #dead > 0 then
  redis.call("ZREM", queue, unpack(dead))
  redis.call("ZREM", qexp, unpack(dead))
end
local front = redis.call("ZRANGE", queue, 0, 0)[1]

local function hint()
  local h = -1
  if holder then h = redis.call("PTTL", lease) end
  local last = redis.call("ZRANGE", readers, -1, -1, "WITHSCORES")[2]
  if last and tonumber(last) - now > h then h = tonumber(last) - now end
  return h
end

if mode == "read" then
  if holder or front then
    if wait > 0 and redis.call("PTTL", KEYS[6]) < wait then
      redis.call("SET", KEYS[6], "1", "PX", wait)
    end
    return {0, hint()}
  end
  redis.call("ZADD", readers, fmt(now + ttl), token)
  extend(readers, ttl)
  return 0
end

if holder or (front and front ~= token) or redis.call("ZCARD", readers) > 0 then
  if wait > 0 then
    local ticket = redis.call("ZSCORE", queue, token)
    if not ticket then
      ticket = fmt(redis.call("INCR", fence))
      redis.call("ZADD", queue, ticket, token)
    end
    redis.call("ZADD", qexp, fmt(now + wait), token)
    extend(queue, wait)
    extend(qexp, wait)
    return {0, hint(), ticket}
  end
  return {0, hint()}
end

local n = redis.call("INCR", fence)
redis.call("SET", lease, token, "PX", ttl)
if front then
  redis.call("ZREM", queue, token)
  redis.call("ZREM", qexp, token)
end
return n
