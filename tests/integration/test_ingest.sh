#!/usr/bin/env bash
# test_ingest.sh — qalert-ingest against a real broker, through its public
# surfaces only: HTTP in (curl, signatures by `openssl dgst`, an independent
# signer), the raw topic out (kcat), exit codes and signals.
#
# Covers: every fixture on its endpoint (202, count and keys on the topic,
# original bytes in the record), every bad body (400 and nothing published),
# 401/404/405/413/415, HMAC rotation, bearer tokens, the secrets file
# re-read on SIGHUP, SIGTERM → exit 0, no credential → exit 2.
set -u

[ "${QALERT_TEST_NO_BROKER:-0}" = 1 ] && { echo "no broker: skipped"; exit 77; }

BIN=${QALERT_BIN_DIR:?}/qalert-ingest
FIX=${QALERT_FIXTURES:?}
BROKERS=${QALERT_KAFKA_BROKERS:?}
SECRET=qalert-fixture-secret
work=$(mktemp -d)
topic="it-ingest-raw-$$-$(date +%s)"
pids=()
failures=0

cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
free_port() {
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}
sign() { openssl dgst -sha256 -hmac "$1" "$2" | awk '{print $NF}'; }

# start_ingest NAME PORT ENV... : runs the binary in the background, waits
# for /healthz and /readyz; sets the variable NAME to its pid.
start_ingest() {
    local name=$1 port=$2 probe=${PROBE:-readyz}
    shift 2
    env QALERT_INGEST_ADDR="127.0.0.1:$port" QALERT_TOPIC_RAW="$topic" \
        QALERT_KAFKA_BROKERS="$BROKERS" QALERT_SHUTDOWN_TIMEOUT_MS=8000 "$@" \
        "$BIN" 2>>"$work/$name.log" &
    local pid=$!
    pids+=("$pid")
    printf -v "$name" '%s' "$pid"
    for _ in $(seq 1 150); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/$probe")" = 200 ]; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log"; echo "ingest died"; exit 1; }
        sleep 0.2
    done
    cat "$work/$name.log"
    echo "ingest not ready"
    exit 1
}

# post PORT ENDPOINT FILE [curl args...] → prints the status; body in $work/resp
post() {
    local port=$1 ep=$2 file=$3
    shift 3
    curl -s --max-time 20 -o "$work/resp" -w '%{http_code}' \
        -H 'Content-Type: application/json' "$@" \
        --data-binary "@$file" "http://127.0.0.1:$port/v1/events/$ep"
}

# expect_post WANT_STATUS PORT ENDPOINT FILE SECRET [WANT_ERROR]
expect_post() {
    local want=$1 port=$2 ep=$3 file=$4 secret=$5 werr=${6:-}
    local got
    got=$(post "$port" "$ep" "$file" -H "X-Genesys-Signature: $(sign "$secret" "$file")")
    if [ "$got" != "$want" ]; then
        fail "$ep $(basename "$file"): status $got, want $want: $(cat "$work/resp")"
    elif [ -n "$werr" ] && ! grep -q "\"error\":\"$werr\"" "$work/resp"; then
        fail "$ep $(basename "$file"): body $(cat "$work/resp"), want error $werr"
    fi
}

topic_dump() { # one line per record: key TAB value-with-newlines-squashed
    kcat -b "$BROKERS" -C -t "$topic" -e -o beginning -q -f '%k\t%s\n--end--\n' 2>/dev/null |
        tr '\n' ' ' | sed 's/ --end-- /\n/g'
}
topic_count() { kcat -b "$BROKERS" -C -t "$topic" -e -o beginning -q -f 'x\n' 2>/dev/null | grep -c x; }

# --- no credential: refuses to start ----------------------------------------
env -u QALERT_INGEST_HMAC_SECRETS QALERT_INGEST_ADDR=127.0.0.1:0 "$BIN" >/dev/null 2>"$work/nocred.log"
rc=$?
[ "$rc" = 2 ] || fail "no credential: exit $rc, want 2"
grep -q "no credential" "$work/nocred.log" || fail "no credential: reason missing: $(cat "$work/nocred.log")"
"$BIN" --help | grep -q QALERT_INGEST_HMAC_SECRETS || fail "--help lacks QALERT_INGEST_HMAC_SECRETS"

