#!/usr/bin/env bash
# qalert-processor following the SLA policy topic (QALERT_SLA_POLICY_TOPIC,
# no policy file), as `qalert-genesys sync-policy --topic` writes it:
#  1. the topic is read to its end before the first raw event: queue 1's
#     first conversation fires at the topic's 5 s, not the 20 s default;
#  2. a new record while running is swapped in: queue 2's conversation,
#     started after it, fires at the new 9 s (not the first record's 6 s);
#  3. a record that is not a valid policy is logged and ignored: queue 3
#     fires at the 9 s of the last valid record;
#  4. a policy topic missing at start is a warning, not an exit: the file
#     is in force until the topic appears, then the topic's record wins
#     (and SIGHUP no longer brings the file back);
#  5. SIGTERM: exit 0.
. "$(dirname "$0")/lib.sh"
id=$(date +%s%N)
Q1=2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c
Q2=7c6d5e4f-3a2b-4c1d-9e8f-7a6b5c4d3e2f
Q3=9e9e9e9e-0000-4000-8000-000000000001
T0=1763884800000

policy() { # policy MS1 MS2 MS3 -> one-line policy JSON
  printf '{"queues":{"%s":{"mediaSettings":{"call":{"serviceLevel":{"durationMs":%s,"percentage":0.9}}}},"%s":{"mediaSettings":{"call":{"serviceLevel":{"durationMs":%s,"percentage":0.9}}}},"%s":{"mediaSettings":{"call":{"serviceLevel":{"durationMs":%s,"percentage":0.9}}}}}}' \
    "$Q1" "$1" "$Q2" "$2" "$Q3" "$3"
}
publish_policy() { # publish_policy TOPIC TEXT
  printf '%s' "$2" >"$QA_TMP/policy.json"
  "$QALERT_TEST_DIR/raw_publish" --policy "$1" "$QA_TMP/policy.json" 2>>"$QA_TMP/publish.log" \
    || qa_fail "could not publish the policy to $1"
}
ev() { # ev CONV QUEUE TIME: an acd.start on VOICE
  printf '{"topicName":"v2.detail.events.conversation.%s.acd.start","version":"2","eventBody":{"eventTime":%s,"conversationId":"%s","mediaType":"VOICE","queueId":"%s"},"metadata":{"CorrelationId":"corr-%s"}}\n' \
    "$1" "$3" "$1" "$2" "$1"
}
start_processor() { # start_processor NAME POLICY_TOPIC [POLICY_FILE] -> PROC_PID, PROC_PORT
  PROC_PORT=$(qa_free_port)
  QALERT_TOPIC_RAW=raw-$1-$id QALERT_TOPIC_ALERTS=alerts-$1-$id QALERT_TOPIC_STATE=state-$1-$id \
  QALERT_GROUP_ID=g-$1-$id QALERT_TRANSACTIONAL_ID=txn-$1-$id QALERT_ADMIN_ADDR="127.0.0.1:$PROC_PORT" \
  QALERT_SLA_POLICY_TOPIC=$2 QALERT_SLA_POLICY_FILE=${3:-} QALERT_LOG_LEVEL=info \
    "$QALERT_BIN_DIR/qalert-processor" >>"$QA_TMP/$1.log" 2>&1 &
  PROC_PID=$!
  QA_PIDS+=("$PROC_PID")
  qa_wait_http "http://127.0.0.1:$PROC_PORT/readyz" 60 || qa_fail "$1 not ready"
}
stop_processor() {
  qa_stop "$PROC_PID" processor
}
wait_log() { # wait_log FILE PATTERN SECONDS
  local t=0
  until grep -q -- "$2" "$1"; do
    t=$((t + 1)); [ "$t" -gt $(( $3 * 10 )) ] && qa_fail "not logged in $1: $2"; sleep 0.1
  done
}
# firing QUEUE: "thresholdMs atMs" of the queue's FIRING alert (empty: none yet)
firing() {
  "$QALERT_BIN_DIR/qalert-replay" print "alerts-p-$id" 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    v = json.loads(line)["value"]
    if v["status"] == "FIRING" and v["groupingKey"] == sys.argv[1] + ":wait_sla_breach:VOICE":
        print(v["evidence"]["thresholdMs"], v["atMs"]); break' "$1" || true
}
wait_firing() { # wait_firing QUEUE WANT_THRESHOLD START_TIME
  local t=0 got
  while :; do
    got=$(firing "$1")
    [ -n "$got" ] && break
    t=$((t + 1)); [ "$t" -gt 60 ] && qa_fail "no FIRING for queue $1"; sleep 0.5
  done
  [ "$got" = "$2 $(( $3 + $2 ))" ] || qa_fail "queue $1 fired with [$got], want threshold $2 at $(( $3 + $2 ))"
}

