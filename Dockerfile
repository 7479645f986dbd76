# syntax=docker/dockerfile:1
# qalert images. One runtime image holds all four binaries (a Deployment or
# compose service picks one with `command`), because they share libqalert and
# are always released together; the emulators image is for the local stack
# only and never ships. The build stage runs exactly the configure command of
# scripts/test.sh's normal build (tests/static/test_deploy.sh checks that), so
# the image is the binary CI tested, not a cousin built with other flags.
#
#   docker build -t qalert .                        # runtime (last stage)
#   docker build --target emulators -t qalert-emulators .

FROM debian:bookworm AS build
# The build packages of scripts/setup.sh minus the test tools; libc6-dev is
# only a Recommends of gcc and --no-install-recommends would drop it.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build pkg-config gcc libc6-dev \
      librdkafka-dev libmicrohttpd-dev libavro-dev libcurl4-openssl-dev \
      libssl-dev libcjson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && ninja -C build qalert-ingest qalert-processor qalert-notifier qalert-replay

# Slack and OpsGenie stand-ins for docker-compose.yml: Python 3 standard
# library only, so nothing but the interpreter is installed.
FROM debian:bookworm-slim AS emulators
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 qalert \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin qalert
COPY tests/emulators /opt/qalert/emulators
USER 10001:10001
WORKDIR /opt/qalert/emulators
CMD ["python3", "slack_emulator.py", "--port", "8001"]

# Runtime: the shared libraries the binaries link, CA certificates for the
# sinks' HTTPS, nothing else (no compiler, no shell tools beyond the base).
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libmicrohttpd12 libavro23 libcurl4 libssl3 libcjson1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 qalert \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin qalert
COPY --from=build /src/build/bin/qalert-ingest /src/build/bin/qalert-processor \
     /src/build/bin/qalert-notifier /src/build/bin/qalert-replay /usr/local/bin/
# Compose has no HTTP probe of its own; Kubernetes uses httpGet instead.
COPY deploy/compose/qalert-healthcheck.sh /usr/local/bin/qalert-healthcheck
# Numeric, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 8080 9400 9401 9402
CMD ["qalert-ingest"]
