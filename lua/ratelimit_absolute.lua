-- ratelimit_absolute: one call of the absolute sliding-window limiter on one entity (see
-- ratelimit/_model.ts, the executable specification). Buckets are aligned: bucket i holds
-- [i*g, (i+1)*g) and counts until (i+1)*g + W. The entity is one hash that expires by itself
-- exactly when its newest bucket does, at e = (n+1)*g + W (or when its block ends, if later), and
-- keeps e in a field, so PTTL tells the time (now = e - PTTL). Expired buckets are evicted as soon
-- as a call sees one (o is the oldest bucket, so that test is one comparison), so every reply's
-- numbers are those of the live window and work per call is bounded by W/g slots (read in chunks).
-- The total of every bucket lives in the field T<c>, named after the capacity c it was recorded
-- under; t is the total of all but the newest bucket (whose count is T<c> - t). So the usual
-- call is three commands: PTTL, one HMGET (whose T<capacity> is nil when another capacity is
-- stored) and an HINCRBY of T<capacity>; rate-limiter-flexible's fixed window pays three too.
-- Opening a bucket costs an HSET (closing the previous newest into its indexed field) and a
-- PEXPIREAT instead of the HINCRBY. TIME is read only for a key without an expiry (a new one).
-- KEYS[1]  H: hash {c = capacity, T<c> = total of all buckets, t = total of the older buckets,
--             n = newest bucket index, e = the hash's expiry (ms), o = origin (the oldest bucket's
--             index; a lower bound in states written before it was kept exact), b = blocked
--             until (ms, server time; may be past), <i> = count of bucket i (every bucket but
--             the newest)}
-- ARGV[1]  W, the window, ms
-- ARGV[2]  g, the bucket size, ms
-- ARGV[3]  the caller's capacity (inc, set; "" otherwise)
-- ARGV[4]  n, the request or the new total (inc, set; absent: 1), the refund (refund), the
--          block's length in ms (block)
-- ARGV[5]  op: "inc" (absent) | "check" | "get" | "set" | "refund" | "block"
-- ARGV[6]  comparator op (set)
-- ARGV[7]  comparator operand (set)
-- (The trailing arguments have defaults because every argument costs Redis about as much as a
-- fifth of a command: the usual call sends three.)
-- Returns  inc: {remaining, resetMs} (allowed; the limit is the caller's capacity)
--          check: {remaining, resetMs, limit} (allowed)
--          inc/check: {"rejected", retryAfterMs, remainingAfterWaiting, remaining, resetMs, limit,
--            blockedMs (how long the key stays blocked; 0 when it is not)}
--          get, refund: total; block: 1; set: {matched (1|0), previous total, total}
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

-- The hottest path, before anything else: an admitted inc into the newest bucket while it is the
-- current one (PTTL in (W, W + g]: the hash expires with its newest bucket, b absent), nothing
-- has expired and the capacity is the same. Then now = (n + 1) * g + W - PTTL, so resetMs =
-- (o - n) * g + PTTL, and the oldest bucket has expired iff that is not positive. Four fields
-- read, one HINCRBY; it leaves exactly the state the general path would.
if op == "inc" and n > 0 and ttl > W and ttl <= W + g then
  local hs = call("HMGET", H, "T" .. capS, "o", "n", "b")
  if hs[1] and not hs[4] then
    local reset, cap = (hs[2] - hs[3]) * g + ttl, capS + 0
    if reset > 0 and hs[1] + n <= cap and cap < 4503599627370496 then
      return { cap - call("HINCRBY", H, "T" .. capS, nS), reset }
    end
  end
end

local st = call("HMGET", H, "c", "t", "n", "o", "e", "T" .. capS, "b")
local now
if ttl > 0 and st[5] then
  now = st[5] - ttl
else
  local time = call("TIME")
  local us = time[2] + 0
  now = time[1] * 1000 + (us - us % 1000) / 1000
end
local cur = (now - now % g) / g
-- The largest expired bucket index: bucket i counts until (i+1)*g + W.
local expired = (now - W - (now - W) % g) / g - 1

-- The hot paths, before anything else is defined (closures cost): an admitted inc under the same
-- capacity (its total's field exists) on a key never blocked, when nothing has expired or the
-- expired buckets lie within the first few slots from the origin with a bucket after them there
-- (a busy key evicts one bucket per bucket period: done here, in one HMGET and one HDEL), into
-- the newest bucket while it is the current one (one HINCRBY when nothing expired), or opening
-- the current bucket (an HSET and a PEXPIREAT). They leave exactly the state the general path
-- below would. Numbers below 2^52 are replied as integers (exact in every client).
if op == "inc" and n > 0 and st[6] and not st[7] then
  local o, newest = st[4] + 0, st[3] + 0
  local ev, origin, del = 0, o, nil
  if o <= expired and expired - o < 4 and expired < newest then
    local top = math.min(expired + 4, newest - 1)
    local fields = {}
    for i = o, top do fields[#fields + 1] = i end
    local counts = #fields > 0 and call("HMGET", H, unpack(fields)) or {}
    origin, del = nil, {}
    for k = 1, #fields do
      if counts[k] then
        if fields[k] <= expired then
          ev = ev + counts[k]
          del[#del + 1] = fields[k]
        else
          origin = fields[k]
          break
        end
      end
    end
    if not origin and top == newest - 1 then origin = newest end
  end
  local cap = capS + 0
  local total = st[6] - ev
  if origin and origin > expired and total + n <= cap and newest <= cur and cap < 4503599627370496 then
    if del and #del > 0 then call("HDEL", H, unpack(del)) end
    local reset = (origin + 1) * g + W - now
    if newest == cur then
      if origin == o then
        return { cap - call("HINCRBY", H, "T" .. capS, nS), reset }
      end
      call("HSET", H, "T" .. capS, string.format("%d", total + n), "t",
        string.format("%d", st[2] - ev), "o", string.format("%d", origin))
      return { cap - total - n, reset }
    end
    local e = string.format("%d", (cur + 1) * g + W)
    call("HSET", H, st[3], string.format("%d", st[6] - st[2]), "t", string.format("%d", total),
      "T" .. capS, string.format("%d", total + n), "n", string.format("%d", cur), "e", e, "o",
      string.format("%d", origin))
    call("PEXPIREAT", H, e)
    return { cap - total - n, reset }
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
local blockedUntil = tonumber(st[7]) or 0
local evicted = false -- t and o changed by eviction, not yet written

-- Every bucket is gone: the hash goes, but a block that lasts stays (as b and e alone).
local function emptied()
  call("DEL", H)
  older, origin, newest, stored, storedS, last, evicted = 0, nil, nil, 0, nil, 0, false
  if blockedUntil > now then
    call("HSET", H, "b", fmt(blockedUntil), "e", fmt(blockedUntil))
    call("PEXPIREAT", H, fmt(blockedUntil))
  else
    blockedUntil = 0
  end
end

-- Drops expired bucket slots [origin, expired] in chunks (all older than the newest bucket, else
-- the whole key goes), and moves the origin to the oldest bucket left.
local function evict()
  if not newest then return end
  if newest <= expired then return emptied() end
  if origin > expired then return end
  local a, found = origin, nil
  while not found do
    local top = math.min(a + EVICT_CHUNK - 1, newest - 1)
    if a > top then
      found = newest
    else
      local fields = {}
      for i = a, top do fields[#fields + 1] = i end
      local counts = call("HMGET", H, unpack(fields))
      local del = {}
      for k = 1, #fields do
        if counts[k] then
          if fields[k] <= expired then
            older = older - counts[k]
            del[#del + 1] = fields[k]
          else
            found = fields[k]
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

-- ms until the oldest usage leaves the window (0 when there is none).
local function resetMs()
  if not newest then return 0 end
  return math.max(1, (origin + 1) * g + W - now)
end

-- The rejection hint for n (a table {retryAfterMs, remainingAfterWaiting}): scan bucket slots
-- from the origin until enough expires for n.
local function hint(cap, n)
  local total = older + last
  if n > cap then return { W + g, cap } end
  local need = total + n - cap
  if not newest then return { math.max(1, W), math.max(0, cap - total) } end
  local top = math.min(origin + HINT_BUCKETS - 1, newest)
  local fields = {}
  for i = origin, top do fields[#fields + 1] = i end
  local counts = call("HMGET", H, unpack(fields))
  if top == newest then counts[#fields] = last end
  local freed = 0
  for k = 1, #fields do
    freed = freed + (counts[k] or 0)
    if freed >= need or k == #fields then
      return { math.max(1, (origin + k) * g + W - now), math.max(0, cap - (total - freed)) }
    end
  end
end

local function rejected(cap, n)
  local h = hint(cap, n)
  return { "rejected", fmt(h[1]), fmt(h[2]), fmt(math.max(0, cap - older - last)), fmt(resetMs()),
    fmt(cap), 0 }
end

-- The rejection of a blocked key (see blockedReject in ratelimit/_model.ts).
local function blockedRejected(cap, n)
  local wait = blockedUntil - now
  local used = older + last
  local h
  if n > cap then
    h = hint(cap, n)
  elseif not newest then
    h = { 1, cap }
  elseif used + n <= cap then
    h = { 1, cap - used }
  else
    h = hint(cap, n)
  end
  local reset = wait
  if used >= cap then reset = math.max(wait, resetMs()) end
  return { "rejected", fmt(math.max(wait, h[1])), fmt(h[2]), 0, fmt(reset), fmt(cap), fmt(wait) }
end

if op == "inc" then
  local cap = capS + 0
  evict()
  if blockedUntil > now then
    flush()
    return blockedRejected(cap, n)
  end
  if older + last + n <= cap then
    if n > 0 then record(n, capS) else flush() end
    return { fmt(cap - older - last), fmt(resetMs()) }
  end
  flush()
  return rejected(cap, n)
elseif op == "check" then
  evict()
  flush()
  local cap = newest and stored or 0
  if blockedUntil > now then
    if not newest then
      local wait = fmt(blockedUntil - now)
      return { "rejected", wait, 0, 0, wait, 0, wait }
    end
    return blockedRejected(cap, 1)
  end
  if not newest or older + last + 1 <= cap then
    return { fmt(math.max(0, cap - older - last)), fmt(resetMs()), fmt(cap) }
  end
  return rejected(cap, 1)
elseif op == "get" then
  evict()
  flush()
  return fmt(older + last)
elseif op == "refund" then
  evict()
  local left, changed = n, false
  while left > 0 and newest do
    local take = math.min(left, last)
    last, left, changed = last - take, left - take, true
    if last > 0 then break end
    if newest == origin then
      emptied()
      break
    end
    -- The newest bucket is empty: the one before it, if any, becomes the newest.
    local top, prev, pc = newest - 1, nil, nil
    while not prev and top >= origin do
      local bot = math.max(top - EVICT_CHUNK + 1, origin)
      local fields = {}
      for i = bot, top do fields[#fields + 1] = i end
      local counts = call("HMGET", H, unpack(fields))
      for k = #fields, 1, -1 do
        if counts[k] then
          prev, pc = fields[k], counts[k] + 0
          break
        end
      end
      top = bot - 1
    end
    if not prev then
      emptied()
      break
    end
    call("HDEL", H, prev)
    newest, older, last = prev, older - pc, pc
  end
  if changed and newest then
    local e = fmt(math.max((newest + 1) * g + W, blockedUntil))
    call("HSET", H, "T" .. storedS, fmt(older + last), "t", fmt(older), "n", fmt(newest),
      "o", fmt(origin), "e", e)
    call("PEXPIREAT", H, e)
  elseif newest then
    flush()
  end
  return fmt(older + last)
elseif op == "block" then
  evict()
  flush()
  blockedUntil = now + n
  local e = blockedUntil
  if newest then e = math.max((newest + 1) * g + W, blockedUntil) end
  call("HSET", H, "b", fmt(blockedUntil), "e", fmt(e))
  call("PEXPIREAT", H, fmt(e))
  return 1
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
  older, origin, newest, last, evicted, storedS, blockedUntil = 0, nil, nil, 0, false, nil, 0
  if n > 0 then record(n, capS) end
  return { 1, fmt(previous), fmt(n) }
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
