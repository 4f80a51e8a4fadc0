-- ratelimit_absolute: one call of the absolute sliding-window limiter on one entity (see
-- ratelimit/_model.ts, the executable specification). Buckets are aligned: bucket i holds
-- [i*g, (i+1)*g) and counts until (i+1)*g + W. The entity is one hash that expires by itself
-- when its newest bucket does. Expired buckets are evicted when they could change the answer
-- or once the buckets span two windows, so work per call is bounded by 2W/g slots (read in
-- chunks) and the usual call is TIME, one HMGET of four fields and two HINCRBYs (an HSET and a
-- PEXPIREAT when it opens a bucket).
-- KEYS[1]  H: hash {t = total, c = capacity, o = origin (lower bound of bucket indexes),
--             n = newest bucket index, <i> = count of bucket i}
-- ARGV[1]  op: "inc" | "check" | "get" | "set"
-- ARGV[2]  W, the window, ms
-- ARGV[3]  g, the bucket size, ms
-- ARGV[4]  the caller's capacity (inc, set)
-- ARGV[5]  n, the request or the new total (inc, set)
-- ARGV[6]  comparator op (set)
-- ARGV[7]  comparator operand (set)
-- Returns  inc/check: {"allowed"} | {"rejected", retryAfterMs, remainingAfterWaiting}
--          get: total; set: {matched (1|0), previous total, total}
local H = KEYS[1]
local call = redis.call
local op = ARGV[1]
local W, g = ARGV[2] + 0, ARGV[3] + 0
local time = call("TIME")
local us = time[2] + 0
local now = time[1] * 1000 + (us - us % 1000) / 1000
local cur = (now - now % g) / g
local st = call("HMGET", H, "t", "o", "n", "c")

