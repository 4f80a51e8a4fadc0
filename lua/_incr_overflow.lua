-- An HINCRBY of `amount` (the decimal string sent) on a hash field whose sum left the safe range:
-- the message of the error to reply, and the second HINCRBY that takes it back, so nothing stays
-- written. Negated as text: -amount of "0" reaches Redis as "-0", which HINCRBY refuses (a field
-- already out of range, written by someone else, plus 0), and the script failed with ERR.
local function overflowMessage(field, amount)
  return "DISTKIT_OVERFLOW " .. field .. ": adding " .. amount .. " leaves the safe-integer range"
end
local function takeBack(key, field, amount)
  if amount ~= "0" then
    redis.call("HINCRBY", key, field, amount:sub(1, 1) == "-" and amount:sub(2) or "-" .. amount)
  end
  return overflowMessage(field, amount)
end
