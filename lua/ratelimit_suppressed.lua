-- ratelimit_suppressed: one call of the suppressed (probabilistic) limiter on one entity (see
-- ratelimit/_model.ts). Every call is recorded as observed usage, a refused one also as declined.
-- The random draw comes from the client (ARGV), never from math.random. Same layout and bounds
-- as ratelimit_absolute.lua: T is the observed total, t that of the older buckets, o the oldest
-- bucket (expired buckets are evicted as soon as a call sees one), and the hash expires with its
-- newest bucket (at e, also a field, so now = e - PTTL), so the usual call is PTTL, one HMGET of
-- eight fields and one HINCRBY of T.
-- KEYS[1]  H: hash {T = observed in every bucket, t = observed in the older buckets,
--             d = declined, c = soft limit, h = hard limit, o = origin, n = newest bucket
--             index, e = the hash's expiry (ms), <i> = observed in bucket i (every bucket but the newest),
--             x<i> = declined in bucket i (only when some were: absent means 0, which
--             keeps a key that declines nothing at one field per bucket)}
-- ARGV[1]  op: "inc" | "check" | "get" | "factor" | "set"
-- ARGV[2]  W, the window, ms
-- ARGV[3]  g, the bucket size, ms
-- ARGV[4]  the caller's soft limit (inc, set)
-- ARGV[5]  the caller's hard limit (inc, set)
-- ARGV[6]  n, the request or the new total (inc, set)
-- ARGV[7]  a random number in [0, 1) (inc, check)
-- ARGV[8]  comparator op (set)
-- ARGV[9]  comparator operand (set)
-- Returns  inc/check: {remaining, resetMs, limit} (allowed) |
--          {"suppressed", factor, isAllowed (1|0), remaining, resetMs, limit}: limit is the hard
--          limit, remaining = limit - accepted (never negative), resetMs = until the oldest usage
--          leaves the window (0 when none)
--          get: {observed, declined, factor}; factor: factor; set: {matched, previous, total}
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local H = KEYS[1]
local call = redis.call
local op = ARGV[1]
local W, g = ARGV[2] + 0, ARGV[3] + 0
local ttl = call("PTTL", H)

-- The hottest path, before anything else: an inc into the current newest bucket (PTTL in (W, W +
-- g], as in ratelimit_absolute.lua) when nothing has expired, under the same limits, within the
-- soft limit. resetMs = (o - n) * g + PTTL (not positive: the oldest bucket has expired).
if op == "inc" and ttl > W and ttl <= W + g then
  local hs = call("HMGET", H, "c", "h", "d", "T", "o", "n")
  local n = ARGV[6] + 0
  if n > 0 and hs[1] == ARGV[4] and hs[2] == ARGV[5] and hs[4] + n - hs[3] <= ARGV[4] + 0 then
    local reset = (hs[5] - hs[6]) * g + ttl
    if reset > 0 then
      local t = call("HINCRBY", H, "T", ARGV[6])
      return { string.format("%.0f", math.max(0, ARGV[5] - (t - hs[3]))), reset, ARGV[5] }
    end
  end
end

local st = call("HMGET", H, "T", "t", "d", "o", "n", "c", "h", "e")
local now -- e - PTTL, as in ratelimit_absolute.lua; TIME for a key without an expiry
if ttl > 0 and st[8] then
  now = st[8] - ttl
else
  local time = call("TIME")
  local us = time[2] + 0
  now = time[1] * 1000 + (us - us % 1000) / 1000
end
local cur = (now - now % g) / g
-- The largest expired bucket index: bucket i counts until (i+1)*g + W.
local expired = (now - W - (now - W) % g) / g - 1

