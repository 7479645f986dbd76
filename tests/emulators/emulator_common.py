"""emulator_common.py — the shared core of qalert's fake sinks (Slack, OpsGenie).

Why: tests and the demo must exercise the notifier against the real HTTP
contracts of its sinks, with failures on demand (5xx, 429 + Retry-After,
slow answers, dropped connections), without a network or an account.

Each emulator is a ThreadingHTTPServer that records every request in memory
and exposes a control API under /_emulator/:
  GET  /_emulator/requests   every recorded request (JSON list)
  POST /_emulator/reset      forget requests, faults and the emulator's state
  POST /_emulator/faults     append faults (a JSON list or one object);
                             PUT replaces the pending ones
  GET  /_emulator/faults     the faults still pending
  GET  /_emulator/health     200 {"ok": true}
Each recorded request has: id, time, method, path, headers, body (text),
json (the body parsed, or null), status answered (null when dropped),
response and fault.
A fault applies, in order, to the next requests it matches:
  {"status": 500, "count": 2}                       answer 500 twice
  {"status": 429, "retry_after": 3, "count": 1}     with a Retry-After header
  {"delay_ms": 2000, "count": 1}                    wait, then answer normally
  {"drop": true, "count": 1}                        close the socket, no answer
optional keys: "path" (prefix the request path must start with), "method",
"body" (text), "content_type", "headers" (object), "slack_error" (Slack Web
API: HTTP 200 {"ok": false, "error": ...}).

It must never print or record an Authorization value: only its scheme.
Standard library only (the emulators image has nothing but python3).
"""

import argparse
import json
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_BODY = 10 * 1024 * 1024
CONTROL = "/_emulator/"


def mask_authorization(value):
    """'GenieKey abc' -> 'GenieKey ***': tests see the scheme, never the secret."""
    if value is None:
        return None
    scheme, _, rest = value.partition(" ")
    return f"{scheme} ***" if rest else "***"


class Fault:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        self.spec = dict(spec)
        self.count = int(spec.get("count", 1))
        if self.count < 1:
            raise ValueError("count must be >= 1")
        self.status = spec.get("status")
        if self.status is not None:
            self.status = int(self.status)
            if not 100 <= self.status <= 599:
                raise ValueError("status must be 100..599")
        self.retry_after = spec.get("retry_after")
        self.delay_ms = int(spec.get("delay_ms", 0))
        self.drop = bool(spec.get("drop", False))
        self.path = spec.get("path")
        self.method = spec.get("method")
        self.body = spec.get("body")
        self.content_type = spec.get("content_type")
        self.headers = spec.get("headers") or {}
        self.slack_error = spec.get("slack_error")
        if not (self.status or self.delay_ms or self.drop or self.slack_error):
            raise ValueError("a fault needs status, delay_ms, drop or slack_error")

    def matches(self, method, path):
        if self.method and self.method.upper() != method:
            return False
        if self.path and not path.startswith(self.path):
            return False
        return True

    def describe(self):
        d = dict(self.spec)
        d["remaining"] = self.count
        return d


class Emulator:
    """State shared by handler threads. Subclasses add routes and state."""

    name = "emulator"

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = []
        self.faults = []
        self.seq = 0

    # --- to override -----------------------------------------------------
    def reset_state(self):
        pass

    def handle(self, req):
        """Returns (status, content_type, body_bytes, extra_headers)."""
        return 404, "text/plain", b"not found", {}

    def fault_answer(self, fault, req):
        """The answer to a faulted request with a status."""
        body = fault.body if fault.body is not None else json.dumps(
            {"message": f"emulated {fault.status}"})
        return fault.status, fault.content_type or "application/json", body.encode(), {}

    def control(self, method, path, req):
        """Extra control routes; return None when unknown."""
        return None

    # --- shared ----------------------------------------------------------
    def take_fault(self, method, path):
        with self.lock:
            for i, f in enumerate(self.faults):
                if f.matches(method, path):
                    f.count -= 1
                    if f.count == 0:
                        del self.faults[i]
                    return f
        return None

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["id"] = self.seq
            self.requests.append(entry)

    def snapshot(self):
        with self.lock:
            return list(self.requests)


