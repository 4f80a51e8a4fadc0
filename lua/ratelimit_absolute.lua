-- ratelimit_absolute: one call of the absolute sliding-window limiter on one entity (see
-- ratelimit/_model.ts, the executable specification). Buckets are aligned: bucket i holds
-- [i*g, (i+1)*g) and counts until (i+1)*g + W. The entity is one hash that expires by itself
-- when its newest bucket does. Expired buckets are evicted when they could change the answer
-- or once the buckets span two windows, so work per call is bounded by 2W/g slots (read in
-- chunks). The newest bucket's count lives in its own field N and t sums the older ones, so
-- the usual call is TIME, one HMGET of five fields and one HINCRBY of N (an HSET and a
-- PEXPIREAT when it opens a bucket, closing the previous newest into its indexed field).
-- KEYS[1]  H: hash {t = total of the older buckets, N = count of the newest bucket,
--             n = newest bucket index, c = capacity, o = origin (lower bound of bucket
--             indexes), <i> = count of bucket i (every bucket but the newest)}
-- ARGV[1]  op: "inc" | "check" | "get" | "set"
-- ARGV[2]  W, the window, ms
-- ARGV[3]  g, the bucket size, ms
-- ARGV[4]  the caller's capacity (inc, set)
-- ARGV[5]  n, the request or the new total (inc, set)
-- ARGV[6]  comparator op (set)
-- ARGV[7]  comparator operand (set)
-- Returns  inc/check: 1 (allowed: an integer, the cheapest reply) | {"rejected", retryAfterMs, remainingAfterWaiting}
--          get: total; set: {matched (1|0), previous total, total}
-- Numbers reach Redis as %d strings on the hot path (integer formatting; %.0f and Redis's own
-- %.17g of a Lua number argument cost several times more).
local H = KEYS[1]
local call = redis.call
local op = ARGV[1]
local g = ARGV[3] + 0
local time = call("TIME")
local us = time[2] + 0
local now = time[1] * 1000 + (us - us % 1000) / 1000
local cur = (now - now % g) / g
local st = call("HMGET", H, "t", "o", "n", "c", "N")

-- The hot path, before anything else is defined (closures cost): an admitted inc on a live key
-- under the same capacity. Its bucket is the newest one when that is the current one (or later:
-- the clock went back), which cannot widen the bucket span; else the current bucket opens, if
-- that leaves the span under two windows (no eviction due). It leaves exactly the state the
-- general path below would.
if op == "inc" and st[5] and st[4] == ARGV[4] then
  local n = ARGV[5] + 0
  if n > 0 and st[1] + st[5] + n <= ARGV[4] + 0 then
    if st[3] + 0 >= cur then
      call("HINCRBY", H, "N", ARGV[5])
      return 1
    end
    local W = ARGV[2] + 0
    if cur - st[2] < 2 * math.ceil(W / g) then
      call("HSET", H, st[3], st[5], "t", string.format("%d", st[1] + st[5]), "N", ARGV[5], "n",
        string.format("%d", cur))
      call("PEXPIREAT", H, string.format("%d", (cur + 1) * g + W))
      return 1
    end
  end
end

local W = ARGV[2] + 0

local tonumber, unpack = tonumber, unpack
local HINT_BUCKETS, CHUNK = 64, 500
-- Replies that may be large are formatted as strings.
local function fmt(n) return string.format("%.0f", n) end
local older, origin, newest = (st[1] or 0) + 0, tonumber(st[2]), tonumber(st[3])
local last = (st[5] or 0) + 0 -- the newest bucket's count
local stored = (st[4] or 0) + 0
local evicted = false -- t and o changed by eviction, not yet written

-- Drops expired bucket slots [origin, limit] in chunks (all older than the newest bucket, else
-- the whole key goes).
local function evict()
  if not newest then return end
  local limit = (now - W - (now - W) % g) / g - 1
  if newest <= limit then
    call("DEL", H)
    older, origin, newest, stored, last, st[4] = 0, nil, nil, 0, 0, false
    return
  end
  if origin > limit then return end
  for a = origin, limit, CHUNK do
    local fields = {}
    for i = a, math.min(a + CHUNK - 1, limit) do fields[#fields + 1] = i end
    for _, c in ipairs(call("HMGET", H, unpack(fields))) do older = older - (c or 0) end
    call("HDEL", H, unpack(fields))
  end
  origin = limit + 1
  evicted = true
end

-- Writes what eviction changed when no recording write carries it.
local function flush()
  if evicted then call("HSET", H, "t", older, "o", origin) end
end

-- Adds n to the newest bucket when it is the current one or later (the clock went back), else
-- opens the current bucket; records the caller's capacity.
local function record(n, cap)
  local fields
  if newest and newest >= cur then
    last = last + n
    fields = { "N", last, "c", cap }
    if evicted then
      fields[5], fields[6], fields[7], fields[8] = "t", older, "o", origin
    end
    evicted = false
    call("HSET", H, unpack(fields))
    return
  end
  if newest then
    older = older + last
    fields = { newest, last }
  else
    origin = cur
    fields = {}
  end
  for _, v in ipairs({ "N", n, "c", cap, "n", cur, "t", older, "o", origin }) do
    fields[#fields + 1] = v
  end
  last, newest, evicted = n, cur, false
  call("HSET", H, unpack(fields))
  call("PEXPIREAT", H, (cur + 1) * g + W)
end

-- The rejection hint for n: scan bucket slots from the origin until enough expires for n.
local function rejected(cap, n)
  local total = older + last
  if n > cap then return { "rejected", fmt(W + g), fmt(cap) } end
  local need = total + n - cap
  if not newest then return { "rejected", fmt(math.max(1, W)), fmt(math.max(0, cap - total)) } end
  local top = math.min(origin + HINT_BUCKETS - 1, newest)
  local fields = {}
  for i = origin, top do fields[#fields + 1] = i end
  local counts = call("HMGET", H, unpack(fields))
  if top == newest then counts[#fields] = last end
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
-- An inc only widens the span when it opens a bucket.
local function opens() return newest == nil or newest < cur end

if op == "inc" then
  local cap, n = ARGV[4] + 0, ARGV[5] + 0
  if older + last + n > cap or (tooWide() and opens()) then evict() end
  if older + last + n <= cap then
    if n > 0 then record(n, ARGV[4]) else flush() end
    return 1
  end
  flush()
  return rejected(cap, n)
elseif op == "check" then
  if not newest then return 1 end
  if older + last + 1 > stored or tooWide() then evict() end
  flush()
  if not newest or older + last + 1 <= stored then return 1 end
  return rejected(stored, 1)
elseif op == "get" then
  evict()
  flush()
  return fmt(older + last)
elseif op == "set" then
  local n = tonumber(ARGV[5])
  evict()
  local total = older + last
  local cmp, operand, previous = ARGV[6], tonumber(ARGV[7]), total
  local ok = cmp == "always" or (cmp == "eq" and total == operand) or (cmp == "ne" and total ~= operand)
    or (cmp == "lt" and total < operand) or (cmp == "le" and total <= operand)
    or (cmp == "gt" and total > operand) or (cmp == "ge" and total >= operand)
  if not ok then
    flush()
    return { 0, fmt(previous), fmt(previous) }
  end
  call("DEL", H)
  older, origin, newest, last, evicted, st[4] = 0, nil, nil, 0, false, nil
  if n > 0 then record(n, ARGV[4]) end
  return { 1, fmt(previous), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
