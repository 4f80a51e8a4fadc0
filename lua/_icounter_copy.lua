-- The working copy of the keys an instance-aware call touches (lua/icounter_apply.lua and its
-- merged batch form), over the script's locals K_TOTAL, K_EPOCH, K_SLICES, K_OWNED, member,
-- epochOf and T (totals), E (epochs), S (this member's current slices), dirty, bumped and order.
-- icLoad reads a key into it, once; icWrite writes back every key an entry changed: its total,
-- its drawn epoch, and this member's slice and its index entry.
local function icLoad(key)
  if T[key] ~= nil then return end
  T[key] = tonumber(redis.call("HGET", K_TOTAL, key) or "0")
  E[key] = epochOf(key)
  local s = 0
  local rec = redis.call("HGET", K_SLICES, member .. ":" .. key)
  if rec then
    local e, v = string.match(rec, "^([^:]+):(.+)$")
    if e == E[key] then s = tonumber(v) end
  end
  S[key] = s
  order[#order + 1] = key
end

local function icWrite()
  for _, key in ipairs(order) do
    if dirty[key] then
      if T[key] == 0 then redis.call("HDEL", K_TOTAL, key)
      else redis.call("HSET", K_TOTAL, key, fmt(T[key])) end
      if bumped[key] then redis.call("HSET", K_EPOCH, key, E[key]) end
      local field = member .. ":" .. key
      if S[key] == 0 then
        redis.call("HDEL", K_SLICES, field)
        redis.call("ZREM", K_OWNED, field)
      else
        redis.call("HSET", K_SLICES, field, E[key] .. ":" .. fmt(S[key]))
        redis.call("ZADD", K_OWNED, 0, field)
      end
    end
  end
end
