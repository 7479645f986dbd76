#!/usr/bin/env python3
"""genesys_emulator.py — a fake Genesys Cloud login service and Platform API
for qalert-genesys' tests.

Why: qalert-genesys must be tested against Genesys' real contracts (client
credentials with HTTP Basic, expiring bearer tokens, paged listings, the
integrations API's versioned configuration) with failures on demand, without
an organisation.

Routes (one server plays both https://login.<region> and https://api.<region>):
  POST /oauth/token                   client credentials (Basic); 401 invalid_client
                                      for a wrong secret, 400 for an unknown client;
                                      tokens live --token-lifetime seconds
  GET  /api/v2/organizations/me       the organisation
  GET  /api/v2/tokens/me              token info: organization, authorizedScope
  GET  /api/v2/routing/queues         paged (pageSize, pageNumber; entities,
                                      pageCount, total), --queues real-shaped queues
  GET  /api/v2/integrations           paged
  POST /api/v2/integrations           create {"name","integrationType":{"id"}}
  GET  /api/v2/integrations/<id>      one
  PATCH /api/v2/integrations/<id>     {"intendedState"}
  GET/PUT /api/v2/integrations/<id>/config/current
                                      PUT needs the current version (else 409)
Every /api/v2 route needs a live bearer token: an unknown one is 401
bad.credentials, an expired one 401 and counted in stats.expired_token_uses.
Control, besides emulator_common's requests/reset/faults:
  GET  /_emulator/stats        counters (tokens issued, writes by kind, ...)
  POST /_emulator/queue        upsert one queue object (by id)
  GET  /_emulator/integrations every integration with its configuration

Never records a secret or a token: Authorization is masked.
Standard library only.
"""

import base64
import json
import math
import sys
import time
import uuid
from urllib.parse import parse_qs

sys.dont_write_bytecode = True  # importing must not write __pycache__ into the tree
from emulator_common import Emulator, base_parser, json_bytes, serve

ORG_ID = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9"
QUEUE_NS = uuid.UUID("6f0c2b8e-4a1d-4c3e-9b7a-2d5e8f1a3c6b")
DIVISION = {"id": "0d1c2b3a-4958-4677-8695-a4b3c2d1e0f1", "name": "Home",
            "selfUri": "/api/v2/authorization/divisions/0d1c2b3a-4958-4677-8695-a4b3c2d1e0f1"}
EB_TYPE = "amazon-eventbridge-source"


def make_queue(i):
    """Queue i, shaped as GET /api/v2/routing/queues returns it. Every 10th
    queue has no mediaSettings (qalert must skip it); the rest vary the
    service level so that the policy is not one repeated value."""
    qid = str(uuid.uuid5(QUEUE_NS, f"queue-{i}"))
    q = {
        "id": qid,
        "name": f"Queue {i:04d}",
        "division": DIVISION,
        "description": f"Emulated queue {i}",
        "dateCreated": "2024-03-01T09:00:00.000Z",
        "dateModified": "2025-10-01T09:00:00.000Z",
        "modifiedBy": "2c1b0a9f-8e7d-4c6b-5a49-382716059483",
        "createdBy": "2c1b0a9f-8e7d-4c6b-5a49-382716059483",
        "memberCount": 5 + i % 20,
        "userMemberCount": 5 + i % 20,
        "joinedMemberCount": 3 + i % 10,
        "routingRules": [],
        "acwSettings": {"wrapupPrompt": "OPTIONAL", "timeoutMs": 30000},
        "skillEvaluationMethod": "ALL",
        "autoAnswerOnly": False,
        "enableTranscription": False,
        "enableManualAssignment": False,
        "callingPartyName": "Example Inc.",
        "selfUri": f"/api/v2/routing/queues/{qid}",
    }
    if i % 10 != 9:
        pct = [0.8, 0.85, 0.9, 0.75, 0.95][i % 5]
        dur = 10000 + (i % 6) * 5000
        q["mediaSettings"] = {
            "call": {"alertingTimeoutSeconds": 8, "enableAutoAnswer": False,
                     "serviceLevel": {"percentage": pct, "durationMs": dur}},
            "callback": {"alertingTimeoutSeconds": 30, "enableAutoAnswer": False,
                         "serviceLevel": {"percentage": 0.8, "durationMs": 20000},
                         "mode": "AgentFirst", "enableAutoDialAndEnd": False},
            "chat": {"alertingTimeoutSeconds": 30, "enableAutoAnswer": False,
                     "serviceLevel": {"percentage": 0.8, "durationMs": 30000}},
            "email": {"alertingTimeoutSeconds": 300, "enableAutoAnswer": False,
                      "serviceLevel": {"percentage": 0.8, "durationMs": 86400000}},
            "message": {"alertingTimeoutSeconds": 30, "enableAutoAnswer": False,
                        "serviceLevel": {"percentage": 0.8, "durationMs": 40000},
                        "subTypeSettings": {}},
        }
    return q


