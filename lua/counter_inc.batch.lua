-- counter_inc.batch: the batch form of counter_inc (the layout: scripts/gen_lua.ts and
-- store/batch_form.ts). Each item runs counter_inc's own body, in order, and replies by itself,
-- without the generic form's per-item tables and function call: one HINCRBY per item, under
-- redis.pcall so an error (WRONGTYPE, a stored value HINCRBY refuses) fails that item alone, and
-- an item whose sum leaves the safe range is taken back by a second HINCRBY, as counter_inc does.
-- A per-item HINCRBY costs Redis less than reading the fields with HMGET and writing them back
-- with HSET once distinct fields are many (a field's lookup, parse and format are then paid in C
-- once instead of in Lua and C twice). A run of items on one field (a hot counter) pays one
-- HINCRBY to learn the value and one to write the run's sum: the items between are added in Lua,
-- exactly (every value and partial sum stays within +-(2^53-1), or the item fails as alone). A
-- batch whose items are not all one key and two arguments (never sent by the library) runs the
-- generic form; that is told before anything is written.
-- Returns  one reply per item, in order; {"!err", message} for an item that failed
-- distkit:const MAX_SAFE_INTEGER
local rpcall, rcall, format, type = redis.pcall, redis.call, string.format, type
local tonumber, match = tonumber, string.match
-- distkit:include incr_overflow
-- distkit:batch-generic

local na, nk = #ARGV, 0
for a = 1, na, 3 do
  local h = ARGV[a]
  if h == "2:1" then
    nk = nk + 1
  elseif h ~= "2" or a == 1 then
    return generic()
  end
  if a + 2 > na then return generic() end
end
if nk ~= #KEYS then return generic() end

-- An amount HINCRBY reads as the integer it writes (no sign but "-", no leading zero, no "-0"),
-- within the safe range, as a number; nil otherwise.
local function int(s)
  if s == "0" or (#s <= 17 and match(s, "^%-?[1-9]%d*$")) then
    local v = tonumber(s)
    if v >= -MAX_SAFE_INTEGER and v <= MAX_SAFE_INTEGER then return v end
  end
  return nil
end

-- A run of items on one field after an HINCRBY that succeeded: the field's value is known
-- (`value`, exact) and their sum waits in `pending` for one HINCRBY at the run's end.
local out, k, key = {}, 1, nil
local runKey, runField, value, pending = nil, nil, 0, 0
local function settle()
  if pending ~= 0 then rcall("HINCRBY", runKey, runField, pending) end
  runKey, pending = nil, 0
end
for a = 1, na, 3 do
  if ARGV[a] ~= "2" then key, k = KEYS[k], k + 1 end
  local i, field, amount = (a + 2) / 3, ARGV[a + 1], ARGV[a + 2]
  local by = runKey == key and runField == field and int(amount)
  if by and pending + by >= -MAX_SAFE_INTEGER and pending + by <= MAX_SAFE_INTEGER then
    local sum = value + by
    if sum > MAX_SAFE_INTEGER or sum < -MAX_SAFE_INTEGER then
      out[i] = { "!err", overflowMessage(field, amount) }
    else
      value, pending = sum, pending + by
      out[i] = format("%d", sum)
    end
  else
    settle()
    local got = rpcall("HINCRBY", key, field, amount)
    if type(got) == "table" then
      out[i] = { "!err", got.err }
    elseif got > MAX_SAFE_INTEGER or got < -MAX_SAFE_INTEGER then
      out[i] = { "!err", takeBack(key, field, amount) }
    else
      runKey, runField, value = key, field, got
      out[i] = format("%d", got)
    end
  end
end
settle()
return out
