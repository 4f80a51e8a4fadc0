-- ratelimit_suppressed: one call of the suppressed (probabilistic) limiter on one entity (see
-- ratelimit/_model.ts). Every call is recorded as observed usage, a refused one also as declined.
-- The random draw comes from the client (ARGV), never from math.random.
-- KEYS[1]  H: hash {t = observed, d = declined, c = soft limit, h = hard limit,
--             <i> = observed in bucket i, x<i> = declined in bucket i}
-- KEYS[2]  Z: zset of bucket indexes (member = score = i)
-- ARGV[1]  op: "inc" | "check" | "get" | "factor" | "set"
-- ARGV[2]  W, the window, ms
-- ARGV[3]  g, the bucket size, ms
-- ARGV[4]  the caller's soft limit (inc, set)
-- ARGV[5]  the caller's hard limit (inc, set)
-- ARGV[6]  n, the request or the new total (inc, set)
-- ARGV[7]  a random number in [0, 1) (inc, check)
-- ARGV[8]  comparator op (set)
-- ARGV[9]  comparator operand (set)
-- Returns  inc/check: {"allowed"} | {"suppressed", factor, isAllowed (1|0)}
--          get: {observed, declined, factor}; factor: factor; set: {matched, previous, total}
local H, Z = KEYS[1], KEYS[2]
local op = ARGV[1]
local W, g = tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local CHUNK = 500

local function fmt(n) return string.format("%.0f", n) end
local function ffmt(x) return string.format("%.17g", x) end

local function matches(cmp, operand, cur)
  if cmp == "always" then return true
  elseif cmp == "eq" then return cur == operand
  elseif cmp == "ne" then return cur ~= operand
  elseif cmp == "lt" then return cur < operand
  elseif cmp == "le" then return cur <= operand
  elseif cmp == "gt" then return cur > operand
  elseif cmp == "ge" then return cur >= operand
  end
  return false
end

-- Drops expired buckets in chunks; returns the live observed and declined totals.
local function evict()
  local tot = redis.call("HMGET", H, "t", "d")
  local total, declined = tonumber(tot[1] or "0"), tonumber(tot[2] or "0")
  local limit = math.floor((now - W) / g) - 1
  local doomed = redis.call("ZRANGEBYSCORE", Z, "-inf", fmt(limit))
  if #doomed == 0 then return total, declined end
  for i = 1, #doomed, CHUNK do
    local fields = {}
    local last = math.min(i + CHUNK - 1, #doomed)
    for j = i, last do
      fields[#fields + 1] = doomed[j]
      fields[#fields + 1] = "x" .. doomed[j]
    end
    local counts = redis.call("HMGET", H, unpack(fields))
    for k = 1, #counts, 2 do
      total = total - tonumber(counts[k] or "0")
      declined = declined - tonumber(counts[k + 1] or "0")
    end
    redis.call("HDEL", H, unpack(fields))
    local members = {}
    for j = i, last do members[#members + 1] = doomed[j] end
    redis.call("ZREM", Z, unpack(members))
  end
  if redis.call("ZCARD", Z) == 0 then
    redis.call("DEL", H, Z)
    return 0, 0
  end
  redis.call("HSET", H, "t", fmt(total), "d", fmt(declined))
  return total, declined
end

local function record(n, dn)
  local b = math.floor(now / g)
  local newest = redis.call("ZRANGE", Z, -1, -1)[1]
  if newest and tonumber(newest) >= b then b = tonumber(newest) end
  local f = fmt(b)
  redis.call("HINCRBY", H, f, n)
  redis.call("HINCRBY", H, "x" .. f, dn)
  redis.call("ZADD", Z, f, f)
  redis.call("HINCRBY", H, "t", n)
  redis.call("HINCRBY", H, "d", dn)
  local at = fmt((b + 1) * g + W)
  redis.call("PEXPIREAT", H, at)
  redis.call("PEXPIREAT", Z, at)
end

-- The probability of admitting n more (see admitProbability in ratelimit/_model.ts).
local function admitP(o, d, soft, hard, n)
  local a = o - d
  if a + n <= soft then return 1 end
  if a + n > hard then return 0 end
  local p = 1
  if o > soft then p = soft / o end
  local ramp = (hard - a) / (hard - soft)
  if ramp < 1 then p = p * ramp end
  return p
end

local function limits()
  local l = redis.call("HMGET", H, "c", "h")
  return tonumber(l[1] or "0"), tonumber(l[2] or "0")
end

if op == "inc" then
  local soft, hard, n, r = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
  local total, declined = evict()
  local below = total - declined + n <= soft
  local p = admitP(total, declined, soft, hard, n)
  local ok = p == 1 or r < p
  if n > 0 then
    if ok then record(n, 0) else record(n, n) end
    redis.call("HSET", H, "c", ARGV[4], "h", ARGV[5])
  end
  if below then return { "allowed" } end
  return { "suppressed", ffmt(1 - p), ok and 1 or 0 }
elseif op == "check" then
  local total, declined = evict()
  if redis.call("EXISTS", Z) == 0 then return { "allowed" } end
  local soft, hard = limits()
  if total - declined + 1 <= soft then return { "allowed" } end
  local p = admitP(total, declined, soft, hard, 1)
  local ok = p == 1 or tonumber(ARGV[7]) < p
  return { "suppressed", ffmt(1 - p), ok and 1 or 0 }
elseif op == "get" or op == "factor" then
  local total, declined = evict()
  local sf = 0
  if redis.call("EXISTS", Z) == 1 then
    local soft, hard = limits()
    sf = 1 - admitP(total, declined, soft, hard, 1)
  end
  if op == "factor" then return ffmt(sf) end
  return { fmt(total), fmt(declined), ffmt(sf) }
elseif op == "set" then
  local n = tonumber(ARGV[6])
  local total = evict()
  if not matches(ARGV[8], tonumber(ARGV[9]), total) then return { 0, fmt(total), fmt(total) } end
  redis.call("DEL", H, Z)
  if n > 0 then
    record(n, 0)
    redis.call("HSET", H, "c", ARGV[4], "h", ARGV[5])
  end
  return { 1, fmt(total), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
