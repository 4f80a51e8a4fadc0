-- counter_inc: the hot path of inc/dec, one field, no comparator.
-- KEYS[1]  the counter hash ({prefix}:counter)
-- ARGV[1]  the field
-- ARGV[2]  the amount
-- Returns  the new value, a decimal string; an error reply past +-(2^53-1), nothing written
-- distkit:const MAX_SAFE_INTEGER
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local value = tonumber(redis.call("HGET", KEYS[1], ARGV[1]) or "0") + tonumber(ARGV[2])
if value > MAX_SAFE_INTEGER or value < -MAX_SAFE_INTEGER then
  return redis.error_reply("DISTKIT_OVERFLOW " .. ARGV[1] .. ": adding " .. ARGV[2]
    .. " leaves the safe-integer range")
end
local s = string.format("%.0f", value)
redis.call("HSET", KEYS[1], ARGV[1], s)
return s
