#!/usr/bin/env bash
# bench/notifier.sh — deliveries/s into the OpsGenie emulator, qalert-notifier
# vs Prometheus Alertmanager 0.25 (its OpsGenie integration, pointed at the
# same emulator), with 1 ms and 50 ms emulated sink latency, in one run.
#
# Throughput: BENCH_NOTIFY_ALERTS (default 40000) distinct FIRING alerts,
# measured BENCH_NOTIFY_REPEAT times (default 3) per system and latency,
# the two systems alternating, and each system's median run is its figure:
# on two shared cores one run of either moves by +-20 %.
# qalert: the notifier (QALERT_SINK_RATE=1000000, the most it takes, so that the
# pace never limits it: at 10000 it did, at 10,000/s;
# QALERT_NOTIFIER_CONCURRENCY=BENCH_NOTIFY_CONCURRENCY, default 2048 (at
# 50 ms, 1024 in flight caps it near 20,000/s by Little's law):
# Alertmanager sends every group from its own goroutine, so a small cap, like
# the product's default of 4 chosen for real sinks' rate limits, would
# measure the cap, not the sender) is started and ready (group joined), then
# the alerts are produced to its topic; timed from the first produce until
# the emulator has them all. Alertmanager, likewise ready: the same number of
# alerts, each its own group (group_by queue, group_wait 0s), posted over
# its API, timed from the first post until the emulator has them all.
# Latency: 50 alerts/s for 10 s into the running system; qalert from the
# alert record's timestamp, Alertmanager from the POST, to the emulator's
# receive time. Goal >= 5x Alertmanager. Writes bench/out/notifier.json.
#
# The sink is bench/sink_emulator.c (built as $build/bench/sink_emulator), a
# C emulator of the OpsGenie API subset both senders use, with the Python
# emulator's control API (/_emulator/stats, /_emulator/requests). Not the
# Python emulator of the tests: it saturates near 1,100 requests/s, below
# what either system sends, so it would measure itself. The C one serves
# over 40,000 requests/s without delay and holds thousands of delayed answers
# at once (one event-loop thread, bench/lib/mini_http.c) for little CPU.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=${BENCH_NOTIFY_ALERTS:-40000}
repeat=${BENCH_NOTIFY_REPEAT:-3}
lat_rate=${BENCH_NOTIFY_RATE:-50}
lat_s=${BENCH_NOTIFY_SECONDS:-10}
concurrency=${BENCH_NOTIFY_CONCURRENCY:-2048}
emu_port=18099 am_port=19094 admin=127.0.0.1:19402
key=bench-genie-key
emu=http://127.0.0.1:$emu_port
tool=$bench_dir/notifier_tool.py
bench_need "$bin/qalert-notifier" "$build/bench/feed" "$build/bench/sink_emulator" \
  prometheus-alertmanager "$py"

# start_emulator LATENCY_MS: a fresh OpsGenie emulator (C, bench/sink_emulator.c)
# answering every request after that delay.
start_emulator() {
  bench_spawn "$work/emu-$1.log" "$build/bench/sink_emulator" \
    --host 127.0.0.1 --port $emu_port --api-key $key --delay-ms "$1"
  emu_pid=$spawned
  wait_http "$emu/_emulator/health" 20
}

declare -A result
# throughput_json N MS: one run's figures, as JSON.
throughput_json() {
  echo "{\"alerts\": $1, \"seconds\": $(awk -v m="$2" 'BEGIN{print m/1000}'), \"deliveries_per_s\": $(awk -v n="$1" -v m="$2" 'BEGIN{printf "%.1f", n*1000/m}'), \"steady\": $("$py" "$tool" span "$emu" "$1")}"
}

measure_qalert() { # LATENCY_MS REP: the latency run follows the first rep only
  local l=$1 rep=$2 topic=bench.notify.$1.$2.$run_id t0 ms total
  start_emulator "$l"
  "$build/bench/feed" create "$topic" 3 2>/dev/null
  QALERT_SINK=opsgenie QALERT_OPSGENIE_API_URL=$emu QALERT_OPSGENIE_API_KEY=$key \
    QALERT_TOPIC_ALERTS=$topic QALERT_GROUP_ID=bench-notify-$l-$rep-$run_id QALERT_ADMIN_ADDR=$admin \
    QALERT_SINK_RATE=1000000 QALERT_NOTIFIER_CONCURRENCY=$concurrency \
    QALERT_RETRY_DELAYS_MS=1000,2000,4000 bench_spawn "$work/notifier-$l.log" "$bin/qalert-notifier"
  local npid=$spawned
  wait_http "http://$admin/readyz" 60
  t0=$(now_ms)
  "$build/bench/feed" alerts "$topic" 0 "$n" >/dev/null 2>"$work/feed.log" ||
    { cat "$work/feed.log" >&2; die "feed failed"; }
  "$py" "$tool" wait-count "$emu" "$n" 180 >/dev/null || { tail "$work/notifier-$l.log" >&2; die "qalert: not all delivered"; }
  ms=$(( $(now_ms) - t0 ))
  result[qalert_$l]+="${result[qalert_$l]:+,}$(throughput_json "$n" "$ms")"
  if [ "$rep" != 1 ]; then bench_stop "$npid"; bench_stop "$emu_pid"; return; fi
  "$build/bench/feed" alerts "$topic" "$lat_rate" $(( lat_rate * lat_s )) >"$work/sent-q-$l.txt" 2>"$work/feed.log" ||
    { cat "$work/feed.log" >&2; die "feed failed"; }
  total=$(( n + lat_rate * lat_s ))
  "$py" "$tool" wait-count "$emu" "$total" 60 >/dev/null || die "qalert: latency alerts not all delivered"
  result[qalert_lat_$l]=$("$py" "$tool" latency "$emu" "$work/sent-q-$l.txt" qalert)
  result[qalert_rss_$l]=$(rss_kib "$npid")
  bench_stop "$npid"
  bench_stop "$emu_pid"
}