def json_bytes(obj):
    return json.dumps(obj).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as libcurl reuses connections
    # http.server writes headers and body separately; with Nagle on, the body
    # of a kept-alive answer waits ~40 ms for the client's delayed ACK, which
    # made every client (qalert and Alertmanager alike) look slow in benches.
    disable_nagle_algorithm = True
    server_version = "qalert-emulator/1"
    emu = None  # set by serve()

    def log_message(self, fmt, *args):
        if self.emu.args.verbose:
            sys.stderr.write("%s %s\n" % (self.emu.name, fmt % args))

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("too large")
        return self.rfile.read(n) if n else b""

    def send(self, status, ctype, body, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def dispatch(self):
        emu = self.emu
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send(413, "text/plain", b"too large")
            return
        split = urlsplit(self.path)
        path, method = split.path, self.command
        headers = {k: (mask_authorization(v) if k.lower() == "authorization" else v)
                   for k, v in self.headers.items()}
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        req = {
            "time": time.time(), "method": method, "path": self.path,
            "route": path, "query": split.query, "headers": headers,
            "body": text, "json": parsed, "raw": body,
            "authorization": self.headers.get("Authorization"),
        }

        if path.startswith(CONTROL):
            self.control_route(method, path, req)
            return

        fault = emu.take_fault(method, path)
        entry = {k: req[k] for k in ("time", "method", "path", "headers", "body", "json")}
        entry["fault"] = fault.describe() if fault else None
        if fault and fault.delay_ms:
            time.sleep(fault.delay_ms / 1000.0)
        if fault and fault.drop:
            entry["status"] = None
            emu.record(entry)
            self.drop()
            return
        if fault and (fault.status or fault.slack_error):
            if fault.slack_error:
                status, ctype, out, extra = 200, "application/json; charset=utf-8", \
                    json_bytes({"ok": False, "error": fault.slack_error}), {}
            else:
                status, ctype, out, extra = emu.fault_answer(fault, req)
            extra = dict(extra)
            extra.update(fault.headers)
            if fault.retry_after is not None:
                extra["Retry-After"] = fault.retry_after
            elif status == 429:
                extra.setdefault("Retry-After", 1)
        else:
            status, ctype, out, extra = emu.handle(req)
        entry["status"] = status
        entry["response"] = out.decode("utf-8", errors="replace")
        emu.record(entry)
        self.send(status, ctype, out, extra)

    def control_route(self, method, path, req):
        emu = self.emu
        if method == "GET" and path == CONTROL + "requests":
            self.send(200, "application/json", json_bytes(emu.snapshot()))
        elif method == "GET" and path == CONTROL + "health":
            self.send(200, "application/json", json_bytes({"ok": True}))
        elif method == "POST" and path == CONTROL + "reset":
            with emu.lock:
                emu.requests.clear()
                emu.faults.clear()
                emu.reset_state()
            self.send(200, "application/json", json_bytes({"ok": True}))
        elif path == CONTROL + "faults" and method == "GET":
            with emu.lock:
                out = [f.describe() for f in emu.faults]
            self.send(200, "application/json", json_bytes(out))
        elif path == CONTROL + "faults" and method in ("POST", "PUT"):
            spec = req["json"]
            if isinstance(spec, dict):
                spec = [spec]
            try:
                if not isinstance(spec, list):
                    raise ValueError("send a JSON list of faults")
                faults = [Fault(s) for s in spec]
            except (ValueError, TypeError) as e:
                self.send(400, "application/json", json_bytes({"error": str(e)}))
                return
            with emu.lock:
                if method == "PUT":
                    emu.faults.clear()
                emu.faults.extend(faults)
                n = len(emu.faults)
            self.send(200, "application/json", json_bytes({"ok": True, "pending": n}))
        else:
            answer = emu.control(method, path, req)
            if answer is None:
                self.send(404, "application/json", json_bytes({"error": "unknown control route"}))
            else:
                self.send(*answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = dispatch


def new_request_id():
    return str(uuid.uuid4())


def base_parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0,
                   help="port to listen on; 0 picks a free one (printed as LISTENING <port>)")
    p.add_argument("--host", default="0.0.0.0",
                   help="address to bind (default 0.0.0.0, for containers)")
    p.add_argument("--verbose", action="store_true", help="log each request on stderr")
    return p


def serve(emu):
    handler = type("BoundHandler", (Handler,), {"emu": emu})
    server = ThreadingHTTPServer((emu.args.host, emu.args.port), handler)
    server.daemon_threads = True
    # the first stdout line tells scripts where we listen
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
