-- Semaphore helpers (lua/sem_*.lua). S holds one call's view of a semaphore: its names
-- (S.holders, S.queue, S.qexp, S.fence, S.state), the server time S.now (ms), and S.limit (its
-- permits) and S.used (permits held by the members of holders, lapsed ones not yet swept too).
-- Tokens are read by lua/_sem_token.lua, included before this.

-- S.limit and S.used from the state hash. The hash expires with the holders (see semStore), so
-- it is missing only for an idle semaphore, or after tampering: then the holders are counted.
local function semLoad(S, permits)
  local cfg = redis.call("HMGET", S.state, "permits", "used")
  S.limit, S.used = tonumber(cfg[1]), tonumber(cfg[2])
  if S.limit and S.used then return end
  S.limit, S.used = permits, 0
  for _, m in ipairs(redis.call("ZRANGE", S.holders, 0, -1)) do
    S.used = S.used + (semWeight(m) or 0)
  end
end

-- Removes lapsed holders (their permits come back) and lapsed waiters.
local function semSweep(S)
  local now = fmt(S.now)
  local dead = redis.call("ZRANGEBYSCORE", S.holders, "-inf", now, "LIMIT", 0, QUEUE_SWEEP)
  if #dead > 0 then
    redis.call("ZREM", S.holders, unpack(dead))
    redis.call("HDEL", S.state, unpack(dead))
    for _, m in ipairs(dead) do S.used = S.used - (semWeight(m) or 0) end
    if S.used < 0 then S.used = 0 end
  end
  dead = redis.call("ZRANGEBYSCORE", S.qexp, "-inf", now, "LIMIT", 0, QUEUE_SWEEP)
  if #dead > 0 then
    redis.call("ZREM", S.queue, unpack(dead))
    redis.call("ZREM", S.qexp, unpack(dead))
  end
end

-- Makes `token` a holder for `ttl` ms with the next fencing token. Returns that fencing token.
local function semGrant(S, token, ttl)
  local n = redis.call("INCR", S.fence)
  redis.call("ZADD", S.holders, fmt(S.now + ttl), token)
  redis.call("HSET", S.state, token, n)
  S.used = S.used + semWeight(token)
  return n
end

-- Grants the queue's head, then the next one, while each fits: a later waiter never passes a
-- head that does not fit. A queued request that can never fit (more permits than the semaphore
-- has) leaves the queue. Every grant but `self`'s is published on its grantee's route channel
-- ("<channel>:<route>"; the channel itself for a token without a route). Returns self's fencing
-- token (or false) and the messages published.
local function semServe(S, self, channel)
  local mine, sent = false, {}
  while true do
    local first = redis.call("ZRANGE", S.queue, 0, 0, "WITHSCORES")
    local front, ticket = first[1], first[2]
    if not front then break end
    local w, ttl = semWeight(front), semTtl(front)
    local valid = w and ttl and w >= 1 and ttl > 0 and w <= S.limit
    if valid and S.used + w > S.limit then break end
    redis.call("ZREM", S.queue, front)
    redis.call("ZREM", S.qexp, front)
    if valid then
      local n = semGrant(S, front, ttl)
      if front == self then
        mine = n
      else
        local route = string.match(front, "^[^/]*/%d+/([^/]+)/")
        local to = channel
        if route then to = channel .. ":" .. route end
        local message = "g " .. fmt(n) .. " " .. ticket .. " " .. front
        publish(to, message)
        sent[#sent + 1] = message
      end
    end
  end
  return mine, sent
end

-- Writes the counts and sets every key to expire when its last member does, all at the same
-- instant (none outlives the others); deletes them all when no live member is left, so an idle
-- semaphore leaves only its fence counter.
local function semStore(S)
  local last = 0
  local h = redis.call("ZRANGE", S.holders, -1, -1, "WITHSCORES")[2]
  if h then last = tonumber(h) end
  local q = redis.call("ZRANGE", S.qexp, -1, -1, "WITHSCORES")[2]
  if q and tonumber(q) > last then last = tonumber(q) end
  if last <= S.now then
    redis.call("DEL", S.holders, S.queue, S.qexp, S.state)
    return
  end
  redis.call("HSET", S.state, "permits", fmt(S.limit), "used", fmt(S.used))
  local ms = fmt(last - S.now)
  redis.call("PEXPIRE", S.holders, ms)
  redis.call("PEXPIRE", S.queue, ms)
  redis.call("PEXPIRE", S.qexp, ms)
  redis.call("PEXPIRE", S.state, ms)
end
