-- icounter_apply: every instance-aware operation except clear, for one instance incarnation
-- ("member"), atomically: heartbeat, bounded reaping of dead members, then the entries in order
-- (all-or-nothing unless lenient), or one bounded step of dropping this member's slices.
--
-- Invariant kept by every branch: for every key k,
--   total[k] == sum of slices[m:k] whose stored epoch equals epoch(k)
-- where epoch(k) = epoch[k] or meta.floor. set/del draw a fresh epoch from meta.seq, which voids
-- every other member's slice of k without touching it; clear raises meta.floor past every epoch.
--
-- KEYS[1] instances  ZSET member -> heartbeat deadline (server ms)
-- KEYS[2] reaping    ZSET members past their deadline whose slices are being removed
-- KEYS[3] total      HASH key -> total
-- KEYS[4] epoch      HASH key -> epoch (absent: meta.floor)
-- KEYS[5] slices     HASH "<member>:<key>" -> "<epoch>:<value>"
-- KEYS[6] owned      ZSET (score 0) of "<member>:<key>": bounded enumeration by member (BYLEX)
--   (a member name never holds ":", its instance id being encoded, so a field splits at its first
--   ":" and the range "[<m>:" .. "(<m>;" holds exactly member m's fields, whatever the keys hold)
-- KEYS[7] meta       HASH seq (last epoch drawn), floor (epoch of keys never set)
-- KEYS[8] applied    HASH member -> last applied flush sequence (exactly-once flushes)
-- ARGV[1] member     ARGV[2] threshold ms   ARGV[3] register (1: register when missing)
-- ARGV[4] random epoch base for a missing meta   ARGV[5] flush sequence (0: none)
-- ARGV[6] lenient (1: an entry that would overflow is skipped, matched 0, instead of an error)
-- ARGV[7] mode: "ops" or "drop" (ARGV[8] = 1 to unregister once every slice is dropped)
-- ops: then 5 per entry: op, key, comparator op, operand, amount
--   op: get | inc | set | seti (my slice) | delo (my slice) | del | rst (restore: operand = epoch)
-- Returns {0} when the member is not registered and may not register (nothing was done);
--   ops:  {1, applied (0 | 1), then 6 per entry: total, mine, prevTotal, prevMine, matched, epoch}
--   drop: {1, more (1 when slices remain)}
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local K_INST, K_REAP, K_TOTAL, K_EPOCH, K_SLICES, K_OWNED, K_META, K_APPLIED =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local member, ttl, register = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local seq, lenient, mode = tonumber(ARGV[5]), ARGV[6] == "1", ARGV[7]
-- distkit:const MAX_SAFE_INTEGER REAP_MEMBERS REAP_SLICES DROP_SLICES
-- distkit:include fmt
-- distkit:include server_ms

local now = serverMs()

-- 1. registration and heartbeat
if not redis.call("ZSCORE", K_INST, member) then
  if register ~= "1" or redis.call("ZSCORE", K_REAP, member) then return { 0 } end
end
redis.call("ZADD", K_INST, now + ttl, member)

local floor = redis.call("HGET", K_META, "floor")
if not floor then
  floor = ARGV[4]
  redis.call("HSET", K_META, "seq", floor, "floor", floor)
end
local function epochOf(key) return redis.call("HGET", K_EPOCH, key) or floor end

-- Removes a member's slice record; subtracts it from the total when it is current.
local function unslice(field, key)
  local rec = redis.call("HGET", K_SLICES, field)
  if rec then
    local e, v = string.match(rec, "^([^:]+):(.+)$")
    if e == epochOf(key) then
      local total = tonumber(redis.call("HGET", K_TOTAL, key) or "0") - tonumber(v)
      if total == 0 then redis.call("HDEL", K_TOTAL, key)
      else redis.call("HSET", K_TOTAL, key, fmt(total)) end
    end
    redis.call("HDEL", K_SLICES, field)
  end
  redis.call("ZREM", K_OWNED, field)
end

-- Drops up to `budget` slices of member m; returns how many it found.
local function dropSlices(m, budget)
  local fields = redis.call("ZRANGE", K_OWNED, "[" .. m .. ":", "(" .. m .. ";", "BYLEX",
    "LIMIT", 0, budget)
  for _, field in ipairs(fields) do unslice(field, string.sub(field, #m + 2)) end
  return #fields
end

-- 2. reaping, bounded: members past their deadline stop being registered at once; their slices
-- leave the totals over as many calls as it takes.
local dead = redis.call("ZRANGE", K_INST, "-inf", now, "BYSCORE", "LIMIT", 0, REAP_MEMBERS)
for _, m in ipairs(dead) do
  redis.call("ZREM", K_INST, m)
  redis.call("ZADD", K_REAP, 0, m)
  redis.call("HDEL", K_APPLIED, m)
end
local budget = REAP_SLICES
for _, m in ipairs(redis.call("ZRANGE", K_REAP, 0, REAP_MEMBERS - 1)) do
  local n = dropSlices(m, budget)
  if n < budget then redis.call("ZREM", K_REAP, m) end
  budget = budget - n
  if budget <= 0 then break end
end

-- 3a. drop my slices (clearOnInstance, leave)
if mode == "drop" then
  local more = dropSlices(member, DROP_SLICES) == DROP_SLICES
  if not more and ARGV[8] == "1" then
    redis.call("ZREM", K_INST, member)
    redis.call("HDEL", K_APPLIED, member)
  end
  return { 1, more and 1 or 0 }
end

-- 3b. the entries, in order, over a working copy written back at the end
local applied = 1
if seq > 0 then
  local last = tonumber(redis.call("HGET", K_APPLIED, member) or "0")
  if seq <= last then applied = 0 else redis.call("HSET", K_APPLIED, member, fmt(seq)) end
end

-- distkit:include comparator
-- distkit:include icounter_entry

local T, E, S, dirty, bumped, order = {}, {}, {}, {}, {}, {}
local drawn = 0
-- distkit:include icounter_copy
local function overflow(key, what)
  return redis.error_reply("DISTKIT_OVERFLOW " .. key .. ": " .. what ..
    " leaves the safe-integer range")
end

local reply = { 1, applied }
for i = 9, #ARGV, 5 do
  local op, key, cmp = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local operand, amount = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  if applied == 0 and (op == "inc" or op == "seti") then op = "get" end
  icLoad(key)
  local t0, s0 = T[key], S[key]
  local matched, t1, s1, over = icStep(op, cmp, operand, amount, t0, s0, E[key])
  if matched == 1 then
    if over then
      if not lenient then return overflow(key, fmt(t0) .. " -> " .. fmt(t1)) end
      matched, t1, s1 = 0, t0, s0
    end
    if op == "set" or op == "del" then
      drawn = drawn + 1
      bumped[key] = true
      E[key] = fmt(tonumber(redis.call("HGET", K_META, "seq")) + drawn)
    end
    if op ~= "get" and matched == 1 then dirty[key] = true end
    T[key], S[key] = t1, s1
  end
  icReply(reply, op, T[key], S[key], t0, s0, matched, E[key])
end

if drawn > 0 then redis.call("HINCRBY", K_META, "seq", drawn) end
icWrite()
return reply
