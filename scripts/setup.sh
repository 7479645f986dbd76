#!/usr/bin/env bash
# scripts/setup.sh [--bench] — installs everything qalert needs on a fresh
# Debian (bookworm) machine: the build tool chain and libraries from Debian,
# and the Apache Kafka broker jars from the Maven registry into the cache
# ($QALERT_CACHE, default ~/.cache/qalert). Idempotent: a second run only
# checks. --bench also installs the benchmark tools and peers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

packages=(build-essential cmake ninja-build pkg-config git curl openssl
  librdkafka-dev libmicrohttpd-dev libavro-dev libcurl4-openssl-dev libssl-dev
  libcjson-dev libcmocka-dev kcat clang libclang-rt-14-dev
  openjdk-17-jre-headless maven python3 procps python3-yaml)
if [ "${1:-}" = "--bench" ]; then
  packages+=(wrk prometheus-alertmanager python3-fastapi python3-uvicorn
    python3-matplotlib)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# A JDK from elsewhere (the image's own) is fine for the broker.
if command -v java >/dev/null 2>&1 && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then
  missing=("${missing[@]/openjdk-17-jre-headless}")
fi
if command -v mvn >/dev/null 2>&1; then missing=("${missing[@]/maven}"); fi
read -r -a missing <<< "${missing[*]}"

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

libs=$(qa_kafka_libs)
if [ ! -f "$libs/.complete" ]; then
  echo "setup: fetching Apache Kafka $(qa_kafka_version) broker jars from Maven into $libs" >&2
  rm -rf "$libs"; mkdir -p "$libs"
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime
  ls "$libs"/kafka_2.13-*.jar >/dev/null
  touch "$libs/.complete"
fi
echo "setup: ok (Kafka $(qa_kafka_version) jars in $libs)" >&2
