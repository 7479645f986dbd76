#!/usr/bin/env python3
"""slack_emulator.py — a fake Slack (incoming webhooks and the Web API) for
tests, the demo and the benchmark.

Why: the notifier must be tested against Slack's real answers — webhook
"ok" / invalid_payload / no_service, Web API HTTP 200 {"ok":false,...},
429 with Retry-After — with failures on demand, without a workspace.

Routes:
  POST /services/<T>/<B>/<secret>     incoming webhook: 200 "ok" (text/plain);
                                      bad JSON 400 invalid_payload; no text,
                                      blocks or attachments 400 no_text;
                                      any other path 404 no_service
  POST /api/chat.postMessage          Authorization: Bearer <--bot-token>;
  POST /api/chat.update               wrong → 200 {"ok":false,"error":"invalid_auth"}
  POST /alertmanager[/...]            records anything (Prometheus Alertmanager's
                                      webhook in the benchmark), 200 "ok"
  GET  /_emulator/messages            Web API messages: channel, ts, thread_ts,
                                      text, attachments' colours, updates
plus the shared control API (emulator_common.py): requests, reset, faults.

Never records or prints the bot token: Authorization is masked.
"""

import hashlib
import json
import re
import sys
import time
from urllib.parse import parse_qs

sys.dont_write_bytecode = True  # importing must not write __pycache__ into the tree
from emulator_common import Emulator, base_parser, json_bytes, serve

WEBHOOK = re.compile(r"^/services/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/?$")
CHANNEL_ID = re.compile(r"^[CDG][A-Z0-9]{6,}$")


def text_answer(status, text):
    return status, "text/plain; charset=utf-8", text.encode(), {}


def api_answer(obj):
    return 200, "application/json; charset=utf-8", json_bytes(obj), {}


def has_content(msg):
    return bool(msg.get("text") or msg.get("blocks") or msg.get("attachments"))


class Slack(Emulator):
    name = "slack"

    def __init__(self, args):
        super().__init__(args)
        self.reset_state()

    def reset_state(self):
        self.messages = []  # Web API messages, in posting order
        self.ts_seq = 0

    def fault_answer(self, fault, req):
        if fault.body is not None:
            return fault.status, fault.content_type or "text/plain", fault.body.encode(), {}
        if req["route"].startswith("/api/"):
            return fault.status, "application/json", json_bytes(
                {"ok": False, "error": "ratelimited" if fault.status == 429
                 else f"emulated_{fault.status}"}), {}
        return text_answer(fault.status, "rate_limited" if fault.status == 429
                           else f"emulated_{fault.status}")

    @staticmethod
    def payload(req):
        """A JSON body, or Slack's form encoding (payload=<json> / fields)."""
        ctype = (req["headers"].get("Content-Type") or "").lower()
        if "application/x-www-form-urlencoded" in ctype:
            form = {k: v[-1] for k, v in parse_qs(req["body"]).items()}
            if "payload" in form:
                try:
                    return json.loads(form["payload"])
                except ValueError:
                    return None
            return form
        return req["json"]

    def handle(self, req):
        method, path = req["method"], req["route"]
        if path == "/alertmanager" or path.startswith("/alertmanager/"):
            return text_answer(200, "ok")
        if path.startswith("/api/"):
            return self.web_api(req, path[len("/api/"):])
        if method != "POST" or not WEBHOOK.match(path):
            return text_answer(404, "no_service")
        msg = self.payload(req)
        if not isinstance(msg, dict):
            return text_answer(400, "invalid_payload")
        if not has_content(msg):
            return text_answer(400, "no_text")
        return text_answer(200, "ok")

    def channel_id(self, channel):
        if CHANNEL_ID.match(channel):
            return channel
        digest = hashlib.sha1(channel.lstrip("#").encode()).hexdigest().upper()
        return "C" + digest[:10]

    def next_ts(self):
        self.ts_seq += 1
        return "%d.%06d" % (int(time.time()), self.ts_seq)

    def web_api(self, req, api_method):
        if req["method"] != "POST":
            return api_answer({"ok": False, "error": "invalid_request"})
        auth = req["authorization"]
        if not auth:
            return api_answer({"ok": False, "error": "not_authed"})
        if auth != f"Bearer {self.args.bot_token}":
            return api_answer({"ok": False, "error": "invalid_auth"})
        msg = self.payload(req)
        if not isinstance(msg, dict):
            return api_answer({"ok": False, "error": "invalid_json"})
        channel = msg.get("channel")
        if not isinstance(channel, str) or not channel:
            return api_answer({"ok": False, "error": "channel_not_found"})
        cid = self.channel_id(channel)
        if api_method == "chat.postMessage":
            if not has_content(msg):
                return api_answer({"ok": False, "error": "no_text"})
            with self.lock:
                thread_ts = msg.get("thread_ts")
                if thread_ts is not None and not any(
                        m["ts"] == thread_ts and m["channel"] == cid for m in self.messages):
                    return api_answer({"ok": False, "error": "thread_not_found"})
                m = {"channel": cid, "ts": self.next_ts(), "thread_ts": thread_ts,
                     "text": msg.get("text"), "attachments": msg.get("attachments"),
                     "blocks": msg.get("blocks"), "updates": 0, "time": time.time()}
                self.messages.append(m)
            return api_answer({"ok": True, "channel": cid, "ts": m["ts"],
                               "message": {"text": m["text"], "ts": m["ts"]}})
        if api_method == "chat.update":
            ts = msg.get("ts")
            with self.lock:
                m = next((m for m in self.messages if m["ts"] == ts and m["channel"] == cid),
                         None)
                if m is None:
                    return api_answer({"ok": False, "error": "message_not_found"})
                if not has_content(msg):
                    return api_answer({"ok": False, "error": "no_text"})
                m.update(text=msg.get("text"), attachments=msg.get("attachments"),
                         blocks=msg.get("blocks"))
                m["updates"] += 1
            return api_answer({"ok": True, "channel": cid, "ts": ts, "text": msg.get("text")})
        return api_answer({"ok": False, "error": "unknown_method"})

    def control(self, method, path, req):
        if method == "GET" and path == "/_emulator/messages":
            with self.lock:
                out = []
                for m in self.messages:
                    d = dict(m)
                    d["colors"] = [a.get("color") for a in (m["attachments"] or [])
                                   if isinstance(a, dict)]
                    out.append(d)
            return 200, "application/json", json_bytes(out)
        return None


def main():
    p = base_parser("Fake Slack: incoming webhooks and chat.postMessage/chat.update")
    p.add_argument("--bot-token", default="xoxb-emulator",
                   help="the only token accepted as 'Authorization: Bearer <token>'")
    args = p.parse_args()
    serve(Slack(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
