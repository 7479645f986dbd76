-- wrk_post.lua — wrk script for bench/ingest.sh: POSTs one fixed body, signed
-- once (the body never changes, so one HMAC-SHA256 is the signature of every
-- request), and writes wrk's figures as JSON for the report.
--
-- Environment: BENCH_BODY_FILE (the body), BENCH_SIGNATURE (X-Genesys-Signature value; omitted when empty),
-- BENCH_OUT (JSON file written by done()), BENCH_LABEL (name in that file).
-- It never changes the body between requests, so what is measured is the
-- receiver, not the client's signing.

local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local sig = os.getenv("BENCH_SIGNATURE") or ""
if sig ~= "" then
  wrk.headers["X-Genesys-Signature"] = sig
end

function done(summary, latency, requests)
  local out = os.getenv("BENCH_OUT")
  if not out or out == "" then return end
  local e = summary.errors
  local secs = summary.duration / 1e6
  local o = assert(io.open(out, "w"))
  o:write(string.format(
    '{"label":"%s","requests":%d,"seconds":%.3f,"rps":%.1f,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"non2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"body_bytes":%d}\n',
    os.getenv("BENCH_LABEL") or "", summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect, e.read, e.write, e.timeout, #wrk.body))
  o:close()
end
