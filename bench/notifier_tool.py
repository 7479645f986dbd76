#!/usr/bin/python3
"""notifier_tool.py — the Python half of bench/notifier.sh (stdlib only).

Why: the notifier benchmark drives Alertmanager over its HTTP API, watches
the OpsGenie emulator's counters, and computes latencies from the emulator's
recorded requests; doing that in shell would be slow and fragile.

  am-post AM_URL N PREFIX            N distinct alerts (label queue=PREFIX-i,
                                     so each is its own group), 100 per request,
                                     from AM_POSTERS (default 4) threads at
                                     once: one poster held Alertmanager to
                                     ~2,650/s, 2-4 give it its best (~3,000-
                                     3,300/s here), 8 less
  am-steady AM_URL RATE SECONDS PREFIX OUT
                                     one alert every 1/RATE s; OUT gets
                                     "<queue> <post time ms>" lines
  wait-count EMU_URL N LIMIT_S       until the emulator recorded N requests;
                                     prints the ms it took (exit 1 on timeout)
  span EMU_URL N                     JSON: the receive times of the first
                                     and the Nth request, and the steady
                                     deliveries/s between them
  latency EMU_URL SENT KIND          KIND qalert: alias -> sent time; KIND am:
                                     message (the queue label) -> sent time.
                                     Prints JSON percentiles (ms).

It never talks to anything but 127.0.0.1.
"""
import json
import os
import sys
import threading
import time
import urllib.request


def post_json(url, obj):
    req = urllib.request.Request(url, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def alert(queue):
    return {"labels": {"alertname": "wait_sla_breach", "queue": queue, "alarm": "wait_sla_breach",
                       "media": "VOICE"},
            "annotations": {"summary": "conversation waited 45.0 s, threshold 30 s"},
            "generatorURL": "http://qalert.local/"}


def am_post(url, n, prefix, posters=int(os.environ.get("AM_POSTERS", "4"))):
    batches = [[alert(f"{prefix}-{i}") for i in range(s, min(s + 100, n))]
               for s in range(0, n, 100)]
    errors = []

    def run(k):
        try:
            for b in batches[k::posters]:
                post_json(url + "/api/v2/alerts", b)
        except Exception as e:  # reported below: the bench fails
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(posters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def am_steady(url, rate, seconds, prefix, out):
    t0 = time.monotonic()
    with open(out, "w") as f:
        for i in range(int(rate * seconds)):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            q = f"{prefix}-{i}"
            sent = time.time()
            post_json(url + "/api/v2/alerts", [alert(q)])
            f.write(f"{q} {int(sent * 1000)}\n")


def wait_count(url, n, limit):
    t0 = time.monotonic()
    got = 0
    while True:
        try:
            got = get_json(url + "/_emulator/stats")["requests"]
        except OSError as e:  # a busy emulator may refuse one poll; the next counts
            print(f"emulator poll failed: {e}", file=sys.stderr)
        if got >= n:
            print(int((time.monotonic() - t0) * 1000))
            return 0
        if time.monotonic() - t0 > limit:
            print(f"emulator has {got} of {n} requests after {limit} s", file=sys.stderr)
            return 1
        time.sleep(0.05)


def span(url, n):
    times = sorted(r["time"] for r in get_json(url + "/_emulator/requests"))[:n]
    secs = times[-1] - times[0] if len(times) > 1 else 0
    print(json.dumps({"requests": len(times), "seconds": secs,
                      "per_s": (len(times) - 1) / secs if secs > 0 else None}))
    return 0


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else None


def latency(url, sent_file, kind):
    sent = {}
    for line in open(sent_file):
        k, t = line.split()
        sent[k] = int(t)
    lat = []
    for r in get_json(url + "/_emulator/requests"):
        body = r.get("json") or {}
        k = body.get("alias") if kind == "qalert" else body.get("message")
        if k in sent:
            lat.append(r["time"] * 1000 - sent.pop(k))
    out = {"sent": len(sent) + len(lat), "received": len(lat),
           "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat) if lat else None,
           "percentiles": {str(p): pct(lat, p) for p in (50, 75, 90, 95, 99)}}
    print(json.dumps(out))
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "am-post" and len(argv) == 5:
        am_post(argv[2], int(argv[3]), argv[4])
        return 0
    if cmd == "am-steady" and len(argv) == 7:
        am_steady(argv[2], float(argv[3]), float(argv[4]), argv[5], argv[6])
        return 0
    if cmd == "wait-count" and len(argv) == 5:
        return wait_count(argv[2], int(argv[3]), float(argv[4]))
    if cmd == "span" and len(argv) == 4:
        return span(argv[2], int(argv[3]))
    if cmd == "latency" and len(argv) == 5:
        return latency(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
