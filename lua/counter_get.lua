-- counter_get: read counters.
-- KEYS[1]  the counter hash ({prefix}:counter)
-- ARGV     the fields
-- Returns  one decimal string per field ("0" when missing)
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local reply = {}
for i, field in ipairs(ARGV) do
  reply[i] = redis.call("HGET", KEYS[1], field) or "0"
end
return reply