# --- instance A: secrets by variable (two: rotation), a bearer token ---------
portA=$(free_port)
start_ingest A "$portA" QALERT_INGEST_HMAC_SECRETS="$SECRET,second-secret-abc" \
    QALERT_INGEST_BEARER_TOKENS="tok-$$-xyz" QALERT_INGEST_MAX_BODY=1048576
# A second ingest on a port in use: exit 1, not a silently shared port
# (its HTTP threads listen with SO_REUSEPORT).
QALERT_INGEST_ADDR=127.0.0.1:$portA QALERT_INGEST_HMAC_SECRETS=x QALERT_INGEST_THREADS=2 \
    QALERT_TOPIC_RAW="$topic" timeout 30 "$BIN" >/dev/null 2>"$work/inuse.log"
rc=$?
[ "$rc" = 1 ] || fail "port in use: exit $rc, want 1"
grep -q "cannot listen" "$work/inuse.log" || fail "port in use: $(cat "$work/inuse.log")"
expected=0
for f in webhook-flat-breach.json webhook-flat-within.json webhook-user-presence.json \
         webhook-queue-stats-low.json notification-acd-start.json notification-acd-end.json; do
    expect_post 202 "$portA" genesys "$FIX/$f" "$SECRET"
    grep -q '"accepted":1' "$work/resp" || fail "$f: $(cat "$work/resp")"
    expected=$((expected + 1))
done
expect_post 202 "$portA" genesys "$FIX/webhook-batch.json" "$SECRET"
grep -q '"accepted":2' "$work/resp" || fail "batch: $(cat "$work/resp")"
expected=$((expected + 2))
# More than 32 events: the bulk producer's lane (ingest/publisher.c).
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(json.dumps([e]*40))' \
    "$FIX/webhook-flat-within.json" >"$work/batch40.json"
expect_post 202 "$portA" genesys "$work/batch40.json" "$SECRET"
grep -q '"accepted":40' "$work/resp" || fail "batch of 40: $(cat "$work/resp")"
expected=$((expected + 40))
expect_post 202 "$portA" eventbridge "$FIX/eventbridge-acd-start.json" "$SECRET"
expected=$((expected + 1))
got=$(post "$portA" eventbridge "$FIX/eventbridge-acd-end.json" -H "Authorization: Bearer tok-$$-xyz")
[ "$got" = 202 ] || fail "bearer: $got $(cat "$work/resp")"
expected=$((expected + 1))
# Rotation: the second secret verifies too.
expect_post 202 "$portA" genesys "$FIX/webhook-flat-breach.json" second-secret-abc
expected=$((expected + 1))

