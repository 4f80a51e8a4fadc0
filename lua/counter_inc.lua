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
  -- Negated as text: -ARGV[2] of "0" reaches Redis as "-0", which HINCRBY refuses (a field
  -- already out of range, written by someone else, plus 0), failing the script with ERR.
  local a = ARGV[2]
  if a ~= "0" then
    redis.call("HINCRBY", KEYS[1], ARGV[1], a:sub(1, 1) == "-" and a:sub(2) or "-" .. a)
  end
  return redis.error_reply("DISTKIT_OVERFLOW " .. ARGV[1] .. ": adding " .. ARGV[2]
    .. " leaves the safe-integer range")
end
return string.format("%d", value)
