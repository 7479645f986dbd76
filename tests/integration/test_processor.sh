#!/usr/bin/env bash
# qalert-processor on the real broker:
#  1. the fixture scenario gives exactly the expected alerts (FIRING at the
#     threshold while conversation A still waits, RESOLVED when answered);
#  2. state survives a restart: a conversation started before the restart
#     breaches after it (without the changelog its end would start nothing);
#  3. kill -9 at random points of a 10,000-event run, restarting each time:
#     the committed alerts equal those of a run without kills (same alert ids,
#     none lost, none doubled);
#  4. two processors in one group, a third joining and the first leaving
#     mid-run (eager rebalances hand state over through the changelog): the
#     same alerts as the single-processor run;
#  5. the same raw topic processed twice from scratch gives the same alerts.
. "$(dirname "$0")/lib.sh"
fx=$QALERT_FIXTURES
id=$(date +%s%N)

# start_processor NAME RAW ALERTS STATE GROUP [TXN_ID] -> sets PROC_PID, PROC_PORT
# The transactional id stays the same across restarts of one logical
# instance (as a pod's hostname does), so a restart fences its predecessor.
start_processor() {
  PROC_PORT=$(qa_free_port)
  QALERT_TOPIC_RAW=$2 QALERT_TOPIC_ALERTS=$3 QALERT_TOPIC_STATE=$4 QALERT_GROUP_ID=$5 \
  QALERT_TRANSACTIONAL_ID="${6:-txn-$5}" QALERT_ADMIN_ADDR="127.0.0.1:$PROC_PORT" \
  QALERT_SLA_POLICY_FILE="$fx/policy.json" QALERT_LOG_LEVEL=info \
    "$QALERT_BIN_DIR/qalert-processor" >>"$QA_TMP/$1.log" 2>&1 &
  PROC_PID=$!
  QA_PIDS+=("$PROC_PID")
  qa_wait_http "http://127.0.0.1:$PROC_PORT/readyz" 60 || qa_fail "$1 not ready"
}

stop_processor() {
  qa_stop "$PROC_PID" processor
}

# alerts TOPIC: "key status" lines in commit order
alerts() { qa_records "$1" '%k %h\n' | sed -E 's/ .*qalert-status=([A-Z]+).*/ \1/'; }

echo "== 1. scenario"
raw=raw-$id; al=alerts-$id; st=state-$id
start_processor p1 "$raw" "$al" "$st" "g-$id"
"$QALERT_TEST_DIR/raw_publish" "$raw" "$fx/scenario-wait-breach.jsonl"
qa_wait_count "$al" 2 60 || qa_fail "scenario alerts missing"
got=$(alerts "$al")
want="2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c:wait_sla_breach:VOICE FIRING
2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c:wait_sla_breach:VOICE RESOLVED"
[ "$got" = "$want" ] || qa_fail "scenario alerts: got [$got] want [$want]"
curl -fsS "http://127.0.0.1:$PROC_PORT/metrics" | grep -q 'qalert_alerts_emitted_total{alarm_type="wait_sla_breach",status="FIRING"} 1' \
  || qa_fail "metrics lack the emitted FIRING"

echo "== 2. restart keeps state"
start_line='{"topicName":"v2.detail.events.conversation.d0d0d0d0-0000-4000-8000-000000000001.acd.start","version":"2","eventBody":{"eventTime":1763884860000,"conversationId":"d0d0d0d0-0000-4000-8000-000000000001","mediaType":"VOICE","queueId":"2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c"},"metadata":{"CorrelationId":"corr-d-start"}}'
end_line='{"topicName":"v2.detail.events.conversation.d0d0d0d0-0000-4000-8000-000000000001.acd.end","version":"2","eventBody":{"eventTime":1763884900000,"conversationId":"d0d0d0d0-0000-4000-8000-000000000001","mediaType":"VOICE","queueId":"2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c","acdOutcome":"ANSWERED"},"metadata":{"CorrelationId":"corr-d-end"}}'
echo "$start_line" > "$QA_TMP/start.jsonl"; echo "$end_line" > "$QA_TMP/end.jsonl"
"$QALERT_TEST_DIR/raw_publish" "$raw" "$QA_TMP/start.jsonl"
sleep 1.5   # let it commit the start (the commit interval is 100 ms)
stop_processor
start_processor p1b "$raw" "$al" "$st" "g-$id"
"$QALERT_TEST_DIR/raw_publish" "$raw" "$QA_TMP/end.jsonl"
qa_wait_count "$al" 4 60 || qa_fail "the conversation started before the restart did not breach after it"
got=$(alerts "$al" | tail -n 2 | awk '{print $2}' | tr '\n' ' ')
[ "$got" = "FIRING RESOLVED " ] || qa_fail "after restart: $got"
stop_processor

