-- The server's clock, ms (TIME: seconds and microseconds).
local function serverMs()
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
