#!/usr/bin/env bash
# bench/processor.sh — qalert-processor on the real broker, three figures:
#  1. throughput: BENCH_PROC_EVENTS (default 200,000) raw events published
#     first (raw_publish --gen: acd.start/acd.end pairs, half of them
#     breaching), then the processor timed from start until its
#     qalert_processor_events_total reaches N, vs bench/consume_decode
#     (librdkafka consume + codec_decode_raw_event, read_committed, a fresh
#     group) on the same topic in the same run; goal >= 50 %;
#  2. event-to-alert latency: acd.start events at 500/s with wall-clock event
#     times, each on its own queue, threshold 2 s: latency = the alert
#     record's timestamp - (event time + threshold);
#  3. RSS with 100,000 conversations open (acd.start, no end).
# Prints a table and writes bench/out/processor.json. Topics, groups and
# transactional ids are new per run, so runs never see each other's data.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=${BENCH_PROC_EVENTS:-200000}
rate=${BENCH_PROC_RATE:-500}
feed_s=${BENCH_PROC_FEED_SECONDS:-10}
open_n=${BENCH_PROC_OPEN:-100000}
threshold_ms=2000
admin=127.0.0.1:19400
bench_need "$bin/qalert-processor" "$bin/qalert-replay" "$tools/raw_publish" \
  "$build/bench/consume_decode" "$build/bench/feed"

# start_processor NAME RAW_TOPIC POLICY: a processor with its own topics,
# group and transactional id; sets $proc_pid, waits for /healthz.
start_processor() {
  QALERT_TOPIC_RAW=$2 QALERT_TOPIC_ALERTS=bench.$1.alerts.$run_id \
    QALERT_TOPIC_STATE=bench.$1.state.$run_id QALERT_GROUP_ID=bench-$1-$run_id \
    QALERT_TRANSACTIONAL_ID=bench-$1-$run_id QALERT_ADMIN_ADDR=$admin \
    QALERT_SLA_POLICY_FILE=$3 bench_spawn "$work/$1.log" "$bin/qalert-processor"
  proc_pid=$spawned
}

