-- counter_inc.batch: the batch form of counter_inc, merged per counter hash (the layout:
-- scripts/gen_lua.ts and store/batch_form.ts). Each item runs as counter_inc alone would, in
-- order, and replies by itself, but without a server call per item: one HMGET per hash reads the
-- fields the items touch, the items are applied in Lua, and one HSET per hash writes the fields
-- they changed. A double holds every value and amount exactly (both within +-(2^53-1)), and a
-- sum past that range is told apart exactly too (a true sum of at least 2^53 rounds to at least
-- 2^53), so an item that would leave the safe range fails alone with counter_inc's error, its
-- field unchanged. Anything this form does not take for certain (a header other than one key and
-- two arguments, an amount or a stored value that is not an integer within the safe range as
-- HINCRBY reads it, a key that is not a hash) runs the generic form instead: each item as the
-- script itself, under pcall. Nothing is written before that choice is made.
-- Returns  one reply per item, in order; {"!err", message} for an item that failed
-- distkit:const MAX_SAFE_INTEGER
local tonumber, match, format = tonumber, string.match, string.format
-- distkit:batch-generic

-- An integer within the safe range written as HINCRBY reads one (no sign but "-", no leading
-- zero, no "-0"), as a number; nil otherwise.
local function int(s)
  if s == "0" or (#s <= 17 and match(s, "^%-?[1-9]%d*$")) then
    local v = tonumber(s)
    if v >= -MAX_SAFE_INTEGER and v <= MAX_SAFE_INTEGER then return v end
  end
  return nil
end

local hashes, order = {}, {} -- key -> { fields = {field...}, seen = {field -> true} }
local ikey, ifield, iamount, itext = {}, {}, {}, {}
local n, a, k, na, key = 0, 1, 1, #ARGV, nil
while a <= na do
  local h = ARGV[a]
  local c = tonumber(h)
  if not c then
    local cs, ks = match(h, "^(%d+):(%d+)$")
    if ks ~= "1" then return generic() end
    c, key, k = tonumber(cs), KEYS[k], k + 1
  end
  if c ~= 2 or key == nil then return generic() end
  local field, amount = ARGV[a + 1], int(ARGV[a + 2])
  if not amount then return generic() end
  n = n + 1
  ikey[n], ifield[n], iamount[n], itext[n] = key, field, amount, ARGV[a + 2]
  local hash = hashes[key]
  if not hash then
    hash = { fields = {}, seen = {} }
    hashes[key] = hash
    order[#order + 1] = key
  end
  if not hash.seen[field] then
    hash.seen[field] = true
    hash.fields[#hash.fields + 1] = field
  end
  a = a + 3
end

local values = {} -- key -> { field -> value }
for _, key in ipairs(order) do
  local hash = hashes[key]
  local ok, got = pcall(redis.call, "HMGET", key, unpack(hash.fields))
  if not ok then return generic() end
  local v = {}
  for i, field in ipairs(hash.fields) do
    if got[i] then
      v[field] = int(got[i])
      if v[field] == nil then return generic() end
    else
      v[field] = 0
    end
  end
  values[key] = v
end

local out, dirty = {}, {} -- dirty: key -> { field -> true } for the fields an item changed
for i = 1, n do
  local v, field = values[ikey[i]], ifield[i]
  local value = v[field] + iamount[i]
  if value > MAX_SAFE_INTEGER or value < -MAX_SAFE_INTEGER then
    out[i] = { "!err", "DISTKIT_OVERFLOW " .. field .. ": adding " .. itext[i]
      .. " leaves the safe-integer range" }
  else
    v[field] = value
    local d = dirty[ikey[i]]
    if not d then
      d = {}
      dirty[ikey[i]] = d
    end
    d[field] = true
    out[i] = format("%d", value)
  end
end
for _, key in ipairs(order) do
  local d = dirty[key]
  if d then
    local args, v = {}, values[key]
    for _, field in ipairs(hashes[key].fields) do
      if d[field] then
        args[#args + 1] = field
        args[#args + 1] = format("%d", v[field])
      end
    end
    redis.call("HSET", key, unpack(args))
  end
end
return out
