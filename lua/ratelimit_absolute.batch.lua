-- ratelimit_absolute.batch: the batch form of ratelimit_absolute (the layout: scripts/gen_lua.ts
-- and store/batch_form.ts). Each item runs ratelimit_absolute in order and replies by itself. The
-- hottest path (an admitted inc into the current bucket: PTTL, an HMGET of four fields, an
-- HINCRBY) runs here as the script's own first lines run it, with no per-item KEYS and ARGV
-- tables, closure or pcall; and a run of such incs on one key (a hot key: one client, one tenant,
-- a global limit) pays the HMGET and the HINCRBY once. After the run's first inc, every later one
-- of the same key, window, bucket size and capacity finds the origin and newest bucket unchanged
-- and the total the inc before it left; its own PTTL (Redis 7.0 reads the clock anew for each
-- command of a script, later versions once a script) tells whether the bucket is still the
-- current one and gives its resetMs. It is admitted while the total stays within the capacity,
-- with the reply it would get alone, and the run's sum is written with one HINCRBY before any
-- other item runs (and at the end). Any other item runs ratelimit_absolute's body
-- (lua/_batch_items.lua), the run written first.
-- Returns  one reply per item, in order; {"!err", message} for an item that failed
local rcall, rpcall, type, tonumber, match = redis.call, redis.pcall, type, tonumber, string.match
-- distkit:batch-one
-- distkit:include batch_items

-- The run: its key, the arguments it shares, W and (o - n) * g as numbers, and its total; its sum
-- waits in `pending`.
local runKey, runW, runG, runCapS, runCap, runWn, runBase, runTotal, pending =
  nil, nil, nil, nil, 0, 0, 0, 0, 0
-- (The run's last inc saw the key live for more than W, a second at least, so it is still there
-- when its sum is written, within the same script.)
local function settle()
  if pending > 0 then rcall("HINCRBY", runKey, "T" .. runCapS, string.format("%d", pending)) end
  runKey, pending = nil, 0
end

local out = batchItems(function(kb, nk, a, c)
  -- An inc (op absent or "inc") of a canonical positive integer n (up to 15 digits: every sum
  -- stays exact), else the script's body decides.
  local nS = c >= 4 and ARGV[a + 4] or "1"
  if nk ~= 1 or c < 3 or c > 5 or (c == 5 and ARGV[a + 5] ~= "inc")
    or not match(nS, "^[1-9]%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?$") then
    settle()
    return nil
  end
  local H, WS, gS, capS, n = KEYS[kb], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(nS)
  if H == runKey and WS == runW and gS == runG and capS == runCapS then
    local ttl = rcall("PTTL", H)
    local reset = runBase + ttl
    if ttl > runWn and reset > 0 and runTotal + n <= runCap then
      runTotal, pending = runTotal + n, pending + n
      return { runCap - runTotal, reset }
    end
    settle() -- rejected, or the bucket or the oldest one ended: the body decides (on the run's
    return nil -- total, written)
  end
  settle()
  local W, g, cap = tonumber(WS), tonumber(gS), tonumber(capS)
  if not (W and g and cap) then return nil end
  local ttl = rcall("PTTL", H)
  if not (ttl > W and ttl <= W + g) then return nil end
  local hs = rpcall("HMGET", H, "T" .. capS, "o", "n", "b")
  if hs.err or not hs[1] or hs[4] then return nil end
  local o, newest = tonumber(hs[2]), tonumber(hs[3])
  if not (o and newest) then return nil end
  local reset = (o - newest) * g + ttl
  if not (reset > 0 and hs[1] + n <= cap and cap < 4503599627370496) then return nil end
  local total = rpcall("HINCRBY", H, "T" .. capS, nS)
  if type(total) == "table" then return { "!err", total.err } end
  runKey, runW, runG, runCapS, runCap, runWn, runBase, runTotal =
    H, WS, gS, capS, cap, W, (o - newest) * g, total
  return { cap - total, reset }
end)
settle()
return out
