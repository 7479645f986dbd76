#!/usr/bin/env bash
# soak.sh [--minutes M | --seconds S] [--seed N] [--keep] — the end-to-end
# soak with chaos: its own Kafka broker, qalert-ingest, two processors in one
# group, both notifiers, the Slack and OpsGenie emulators, and soak_gen.py
# sending a seeded mixed stream of Genesys events for the given time, while
# this script kill -9s and restarts each daemon at seeded times, stops and
# restarts the broker once (ingest answers 503, the generator floods and
# retries), and makes each sink answer 500s, 429s with Retry-After, slow
# answers past the HTTP time-out and dropped connections for a while.
#
# Then soak_check (tests/soak/soak_check.c) compares, exactly: every 202'd
# event is in the raw topic; the committed alerts are those the processor's
# own SLA engine computes from the raw topic; OpsGenie has one alert per
# FIRING episode and alias, closed when resolved; Slack got every alert.
# At the end each daemon gets SIGTERM and must exit 0 with a clean ASan leak
# check; its RSS just before is reported.
#
# The short form (75 s) is the CTest integration.soak_short; the long form is
# run by hand: tests/soak/soak.sh --minutes 30. Exit 0 pass, 1 fail, 77 when
# QALERT_TEST_NO_BROKER=1. It must never touch another broker than its own:
# QALERT_SOAK_KAFKA_PORT (default 19892), state in QALERT_SOAK_STATE.
set -uo pipefail

[ "${QALERT_TEST_NO_BROKER:-0}" = 1 ] && { echo "QALERT_TEST_NO_BROKER=1: skipped"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
seconds=120 seed=1 keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) seconds=$(awk -v m="$2" 'BEGIN{printf "%d", m * 60}'); shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${QALERT_BIN_DIR:-$src/build/bin}
tdir=${QALERT_TEST_DIR:-$(dirname "$bin")/tests}
for b in "$bin/qalert-ingest" "$bin/qalert-processor" "$bin/qalert-notifier" "$tdir/soak_check"; do
  [ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/qalert-soak.XXXXXX")
mkdir -p "$work/logs"
export QALERT_KAFKA_PORT=${QALERT_SOAK_KAFKA_PORT:-19892}
export QALERT_KAFKA_STATE=${QALERT_SOAK_STATE:-$work/kafka}
brokers=127.0.0.1:$QALERT_KAFKA_PORT
run=soak$seed-$(date +%s)
raw=$run.raw alerts=$run.alerts state=$run.state
secret="soak-secret-$RANDOM$RANDOM"
ogkey="soak-genie-$RANDOM$RANDOM"
t_start=$(date +%s)

say() { printf '[soak %4ds] %s\n' $(( $(date +%s) - t_start )) "$*"; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_http() { # URL SECONDS
  local t=0
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    t=$((t + 1)); [ $t -gt $(( $2 * 5 )) ] && return 1; sleep 0.2
  done
}

declare -A PID PORT STOPPED RESTARTS EXITS
EMU_PIDS=()
GEN_PID=
cleanup() {
  { for d in "${!PID[@]}"; do kill -KILL "${PID[$d]}"; done
    for p in "${EMU_PIDS[@]}" $GEN_PID; do kill -KILL "$p"; done
    wait; } 2>/dev/null
  "$src/scripts/kafka.sh" stop >/dev/null 2>&1
  if [ "${result:-1}" = 0 ] && [ $keep = 0 ]; then rm -rf "$work"; else echo "soak files kept in $work"; fi
}
trap cleanup EXIT

# Daemons: ASan's leak check runs at their clean exit (SIGTERM at the end).
daemon_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  QALERT_KAFKA_BROKERS="$brokers" QALERT_TOPIC_RAW="$raw" QALERT_TOPIC_ALERTS="$alerts"
  QALERT_TOPIC_STATE="$state" QALERT_LOG_LEVEL=info QALERT_SHUTDOWN_TIMEOUT_MS=15000)
# The emulators have no rate limit; Slack's real 1 message/s would take minutes.
sink_env=(QALERT_RETRY_DELAYS_MS=500,1000,2000,4000,8000 QALERT_HTTP_TIMEOUT_MS=2000 QALERT_SINK_RATE=50)

start_daemon() { # NAME
  local d=$1 extra=()
  case $d in
    ingest) extra=(QALERT_INGEST_ADDR="127.0.0.1:${PORT[ingest]}" QALERT_INGEST_HMAC_SECRETS="$secret"
                   QALERT_INGEST_PUBLISH_TIMEOUT_MS=1500) ; cmd=("$bin/qalert-ingest") ;;
    p1|p2) extra=(QALERT_ADMIN_ADDR="127.0.0.1:${PORT[$d]}" QALERT_GROUP_ID="$run-processor"
                  QALERT_TRANSACTIONAL_ID="$run-$d" QALERT_SLA_POLICY_FILE="$work/policy.json"
                  $gen_settings) ; cmd=("$bin/qalert-processor") ;;
    og) extra=(QALERT_ADMIN_ADDR="127.0.0.1:${PORT[og]}" QALERT_SINK=opsgenie
               QALERT_OPSGENIE_API_URL="http://127.0.0.1:$OG" QALERT_OPSGENIE_API_KEY="$ogkey"
               "${sink_env[@]}") ; cmd=("$bin/qalert-notifier") ;;
    sl) extra=(QALERT_ADMIN_ADDR="127.0.0.1:${PORT[sl]}" QALERT_SINK=slack
               QALERT_SLACK_WEBHOOK_URL="http://127.0.0.1:$SL/services/T0SOAK/B0SOAK/$secret"
               "${sink_env[@]}") ; cmd=("$bin/qalert-notifier") ;;
  esac
  echo "=== start $(date +%T.%N)" >>"$work/logs/$d.log"
  env "${daemon_env[@]}" "${extra[@]}" "${cmd[@]}" >>"$work/logs/$d.log" 2>&1 &
  PID[$d]=$!
  STOPPED[$d]=0
}

