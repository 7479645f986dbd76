#!/usr/bin/env bash
# test_emulators.sh — self-test of the fake Slack and OpsGenie (no broker):
# GenieKey refusal, alias de-duplication, close by alias, a 500→200 fault
# sequence, 429 with Retry-After, a dropped connection, a slow answer, Slack
# webhook ok / invalid_payload / no_service, Web API invalid_auth, threading
# and chat.update. The emulators' contracts are what the notifier's tests
# rely on, so they are tested themselves.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
emu="$here/../emulators"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { # check <what> <expected> <actual>
  [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
  echo "ok - $1"
}

# start <name> <args...>: runs an emulator on port 0, sets $port from its
# LISTENING line
start() {
  local name=$1; shift
  python3 "$emu/$name" --host 127.0.0.1 --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do
    if grep -q '^LISTENING ' "$tmp/$name.out" 2>/dev/null; then
      port=$(awk '/^LISTENING /{print $2; exit}' "$tmp/$name.out")
      return 0
    fi
    sleep 0.1
  done
  cat "$tmp/$name.err" >&2
  fail "$name did not start"
}

KEY=test-genie-key-1234
start opsgenie_emulator.py --api-key "$KEY"; og=http://127.0.0.1:$port
start slack_emulator.py --bot-token xoxb-test-token; sl=http://127.0.0.1:$port

# code <curl args...>: prints the HTTP status only
code() { curl -sS -o "$tmp/body" -w '%{http_code}' "$@" || true; }
json() { python3 -c "import json,sys; d=json.load(open('$tmp/body')); print($1)"; }
get() { curl -fsS "$1" >"$tmp/body"; }

create='{"message":"Support VOICE wait breach","alias":"q1:wait_sla_breach:VOICE","priority":"P2","source":"qalert"}'
og_post() { # og_post <path> <body> [key]
  code -X POST "$og$1" -H "Authorization: GenieKey ${3:-$KEY}" \
    -H 'Content-Type: application/json' --data "$2"
}

# --- OpsGenie ---------------------------------------------------------------
check "opsgenie wrong key → 401" 401 "$(og_post /v2/alerts "$create" wrong-key)"
check "opsgenie 401 message" "Could not authenticate" "$(json "d['message']")"
check "opsgenie missing key → 401" 401 "$(code -X POST "$og/v2/alerts" --data "$create")"
check "opsgenie create → 202" 202 "$(og_post /v2/alerts "$create")"
check "opsgenie 202 result" "Request will be processed" "$(json "d['result']")"
check "opsgenie 202 has a requestId" 36 "$(json "len(d['requestId'])")"
check "opsgenie duplicate create → 202" 202 "$(og_post /v2/alerts "$create")"
get "$og/_emulator/alerts"
check "alias de-dup: one alert" 1 "$(json "len(d)")"
check "alias de-dup: count 2" 2 "$(json "d[0]['count']")"
check "alias de-dup: 2 create requests" 2 "$(json "d[0]['create_requests']")"
check "alias de-dup: still open" open "$(json "d[0]['status']")"
check "opsgenie message over 130 → 422" 422 \
  "$(og_post /v2/alerts "{\"message\":\"$(printf 'm%.0s' $(seq 131))\"}")"
check "opsgenie bad priority → 422" 422 "$(og_post /v2/alerts '{"message":"m","priority":"P9"}')"
check "opsgenie no message → 422" 422 "$(og_post /v2/alerts '{"alias":"x"}')"
check "opsgenie invalid JSON → 400" 400 "$(og_post /v2/alerts '{not json')"
check "opsgenie close by alias → 202" 202 \
  "$(og_post '/v2/alerts/q1%3Await_sla_breach%3AVOICE/close?identifierType=alias' '{"source":"qalert","note":"resolved"}')"
get "$og/_emulator/alerts"
check "close by alias: closed" closed "$(json "d[0]['status']")"
check "create after close: a new alert" 202 "$(og_post /v2/alerts "$create")"
get "$og/_emulator/alerts"
check "create after close: two alerts" "2 open 3" "$(json "'%d %s %d' % (len(d), d[1]['status'], d[1]['create_requests'])")"

# fault sequence: 500, 500, then the real answer
curl -fsS -X POST "$og/_emulator/reset" >/dev/null
curl -fsS -X POST "$og/_emulator/faults" --data '[{"status":500,"count":2},{"status":429,"retry_after":3,"count":1}]' >/dev/null
check "fault 1: 500" 500 "$(og_post /v2/alerts "$create")"
check "fault 2: 500" 500 "$(og_post /v2/alerts "$create")"
hdrs=$(curl -sS -D - -o /dev/null -X POST "$og/v2/alerts" -H "Authorization: GenieKey $KEY" --data "$create")
check "fault 3: 429" 1 "$(grep -c '^HTTP/1.1 429' <<<"$hdrs")"
check "fault 3: Retry-After: 3" 3 "$(tr -d '\r' <<<"$hdrs" | awk -F': ' 'tolower($1)=="retry-after"{print $2}')"
check "faults used up: 202" 202 "$(og_post /v2/alerts "$create")"
get "$og/_emulator/alerts"
check "only the answered create made an alert" "1 1" "$(json "'%d %d' % (len(d), d[0]['count'])")"
get "$og/_emulator/requests"
check "every request recorded (4)" 4 "$(json "len(d)")"
check "Authorization masked" "GenieKey ***" "$(json "d[0]['headers']['Authorization']")"
grep -q "$KEY" "$tmp/body" && fail "the API key appears in the recorded requests"
echo "ok - the API key is never recorded"

# a drop: the client sees no answer at all
curl -fsS -X POST "$og/_emulator/faults" --data '[{"drop":true,"count":1}]' >/dev/null
rc=0; curl -sS -o /dev/null -X POST "$og/v2/alerts" -H "Authorization: GenieKey $KEY" --data "$create" 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "drop: curl got an answer"
echo "ok - drop: connection closed without an answer (curl exit $rc)"
check "after the drop: 202" 202 "$(og_post /v2/alerts "$create")"

# a delay: answered, late
curl -fsS -X POST "$og/_emulator/faults" --data '{"delay_ms":700}' >/dev/null
t=$(curl -sS -o /dev/null -w '%{time_total}' -X POST "$og/v2/alerts" -H "Authorization: GenieKey $KEY" --data "$create")
python3 -c "import sys; sys.exit(0 if float('$t') >= 0.65 else 1)" || fail "delay: answered in ${t}s"
echo "ok - delay: answered after ${t}s"
check "bad fault spec → 400" 400 "$(code -X POST "$og/_emulator/faults" --data '[{"count":1}]')"

# --- Slack -----------------------------------------------------------------
hook=/services/T000/B000/secretpart
msg='{"text":"[FIRING] Support","attachments":[{"color":"#d00000","blocks":[]}]}'
check "slack webhook → 200" 200 "$(code -X POST "$sl$hook" -H 'Content-Type: application/json' --data "$msg")"
check "slack webhook body ok" ok "$(cat "$tmp/body")"
check "slack invalid JSON → 400" 400 "$(code -X POST "$sl$hook" -H 'Content-Type: application/json' --data '{oops')"
check "slack invalid_payload" invalid_payload "$(cat "$tmp/body")"
check "slack no text → 400" 400 "$(code -X POST "$sl$hook" --data '{}')"
check "slack unknown path → 404" 404 "$(code -X POST "$sl/services/nope" --data "$msg")"
check "slack no_service" no_service "$(cat "$tmp/body")"
curl -fsS -X POST "$sl/_emulator/faults" --data '[{"status":429,"count":1,"path":"/services/"}]' >/dev/null
hdrs=$(curl -sS -D - -o /dev/null -X POST "$sl$hook" --data "$msg")
check "slack 429 has Retry-After" 1 "$(tr -d '\r' <<<"$hdrs" | grep -ci '^retry-after: 1$')"

api() { # api <method> <body> [token]
  code -X POST "$sl/api/$1" -H "Authorization: Bearer ${3:-xoxb-test-token}" \
    -H 'Content-Type: application/json; charset=utf-8' --data "$2"
}
check "web api wrong token → 200" 200 "$(api chat.postMessage '{"channel":"#alerts","text":"x"}' xoxb-wrong)"
check "web api invalid_auth" "False invalid_auth" "$(json "d['ok'], d['error']" | tr -d "(),'")"
api chat.postMessage "{\"channel\":\"#alerts\",\"text\":\"[FIRING] q\",\"attachments\":[{\"color\":\"#d00000\"}]}" >/dev/null
check "web api postMessage ok" True "$(json "d['ok']")"
ts=$(json "d['ts']"); ch=$(json "d['channel']")
api chat.postMessage "{\"channel\":\"#alerts\",\"thread_ts\":\"$ts\",\"text\":\"[RESOLVED] q\"}" >/dev/null
check "web api reply in thread ok" True "$(json "d['ok']")"
api chat.update "{\"channel\":\"$ch\",\"ts\":\"$ts\",\"text\":\"[RESOLVED] q\",\"attachments\":[{\"color\":\"#2eb886\"}]}" >/dev/null
check "web api chat.update ok" True "$(json "d['ok']")"
api chat.update '{"channel":"#alerts","ts":"1.000001","text":"x"}' >/dev/null
check "web api update unknown ts" message_not_found "$(json "d['error']")"
get "$sl/_emulator/messages"
check "messages: 2, the first updated green" "2 1 #2eb886 $ts" \
  "$(json "'%d %d %s %s' % (len(d), d[0]['updates'], d[0]['colors'][0], d[1]['thread_ts'])")"
curl -fsS -X POST "$sl/_emulator/faults" --data '[{"slack_error":"ratelimited","path":"/api/"}]' >/dev/null
api chat.postMessage '{"channel":"#alerts","text":"x"}' >/dev/null
check "web api fault ok:false ratelimited" ratelimited "$(json "d['error']")"
check "alertmanager recorder → 200" 200 "$(code -X POST "$sl/alertmanager" --data '{"alerts":[]}')"
get "$sl/_emulator/requests"
grep -q xoxb-test-token "$tmp/body" && fail "the bot token appears in the recorded requests"
echo "ok - the bot token is never recorded"
curl -fsS -X POST "$sl/_emulator/reset" >/dev/null
get "$sl/_emulator/requests"
check "reset forgets requests" 0 "$(json "len(d)")"
echo "all emulator checks passed"
