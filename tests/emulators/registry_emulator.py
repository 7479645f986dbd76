#!/usr/bin/env python3
"""registry_emulator.py — a fake Confluent Schema Registry (the part qalert uses).

Why: with QALERT_SCHEMA_REGISTRY_URL set, every qalert binary registers its
schemas and loads every version of its subjects at start-up; tests and the
demo need that contract (ids global and stable per schema, versions per
subject, the registry's error bodies, Basic auth) without a JVM.

Routes (JSON answers, Content-Type application/vnd.schemaregistry.v1+json):
  POST /subjects/<subject>/versions   {"schema": "<avro json>"} -> {"id": N}
                                      (the same schema again: the same id, no
                                      new version; invalid JSON: 422 42201)
  GET  /subjects                      ["a-value", ...]
  GET  /subjects/<subject>/versions   [1, 2, ...]    (404 40401)
  GET  /subjects/<subject>/versions/<n|latest>
                                      {"subject","version","id","schema"}
                                      (404 40401 subject, 40402 version)
  GET  /schemas/ids/<id>              {"schema": ...} (404 40403)
plus the shared control API (emulator_common.py): requests, reset, faults.
With --user-info user:password every route but /_emulator/ needs that Basic
credential (else 401 {"error_code":401,"message":"Unauthorized"}).

Ids are per distinct schema, compared as the real registry does after parsing
(whitespace does not matter): the stored text is the compact JSON form, which
is also what GET answers (the real registry answers its own printed form too).
Never records or prints the credential: Authorization is masked.
"""

import base64
import hmac
import json
import sys
from urllib.parse import unquote

sys.dont_write_bytecode = True  # importing must not write __pycache__ into the tree
from emulator_common import Emulator, base_parser, json_bytes, serve

CTYPE = "application/vnd.schemaregistry.v1+json"


class Registry(Emulator):
    name = "registry"

    def __init__(self, args):
        super().__init__(args)
        self.reset_state()

    def reset_state(self):
        self.ids = {}        # compact schema text -> id
        self.schemas = {}    # id -> compact schema text
        self.subjects = {}   # subject -> [(version, id)], ascending

    def answer(self, status, obj):
        return status, CTYPE, json_bytes(obj), {}

    def error(self, status, code, message):
        return self.answer(status, {"error_code": code, "message": message})

    def fault_answer(self, fault, req):
        if fault.body is not None:
            return fault.status, fault.content_type or CTYPE, fault.body.encode(), {}
        return self.error(fault.status, fault.status * 100 + 1, f"Emulated status {fault.status}")

    def authorized(self, req):
        if not self.args.user_info:
            return True
        want = "Basic " + base64.b64encode(self.args.user_info.encode()).decode()
        return hmac.compare_digest((req["authorization"] or "").encode(), want.encode())

    def handle(self, req):
        if not self.authorized(req):
            return self.error(401, 401, "Unauthorized")
        method = req["method"]
        parts = [unquote(p) for p in req["route"].strip("/").split("/")]
        with self.lock:
            if parts == ["subjects"] and method == "GET":
                return self.answer(200, sorted(self.subjects))
            if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
                if method == "POST":
                    return self.register(parts[1], req)
                if method == "GET":
                    return self.versions(parts[1])
            if len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions" \
                    and method == "GET":
                return self.version(parts[1], parts[3])
            if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and method == "GET":
                return self.by_id(parts[2])
        return self.error(404, 404, "HTTP 404 Not Found")

    def register(self, subject, req):
        body = req["json"]
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            return self.error(422, 42201, "Either the input schema or one of its references is invalid")
        if body.get("schemaType", "AVRO") != "AVRO":
            return self.error(422, 42201, "Only AVRO schemas in this emulator")
        try:
            compact = json.dumps(json.loads(body["schema"]), separators=(",", ":"))
        except ValueError:
            return self.error(422, 42201, "Invalid schema")
        sid = self.ids.get(compact)
        if sid is None:
            sid = len(self.ids) + 1
            self.ids[compact] = sid
            self.schemas[sid] = compact
        versions = self.subjects.setdefault(subject, [])
        if all(i != sid for _, i in versions):
            versions.append((versions[-1][0] + 1 if versions else 1, sid))
        return self.answer(200, {"id": sid})

    def versions(self, subject):
        if subject not in self.subjects:
            return self.error(404, 40401, f"Subject '{subject}' not found.")
        return self.answer(200, [v for v, _ in self.subjects[subject]])

    def version(self, subject, which):
        versions = self.subjects.get(subject)
        if not versions:
            return self.error(404, 40401, f"Subject '{subject}' not found.")
        found = None
        if which == "latest":
            found = versions[-1]
        elif which.isdigit():
            found = next((e for e in versions if e[0] == int(which)), None)
        if found is None:
            return self.error(404, 40402, f"Version {which} not found.")
        v, sid = found
        return self.answer(200, {"subject": subject, "version": v, "id": sid,
                                 "schema": self.schemas[sid]})

    def by_id(self, which):
        sid = int(which) if which.isdigit() else -1
        if sid not in self.schemas:
            return self.error(404, 40403, f"Schema {which} not found")
        return self.answer(200, {"schema": self.schemas[sid]})


def main():
    p = base_parser("fake Confluent Schema Registry for qalert's tests")
    p.add_argument("--user-info", default=None,
                   help="require HTTP Basic auth with this user:password")
    serve(Registry(p.parse_args()))


if __name__ == "__main__":
    main()