# --- refusals: nothing published ---------------------------------------------
for f in "$FIX"/bad/*; do
    case $(basename "$f") in
    deep-nesting.json | invalid-utf8.json | not-json.txt | truncated.json) want=invalid_json ;;
    *) want=invalid_event ;;
    esac
    expect_post 400 "$portA" genesys "$f" "$SECRET" "$want"
done
expect_post 400 "$portA" eventbridge "$FIX/notification-acd-start.json" "$SECRET" invalid_event
expect_post 401 "$portA" genesys "$FIX/webhook-flat-breach.json" wrong-secret unauthorized
got=$(post "$portA" genesys "$FIX/webhook-flat-breach.json")
[ "$got" = 401 ] || fail "unsigned: $got"
got=$(post "$portA" eventbridge "$FIX/eventbridge-acd-end.json" -H "Authorization: Bearer nope")
[ "$got" = 401 ] || fail "wrong bearer: $got"
head -c 2097152 /dev/zero | tr '\0' 'a' >"$work/big"
expect_post 413 "$portA" genesys "$work/big" "$SECRET" too_large
got=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' \
      -H "X-Genesys-Signature: $(sign "$SECRET" "$FIX/webhook-flat-breach.json")" \
      --data-binary "@$FIX/webhook-flat-breach.json" "http://127.0.0.1:$portA/v1/events/genesys")
[ "$got" = 415 ] || fail "text/plain: $got"
got=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$portA/v1/events/genesys")
[ "$got" = 405 ] || fail "GET on the endpoint: $got"
got=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$portA/v1/nope")
[ "$got" = 404 ] || fail "unknown path: $got"
curl -s "http://127.0.0.1:$portA/healthz" -o /dev/null -w '%{http_code}' | grep -q 200 || fail healthz
curl -s "http://127.0.0.1:$portA/metrics" >"$work/metrics"
for m in qalert_build_info qalert_ingest_requests_total qalert_ingest_events_total \
         qalert_ingest_publish_seconds qalert_ingest_auth_failures_total; do
    grep -q "^$m" "$work/metrics" || fail "metrics: $m missing"
done
grep -q 'qalert_ingest_requests_total{.*code="202"' "$work/metrics" || fail "no 202 counted"
grep -q "$SECRET" "$work/A.log" "$work/metrics" && fail "a secret appears in logs or metrics"

# --- the topic: exactly the accepted events, keyed and byte-exact -------------
n=$(topic_count)
[ "$n" = "$expected" ] || fail "topic has $n records, want $expected"
topic_dump >"$work/dump"
grep -q '^2b1f8a3c-6d4e-4f5a-8b9c-0d1e2f3a4b5c	' "$work/dump" || fail "no record keyed by the Support queue"
grep -q '^7c6d5e4f-3a2b-4c1d-9e8f-7a6b5c4d3e2f	' "$work/dump" || fail "no record keyed by the Billing queue"
# The presence event has neither queue nor conversation: keyed by its sha256 id.
pid_key=$(python3 -c "import hashlib;print(hashlib.sha256(open('$FIX/webhook-user-presence.json','rb').read().strip()).hexdigest())")
grep -q "^$pid_key	" "$work/dump" || fail "presence event not keyed by its sha256 id"
grep -q 'e-corr-c0ffee01-start' "$work/dump" || fail "EventBridge id missing from the records"
grep -q '"acdOutcome": "ANSWERED"' "$work/dump" || fail "original bytes missing from the records"

# --- instance B: secrets file, re-read on SIGHUP ------------------------------
printf 'file-secret-one\n' >"$work/secrets"
portB=$(free_port)
start_ingest B "$portB" QALERT_INGEST_HMAC_SECRETS_FILE="$work/secrets"
expect_post 202 "$portB" genesys "$FIX/webhook-flat-within.json" file-secret-one
expected=$((expected + 1))
printf 'file-secret-two\nfile-secret-three\n' >"$work/secrets"
kill -HUP "$B"
sleep 0.5
expect_post 401 "$portB" genesys "$FIX/webhook-flat-within.json" file-secret-one unauthorized
expect_post 202 "$portB" genesys "$FIX/webhook-flat-within.json" file-secret-three
expected=$((expected + 1))
grep -q "credentials reloaded" "$work/B.log" || fail "no reload logged"
grep -q "file-secret" "$work/B.log" && fail "a file secret appears in the log"
kill -0 "$B" || fail "SIGHUP killed ingest"

# --- no broker: 503 with Retry-After within the publish timeout --------------
portC=$(free_port)
PROBE=healthz start_ingest C "$portC" QALERT_INGEST_HMAC_SECRETS="$SECRET" \
    QALERT_KAFKA_BROKERS=127.0.0.1:1 QALERT_INGEST_PUBLISH_TIMEOUT_MS=1500
got=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$portC/readyz")
[ "$got" = 503 ] || fail "readyz without a broker: $got"
start_ms=$(date +%s%3N)
got=$(curl -s -D "$work/hdr" -o "$work/resp" -w '%{http_code}' --max-time 20 \
      -H 'Content-Type: application/json' \
      -H "X-Genesys-Signature: $(sign "$SECRET" "$FIX/webhook-flat-breach.json")" \
      --data-binary "@$FIX/webhook-flat-breach.json" "http://127.0.0.1:$portC/v1/events/genesys")
took=$(($(date +%s%3N) - start_ms))
[ "$got" = 503 ] || fail "no broker: $got $(cat "$work/resp")"
grep -qi '^Retry-After: 1' "$work/hdr" || fail "no broker: Retry-After missing"
grep -q '"error":"unavailable"' "$work/resp" || fail "no broker: $(cat "$work/resp")"
[ "$took" -lt 4000 ] || fail "no broker: answered after $took ms"

# --- SIGTERM: exit 0 ----------------------------------------------------------
for name in A B C; do
    pid=${!name}
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" = 0 ] || fail "instance $name: exit $rc after SIGTERM, want 0"
done
n=$(topic_count)
[ "$n" = "$expected" ] || fail "topic has $n records at the end, want $expected"

if [ "$failures" -gt 0 ]; then
    echo "--- A log"; tail -n 30 "$work/A.log"
    echo "$failures failure(s)"
    exit 1
fi
echo "ok: $expected records on $topic"
