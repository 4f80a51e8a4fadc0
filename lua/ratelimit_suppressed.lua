-- ratelimit_suppressed: one call of the suppressed (probabilistic) limiter on one entity (see
-- ratelimit/_model.ts). Every call is recorded as observed usage, a refused one also as declined.
-- The random draw comes from the client (ARGV), never from math.random. Same layout and bounds
-- as ratelimit_absolute.lua: the newest bucket's observed count lives in N and t sums the older
-- buckets', so the usual call is TIME, one HMGET of seven fields and one HINCRBY of N.
-- KEYS[1]  H: hash {t = observed in the older buckets, N = observed in the newest bucket,
--             d = declined, c = soft limit, h = hard limit, o = origin, n = newest bucket
--             index, <i> = observed in bucket i (every bucket but the newest),
--             x<i> = declined in bucket i (every bucket)}
-- ARGV[1]  op: "inc" | "check" | "get" | "factor" | "set"
-- ARGV[2]  W, the window, ms
-- ARGV[3]  g, the bucket size, ms
-- ARGV[4]  the caller's soft limit (inc, set)
-- ARGV[5]  the caller's hard limit (inc, set)
-- ARGV[6]  n, the request or the new total (inc, set)
-- ARGV[7]  a random number in [0, 1) (inc, check)
-- ARGV[8]  comparator op (set)
-- ARGV[9]  comparator operand (set)
-- Returns  inc/check: 1 (allowed: an integer, the cheapest reply) | {"suppressed", factor, isAllowed (1|0)}
--          get: {observed, declined, factor}; factor: factor; set: {matched, previous, total}
local H = KEYS[1]
local call = redis.call
local op = ARGV[1]
local W, g = ARGV[2] + 0, ARGV[3] + 0
local time = call("TIME")
local us = time[2] + 0
local now = time[1] * 1000 + (us - us % 1000) / 1000
local cur = (now - now % g) / g
local st = call("HMGET", H, "t", "d", "o", "n", "c", "h", "N")

-- The hot path, before anything else is defined (closures cost): an inc that stays within the
-- soft limit even counting expired usage (so eviction cannot change the answer: allowed) on a
-- live key under the same limits, not due for eviction. Its bucket is the newest one when that
-- is the current one (or later: the clock went back), else the current bucket opens. Numbers
-- reach Redis as %d strings. It leaves exactly the state the general path below would.
if op == "inc" and st[7] then
  local n = ARGV[6] + 0
  if n > 0 and st[1] + st[7] + n - st[2] <= ARGV[4] + 0 and st[5] == ARGV[4] and st[6] == ARGV[5]
    and cur - st[3] < 2 * math.ceil(W / g) then
    if st[4] + 0 >= cur then
      call("HINCRBY", H, "N", ARGV[6])
    else
      local curS = string.format("%d", cur)
      call("HSET", H, st[4], st[7], "t", string.format("%d", st[1] + st[7]), "N", ARGV[6],
        "x" .. curS, "0", "n", curS)
      call("PEXPIREAT", H, string.format("%d", (cur + 1) * g + W))
    end
    return 1
  end
end

local tonumber, unpack = tonumber, unpack
local CHUNK = 500
-- Replies that may be large are formatted as strings.
local function fmt(n) return string.format("%.0f", n) end
local function ffmt(x) return string.format("%.17g", x) end
local last = (st[7] or 0) + 0 -- observed in the newest bucket
local total, declined = (st[1] or 0) + last, (st[2] or 0) + 0 -- total: all buckets
local origin, newest = tonumber(st[3]), tonumber(st[4])
local soft, hard = (st[5] or 0) + 0, (st[6] or 0) + 0
local evicted = false -- t, d and o changed by eviction, not yet written

