#!/usr/bin/env bash
# CTest fixture: a fresh single-node Kafka broker for the integration tests,
# on QALERT_KAFKA_PORT (19092 by default, so a demo broker on 9092 is left
# alone) with its state in the build tree. Exit 77 (skip) only when
# QALERT_TEST_NO_BROKER=1 is set on purpose; any other failure fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${QALERT_TEST_NO_BROKER:-0}" = 1 ]; then
  echo "QALERT_TEST_NO_BROKER=1: broker tests skipped on purpose"; exit 77
fi
case "$1" in
  start)
    "$top/scripts/kafka.sh" stop >/dev/null 2>&1 || true
    rm -rf "${QALERT_KAFKA_STATE:?}"
    "$top/scripts/kafka.sh" start
    ;;
  stop)
    "$top/scripts/kafka.sh" stop
    ;;
esac
