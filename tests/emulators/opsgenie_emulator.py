#!/usr/bin/env python3
"""opsgenie_emulator.py — a fake OpsGenie Alert API v2 for tests and the demo.

Why: the notifier must be tested against OpsGenie's real contract (GenieKey
authentication, field limits, 202 + requestId, de-duplication by alias,
close by alias) with failures on demand, without an account.

Routes:
  POST /v2/alerts                                  create (de-duplicated by alias)
  POST /v2/alerts/<identifier>/close?identifierType=alias|id|tiny
  GET  /v2/alerts/requests/<requestId>             the processing result
  GET  /_emulator/alerts    alerts: alias, status open/closed, count,
                            creates (create requests folded into this alert)
                            and create_requests (all for its alias)
  GET  /_emulator/stats     counters, e.g. closes that matched no open alert
plus the shared control API (emulator_common.py): requests, reset, faults.

Never records or prints the API key: Authorization is masked.
"""

import json
import sys

import time
from urllib.parse import parse_qs, unquote

sys.dont_write_bytecode = True  # importing must not write __pycache__ into the tree
from emulator_common import Emulator, base_parser, json_bytes, new_request_id, serve

LIMITS = {"message": 130, "alias": 512, "description": 15000, "entity": 512,
          "source": 100, "user": 100, "note": 25000}
PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}


def chars(s):
    """OpsGenie counts like Java: UTF-16 code units."""
    return len(s.encode("utf-16-le")) // 2


