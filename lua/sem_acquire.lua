-- sem_acquire: one attempt to take `n` permits of a semaphore. Holders and queued waiters each
-- carry their own expiry (server time), so mixed TTLs are correct and crashed holders and
-- waiters leave by themselves. Waiters are served first come, first served: the attempt gets in
-- when the queue is empty (or it is at its head) and its permits fit; waiters that fit at once
-- (permits of lapsed holders came back) are granted first, in order. The fence counter never
-- expires; every other key expires with the semaphore's last member.
-- KEYS[1]  holders: zset token -> expiry ms
-- KEYS[2]  queue: zset token -> ticket (FIFO order; tickets come from the fence counter)
-- KEYS[3]  queue expiries: zset token -> expiry ms
-- KEYS[4]  fence: the fencing-token counter (persistent; also numbers queue tickets)
-- KEYS[5]  state: hash "permits" -> the semaphore's permits, "used" -> permits held,
--          <holder token> -> its fencing token
-- ARGV[1]  token: "<id>*<n>/<ttl ms>/<route>/<owner id>"
-- ARGV[2]  n: permits asked for (1 <= n <= permits)
-- ARGV[3]  ttl ms of the lease
-- ARGV[4]  permits: the caller's count; a semaphore in use with another count refuses the call
-- ARGV[5]  ms a failed attempt stays queued ("0": the caller does not wait)
-- ARGV[6]  the wake-up channel (grants to other waiters go to "<channel>:<route>")
-- Returns  the fencing token (an integer) on success; {0, hint} on failure, hint being the ms until
--          the first holder's lease runs out (-1: none), {0, hint, ticket} when queued (the entry's
--          ticket, never reused: a grant names it); {-1, permits} when the semaphore is in use
--          with another count of permits (nothing changed)
local token, ttl = ARGV[1], tonumber(ARGV[3])
-- distkit:include fmt
-- distkit:include server_ms
local now = serverMs()
local holders, queue, state = KEYS[1], KEYS[2], KEYS[5]

-- The uncontended path: nobody queued, the count agrees and the permits fit (lapsed holders not
-- yet swept still count: when they are what blocks, the full path below sweeps them), and this
-- token is not a lapsed holder (the full path sweeps it and grants anew, with a new fence). An
-- idle semaphore (no state, no holders, no queue) agrees with any count. Only what this path
-- needs is parsed here (each tonumber and format is a measurable share of a short call).
local cfg = redis.call("HMGET", state, "permits", "used")
local used, idle = 0, false
if cfg[1] then
  used = tonumber(cfg[2])
  if not used or tonumber(cfg[1]) ~= tonumber(ARGV[4]) or redis.call("EXISTS", queue) ~= 0 then
    used = nil
  end
else
  idle = redis.call("EXISTS", holders, queue) == 0
  if not idle then used = nil end
end
if used and used + tonumber(ARGV[2]) <= tonumber(ARGV[4]) then
  if redis.call("ZADD", holders, "NX", fmt(now + ttl), token) == 1 then
    local f = redis.call("INCR", KEYS[4])
    local after = ARGV[2] -- the permits held after this grant: n when idle
    if not idle then after = fmt(used + tonumber(ARGV[2])) end
    redis.call("HSET", state, "permits", ARGV[4], "used", after, token, f)
    -- Every key of the semaphore expires at the same instant, when its last member does.
    if idle or redis.call("PTTL", state) < ttl then
      redis.call("PEXPIRE", holders, ARGV[3])
      redis.call("PEXPIRE", state, ARGV[3])
    end
    return f
  end
  -- Already a holder (a repeated attempt): a live one is renewed and keeps its fencing token.
  if tonumber(redis.call("ZSCORE", holders, token)) > now then
    redis.call("ZADD", holders, fmt(now + ttl), token)
    if redis.call("PTTL", state) < ttl then
      redis.call("PEXPIRE", holders, ARGV[3])
      redis.call("PEXPIRE", state, ARGV[3])
    end
    return tonumber(redis.call("HGET", state, token) or redis.call("GET", KEYS[4]) or "0")
  end
end

-- The full path's helpers, defined only when it runs (a closure each, ~1 µs of Redis time in all).
-- distkit:const QUEUE_SWEEP
-- distkit:include publish
-- distkit:include sem_token
-- distkit:include sem
local n, permits, wait, channel = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local S = { holders = holders, queue = queue, qexp = KEYS[3], fence = KEYS[4], state = state }
S.now = now

semLoad(S, permits)
semSweep(S)
if redis.call("ZSCORE", S.holders, token) then
  semStore(S)
  return tonumber(redis.call("HGET", S.state, token) or redis.call("GET", S.fence) or "0")
end
if redis.call("EXISTS", S.holders, S.queue) == 0 then
  S.limit, S.used = permits, 0
elseif S.limit ~= permits then
  semStore(S) -- what the sweep removed
  return {-1, S.limit}
end

local mine = semServe(S, token, channel)
if not mine and not redis.call("ZRANGE", S.queue, 0, 0)[1] and S.used + n <= S.limit then
  mine = semGrant(S, token, ttl)
end
if mine then
  semStore(S)
  return mine
end

local hint = -1
local first = redis.call("ZRANGE", S.holders, 0, 0, "WITHSCORES")[2]
if first then hint = tonumber(first) - S.now end
if wait > 0 then
  local ticket = redis.call("ZSCORE", S.queue, token)
  if not ticket then
    ticket = fmt(redis.call("INCR", S.fence))
    redis.call("ZADD", S.queue, ticket, token)
  end
  redis.call("ZADD", S.qexp, fmt(S.now + wait), token)
  semStore(S)
  return {0, hint, ticket}
end
semStore(S)
return {0, hint}
