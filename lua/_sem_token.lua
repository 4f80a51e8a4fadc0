-- A semaphore token is "<id>*<permits>/<ttl ms>/<route>/<owner id>": its permits and its ttl.
local function semWeight(token) return tonumber(string.match(token, "^[^/]*%*(%d+)/")) end
local function semTtl(token) return tonumber(string.match(token, "^[^/]*/(%d+)/")) end
