-- icounter_apply.batch: the batch form of icounter_apply, merged for the common case (the layout:
-- scripts/gen_lua.ts and store/batch_form.ts): every item an "ops" call of one live, registered
-- member on the same keys, with nobody to reap. Then the items share one clock read, one
-- heartbeat, one look at the registry and one working copy of the keys they touch, written back
-- once at the end, while each still runs and replies as icounter_apply alone would, in order: an
-- item that fails (an entry leaves the safe range, not lenient) keeps what it did before its
-- entries (its heartbeat, its flush sequence) and leaves no entry's effect, as alone. Anything
-- else (other keys or members, "drop", a member to register or to reap, a threshold under 1 ms,
-- no epoch floor yet) runs the generic form: each item as the script itself. Nothing is written
-- before that choice is made.
-- Returns  one reply per item, in order; {"!err", message} for an item that failed
-- distkit:const MAX_SAFE_INTEGER
-- distkit:include fmt
-- distkit:include server_ms
-- distkit:include comparator
-- distkit:include icounter_entry
local tonumber, match = tonumber, string.match
-- distkit:batch-generic

-- The items: their argument ranges, all on the first item's keys.
local first, last = {}, {}
local a, na = 1, #ARGV
while a <= na do
  local h = ARGV[a]
  local c = tonumber(h)
  if not c then
    if a ~= 1 or h ~= match(h, "^%d+:8$") then return generic() end
    c = tonumber(match(h, "^(%d+):"))
  end
  if c < 8 or (c - 8) % 5 ~= 0 or a + c > na then return generic() end
  first[#first + 1], last[#last + 1] = a + 1, a + c
  a = a + c + 1
end
local member = ARGV[first[1]]
for i = 1, #first do
  local f = first[i]
  local ttl = tonumber(ARGV[f + 1])
  if ARGV[f] ~= member or ARGV[f + 6] ~= "ops" or not ttl or ttl < 1 or not tonumber(ARGV[f + 4]) then
    return generic()
  end
end

local K_INST, K_REAP, K_TOTAL, K_EPOCH, K_SLICES, K_OWNED, K_META, K_APPLIED =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local now = serverMs()
local deadline = tonumber(redis.call("ZSCORE", K_INST, member) or "0")
if deadline <= now or redis.call("EXISTS", K_REAP) == 1
  or redis.call("ZRANGE", K_INST, "-inf", now, "BYSCORE", "LIMIT", 0, 1)[1] then
  return generic()
end
local floor = redis.call("HGET", K_META, "floor")
if not floor then return generic() end

local function epochOf(key) return redis.call("HGET", K_EPOCH, key) or floor end
local T, E, S, dirty, bumped, order = {}, {}, {}, {}, {}, {}
-- distkit:include icounter_copy

local out = {}
local drawn, seqBase = 0, nil -- epochs drawn by the items so far; meta.seq before them
local lastSeq, seqDirty = nil, false -- this member's last applied flush sequence
local ttl
for i = 1, #first do
  local f = first[i]
  ttl = ARGV[f + 1]
  local seq, lenient = tonumber(ARGV[f + 4]), ARGV[f + 5] == "1"
  local applied = 1
  if seq > 0 then
    if lastSeq == nil then lastSeq = tonumber(redis.call("HGET", K_APPLIED, member) or "0") end
    if seq <= lastSeq then applied = 0 else lastSeq, seqDirty = seq, true end
  end
  local reply, undo, drawn0, failed = { 1, applied }, {}, drawn, nil
  for j = f + 8, last[i], 5 do
    local op, key, cmp = ARGV[j], ARGV[j + 1], ARGV[j + 2]
    local operand, amount = tonumber(ARGV[j + 3]), tonumber(ARGV[j + 4])
    if applied == 0 and (op == "inc" or op == "seti") then op = "get" end
    icLoad(key)
    if not undo[key] then
      undo[key] = { T[key], E[key], S[key], dirty[key], bumped[key] }
      undo[#undo + 1] = key
    end
    local t0, s0 = T[key], S[key]
    local matched, t1, s1, over = icStep(op, cmp, operand, amount, t0, s0, E[key])
    if matched == 1 then
      if over then
        if not lenient then
          failed = "DISTKIT_OVERFLOW " .. key .. ": " .. fmt(t0) .. " -> " .. fmt(t1)
            .. " leaves the safe-integer range"
          break
        end
        matched, t1, s1 = 0, t0, s0
      end
      if op == "set" or op == "del" then
        if seqBase == nil then seqBase = tonumber(redis.call("HGET", K_META, "seq")) end
        drawn = drawn + 1
        bumped[key] = true
        E[key] = fmt(seqBase + drawn)
      end
      if op ~= "get" and matched == 1 then dirty[key] = true end
      T[key], S[key] = t1, s1
    end
    icReply(reply, op, T[key], S[key], t0, s0, matched, E[key])
  end
  if failed then
    -- As alone: nothing of this item's entries stays.
    for _, key in ipairs(undo) do
      local u = undo[key]
      T[key], E[key], S[key], dirty[key], bumped[key] = u[1], u[2], u[3], u[4], u[5]
    end
    drawn = drawn0
    out[i] = { "!err", failed }
  else
    out[i] = reply
  end
end

redis.call("ZADD", K_INST, now + tonumber(ttl), member)
if seqDirty then redis.call("HSET", K_APPLIED, member, fmt(lastSeq)) end
if drawn > 0 then redis.call("HINCRBY", K_META, "seq", drawn) end
icWrite()
return out
