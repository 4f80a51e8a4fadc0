-- Publishes a wake-up on the sharded channel (SPUBLISH, standalone and cluster) and, on a
-- standalone server, on the plain channel of the same name too (PUBLISH): clients without sharded
-- pub/sub (Bun's RedisClient, GLIDE's standalone client) subscribe to that one. A cluster is told
-- apart by CLUSTER KEYSLOT, which a standalone server refuses (asked once per call).
local standalone
local function publish(ch, message)
  redis.call("SPUBLISH", ch, message)
  if standalone == nil then
    standalone = type(redis.pcall("CLUSTER", "KEYSLOT", ch)) ~= "number"
  end
  if standalone then redis.call("PUBLISH", ch, message) end
end