health_url() { echo "http://127.0.0.1:${PORT[$1]}/healthz"; }

# A daemon that died without being told to is restarted (as an orchestrator
# would) and counted; its exit status is kept for the report.
supervise() {
  for d in ingest p1 p2 og sl; do
    [ "${STOPPED[$d]}" = 1 ] && continue
    if ! kill -0 "${PID[$d]}" 2>/dev/null; then
      wait "${PID[$d]}" 2>/dev/null; local rc=$?
      EXITS[$d]="${EXITS[$d]:-}$rc "
      say "$d exited by itself (status $rc): restarting"
      start_daemon "$d"
    fi
  done
}

chaos() { # ACTION ARG
  case $1 in
    kill)
      say "chaos: kill -9 $2"
      kill -KILL "${PID[$2]}" 2>/dev/null; wait "${PID[$2]}" 2>/dev/null
      RESTARTS[$2]=$(( ${RESTARTS[$2]:-0} + 1 )); STOPPED[$2]=1 ;;
    restart) say "chaos: restart $2"; start_daemon "$2" ;;
    broker-stop) say "chaos: broker stop"; "$src/scripts/kafka.sh" stop >>"$work/logs/broker.out" 2>&1 ;;
    broker-start)
      say "chaos: broker start"
      "$src/scripts/kafka.sh" start >>"$work/logs/broker.out" 2>&1 || say "broker did not restart" ;;
    fault)
      local port=$OG; [ "${2%%:*}" = sl ] && port=$SL
      say "chaos: ${2%%:*} fault ${2#*:}"
      curl -fsS -X POST -d "${2#*:}" "http://127.0.0.1:$port/_emulator/faults" >/dev/null ;;
  esac
}

