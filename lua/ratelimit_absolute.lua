-- ratelimit_absolute: one call of the absolute sliding-window limiter on one entity (see
-- ratelimit/_model.ts, the executable specification). Buckets are aligned: bucket i holds
-- [i*g, (i+1)*g) and counts until (i+1)*g + W. Every key expires by itself when its newest
-- bucket does. Work per call is bounded by the number of buckets, which W/g bounds.
-- KEYS[1]  H: hash {t = total, c = capacity, <i> = count of bucket i}
-- KEYS[2]  Z: zset of bucket indexes (member = score = i)
-- ARGV[1]  op: "inc" | "check" | "get" | "set"
-- ARGV[2]  W, the window, ms
-- ARGV[3]  g, the bucket size, ms
-- ARGV[4]  the caller's capacity (inc, set)
-- ARGV[5]  n, the request or the new total (inc, set)
-- ARGV[6]  comparator op (set)
-- ARGV[7]  comparator operand (set)
-- Returns  inc/check: {"allowed"} | {"rejected", retryAfterMs, remainingAfterWaiting}
--          get: total; set: {matched (1|0), previous total, total}
local H, Z = KEYS[1], KEYS[2]
local op = ARGV[1]
local W, g = tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local HINT_BUCKETS = 64
local CHUNK = 500

local function fmt(n) return string.format("%.0f", n) end

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

-- Drops expired buckets (in chunks, so no unpack grows large); returns the live total.
local function evict()
  local total = tonumber(redis.call("HGET", H, "t") or "0")
  local limit = math.floor((now - W) / g) - 1
  local doomed = redis.call("ZRANGEBYSCORE", Z, "-inf", fmt(limit))
  if #doomed == 0 then return total end
  for i = 1, #doomed, CHUNK do
    local chunk = {}
    for j = i, math.min(i + CHUNK - 1, #doomed) do chunk[#chunk + 1] = doomed[j] end
    local counts = redis.call("HMGET", H, unpack(chunk))
    for _, c in ipairs(counts) do total = total - tonumber(c or "0") end
    redis.call("HDEL", H, unpack(chunk))
    redis.call("ZREM", Z, unpack(chunk))
  end
  if redis.call("ZCARD", Z) == 0 then
    redis.call("DEL", H, Z)
    return 0
  end
  redis.call("HSET", H, "t", fmt(total))
  return total
end

local function record(n)
  local b = math.floor(now / g)
  local newest = redis.call("ZRANGE", Z, -1, -1)[1]
  if newest and tonumber(newest) >= b then b = tonumber(newest) end
  local f = fmt(b)
  redis.call("HINCRBY", H, f, n)
  redis.call("ZADD", Z, f, f)
  redis.call("HINCRBY", H, "t", n)
  local at = fmt((b + 1) * g + W)
  redis.call("PEXPIREAT", H, at)
  redis.call("PEXPIREAT", Z, at)
end

-- The rejection hint for n: walk the oldest buckets until enough expires for n to fit.
local function rejected(total, cap, n)
  if n > cap then return { "rejected", fmt(W + g), fmt(cap) } end
  local need = total + n - cap
  local members = redis.call("ZRANGE", Z, 0, HINT_BUCKETS - 1)
  if #members == 0 then return { "rejected", fmt(math.max(1, W)), fmt(math.max(0, cap - total)) } end
  local counts = redis.call("HMGET", H, unpack(members))
  local freed = 0
  for k = 1, #members do
    freed = freed + tonumber(counts[k] or "0")
    if freed >= need or k == #members then
      local retry = (tonumber(members[k]) + 1) * g + W - now
      return { "rejected", fmt(math.max(1, retry)), fmt(math.max(0, cap - (total - freed))) }
    end
  end
end

if op == "inc" then
  local cap, n = tonumber(ARGV[4]), tonumber(ARGV[5])
  local total = evict()
  if total + n <= cap then
    if n > 0 then
      record(n)
      redis.call("HSET", H, "c", ARGV[4])
    end
    return { "allowed" }
  end
  return rejected(total, cap, n)
elseif op == "check" then
  local total = evict()
  if redis.call("EXISTS", Z) == 0 then return { "allowed" } end
  local cap = tonumber(redis.call("HGET", H, "c") or "0")
  if total + 1 <= cap then return { "allowed" } end
  return rejected(total, cap, 1)
elseif op == "get" then
  return fmt(evict())
elseif op == "set" then
  local cap, n = ARGV[4], tonumber(ARGV[5])
  local total = evict()
  if not matches(ARGV[6], tonumber(ARGV[7]), total) then return { 0, fmt(total), fmt(total) } end
  redis.call("DEL", H, Z)
  if n > 0 then
    record(n)
    redis.call("HSET", H, "c", cap)
  end
  return { 1, fmt(total), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
