-- lock_acquire.batch: the batch form of lock_acquire (the layout: scripts/gen_lua.ts and
-- store/batch_form.ts). Each item runs lock_acquire in order and replies by itself. The
-- uncontended write (no lease, no live reader, no queued writer: one EXISTS tells) runs here as
-- lock_acquire's own first lines run it (INCR the fence, SET the lease), with no per-item KEYS
-- and ARGV tables, closure or pcall: in a batch of uncontended Mutex acquisitions those were most
-- of Redis's time. Any other item runs lock_acquire's body (lua/_batch_items.lua).
-- Returns  one reply per item, in order; {"!err", message} for an item that failed
local rcall, rpcall, type = redis.call, redis.pcall, type
-- distkit:batch-one
-- distkit:include batch_items

return batchItems(function(kb, nk, a, c)
  if c ~= 4 or nk ~= 6 or ARGV[a + 1] ~= "write"
    or rcall("EXISTS", KEYS[kb], KEYS[kb + 1], KEYS[kb + 3]) ~= 0 then
    return nil
  end
  local n = rpcall("INCR", KEYS[kb + 4])
  if type(n) == "table" then return { "!err", n.err } end
  local set = rpcall("SET", KEYS[kb], ARGV[a + 2], "PX", ARGV[a + 3])
  if set.err then return { "!err", set.err } end
  return n
end)
