-- lock_acquire.batch: the batch form of lock_acquire (the layout: scripts/gen_lua.ts and
-- store/batch_form.ts). Each item runs lock_acquire in order and replies by itself. The
-- uncontended write (no lease, no live reader, no queued writer: one EXISTS tells) runs here as
-- lock_acquire's own first lines run it (INCR the fence, SET the lease), with no per-item KEYS
-- and ARGV tables, closure or pcall: in a batch of uncontended Mutex acquisitions those were most
-- of Redis's time. Any other item runs lock_acquire's body (`one`) under pcall, as the generated
-- form runs every item; a Redis error fails that item alone, its effects up to the error kept.
-- Returns  one reply per item, in order; {"!err", message} for an item that failed
local rcall, rpcall, pcall, type, tostring = redis.call, redis.pcall, pcall, type, tostring
local tonumber, match = tonumber, string.match
-- distkit:batch-one

local out, na, a, k, kb, nk, i = {}, #ARGV, 1, 1, 1, 0, 0
while a <= na do
  local h, c = ARGV[a], tonumber(ARGV[a])
  if not c then
    local cs, ks = match(h, "^(%d+):(%d+)$")
    c, nk = tonumber(cs), tonumber(ks)
    kb, k = k, k + nk
  end
  i = i + 1
  local r
  if c == 4 and nk == 6 and ARGV[a + 1] == "write"
    and rcall("EXISTS", KEYS[kb], KEYS[kb + 1], KEYS[kb + 3]) == 0 then
    r = rpcall("INCR", KEYS[kb + 4])
    if type(r) == "table" then
      r = { "!err", r.err }
    else
      local set = rpcall("SET", KEYS[kb], ARGV[a + 2], "PX", ARGV[a + 3])
      if set.err then r = { "!err", set.err } end
    end
  else
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
