-- lock_release.batch: the batch form of lock_release (the layout: scripts/gen_lua.ts and
-- store/batch_form.ts). Each item runs lock_release in order and replies by itself. The
-- uncontended write release (the token holds the lease, and no queue or waiting readers' marker
-- exists: nobody to hand over to or wake) runs here as lock_release runs it (GET, EXISTS, DEL),
-- with no per-item KEYS and ARGV tables, closures or pcall; the checks come before the one write,
-- so an item that fails them has changed nothing and runs lock_release's body
-- (lua/_batch_items.lua).
-- Returns  one reply per item, in order; {"!err", message} for an item that failed
local rcall, rpcall = redis.call, redis.pcall
-- distkit:batch-one
-- distkit:include batch_items

return batchItems(function(kb, nk, a, c)
  -- GET under pcall: a lease key of another type fails the item in `one`, not the batch here.
  if c ~= 3 or nk ~= 6 or ARGV[a + 1] ~= "write" or rpcall("GET", KEYS[kb]) ~= ARGV[a + 2]
    or rcall("EXISTS", KEYS[kb + 2], KEYS[kb + 5]) ~= 0 then
    return nil
  end
  rcall("DEL", KEYS[kb])
  return 1
end)
