# Shared shell helpers for scripts/*.sh (sourced, not run).
QA_KAFKA_VERSION_DEFAULT=3.9.1
qa_cache() { echo "${QALERT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qalert}"; }
qa_kafka_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$(dirname "${BASH_SOURCE[0]}")/kafka/pom.xml"
}
qa_kafka_libs() { echo "$(qa_cache)/kafka-$(qa_kafka_version)/libs"; }
