#!/usr/bin/env bash
# test_registry.sh — QALERT_SCHEMA_REGISTRY_URL end to end on the real broker,
# with tests/emulators/registry_emulator.py as the registry (Basic auth on):
#  1. start-up failures: nothing listening at the URL → ingest exits 1 naming
#     it; a wrong password → exit 1 with the 401, the password in no log;
#     a URL that is not http(s) → exit 2;
#  2. qalert-ingest and qalert-processor registered: the fixture scenario,
#     posted signed, gives raw records framed 00 + the id the registry gave
#     qalert.RawEvent, the processor reads them and emits the expected FIRING
#     and RESOLVED, framed 00 + qalert.Alert's id;
#  3. qalert-replay print decodes both topics (with the registry, and
#     without it: readers accept both framings); qalert-notifier delivers
#     the alerts to OpsGenie, the first through its retry topic, which holds
#     the same framing (the alerts subject's id);
#  4. every start registered the same schema: one version per subject; every
#     request carried the Basic credential; no log holds the password.
. "$(dirname "$0")/lib.sh"
fx=$QALERT_FIXTURES
id=$(date +%s%N)
PW="reg-pw-$id"
SECRET=qalert-fixture-secret
raw=reg-raw-$id; al=reg-alerts-$id; st=reg-state-$id

# the registry emulator, on a free port
python3 "$QALERT_SOURCE_DIR/tests/emulators/registry_emulator.py" --host 127.0.0.1 --port 0 \
  --user-info "qa-reg:$PW" >"$QA_TMP/registry.out" 2>"$QA_TMP/registry.log" &
QA_PIDS+=($!)
for _ in $(seq 100); do grep -q '^LISTENING ' "$QA_TMP/registry.out" && break; sleep 0.1; done
REG=http://127.0.0.1:$(awk '/^LISTENING /{print $2; exit}' "$QA_TMP/registry.out")
qa_wait_http "$REG/_emulator/health" 10 || qa_fail "registry emulator not up"
reg_get() { curl -fsS -u "qa-reg:$PW" "$REG$1"; }

# run_ingest NAME PORT ENV... (background; sets ING_PID)
run_ingest() {
  local name=$1 port=$2; shift 2
  env QALERT_INGEST_ADDR="127.0.0.1:$port" QALERT_TOPIC_RAW="$raw" QALERT_TOPIC_ALERTS="$al" \
      QALERT_INGEST_HMAC_SECRETS="$SECRET" QALERT_SHUTDOWN_TIMEOUT_MS=8000 "$@" \
      "$QALERT_BIN_DIR/qalert-ingest" >>"$QA_TMP/$name.log" 2>&1 &
  ING_PID=$!
  QA_PIDS+=("$ING_PID")
}

# exits_with WANT NAME: waits (20 s at most) for ING_PID to exit with WANT
exits_with() {
  local t=0
  while kill -0 "$ING_PID" 2>/dev/null; do
    t=$((t + 1)); [ $t -gt 100 ] && qa_fail "$2: still running, want exit $1"; sleep 0.2
  done
  local rc=0; wait "$ING_PID" || rc=$?
  [ "$rc" = "$1" ] || qa_fail "$2: exit $rc, want $1"
}

echo "== 1. start-up failures"
run_ingest bad-url "$(qa_free_port)" QALERT_SCHEMA_REGISTRY_URL=http://127.0.0.1:1
exits_with 1 "unreachable registry"
grep -q 'schema registry' "$QA_TMP/bad-url.log" && grep -q 'http://127.0.0.1:1/subjects' "$QA_TMP/bad-url.log" \
  || qa_fail "unreachable registry: no clear reason: $(cat "$QA_TMP/bad-url.log")"
run_ingest bad-pw "$(qa_free_port)" QALERT_SCHEMA_REGISTRY_URL="$REG" \
  QALERT_SCHEMA_REGISTRY_USER_INFO="qa-reg:wrong-$PW"
exits_with 1 "wrong registry password"
grep -q 'HTTP 401' "$QA_TMP/bad-pw.log" || qa_fail "wrong password: no 401 in $(cat "$QA_TMP/bad-pw.log")"
run_ingest bad-scheme "$(qa_free_port)" QALERT_SCHEMA_REGISTRY_URL=ftp://127.0.0.1/
exits_with 2 "ftp:// registry URL"
grep -q 'QALERT_SCHEMA_REGISTRY_URL' "$QA_TMP/bad-scheme.log" || qa_fail "ftp:// URL: setting not named"

