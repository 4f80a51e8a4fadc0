-- counter_apply: a batch of increments and sets on one counter hash, all-or-nothing.
-- Entries apply in order, so a later entry on the same field sees the earlier one.
-- Nothing is written unless every result stays within +-(2^53-1).
-- KEYS[1]  the counter hash ({prefix}:counter)
-- ARGV     5 per entry: op ("inc" | "set"), field, comparator op, comparator operand, amount
-- Returns  3 per entry: value, previous (decimal strings), matched (1 | 0)
-- distkit:batch (RedisStore may run several calls of one tick as one EVALSHA of the batch
-- form, each with its own KEYS and ARGV: see scripts/gen_lua.ts)
local hash = KEYS[1]
-- distkit:const MAX_SAFE_INTEGER

-- distkit:include comparator

local values = {}   -- field -> current value in this call
local order = {}    -- fields written, in first-write order
local written = {}  -- field -> true once written
local reply = {}
for i = 1, #ARGV, 5 do
  local op, field = ARGV[i], ARGV[i + 1]
  local cmp, operand, amount = ARGV[i + 2], tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  local cur = values[field]
  if cur == nil then cur = tonumber(redis.call("HGET", hash, field) or "0") end
  local value = cur
  local matched = matches(cmp, operand, cur)
  if matched then
    if op == "inc" then value = cur + amount else value = amount end
    if value > MAX_SAFE_INTEGER or value < -MAX_SAFE_INTEGER then
      return redis.error_reply("DISTKIT_OVERFLOW " .. field .. ": " .. string.format("%.0f", cur)
        .. " + " .. string.format("%.0f", amount) .. " leaves the safe-integer range")
    end
    if not written[field] then
      written[field] = true
      order[#order + 1] = field
    end
  end
  values[field] = value
  reply[#reply + 1] = string.format("%.0f", value)
  reply[#reply + 1] = string.format("%.0f", cur)
  reply[#reply + 1] = matched and 1 or 0
end
for _, field in ipairs(order) do
  redis.call("HSET", hash, field, string.format("%.0f", values[field]))
end
return reply
