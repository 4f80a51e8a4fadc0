-- counter_sync: a lax counter's flush, exactly once, plus a read-back.
-- The batch carries the writer's sequence number; a sequence at or below the last applied one
-- (a resend after a lost reply) is not applied again. A delta that would leave the safe-integer
-- range is skipped and reported.
-- KEYS[1]  the counter hash ({prefix}:counter)
-- KEYS[2]  the writer's sequence key ({prefix}:counter-seq:<instance id>)
-- ARGV[1]  the batch sequence number (a positive integer; "0" = no batch, read only)
-- ARGV[2]  how long the sequence key lives after each batch, ms
-- ARGV[3]  D, the number of (field, delta) pairs that follow
-- ARGV     D pairs: field, delta; then the fields to read back
-- Returns  { applied (1 | 0), skipped fields (list), values of the D fields then the read fields }
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local hash, seqKey = KEYS[1], KEYS[2]
local seq, ttl, d = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
-- distkit:const MAX_SAFE_INTEGER

local applied = 0
local skipped = {}
if seq > 0 then
  local last = tonumber(redis.call("GET", seqKey) or "0")
  if seq > last then
    applied = 1
    for i = 4, 3 + 2 * d, 2 do
      local field, delta = ARGV[i], tonumber(ARGV[i + 1])
      local value = tonumber(redis.call("HGET", hash, field) or "0") + delta
      if value > MAX_SAFE_INTEGER or value < -MAX_SAFE_INTEGER then
        skipped[#skipped + 1] = field
      elseif delta ~= 0 then
        redis.call("HSET", hash, field, string.format("%.0f", value))
      end
    end
    redis.call("SET", seqKey, ARGV[1], "PX", ttl)
  end
end

local values = {}
for i = 4, 3 + 2 * d, 2 do
  values[#values + 1] = redis.call("HGET", hash, ARGV[i]) or "0"
end
for i = 4 + 2 * d, #ARGV do
  values[#values + 1] = redis.call("HGET", hash, ARGV[i]) or "0"
end
return { applied, skipped, values }
