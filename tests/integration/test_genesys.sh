#!/usr/bin/env bash
# qalert-genesys against the Genesys emulator (no broker needed for 1-7):
#  1. check: token, organisation, scopes, queue and integration access;
#  2. all pages read (250 queues, page size 25) while tokens live 2 s and each
#     page takes 300 ms: a second token is fetched before the first expires
#     (the emulator counts no expired-token use);
#  3. the policy mirrors every queue's mediaSettings.<media>.serviceLevel
#     exactly (fractions stay fractions; queues without settings skipped);
#  4. 429 with Retry-After on pages and on the token: waited, then success;
#     retries exhausted: exit 1 naming the status; a 503 is retried;
#  5. bad credentials: exit 1 with the reason, the secret never printed;
#     a missing secret: exit 2 naming the setting; the secret from _FILE works;
#  6. subscribe-eventbridge: --dry-run writes nothing; run twice, the second
#     run writes nothing; a changed AWS region is one config update;
# on the real broker:
#  8. sync-policy --topic: one record, key "policy", on a compacted topic;
#  9. the synced file drives qalert-processor: FIRING at the synced threshold
#     (not the 20 s default); SIGHUP reloads it: a conversation started after
#     the reload uses the new threshold, one already waiting keeps its own;
#     a broken file on SIGHUP keeps the running policy.
set -euo pipefail
: "${QALERT_BIN_DIR:?}" "${QALERT_TEST_DIR:?}" "${QALERT_SOURCE_DIR:?}"
G=$QALERT_BIN_DIR/qalert-genesys
EMU_DIR=$QALERT_SOURCE_DIR/tests/emulators
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qalert-genesys.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; } >&2; done
  exit 1
}
ok() { echo "ok - $*"; }

SECRET="s3cret-$RANDOM$RANDOM-never-printed"
python3 "$EMU_DIR/genesys_emulator.py" --host 127.0.0.1 --port 0 --token-lifetime 2 \
  --queues 250 --client-secret "$SECRET" --org-name "Acme Support" >"$tmp/emu.out" 2>"$tmp/emu.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^LISTENING ' "$tmp/emu.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^LISTENING /{print $2; exit}' "$tmp/emu.out")
[ -n "$port" ] || fail "emulator did not start"
emu=http://127.0.0.1:$port
export QALERT_GENESYS_CLIENT_ID=qalert-test-client QALERT_GENESYS_CLIENT_SECRET=$SECRET
export QALERT_GENESYS_LOGIN_URL=$emu QALERT_GENESYS_API_URL=$emu QALERT_LOG_LEVEL=info

