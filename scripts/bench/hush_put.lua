-- wrk script: the write load against hush. Each request sets one secret
-- (PUT /api/v1/hush/secrets/K<i>, a new version with a distinct value), the key
-- cycling over K1..K<BENCH_KEYS> (BENCH_KEYS=1: always the same key).
-- The Authorization header comes from wrk's -H option.
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "50")
local env = os.getenv("BENCH_ENV") or "dev"
local threads = 0
local counter = 0

setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local key = "K" .. ((counter % nkeys) + 1)
  local body = '{"workspaceId":"default","environment":"' .. env ..
    '","secretPath":"/","secretValue":"value-' .. tostring(tid) .. '-' .. counter .. '-abcdefghijklmnop"}'
  return wrk.format(nil, "/api/v1/hush/secrets/" .. key, nil, body)
end