local function evict()
  if not newest then return end
  local limit = (now - W - (now - W) % g) / g - 1
  if newest <= limit then
    call("DEL", H)
    total, declined, origin, newest, soft, hard, last = 0, 0, nil, nil, 0, 0, 0
    st[5], st[6] = false, false
    return
  end
  if origin > limit then return end
  for a = origin, limit, CHUNK do
    local fields = {}
    for i = a, math.min(a + CHUNK - 1, limit) do
      local f = string.format("%d", i) -- integer formatting, once per slot (%.0f costs twice)
      fields[#fields + 1] = f
      fields[#fields + 1] = "x" .. f
    end
    local counts = redis.call("HMGET", H, unpack(fields))
    for k = 1, #counts, 2 do
      total = total - tonumber(counts[k] or "0")
      declined = declined - tonumber(counts[k + 1] or "0")
    end
    redis.call("HDEL", H, unpack(fields))
  end
  origin = limit + 1
  evicted = true
end

local function flush()
  if evicted then call("HSET", H, "t", total - last, "d", declined, "o", origin) end
end

-- Adds n observed (dn of them declined) to the newest bucket when it is the current one or later
-- (the clock went back), else opens the current bucket; records the caller's limits.
local function record(n, dn, c, h)
  total = total + n
  declined = declined + dn
  local fields
  if newest and newest >= cur then
    last = last + n
    fields = { "N", last, "d", declined, "c", c, "h", h }
    if dn > 0 then
      local x = "x" .. string.format("%d", newest)
      fields[#fields + 1] = x
      fields[#fields + 1] = (call("HGET", H, x) or 0) + dn
    end
    if evicted then
      for _, v in ipairs({ "t", total - last, "o", origin }) do fields[#fields + 1] = v end
    end
    evicted = false
    call("HSET", H, unpack(fields))
    return
  end
  if newest then
    fields = { newest, last }
  else
    origin = cur
    fields = {}
  end
  last = n
  for _, v in ipairs({ "N", n, "x" .. string.format("%d", cur), dn, "t", total - last, "d", declined,
    "c", c, "h", h, "n", cur, "o", origin }) do
    fields[#fields + 1] = v
  end
  newest, evicted = cur, false
  call("HSET", H, unpack(fields))
  call("PEXPIREAT", H, (cur + 1) * g + W)
end

-- The probability of admitting n more (see admitProbability in ratelimit/_model.ts).
local function admitP(o, d, s, hh, n)
  local a = o - d
  if a + n <= s then return 1 end
  if a + n > hh then return 0 end
  local p = 1
  if o > s then p = s / o end
  local ramp = (hh - a) / (hh - s)
  if ramp < 1 then p = p * ramp end
  return p
end

-- Lazy eviction (see suppressedInc): only when it could change the answer (beyond the soft
-- limit counting expired usage), or when the bucket span reaches two windows' worth of slots.
local SPAN = 2 * math.ceil(W / g)
local function tooWide() return newest ~= nil and cur - origin >= SPAN end

if op == "inc" then
  local s, hh, n, r = ARGV[4] + 0, ARGV[5] + 0, ARGV[6] + 0, tonumber(ARGV[7])
  if total - declined + n > s or tooWide() then evict() end
  local below = total - declined + n <= s
  local p = admitP(total, declined, s, hh, n)
  local ok = p == 1 or r < p
  if n > 0 then
    if ok then record(n, 0, ARGV[4], ARGV[5]) else record(n, n, ARGV[4], ARGV[5]) end
  else
    flush()
  end
  if below then return 1 end
  return { "suppressed", ffmt(1 - p), ok and 1 or 0 }
elseif op == "check" then
  evict()
  flush()
  if not newest or total - declined + 1 <= soft then return 1 end
  local p = admitP(total, declined, soft, hard, 1)
  local ok = p == 1 or tonumber(ARGV[7]) < p
  return { "suppressed", ffmt(1 - p), ok and 1 or 0 }
elseif op == "get" or op == "factor" then
  evict()
  flush()
  local sf = 0
  if newest then sf = 1 - admitP(total, declined, soft, hard, 1) end
  if op == "factor" then return ffmt(sf) end
  return { fmt(total), fmt(declined), ffmt(sf) }
elseif op == "set" then
  local n = tonumber(ARGV[6])
  evict()
  local cmp, operand, previous = ARGV[8], tonumber(ARGV[9]), total
  local ok = cmp == "always" or (cmp == "eq" and total == operand) or (cmp == "ne" and total ~= operand)
    or (cmp == "lt" and total < operand) or (cmp == "le" and total <= operand)
    or (cmp == "gt" and total > operand) or (cmp == "ge" and total >= operand)
  if not ok then
    flush()
    return { 0, fmt(previous), fmt(previous) }
  end
  call("DEL", H)
  total, declined, origin, newest, last, evicted = 0, 0, nil, nil, 0, false
  st[5], st[6] = false, false
  if n > 0 then record(n, 0, ARGV[4], ARGV[5]) end
  return { 1, fmt(previous), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