stat() { curl -fsS "$emu/_emulator/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
faults() { curl -fsS -X PUT "$emu/_emulator/faults" -H 'Content-Type: application/json' -d "$1" >/dev/null; }
now_ms() { date +%s%3N; }

echo "== 1. check"
"$G" check >"$tmp/check.txt" 2>"$tmp/check.log" || fail "check: exit $?"
grep -q '^organization: Acme Support (id ' "$tmp/check.txt" || fail "check: no organisation"
grep -q '^scopes: routing:readonly integrations' "$tmp/check.txt" || fail "check: no scopes"
grep -q '^routing queues: ok (250 queues)' "$tmp/check.txt" || fail "check: queues"
ok "check reports organisation, scopes and access"
faults '[{"status":403,"path":"/api/v2/integrations","count":1}]'
rc=0; "$G" check >"$tmp/check2.txt" 2>"$tmp/check2.log" || rc=$?
[ "$rc" = 1 ] || fail "check with a missing permission: exit $rc, want 1"
grep -q '^integrations: FAILED: .*403.*Integrations' "$tmp/check2.txt" || fail "check: 403 not explained"
ok "check names a missing permission (exit 1)"

echo "== 2. every page, token renewed across its 2 s expiry"
faults '[{"delay_ms":300,"count":1000,"path":"/api/v2/routing/queues"}]'
tok0=$(stat tokens_issued); pages0=$(stat queue_pages)
t0=$(now_ms)
"$G" sync-policy --page-size 25 --out "$tmp/policy.json" 2>"$tmp/sync.log" || fail "sync-policy: exit $?"
t1=$(now_ms)
faults '[]'
[ $(( $(stat queue_pages) - pages0 )) = 10 ] || fail "read $(( $(stat queue_pages) - pages0 )) pages, want 10"
[ $((t1 - t0)) -ge 2500 ] || fail "the sync took $((t1 - t0)) ms: not longer than a token"
[ $(( $(stat tokens_issued) - tok0 )) -ge 2 ] || fail "tokens issued for the sync: $(( $(stat tokens_issued) - tok0 )), want >= 2"
[ "$(stat expired_token_uses)" = 0 ] || fail "an expired token was used $(stat expired_token_uses) times"
[ "$(stat unknown_token_uses)" = 0 ] || fail "an unknown token was used"
grep -q '"msg":"queues read","pages":10,"queues":225,"skipped":25' "$tmp/sync.log" || fail "log lacks the page/queue counts"
[ "$(grep -c 'genesys token obtained' "$tmp/sync.log")" -ge 2 ] || fail "no second token in the sync's log"
ok "10 pages, 225 queues (25 without settings), $(grep -c 'genesys token obtained' "$tmp/sync.log") tokens, none used expired"

echo "== 3. the policy mirrors the queues"
python3 - "$tmp/policy.json" "$EMU_DIR" <<'PY' || fail "policy does not mirror the queues"
import json, sys
path, emu = sys.argv[1], sys.argv[2]
sys.dont_write_bytecode = True
sys.path.insert(0, emu)
from genesys_emulator import make_queue
pol = json.load(open(path))
assert pol["default"] == {"durationMs": 20000, "percentage": 0.8}, pol["default"]
queues = pol["queues"]
assert len(queues) == 225, len(queues)
for i in range(250):
    q = make_queue(i)
    if "mediaSettings" not in q:
        assert q["id"] not in queues, q["id"]
        continue
    got = queues[q["id"]]
    assert got["name"] == q["name"], (got["name"], q["name"])
    for media, ms in q["mediaSettings"].items():
        want = ms["serviceLevel"]
        have = got["mediaSettings"][media]["serviceLevel"]
        assert have == want, (q["id"], media, have, want)
        assert 0 < have["percentage"] <= 1, have  # a fraction stays a fraction
assert list(queues) == sorted(queues)
PY
ok "225 queues, every media's durationMs and fractional percentage as Genesys has them"
cp "$tmp/policy.json" "$tmp/policy.before"
"$G" sync-policy --out "$tmp/policy.json" 2>"$tmp/sync-again.log" || fail "second sync: exit $?"
grep -q '"msg":"policy unchanged"' "$tmp/sync-again.log" || fail "an unchanged policy was rewritten"
cmp -s "$tmp/policy.json" "$tmp/policy.before" || fail "same queues, different bytes"
ls "$tmp"/policy.json.tmp.* >/dev/null 2>&1 && fail "a temporary file was left behind"
ok "same queues: same bytes, file not rewritten"

echo "== 4. 429 back-off, 5xx retry"
faults '[{"status":429,"retry_after":1,"count":2,"path":"/api/v2/routing/queues"}]'
t0=$(now_ms)
"$G" sync-policy --out "$tmp/p429.json" 2>"$tmp/sync429.log" || fail "sync after 429: exit $?"
t1=$(now_ms)
[ $((t1 - t0)) -ge 2000 ] || fail "two 429s with Retry-After 1 were waited only $((t1 - t0)) ms"
[ "$(grep -c 'rate limit; waiting Retry-After' "$tmp/sync429.log")" = 2 ] || fail "429 waits not logged"
cmp -s "$tmp/p429.json" "$tmp/policy.before" || fail "policy after 429s differs"
ok "two 429s: waited $((t1 - t0)) ms (Retry-After 1 s each), same policy"
faults '[{"status":429,"retry_after":1,"count":1,"path":"/oauth/token"},{"status":503,"count":1,"path":"/api/v2/routing/queues"}]'
"$G" sync-policy --out "$tmp/p503.json" 2>"$tmp/sync503.log" || fail "sync after token 429 and 503: exit $?"
grep -q 'token request throttled' "$tmp/sync503.log" || fail "token 429 not logged"
grep -q 'API error; backing off' "$tmp/sync503.log" || fail "503 not retried"
ok "token 429 and page 503: retried"
faults '[{"status":429,"retry_after":0,"count":10,"path":"/api/v2/routing/queues"}]'
rc=0; "$G" sync-policy --max-retries 2 --out "$tmp/never.json" 2>"$tmp/sync-give-up.log" || rc=$?
faults '[]'
[ "$rc" = 1 ] || fail "retries exhausted: exit $rc, want 1"
grep -q 'HTTP 429' "$tmp/sync-give-up.log" || fail "giving up does not name the 429"
[ ! -e "$tmp/never.json" ] || fail "a failed sync wrote a file"
ok "retries exhausted: exit 1 with HTTP 429, no file"

echo "== 5. credentials"
rc=0; QALERT_GENESYS_CLIENT_SECRET=wrong-secret-value "$G" sync-policy --out "$tmp/bad.json" \
  >"$tmp/bad.out" 2>"$tmp/bad.log" || rc=$?
[ "$rc" = 1 ] || fail "bad secret: exit $rc, want 1"
grep -q 'bad credentials: .*HTTP 401, invalid_client: authentication failed' "$tmp/bad.log" || fail "bad secret: no reason"
grep -q 'wrong-secret-value' "$tmp/bad.log" "$tmp/bad.out" && fail "the secret was printed"
[ ! -e "$tmp/bad.json" ] || fail "bad credentials wrote a file"
rc=0; QALERT_GENESYS_CLIENT_ID=nobody "$G" check >"$tmp/noclient.out" 2>"$tmp/noclient.log" || rc=$?
[ "$rc" = 1 ] || fail "unknown client: exit $rc"
grep -q 'client not found' "$tmp/noclient.log" || fail "unknown client: no reason"
rc=0; env -u QALERT_GENESYS_CLIENT_SECRET "$G" check 2>"$tmp/nosecret.log" || rc=$?
[ "$rc" = 2 ] || fail "no secret: exit $rc, want 2"
grep -q 'QALERT_GENESYS_CLIENT_SECRET' "$tmp/nosecret.log" || fail "no secret: setting not named"
printf '%s\n' "$SECRET" >"$tmp/secret.txt"
env -u QALERT_GENESYS_CLIENT_SECRET QALERT_GENESYS_CLIENT_SECRET_FILE="$tmp/secret.txt" \
  "$G" check >/dev/null 2>"$tmp/secretfile.log" || fail "secret from _FILE refused"
"$G" --help >"$tmp/help.txt" || fail "--help: exit $?"
grep -q -- '--client-secret' "$tmp/help.txt" || fail "--help lacks --client-secret"
ok "bad secret / unknown client: exit 1 with the reason; no secret: exit 2; _FILE works"

echo "== 6. subscribe-eventbridge"
export QALERT_GENESYS_AWS_ACCOUNT_ID=123456789012 QALERT_GENESYS_AWS_REGION=eu-west-1
"$G" subscribe-eventbridge --dry-run >"$tmp/dry.txt" 2>"$tmp/dry.log" || fail "dry run: exit $?"
grep -q '^POST /api/v2/integrations$' "$tmp/dry.txt" || fail "dry run does not print the POST"
grep -q '"integrationType":{"id":"amazon-eventbridge-source"}' "$tmp/dry.txt" || fail "dry run: no type"
grep -q 'v2.detail.events.conversation.{id}.acd.start","v2.detail.events.conversation.{id}.acd.end"' \
  "$tmp/dry.txt" || fail "dry run: no topic filters"
[ "$(stat integration_creates)" = 0 ] || fail "a dry run created an integration"
"$G" subscribe-eventbridge >"$tmp/eb1.txt" 2>"$tmp/eb1.log" || fail "subscribe: exit $?"
grep -q '"created":true,"configWritten":true,"enabled":true' "$tmp/eb1.txt" || fail "first run: $(cat "$tmp/eb1.txt")"
w1="$(stat integration_creates) $(stat config_updates) $(stat integration_patches)"
[ "$w1" = "1 1 1" ] || fail "first run writes: $w1"
"$G" subscribe-eventbridge >"$tmp/eb2.txt" 2>"$tmp/eb2.log" || fail "second subscribe: exit $?"
grep -q '"created":false,"configWritten":false,"enabled":false' "$tmp/eb2.txt" || fail "second run: $(cat "$tmp/eb2.txt")"
w2="$(stat integration_creates) $(stat config_updates) $(stat integration_patches)"
[ "$w2" = "1 1 1" ] || fail "the second run wrote: $w1 -> $w2"
curl -fsS "$emu/_emulator/integrations" | python3 -c '
import json, sys
(e,) = json.load(sys.stdin)
p = e["config"]["properties"]
assert e["integration"]["intendedState"] == "ENABLED"
assert p == {"awsAccountId": "123456789012", "awsAccountRegion": "eu-west-1", "eventSourceSuffix": "qalert",
             "eventFilter": ["v2.detail.events.conversation.{id}.acd.start", "v2.detail.events.conversation.{id}.acd.end"]}, p
' || fail "integration config"
QALERT_GENESYS_AWS_REGION=eu-west-2 "$G" subscribe-eventbridge --dry-run >"$tmp/dry2.txt" 2>/dev/null
grep -q '^PUT /api/v2/integrations/.*/config/current$' "$tmp/dry2.txt" || fail "dry run of a change: no PUT"
[ "$(stat config_updates)" = 1 ] || fail "a dry run wrote"
QALERT_GENESYS_AWS_REGION=eu-west-2 "$G" subscribe-eventbridge >"$tmp/eb3.txt" 2>/dev/null || fail "update: exit $?"
w3="$(stat integration_creates) $(stat config_updates) $(stat integration_patches)"
[ "$w3" = "1 2 1" ] || fail "a region change wrote: $w3"
rc=0; QALERT_GENESYS_AWS_ACCOUNT_ID=12345 "$G" subscribe-eventbridge 2>"$tmp/badacct.log" || rc=$?
[ "$rc" = 2 ] && grep -q QALERT_GENESYS_AWS_ACCOUNT_ID "$tmp/badacct.log" || fail "bad account id: exit $rc"
ok "dry run writes nothing; second run writes nothing; region change = one config update"

echo "== 7. the secret never appears"
if grep -l -- "$SECRET" "$tmp"/*.log "$tmp"/*.txt "$tmp"/*.out 2>/dev/null | grep -v secret.txt; then
  fail "the client secret appears in output"
fi
ok "client secret in no output"

# --- broker part ---------------------------------------------------------
if [ "${QALERT_TEST_NO_BROKER:-0}" = 1 ]; then
  echo "QALERT_TEST_NO_BROKER=1: broker part skipped on purpose"; exit 77
fi
: "${QALERT_KAFKA_BROKERS:?}"
id=$(date +%s%N)

echo "== 8. sync-policy --topic"
"$G" sync-policy --topic "policy-$id" 2>"$tmp/topic.log" || fail "sync-policy --topic: exit $?"
kcat -b "$QALERT_KAFKA_BROKERS" -C -t "policy-$id" -o beginning -e -q -f '%k\t%s\n' >"$tmp/topic.txt" 2>/dev/null
[ "$(wc -l <"$tmp/topic.txt")" = 1 ] || fail "want one one-line record on the policy topic, got $(wc -l <"$tmp/topic.txt") lines"
[ "$(cut -f1 "$tmp/topic.txt")" = policy ] || fail "key is not 'policy'"
cut -f2- "$tmp/topic.txt" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["queues"]) == 225' \
  || fail "the record is not the policy"
kcat -b "$QALERT_KAFKA_BROKERS" -L -t "policy-$id" >/dev/null 2>&1 || true
ok "policy published as one record, key 'policy'"

echo "== 9. the processor fires at the synced threshold, and reloads on SIGHUP"
SUPPORT=2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c
SALES=5a1e5000-0000-4000-8000-000000000001
queue() { # queue ID NAME DURATION_MS PERCENTAGE
  curl -fsS -X POST "$emu/_emulator/queue" -H 'Content-Type: application/json' -d "{\"id\":\"$1\",\"name\":\"$2\",
    \"mediaSettings\":{\"call\":{\"alertingTimeoutSeconds\":8,\"serviceLevel\":{\"percentage\":$4,\"durationMs\":$3}}}}" >/dev/null
}
queue "$SUPPORT" Support 45000 0.9
queue "$SALES" Sales 45000 0.9
"$G" sync-policy --out "$tmp/live.json" 2>"$tmp/live-sync.log" || fail "sync for the processor: exit $?"
python3 -c "
import json; q = json.load(open('$tmp/live.json'))['queues']['$SUPPORT']['mediaSettings']['call']['serviceLevel']
assert q == {'durationMs': 45000, 'percentage': 0.9}, q" || fail "Support not synced as a fraction"

raw=graw-$id; al=galerts-$id; st=gstate-$id; pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
QALERT_TOPIC_RAW=$raw QALERT_TOPIC_ALERTS=$al QALERT_TOPIC_STATE=$st QALERT_GROUP_ID=g-$id \
QALERT_TRANSACTIONAL_ID=txn-g-$id QALERT_ADMIN_ADDR=127.0.0.1:$pport QALERT_SLA_POLICY_FILE="$tmp/live.json" \
  "$QALERT_BIN_DIR/qalert-processor" >>"$tmp/processor.log" 2>&1 &
ppid=$!; pids+=("$ppid")
t=0; until curl -fsS -o /dev/null "http://127.0.0.1:$pport/readyz" 2>/dev/null; do
  t=$((t + 1)); [ $t -gt 300 ] && fail "processor not ready"; sleep 0.2; done

T0=1763884800000
ev() { # ev KIND CONV QUEUE TIME [OUTCOME]
  local extra=""; [ -n "${5:-}" ] && extra=",\"acdOutcome\":\"$5\""
  printf '{"topicName":"v2.detail.events.conversation.%s.acd.%s","version":"2","eventBody":{"eventTime":%s,"conversationId":"%s","mediaType":"VOICE","queueId":"%s"%s},"metadata":{"CorrelationId":"corr-%s-%s"}}\n' \
    "$2" "$1" "$4" "$2" "$3" "$extra" "$2" "$1"
}
# W waits on Sales from T0 (threshold 45 s when it starts); the reload comes
# while it waits.
ev start c0000000-0000-4000-8000-00000000000a "$SALES" $T0 >"$tmp/e1.jsonl"
"$QALERT_TEST_DIR/raw_publish" "$raw" "$tmp/e1.jsonl" || fail "publish"
sleep 1.5   # committed with the old policy
queue "$SUPPORT" Support 25000 0.85
queue "$SALES" Sales 25000 0.85
"$G" sync-policy --out "$tmp/live.json" 2>>"$tmp/live-sync.log" || fail "re-sync: exit $?"
kill -HUP "$ppid"
t=0; until grep -q '"msg":"policy reloaded"' "$tmp/processor.log"; do
  t=$((t + 1)); [ $t -gt 100 ] && fail "no reload logged after SIGHUP"; sleep 0.1; done
grep '"msg":"policy reloaded"' "$tmp/processor.log" | grep -q '"added":0,"removed":0,"changed":2' \
  || fail "reload did not log 2 changed queues: $(grep 'policy reloaded' "$tmp/processor.log")"
grep -q "\"msg\":\"policy changed\",\"queue_id\":\"$SUPPORT\",\"name\":\"Support\",\"media\":\"VOICE\",\"old_duration_ms\":45000,\"new_duration_ms\":25000" \
  "$tmp/processor.log" || fail "the changed threshold is not logged"
# D starts on Support after the reload; each queue then gets an event far
# later so that its partition's watermark passes both thresholds.
{
  ev start c0000000-0000-4000-8000-00000000000d "$SUPPORT" $((T0 + 2000))
  ev start c0000000-0000-4000-8000-0000000000e1 "$SUPPORT" $((T0 + 100000))
  ev start c0000000-0000-4000-8000-0000000000e2 "$SALES" $((T0 + 100000))
} >"$tmp/e2.jsonl"
"$QALERT_TEST_DIR/raw_publish" "$raw" "$tmp/e2.jsonl" || fail "publish"
t=0; while :; do
  "$QALERT_BIN_DIR/qalert-replay" print "$al" >"$tmp/alerts.jsonl" 2>"$tmp/replay.log" || true
  [ "$(grep -c '"FIRING"' "$tmp/alerts.jsonl" || true)" -ge 2 ] && break
  t=$((t + 1)); [ $t -gt 60 ] && fail "two FIRING alerts expected; got: $(cat "$tmp/alerts.jsonl")"; sleep 0.5
done
python3 - "$tmp/alerts.jsonl" "$SUPPORT" "$SALES" "$T0" <<'PY' || fail "alerts do not follow the policies"
import json, sys
path, support, sales, t0 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
firing = {}
for line in open(path):
    v = json.loads(line)["value"]
    if v["status"] == "FIRING":
        assert v["groupingKey"] not in firing, "a second FIRING for " + v["groupingKey"]
        firing[v["groupingKey"]] = v
s = firing[support + ":wait_sla_breach:VOICE"]
w = firing[sales + ":wait_sla_breach:VOICE"]
# started after the reload: the new 25 s
assert s["evidence"]["thresholdMs"] == 25000 and s["atMs"] == t0 + 2000 + 25000, s
assert s["queueName"] == "Support", s
# waiting across the reload: the 45 s it started with (not 25 s, not the 20 s default)
assert w["evidence"]["thresholdMs"] == 45000 and w["atMs"] == t0 + 45000, w
PY
ok "Sales (waiting across the reload) fired at its synced 45 s, Support (after) at the new 25 s"
echo '{"queues": {"x": {"mediaSettings": {"call": {"serviceLevel": {"durationMs": -1}}}}}}' >"$tmp/live.json"
kill -HUP "$ppid"
t=0; until grep -q '"msg":"policy reload failed; the running policy stays"' "$tmp/processor.log"; do
  t=$((t + 1)); [ $t -gt 100 ] && fail "a broken policy file was not refused"; sleep 0.1; done
curl -fsS -o /dev/null "http://127.0.0.1:$pport/healthz" || fail "processor died on a broken policy"
ok "a broken file on SIGHUP: error logged, running policy kept"
kill -TERM "$ppid"; rc=0; wait "$ppid" || rc=$?
[ "$rc" = 0 ] || fail "processor exit $rc on SIGTERM"
echo PASS
