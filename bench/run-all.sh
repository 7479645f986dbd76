#!/usr/bin/env bash
# bench/run-all.sh — the three benchmarks in one go on one broker (ingest,
# processor, notifier), then bench/REPORT.md and bench/latency.png from
# their bench/out/*.json (bench/report.py). About 6 minutes on 2 cores;
# bench/out/ is scratch, REPORT.md and latency.png are what gets committed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bench_need wrk prometheus-alertmanager "$bin/qalert-ingest" "$bin/qalert-processor" \
  "$bin/qalert-notifier" "$build/bench/feed" "$build/bench/consume_decode" "$tools/raw_publish"
t0=$(date +%s)
say "run-all: broker (shared by the three benchmarks)"
bench_broker
for b in ingest processor notifier; do
  say "run-all: $b"
  "$bench_dir/$b.sh" | tee "$out/$b.txt"
done
"$py" "$bench_dir/report.py" "$out" "$bench_dir/REPORT.md" "$bench_dir/latency.png" "$build"
say "run-all: done in $(( $(date +%s) - t0 )) s; see bench/REPORT.md and bench/latency.png"