# --- set-up ------------------------------------------------------------------
"$src/scripts/kafka.sh" stop >/dev/null 2>&1
[ -z "${QALERT_SOAK_STATE:-}" ] || rm -rf "$QALERT_KAFKA_STATE"
say "broker on $brokers (state $QALERT_KAFKA_STATE)"
"$src/scripts/kafka.sh" start >"$work/logs/broker.out" 2>&1 || { cat "$work/logs/broker.out"; exit 1; }
python3 "$here/soak_gen.py" policy --seed "$seed" --out "$work/policy.json"
gen_settings=$(python3 "$here/soak_gen.py" settings)
for e in slack opsgenie; do
  args=(); [ $e = opsgenie ] && args=(--api-key "$ogkey")
  python3 "$src/tests/emulators/${e}_emulator.py" --host 127.0.0.1 --port 0 "${args[@]}" \
    >"$work/$e.out" 2>>"$work/logs/$e-emulator.log" &
  EMU_PIDS+=($!)
done
for e in slack opsgenie; do
  for _ in $(seq 100); do grep -q LISTENING "$work/$e.out" 2>/dev/null && break; sleep 0.1; done
done
SL=$(awk '/LISTENING/ {print $2; exit}' "$work/slack.out")
OG=$(awk '/LISTENING/ {print $2; exit}' "$work/opsgenie.out")
[ -n "$SL" ] && [ -n "$OG" ] || { echo "emulators did not start" >&2; exit 1; }
for d in ingest p1 p2 og sl; do PORT[$d]=$(free_port); RESTARTS[$d]=0; done
for d in ingest p1 p2 og sl; do start_daemon "$d"; done
for d in ingest p1 p2 og sl; do
  wait_http "$(health_url "$d")" 60 || { tail -n 20 "$work/logs/$d.log"; echo "$d did not start" >&2; exit 1; }
done
wait_http "http://127.0.0.1:${PORT[ingest]}/readyz" 60 || { echo "ingest not ready" >&2; exit 1; }
say "pipeline up (ingest :${PORT[ingest]}, processors :${PORT[p1]} :${PORT[p2]}, notifiers :${PORT[og]} :${PORT[sl]}, emulators og :$OG slack :$SL)"

# --- the seeded chaos schedule: "offset action arg", offsets in seconds --------
python3 - "$seed" "$seconds" >"$work/chaos.plan" <<'EOF'
import random, sys
seed, total = int(sys.argv[1]), float(sys.argv[2])
r = random.Random(seed * 104729 + 3)
plan = []
b0 = total * r.uniform(0.35, 0.5)            # broker stop, 8 s down
plan += [(b0, "broker-stop", "-"), (b0 + 8, "broker-start", "-")]
busy = [(b0 - 4, b0 + 30)]                   # kills stay clear of the outage
def slot(lo, hi):
    for _ in range(1000):
        t = r.uniform(lo, hi)
        if all(not (a <= t <= b) for a, b in busy):
            busy.append((t - 3, t + 6))
            return t
    return r.uniform(lo, hi)