echo "== 3. kill -9 during a 10,000-event run"
n=${QALERT_TEST_KILL_EVENTS:-10000}
rawk=rawk-$id
# reference: one uninterrupted run (the processor creates the raw topic)
start_processor ref "$rawk" "alerts-ref-$id" "state-ref-$id" "g-ref-$id"
"$QALERT_TEST_DIR/raw_publish" --gen "$n" "$rawk"
t=0; while :; do
  done_events=$(curl -fsS "http://127.0.0.1:$PROC_PORT/metrics" | awk '/^qalert_processor_events_total/ {s+=$2} END {print s+0}')
  [ "$done_events" -ge "$n" ] && break
  t=$((t+1)); [ $t -gt 600 ] && qa_fail "reference run too slow: $done_events of $n"
  sleep 0.5
done
sleep 1; stop_processor
qa_records "alerts-ref-$id" '%h\n' | grep -o 'qalert-alert-id=[0-9a-f]*' | sort > "$QA_TMP/ref.ids"
nref=$(wc -l < "$QA_TMP/ref.ids")
[ "$nref" -gt 100 ] || qa_fail "reference run made only $nref alerts"
# the same with kills
RANDOM=42
for k in 1 2 3 4; do
  start_processor "kill$k" "$rawk" "alerts-k-$id" "state-k-$id" "g-k-$id"
  sleep "$(awk -v r=$RANDOM 'BEGIN{printf "%.1f", 0.3 + (r % 20) / 10}')"
  kill -KILL "$PROC_PID"; wait "$PROC_PID" 2>/dev/null || true
done
start_processor final "$rawk" "alerts-k-$id" "state-k-$id" "g-k-$id"
t=0; while :; do
  have=$(qa_records "alerts-k-$id" '%h\n' | grep -c 'qalert-alert-id' || true)
  [ "$have" -ge "$nref" ] && break
  t=$((t+1)); [ $t -gt 600 ] && break
  sleep 0.5
done
sleep 2; stop_processor
qa_records "alerts-k-$id" '%h\n' | grep -o 'qalert-alert-id=[0-9a-f]*' | sort > "$QA_TMP/kill.ids"
if ! diff -q "$QA_TMP/ref.ids" "$QA_TMP/kill.ids" >/dev/null; then
  echo "lost (in reference, not after kills):"; comm -23 "$QA_TMP/ref.ids" "$QA_TMP/kill.ids" | head
  echo "extra or doubled:"; comm -13 "$QA_TMP/ref.ids" "$QA_TMP/kill.ids" | head
  qa_fail "kill -9 run differs from the reference ($nref alerts)"
fi
[ "$(uniq -d "$QA_TMP/kill.ids" | wc -l)" -eq 0 ] || qa_fail "duplicate alert ids after kills"
echo "kill -9 x4: $nref alerts, identical to the uninterrupted run"

echo "== 4. two processors, a third joining mid-run: partitions and state move"
start_processor twoA "$rawk" "alerts-two-$id" "state-two-$id" "g-two-$id" "txn-two-a-$id"
pidA=$PROC_PID; portA=$PROC_PORT
start_processor twoB "$rawk" "alerts-two-$id" "state-two-$id" "g-two-$id" "txn-two-b-$id"
pidB=$PROC_PID
sleep 1.5
start_processor twoC "$rawk" "alerts-two-$id" "state-two-$id" "g-two-$id" "txn-two-c-$id"
pidC=$PROC_PID
sleep 1
PROC_PID=$pidA; stop_processor   # A leaves: its partitions move again
t=0; while :; do
  have=$(qa_records "alerts-two-$id" '%h\n' | grep -c 'qalert-alert-id' || true)
  [ "$have" -ge "$nref" ] && break
  t=$((t+1)); [ $t -gt 600 ] && break
  sleep 0.5
done
sleep 2
PROC_PID=$pidB; stop_processor
PROC_PID=$pidC; stop_processor
qa_records "alerts-two-$id" '%h\n' | grep -o 'qalert-alert-id=[0-9a-f]*' | sort > "$QA_TMP/two.ids"
diff -q "$QA_TMP/ref.ids" "$QA_TMP/two.ids" >/dev/null || {
  comm -3 "$QA_TMP/ref.ids" "$QA_TMP/two.ids" | head; qa_fail "rebalanced run differs from the reference"; }
echo "rebalances: $nref alerts, identical to the single-processor run"

echo "== 5. same raw topic from scratch again"
start_processor again "$rawk" "alerts-again-$id" "state-again-$id" "g-again-$id"
qa_wait_count "alerts-again-$id" "$nref" 300 || qa_fail "second pass incomplete"
sleep 1; stop_processor
qa_records "alerts-again-$id" '%h\n' | grep -o 'qalert-alert-id=[0-9a-f]*' | sort > "$QA_TMP/again.ids"
diff -q "$QA_TMP/ref.ids" "$QA_TMP/again.ids" >/dev/null || qa_fail "second pass differs"
echo "PASS"