echo "== 2. ingest and processor with the registry"
REG_ENV=(QALERT_SCHEMA_REGISTRY_URL="$REG" QALERT_SCHEMA_REGISTRY_USER_INFO="qa-reg:$PW")
iport=$(qa_free_port)
run_ingest ingest "$iport" "${REG_ENV[@]}"
qa_wait_http "http://127.0.0.1:$iport/readyz" 60 || qa_fail "ingest not ready"
pport=$(qa_free_port)
env "${REG_ENV[@]}" QALERT_TOPIC_RAW="$raw" QALERT_TOPIC_ALERTS="$al" QALERT_TOPIC_STATE="$st" \
  QALERT_GROUP_ID="g-$id" QALERT_TRANSACTIONAL_ID="txn-$id" QALERT_ADMIN_ADDR="127.0.0.1:$pport" \
  QALERT_SLA_POLICY_FILE="$fx/policy.json" \
  "$QALERT_BIN_DIR/qalert-processor" >>"$QA_TMP/processor.log" 2>&1 &
PROC_PID=$!
QA_PIDS+=("$PROC_PID")
qa_wait_http "http://127.0.0.1:$pport/readyz" 60 || qa_fail "processor not ready"

n=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  n=$((n + 1))
  printf '%s' "$line" > "$QA_TMP/ev$n.json"
  sig=$(openssl dgst -sha256 -hmac "$SECRET" "$QA_TMP/ev$n.json" | awk '{print $NF}')
  code=$(curl -s --max-time 20 -o "$QA_TMP/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "X-Genesys-Signature: $sig" --data-binary "@$QA_TMP/ev$n.json" \
    "http://127.0.0.1:$iport/v1/events/genesys")
  [ "$code" = 202 ] || qa_fail "event $n: HTTP $code $(cat "$QA_TMP/resp")"
done < "$fx/scenario-wait-breach.jsonl"

# the ids the registry gave (latest version of each subject)
id_of() { reg_get "/subjects/$1-value/versions/latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
raw_id=$(id_of "$raw"); al_id=$(id_of "$al")
[ "$raw_id" != "$al_id" ] || qa_fail "RawEvent and Alert share id $raw_id"
hdr() { printf '00%08x' "$1"; }

# framing FILE_OF_"partition offset" TOPIC WANT_HEADER: every record starts so
check_framing() {
  local topic=$1 want=$2 count=0 p o got
  while read -r p o; do
    got=$(kcat -b "$QALERT_KAFKA_BROKERS" -C -t "$topic" -p "$p" -o "$o" -c 1 -e -q \
            -X isolation.level=read_committed -f '%s' 2>/dev/null | od -An -tx1 -N5 | tr -d ' \n')
    [ "$got" = "$want" ] || qa_fail "$topic $p/$o starts with [$got], want [$want]"
    count=$((count + 1))
  done < <(qa_records "$topic" '%p %o\n')
  echo "$topic: $count records framed $want"
}
qa_wait_count "$raw" "$n" 30 || qa_fail "raw records missing"
check_framing "$raw" "$(hdr "$raw_id")"

qa_wait_count "$al" 2 60 || qa_fail "alerts missing"
got=$(qa_records "$al" '%k %h\n' | sed -E 's/ .*qalert-status=([A-Z]+).*/ \1/')
want="2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c:wait_sla_breach:VOICE FIRING
2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c:wait_sla_breach:VOICE RESOLVED"
[ "$got" = "$want" ] || qa_fail "alerts: got [$got] want [$want]"
check_framing "$al" "$(hdr "$al_id")"

echo "== 3. qalert-replay print decodes both topics"
replay_print() { # replay_print TOPIC ENV... → JSON lines on stdout
  local topic=$1; shift
  env QALERT_TOPIC_RAW="$raw" QALERT_TOPIC_ALERTS="$al" "$@" \
    "$QALERT_BIN_DIR/qalert-replay" print "$topic" 2>>"$QA_TMP/replay.log"
}
for mode in registry plain; do
  if [ $mode = registry ]; then extra=("${REG_ENV[@]}"); else extra=(QALERT_LOG_LEVEL=info); fi
  replay_print "$raw" "${extra[@]}" > "$QA_TMP/raw.$mode.jsonl" || qa_fail "replay print $raw ($mode)"
  replay_print "$al" "${extra[@]}" > "$QA_TMP/al.$mode.jsonl" || qa_fail "replay print $al ($mode)"
  python3 - "$QA_TMP/raw.$mode.jsonl" "$QA_TMP/al.$mode.jsonl" "$n" <<'PY' || qa_fail "replay print ($mode) did not decode"
import json, sys
raw = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
al = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(raw) == int(sys.argv[3]), len(raw)
def value(r):
    v = r.get("value")
    assert isinstance(v, dict), r
    return v
kinds = sorted(value(r).get("kind") or value(r).get("eventType") for r in raw)
assert all(kinds), kinds
text = json.dumps([value(r) for r in raw])
assert "5ce7a001-aaaa-4aaa-8aaa-aaaaaaaaaaaa" in text
statuses = [value(r)["status"] for r in al]
assert statuses == ["FIRING", "RESOLVED"], statuses
PY
done
echo "replay print: $n raw events and 2 alerts decoded, with and without the registry"

echo "== 3b. qalert-notifier delivers them, one through its retry topic"
python3 "$QALERT_SOURCE_DIR/tests/emulators/opsgenie_emulator.py" --host 127.0.0.1 --port 0 \
  --api-key "og-key-$id" >"$QA_TMP/opsgenie.out" 2>"$QA_TMP/opsgenie-emu.log" &
QA_PIDS+=($!)
for _ in $(seq 100); do grep -q '^LISTENING ' "$QA_TMP/opsgenie.out" && break; sleep 0.1; done
OG=http://127.0.0.1:$(awk '/^LISTENING /{print $2; exit}' "$QA_TMP/opsgenie.out")
qa_wait_http "$OG/_emulator/health" 10 || qa_fail "opsgenie emulator not up"
curl -fsS -X POST -d '{"status":500,"count":1}' "$OG/_emulator/faults" >/dev/null
nport=$(qa_free_port)
env "${REG_ENV[@]}" QALERT_SINK=opsgenie QALERT_TOPIC_RAW="$raw" QALERT_TOPIC_ALERTS="$al" \
  QALERT_GROUP_ID="g-og-$id" QALERT_ADMIN_ADDR="127.0.0.1:$nport" QALERT_RETRY_DELAYS_MS=500,1000 \
  QALERT_OPSGENIE_API_URL="$OG" QALERT_OPSGENIE_API_KEY="og-key-$id" QALERT_SHUTDOWN_TIMEOUT_MS=8000 \
  "$QALERT_BIN_DIR/qalert-notifier" >>"$QA_TMP/notifier.log" 2>&1 &
NOTIF_PID=$!
QA_PIDS+=("$NOTIF_PID")
qa_wait_http "http://127.0.0.1:$nport/readyz" 60 || qa_fail "notifier not ready"
t=0
until curl -fsS "$OG/_emulator/alerts" | python3 -c '
import json, sys
a = json.load(sys.stdin)
sys.exit(0 if len(a) == 1 and a[0]["status"] == "closed" else 1)'; do
  t=$((t + 1)); [ $t -gt 120 ] && qa_fail "opsgenie: $(curl -fsS "$OG/_emulator/alerts")"; sleep 0.5
done
check_framing "$al.opsgenie.retry.1" "$(hdr "$al_id")"
kill -TERM "$NOTIF_PID"; wait "$NOTIF_PID" || qa_fail "notifier exit $? on SIGTERM"

echo "== 4. one version per subject, credentials on every request, none in logs"
kill -TERM "$PROC_PID"; wait "$PROC_PID" || qa_fail "processor exit $? on SIGTERM"
kill -TERM "$ING_PID"; wait "$ING_PID" || qa_fail "ingest exit $? on SIGTERM"
[ "$(reg_get "/subjects/$raw-value/versions")" = "[1]" ] || qa_fail "raw subject: $(reg_get "/subjects/$raw-value/versions")"
[ "$(reg_get "/subjects/$al-value/versions")" = "[1]" ] || qa_fail "alerts subject: $(reg_get "/subjects/$al-value/versions")"
curl -fsS "$REG/_emulator/requests" > "$QA_TMP/requests.json"
python3 - "$QA_TMP/requests.json" <<'PY' || qa_fail "registry requests"
import json, sys
reqs = [r for r in json.load(open(sys.argv[1])) if not r["path"].startswith("/_emulator/")]
ours = [r for r in reqs if "qalert/" in r["headers"].get("User-Agent", "")]
assert len(ours) >= 10, len(ours)
# the wrong-password start got its 401; every other request of ours went through
assert all(r["headers"].get("Authorization") == "Basic ***" for r in ours), ours
assert sum(r["status"] == 401 for r in ours) == 1, [r["status"] for r in ours]
posts = [r for r in ours if r["method"] == "POST"]
assert all(r["headers"].get("Content-Type") == "application/vnd.schemaregistry.v1+json" for r in posts)
PY
if grep -l -- "$PW" "$QA_TMP"/*.log; then qa_fail "the registry password appears in a log"; fi
echo "PASS"
