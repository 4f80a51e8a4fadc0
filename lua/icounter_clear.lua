-- icounter_clear: remove every instance-aware counter under a prefix, for every instance.
-- Registrations and flush sequences stay (an instance keeps its heartbeat, and a flush resent
-- after a lost reply is still recognised). meta.floor moves past every epoch ever drawn, so a
-- slice an instance still remembers from before the clear is void and can never be restored.
-- KEYS     as icounter_apply: instances, reaping, total, epoch, slices, owned, meta, applied
-- ARGV[1]  random epoch base for a missing meta
-- Returns  1
local K_TOTAL, K_EPOCH, K_SLICES, K_OWNED, K_META = KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
redis.call("UNLINK", K_TOTAL, K_EPOCH, K_SLICES, K_OWNED)
if not redis.call("HGET", K_META, "floor") then
  redis.call("HSET", K_META, "seq", ARGV[1], "floor", ARGV[1])
end
local floor = redis.call("HINCRBY", K_META, "seq", 1)
redis.call("HSET", K_META, "floor", string.format("%.0f", floor))
return 1
