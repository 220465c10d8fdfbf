-- wrk script for bench/loadtest.py: a mix of customers, guessers and failing orders.
-- Threads alternate between the instances; each request names its kind in X-Request-ID,
-- which the portal echoes, so every answer is checked against what its kind expects.

local instances = {}
local threads = {}
local good, failing = tonumber(os.getenv("LOADTEST_GOOD")), tonumber(os.getenv("LOADTEST_FAILING"))
local share_good = tonumber(os.getenv("LOADTEST_SHARE_GOOD"))
local share_unknown = tonumber(os.getenv("LOADTEST_SHARE_UNKNOWN"))
local expected = {good = {[200] = true}, unknown = {[404] = true, [429] = true},
                  fail = {[503] = true, [502] = true}}

function setup(thread)
  if #instances == 0 then
    for port in string.gmatch(os.getenv("LOADTEST_PORTS"), "%d+") do
      for _, addr in ipairs(wrk.lookup("127.0.0.1", port)) do
        table.insert(instances, addr)
      end
    end
  end
  table.insert(threads, thread)
  thread.addr = instances[(#threads - 1) % #instances + 1]
  thread:set("id", #threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + id)
  counter, errors, unexpected = 0, 0, {}
  answers = {good = 0, unknown = 0, fail = 0, limited = 0}
end

function request()
  counter = counter + 1
  local r, kind, token, client = math.random(), nil, nil, nil
  if r < share_good then
    kind, token = "good", string.format("good%04d", math.random(good))
    client = string.format("10.1.%d.%d", math.random(0, 9), math.random(1, 15))
  elseif r < share_good + share_unknown then
    kind, token = "unknown", string.format("guess%08x%08x", math.random(0, 2^31), counter)
    client = string.format("10.2.0.%d", math.random(1, 20))
  else
    kind, token = "fail", string.format("fail%02d", math.random(failing))
    client = string.format("10.1.%d.%d", math.random(0, 9), math.random(1, 15))
  end
  return wrk.format("GET", "/account/orders/" .. token, {
    ["X-Forwarded-For"] = client,
    ["X-Request-ID"] = string.format("%s-%d-%d", kind, id, counter),
  })
end

function response(status, headers, body)
  local kind = string.match(headers["X-Request-ID"] or "", "^(%a+)-")
  if kind == nil or not expected[kind][status] then
    errors = errors + 1
    local key = tostring(kind) .. ":" .. status
    unexpected[key] = (unexpected[key] or 0) + 1
  else
    answers[kind] = answers[kind] + 1
    if status == 429 then answers.limited = answers.limited + 1 end
  end
end

function done(summary, latency, requests)
  local errors, answers, unexpected = 0, {good = 0, unknown = 0, fail = 0, limited = 0}, {}
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("errors")
    for kind, count in pairs(thread:get("answers")) do
      answers[kind] = answers[kind] + count
    end
    for key, count in pairs(thread:get("unexpected")) do
      unexpected[key] = (unexpected[key] or 0) + count
    end
  end
  local socket = summary.errors
  io.write(string.format(
    "LOADTEST requests=%d seconds=%.1f wrong_answers=%d socket_errors=%d timeouts=%d "
      .. "p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f good=%d unknown=%d limited=%d fail=%d\n",
    summary.requests, summary.duration / 1e6, errors,
    socket.connect + socket.read + socket.write, socket.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    answers.good, answers.unknown, answers.limited, answers.fail))
  for key, count in pairs(unexpected) do
    io.write(string.format("LOADTEST unexpected %s %d\n", key, count))
  end
end
