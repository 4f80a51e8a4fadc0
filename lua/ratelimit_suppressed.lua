-- ratelimit_suppressed: one call of the suppressed (probabilistic) limiter on one entity (see
-- ratelimit/_model.ts). Every call is recorded as observed usage, a refused one also as declined.
-- The random draw comes from the client (ARGV), never from math.random. Same layout and bounds
-- as ratelimit_absolute.lua.
-- KEYS[1]  H: hash {t = observed, d = declined, c = soft limit, h = hard limit, o = origin,
--             n = newest bucket index, <i> = observed in bucket i, x<i> = declined in bucket i}
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
local H = KEYS[1]
local call = redis.call
local op = ARGV[1]
local W, g = ARGV[2] + 0, ARGV[3] + 0
local time = call("TIME")
local us = time[2] + 0
local now = time[1] * 1000 + (us - us % 1000) / 1000
local cur = (now - now % g) / g
local st = call("HMGET", H, "t", "d", "o", "n", "c", "h")

-- The hot path, before anything else is defined (closures cost): an inc that stays within the
-- soft limit even counting expired usage (so eviction cannot change the answer: allowed) on a
-- live key under the same limits, not due for eviction, whose newest bucket is the current one
-- (two HINCRBYs by the request's own string) or an older one (the current bucket opens: HSET
-- and PEXPIREAT). Numbers reach Redis as %d strings. It leaves exactly the state the general
-- path below would.
local curS = string.format("%d", cur)
if op == "inc" and st[4] then
  local n = ARGV[6] + 0
  local total = st[1] + n
  if n > 0 and total - st[2] <= ARGV[4] + 0 and st[5] == ARGV[4] and st[6] == ARGV[5]
    and cur - st[3] < 2 * math.ceil(W / g) then
    local newest = st[4] + 0
    if newest == cur then
      call("HINCRBY", H, curS, ARGV[6])
      call("HINCRBY", H, "t", ARGV[6])
      return { "allowed" }
    elseif newest < cur then
      call("HSET", H, curS, ARGV[6], "x" .. curS, "0", "t", string.format("%d", total), "n", curS)
      call("PEXPIREAT", H, string.format("%d", (cur + 1) * g + W))
      return { "allowed" }
    end
  end
end

local tonumber, unpack = tonumber, unpack
local CHUNK = 500
-- Replies that may be large are formatted as strings.
local function fmt(n) return string.format("%.0f", n) end
local function ffmt(x) return string.format("%.17g", x) end
local total, declined = (st[1] or 0) + 0, (st[2] or 0) + 0
local origin, newest = tonumber(st[3]), tonumber(st[4])
local soft, hard = (st[5] or 0) + 0, (st[6] or 0) + 0
local curCount, curDeclined = 0, 0
if newest and newest >= cur then
  local v = call("HMGET", H, curS, "x" .. curS)
  curCount, curDeclined = (v[1] or 0) + 0, (v[2] or 0) + 0
end
local evicted = false -- t, d and o changed by eviction, not yet written

local function evict()
  if not newest then return end
  local limit = (now - W - (now - W) % g) / g - 1
  if newest <= limit then
    call("DEL", H)
    total, declined, origin, newest, soft, hard, curCount, curDeclined = 0, 0, nil, nil, 0, 0, 0, 0
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
  if evicted then call("HSET", H, "t", total, "d", declined, "o", origin) end
end

local function record(n, dn, c, h)
  local b, count, dcount = cur, curCount, curDeclined
  if newest and newest > cur then
    b = newest
    local v = call("HMGET", H, b, "x" .. fmt(b))
    count, dcount = (v[1] or 0) + 0, (v[2] or 0) + 0
  end
  total = total + n
  declined = declined + dn
  local x = "x" .. fmt(b)
  if newest == b and not evicted and c == st[5] and h == st[6] then
    call("HSET", H, b, count + n, x, dcount + dn, "t", total, "d", declined) -- the hot path
    return
  end
  local fields = { b, count + n, x, dcount + dn, "t", total, "d", declined, "c", c, "h", h }
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
  if below then return { "allowed" } end
  return { "suppressed", ffmt(1 - p), ok and 1 or 0 }
elseif op == "check" then
  evict()
  flush()
  if not newest or total - declined + 1 <= soft then return { "allowed" } end
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
  total, declined, origin, newest, curCount, curDeclined, evicted = 0, 0, nil, nil, 0, 0, false
  st[5], st[6] = false, false
  if n > 0 then record(n, 0, ARGV[4], ARGV[5]) end
  return { 1, fmt(previous), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