-- The hot paths, before anything else is defined (closures cost), as in ratelimit_absolute.lua:
-- an inc under the same limits that stays within the soft limit (allowed), when nothing has
-- expired or the expired buckets lie within the first few slots from the origin with a bucket
-- after them there, into the current newest bucket or opening the current bucket. They leave
-- exactly the state the general path below would. Numbers: limit = hard, remaining = hard -
-- accepted, resetMs = when the oldest bucket expires.
if op == "inc" and st[5] and st[6] == ARGV[4] and st[7] == ARGV[5] then
  local n = ARGV[6] + 0
  local o, newest = st[4] + 0, st[5] + 0
  local ev, evd, origin, del = 0, 0, o, nil
  if n > 0 and o <= expired and expired - o < 4 and expired < newest then
    local top = math.min(expired + 4, newest - 1)
    local fields = {}
    for i = o, top do
      local f = string.format("%d", i)
      fields[#fields + 1] = f
      fields[#fields + 1] = "x" .. f
    end
    local counts = #fields > 0 and call("HMGET", H, unpack(fields)) or {}
    origin, del = nil, {}
    for k = 1, #counts, 2 do
      if counts[k] then
        local i = o + (k - 1) / 2
        if i <= expired then
          ev = ev + counts[k]
          evd = evd + (counts[k + 1] or 0)
          del[#del + 1] = fields[k]
          del[#del + 1] = fields[k + 1]
        else
          origin = i
          break
        end
      end
    end
    if not origin and top == newest - 1 then origin = newest end
  end
  local total, dn = st[1] - ev, st[3] - evd
  if n > 0 and origin and origin > expired and total + n - dn <= ARGV[4] + 0 and newest <= cur then
    if del and #del > 0 then call("HDEL", H, unpack(del)) end
    local reset = (origin + 1) * g + W - now
    if newest == cur then
      if origin == o then
        local t = call("HINCRBY", H, "T", ARGV[6])
        return { string.format("%.0f", math.max(0, ARGV[5] - (t - dn))), reset, ARGV[5] }
      end
      call("HSET", H, "T", string.format("%d", total + n), "t",
        string.format("%d", st[2] - ev), "d", string.format("%d", dn), "o",
        string.format("%d", origin))
      return { string.format("%.0f", math.max(0, ARGV[5] - (total + n - dn))), reset, ARGV[5] }
    end
    local e = string.format("%d", (cur + 1) * g + W)
    local fields = { st[5], string.format("%d", st[1] - st[2]), "t", string.format("%d", total),
      "T", string.format("%d", total + n), "n", string.format("%d", cur), "e", e }
    if origin ~= o then
      for _, v in ipairs({ "d", string.format("%d", dn), "o", string.format("%d", origin) }) do
        fields[#fields + 1] = v
      end
    end
    call("HSET", H, unpack(fields))
    call("PEXPIREAT", H, e)
    return { string.format("%.0f", math.max(0, ARGV[5] - (total + n - dn))), reset, ARGV[5] }
  end
end

local tonumber, unpack = tonumber, unpack
-- distkit:const EVICT_CHUNK
-- Replies that may be large are formatted as strings.
-- distkit:include fmt
local function ffmt(x) return string.format("%.17g", x) end
local total, declined = (st[1] or 0) + 0, (st[3] or 0) + 0 -- observed in every bucket
local last = total - (st[2] or 0) -- observed in the newest bucket
local origin, newest = tonumber(st[4]), tonumber(st[5])
local soft, hard = (st[6] or 0) + 0, (st[7] or 0) + 0
local evicted = false -- t, d and o changed by eviction, not yet written

local function evict()
  if not newest then return end
  if newest <= expired then
    call("DEL", H)
    total, declined, origin, newest, soft, hard, last = 0, 0, nil, nil, 0, 0, 0
    st[6], st[7] = false, false
    return
  end
  if origin > expired then return end
  -- Delete [origin, expired] in chunks; the origin moves to the oldest bucket left.
  local a, found = origin, nil
  while not found do
    local top = math.min(a + EVICT_CHUNK - 1, newest - 1)
    if a > top then
      found = newest
    else
      local fields = {}
      for i = a, top do
        local f = string.format("%d", i) -- integer formatting, once per slot (%.0f costs twice)
        fields[#fields + 1] = f
        fields[#fields + 1] = "x" .. f
      end
      local counts = call("HMGET", H, unpack(fields))
      local del = {}
      for k = 1, #counts, 2 do
        if counts[k] then
          local i = a + (k - 1) / 2
          if i <= expired then
            total = total - tonumber(counts[k])
            declined = declined - tonumber(counts[k + 1] or "0")
            del[#del + 1] = fields[k]
            del[#del + 1] = fields[k + 1]
          else
            found = i
            break
          end
        end
      end
      if #del > 0 then call("HDEL", H, unpack(del)) end
      a = top + 1
    end
  end
  origin = found
  evicted = true
end

local function flush()
  if evicted then call("HSET", H, "T", total, "t", total - last, "d", declined, "o", origin) end
end

-- Adds n observed (dn of them declined) to the newest bucket when it is the current one or later
-- (the clock went back), else opens the current bucket; records the caller's limits.
local function record(n, dn, c, h)
  total = total + n
  declined = declined + dn
  local fields
  if newest and newest >= cur then
    last = last + n
    fields = { "T", total, "d", declined, "c", c, "h", h }
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
  local e = (cur + 1) * g + W
  for _, v in ipairs({ "T", total, "t", total - last, "d", declined,
    "c", c, "h", h, "n", cur, "o", origin, "e", e }) do
    fields[#fields + 1] = v
  end
  if dn > 0 then
    fields[#fields + 1] = "x" .. string.format("%d", cur)
    fields[#fields + 1] = dn
  end
  newest, evicted = cur, false
  call("HSET", H, unpack(fields))
  call("PEXPIREAT", H, e)
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

-- The numbers of a reply: remaining under the hard limit, and when the oldest usage expires.
local function numbers(hh)
  local reset = 0
  if newest then reset = math.max(1, (origin + 1) * g + W - now) end
  return fmt(math.max(0, hh - (total - declined))), fmt(reset), fmt(hh)
end

if op == "inc" then
  local s, hh, n, r = ARGV[4] + 0, ARGV[5] + 0, ARGV[6] + 0, tonumber(ARGV[7])
  evict()
  local below = total - declined + n <= s
  local p = admitP(total, declined, s, hh, n)
  local ok = p == 1 or r < p
  if n > 0 then
    if ok then record(n, 0, ARGV[4], ARGV[5]) else record(n, n, ARGV[4], ARGV[5]) end
  else
    flush()
  end
  local rem, reset, lim = numbers(hh)
  if below then return { rem, reset, lim } end
  return { "suppressed", ffmt(1 - p), ok and 1 or 0, rem, reset, lim }
elseif op == "check" then
  evict()
  flush()
  local rem, reset, lim = numbers(newest and hard or 0)
  if not newest or total - declined + 1 <= soft then return { rem, reset, lim } end
  local p = admitP(total, declined, soft, hard, 1)
  local ok = p == 1 or tonumber(ARGV[7]) < p
  return { "suppressed", ffmt(1 - p), ok and 1 or 0, rem, reset, lim }
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
  -- distkit:include comparator
  if not matches(cmp, operand, total) then
    flush()
    return { 0, fmt(previous), fmt(previous) }
  end
  call("DEL", H)
  total, declined, origin, newest, last, evicted = 0, 0, nil, nil, 0, false
  st[6], st[7] = false, false
  if n > 0 then record(n, 0, ARGV[4], ARGV[5]) end
  return { 1, fmt(previous), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