measure_am() { # LATENCY_MS REP
  local l=$1 rep=$2 t0 ms total
  start_emulator "$l"
  cat >"$work/am.yml" <<YML
route:
  receiver: opsgenie
  group_by: [queue, alarm]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opsgenie
    opsgenie_configs:
      - api_key: $key
        api_url: $emu/
        message: '{{ .CommonLabels.queue }}'
        send_resolved: false
YML
  rm -rf "$work/am-data"; mkdir -p "$work/am-data"
  bench_spawn "$work/am-$l.log" prometheus-alertmanager --config.file="$work/am.yml" \
    --storage.path="$work/am-data" --web.listen-address=127.0.0.1:$am_port --cluster.listen-address=
  local apid=$spawned
  wait_http "http://127.0.0.1:$am_port/-/ready" 30
  t0=$(now_ms)
  "$py" "$tool" am-post "http://127.0.0.1:$am_port" "$n" "thr$l-$rep"
  "$py" "$tool" wait-count "$emu" "$n" 180 >/dev/null || { tail "$work/am-$l.log" >&2; die "alertmanager: not all delivered"; }
  ms=$(( $(now_ms) - t0 ))
  result[am_$l]+="${result[am_$l]:+,}$(throughput_json "$n" "$ms")"
  if [ "$rep" != 1 ]; then bench_stop "$apid"; bench_stop "$emu_pid"; return; fi
  "$py" "$tool" am-steady "http://127.0.0.1:$am_port" "$lat_rate" "$lat_s" "lat$l" "$work/sent-am-$l.txt"
  total=$(( n + lat_rate * lat_s ))
  "$py" "$tool" wait-count "$emu" "$total" 60 >/dev/null || die "alertmanager: latency alerts not all delivered"
  result[am_lat_$l]=$("$py" "$tool" latency "$emu" "$work/sent-am-$l.txt" am)
  result[am_rss_$l]=$(rss_kib "$apid")
  bench_stop "$apid"
  bench_stop "$emu_pid"
}

say "notifier: broker"
bench_broker
for l in 1 50; do
  for rep in $(seq 1 "$repeat"); do
    say "notifier: ${l} ms sink latency, run $rep of $repeat: qalert-notifier"
    measure_qalert $l $rep
    say "notifier: ${l} ms sink latency, run $rep of $repeat: Alertmanager"
    measure_am $l $rep
  done
done

{
  echo "{\"alerts\": $n, \"repeat\": $repeat, \"concurrency\": $concurrency, \"latency_rate_per_s\": $lat_rate, \"latency_seconds\": $lat_s, \"runs\": {"
  sep=""
  for l in 1 50; do
    printf '%s"%s": {"qalert_runs": [%s], "alertmanager_runs": [%s], "qalert_latency": %s, "alertmanager_latency": %s, "qalert_rss_kib": %s, "alertmanager_rss_kib": %s}\n' \
      "$sep" "$l" "${result[qalert_$l]}" "${result[am_$l]}" "${result[qalert_lat_$l]}" \
      "${result[am_lat_$l]}" "${result[qalert_rss_$l]}" "${result[am_rss_$l]}"
    sep=","
  done
  echo "}}"
} >"$work/notifier-raw.json"

"$py" - "$work/notifier-raw.json" "$out/notifier.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
for r in res["runs"].values():  # each system's figure is its median run
    for key in ("qalert", "alertmanager"):
        runs = sorted(r[key + "_runs"], key=lambda x: x["deliveries_per_s"])
        r[key] = runs[len(runs) // 2]
print(f"\nNotifier, {res['alerts']} distinct FIRING alerts into the OpsGenie emulator "
      f"(qalert concurrency {res['concurrency']}; each system's median of {res['repeat']} runs); latency at {res['latency_rate_per_s']} alerts/s")
print(f"{'sink latency':<14}{'system':<20}{'deliv/s':>9}{'seconds':>9}{'steady/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
for l, r in res["runs"].items():
    r["ratio"] = r["qalert"]["deliveries_per_s"] / r["alertmanager"]["deliveries_per_s"]
    for name, key in (("qalert-notifier", "qalert"), ("Alertmanager 0.25", "alertmanager")):
        lat = r[key + "_latency"]
        print(f"{l + ' ms':<14}{name:<20}{r[key]['deliveries_per_s']:>9.0f}{r[key]['seconds']:>9.2f}"
              f"{r[key]['steady']['per_s'] or 0:>10.0f}{lat['p50_ms']:>9.1f}{lat['p99_ms']:>9.1f}")
    for key in ("qalert", "alertmanager"):
        print(f"{'':<14}{key} runs: " + ", ".join(f"{x['deliveries_per_s']:.0f}" for x in r[key + "_runs"]))
    r["ratio_steady"] = (r["qalert"]["steady"]["per_s"] or 0) / (r["alertmanager"]["steady"]["per_s"] or 1)
    print(f"{'':<14}ratio qalert/alertmanager {r['ratio']:.2f}x from start, "
          f"{r['ratio_steady']:.2f}x first-to-last delivery (goal >= 5x)")
res["targets"] = {f">= 5x at {l} ms": r["ratio"] >= 5 for l, r in res["runs"].items()}
json.dump(res, open(sys.argv[2], "w"), indent=2)
PY
