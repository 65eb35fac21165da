-- wrk script: GET /v1/members/{id} of populated members, chosen Zipf-skewed like the events.
-- Reads go to RocksDB on the I/O threads and take no writer's lock, so they spread over every
-- core the server has (run_all.py reports the cores loyaltyd used meanwhile).
--   LOADGEN_MEMBERS=20000 wrk -t2 -c64 -d10s --latency -s bench/wrk/member.lua http://127.0.0.1:PORT
package.path = (debug.getinfo(1, "S").source:match("@?(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

common.get_script(function() return "/v1/members/" .. common.member() end)
