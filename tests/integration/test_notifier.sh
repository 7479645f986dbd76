#!/usr/bin/env bash
# qalert-notifier on the real broker against the Slack and OpsGenie emulators:
#  1. 500 then 200: delivered once, after the first retry delay;
#  2. 429 with Retry-After: 3: not retried before 3 s;
#  3. 400: dead-lettered at once, with the SPEC §5 headers;
#  4. a FIRING delayed by retries and its RESOLVED behind it: order kept;
#  5. an undecodable record: dead-lettered, the next alert still delivered;
#  6. kill -9 mid-delivery, restart: every alert delivered, one OpsGenie
#     alert per alias; 6b. kill -9 after a FIRING and its RESOLVED were
#     delivered (and while a close is in flight): the FIRING is not replayed;
#  7. Slack: delivered, then the sink down longer than every delay: both
#     alerts dead-lettered, none lost;
#  8. SIGTERM exits 0; no secret (API key, webhook path) in any log;
#  9. QALERT_NOTIFIER_CONCURRENCY past the open-file limit: the soft limit is
#     raised to fit; past the hard limit: exit 2 naming the setting;
# 10. a FIRING whose create the sink applies only after our time-out (3 s vs
#     2 s), then its RESOLVED: the key waits one more time-out after the
#     ambiguous attempt, so the late create lands while the alert is open
#     (absorbed by alias) and the close comes after it: one alert, closed.
. "$(dirname "$0")/lib.sh"
src=${QALERT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
id=$(date +%s%N)
key=genie-$id-secret
hook_secret=hookSecret$id
pub="$QALERT_TEST_DIR/alert_publish"

# start_emulator NAME ARGS... -> sets EMU_PID, EMU_PORT
start_emulator() {
  local name=$1; shift
  python3 "$src/tests/emulators/${name}_emulator.py" --host 127.0.0.1 --port 0 "$@" \
    >"$QA_TMP/$name.out" 2>>"$QA_TMP/$name-emu.log" &
  EMU_PID=$!; QA_PIDS+=("$EMU_PID")
  local t=0
  until grep -q LISTENING "$QA_TMP/$name.out" 2>/dev/null; do
    t=$((t + 1)); [ $t -gt 100 ] && qa_fail "$name emulator did not start"; sleep 0.1
  done
  EMU_PORT=$(awk '/LISTENING/ {print $2; exit}' "$QA_TMP/$name.out")
}

# start_notifier LOGNAME SINK ALERTS_TOPIC GROUP [VAR=VALUE...] -> NOTIF_PID, NOTIF_PORT
start_notifier() {
  local log=$1 sink=$2 topic=$3 group=$4; shift 4
  NOTIF_PORT=$(qa_free_port)
  env QALERT_SINK="$sink" QALERT_TOPIC_ALERTS="$topic" QALERT_GROUP_ID="$group" \
    QALERT_ADMIN_ADDR="127.0.0.1:$NOTIF_PORT" QALERT_RETRY_DELAYS_MS=500,1000,2000 \
    QALERT_HTTP_TIMEOUT_MS=2000 QALERT_SINK_RATE=50 QALERT_LOG_LEVEL=debug \
    QALERT_SHUTDOWN_TIMEOUT_MS=8000 "$@" \
    "$QALERT_BIN_DIR/qalert-notifier" >>"$QA_TMP/$log.log" 2>&1 &
  NOTIF_PID=$!; QA_PIDS+=("$NOTIF_PID")
  qa_wait_http "http://127.0.0.1:$NOTIF_PORT/readyz" 60 || qa_fail "$log not ready"
}

fault() { curl -fsS -X POST -d "$2" "http://127.0.0.1:$1/_emulator/faults" >/dev/null; }

# check PORT PYTHON-EXPR...: the emulator's requests as `reqs` (and
# OpsGenie's alerts as `alerts`); exit 1 with the message when false.
check() {
  local port=$1 code=$2
  curl -fsS "http://127.0.0.1:$port/_emulator/requests" >"$QA_TMP/reqs.json"
  curl -fsS "http://127.0.0.1:$port/_emulator/alerts" >"$QA_TMP/alerts.json" 2>/dev/null \
    || echo '[]' >"$QA_TMP/alerts.json"
  python3 - "$QA_TMP/reqs.json" "$QA_TMP/alerts.json" <<EOF
import json, sys
reqs = json.load(open(sys.argv[1])); alerts = json.load(open(sys.argv[2]))
def of(k, route=None):
    return [r for r in reqs if k in r["path"] or (r["body"] and '"' + k + '"' in r["body"])]
def creates(k): return [r for r in of(k) if r["path"].rstrip("/") == "/v2/alerts"]
def closes(k): return [r for r in of(k) if r["path"].split("?")[0].endswith("/close")]
$code
EOF
}

# wait_for SECONDS PORT PYTHON-CONDITION
wait_for() {
  local t=0
  until check "$2" "sys.exit(0 if ($3) else 1)" 2>/dev/null; do
    t=$((t + 1)); [ $t -gt $(( $1 * 4 )) ] && return 1; sleep 0.25
  done
}

metric() { curl -fsS "http://127.0.0.1:$NOTIF_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $2}'; }

start_emulator opsgenie --api-key "$key"; OG=$EMU_PORT
al=alerts-$id
# the notifier creates the alerts topic when the processor has not yet
start_notifier og opsgenie "$al" "g-og-$id" QALERT_OPSGENIE_API_URL="http://127.0.0.1:$OG" \
  QALERT_OPSGENIE_API_KEY="$key"
"$pub" "$al" "warmup-$id=FIRING" || qa_fail "cannot publish"
wait_for 30 $OG "len(creates('warmup-$id')) == 1" || qa_fail "warm-up alert not delivered"

echo "== 1. 500 then 200"
fault $OG '{"status": 500, "count": 1, "path": "/v2/alerts"}'
"$pub" "$al" "k1-$id=FIRING"
wait_for 20 $OG "[r['status'] for r in creates('k1-$id')] == [500, 202]" || qa_fail "500 then 202 expected"
check $OG "c = creates('k1-$id'); gap = c[1]['time'] - c[0]['time']
assert gap >= 0.45, 'retried after %.2f s, before the 500 ms delay' % gap
assert len([a for a in alerts if a['alias'] == 'k1-$id']) == 1" || qa_fail "case 1"
[ "$(metric 'qalert_notifier_deliveries_total{outcome="retried",sink="opsgenie"}')" = 1 ] \
  || qa_fail "retried metric: $(curl -fsS "http://127.0.0.1:$NOTIF_PORT/metrics" | grep deliveries)"

echo "== 2. 429 with Retry-After: 3"
fault $OG '{"status": 429, "retry_after": 3, "count": 1, "path": "/v2/alerts"}'
"$pub" "$al" "k2-$id=FIRING"
wait_for 20 $OG "[r['status'] for r in creates('k2-$id')] == [429, 202]" || qa_fail "429 then 202 expected"
check $OG "c = creates('k2-$id'); gap = c[1]['time'] - c[0]['time']
assert gap >= 2.9, 'retried %.2f s after a Retry-After of 3 s' % gap" || qa_fail "case 2"

echo "== 3. 400: dead-letter at once"
fault $OG '{"status": 400, "count": 1, "path": "/v2/alerts"}'
"$pub" "$al" "k3-$id=FIRING"
qa_wait_count "$al.opsgenie.dlq" 1 20 || qa_fail "400 not dead-lettered"
hdrs=$(qa_records "$al.opsgenie.dlq" '%k %h\n' | grep "^k3-$id ")
for want in "qalert-attempt=1" "qalert-error=http 400" "qalert-original-topic=$al" \
            "qalert-original-partition=" "qalert-original-offset=" "qalert-first-failure=" \
            "qalert-not-before=" "qalert-status=FIRING" "qalert-alert-id=k3-$id/FIRING/1"; do
  case "$hdrs" in *"$want"*) ;; *) qa_fail "DLQ headers lack [$want]: $hdrs" ;; esac