# wait_events N LIMIT_S: polls the processor's counter every 50 ms; prints
# "<ms to first event> <ms to N>" counted from now.
wait_events() {
  local t0 first=-1 got
  t0=$(now_ms)
  while :; do
    got=$(metric "http://$admin/metrics" qalert_processor_events_total)
    [ "$first" -lt 0 ] && [ "${got:-0}" -gt 0 ] && first=$(( $(now_ms) - t0 ))
    [ "${got:-0}" -ge "$1" ] && break
    if [ $(( $(now_ms) - t0 )) -gt $(( $2 * 1000 )) ]; then
      tail -n 5 "$work"/*.log >&2; die "processor at $got of $1 events after $2 s"
    fi
    kill -0 "$proc_pid" 2>/dev/null || { tail -n 20 "$work"/*.log >&2; die "processor exited"; }
    sleep 0.05
  done
  echo "$first $(( $(now_ms) - t0 ))"
}

policy_short=$work/policy-short.json
policy_long=$work/policy-long.json
echo "{\"default\":{\"durationMs\":$threshold_ms,\"percentage\":0.8},\"queues\":{}}" >"$policy_short"
echo '{"default":{"durationMs":3600000,"percentage":0.8},"queues":{}}' >"$policy_long"

say "processor: broker"
bench_broker

say "processor: publishing $n raw events"
raw=bench.proc.raw.$run_id
"$build/bench/feed" create "$raw" 3
"$tools/raw_publish" --gen "$n" "$raw" 2>"$work/publish.log" || { cat "$work/publish.log" >&2; die "raw_publish failed"; }

say "processor: consume-and-decode ceiling"
"$build/bench/consume_decode" "$raw" "$n" >"$work/cd.json" 2>"$work/cd.log" ||
  { cat "$work/cd.log" >&2; die "consume_decode failed"; }

say "processor: qalert-processor over the same $n events"
t0=$(now_ms)
cp "$top/tests/fixtures/policy.json" "$work/policy-fixture.json"
start_processor thr "$raw" "$work/policy-fixture.json"
w=$(wait_events "$n" 180) || exit 1
read -r first done_ms <<<"$w"
off=$(( $(now_ms) - t0 - done_ms ))  # from spawn to the first poll
proc_total=$(( done_ms + off )); proc_first=$(( first + off ))
rss_thr=$(rss_kib "$proc_pid")
emitted=$(metric "http://$admin/metrics" qalert_alerts_emitted_total)
txns=$(metric "http://$admin/metrics" qalert_processor_transactions_total)
bench_stop "$proc_pid"

say "processor: latency, $rate acd.start/s for ${feed_s}s, threshold ${threshold_ms} ms"
lat=bench.proc.lat.$run_id
"$build/bench/feed" create "$lat" 3
start_processor lat "$lat" "$policy_short"
wait_http "http://$admin/readyz" 60
rss_idle=$(rss_kib "$proc_pid")
count=$(( rate * feed_s ))
"$build/bench/feed" raw "$lat" "$rate" "$count" 0 >"$work/fed.txt" 2>"$work/feed.log" ||
  { cat "$work/feed.log" >&2; die "feed failed"; }
# the last events breach after the feed ends: wait for their alerts too
for _ in $(seq 1 $(( (threshold_ms / 1000 + 10) * 10 ))); do
  [ "$(metric "http://$admin/metrics" qalert_alerts_emitted_total)" -ge "$count" ] && break
  sleep 0.1
done
# emitted counts alerts as they are produced; the last transaction commits
# up to QALERT_COMMIT_INTERVAL_MS later, and read_committed readers see them
# only then: read until every FIRING is there (or 10 s).
for _ in $(seq 1 20); do
  "$bin/qalert-replay" print "bench.lat.alerts.$run_id" >"$work/alerts.jsonl" 2>"$work/replay.log" ||
    { cat "$work/replay.log" >&2; die "qalert-replay print failed"; }
  [ "$(grep -c '"qalert-status":"FIRING"' "$work/alerts.jsonl")" -ge "$count" ] && break
  sleep 0.5
done
bench_stop "$proc_pid"

say "processor: RSS with $open_n conversations open"
opn=bench.proc.open.$run_id
"$build/bench/feed" create "$opn" 3
"$build/bench/feed" raw "$opn" 0 "$open_n" 3 >/dev/null 2>"$work/feed-open.log" ||
  { cat "$work/feed-open.log" >&2; die "feed failed"; }
start_processor open "$opn" "$policy_long"
wait_events "$open_n" 120 >/dev/null || exit 1
sleep 1
rss_open=$(rss_kib "$proc_pid")
bench_stop "$proc_pid"

"$py" - "$work" "$out/processor.json" "$n" "$proc_total" "$proc_first" "$rss_thr" "$emitted" \
  "$txns" "$rate" "$feed_s" "$threshold_ms" "$rss_idle" "$rss_open" "$open_n" <<'PY'
import json, statistics, sys
work, dest = sys.argv[1], sys.argv[2]
(n, total_ms, first_ms, rss_thr, emitted, txns, rate, feed_s, thr, rss_idle, rss_open,
 open_n) = (int(x) for x in sys.argv[3:15])
cd = json.load(open(f"{work}/cd.json"))
proc = {"events": n, "seconds": total_ms / 1000, "events_per_s": n / (total_ms / 1000),
        "seconds_after_first": (total_ms - first_ms) / 1000,
        "events_per_s_after_first": n / max(0.001, (total_ms - first_ms) / 1000),
        "alerts_emitted": emitted, "transactions": txns, "rss_mib": rss_thr / 1024}
fed = {}
for line in open(f"{work}/fed.txt"):
    q, t = line.split()
    fed[q] = int(t)
feed_end = max(fed.values())
lat_all, lat_stream, firing = [], [], 0
for line in open(f"{work}/alerts.jsonl"):
    r = json.loads(line)
    if r["headers"].get("qalert-status") != "FIRING":
        continue
    firing += 1
    q = r["key"].split(":")[0]
    if q not in fed:
        continue
    due = fed[q] + thr
    ms = r["timestamp"] - due
    lat_all.append(ms)
    if due <= feed_end:  # due while events still flowed (not by idle advance)
        lat_stream.append(ms)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else None
latency = {"rate_per_s": rate, "seconds": feed_s, "threshold_ms": thr, "events": len(fed),
           "firing_alerts": firing, "measured": len(lat_stream),
           "p50_ms": pct(lat_stream, 50), "p90_ms": pct(lat_stream, 90),
           "p99_ms": pct(lat_stream, 99), "max_ms": max(lat_stream) if lat_stream else None,
           "all_p50_ms": pct(lat_all, 50), "all_p99_ms": pct(lat_all, 99),
           "percentiles": {str(p): pct(lat_stream, p) for p in (50, 75, 90, 95, 99)}}
res = {"throughput": {"qalert": proc, "consume_decode": cd,
                      "ratio": proc["events_per_s"] / cd["events_per_s"],
                      "ratio_after_first": proc["events_per_s_after_first"] / cd["events_per_s_after_first"]},
       "latency": latency,
       "rss_mib": {"idle": rss_idle / 1024, "after_throughput": rss_thr / 1024,
                   "open_conversations": open_n, "with_open": rss_open / 1024}}
res["targets"] = {">= 50 % of consume-and-decode": res["throughput"]["ratio"] >= 0.5,
                  "every event breached": firing == len(fed)}
json.dump(res, open(dest, "w"), indent=2)
t = res["throughput"]
print(f"\nProcessor, {n} raw events already on a 3-partition topic")
print(f"{'system':<32}{'events/s':>10}{'seconds':>9}{'steady ev/s':>13}")
print(f"{'qalert-processor':<32}{proc['events_per_s']:>10.0f}{proc['seconds']:>9.2f}{proc['events_per_s_after_first']:>13.0f}")
print(f"{'consume + decode (librdkafka)':<32}{cd['events_per_s']:>10.0f}{cd['seconds']:>9.2f}{cd['events_per_s_after_first']:>13.0f}")
print(f"ratio qalert/consume-decode {t['ratio']*100:.0f} % from start, {t['ratio_after_first']*100:.0f} % "
      f"after the first event (goal >= 50 %); {emitted} alerts in {txns} transactions")
print(f"event-to-alert latency at {rate}/s, threshold {thr} ms: p50 {latency['p50_ms']} ms, "
      f"p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms ({len(lat_stream)} alerts; "
      f"{firing} FIRING for {len(fed)} events)")
print(f"RSS: {rss_idle/1024:.1f} MiB idle, {rss_thr/1024:.1f} MiB after the throughput run, "
      f"{rss_open/1024:.1f} MiB with {open_n} conversations open")
PY
