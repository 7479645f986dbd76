#!/bin/sh
# create-topics.sh — creates every topic qalert uses (SPEC §5) on the compose
# broker, once, before any daemon starts: the broker runs with topic
# auto-creation off, so a misspelt topic name fails loudly instead of
# silently creating a one-partition topic nobody reads. Idempotent
# (--if-not-exists), so `docker compose up` can run it again.
# Runs in the apache/kafka image (POSIX sh, /opt/kafka/bin).
#   BOOTSTRAP    broker address           (default kafka:19092)
#   PARTITIONS   partitions of each topic (default 3; bounds consumer replicas)
#   SINKS        sinks with retry chains  (default "slack opsgenie")
#   RETRIES      retry topics per sink    (default 3: one per QALERT_RETRY_DELAYS_MS entry)
#   KAFKA_TOPICS the kafka-topics.sh to run (tests/static/test_deploy.sh swaps in a recorder)
set -eu
bootstrap=${BOOTSTRAP:-kafka:19092}
partitions=${PARTITIONS:-3}
sinks=${SINKS:-slack opsgenie}
retries=${RETRIES:-3}
raw=${QALERT_TOPIC_RAW:-genesys.events.raw}
alerts=${QALERT_TOPIC_ALERTS:-qalert.alerts}
state=${QALERT_TOPIC_STATE:-qalert.processor.state}
topics=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}

create() {
  name=$1; shift
  "$topics" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" --replication-factor 1 "$@"
}

create "$raw"
create "$alerts"
# The processor's changelog: only the newest record per key matters.
create "$state" --config cleanup.policy=compact
for sink in $sinks; do
  n=1
  while [ "$n" -le "$retries" ]; do
    create "$alerts.$sink.retry.$n"
    n=$((n + 1))
  done
  create "$alerts.$sink.dlq"
done
"$topics" --bootstrap-server "$bootstrap" --list