-- The hot path, before anything else is defined (closures cost): an admitted inc on a live key
-- under the same capacity, not due for eviction, whose newest bucket is the current one (two
-- HINCRBYs by the request's own string) or an older one (the current bucket opens: HSET and
-- PEXPIREAT). Numbers reach Redis as strings formatted with %d (integer formatting; %.0f and
-- Redis's own %.17g of a Lua number cost several times more). It leaves exactly the state the
-- general path below would.
local curS = string.format("%d", cur)
if op == "inc" and st[3] then
  local n = ARGV[5] + 0
  local total = st[1] + n
  if n > 0 and total <= ARGV[4] + 0 and st[4] == ARGV[4] and cur - st[2] < 2 * math.ceil(W / g) then
    local newest = st[3] + 0
    if newest == cur then
      call("HINCRBY", H, curS, ARGV[5])
      call("HINCRBY", H, "t", ARGV[5])
      return { "allowed" }
    elseif newest < cur then
      call("HSET", H, curS, ARGV[5], "t", string.format("%d", total), "n", curS)
      call("PEXPIREAT", H, string.format("%d", (cur + 1) * g + W))
      return { "allowed" }
    end
  end
end

local tonumber, unpack = tonumber, unpack
local HINT_BUCKETS, CHUNK = 64, 500
-- Replies that may be large are formatted as strings.
local function fmt(n) return string.format("%.0f", n) end
local total, origin, newest = (st[1] or 0) + 0, tonumber(st[2]), tonumber(st[3])
local stored = (st[4] or 0) + 0
local curCount = 0
if newest and newest >= cur then curCount = (call("HGET", H, curS) or 0) + 0 end
local evicted = false -- t and o changed by eviction, not yet written

-- Drops expired bucket slots [origin, limit] in chunks.
local function evict()
  if not newest then return end
  local limit = (now - W - (now - W) % g) / g - 1
  if newest <= limit then
    call("DEL", H)
    total, origin, newest, stored, curCount, st[4] = 0, nil, nil, 0, 0, false
    return
  end
  if origin > limit then return end
  for a = origin, limit, CHUNK do
    local fields = {}
    for i = a, math.min(a + CHUNK - 1, limit) do fields[#fields + 1] = i end
    for _, c in ipairs(call("HMGET", H, unpack(fields))) do total = total - (c or 0) end
    call("HDEL", H, unpack(fields))
  end
  origin = limit + 1
  evicted = true
end

-- Writes what eviction changed when no recording write carries it.
local function flush()
  if evicted then call("HSET", H, "t", total, "o", origin) end
end

local function record(n, cap)
  local b, count = cur, curCount
  if newest and newest > cur then
    b = newest
    count = (call("HGET", H, b) or 0) + 0
  end
  total = total + n
  if newest == b and b == cur and not evicted and cap == st[4] then
    -- The hot path: no number is converted to a string (ARGV[5] is n).
    call("HINCRBY", H, curS, ARGV[5])
    call("HINCRBY", H, "t", ARGV[5])
    return
  end
  local fields = { b, count + n, "t", total, "c", cap }
  if evicted or newest ~= b then
    if not origin then origin = b end
    fields[#fields + 1] = "o"
    fields[#fields + 1] = origin
  end
  evicted = false
  if newest ~= b then
    newest = b
    fields[#fields + 1] = "n"
    fields[#fields + 1] = b
    call("HSET", H, unpack(fields))
    call("PEXPIREAT", H, (b + 1) * g + W)
  else
    call("HSET", H, unpack(fields))
  end
end

-- The rejection hint for n: scan bucket slots from the origin until enough expires for n.
local function rejected(cap, n)
  if n > cap then return { "rejected", fmt(W + g), fmt(cap) } end
  local need = total + n - cap
  if not newest then return { "rejected", fmt(math.max(1, W)), fmt(math.max(0, cap - total)) } end
  local last = math.min(origin + HINT_BUCKETS - 1, newest)
  local fields = {}
  for i = origin, last do fields[#fields + 1] = i end
  local counts = call("HMGET", H, unpack(fields))
  local freed = 0
  for k = 1, #fields do
    freed = freed + (counts[k] or 0)
    if freed >= need or k == #fields then
      local retry = (origin + k) * g + W - now
      return { "rejected", fmt(math.max(1, retry)), fmt(math.max(0, cap - (total - freed))) }
    end
  end
end

-- Lazy eviction (see absoluteInc): only when it could change the answer, or when the bucket
-- span reaches two windows' worth of slots.
local SPAN = 2 * math.ceil(W / g)
local function tooWide() return newest ~= nil and cur - origin >= SPAN end

if op == "inc" then
  local cap, n = ARGV[4] + 0, ARGV[5] + 0
  if total + n > cap or tooWide() then evict() end
  if total + n <= cap then
    if n > 0 then record(n, ARGV[4]) else flush() end
    return { "allowed" }
  end
  flush()
  return rejected(cap, n)
elseif op == "check" then
  if not newest then return { "allowed" } end
  if total + 1 > stored or tooWide() then evict() end
  flush()
  if not newest or total + 1 <= stored then return { "allowed" } end
  return rejected(stored, 1)
elseif op == "get" then
  evict()
  flush()
  return fmt(total)
elseif op == "set" then
  local n = tonumber(ARGV[5])
  evict()
  local cmp, operand, previous = ARGV[6], tonumber(ARGV[7]), total
  local ok = cmp == "always" or (cmp == "eq" and total == operand) or (cmp == "ne" and total ~= operand)
    or (cmp == "lt" and total < operand) or (cmp == "le" and total <= operand)
    or (cmp == "gt" and total > operand) or (cmp == "ge" and total >= operand)
  if not ok then
    flush()
    return { 0, fmt(previous), fmt(previous) }
  end
  call("DEL", H)
  total, origin, newest, curCount, evicted, st[4] = 0, nil, nil, 0, false, nil
  if n > 0 then record(n, ARGV[4]) end
  return { 1, fmt(previous), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
