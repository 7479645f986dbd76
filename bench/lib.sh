# bench/lib.sh — shared by the bench scripts (sourced, not run): paths, the
# benchmark broker, starting and stopping what a script runs, RSS, waiting for
# HTTP. Every bench process binds 127.0.0.1 only, and everything a script
# starts is stopped by its EXIT trap (bench_cleanup), so a failed or
# interrupted run leaves nothing listening. It never touches the test
# brokers: its own port (19992) and state directory (/tmp/bench-kafka).

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$bench_dir/.." && pwd)
build=${BENCH_BUILD:-$top/build-bench}
bin=$build/bin
tools=$build/tests
out=$bench_dir/out
# Debian's python3: fastapi, uvicorn and matplotlib come from apt.
py=/usr/bin/python3
export QALERT_KAFKA_PORT=${QALERT_KAFKA_PORT:-19992}
export QALERT_KAFKA_STATE=${QALERT_KAFKA_STATE:-/tmp/bench-kafka}
export QALERT_KAFKA_BROKERS=127.0.0.1:$QALERT_KAFKA_PORT
export QALERT_LOG_LEVEL=${QALERT_LOG_LEVEL:-warn}
mkdir -p "$out"
work=$(mktemp -d /tmp/qalert-bench.XXXXXX)
run_id=$(date +%s)-$$
bench_pids=()
bench_started_broker=0

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

# bench_spawn LOG CMD...: runs CMD in the background, remembers its pid in
# $spawned and in the list the EXIT trap stops.
bench_spawn() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  spawned=$!
  bench_pids+=("$spawned")
}

# bench_stop PID: SIGTERM, wait up to 10 s, then SIGKILL; only our own pids.
bench_stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local pid
  trap - EXIT INT TERM
  for pid in "${bench_pids[@]:-}"; do [ -n "$pid" ] && bench_stop "$pid"; done
  if [ "$bench_started_broker" = 1 ]; then
    "$top/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# The benchmark broker: reuse one already running on the bench port (run-all
# starts it once), else start a fresh one and stop it on exit.
bench_broker() {
  if "$top/scripts/kafka.sh" status >/dev/null 2>&1; then return 0; fi
  rm -rf "$QALERT_KAFKA_STATE"
  bench_started_broker=1
  "$top/scripts/kafka.sh" start >/dev/null || die "broker did not start"
}

bench_need() { # bench_need FILE...: built binaries and installed tools
  local f
  for f in "$@"; do
    [ -x "$f" ] || command -v "$f" >/dev/null 2>&1 ||
      die "$f missing: scripts/setup.sh --bench, then cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo && ninja -C build-bench"
  done
}

# wait_http URL [SECONDS [LOG]]: until it answers 2xx; on time-out, the
# server's LOG tail goes with the error.
wait_http() {
  local url=$1 limit=${2:-30} log=${3:-} t0
  t0=$(date +%s)
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if [ $(( $(date +%s) - t0 )) -ge "$limit" ]; then
      [ -n "$log" ] && tail -5 "$log" >&2
      die "not answering: $url"
    fi
    sleep 0.2
  done
}

rss_kib() { ps -o rss= -p "$1" | tr -d ' '; }

# metric URL NAME: sum of every sample of a Prometheus metric (0 when absent).
metric() {
  curl -fsS --max-time 2 "$1" 2>/dev/null |
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f\n", s + 0 }'
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
