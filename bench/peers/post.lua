-- wrk script of bench/peers.sh: POST the body in the file $PEERS_BODY with
-- the API key in $PEERS_KEY, and print one line of key=value pairs that
-- bench/peers parses (latency in microseconds, as wrk records it).
local f = assert(io.open(os.getenv("PEERS_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("PEERS_KEY")

function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format("wrk calls=%d elapsed=%.3f rate=%.1f p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), errors))
end
