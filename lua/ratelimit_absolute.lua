-- ratelimit_absolute: one call of the absolute sliding-window limiter on one entity (see
-- ratelimit/_model.ts, the executable specification). Buckets are aligned: bucket i holds
-- [i*g, (i+1)*g) and counts until (i+1)*g + W. The entity is one hash that expires by itself
-- exactly when its newest bucket does, at e = (n+1)*g + W, and keeps e in a field, so PTTL tells
-- the time (now = e - PTTL) and, on the hot path, whether the newest bucket is still the current
-- one. Expired buckets are evicted when they could change the answer or once the buckets span two
-- windows, so work per call is bounded by 2W/g slots (read in chunks).
-- The total of every bucket lives in the field T<c>, named after the capacity c it was recorded
-- under; t is the total of all but the newest bucket (whose count is T<c> - t). So the usual
-- call is two commands: PTTL, and an HINCRBY of T<capacity> whose reply is the new total and
-- proves the capacity unchanged (a live total is never 0, so a reply equal to the request means
-- the field was just created: another capacity is stored). rate-limiter-flexible's fixed window
-- pays three. Opening a bucket costs an HMGET, an HSET (closing the previous newest into its
-- indexed field) and a PEXPIREAT. TIME is read only for a key without an expiry (a new one).
-- KEYS[1]  H: hash {c = capacity, T<c> = total of all buckets, t = total of the older buckets,
--             n = newest bucket index, e = the hash's expiry (ms), o = origin (lower bound of
--             bucket indexes), <i> = count of bucket i (every bucket but the newest)}
-- ARGV[1]  W, the window, ms
-- ARGV[2]  g, the bucket size, ms
-- ARGV[3]  the caller's capacity (inc, set; "" otherwise)
-- ARGV[4]  n, the request or the new total (inc, set; absent: 1)
-- ARGV[5]  op: "inc" (absent) | "check" | "get" | "set"
-- ARGV[6]  comparator op (set)
-- ARGV[7]  comparator operand (set)
-- (The trailing arguments have defaults because every argument costs Redis about as much as a
-- fifth of a command: the usual call sends three.)
-- Returns  inc/check: 1 (allowed: an integer, the cheapest reply) | {"rejected", retryAfterMs, remainingAfterWaiting}
--          get: total; set: {matched (1|0), previous total, total}
-- Numbers reach Redis as %d strings on the hot path (integer formatting; %.0f and Redis's own
-- %.17g of a Lua number argument cost several times more).
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local H = KEYS[1]
local call = redis.call
local W, g, capS = ARGV[1] + 0, ARGV[2] + 0, ARGV[3]
local nS, op = ARGV[4] or "1", ARGV[5] or "inc"
local n = ARGV[4] and ARGV[4] + 0 or 1
local ttl = call("PTTL", H)

-- The hot path, before anything else is defined (closures cost): an admitted inc into the
-- newest bucket, while it is the current one (PTTL in (W, W + g]; a key last written under a
-- window more than g away does not qualify, one less than g longer may count into its newest
-- bucket up to that much late), under the same capacity. Past the capacity the increment is
-- taken back, and under another capacity the field just created is removed; the general path
-- below decides then. It leaves exactly the state the general path would.
if op == "inc" and n > 0 and ttl > W and ttl <= W + g then
  local total = call("HINCRBY", H, "T" .. capS, nS)
  if total > n then
    if total <= capS + 0 then return 1 end
    call("HINCRBY", H, "T" .. capS, "-" .. nS)
  else
    call("HDEL", H, "T" .. capS)
  end
end

local st = call("HMGET", H, "c", "t", "n", "o", "e", "T" .. capS)
local now
if ttl > 0 and st[5] then
  now = st[5] - ttl
else
  local time = call("TIME")
  local us = time[2] + 0
  now = time[1] * 1000 + (us - us % 1000) / 1000
end
local cur = (now - now % g) / g

