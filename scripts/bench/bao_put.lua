-- wrk script: the write load against OpenBao (the same as ../shared/bench/openbao.sh):
-- each request writes one KV v2 secret secret/w<i>, i cycling over 0..99.
-- The X-Vault-Token header comes from wrk's -H option.
wrk.method = "POST"
wrk.body   = '{"data":{"K":"value-abcdefghijklmnop"}}'
wrk.headers["Content-Type"] = "application/json"
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/v1/secret/data/w" .. (counter % 100))
end
