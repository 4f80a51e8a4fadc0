-- counter_clear: remove every counter under a prefix.
-- KEYS[1]  the counter hash ({prefix}:counter)
-- Returns  1
redis.call("DEL", KEYS[1])
return 1
