#!/usr/bin/env bash
# qalert-notifier in Slack Web API mode (bot token + channel) on the real
# broker against the Slack emulator (docs/notifier.md "Slack Web API mode"):
#  1. FIRING then RESOLVED of one key, and of a second key: each FIRING is a
#     chat.postMessage to the channel (fallback text, attachment with Block
#     Kit blocks, Bearer auth); its RESOLVED is a chat.postMessage whose
#     thread_ts is that FIRING's ts, then a chat.update of that ts turns the
#     original green; the second key has its own thread;
#  2. HTTP 200 {"ok":false,"error":"ratelimited"}: retried, delivered once;
#  3. {"ok":false} invalid_auth / channel_not_found: dead-lettered at once
#     (not retried), with the Slack error in qalert-error;
#  4. the thread map is in memory: after a restart a RESOLVED posts
#     unthreaded and updates nothing;
#  5. the bot token is in no log, no metric, no recorded request.
. "$(dirname "$0")/lib.sh"
src=${QALERT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
id=$(date +%s%N)
token=xoxb-it-$id-secret
channel="#qalert-it"
pub="$QALERT_TEST_DIR/alert_publish"
al=slalerts-$id

python3 "$src/tests/emulators/slack_emulator.py" --host 127.0.0.1 --port 0 \
  --bot-token "$token" >"$QA_TMP/slack.out" 2>>"$QA_TMP/slack-emu.log" &
QA_PIDS+=("$!")
t=0; until grep -q LISTENING "$QA_TMP/slack.out" 2>/dev/null; do
  t=$((t + 1)); [ $t -gt 100 ] && qa_fail "slack emulator did not start"; sleep 0.1
done
SL=$(awk '/LISTENING/ {print $2; exit}' "$QA_TMP/slack.out")

# start_notifier LOGNAME -> NOTIF_PID, NOTIF_PORT
start_notifier() {
  NOTIF_PORT=$(qa_free_port)
  env QALERT_SINK=slack QALERT_TOPIC_ALERTS="$al" QALERT_GROUP_ID="g-slk-$id" \
    QALERT_ADMIN_ADDR="127.0.0.1:$NOTIF_PORT" QALERT_RETRY_DELAYS_MS=500,500 \
    QALERT_HTTP_TIMEOUT_MS=2000 QALERT_SINK_RATE=50 QALERT_LOG_LEVEL=debug \
    QALERT_SHUTDOWN_TIMEOUT_MS=8000 QALERT_SLACK_API_URL="http://127.0.0.1:$SL/api" \
    QALERT_SLACK_BOT_TOKEN="$token" QALERT_SLACK_CHANNEL="$channel" \
    "$QALERT_BIN_DIR/qalert-notifier" >>"$QA_TMP/$1.log" 2>&1 &
  NOTIF_PID=$!; QA_PIDS+=("$NOTIF_PID")
  qa_wait_http "http://127.0.0.1:$NOTIF_PORT/readyz" 60 || qa_fail "$1 not ready"
}
stop_notifier() {
  qa_stop "$NOTIF_PID" notifier
}

fault() { curl -fsS -X POST -d "$1" "http://127.0.0.1:$SL/_emulator/faults" >/dev/null; }

# check PYTHON: the recorded requests as `reqs` (answers parsed as `ans`),
# the emulator's messages as `msgs`; exit 1 when an assert fails.
check() {
  curl -fsS "http://127.0.0.1:$SL/_emulator/requests" >"$QA_TMP/reqs.json"
  curl -fsS "http://127.0.0.1:$SL/_emulator/messages" >"$QA_TMP/msgs.json"
  python3 - "$QA_TMP/reqs.json" "$QA_TMP/msgs.json" <<EOF
import json, sys
reqs = json.load(open(sys.argv[1])); msgs = json.load(open(sys.argv[2]))
def ans(r):
    try: return json.loads(r.get("response") or "null") or {}
    except ValueError: return {}
def api(k, method):
    """requests of method (chat.postMessage, chat.update) about key k, in order"""
    return [r for r in reqs if r["path"] == "/api/" + method and r["json"]
            and "key " + k + " " in json.dumps(r["json"])]
def posts(k): return api(k, "chat.postMessage")
def updates(k): return api(k, "chat.update")
def ok(rs): return [r for r in rs if ans(r).get("ok") is True]
$1
EOF
}

# wait_for SECONDS PYTHON-CONDITION
wait_for() {
  local t=0
  until check "sys.exit(0 if ($2) else 1)" 2>/dev/null; do
    t=$((t + 1)); [ $t -gt $(( $1 * 4 )) ] && return 1; sleep 0.25
  done
}

metric() { curl -fsS "http://127.0.0.1:$NOTIF_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $2}'; }

start_notifier sl

echo "== 1. FIRING, RESOLVED: reply in the FIRING's thread, then chat.update"
"$pub" "$al" "a-$id=FIRING" "b-$id=FIRING" "a-$id=RESOLVED" "b-$id=RESOLVED" \
  || qa_fail "cannot publish"
wait_for 20 "len(ok(updates('a-$id'))) == 1 and len(ok(updates('b-$id'))) == 1" \
  || qa_fail "FIRING/RESOLVED of a and b not posted and updated"
check "
threads = set()
for k in ('a-$id', 'b-$id'):
    p, u = posts(k), updates(k)
    assert [r['status'] for r in p + u] == [200] * 3, [r['status'] for r in p + u]
    assert len(p) == 2 and len(u) == 1, (k, len(p), len(u))
    fire, reply, upd = p[0]['json'], p[1]['json'], u[0]['json']
    for r in p + u:
        assert r['headers'].get('Authorization') == 'Bearer ***', r['headers']
        assert r['headers'].get('Content-Type', '').startswith('application/json'), r['headers']
    # the FIRING: to the channel, fallback text, red attachment with Block Kit
    assert fire['channel'] == '$channel', fire
    assert 'thread_ts' not in fire and 'ts' not in fire, fire
    assert fire['text'].startswith('[FIRING] '), fire['text']
    att = fire['attachments'][0]
    assert att['color'] == '#d00000' and att['fallback'] == fire['text'], att
    kinds = [b['type'] for b in att['blocks']]
    assert kinds[0] == 'header' and 'section' in kinds and 'context' in kinds, kinds
    assert att['blocks'][0]['text']['text'].startswith('FIRING: '), att['blocks'][0]
    fts, fch = ans(p[0])['ts'], ans(p[0])['channel']
    assert fts and fts not in threads, (k, fts, threads)
    threads.add(fts)
    # the RESOLVED: a reply in that thread, green
    assert reply['channel'] == '$channel' and reply['thread_ts'] == fts, (reply, fts)
    assert reply['text'].startswith('[RESOLVED] '), reply['text']
    assert reply['attachments'][0]['color'] == '#2eb886', reply['attachments'][0]
    # then the original, updated in place to RESOLVED
    assert upd['ts'] == fts and upd['channel'] == fch, (upd, fts, fch)
    assert 'thread_ts' not in upd, upd
    assert upd['text'].startswith('[RESOLVED] '), upd['text']
    assert upd['attachments'][0]['color'] == '#2eb886', upd['attachments'][0]
    assert p[1]['id'] < u[0]['id'], 'chat.update before the reply'
    m = {x['ts']: x for x in msgs}
    assert m[fts]['updates'] == 1 and m[fts]['colors'] == ['#2eb886'], m[fts]
    assert m[fts]['thread_ts'] is None, m[fts]
    assert m[ans(p[1])['ts']]['thread_ts'] == fts, m[ans(p[1])['ts']]
assert len(threads) == 2
" || qa_fail "case 1"

echo "== 2. ok:false ratelimited: retried, then delivered"
fault '{"slack_error": "ratelimited", "count": 1, "path": "/api/chat.postMessage"}'
"$pub" "$al" "r-$id=FIRING"
wait_for 20 "len(ok(posts('r-$id'))) == 1" || qa_fail "ratelimited alert never delivered"
check "p = posts('r-$id')
assert [r['status'] for r in p] == [200, 200], [r['status'] for r in p]
assert ans(p[0]) == {'ok': False, 'error': 'ratelimited'}, p[0]['response']
assert ans(p[1])['ok'] is True, p[1]['response']
gap = p[1]['time'] - p[0]['time']
assert gap >= 0.45, 'retried after %.2f s, before the 500 ms delay' % gap" || qa_fail "case 2"
[ "$(metric 'qalert_notifier_deliveries_total{outcome="retried",sink="slack"}')" = 1 ] \
  || qa_fail "retried metric: $(curl -fsS "http://127.0.0.1:$NOTIF_PORT/metrics" | grep deliveries)"
qa_records "$al.slack.retry.1" '%k\n' | grep -qx "r-$id" || qa_fail "r not in retry.1"

echo "== 3. ok:false invalid_auth, channel_not_found: dead-lettered at once"
fault '[{"slack_error": "invalid_auth", "count": 1, "path": "/api/chat.postMessage"},
        {"slack_error": "channel_not_found", "count": 1, "path": "/api/chat.postMessage"}]'
"$pub" "$al" "d1-$id=FIRING"
qa_wait_count "$al.slack.dlq" 1 20 || qa_fail "invalid_auth not dead-lettered"
"$pub" "$al" "d2-$id=FIRING"
qa_wait_count "$al.slack.dlq" 2 20 || qa_fail "channel_not_found not dead-lettered"
dlq=$(qa_records "$al.slack.dlq" '%k %h\n')
for want in "d1-$id .*qalert-error=slack: invalid_auth" "d2-$id .*qalert-error=slack: channel_not_found" \
            "d1-$id .*qalert-attempt=1" "d1-$id .*qalert-original-topic=$al"; do
  printf '%s\n' "$dlq" | grep -q "^$want" || qa_fail "DLQ lacks [$want]: $dlq"
done
sleep 1.5 # past the first retry delay: nothing may come back
check "for k in ('d1-$id', 'd2-$id'):
    assert len(posts(k)) == 1, '%s: %d posts (dead-lettered error retried)' % (k, len(posts(k)))" \
  || qa_fail "case 3"
[ -z "$(qa_records "$al.slack.retry.1" '%k\n' | grep "^d[12]-$id$")" ] \
  || qa_fail "a permanent Slack error went to a retry topic"
[ "$(metric 'qalert_notifier_deliveries_total{outcome="dead_lettered",sink="slack"}')" = 2 ] \
  || qa_fail "dead_lettered metric: $(curl -fsS "http://127.0.0.1:$NOTIF_PORT/metrics" | grep deliveries)"
curl -fsS "http://127.0.0.1:$NOTIF_PORT/metrics" >"$QA_TMP/metrics.txt"

echo "== 4. the thread map is in memory: after a restart RESOLVED is unthreaded"
"$pub" "$al" "c-$id=FIRING"
wait_for 20 "len(ok(posts('c-$id'))) == 1" || qa_fail "c FIRING not posted"
stop_notifier
start_notifier sl2
"$pub" "$al" "c-$id=RESOLVED"
wait_for 20 "len(ok(posts('c-$id'))) == 2" || qa_fail "c RESOLVED not posted after the restart"
sleep 0.5
check "p = posts('c-$id')
assert len(p) == 2, len(p)
assert 'thread_ts' not in p[1]['json'], p[1]['json']
assert p[1]['json']['text'].startswith('[RESOLVED] '), p[1]['json']['text']
assert updates('c-$id') == [], 'chat.update without a known ts'" || qa_fail "case 4"

echo "== 5. SIGTERM; the bot token in no log, metric or recorded request"
stop_notifier
if grep -l -F -e "$token" "$QA_TMP"/sl*.log "$QA_TMP/metrics.txt" "$QA_TMP/reqs.json"; then
  qa_fail "the bot token leaked"
fi
grep -q '"msg":"delivered"' "$QA_TMP/sl.log" || qa_fail "log lacks deliveries"
grep -q 'slack.chat.update' "$QA_TMP/sl.log" || qa_fail "log lacks the chat.update request kind"
if [ -n "${QALERT_TEST_LOG_DIR:-}" ]; then cp "$QA_TMP"/*.log "$QALERT_TEST_LOG_DIR"/; fi
echo "PASS"