-- distkit:const EVICT_SPAN_WINDOWS
-- The next hottest: an admitted inc that opens the current bucket under the same capacity, if
-- that leaves the span under two windows (no eviction due).
if op == "inc" and st[6] then
  if n > 0 and st[3] + 0 < cur and st[6] + n <= capS + 0
    and cur - st[4] < EVICT_SPAN_WINDOWS * math.ceil(W / g) then
    local e = string.format("%d", (cur + 1) * g + W)
    call("HSET", H, st[3], string.format("%d", st[6] - st[2]), "t", st[6], "T" .. capS,
      string.format("%d", st[6] + n), "n", string.format("%d", cur), "e", e)
    call("PEXPIREAT", H, e)
    return 1
  end
end

-- The stored capacity's total, when the caller's capacity differs (or is not given).
if st[1] and st[1] ~= capS then st[6] = call("HGET", H, "T" .. st[1]) end

local tonumber, unpack = tonumber, unpack
-- distkit:const HINT_BUCKETS EVICT_CHUNK
-- Replies that may be large are formatted as strings.
-- distkit:include fmt
local older, origin, newest = (st[2] or 0) + 0, tonumber(st[4]), tonumber(st[3])
local last = (st[6] or 0) - older -- the newest bucket's count
local storedS = st[1] -- the stored capacity, as written (names the total's field)
local stored = (storedS or 0) + 0
local evicted = false -- t and o changed by eviction, not yet written

-- Drops expired bucket slots [origin, limit] in chunks (all older than the newest bucket, else
-- the whole key goes).
local function evict()
  if not newest then return end
  local limit = (now - W - (now - W) % g) / g - 1
  if newest <= limit then
    call("DEL", H)
    older, origin, newest, stored, storedS, last = 0, nil, nil, 0, nil, 0
    return
  end
  if origin > limit then return end
  for a = origin, limit, EVICT_CHUNK do
    local fields = {}
    for i = a, math.min(a + EVICT_CHUNK - 1, limit) do fields[#fields + 1] = i end
    for _, c in ipairs(call("HMGET", H, unpack(fields))) do older = older - (c or 0) end
    call("HDEL", H, unpack(fields))
  end
  origin = limit + 1
  evicted = true
end

-- Writes what eviction changed when no recording write carries it.
local function flush()
  if evicted then call("HSET", H, "t", older, "T" .. storedS, older + last, "o", origin) end
end

-- Adds n to the newest bucket when it is the current one or later (the clock went back), else
-- opens the current bucket; records the caller's capacity (and renames the total's field).
local function record(n, cap)
  local fields
  if storedS and storedS ~= cap then call("HDEL", H, "T" .. storedS) end
  storedS = cap
  if newest and newest >= cur then
    last = last + n
    fields = { "T" .. cap, older + last, "c", cap }
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
  local e = (cur + 1) * g + W
  for _, v in ipairs({ "T" .. cap, older + n, "c", cap, "n", cur, "t", older, "o", origin, "e", e }) do
    fields[#fields + 1] = v
  end
  last, newest, evicted = n, cur, false
  call("HSET", H, unpack(fields))
  call("PEXPIREAT", H, e)
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
local SPAN = EVICT_SPAN_WINDOWS * math.ceil(W / g)
local function tooWide() return newest ~= nil and cur - origin >= SPAN end
-- An inc only widens the span when it opens a bucket.
local function opens() return newest == nil or newest < cur end

if op == "inc" then
  local cap = capS + 0
  if older + last + n > cap or (tooWide() and opens()) then evict() end
  if older + last + n <= cap then
    if n > 0 then record(n, capS) else flush() end
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
  evict()
  local total = older + last
  local cmp, operand, previous = ARGV[6], tonumber(ARGV[7]), total
  -- distkit:include comparator
  if not matches(cmp, operand, total) then
    flush()
    return { 0, fmt(previous), fmt(previous) }
  end
  call("DEL", H)
  older, origin, newest, last, evicted, storedS = 0, nil, nil, 0, false, nil
  if n > 0 then record(n, capS) end
  return { 1, fmt(previous), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
