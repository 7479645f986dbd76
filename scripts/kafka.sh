#!/usr/bin/env bash
# scripts/kafka.sh start|stop|status — a single-node Apache Kafka broker (KRaft,
# combined broker+controller) on 127.0.0.1 for the tests and the demo.
#
# The broker jars come from the Maven registry (scripts/kafka/pom.xml, fetched
# by scripts/setup.sh into $QALERT_CACHE). State lives in
# ${QALERT_KAFKA_STATE:-.kafka/}; the listener is ${QALERT_KAFKA_PORT:-9092}
# and the controller listener the port above it. `start` waits until the broker
# answers a metadata request and prints 127.0.0.1:PORT as its last line.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

port=${QALERT_KAFKA_PORT:-9092}
cport=${QALERT_KAFKA_CONTROLLER_PORT:-$((port + 1))}
state=${QALERT_KAFKA_STATE:-$top/.kafka}
libs="$(qa_kafka_libs)"
pidfile="$state/broker.pid"
logfile="$state/broker.log"
start_timeout=${QALERT_KAFKA_START_TIMEOUT:-60}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# A metadata request through an independent client (kcat), so "started"
# means what clients need, not a log line.
serves_metadata() {
  kcat -b "127.0.0.1:$port" -L -m 3 >/dev/null 2>&1
}

write_config() {
  mkdir -p "$state/data"
  cat > "$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.enable=true
log.retention.hours=168
log.segment.bytes=67108864
PROPS
  cat > "$state/log4j.properties" <<'LOG'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
LOG
}

java_run() {
  java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$state/log4j.properties" \
    -cp "$libs/*" "$@"
}

cmd_start() {
  if running; then
    serves_metadata || { echo "broker pid $(cat "$pidfile") runs but serves no metadata on $port" >&2; exit 1; }
    echo "127.0.0.1:$port"
    return 0
  fi
  [ -d "$libs" ] || { echo "Kafka broker jars missing in $libs: run scripts/setup.sh" >&2; exit 1; }
  command -v java >/dev/null || { echo "java missing: run scripts/setup.sh" >&2; exit 1; }
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken by another process; set QALERT_KAFKA_PORT" >&2; exit 1
  fi
  write_config
  if [ ! -f "$state/data/meta.properties" ]; then
    id=$(java_run kafka.tools.StorageTool random-uuid 2>>"$logfile" | tail -n 1)
    java_run kafka.tools.StorageTool format -t "$id" -c "$state/server.properties" >>"$logfile" 2>&1 \
      || { echo "formatting $state/data failed; see $logfile" >&2; tail -n 20 "$logfile" >&2; exit 1; }
  fi
  nohup java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$state/log4j.properties" \
    -cp "$libs/*" kafka.Kafka "$state/server.properties" >>"$logfile" 2>&1 </dev/null &
  echo $! > "$pidfile"
  t0=$(date +%s)
  until serves_metadata; do
    if ! running; then
      echo "broker exited during start-up; last lines of $logfile:" >&2
      tail -n 30 "$logfile" >&2; rm -f "$pidfile"; exit 1
    fi
    if [ $(( $(date +%s) - t0 )) -ge "$start_timeout" ]; then
      echo "broker did not serve metadata within ${start_timeout}s; see $logfile" >&2
      tail -n 30 "$logfile" >&2; cmd_stop >/dev/null 2>&1 || true; exit 1
    fi
    sleep 0.3
  done
  echo "Kafka $(qa_kafka_version) broker (KRaft) ready in $(( $(date +%s) - t0 ))s, pid $(cat "$pidfile"), state $state" >&2
  echo "127.0.0.1:$port"
}

cmd_stop() {
  if ! running; then rm -f "$pidfile"; echo "broker not running"; return 0; fi
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "broker stopped"
}

cmd_status() {
  if running; then echo "running, pid $(cat "$pidfile"), 127.0.0.1:$port"; return 0; fi
  echo "not running"; return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
