#!/bin/bash
# qalert-healthcheck PORT [PATH] — exit 0 when http://127.0.0.1:PORT/PATH
# (default /healthz) answers 200. For docker-compose.yml's healthchecks: the
# runtime image carries no curl or wget, so this speaks HTTP/1.0 over bash's
# /dev/tcp. It only ever talks to localhost and reads one status line.
set -u
port=${1:?usage: qalert-healthcheck PORT [PATH]}
path=${2:-/healthz}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
IFS=' ' read -r -t 5 _ code _ <&3 || exit 1
[ "$code" = 200 ]
