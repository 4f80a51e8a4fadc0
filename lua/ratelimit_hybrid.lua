-- ratelimit_hybrid: the hybrid provider's store side (see ratelimit/_hybrid_model.ts): a shared
-- window plus per-instance reservations. accepted + reserved never exceeds the capacity, so the
-- fleet never admits more than the capacity while the store is reachable. A sync commits an
-- instance's usage exactly once (instance id + sequence number) and tops its reservation up.
-- KEYS[1]  H: hash {t, d, c, h, R (reserved), r:<id> (reservation), q:<id> (last applied seq),
--             <i> = observed in bucket i, x<i> = declined in bucket i (absent: 0), b = blocked
--             until (ms; while it lasts no reservation is granted: a sync releases its instance's)}
-- KEYS[2]  Z: zset of bucket indexes
-- KEYS[3]  RZ: zset of reservation holders (member = id, score = lapse time, ms)
-- ARGV[1]  op: "sync" | "set" | "refund" | "block"
-- ARGV[2]  W, the window, ms
-- ARGV[3]  g, the bucket size, ms
-- sync: ARGV[4] id, [5] seq, [6] used, [7] extra, [8] declined, [9] want (-1 = release),
--       [10] reservation ttl ms, [11] cap (-1 = keep), [12] hard, [13] hint request size
--   Returns {applied, r, observed, declined, reserved, cap, hard, retryAfterMs, remaining,
--     resetMs (until the oldest usage leaves the window; 0 when none), blockedMs (0 when none)}
-- refund: ARGV[4] n: gives back n of the newest accepted usage. Returns the observed total
-- block: ARGV[4] ms: blocks the key for ms. Returns 1
-- set: ARGV[4] cap, [5] hard, [6] n, [7] comparator op, [8] operand
--   Returns {matched, previous total, total}
local H, Z, RZ = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local W, g = tonumber(ARGV[2]), tonumber(ARGV[3])
-- distkit:const HINT_BUCKETS EVICT_CHUNK RESERVATION_SWEEP
-- distkit:include fmt
-- distkit:include server_ms
local now = serverMs()

local st = redis.call("HMGET", H, "t", "d", "c", "h", "R", "b")
local total, declined = tonumber(st[1] or "0"), tonumber(st[2] or "0")
local cap, hard, reserved = tonumber(st[3] or "0"), tonumber(st[4] or "0"), tonumber(st[5] or "0")
local blockedUntil = tonumber(st[6] or "0")

-- Deletes the given bucket members and their fields, in chunks; subtracts their counts.
local function drop(members)
  for i = 1, #members, EVICT_CHUNK do
    local fields, chunk = {}, {}
    for j = i, math.min(i + EVICT_CHUNK - 1, #members) do
      chunk[#chunk + 1] = members[j]
      fields[#fields + 1] = members[j]
      fields[#fields + 1] = "x" .. members[j]
    end
    local counts = redis.call("HMGET", H, unpack(fields))
    for k = 1, #counts, 2 do
      total = total - tonumber(counts[k] or "0")
      declined = declined - tonumber(counts[k + 1] or "0")
    end
    redis.call("HDEL", H, unpack(fields))
    redis.call("ZREM", Z, unpack(chunk))
  end
end

local function sweep()
  if blockedUntil <= now then blockedUntil = 0 end
  drop(redis.call("ZRANGEBYSCORE", Z, "-inf", fmt(math.floor((now - W) / g) - 1)))
  local lapsed = redis.call("ZRANGEBYSCORE", RZ, "-inf", fmt(now), "LIMIT", 0, RESERVATION_SWEEP)
  for _, id in ipairs(lapsed) do
    reserved = reserved - tonumber(redis.call("HGET", H, "r:" .. id) or "0")
    redis.call("HDEL", H, "r:" .. id)
    redis.call("ZREM", RZ, id)
  end
end

local function record(n, dn)
  local b = math.floor(now / g)
  local newest = redis.call("ZRANGE", Z, -1, -1)[1]
  if newest and tonumber(newest) >= b then b = tonumber(newest) end
  local f = fmt(b)
  redis.call("HINCRBY", H, f, n)
  -- A bucket's declined count is kept only where nonzero (absent reads as 0): most buckets have
  -- none, and a field each would double the hash.
  if dn > 0 then redis.call("HINCRBY", H, "x" .. f, dn) end
  redis.call("ZADD", Z, f, f)
  total = total + n
  declined = declined + dn
end

local function finish()
  if redis.call("ZCARD", Z) == 0 and redis.call("ZCARD", RZ) == 0 and blockedUntil == 0 then
    redis.call("DEL", H, Z, RZ)
    return
  end
  redis.call("HSET", H, "t", fmt(total), "d", fmt(declined), "c", fmt(cap), "h", fmt(hard),
    "R", fmt(reserved))
  if blockedUntil > 0 then
    redis.call("HSET", H, "b", fmt(blockedUntil))
  else
    redis.call("HDEL", H, "b")
  end
  local at = math.max(-1, blockedUntil)
  local newest = redis.call("ZRANGE", Z, -1, -1)[1]
  if newest then at = math.max(at, (tonumber(newest) + 1) * g + W) end
  local last = redis.call("ZRANGE", RZ, -1, -1, "WITHSCORES")
  if last[2] and tonumber(last[2]) > at then at = tonumber(last[2]) end
  redis.call("PEXPIREAT", H, fmt(at))
  redis.call("PEXPIREAT", Z, fmt(at))
  redis.call("PEXPIREAT", RZ, fmt(at))
end

-- The rejection hint for n beyond this instance's reservation (see hint in ratelimit/_model.ts;
-- the scan starts at the oldest bucket). Every sync asks for it, and usually the oldest bucket
-- alone answers (nothing is rejected), so the slots are read in growing chunks (1, 4, 16, 64
-- slots) rather than all HINT_BUCKETS at once: formatting and reading 128 fields cost a sync
-- about as much as the rest of it.
local function hint(n, extra)
  if n > cap then return W + g, cap end
  local used = total - declined + extra
  local need = used + n - cap
  local first = redis.call("ZRANGE", Z, 0, 0)[1]
  if not first then return math.max(1, g), math.max(0, cap - used) end
  local o = tonumber(first)
  local last = math.min(o + HINT_BUCKETS - 1, tonumber(redis.call("ZRANGE", Z, -1, -1)[1]))
  local freed, a, size = 0, o, 1
  while true do
    local top = math.min(a + size - 1, last)
    local fields = {}
    for i = a, top do
      local f = fmt(i)
      fields[#fields + 1] = f
      fields[#fields + 1] = "x" .. f
    end
    local counts = redis.call("HMGET", H, unpack(fields))
    for k = 1, top - a + 1 do
      freed = freed + tonumber(counts[2 * k - 1] or "0") - tonumber(counts[2 * k] or "0")
      if freed >= need or a + k - 1 == last then
        return math.max(1, (a + k) * g + W - now), math.max(0, cap - (used - freed))
      end
    end
    a, size = top + 1, size * 4
  end
end

sweep()
if op == "sync" then
  local id, seq = ARGV[4], tonumber(ARGV[5])
  local used, extra, dn, want = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
  if tonumber(ARGV[11]) >= 0 then
    cap, hard = tonumber(ARGV[11]), tonumber(ARGV[12])
  end
  local applied = 0
  if seq > tonumber(redis.call("HGET", H, "q:" .. id) or "0") then
    applied = 1
    redis.call("HSET", H, "q:" .. id, ARGV[5])
    local held = redis.call("HGET", H, "r:" .. id)
    local r = tonumber(held or "0")
    reserved = reserved - r
    r = math.max(0, r - used)
    if used + extra > 0 then record(used + extra, dn) end
    if want < 0 or blockedUntil > 0 then
      r = 0
    elseif want > r then
      local free = cap - (total - declined) - reserved - r
      if free > 0 then
        local holders = redis.call("ZCARD", RZ)
        if not held then holders = holders + 1 end
        local fair = math.max(1, math.ceil(free / holders))
        r = r + math.min(want - r, free, fair)
      end
    end
    reserved = reserved + r
    if r > 0 then
      redis.call("HSET", H, "r:" .. id, fmt(r))
      redis.call("ZADD", RZ, fmt(now + tonumber(ARGV[10])), id)
    else
      redis.call("HDEL", H, "r:" .. id)
      redis.call("ZREM", RZ, id)
    end
  end
  local r = tonumber(redis.call("HGET", H, "r:" .. id) or "0")
  local retry, remaining = hint(tonumber(ARGV[13]), reserved - r)
  -- ms until the oldest usage leaves the window (0 when none)
  local first = redis.call("ZRANGE", Z, 0, 0)[1]
  local reset = 0
  if first then reset = math.max(1, (tonumber(first) + 1) * g + W - now) end
  local blockedMs = 0
  if blockedUntil > 0 then blockedMs = blockedUntil - now end
  finish()
  return { applied, fmt(r), fmt(total), fmt(declined), fmt(reserved), fmt(cap), fmt(hard),
    fmt(retry), fmt(remaining), fmt(reset), fmt(blockedMs) }
elseif op == "set" then
  local n = tonumber(ARGV[6])
  local previous = total
  local cmp, operand = ARGV[7], tonumber(ARGV[8])
  -- distkit:include comparator
  if not matches(cmp, operand, total) then
    finish()
    return { 0, fmt(previous), fmt(previous) }
  end
  drop(redis.call("ZRANGE", Z, 0, -1))
  total, declined, blockedUntil = 0, 0, 0
  cap, hard = tonumber(ARGV[4]), tonumber(ARGV[5])
  if n > 0 then record(n, 0) end
  finish()
  return { 1, fmt(previous), fmt(n) }
elseif op == "refund" then
  -- Newest bucket first; a bucket left with declined usage only stays (k moves past it).
  local left, k = tonumber(ARGV[4]), 1
  while left > 0 do
    local m = redis.call("ZRANGE", Z, -k, -k)[1]
    if not m then break end
    local c = redis.call("HMGET", H, m, "x" .. m)
    local count, dn = tonumber(c[1] or "0"), tonumber(c[2] or "0")
    local take = math.min(left, count - dn)
    count, left, total = count - take, left - take, total - take
    if count == 0 then
      redis.call("HDEL", H, m, "x" .. m)
      redis.call("ZREM", Z, m)
    else
      if take > 0 then redis.call("HSET", H, m, fmt(count)) end
      k = k + 1
    end
  end
  finish()
  return fmt(total)
elseif op == "block" then
  blockedUntil = now + tonumber(ARGV[4])
  finish()
  return 1
end
return redis.error_reply("DISTKIT_ARGUMENT Unknown rate-limit operation: " .. tostring(op))
