-- sem_release: the owner-checked release of a semaphore's permits (also how a waiter that gives
-- up leaves the queue). The permits freed go at once to the waiters that now fit, in order,
-- inside this call; each grant is published on its grantee's route channel.
-- KEYS     as lua/sem_acquire.lua
-- ARGV[1]  token
-- ARGV[2]  the caller's permits (used only if the state hash is gone)
-- ARGV[3]  the wake-up channel
-- Returns  1 if the token held live permits, else 0; as {1 | 0, message...} when it granted
--          permits, with the grant messages it published ("g <fence> <ticket> <token>"), so
--          grantees in the releaser's own process are told without the pub/sub hop
local token = ARGV[1]
-- distkit:include server_ms
local holders, queue, state = KEYS[1], KEYS[2], KEYS[5]
local score = redis.call("ZSCORE", holders, token)
local queued = redis.call("EXISTS", queue) == 1
if not score and not queued then return 0 end
local now = serverMs()

-- The uncontended path: a live holder and nobody queued (nobody to grant to). Lapsed holders
-- stay counted in "used" until a call that needs their permits sweeps them. The token's permits
-- go to HINCRBY as the token spells them (no number to parse and format again).
if score and not queued and tonumber(score) > now then
  local w = string.match(token, "^[^/]*%*(%d+)/")
  if redis.call("HINCRBY", state, "used", w and "-" .. w or "0") <= 0 then
    redis.call("DEL", holders, state) -- idle: only the fence counter is left
  else
    redis.call("ZREM", holders, token)
    redis.call("HDEL", state, token)
  end
  return 1
end

-- The full path's helpers, defined only when it runs (a closure each, ~1 µs of Redis time in all).
-- distkit:const QUEUE_SWEEP
-- distkit:include fmt
-- distkit:include sem_token
-- distkit:include publish
-- distkit:include sem
local permits, channel = tonumber(ARGV[2]), ARGV[3]
local S = { holders = holders, queue = queue, qexp = KEYS[3], fence = KEYS[4], state = state }
S.now = now

semLoad(S, permits)
local held = 0
if score then
  redis.call("ZREM", S.holders, token)
  redis.call("HDEL", S.state, token)
  S.used = S.used - (semWeight(token) or 0)
  if S.used < 0 then S.used = 0 end
  if tonumber(score) > S.now then held = 1 end
else
  redis.call("ZREM", S.queue, token)
  redis.call("ZREM", S.qexp, token)
end
semSweep(S)
local _, sent = semServe(S, false, channel)
semStore(S)
if #sent == 0 then return held end
return {held, unpack(sent)}
