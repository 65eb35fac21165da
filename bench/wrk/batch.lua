-- wrk script: POST /v1/events:batch with LOADGEN_BATCH (default 100) events per request as
-- NDJSON: purchases with every event id unique (run, wrk thread, per-thread counter), Zipf-
-- skewed members, baskets of 1–20 lines, and 5% refunds of this thread's purchases from a
-- while back. Events/s = requests/s × LOADGEN_BATCH. With WRK_CHECK set, every item's status
-- is counted. Settings: bench/wrk/common.lua.
--   wrk -t2 -c16 -d10s --latency -s bench/wrk/batch.lua http://127.0.0.1:PORT
package.path = (debug.getinfo(1, "S").source:match("@?(.*/)") or "./") .. "?.lua;" .. package.path
local common = require("common")

local BATCH = tonumber(os.getenv("LOADGEN_BATCH") or "100")
local REFUND_SHARE = tonumber(os.getenv("LOADGEN_REFUNDS") or "0.05")
local RING = 8192
local LAG = tonumber(os.getenv("LOADGEN_REFUND_LAG") or "4096")  -- as purchase.lua

local counter = 0
local purchases = {}
local purchase_count = 0
local refund_cursor = 1
local headers = {}

function setup(thread) common.setup(thread) end

function init(args)
  math.randomseed(os.time() * 104729 + (thread_number or 0))
  headers["Authorization"] = "Bearer " .. common.key
  headers["Content-Type"] = "application/x-ndjson"
  common.init_counts()
end

local function next_id()
  counter = counter + 1
  return string.format("%s-b%d-%d", common.run, thread_number or 0, counter)
end

local function purchase(at)
  local id, member = next_id(), common.member()
  local lines, total = common.lines()
  purchase_count = purchase_count + 1
  purchases[purchase_count % RING] = {id, total}
  return string.format(
    '{"type":"purchase","event_id":"%s","member_id":"%s","store_id":"s-%d","occurred_at":"%s","currency":"CNY","lines":%s}',
    id, member, math.random(20), at, lines)
end

local function refund(at)
  if purchase_count - LAG < 1 then return nil end
  if refund_cursor < purchase_count - RING + 1 then refund_cursor = purchase_count - RING + 1 end
  if refund_cursor > purchase_count - LAG then return nil end
  local original = purchases[refund_cursor % RING]
  refund_cursor = refund_cursor + 1
  local amount = math.random(3) == 1 and original[2]
    or math.max(1, math.floor(original[2] * math.random(10, 90) / 100))
  return string.format(
    '{"type":"refund","event_id":"%s","original_event_id":"%s","occurred_at":"%s","amount_minor":%d}',
    next_id(), original[1], at, amount)
end

function request()
  if common.verifying() then return wrk.format("GET", "/healthz", headers) end
  local at = common.now()
  local items = {}
  for i = 1, BATCH do
    items[i] = (math.random() < REFUND_SHARE and refund(at)) or purchase(at)
  end
  return wrk.format("POST", "/v1/events:batch", headers, table.concat(items, "\n"))
end

if common.check then
  -- Each result carries its endpoint's "status"; a batch that failed as a whole counts BATCH.
  function response(status, headers, body)
    if status ~= 200 then
      for _ = 1, BATCH do common.count(status) end
      return
    end
    for item_status in body:gmatch('"status":(%d+)') do common.count(item_status) end
  end
end

function done(summary, latency, requests) common.report("items") end
