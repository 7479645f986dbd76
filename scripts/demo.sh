#!/usr/bin/env bash
# scripts/demo.sh [--no-wait] — the whole qalert pipeline on this machine:
# a local Apache Kafka broker, qalert-ingest, qalert-processor, a notifier per
# sink and the Slack and OpsGenie emulators. It sends the fixture scenario
# (and a live conversation that breaches while you watch) through ingest,
# shows the alerts as the emulators received them, then shows that
# `qalert-replay dry-run` over the same range finds the same alerts.
# Ctrl-C stops everything it started. --no-wait (CI) exits after checking.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
wait_at_end=1; [ "${1:-}" = "--no-wait" ] && wait_at_end=0

state=${QALERT_DEMO_STATE:-$top/.demo}
export QALERT_KAFKA_PORT=${QALERT_KAFKA_PORT:-9092}
export QALERT_KAFKA_STATE=$state/kafka
export QALERT_KAFKA_BROKERS=127.0.0.1:$QALERT_KAFKA_PORT
secret=demo-hmac-secret
genie_key=demo-genie-key
ingest_port=${QALERT_DEMO_INGEST_PORT:-8080}
slack_port=${QALERT_DEMO_SLACK_PORT:-18081}
og_port=${QALERT_DEMO_OPSGENIE_PORT:-18082}
fx=$top/tests/fixtures
bin=$top/build/bin
pids=()

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }
stop_all() {
  trap - EXIT INT TERM
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  "$top/scripts/kafka.sh" stop >/dev/null 2>&1 || true
}
trap stop_all EXIT
trap 'echo; say "stopping"; exit 0' INT TERM

say "1/6 set-up and build"
"$top/scripts/setup.sh"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build >/dev/null

say "2/6 Kafka broker (fresh state in $state)"
"$top/scripts/kafka.sh" stop >/dev/null 2>&1 || true
rm -rf "$state"; mkdir -p "$state"
"$top/scripts/kafka.sh" start | tail -n 1

say "3/6 emulators, ingest, processor, notifiers (logs in $state/*.log)"
python3 tests/emulators/slack_emulator.py --port "$slack_port" >"$state/slack.log" 2>&1 & pids+=($!)
python3 tests/emulators/opsgenie_emulator.py --port "$og_port" --api-key "$genie_key" >"$state/opsgenie.log" 2>&1 & pids+=($!)
QALERT_INGEST_ADDR=127.0.0.1:$ingest_port QALERT_INGEST_HMAC_SECRETS=$secret \
  "$bin/qalert-ingest" 2>"$state/ingest.log" & pids+=($!)
QALERT_SLA_POLICY_FILE=$top/scripts/demo/policy.json QALERT_ADMIN_ADDR=127.0.0.1:9400 \
  QALERT_SL_MIN_SAMPLES=3 "$bin/qalert-processor" 2>"$state/processor.log" & pids+=($!)
QALERT_SINK=slack QALERT_ADMIN_ADDR=127.0.0.1:9401 QALERT_RETRY_DELAYS_MS=1000,2000,4000 \
  QALERT_SLACK_WEBHOOK_URL=http://127.0.0.1:$slack_port/services/T000/B000/demo \
  QALERT_SINK_RATE=20 "$bin/qalert-notifier" 2>"$state/notifier-slack.log" & pids+=($!)
QALERT_SINK=opsgenie QALERT_ADMIN_ADDR=127.0.0.1:9402 QALERT_RETRY_DELAYS_MS=1000,2000,4000 \
  QALERT_OPSGENIE_API_URL=http://127.0.0.1:$og_port QALERT_OPSGENIE_API_KEY=$genie_key \
  "$bin/qalert-notifier" 2>"$state/notifier-opsgenie.log" & pids+=($!)