done
sleep 1
check $OG "assert len(creates('k3-$id')) == 1, 'a 400 was retried'" || qa_fail "case 3"

echo "== 4. order: RESOLVED waits behind its retried FIRING"
fault $OG '{"status": 503, "count": 2, "path": "/v2/alerts"}'
"$pub" "$al" "k4-$id=FIRING" "k4-$id=RESOLVED"
wait_for 30 $OG "len(closes('k4-$id')) >= 1" || qa_fail "RESOLVED never sent"
check $OG "seq = [(r['id'], 'close' if r['path'].split('?')[0].endswith('/close') else 'create', r['status']) for r in of('k4-$id')]
ok = [s for s in seq if s[2] == 202]
assert [s[1] for s in ok] == ['create', 'close'], seq
assert [s[1] for s in seq][:3] == ['create'] * 3, seq
assert [a['status'] for a in alerts if a['alias'] == 'k4-$id'] == ['closed']" || qa_fail "case 4"

echo "== 5. an undecodable record is dead-lettered, the next alert goes"
"$pub" "$al" --bad "k5-$id=FIRING"
wait_for 20 $OG "len(creates('k5-$id')) == 1" || qa_fail "alert after a bad record not delivered"
qa_records "$al.opsgenie.dlq" '%k %h\n' | grep -q "^bad .*qalert-error=undecodable" \
  || qa_fail "bad record not dead-lettered"

