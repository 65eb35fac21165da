-- wrk script: GET /v1/members/{id} of populated members, chosen Zipf-skewed like the events.
-- Reads go to RocksDB on the I/O threads and take no writer's lock, so they spread over every
-- core the server has (run_all.py reports the cores loyaltyd used meanwhile).
--   LOADGEN_MEMBERS=20000 wrk -t2 -c64 -d10s --latency -s bench/wrk/member.lua http://127.0.0.1:PORT
package.path = (debug.getinfo(1, "S").source:match("@?(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

local headers = {}

function setup(thread) common.setup(thread) end

function init(args)
  headers["Authorization"] = "Bearer " .. common.key
  common.init_counts()
end

function request()
  return wrk.format("GET", "/v1/members/" .. common.member(), headers, nil)
end

if common.check then
  function response(status, headers, body) common.count(status) end
end

function done(summary, latency, requests) common.report("requests") end
