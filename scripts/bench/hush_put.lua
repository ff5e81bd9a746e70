-- wrk script: the write load against hush. Each request sets one secret
-- (PUT /api/v1/hush/secrets/K<i>, a new version with a distinct value), the key
-- cycling over K1..K<BENCH_KEYS> (BENCH_KEYS=1: always the same key).
-- The Authorization header comes from wrk's -H option. At the end it prints
-- one line "status CODE: COUNT" per HTTP status seen.
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "50")
local env = os.getenv("BENCH_ENV") or "dev"
local threads = {}
local counter = 0
statuses = {}

setup = function(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
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

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      all[code] = (all[code] or 0) + n
    end
  end
  for code, n in pairs(all) do
    io.write(string.format("status %d: %d\n", code, n))
  end
end
