-- Shared by the wrk scripts of bench/: settings from the environment, the Zipf choice of a
-- member and the basket, as bench/loadgen makes them (bench/loadgen/workload.cpp).
--   LOADGEN_MEMBERS  populated members m-0 … m-(N-1) (default 1000000)
--   LOADGEN_SKEW     Zipf exponent of member activity (default 0.99)
--   LOADGEN_RUN      prefix of every id this run makes (default: the start time)
--   LOADGEN_KEY      the API key (default the development POS key)
--   LOADGEN_REFUND_LAG  refunds name purchases this many back (default 4096: long answered)
--   WRK_CHECK        when set, responses are read and counted (costs wrk time)
local M = {}

M.members = tonumber(os.getenv("LOADGEN_MEMBERS") or "1000000")
M.skew = tonumber(os.getenv("LOADGEN_SKEW") or "0.99")
M.run = os.getenv("LOADGEN_RUN") or ("w" .. os.time())
M.key = os.getenv("LOADGEN_KEY") or "loyalty-dev-pos-key"
M.check = os.getenv("WRK_CHECK") ~= nil

-- Inverse of the integral of x^-skew on [1, members + 1), floored (as ZipfSampler).
local function integral(x)
  if math.abs(M.skew - 1) < 1e-9 then return math.log(x) end
  return x ^ (1 - M.skew) / (1 - M.skew)
end
local function inverse(y)
  if math.abs(M.skew - 1) < 1e-9 then return math.exp(y) end
  return (y * (1 - M.skew)) ^ (1 / (1 - M.skew))
end
local low, high = integral(1), integral(M.members + 1)

function M.member()
  local rank = math.floor(inverse(low + (high - low) * math.random())) - 1
  if rank < 0 then rank = 0 end
  if rank >= M.members then rank = M.members - 1 end
  return "m-" .. rank
end

local categories = {
  {"beverage", 1200, 4200}, {"food", 800, 6800}, {"merch", 5000, 30000},
  {"gift-card", 10000, 50000},
}

-- 60% of baskets have 1–3 lines, 30% 4–10, 10% 11–20.
local function basket_size()
  local draw = math.random(10)
  if draw <= 6 then return math.random(1, 3) end
  if draw <= 9 then return math.random(4, 10) end
  return math.random(11, 20)
end

-- The JSON "lines" array and the basket's total.
function M.lines()
  local parts, total = {}, 0
  for i = 1, basket_size() do
    local sku = math.min(math.floor(math.exp(math.random() * math.log(201))) - 1, 199)
    local category = sku == 0 and categories[1] or categories[sku % 4 + 1]
    local price = category[2] + (sku * 7919) % (category[3] - category[2])
    local quantity = math.random(3) == 1 and math.random(1, 3) or 1
    local name = sku == 0 and "latte-l" or ("sku-" .. sku)
    total = total + price * quantity
    parts[i] = string.format(
      '{"sku":"%s","category":"%s","quantity":%d,"amount_minor":%d}',
      name, category[1], quantity, price * quantity)
  end
  return "[" .. table.concat(parts, ",") .. "]", total
end

function M.now()
  return os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 1)
end

-- Per-thread state: wrk runs each thread in its own Lua state; setup() numbers them so ids
-- stay unique across threads.
M.threads = {}
function M.setup(thread)
  thread:set("thread_number", #M.threads)
  table.insert(M.threads, thread)
end

-- wrk calls the first thread's request() once before the run to see what a request looks
-- like and throws that request away; ids made there would never reach the server (and a later
-- refund of such a "purchase" would answer 404). True for that one call.
local calls = 0
function M.verifying()
  calls = calls + 1
  return calls == 1 and thread_number == 0
end

-- With WRK_CHECK: counts one answer (a response, or a batch item) by its status, in the
-- calling thread's Lua state.
function M.count(status)
  local code = tonumber(status)
  if code >= 200 and code < 300 then
    checked_ok = checked_ok + 1
  else
    checked_failed = checked_failed + 1
    checked_codes[code] = (checked_codes[code] or 0) + 1
  end
end

function M.init_counts()
  checked_ok, checked_failed, checked_codes = 0, 0, {}
end

-- done(): with WRK_CHECK, prints the sums over the threads, failures by status.
function M.report(label)
  if not M.check then return end
  local ok, failed, codes = 0, 0, {}
  for _, thread in ipairs(M.threads) do
    ok = ok + (thread:get("checked_ok") or 0)
    failed = failed + (thread:get("checked_failed") or 0)
    for code, count in pairs(thread:get("checked_codes") or {}) do
      codes[code] = (codes[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(codes) do parts[#parts + 1] = code .. "=" .. count end
  io.write(string.format("wrk-check %s ok=%d failed=%d %s\n", label, ok, failed,
                         table.concat(parts, " ")))
end

-- Makes the calling script one that GETs path() on every request with the API key: wrk's
-- callbacks are globals, so they are set here for the scripts that differ only in the path.
function M.get_script(path)
  local headers = {}
  setup = function(thread) M.setup(thread) end
  init = function(args)
    headers["Authorization"] = "Bearer " .. M.key
    M.init_counts()
  end
  request = function() return wrk.format("GET", path(), headers, nil) end
  if M.check then
    response = function(status, headers, body) M.count(status) end
  end
  done = function(summary, latency, requests) M.report("requests") end
end

return M
