-- post.lua with many keys: BENCH_KEYS is a comma-separated list of API keys; requests take
-- them in turn (each thread starts at its own offset), so load spreads over their accounts.
-- The requests are formatted once at start-up; request() only picks the next one.

local body_file = os.getenv("BENCH_BODY_FILE")
local f = assert(io.open(body_file, "rb"), "BENCH_BODY_FILE must name a readable file")
local body = f:read("*a")
f:close()

local keys = {}
for key in string.gmatch(os.getenv("BENCH_KEYS") or "", "[^,]+") do
  keys[#keys + 1] = key
end
assert(#keys > 0, "BENCH_KEYS must name at least one key")

local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end

local requests = {}
local next_index = 0
function init(args)
  for i, key in ipairs(keys) do
    requests[i] = wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. key,
    }, body)
  end
  next_index = (offset or 0) * 7
end

function request()
  next_index = next_index + 1
  return requests[(next_index % #requests) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