echo "== 6. kill -9 mid-delivery, then restart"
fault $OG '{"delay_ms": 1500, "count": 6, "path": "/v2/alerts"}'
specs=(); for i in $(seq 0 19); do specs+=("k6-$i-$id=FIRING"); done
"$pub" "$al" "${specs[@]}"
sleep 1
kill -KILL "$NOTIF_PID"; wait "$NOTIF_PID" 2>/dev/null || true
start_notifier og2 opsgenie "$al" "g-og-$id" QALERT_OPSGENIE_API_URL="http://127.0.0.1:$OG" \
  QALERT_OPSGENIE_API_KEY="$key"
wait_for 40 $OG "len({a['alias'] for a in alerts if a['alias'].startswith('k6-')}) == 20" \
  || qa_fail "not every alert delivered after kill -9"
check $OG "k6 = [a['alias'] for a in alerts if a['alias'].startswith('k6-')]
assert len(k6) == 20 and len(set(k6)) == 20, 'one alert per alias: %r' % k6" || qa_fail "case 6"
qa_stop "$NOTIF_PID" notifier

echo "== 6b. kill -9 after a FIRING and its RESOLVED: the FIRING is not replayed"
# Only the commits the key order makes count (SPEC §7: one create per alias
# and episode): a record of a key goes to the sink only once the earlier
# ones of that key are committed, so a restart replays at most the last one.
cal=calerts-$id
for_og3() { start_notifier "$1" opsgenie "$cal" "g-oc-$id" \
  QALERT_OPSGENIE_API_URL="http://127.0.0.1:$OG" QALERT_OPSGENIE_API_KEY="$key" \
  QALERT_KAFKA_AUTO_COMMIT_INTERVAL_MS=60000; }
for_og3 og3
"$pub" "$cal" "c1-$id=FIRING" "c1-$id=RESOLVED"
wait_for 20 $OG "[a['status'] for a in alerts if a['alias'] == 'c1-$id'] == ['closed']" \
  || qa_fail "c1 not created and closed"
# c2's close is slow: kill -9 while it is in flight
fault $OG '{"delay_ms": 2500, "count": 1, "path": "/v2/alerts/c2-'$id'/close"}'
"$pub" "$cal" "c2-$id=FIRING" "c2-$id=RESOLVED"
t=0; until grep -q '"request":"opsgenie.close","key":"c2-'$id'"' "$QA_TMP/og3.log"; do
  t=$((t + 1)); [ $t -gt 100 ] && qa_fail "c2's close never sent"; sleep 0.1
done
kill -KILL "$NOTIF_PID"; wait "$NOTIF_PID" 2>/dev/null || true
for_og3 og3b
wait_for 20 $OG "[a['status'] for a in alerts if a['alias'] == 'c2-$id'] == ['closed']" \
  || qa_fail "c2 not closed after the restart"
sleep 3 # time for any replay to reach the sink
check $OG "for k in ('c1-$id', 'c2-$id'):
    mine = [a for a in alerts if a['alias'] == k]
    assert len(creates(k)) == 1, '%s: %d create requests (a FIRING replayed)' % (k, len(creates(k)))
    assert [a['status'] for a in mine] == ['closed'], '%s: alerts %r' % (k, [(a['status'], a['creates']) for a in mine])" \
  || qa_fail "case 6b"
qa_stop "$NOTIF_PID" "notifier (6b)"

echo "== 10. a create applied after the time-out, then the close"
al10=alerts10-$id
start_notifier og10 opsgenie "$al10" "g10-$id" QALERT_OPSGENIE_API_URL="http://127.0.0.1:$OG" \
  QALERT_OPSGENIE_API_KEY="$key"
fault $OG '{"delay_ms": 3000, "count": 1, "path": "/v2/alerts"}'
"$pub" "$al10" "k10-$id=FIRING" "k10-$id=RESOLVED"
wait_for 30 $OG "len(closes('k10-$id')) >= 1 and len(creates('k10-$id')) >= 2" \
  || qa_fail "case 10: create retried and close expected"