class Genesys(Emulator):
    name = "genesys"

    def __init__(self, args):
        super().__init__(args)
        self.reset_state()

    def reset_state(self):
        self.tokens = {}            # token -> expiry (epoch s)
        self.queues = {}            # id -> queue
        for i in range(self.args.queues):
            q = make_queue(i)
            self.queues[q["id"]] = q
        self.integrations = {}      # id -> {"integration": {...}, "config": {...}}
        self.stats = {"token_requests": 0, "tokens_issued": 0, "token_refusals": 0,
                      "expired_token_uses": 0, "unknown_token_uses": 0,
                      "queue_pages": 0, "integration_creates": 0,
                      "config_updates": 0, "integration_patches": 0}

    # --- helpers --------------------------------------------------------
    def error(self, status, message, code):
        return status, "application/json", json_bytes(
            {"message": message, "code": code, "status": status,
             "contextId": str(uuid.uuid4()), "details": [], "errors": []}), {}

    def fault_answer(self, fault, req):
        if fault.body is not None:
            return fault.status, fault.content_type or "application/json", fault.body.encode(), {}
        codes = {401: "bad.credentials", 403: "missing.permissions",
                 429: "too.many.requests", 503: "service.unavailable"}
        return self.error(fault.status, f"Emulated status {fault.status}",
                          codes.get(fault.status, "internal.server.error"))

    def listing(self, items, query, path):
        q = parse_qs(query)
        try:
            size = int(q.get("pageSize", ["25"])[0])
            number = int(q.get("pageNumber", ["1"])[0])
        except ValueError:
            return self.error(400, "pageSize and pageNumber must be integers", "bad.request")
        if not 1 <= size <= 500 or number < 1:
            return self.error(400, "pageSize must be 1..500, pageNumber >= 1", "bad.request")
        total = len(items)
        count = max(1, math.ceil(total / size))
        page = items[(number - 1) * size: number * size]
        uri = lambda n: f"{path}?pageSize={size}&pageNumber={n}"
        body = {"entities": page, "pageSize": size, "pageNumber": number, "total": total,
                "pageCount": count, "firstUri": uri(1), "selfUri": uri(number),
                "lastUri": uri(count)}
        if number < count:
            body["nextUri"] = uri(number + 1)
        if number > 1:
            body["previousUri"] = uri(number - 1)
        return 200, "application/json", json_bytes(body), {}

    def ok(self, obj, status=200):
        return status, "application/json", json_bytes(obj), {}

    # --- routes ---------------------------------------------------------
    def token(self, req):
        self.stats["token_requests"] += 1
        auth = req["authorization"] or ""
        scheme, _, cred = auth.partition(" ")
        try:
            cid, _, secret = base64.b64decode(cred).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            cid, secret = None, None
        if scheme != "Basic" or cid is None:
            self.stats["token_refusals"] += 1
            return 401, "application/json", json_bytes(
                {"error": "invalid_client", "description": "client authentication required",
                 "error_description": "client authentication required"}), {}
        if cid != self.args.client_id:
            self.stats["token_refusals"] += 1
            return 400, "application/json", json_bytes(
                {"error": "invalid_client", "description": "client not found",
                 "error_description": "client not found"}), {}
        if secret != self.args.client_secret:
            self.stats["token_refusals"] += 1
            return 401, "application/json", json_bytes(
                {"error": "invalid_client", "description": "authentication failed",
                 "error_description": "authentication failed"}), {}
        form = parse_qs(req["body"])
        if form.get("grant_type") != ["client_credentials"]:
            return 400, "application/json", json_bytes(
                {"error": "unsupported_grant_type", "description": "grant type not supported",
                 "error_description": "grant type not supported"}), {}
        tok = uuid.uuid4().hex + uuid.uuid4().hex
        self.tokens[tok] = time.time() + self.args.token_lifetime
        self.stats["tokens_issued"] += 1
        return self.ok({"access_token": tok, "token_type": "bearer",
                        "expires_in": int(self.args.token_lifetime)})

    def bearer_ok(self, req):
        auth = req["authorization"] or ""
        scheme, _, tok = auth.partition(" ")
        if scheme.lower() != "bearer" or tok not in self.tokens:
            self.stats["unknown_token_uses"] += 1
            return False
        if time.time() >= self.tokens[tok]:
            self.stats["expired_token_uses"] += 1
            return False
        return True

    def handle(self, req):
        method, path, query = req["method"], req["route"].rstrip("/"), req["query"]
        with self.lock:
            if method == "POST" and path == "/oauth/token":
                return self.token(req)
            if not path.startswith("/api/v2/"):
                return self.error(404, "not found", "not.found")
            if not self.bearer_ok(req):
                return self.error(401, "Authentication failed: the token is missing, invalid "
                                  "or expired", "bad.credentials")
            return self.api(method, path, query, req)

    def api(self, method, path, query, req):
        if method == "GET" and path == "/api/v2/organizations/me":
            return self.ok({"id": ORG_ID, "name": self.args.org_name,
                            "thirdPartyOrgName": self.args.org_name.lower().replace(" ", "-"),
                            "domain": "emulated", "state": "active", "version": 1,
                            "selfUri": f"/api/v2/organizations/{ORG_ID}"})
        if method == "GET" and path == "/api/v2/tokens/me":
            org = {"id": ORG_ID, "name": self.args.org_name,
                   "selfUri": f"/api/v2/organizations/{ORG_ID}"}
            return self.ok({"organization": org, "homeOrganization": org,
                            "authorizedScope": self.args.scopes.split(),
                            "OAuthClient": {"id": self.args.client_id, "name": "qalert",
                                            "organization": org}})
        if method == "GET" and path == "/api/v2/routing/queues":
            self.stats["queue_pages"] += 1
            items = sorted(self.queues.values(), key=lambda q: q.get("name", ""))
            return self.listing(items, query, path)
        if path == "/api/v2/integrations":
            if method == "GET":
                items = [v["integration"] for v in self.integrations.values()]
                return self.listing(items, query, path)
            if method == "POST":
                return self.create_integration(req)
        parts = path.split("/")  # ['', 'api', 'v2', 'integrations', id, ...]
        if len(parts) >= 5 and parts[3] == "integrations":
            entry = self.integrations.get(parts[4])
            if entry is None:
                return self.error(404, "integration not found", "not.found")
            if len(parts) == 5 and method == "GET":
                return self.ok(entry["integration"])
            if len(parts) == 5 and method == "PATCH":
                body = req["json"]
                if not isinstance(body, dict) or body.get("intendedState") not in (
                        "ENABLED", "DISABLED", "DELETED"):
                    return self.error(400, "intendedState must be ENABLED or DISABLED",
                                      "bad.request")
                entry["integration"]["intendedState"] = body["intendedState"]
                self.stats["integration_patches"] += 1
                return self.ok(entry["integration"])
            if parts[5:] == ["config", "current"]:
                if method == "GET":
                    return self.ok(entry["config"])
                if method == "PUT":
                    return self.put_config(entry, req)
        return self.error(404, f"no route for {method} {path}", "not.found")

    def create_integration(self, req):
        body = req["json"]
        tid = (body or {}).get("integrationType", {}).get("id") if isinstance(body, dict) else None
        if not tid:
            return self.error(400, "integrationType.id is required", "bad.request")
        iid = str(uuid.uuid4())
        name = body.get("name") or tid
        integ = {"id": iid, "name": name,
                 "integrationType": {"id": tid, "name": "Amazon EventBridge Source",
                                     "selfUri": f"/api/v2/integrations/types/{tid}"},
                 "notes": "", "intendedState": "DISABLED",
                 "config": {"current": {"id": iid, "name": name, "version": 1,
                                        "selfUri": f"/api/v2/integrations/{iid}/config/current"}},
                 "reportedState": {"code": "DEACTIVATED", "effective": "Inactive"},
                 "attributes": {}, "selfUri": f"/api/v2/integrations/{iid}"}
        config = {"id": iid, "name": name, "version": 1, "properties": {}, "advanced": {},
                  "notes": "", "credentials": {},
                  "selfUri": f"/api/v2/integrations/{iid}/config/current"}
        self.integrations[iid] = {"integration": integ, "config": config}
        self.stats["integration_creates"] += 1
        return self.ok(integ)

    def put_config(self, entry, req):
        body = req["json"]
        if not isinstance(body, dict):
            return self.error(400, "a configuration object is required", "bad.request")
        cur = entry["config"]
        if body.get("version") != cur["version"]:
            return self.error(409, f"version {body.get('version')} is not the current "
                              f"version {cur['version']}", "conflict")
        props = body.get("properties")
        if entry["integration"]["integrationType"]["id"] == EB_TYPE:
            if not isinstance(props, dict):
                return self.error(400, "properties are required", "bad.request")
            acct = props.get("awsAccountId")
            if not (isinstance(acct, str) and len(acct) == 12 and acct.isdigit()):
                return self.error(400, "awsAccountId must be 12 digits", "bad.request")
            for k in ("awsAccountRegion", "eventSourceSuffix"):
                if not isinstance(props.get(k), str) or not props[k]:
                    return self.error(400, f"{k} is required", "bad.request")
            filt = props.get("eventFilter")
            if not (isinstance(filt, list) and filt and all(isinstance(f, str) for f in filt)):
                return self.error(400, "eventFilter must be a list of topics", "bad.request")
        for k in ("name", "properties", "advanced", "notes", "credentials"):
            if k in body:
                cur[k] = body[k]
        cur["version"] += 1
        entry["integration"]["name"] = cur["name"]
        entry["integration"]["config"]["current"]["version"] = cur["version"]
        self.stats["config_updates"] += 1
        return self.ok(cur)

    def control(self, method, path, req):
        if method == "GET" and path == "/_emulator/stats":
            with self.lock:
                out = dict(self.stats, requests=len(self.requests), queues=len(self.queues))
            return 200, "application/json", json_bytes(out)
        if method == "GET" and path == "/_emulator/integrations":
            with self.lock:
                out = list(self.integrations.values())
            return 200, "application/json", json_bytes(out)
        if method == "POST" and path == "/_emulator/queue":
            q = req["json"]
            if not isinstance(q, dict) or not isinstance(q.get("id"), str):
                return 400, "application/json", json_bytes({"error": "a queue with an id"})
            with self.lock:
                self.queues[q["id"]] = q
            return 200, "application/json", json_bytes({"ok": True})
        return None


def main():
    p = base_parser("Fake Genesys Cloud login service and Platform API (qalert tests)")
    p.add_argument("--client-id", default="qalert-test-client",
                   help="the only client id accepted")
    p.add_argument("--client-secret", default="qalert-test-secret",
                   help="its secret")
    p.add_argument("--token-lifetime", type=float, default=86400,
                   help="seconds a token lives (expires_in); default 86400")
    p.add_argument("--queues", type=int, default=250, help="routing queues to generate")
    p.add_argument("--org-name", default="Emulated Org", help="the organisation's name")
    p.add_argument("--scopes", default="routing:readonly integrations organization:readonly",
                   help="space-separated scopes tokens/me reports")
    args = p.parse_args()
    serve(Genesys(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
