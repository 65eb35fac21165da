-- wrk script: GET /healthz, the HTTP limit. The request is made per call in request(), like
-- purchase.lua's, so wrk spends about as much per request here as there and the two rates
-- compare the server, not the client.
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/healthz.lua http://127.0.0.1:PORT
package.path = (debug.getinfo(1, "S").source:match("@?(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

common.get_script(function() return "/healthz" end)
