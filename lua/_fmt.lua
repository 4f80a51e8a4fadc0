-- An integral number as a decimal string (never in exponent form, exact up to 2^53).
local function fmt(n) return string.format("%.0f", n) end