rounds = max(1, int(total // 150))
for _ in range(rounds):
    for d in ("ingest", "p1", "p2", "og", "sl"):
        t = slot(total * 0.08, total * 0.85)
        plan += [(t, "kill", d), (t + r.uniform(0.5, 3), "restart", d)]
    for s in ("og", "sl"):
        for f in ('{"status": 500, "count": 3}',
                  '{"status": 429, "retry_after": 2, "count": 2}',
                  '{"delay_ms": 3000, "count": 2}',
                  '{"drop": true, "count": 2}'):
            plan.append((r.uniform(total * 0.05, total * 0.9), "fault", s + ":" + f))
for t, a, x in sorted(plan, key=lambda p: p[0]):
    print("%.1f %s %s" % (t, a, x))
EOF

# --- run ---------------------------------------------------------------------
: >"$work/accepted.jsonl"
python3 "$here/soak_gen.py" run --url "http://127.0.0.1:${PORT[ingest]}" --secret "$secret" \
  --seed "$seed" --seconds "$seconds" --bad-dir "$src/tests/fixtures/bad" \
  --accepted "$work/accepted.jsonl" --stats "$work/gen.json" >"$work/logs/gen.out" 2>"$work/logs/gen.err" &
GEN_PID=$!
say "generator running for ${seconds}s (seed $seed)"
t0=$(date +%s.%N)
mapfile -t plan <"$work/chaos.plan"
next=0
while kill -0 "$GEN_PID" 2>/dev/null; do
  now=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a - b}')
  while [ $next -lt ${#plan[@]} ]; do
    read -r at act arg <<<"${plan[$next]}"
    awk -v n="$now" -v a="$at" 'BEGIN{exit !(n >= a)}' || break
    chaos "$act" "$arg"; next=$((next + 1))
  done
  supervise
  sleep 0.3
done
while [ $next -lt ${#plan[@]} ]; do read -r at act arg <<<"${plan[$next]}"; chaos "$act" "$arg"; next=$((next + 1)); done
wait "$GEN_PID"; gen_rc=$?; GEN_PID=
say "generator done (status $gen_rc): $(tr -d '\n' <"$work/gen.json" | head -c 400)"

# --- drain: until the checker passes or the deadline -----------------------------
check() { # [--quiet]
  curl -fsS "http://127.0.0.1:$OG/_emulator/alerts" >"$work/og-alerts.json" &&
  curl -fsS "http://127.0.0.1:$OG/_emulator/requests" >"$work/og-requests.json" &&
  curl -fsS "http://127.0.0.1:$SL/_emulator/requests" >"$work/slack-requests.json" || return 1
  # shellcheck disable=SC2086
  "$tdir/soak_check" --brokers "$brokers" --raw "$raw" --alerts "$alerts" \
    --accepted "$work/accepted.jsonl" --policy "$work/policy.json" \
    --og-alerts "$work/og-alerts.json" --og-requests "$work/og-requests.json" \
    --slack-requests "$work/slack-requests.json" --report "$work/report.md" \
    $(echo "$gen_settings" | sed -E 's/QALERT_([A-Z_]+)=/--\1 /g' | tr 'A-Z_' 'a-z-') "$@" \
    2>>"$work/logs/check.err"
}
drain_deadline=$(( $(date +%s) + ${QALERT_SOAK_DRAIN_S:-90} ))
until check --quiet; do
  supervise
  [ "$(date +%s)" -ge $drain_deadline ] && { say "drain deadline reached"; break; }
  sleep 3
done
say "drained"

# --- memory, then SIGTERM: exit 0 and a clean leak check --------------------------
declare -A RSS RC
for d in ingest p1 p2 og sl; do
  RSS[$d]=$(awk '/^VmRSS/ {print $2 " kB"}' "/proc/${PID[$d]}/status" 2>/dev/null || echo "?")
done
for d in ingest og sl p1 p2; do
  STOPPED[$d]=1
  kill -TERM "${PID[$d]}" 2>/dev/null
  wait "${PID[$d]}"; RC[$d]=$?
done
fail=0
{
  echo "| daemon | RSS before SIGTERM | kill -9 | exited by itself (status) | SIGTERM exit | sanitizer reports |"
  echo "|---|---|---|---|---|---|"
  for d in ingest p1 p2 og sl; do
    san=$(grep -c -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$work/logs/$d.log")
    echo "| $d | ${RSS[$d]} | ${RESTARTS[$d]} | ${EXITS[$d]:-none} | ${RC[$d]} | $san |"
    { [ "${RC[$d]}" = 0 ] && [ "$san" = 0 ]; } || fail=1
  done
} >"$work/daemons.md"

: >"$work/logs/check.err"
check || fail=1
echo
cat "$work/daemons.md"
echo
echo "generator: $(tr -d '\n ' <"$work/gen.json")"
echo "chaos: $(grep -c . "$work/chaos.plan") actions (seed $seed):"; sed 's/^/  /' "$work/chaos.plan"
[ "$gen_rc" = 0 ] || { echo "generator failed: $(tail -n 5 "$work/logs/gen.err")"; fail=1; }
if [ -s "$work/logs/check.err" ]; then echo "checker notes:"; sort "$work/logs/check.err" | uniq -c | sort -rn | head -n 20; fi
if [ $fail = 0 ]; then say "PASS"; result=0; else say "FAIL (logs in $work/logs)"; result=1; fi
exit $result
