-- wrk script: GET /healthz, the HTTP limit. The request is made per call in request(), like
-- purchase.lua's, so wrk spends about as much per request here as there and the two rates
-- compare the server, not the client.
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/healthz.lua http://127.0.0.1:PORT
package.path = (debug.getinfo(1, "S").source:match("@?(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

local headers = {}

function setup(thread) common.setup(thread) end

function init(args)
  headers["Authorization"] = "Bearer " .. common.key
  common.init_counts()
end

function request()
  return wrk.format("GET", "/healthz", headers, nil)
end

if common.check then
  function response(status, headers, body) common.count(status) end
end

function done(summary, latency, requests) common.report("requests") end
