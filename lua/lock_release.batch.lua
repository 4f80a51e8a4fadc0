-- lock_release.batch: the batch form of lock_release (the layout: scripts/gen_lua.ts and
-- store/batch_form.ts). Each item runs lock_release in order and replies by itself. The
-- uncontended write release (the token holds the lease, and no queue or waiting readers' marker
-- exists: nobody to hand over to or wake) runs here as lock_release runs it (GET, EXISTS, DEL),
-- with no per-item KEYS and ARGV tables, closures or pcall; the checks come before the one write,
-- so an item that fails them has changed nothing and runs lock_release's body (`one`) under
-- pcall, as the generated form runs every item (a Redis error fails that item alone).
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
  -- GET under pcall: a lease key of another type fails the item in `one`, not the batch here.
  if c == 3 and nk == 6 and ARGV[a + 1] == "write" and rpcall("GET", KEYS[kb]) == ARGV[a + 2]
    and rcall("EXISTS", KEYS[kb + 2], KEYS[kb + 5]) == 0 then
    rcall("DEL", KEYS[kb])
    r = 1
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