for url in http://127.0.0.1:$ingest_port/readyz http://127.0.0.1:9400/readyz \
           http://127.0.0.1:9401/readyz http://127.0.0.1:9402/readyz; do
  for _ in $(seq 1 150); do curl -fsS -o /dev/null "$url" 2>/dev/null && break; sleep 0.2; done
  curl -fsS -o /dev/null "$url" || { say "not ready: $url"; tail -n 20 "$state"/*.log >&2; exit 1; }
done

post() { # endpoint file
  local sig
  sig=$(openssl dgst -sha256 -hmac "$secret" -r "$2" | cut -d' ' -f1)
  curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$ingest_port/v1/events/$1" \
    -H 'Content-Type: application/json' -H "X-Genesys-Signature: sha256=$sig" --data-binary "@$2"
}

say "4/6 sending events through ingest (HMAC-signed)"
n=0
while IFS= read -r line; do
  printf '%s' "$line" > "$state/event.json"
  code=$(post genesys "$state/event.json"); n=$((n + 1))
  [ "$code" = 202 ] || { say "ingest answered $code"; exit 1; }
done < "$fx/scenario-wait-breach.jsonl"
for f in webhook-queue-stats-low.json webhook-flat-breach.json; do
  code=$(post genesys "$fx/$f"); n=$((n + 1)); [ "$code" = 202 ] || { say "ingest answered $code for $f"; exit 1; }
done
echo "  $n historical events accepted (2025-11-23 08:00Z scenario, queue stats, a flat breach)" >&2
live_conv=de000000-1111-4000-8000-$(date +%s | tail -c 13 | tr -dc 0-9 | head -c 12)
now=$(($(date +%s%N) / 1000000))
printf '{"topicName":"v2.detail.events.conversation.%s.acd.start","version":"2","eventBody":{"eventTime":%s,"conversationId":"%s","mediaType":"VOICE","queueId":"de000000-0000-4000-8000-00000000de00"},"metadata":{"CorrelationId":"live-%s"}}' \
  "$live_conv" "$now" "$live_conv" "$live_conv" > "$state/live.json"
code=$(post genesys "$state/live.json"); [ "$code" = 202 ] || { say "ingest answered $code"; exit 1; }
echo "  a live caller is now waiting in queue 'Live demo' (threshold 5 s) and nobody answers" >&2

say "5/6 alerts as the sinks received them"
expect_og=3   # Support VOICE wait breach, Billing service level, Live demo breach
t0=$(date +%s)
while :; do
  got=$(curl -fsS "http://127.0.0.1:$og_port/_emulator/alerts" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  printf '\r  waiting for the live breach: %2ds, OpsGenie has %s of %s alerts ' "$(( $(date +%s) - t0 ))" "$got" "$expect_og" >&2
  [ "$got" -ge "$expect_og" ] && break
  [ $(( $(date +%s) - t0 )) -gt 90 ] && { echo >&2; say "timed out"; tail -n 20 "$state"/*.log >&2; exit 1; }
  sleep 0.5
done
echo >&2
python3 - "$slack_port" "$og_port" <<'PY'
import json, sys, urllib.request
slack, og = sys.argv[1], sys.argv[2]
def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
        return json.load(r)
print("  OpsGenie (by alias):")
for a in get(og, "/_emulator/alerts"):
    print(f"    {a['status']:<7} {a['alias']}  creates={a.get('creates', a.get('create_requests', '?'))}")
print("  Slack (messages in order):")
for r in get(slack, "/_emulator/requests"):
    if r.get("method") != "POST" or "/services/" not in r.get("path", ""):
        continue
    try:
        text = json.loads(r.get("body") or "{}").get("text", "")
    except ValueError:
        text = "(not JSON)"
    print(f"    {text[:110]}")
PY

say "6/6 qalert-replay dry-run over the scenario's hour: the same SLA engine, publishing nothing"
"$bin/qalert-replay" dry-run --from-time 2025-11-23T08:00:00Z --to-time 2025-11-23T09:00:00Z \
  --policy "$top/scripts/demo/policy.json" | python3 -c '
import json, sys
for line in sys.stdin:
    a = json.loads(line)
    print("    %-8s %s at %s" % (a.get("status"), a.get("groupingKey") or a.get("grouping_key"), a.get("atMs") or a.get("at")))'

if [ "$wait_at_end" = 1 ]; then
  say "pipeline running; emulators: http://127.0.0.1:$slack_port/_emulator/requests  http://127.0.0.1:$og_port/_emulator/alerts — Ctrl-C stops"
  while :; do sleep 3600; done
fi
say "demo done"
