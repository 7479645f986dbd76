#!/usr/bin/env python3
"""soak_gen.py — the soak's event source: a seeded, mixed stream of Genesys
events sent to qalert-ingest over HTTP, signed, as a real sender would.

Why: the soak must prove that every event ingest answered 202 for reaches
Kafka and that the alerts that follow are exactly those the SLA engine
computes from them. This program makes the events and records every 202
(event ids and bodies); soak_check compares.

  soak_gen.py policy --seed S --out FILE     the SLA policy for the processors
  soak_gen.py run --url URL --secret K --seed S --seconds N --accepted FILE

Event time is a logical clock, not the wall clock: every event sent takes
the next slot, T0 + slot * STEP (5 min), and every threshold, window and
resolve delay is an odd number of half-steps. All timers so fall on half
slots and all event times on whole ones. The processor's idle advance (last
event time plus the wall time since that record) could only fire a timer
before the next record if a partition sat idle for STEP/2 (150 s) while
owned, so during the run the processor's alerts depend on the records and
their order alone, as the checker's pure engine does, whatever the chaos.
At the end one "flush" event per queue, far ahead, fires every timer left.

Shapes: flat webhook events (breach and within, with and without a
CorrelationId, alone and in batches), notification acd.start/acd.end,
the same in EventBridge envelopes, queue statistics, user presence; exact
duplicates re-sent later; acd.end sent before its acd.start; bad bodies
(must get 4xx). A 503 or a connection failure is retried after Retry-After
(the same bytes, as a real sender does); the first 503 of an outage also
fires a flood of concurrent requests (filling ingest's queue). A request
that never gets its 202 is not recorded as accepted.

It must never count an event as accepted without a 202 for its request.
Standard library only.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

STEP = 300000              # ms of event time per slot
HALF = STEP // 2
RESOLVE_AFTER = 31 * HALF  # 15.5 slots
SL_WINDOW = 201 * HALF     # 100.5 slots
DEDUP_WINDOW = 4001 * HALF  # 2000.5 slots (<= the processor's 7-day cap)
SL_MIN_SAMPLES = 3
FLUSH_SLOTS = 1000         # past every timer (the longest is 100.5 slots)
MEDIA = ["VOICE", "CHAT", "EMAIL"]
MEDIA_KEY = {"VOICE": "call", "CHAT": "chat", "EMAIL": "email"}
OUTCOMES = ["ANSWERED"] * 15 + ["ABANDON"] * 4 + ["FLOWOUT"]


def queues_for(seed):
    """Five queues, their names and media thresholds; the same for a seed."""
    rnd = random.Random(seed * 7919 + 1)
    out = []
    for i in range(5):
        qid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        media = {}
        for m in (MEDIA[:2] if i else MEDIA):
            media[m] = {"durationMs": rnd.choice([17, 25, 41]) * HALF,
                        "percentage": rnd.choice([0.8, 0.9, 80])}
        out.append({"id": qid, "name": "Soak %d" % i, "media": media})
    return out


def policy_json(seed):
    qs = {}
    for q in queues_for(seed):
        qs[q["id"]] = {"name": q["name"], "mediaSettings": {
            MEDIA_KEY[m]: {"serviceLevel": s} for m, s in q["media"].items()}}
    return {"default": {"durationMs": 41 * HALF, "percentage": 0.8}, "queues": qs}


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


class Request:
    """One HTTP request: endpoint, body bytes and the events in it."""

    def __init__(self, endpoint, body, events, kind, expect=202):
        self.endpoint, self.body, self.events = endpoint, body, events
        self.kind, self.expect = kind, expect


def single(endpoint, ev, eid, kind):
    body = dumps(ev).encode()
    return Request(endpoint, body, [(eid or hashlib.sha256(body).hexdigest(), body)], kind)


def batch(evs):
    """evs: [(event, id or None)]; ids of events without one are the SHA-256
    of their own bytes in the array (ingest keeps exact spans)."""
    parts = [dumps(e).encode() for e, _ in evs]
    events = [(eid or hashlib.sha256(p).hexdigest(), p) for (_, eid), p in zip(evs, parts)]
    return Request("genesys", b"[" + b",".join(parts) + b"]", events, "batch")


class Gen:
    def __init__(self, a):
        self.a = a
        self.rnd = random.Random(a.seed)
        self.queues = queues_for(a.seed)
        self.t0 = (int(time.time()) // 60) * 60000
        self.slot = 0
        self.n = 0
        self.convs = []          # open conversations
        self.late_starts = []    # (request) acd.start sent after its end
        self.dups = []           # (due slot, request) to re-send
        self.lock = threading.Lock()
        self.acc = open(a.accepted, "a", encoding="utf-8")
        self.stats = {k: 0 for k in ("requests", "accepted_requests", "accepted_events",
                                     "bad_refused", "bad_accepted", "unexpected_status",
                                     "status_503", "conn_errors", "given_up",
                                     "duplicates_sent", "out_of_order", "floods",
                                     "flood_requests", "batches")}
        self.kinds = {}
        u = urlsplit(a.url)
        self.host, self.port = u.hostname, u.port
        self.in_outage = False

    # --- event makers ------------------------------------------------------
    def take_slot(self):
        with self.lock:
            s = self.slot
            self.slot += 1
        return self.t0 + s * STEP

    def next_id(self, prefix):
        with self.lock:
            self.n += 1
            return "%s-%d-%d" % (prefix, self.a.seed, self.n)

    def pick_queue(self):
        q = self.rnd.choice(self.queues)
        return q, self.rnd.choice(list(q["media"]))

    def acd(self, conv, end, t, outcome=None):
        body = {"eventTime": t, "conversationId": conv["id"], "mediaType": conv["media"],
                "queueId": conv["queue"], "participantId": "p-" + conv["id"][:8],
                "direction": "INBOUND"}
        if end:
            body["acdOutcome"] = outcome
        topic = "v2.detail.events.conversation.%s.acd.%s" % (conv["id"], "end" if end else "start")
        corr = self.next_id("corr")
        note = {"topicName": topic, "version": "2", "eventBody": body,
                "metadata": {"CorrelationId": corr}}
        if conv["eventbridge"]:
            eid = self.next_id("eb")
            env = {"version": "0", "id": eid, "detail-type": topic,
                   "source": "aws.partner/genesys.com/cloud/soak", "account": "123456789012",
                   "time": iso(t), "region": "us-east-1", "resources": [], "detail": note}
            return single("eventbridge", env, eid, "eventbridge")
        return single("genesys", note, corr, "notification")

    def flat(self, t, breach=None, q=None, media=None, with_id=None):
        if q is None:
            q, media = self.pick_queue()
        if breach is None:
            breach = self.rnd.random() < 0.5
        sla = self.rnd.choice([20000, 30000, 60000])
        ev = {"eventType": "routing.queue.conversation", "conversationId": str(uuid.UUID(
            int=self.rnd.getrandbits(128), version=4)), "queueId": q["id"],
            "queueName": q["name"], "mediaType": media.lower(), "sla": sla,
            "waitTime": sla + self.rnd.randint(1, 90000) if breach else self.rnd.randint(0, sla),
            "timestamp": iso(t)}
        eid = None
        if with_id if with_id is not None else self.rnd.random() < 0.7:
            eid = self.next_id("flat")
            ev["metadata"] = {"CorrelationId": eid}
        return ev, eid

    def stats_event(self, t):
        q = self.rnd.choice(self.queues)
        eid = self.next_id("stats")
        ev = {"eventType": "routing.queue.stats", "queueId": q["id"], "queueName": q["name"],
              "slaPercentage": round(self.rnd.uniform(50, 100), 1), "targetSla": 80,
              "waitTime": self.rnd.randint(0, 120000), "callsInQueue": self.rnd.randint(0, 30),
              "timestamp": iso(t), "metadata": {"CorrelationId": eid}}
        return single("genesys", ev, eid, "queue_stats")

    def presence(self, t):
        ev = {"eventType": "routing.user.status.update", "userId": str(uuid.UUID(
            int=self.rnd.getrandbits(128), version=4)), "status": self.rnd.choice(
            ["available", "busy", "away"]), "timestamp": iso(t)}
        return single("genesys", ev, None, "presence")

    def bad(self):
        r = self.rnd.random()
        if r < 0.2:  # a good body with a wrong signature
            req = self.stats_event(self.t0)
            return Request("genesys", req.body, [], "bad_signature", expect=401)
        if r < 0.3:
            return Request("genesys", b"{}", [], "bad_path", expect=404)
        name = self.rnd.choice(sorted(os.listdir(self.a.bad_dir)))
        with open(os.path.join(self.a.bad_dir, name), "rb") as f:
            return Request("genesys", f.read(), [], "bad_body", expect=400)

    def next_request(self):
        """The next request of the stream (ends due first, then a draw)."""
        if self.late_starts:
            return self.late_starts.pop(0)
        if self.dups and self.dups[0][0] <= self.slot:
            self.stats["duplicates_sent"] += 1
            return self.dups.pop(0)[1]
        due = [c for c in self.convs if c["end_slot"] <= self.slot]
        if due:
            c = due[0]
            self.convs.remove(c)
            if c["end_slot"] is not None and c["outcome"] is not None:
                req = self.acd(c, True, self.take_slot(), c["outcome"])
                if c["late"]:
                    self.late_starts.append(self.acd(c, False, c["start_t"]))
                    self.stats["out_of_order"] += 1
                return req
        r = self.rnd.random()
        if r < 0.40:
            q, media = self.pick_queue()
            t = self.take_slot()
            w = self.rnd.randint(1, 8) if self.rnd.random() < 0.6 else self.rnd.randint(9, 40)
            c = {"id": str(uuid.UUID(int=self.rnd.getrandbits(128), version=4)),
                 "queue": q["id"], "media": media, "start_t": t,
                 "end_slot": self.slot + w, "eventbridge": self.rnd.random() < 0.5,
                 "late": self.rnd.random() < 0.08,
                 "outcome": None if self.rnd.random() < 0.04 else self.rnd.choice(OUTCOMES)}
            if c["outcome"] is not None:
                self.convs.append(c)
            if c["late"] and c["outcome"] is not None:
                return self.next_request()  # its start goes after its end
            return self.acd(c, False, t)
        if r < 0.55:
            ev, eid = self.flat(self.take_slot())
            return single("genesys", ev, eid, "flat")
        if r < 0.62:
            return self.stats_event(self.take_slot())
        if r < 0.66:
            return self.presence(self.take_slot())
        if r < 0.70:
            return self.bad()
        if r < 0.73:
            self.stats["batches"] += 1
            evs = [self.flat(self.take_slot()) for _ in range(self.rnd.randint(5, 40))]
            return batch(evs)
        # otherwise a flat event within its SLA (keeps every queue busy)
        ev, eid = self.flat(self.take_slot(), breach=False)
        return single("genesys", ev, eid, "flat")

    # --- sending -----------------------------------------------------------
    def post_once(self, req, sign=True):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=20)
        try:
            headers = {"Content-Type": "application/json"}
            if sign:
                headers["X-Genesys-Signature"] = "sha256=" + hmac.new(
                    self.a.secret.encode(), req.body, hashlib.sha256).hexdigest()
            path = "/v1/events/" + req.endpoint
            if req.kind == "bad_path":
                path = "/v1/events/nowhere"
            conn.request("POST", path, body=req.body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheader("Retry-After"), data
        finally:
            conn.close()

    def send(self, req, flood_ok=True):
        """Until a final answer; True when accepted (202)."""
        deadline = time.monotonic() + self.a.give_up_s
        with self.lock:
            self.stats["requests"] += 1
        while True:
            try:
                status, retry_after, data = self.post_once(req, sign=req.kind != "bad_signature")
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.stats["conn_errors"] += 1
                status, retry_after, data = None, "0.5", b""
            if status == 503 or status is None:
                if status == 503:
                    with self.lock:
                        self.stats["status_503"] += 1
                        first = not self.in_outage
                        self.in_outage = True
                    if first and flood_ok:
                        self.flood()
                if time.monotonic() > deadline:
                    with self.lock:
                        self.stats["given_up"] += 1
                    return False
                try:
                    time.sleep(min(float(retry_after or 1), 5.0))
                except ValueError:
                    time.sleep(1.0)
                continue
            with self.lock:
                self.in_outage = False
            return self.settle(req, status, data)

    def settle(self, req, status, data):
        with self.lock:
            self.kinds[req.kind] = self.kinds.get(req.kind, 0) + 1
            if req.expect != 202:
                if 400 <= status < 500:
                    self.stats["bad_refused"] += 1
                    if status != req.expect:
                        self.stats["unexpected_status"] += 1
                        print("bad %s answered %d, want %d" % (req.kind, status, req.expect),
                              file=sys.stderr)
                else:
                    self.stats["bad_accepted"] += 1
                    print("bad %s answered %d" % (req.kind, status), file=sys.stderr)
                return False
            if status != 202:
                self.stats["unexpected_status"] += 1
                print("%s answered %d: %s" % (req.kind, status, data[:200]), file=sys.stderr)
                return False
            try:
                n = json.loads(data).get("accepted")
            except ValueError:
                n = None
            if n != len(req.events):
                self.stats["unexpected_status"] += 1
                print("202 says accepted=%r for %d events" % (n, len(req.events)),
                      file=sys.stderr)
            self.stats["accepted_requests"] += 1
            self.stats["accepted_events"] += len(req.events)
            for eid, body in req.events:
                self.acc.write(dumps({"id": eid, "kind": req.kind, "endpoint": req.endpoint,
                                      "body": body.decode()}) + "\n")
            self.acc.flush()
        return True

    def flood(self):
        """Concurrent requests while Kafka is away: ingest's queue fills and
        each gets 503 until the broker is back; each retries until 202."""
        self.stats["floods"] += 1
        reqs = []
        for _ in range(self.a.flood):
            evs = [self.flat(self.take_slot()) for _ in range(5)]
            reqs.append(batch(evs))
        self.stats["flood_requests"] += len(reqs)
        for r in reqs:
            threading.Thread(target=self.send, args=(r, False), daemon=False).start()

    def run(self):
        end = time.monotonic() + self.a.seconds
        gap = 1.0 / self.a.rate
        nxt = time.monotonic()
        while time.monotonic() < end:
            req = self.next_request()
            ok = self.send(req)
            if ok and req.kind in ("notification", "eventbridge", "flat", "queue_stats") \
                    and self.rnd.random() < 0.05:
                self.dups.append((self.slot + self.rnd.randint(1, 200), req))
            nxt += gap
            time.sleep(max(0.0, nxt - time.monotonic()))
        # the duplicates still due go now; then one flush event per queue
        for _, req in self.dups:
            self.stats["duplicates_sent"] += 1
            self.send(req)
        for req in self.late_starts:
            self.send(req)
        for t in threading.enumerate():
            if t is not threading.current_thread():
                t.join()
        tf = self.t0 + (self.slot + FLUSH_SLOTS) * STEP
        for q in self.queues:
            ev, eid = self.flat(tf, breach=False, q=q, media="VOICE", with_id=True)
            self.send(single("genesys", ev, eid, "flush"))
        self.acc.close()
        out = dict(self.stats, kinds=self.kinds, slots=self.slot, t0=self.t0)
        with open(self.a.stats, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, sort_keys=True)
        print(json.dumps(out, sort_keys=True))
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("policy")
    pp.add_argument("--seed", type=int, required=True)
    pp.add_argument("--out", required=True)
    sub.add_parser("settings", help="processor settings the stream is built for")
    rp = sub.add_parser("run")
    rp.add_argument("--url", required=True)
    rp.add_argument("--secret", required=True)
    rp.add_argument("--seed", type=int, required=True)
    rp.add_argument("--seconds", type=float, required=True)
    rp.add_argument("--rate", type=float, default=12.0, help="requests per second")
    rp.add_argument("--flood", type=int, default=24, help="concurrent requests per outage")
    rp.add_argument("--give-up-s", type=float, default=120.0)
    rp.add_argument("--bad-dir", required=True)
    rp.add_argument("--accepted", required=True)
    rp.add_argument("--stats", required=True)
    a = p.parse_args()
    if a.cmd == "policy":
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(policy_json(a.seed), f, indent=1)
        return 0
    if a.cmd == "settings":
        print("QALERT_RESOLVE_AFTER_MS=%d QALERT_SL_WINDOW_MS=%d QALERT_DEDUP_WINDOW_MS=%d "
              "QALERT_SL_MIN_SAMPLES=%d" % (RESOLVE_AFTER, SL_WINDOW, DEDUP_WINDOW,
                                            SL_MIN_SAMPLES))
        return 0
    return Gen(a).run()


if __name__ == "__main__":
    sys.exit(main())
