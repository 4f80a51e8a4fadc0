-- The item loop of a batch form with an inline fast path (a lua/<name>.batch.lua holding
-- `-- distkit:batch-one`, which defines `one`, before this). Reads each item's header (the layout:
-- store/batch_form.ts) and offers the item to `fast(kb, nk, a, c)`: its keys are KEYS[kb] to
-- KEYS[kb + nk - 1], its arguments ARGV[a + 1] to ARGV[a + c]. `fast` returns the item's reply, or
-- nil, having written nothing, for an item it does not take; that item runs the script's body
-- (`one`) under pcall with its own KEYS and ARGV tables, as the generated form runs every item (a
-- Redis error fails that item alone, its effects up to the error kept). Returns one reply per
-- item, in order; {"!err", message} for an item that failed.
local function batchItems(fast)
  local out, na, a, k, kb, nk, i = {}, #ARGV, 1, 1, 1, 0, 0
  local tonumber, match, pcall, type, tostring = tonumber, string.match, pcall, type, tostring
  while a <= na do
    local h = ARGV[a]
    local c = tonumber(h)
    if not c then
      local cs, ks = match(h, "^(%d+):(%d+)$")
      c, nk = tonumber(cs), tonumber(ks)
      kb, k = k, k + nk
    end
    i = i + 1
    local r = fast(kb, nk, a, c)
    if r == nil then
      local keys, args = {}, {}
      for j = 1, nk do keys[j] = KEYS[kb + j - 1] end
      for j = 1, c do args[j] = ARGV[a + j] end
      local ok
      ok, r = pcall(one, keys, args)
      if not ok then
        r = { "!err", type(r) == "table" and r.err or tostring(r) }
      elseif type(r) == "table" and r.err then
        r = { "!err", r.err }
      end
    end
    out[i] = r
    a = a + c + 1
  end
  return out
end
