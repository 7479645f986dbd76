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
  "$bin/qalert-processor" 2>"$state/processor.log" & pids+=($!)
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
range_start=$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)
n=0
while IFS= read -r line; do
  printf '%s' "$line" > "$state/event.json"
  code=$(post genesys "$state/event.json"); n=$((n + 1))
  [ "$code" = 202 ] || { say "ingest answered $code"; exit 1; }
done < "$fx/scenario-wait-breach.jsonl"
for f in webhook-queue-stats-low.json webhook-flat-breach.json; do
  code=$(post genesys "$fx/$f"); n=$((n + 1)); [ "$code" = 202 ] || { say "ingest answered $code for $f"; exit 1; }
done
echo "  $n historical events accepted (the 2025-11-23 08:00Z scenario, queue stats, a flat breach)" >&2
live_queue=de000000-0000-4000-8000-00000000de00
live_conv=de000000-1111-4000-8000-$(printf '%012d' $(( $(date +%s) % 1000000000000 )))
live_event() { # start|end epoch-ms
  local outcome=""; [ "$1" = end ] && outcome=',"acdOutcome":"ANSWERED"'
  printf '{"topicName":"v2.detail.events.conversation.%s.acd.%s","version":"2","eventBody":{"eventTime":%s,"conversationId":"%s","mediaType":"VOICE","queueId":"%s"%s},"metadata":{"CorrelationId":"live-%s-%s"}}' \
    "$live_conv" "$1" "$2" "$live_conv" "$live_queue" "$outcome" "$live_conv" "$1" > "$state/live.json"
  code=$(post genesys "$state/live.json"); [ "$code" = 202 ] || { say "ingest answered $code"; exit 1; }
}
live_start=$(($(date +%s%N) / 1000000))
live_event start "$live_start"
echo "  a live caller is now waiting in queue 'Live demo' (threshold 5 s) and nobody answers" >&2

og_status() { # alias -> open|closed|absent
  curl -fsS "http://127.0.0.1:$og_port/_emulator/alerts" | python3 -c '
import json, sys
st = [a["status"] for a in json.load(sys.stdin) if a["alias"] == sys.argv[1]]
print(st[-1] if st else "absent")' "$1"
}
wait_for() { # alias status what
  local t0; t0=$(date +%s)
  while [ "$(og_status "$1")" != "$2" ]; do
    printf '\r  %s: %2ds ' "$3" "$(( $(date +%s) - t0 ))" >&2
    [ $(( $(date +%s) - t0 )) -gt 90 ] && { echo >&2; say "timed out"; tail -n 20 "$state"/*.log >&2; exit 1; }
    sleep 0.5
  done
  printf '\r  %s: %2ds, done\n' "$3" "$(( $(date +%s) - t0 ))" >&2
}

say "5/6 alerts as the sinks received them"
live_alias="$live_queue:wait_sla_breach:VOICE"
wait_for "$live_alias" open "waiting for the live breach (fires while the caller still waits)"
fired_ms=$(( $(date +%s%N) / 1000000 - live_start ))
echo "  the caller had waited ${fired_ms} ms when OpsGenie got the alert (threshold 5000 ms); now an agent answers" >&2
live_event end "$(($(date +%s%N) / 1000000))"
wait_for "$live_alias" closed "waiting for RESOLVED"
python3 - "$slack_port" "$og_port" <<'PY'
import json, sys, urllib.request
slack, og = sys.argv[1], sys.argv[2]
def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
        return json.load(r)
print("  OpsGenie (by alias):")
for a in get(og, "/_emulator/alerts"):
    print(f"    {a['status']:<7} {a['alias']}  creates={a.get('creates', '?')}")
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

say "6/6 qalert-replay: the alerts topic, and a dry-run of the same raw events through the same SLA engine"
"$bin/qalert-replay" print qalert.alerts --from-time "$range_start" 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["headers"].get("qalert-alert-id", "?"), r["headers"].get("qalert-status"), r["key"])' \
  | sort > "$state/alerts-topic.txt"
"$bin/qalert-replay" dry-run --from-time "$range_start" --policy "$top/scripts/demo/policy.json" 2>/dev/null \
  | python3 -c '
import json, sys
for line in sys.stdin:
    a = json.loads(line)
    print(a["alertId"], a["status"], a["groupingKey"])' | sort > "$state/dry-run.txt"
echo "  processor (committed alerts topic):" >&2; sed 's/^\([0-9a-f]\{12\}\)[0-9a-f]*/    \1/' "$state/alerts-topic.txt" >&2
echo "  dry-run (fresh engine, nothing published):" >&2; sed 's/^\([0-9a-f]\{12\}\)[0-9a-f]*/    \1/' "$state/dry-run.txt" >&2
if ! cmp -s "$state/alerts-topic.txt" "$state/dry-run.txt" || [ ! -s "$state/dry-run.txt" ]; then
  say "the dry-run differs from the processor's alerts"; exit 1
fi
# What the sinks must have received: the scenario's breach fired and
# resolved, the Billing service level low, the live breach fired and resolved.
for want in "2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c:wait_sla_breach:VOICE" \
            "7c6d5e4f-3a2b-4c1d-9e8f-7a6b5c4d3e2f:service_level_low" "$live_alias"; do
  [ "$(og_status "$want")" != absent ] || { say "OpsGenie never got $want"; exit 1; }
done
echo "  same $(wc -l < "$state/dry-run.txt") alerts, same ids" >&2

if [ "$wait_at_end" = 1 ]; then
  say "pipeline running; emulators: http://127.0.0.1:$slack_port/_emulator/requests  http://127.0.0.1:$og_port/_emulator/alerts — Ctrl-C stops"
  while :; do sleep 3600; done
fi
say "demo done"
