-- counter_inc: the hot path of inc/dec, one field, no comparator.
-- KEYS[1]  the counter hash ({prefix}:counter)
-- ARGV[1]  the field
-- ARGV[2]  the amount
-- Returns  the new value, a decimal string; an error reply past +-(2^53-1), nothing written
-- One HINCRBY (Redis adds in 64-bit integers, exactly: a stored value and an amount are both
-- within +-(2^53-1)); a result past the safe range is taken back by a second one, so nothing is
-- written, as if the value had been read and checked first (what the model does).
-- distkit:const MAX_SAFE_INTEGER
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local value = redis.call("HINCRBY", KEYS[1], ARGV[1], ARGV[2])
if value > MAX_SAFE_INTEGER or value < -MAX_SAFE_INTEGER then
  -- distkit:include incr_overflow
  return redis.error_reply(takeBack(KEYS[1], ARGV[1], ARGV[2]))
end
return string.format("%d", value)
