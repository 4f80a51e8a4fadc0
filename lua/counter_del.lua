-- counter_del: remove one counter.
-- KEYS[1]  the counter hash ({prefix}:counter)
-- ARGV[1]  the field
-- Returns  its value before deletion, a decimal string ("0" when missing)
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local value = redis.call("HGET", KEYS[1], ARGV[1]) or "0"
redis.call("HDEL", KEYS[1], ARGV[1])
return value
