-- counter_get: read counters.
-- KEYS[1]  the counter hash ({prefix}:counter)
-- ARGV     the fields
-- Returns  one decimal string per field ("0" when missing)
local reply = {}
for i, field in ipairs(ARGV) do
  reply[i] = redis.call("HGET", KEYS[1], field) or "0"
end
return reply