sleep 2 # anything still under way lands
check $OG "a = [x for x in alerts if x['alias'] == 'k10-$id']
assert len(a) == 1, 'a create applied after the close opened a second alert: %r' % a
assert a[0]['status'] == 'closed', 'the alert is left %s' % a[0]['status']
c = creates('k10-$id'); cl = closes('k10-$id')
assert cl[-1]['time'] - c[0]['time'] >= 3.9, 'closed %.2f s after the first create' % (cl[-1]['time'] - c[0]['time'])" \
  || qa_fail "case 10"
qa_stop "$NOTIF_PID" "notifier (10)"

echo "== 7. Slack: delivered, then down longer than every delay"
start_emulator slack; SL=$EMU_PORT; SL_PID=$EMU_PID
hook="http://127.0.0.1:$SL/services/T0TEST/B0TEST/$hook_secret"
sal=salerts-$id
start_notifier sl slack "$sal" "g-sl-$id" QALERT_SLACK_WEBHOOK_URL="$hook"
"$pub" "$sal" "s0-$id=FIRING" || qa_fail "cannot publish"
wait_for 20 $SL "len([r for r in reqs if 's0-$id' in r['body'] and r['status'] == 200]) == 1" \
  || qa_fail "slack message not delivered"
kill -KILL "$SL_PID"; wait "$SL_PID" 2>/dev/null || true
"$pub" "$sal" "s1-$id=FIRING" "s2-$id=FIRING"
qa_wait_count "$sal.slack.dlq" 2 30 || qa_fail "sink down: not dead-lettered"
qa_records "$sal.slack.dlq" '%k %h\n' | grep "^s1-$id " | grep -q "qalert-attempt=4" \
  || qa_fail "dead-lettered before every retry: $(qa_records "$sal.slack.dlq" '%k %h\n')"
[ "$(qa_records "$sal.slack.retry.3" '%k\n' | grep -c "^s[12]-$id$")" = 2 ] \
  || qa_fail "records did not go through retry.3"

echo "== 8. SIGTERM and secrets"
qa_stop "$NOTIF_PID" "slack notifier"
if grep -l -e "$key" -e "$hook_secret" "$QA_TMP"/og*.log "$QA_TMP"/sl*.log; then
  qa_fail "a secret is in the notifier's log"
fi
grep -q '"msg":"delivered"' "$QA_TMP/og.log" || qa_fail "log lacks deliveries"
echo "== 9. concurrency and the open-file limit"
port9=$(qa_free_port)
( ulimit -Sn 256; exec env QALERT_SINK=opsgenie QALERT_TOPIC_ALERTS="$al" QALERT_GROUP_ID="g9-$id" \
    QALERT_ADMIN_ADDR="127.0.0.1:$port9" QALERT_OPSGENIE_API_URL="http://127.0.0.1:$OG" \
    QALERT_OPSGENIE_API_KEY="$key" QALERT_NOTIFIER_CONCURRENCY=1024 \
    "$QALERT_BIN_DIR/qalert-notifier" >>"$QA_TMP/og9.log" 2>&1 ) &
pid9=$!; QA_PIDS+=("$pid9")
qa_wait_http "http://127.0.0.1:$port9/readyz" 60 || qa_fail "concurrency 1024 with a soft limit of 256: not ready"
soft=$(awk '/^Max open files/ {print $4}' "/proc/$pid9/limits")
[ "$soft" -ge 1152 ] || qa_fail "open-file soft limit $soft, want >= 1152"
qa_stop "$pid9" "notifier (9)"
rc=0
( ulimit -Sn 256; ulimit -Hn 512; exec env QALERT_SINK=opsgenie QALERT_TOPIC_ALERTS="$al" \
    QALERT_OPSGENIE_API_KEY="$key" QALERT_NOTIFIER_CONCURRENCY=1024 \
    "$QALERT_BIN_DIR/qalert-notifier" ) >"$QA_TMP/og9b.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || qa_fail "concurrency past the hard limit: exit $rc, want 2"
grep -q "QALERT_NOTIFIER_CONCURRENCY" "$QA_TMP/og9b.log" || qa_fail "exit 2 does not name the setting"

# QALERT_TEST_LOG_DIR=dir keeps the logs for a look after a pass
if [ -n "${QALERT_TEST_LOG_DIR:-}" ]; then cp "$QA_TMP"/*.log "$QALERT_TEST_LOG_DIR"/; fi
echo "PASS"
