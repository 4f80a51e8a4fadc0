-- One instance-aware entry's arithmetic and reply (lua/icounter_apply.lua and its merged batch
-- form; the script declares MAX_SAFE_INTEGER and includes fmt and comparator first).
-- icStep: from the key's total t0, this member's slice s0 and the key's epoch e, whether the entry
-- matches (its comparator; "rst": the epoch), the total and slice after it, and whether either
-- would leave the safe range (the caller fails the call, or skips the entry when lenient).
local function icStep(op, cmp, operand, amount, t0, s0, e)
  local matched, t1, s1 = 1, t0, s0
  if op == "inc" or op == "set" then
    if not matches(cmp, operand, t0) then return 0, t0, s0, false end
  elseif op == "seti" then
    if not matches(cmp, operand, s0) then return 0, t0, s0, false end
  end
  if op == "inc" then t1, s1 = t0 + amount, s0 + amount
  elseif op == "set" then t1, s1 = amount, amount
  elseif op == "seti" then t1, s1 = t0 - s0 + amount, amount
  elseif op == "delo" then t1, s1 = t0 - s0, 0
  elseif op == "del" then t1, s1 = 0, 0
  elseif op == "rst" then
    if fmt(operand) ~= e then return 0, t0, s0, false end
    t1, s1 = t0 - s0 + amount, amount
  end
  return matched, t1, s1, t1 > MAX_SAFE_INTEGER or t1 < -MAX_SAFE_INTEGER
    or s1 > MAX_SAFE_INTEGER or s1 < -MAX_SAFE_INTEGER
end

-- Appends an entry's six reply fields: total, mine (0 and 0 after a del), the two before, matched,
-- the key's epoch.
local function icReply(reply, op, t, s, t0, s0, matched, e)
  if op == "del" then
    reply[#reply + 1] = "0"
    reply[#reply + 1] = "0"
  else
    reply[#reply + 1] = fmt(t)
    reply[#reply + 1] = fmt(s)
  end
  reply[#reply + 1] = fmt(t0)
  reply[#reply + 1] = fmt(s0)
  reply[#reply + 1] = matched
  reply[#reply + 1] = e
end