class OpsGenie(Emulator):
    name = "opsgenie"

    def __init__(self, args):
        super().__init__(args)
        self.reset_state()

    def reset_state(self):
        self.alerts = []            # every alert instance, in creation order
        self.by_request = {}        # requestId -> processing result
        self.create_requests = {}   # alias -> create requests seen
        self.unmatched_closes = 0
        self.tiny = 0

    def answer(self, status, obj, req):
        obj.setdefault("took", 0.01)
        obj.setdefault("requestId", new_request_id())
        return status, "application/json", json_bytes(obj), {}

    def error(self, status, message, req, errors=None):
        obj = {"message": message, "took": 0.0, "requestId": new_request_id()}
        if errors:
            obj["errors"] = errors
        return status, "application/json", json_bytes(obj), {}

    def fault_answer(self, fault, req):
        if fault.body is not None:
            return fault.status, fault.content_type or "application/json", fault.body.encode(), {}
        return self.error(fault.status, f"Emulated status {fault.status}", req)

    def authorized(self, req):
        auth = req["authorization"] or ""
        return auth == f"GenieKey {self.args.api_key}"

    def handle(self, req):
        if not self.authorized(req):
            return self.error(401, "Could not authenticate", req)
        method, path = req["method"], req["route"]
        if method == "POST" and path.rstrip("/") == "/v2/alerts":
            return self.create(req)
        parts = path.split("/")
        # ['', 'v2', 'alerts', '<identifier>', 'close']
        if method == "POST" and len(parts) == 5 and parts[1:3] == ["v2", "alerts"] \
                and parts[4] == "close":
            return self.close(unquote(parts[3]), req)
        if method == "GET" and len(parts) == 5 and parts[1:4] == ["v2", "alerts", "requests"]:
            with self.lock:
                data = self.by_request.get(parts[4])
            if data is None:
                return self.error(404, "Request does not exist", req)
            return self.answer(200, {"data": data}, req)
        return self.error(404, "No handler found for the request", req)

    def body_object(self, req, required):
        if not req["body"]:
            if required:
                return None, self.error(400, "Request body is empty", req)
            return {}, None
        if not isinstance(req["json"], dict):
            return None, self.error(400, "Could not parse request body", req)
        return req["json"], None

    def create(self, req):
        body, err = self.body_object(req, True)
        if err:
            return err
        errors = {}
        msg = body.get("message")
        if not isinstance(msg, str) or not msg.strip():
            errors["message"] = "Message can not be empty."
        for field, limit in LIMITS.items():
            v = body.get(field)
            if v is not None and (not isinstance(v, str) or chars(v) > limit):
                errors[field] = f"{field} must be a string of at most {limit} characters."
        if "priority" in body and body["priority"] not in PRIORITIES:
            errors["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]"
        tags = body.get("tags", [])
        if not isinstance(tags, list) or len(tags) > 20 or any(
                not isinstance(t, str) or chars(t) > 50 for t in tags):
            errors["tags"] = "At most 20 tags of at most 50 characters."
        details = body.get("details", {})
        if not isinstance(details, dict) or any(not isinstance(v, str) for v in details.values()):
            errors["details"] = "Details must be a map of strings."
        if errors:
            return self.error(422, "Request body is not processable. Please check the errors.",
                              req, errors)
        rid = new_request_id()
        with self.lock:
            alias = body.get("alias") or None
            self.create_requests[alias] = self.create_requests.get(alias, 0) + 1
            open_alert = next((a for a in self.alerts if alias is not None and
                               a["alias"] == alias and a["status"] == "open"), None)
            if open_alert:
                # OpsGenie's de-duplication: one open alert per alias
                open_alert["count"] += 1
                open_alert["creates"] += 1
                open_alert["updated_at"] = time.time()
                status = "Alert is de-duplicated"
                alert = open_alert
            else:
                self.tiny += 1
                aid = new_request_id()
                alert = {"id": aid, "tinyId": str(self.tiny), "alias": alias or aid,
                         "status": "open", "count": 1, "creates": 1,
                         "message": body["message"], "priority": body.get("priority", "P3"),
                         "tags": tags, "details": details, "entity": body.get("entity"),
                         "source": body.get("source"), "description": body.get("description"),
                         "created_at": time.time(), "updated_at": time.time(),
                         "closed_at": None, "close_note": None}
                self.alerts.append(alert)
                status = "Created alert"
            self.by_request[rid] = {"success": True, "action": "Create", "status": status,
                                    "alertId": alert["id"], "alias": alert["alias"],
                                    "isSuccess": True, "processedAt": time.time()}
        return self.answer(202, {"result": "Request will be processed", "requestId": rid}, req)

    def close(self, identifier, req):
        body, err = self.body_object(req, False)
        if err:
            return err
        for field in ("source", "user", "note"):
            v = body.get(field)
            if v is not None and (not isinstance(v, str) or chars(v) > LIMITS[field]):
                return self.error(422, "Request body is not processable. Please check the errors.",
                                  req, {field: f"at most {LIMITS[field]} characters"})
        kind = (parse_qs(req["query"]).get("identifierType") or ["id"])[0]
        if kind not in ("id", "alias", "tiny"):
            return self.error(400, "Invalid identifierType", req)
        key = {"id": "id", "alias": "alias", "tiny": "tinyId"}[kind]
        rid = new_request_id()
        with self.lock:
            alert = next((a for a in self.alerts if a[key] == identifier and
                          a["status"] == "open"), None)
            if alert:
                alert["status"] = "closed"
                alert["closed_at"] = time.time()
                alert["close_note"] = body.get("note")
                data = {"success": True, "action": "Close", "status": "Closed alert",
                        "alertId": alert["id"], "alias": alert["alias"], "isSuccess": True}
            else:
                # the API answers 202 anyway: processing is asynchronous
                self.unmatched_closes += 1
                data = {"success": False, "action": "Close", "status": "Alert does not exist",
                        "alertId": "", "alias": "", "isSuccess": False}
            data["processedAt"] = time.time()
            self.by_request[rid] = data
        return self.answer(202, {"result": "Request will be processed", "requestId": rid}, req)

    def control(self, method, path, req):
        if method == "GET" and path == "/_emulator/alerts":
            with self.lock:
                out = [dict(a, create_requests=self.create_requests.get(a["alias"], 0))
                       for a in self.alerts]
            return 200, "application/json", json_bytes(out)
        if method == "GET" and path == "/_emulator/stats":
            with self.lock:
                out = {"alerts": len(self.alerts),
                       "open": sum(a["status"] == "open" for a in self.alerts),
                       "unmatched_closes": self.unmatched_closes,
                       "requests": len(self.requests)}
            return 200, "application/json", json_bytes(out)
        return None


def main():
    p = base_parser("Fake OpsGenie Alert API v2 (qalert tests and demo)")
    p.add_argument("--api-key", required=True,
                   help="the only key accepted as 'Authorization: GenieKey <key>'")
    args = p.parse_args()
    serve(OpsGenie(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
