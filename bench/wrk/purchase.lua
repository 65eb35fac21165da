-- wrk script: single events over HTTP keep-alive (POST /v1/events/purchase, /v1/events/refund
-- and /v1/members/{id}/redemptions), every event id unique (run, wrk thread, per-thread
-- counter). The mix: 5% refunds of this thread's purchases from a while back (long answered),
-- 3% redemptions of 100 points by members who just bought, the rest purchases with Zipf-skewed
-- members and baskets of 1–20 lines. Settings: bench/wrk/common.lua.
--   wrk -t2 -c64 -d10s --latency -s bench/wrk/purchase.lua http://127.0.0.1:PORT
package.path = (debug.getinfo(1, "S").source:match("@?(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

local REFUND_SHARE = tonumber(os.getenv("LOADGEN_REFUNDS") or "0.05")
local REDEEM_SHARE = tonumber(os.getenv("LOADGEN_REDEMPTIONS") or "0.03")
local RING = 8192   -- purchases remembered for refunds
local LAG = tonumber(os.getenv("LOADGEN_REFUND_LAG") or "4096")  -- refund purchases this far back: long answered

local counter = 0
local purchases = {}      -- ring: {id, total}
local purchase_count = 0
local refund_cursor = 1
local recent_members = {} -- ring of the last 256 buyers
local headers = {}

function setup(thread) common.setup(thread) end

function init(args)
  math.randomseed(os.time() * 7919 + (thread_number or 0))
  headers["Authorization"] = "Bearer " .. common.key
  headers["Content-Type"] = "application/json"
  common.init_counts()
end

local function next_id()
  counter = counter + 1
  return string.format("%s-t%d-%d", common.run, thread_number or 0, counter)
end

local function purchase()
  local id, member = next_id(), common.member()
  local lines, total = common.lines()
  purchase_count = purchase_count + 1
  purchases[purchase_count % RING] = {id, total}
  recent_members[purchase_count % 256] = member
  local body = string.format(
    '{"event_id":"%s","member_id":"%s","store_id":"s-%d","occurred_at":"%s","currency":"CNY","lines":%s}',
    id, member, math.random(20), common.now(), lines)
  return wrk.format("POST", "/v1/events/purchase", headers, body)
end

local function refund()
  if purchase_count - LAG < 1 then return nil end
  if refund_cursor < purchase_count - RING + 1 then refund_cursor = purchase_count - RING + 1 end
  if refund_cursor > purchase_count - LAG then return nil end
  local original = purchases[refund_cursor % RING]
  refund_cursor = refund_cursor + 1
  local amount = math.random(3) == 1 and original[2]
    or math.max(1, math.floor(original[2] * math.random(10, 90) / 100))
  local body = string.format(
    '{"event_id":"%s","original_event_id":"%s","occurred_at":"%s","amount_minor":%d}',
    next_id(), original[1], common.now(), amount)
  return wrk.format("POST", "/v1/events/refund", headers, body)
end

local function redemption()
  if purchase_count < 256 then return nil end
  local member = recent_members[math.random(0, 255)]
  local body = string.format('{"redemption_id":"%s","points":100,"reward_id":"drink"}', next_id())
  return wrk.format("POST", "/v1/members/" .. member .. "/redemptions", headers, body)
end

function request()
  if common.verifying() then return wrk.format("GET", "/healthz", headers) end
  local draw = math.random()
  local made
  if draw < REFUND_SHARE then
    made = refund()
  elseif draw < REFUND_SHARE + REDEEM_SHARE then
    made = redemption()
  end
  return made or purchase()
end

if common.check then
  function response(status, headers, body) common.count(status) end
end

function done(summary, latency, requests) common.report("requests") end
