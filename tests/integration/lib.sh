# Shared helpers for the integration tests (sourced). They talk to the real
# broker at $QALERT_KAFKA_BROKERS and to the binaries in $QALERT_BIN_DIR, only
# through public surfaces: HTTP, topics, exit codes.
set -euo pipefail
if [ "${QALERT_TEST_NO_BROKER:-0}" = 1 ]; then
  echo "QALERT_TEST_NO_BROKER=1: skipped on purpose"; exit 77
fi
: "${QALERT_KAFKA_BROKERS:?}" "${QALERT_BIN_DIR:?}" "${QALERT_TEST_DIR:?}"
QA_PIDS=()
QA_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qalert-it.XXXXXX")
qa_cleanup() {
  for pid in "${QA_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$QA_TMP"
}
trap qa_cleanup EXIT

qa_fail() { echo "FAIL: $*" >&2; for f in "$QA_TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; } >&2; done; exit 1; }

qa_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# qa_stop PID WHAT: SIGTERM, then fails the test unless PID exits 0.
qa_stop() {
  kill -TERM "$1"
  local rc=0; wait "$1" || rc=$?
  [ "$rc" -eq 0 ] || qa_fail "$2 exited $rc on SIGTERM"
}

# qa_wait_http URL SECONDS: until it answers 200.
qa_wait_http() {
  local t=0
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    t=$((t + 1)); [ "$t" -gt $(( $2 * 5 )) ] && return 1; sleep 0.2
  done
}

# qa_records TOPIC FORMAT: every committed record of TOPIC, one line each.
qa_records() {
  kcat -b "$QALERT_KAFKA_BROKERS" -C -t "$1" -o beginning -e -q \
    -X isolation.level=read_committed -f "$2" 2>/dev/null || true
}

# qa_wait_count TOPIC N SECONDS: until TOPIC holds at least N records.
qa_wait_count() {
  local t=0 n
  while :; do
    n=$(qa_records "$1" '%o\n' | wc -l)
    [ "$n" -ge "$2" ] && return 0
    t=$((t + 1)); [ "$t" -gt $(( $3 * 2 )) ] && { echo "only $n of $2 records in $1" >&2; return 1; }
    sleep 0.5
  done
}