echo "== 1. the topic's policy is in force before the first event"
pol=policy-$id
publish_policy "$pol" "$(policy 5000 6000 7000)"
start_processor p "$pol"
wait_log "$QA_TMP/p.log" '"msg":"policy in force","source":"topic"' 5
ev c0000000-0000-4000-8000-000000000001 "$Q1" $T0 >"$QA_TMP/e1.jsonl"
"$QALERT_TEST_DIR/raw_publish" "raw-p-$id" "$QA_TMP/e1.jsonl" 2>>"$QA_TMP/publish.log"
wait_firing "$Q1" 5000 $T0
echo "ok: queue 1 fired at the topic's 5 s"

echo "== 2. a new record is followed while running"
publish_policy "$pol" "$(policy 5000 9000 9000)"
wait_log "$QA_TMP/p.log" "\"msg\":\"policy changed\",\"queue_id\":\"$Q2\",\"name\":\"\",\"media\":\"VOICE\",\"old_duration_ms\":6000,\"new_duration_ms\":9000" 10
ev c0000000-0000-4000-8000-000000000002 "$Q2" $((T0 + 1000)) >"$QA_TMP/e2.jsonl"
"$QALERT_TEST_DIR/raw_publish" "raw-p-$id" "$QA_TMP/e2.jsonl" 2>>"$QA_TMP/publish.log"
wait_firing "$Q2" 9000 $((T0 + 1000))
echo "ok: queue 2 fired at the new 9 s"

echo "== 3. an invalid record changes nothing"
publish_policy "$pol" "$(policy 5000 9000 -1)"
wait_log "$QA_TMP/p.log" '"msg":"policy topic record ignored; the running policy stays"' 10
grep '"msg":"policy topic record ignored' "$QA_TMP/p.log" | grep -q 'durationMs' \
  || qa_fail "the refusal does not name the bad field"
ev c0000000-0000-4000-8000-000000000003 "$Q3" $((T0 + 2000)) >"$QA_TMP/e3.jsonl"
"$QALERT_TEST_DIR/raw_publish" "raw-p-$id" "$QA_TMP/e3.jsonl" 2>>"$QA_TMP/publish.log"
wait_firing "$Q3" 9000 $((T0 + 2000))
echo "ok: queue 3 fired at the last valid record's 9 s"
stop_processor

echo "== 4. a policy topic missing at start"
policy 30000 30000 30000 >"$QA_TMP/file.json"
start_processor m "late-$pol" "$QA_TMP/file.json"
wait_log "$QA_TMP/m.log" '"msg":"policy topic not readable' 5
wait_log "$QA_TMP/m.log" '"msg":"policy in force","source":"file"' 5
publish_policy "late-$pol" "$(policy 4000 4000 4000)"
wait_log "$QA_TMP/m.log" '"msg":"policy reloaded","topic":"late-' 20
grep -q '"msg":"policy changed".*"old_duration_ms":30000,"new_duration_ms":4000' "$QA_TMP/m.log" \
  || qa_fail "the topic's record did not replace the file's policy"
kill -HUP "$PROC_PID"
wait_log "$QA_TMP/m.log" '"msg":"SIGHUP ignored' 5
curl -fsS -o /dev/null "http://127.0.0.1:$PROC_PORT/healthz" || qa_fail "processor not healthy"
echo "ok: warned, kept the file, took the topic once it appeared"

echo "== 5. SIGTERM"
stop_processor
echo PASS
