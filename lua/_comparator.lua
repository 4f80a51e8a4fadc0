-- Whether `cur op operand` holds (core/comparator.ts's compare; an unknown op is false).
local function matches(op, operand, cur)
  if op == "always" then return true
  elseif op == "eq" then return cur == operand
  elseif op == "ne" then return cur ~= operand
  elseif op == "lt" then return cur < operand
  elseif op == "le" then return cur <= operand
  elseif op == "gt" then return cur > operand
  elseif op == "ge" then return cur >= operand
  end
  return false
end
