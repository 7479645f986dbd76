#!/usr/bin/python3
"""report.py OUT_DIR REPORT.md latency.png BUILD_DIR — bench/REPORT.md and
bench/latency.png from the JSON the three bench scripts wrote in one run.

Why: the figures are only meaningful side by side with the peers measured in
the same run on the same machine, with the machine described; this puts
every figure, ratio and machine fact in one committed page.
It never measures anything itself and never invents a missing figure: a
benchmark that did not write its JSON is reported as missing.
"""
import datetime
import json
import os
import platform
import subprocess
import sys


def sh(cmd):
    try:
        return subprocess.run(["/bin/bash", "-c", cmd], capture_output=True, text=True,
                              timeout=20).stdout.strip().splitlines()[0]
    except (IndexError, OSError, subprocess.SubprocessError):
        return "?"


def load(out, name):
    try:
        return json.load(open(os.path.join(out, name + ".json")))
    except (OSError, ValueError):
        return None


def f(v, fmt="{:.0f}"):
    return "n/a" if v is None else fmt.format(v)


def ok(v):
    return "met" if v else "**missed**"


def main(argv):
    out, report, png, build = argv[1:5]
    top = os.path.dirname(os.path.dirname(os.path.abspath(report)))
    ing, proc, noti = load(out, "ingest"), load(out, "processor"), load(out, "notifier")
    lines = ["# qalert benchmarks", "",
             "Written by `bench/run-all.sh` (one run, peers measured side by side on the same "
             "machine; the machine is shared, so compare ratios, not absolute figures). "
             "Raw figures: `bench/out/*.json` after a run.", ""]
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    fastapi_v = sh("/usr/bin/python3 -c 'import fastapi; print(fastapi.__version__)'")
    uvicorn_v = sh("/usr/bin/python3 -c 'import uvicorn; print(uvicorn.__version__)'")
    lines += ["## Machine", "",
              f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
              f"- commit: {sh(f'git -C {top} rev-parse --short HEAD')}",
              f"- CPU: {sh('nproc')} cores, {cpu}",
              f"- kernel: {platform.release()}; {sh('grep PRETTY_NAME /etc/os-release | cut -d= -f2')}",
              f"- qalert {sh(f'{build}/bin/qalert-ingest --version')} (RelWithDebInfo, no sanitizers); "
              f"librdkafka {sh('pkg-config --modversion rdkafka')}, libmicrohttpd "
              f"{sh('pkg-config --modversion libmicrohttpd')}, avro-c {sh('pkg-config --modversion avro-c')}",
              f"- broker: Apache Kafka {sh(f'. {top}/scripts/lib.sh && qa_kafka_version')} (KRaft, single node, "
              f"same machine); {sh('java -version 2>&1 | head -1')}",
              f"- peers: {sh('prometheus-alertmanager --version 2>&1 | head -1')}; FastAPI "
              f"{fastapi_v} on uvicorn "
              f"{uvicorn_v}, Python "
              f"{sh('/usr/bin/python3 -V')}; {sh('wrk -v 2>&1 | head -1')}", ""]

    lines += ["## Ingest (`bench/ingest.sh`)", ""]
    if ing:
        r = ing["runs"]
        rep = ing.get("repeat", 1)
        lines += [f"wrk, {ing['connections']} connections, {ing['duration_s']} s per run, one signed "
                  f"{ing['event_bytes']} B event per request; qalert answers 202 after the broker's "
                  f"acks=all. Single events: each system's median of {rep} alternating runs. "
                  "Batch: 100 events per request, 16 connections, one run.", "",
                  "| system | req/s | events/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|---:|"]
        for k, label in (("qalert", "qalert-ingest"), ("alertmanager", "Alertmanager 0.25"),
                         ("python", "FastAPI receiver (seeds)"),
                         ("qalert_batch", "qalert-ingest, batch of 100"),
                         ("python_batch", "FastAPI receiver, batch of 100")):
            x = r[k]
            err = x["non2xx"] + x["connect_errors"] + x["read_errors"] + x["timeouts"]
            lines.append(f"| {label} | {f(x['rps'])} | {f(x.get('events_per_s', x['rps']))} | "
                         f"{f(x['p50_ms'], '{:.2f}')} | {f(x['p99_ms'], '{:.2f}')} | {err} |")
        rss = ing["rss_mib"]
        if "all_rps" in ing:
            lines += [""] + [f"- runs, {label}: " + ", ".join(f"{x:,}" for x in ing["all_rps"][k]) + " req/s"
                             for k, label in (("qalert", "qalert-ingest"), ("alertmanager", "Alertmanager"),
                                              ("python", "FastAPI"))]
        lines += ["", f"- qalert / Alertmanager: **{ing['ratio_vs_alertmanager']:.2f}x** "
                  f"(target ≥ 1.0x, goal 1.5x): {ok(ing['targets'].get('>=1.0x alertmanager (goal 1.5x)'))}",
                  f"- qalert / Python: **{ing['ratio_vs_python']:.1f}x** (target ≥ 10x): "
                  f"{ok(ing['targets'].get('>=10x python'))}",
                  f"- qalert p99 {r['qalert']['p99_ms']:.1f} ms (target ≤ 20 ms): "
                  f"{ok(ing['targets'].get('p99 <= 20 ms'))}",
                  f"- qalert-ingest RSS {rss['qalert_after_single']:.1f} MiB after the single-event run, "
                  f"{rss['qalert_end']:.1f} MiB at the end (target ≤ 64 MiB): "
                  f"{ok(ing['targets'].get('RSS <= 64 MiB'))}; Alertmanager {rss['alertmanager']:.1f} MiB, "
                  f"Python {rss['python']:.1f} MiB",
                  f"- batch events/s qalert / Python: {ing['batch_ratio_vs_python']:.2f}x", ""]
    else:
        lines += ["(missing: bench/out/ingest.json)", ""]

    lines += ["## Processor (`bench/processor.sh`)", ""]
    if proc:
        t, lat, rss = proc["throughput"], proc["latency"], proc["rss_mib"]
        q, cd = t["qalert"], t["consume_decode"]
        lines += [f"{q['events']} raw events (acd.start/acd.end pairs, about half breaching) on a "
                  "3-partition topic before start; each timed from process start until it has "
                  "handled them all (qalert: its `qalert_processor_events_total`); "
                  "\"steady\" counts from the first event handled.", "",
                  "| system | events/s | seconds | steady events/s |", "|---|---:|---:|---:|",
                  f"| qalert-processor (exactly once: transactions, changelog) | {f(q['events_per_s'])} | "
                  f"{q['seconds']:.2f} | {f(q['events_per_s_after_first'])} |",
                  f"| consume + decode only (librdkafka, read_committed) | {f(cd['events_per_s'])} | "
                  f"{cd['seconds']:.2f} | {f(cd['events_per_s_after_first'])} |", "",
                  f"- qalert / consume-and-decode: **{t['ratio'] * 100:.0f} %** from start, "
                  f"{t['ratio_after_first'] * 100:.0f} % steady (goal ≥ 50 %): "
                  f"{ok(proc['targets'].get('>= 50 % of consume-and-decode'))}; "
                  f"{q['alerts_emitted']} alerts in {q['transactions']} transactions",
                  f"- event-to-alert latency ({lat['rate_per_s']} acd.start/s for {lat['seconds']} s, "
                  f"wall-clock event times, each on its own queue, threshold {lat['threshold_ms']} ms; "
                  "latency = alert record timestamp − (event time + threshold), alerts due while "
                  f"events flowed, n = {lat['measured']}): **p50 {f(lat['p50_ms'])} ms, p99 "
                  f"{f(lat['p99_ms'])} ms**, max {f(lat['max_ms'])} ms; including the last "
                  f"{lat['threshold_ms']} ms of events (fired by idle advance after the feed stopped): "
                  f"p50 {f(lat['all_p50_ms'])} ms, p99 {f(lat['all_p99_ms'])} ms; "
                  f"{lat['firing_alerts']} FIRING for {lat['events']} events",
                  f"- RSS: {rss['idle']:.1f} MiB idle, **{rss['with_open']:.1f} MiB with "
                  f"{rss['open_conversations']} conversations open**, {rss['after_throughput']:.1f} MiB "
                  "after the throughput run", ""]
    else:
        lines += ["(missing: bench/out/processor.json)", ""]

    lines += ["## Notifier (`bench/notifier.sh`)", ""]
    if noti:
        lines += [f"{noti['alerts']} distinct FIRING alerts into the OpsGenie emulator "
                  "(bench/sink_emulator.c: C, one event-loop thread, delayed answers held in a "
                  "timer list; the tests' Python emulator saturates near 1,100 requests/s), "
                  "answers delayed by the emulated sink latency. qalert: the notifier started "
                  f"and ready (group joined), `QALERT_SINK_RATE=1000000`, "
                  f"`QALERT_NOTIFIER_CONCURRENCY={noti['concurrency']}`, then the alerts produced "
                  "to its topic, timed from the first produce. Alertmanager: ready, its OpsGenie "
                  "integration pointed at the same emulator, each alert its own group (group_by "
                  "queue, group_wait 0s), posted by 4 concurrent posters (100 per POST), timed "
                  "from the first POST. "
                  f"Each system runs {noti.get('repeat', 1)} times per sink latency, the two "
                  "alternating, and its figure is its median run. "
                  "\"first→last\" is deliveries/s between the first and last receive at the emulator. "
                  f"Latency: {noti['latency_rate_per_s']} alerts/s for {noti['latency_seconds']} s into the "
                  "running system, from the alert record's timestamp (qalert) or the POST "
                  "(Alertmanager) to the emulator's receive time.", "",
                  "| sink latency | system | deliveries/s | first→last /s | p50 ms | p99 ms |",
                  "|---|---|---:|---:|---:|---:|"]
        for l, r in noti["runs"].items():
            for k, label in (("qalert", "qalert-notifier"), ("alertmanager", "Alertmanager 0.25")):
                lt = r[k + "_latency"]
                lines.append(f"| {l} ms | {label} | {f(r[k]['deliveries_per_s'])} | "
                             f"{f(r[k]['steady']['per_s'])} | {f(lt['p50_ms'], '{:.1f}')} | "
                             f"{f(lt['p99_ms'], '{:.1f}')} |")
        lines.append("")
        for l, r in noti["runs"].items():
            lines.append(f"- {l} ms: qalert / Alertmanager **{r['ratio']:.2f}x** "
                         f"({r['ratio_steady']:.2f}x first→last; goal ≥ 5x): "
                         f"{ok(r['ratio'] >= 5)}")
            for k, label in (("qalert", "qalert-notifier"), ("alertmanager", "Alertmanager")):
                if r.get(k + "_runs"):
                    lines.append(f"  - {label} runs: " + ", ".join(
                        f"{x['deliveries_per_s']:,.0f}" for x in r[k + "_runs"]) + " deliveries/s")
        lines.append("")
    else:
        lines += ["(missing: bench/out/notifier.json)", ""]
    notes = os.path.join(os.path.dirname(os.path.abspath(report)), "NOTES.md")
    if os.path.exists(notes):
        lines += ["## What limits the figures", "", open(notes).read().strip(), ""]
    lines += ["![latency percentiles](latency.png)", ""]
    open(report, "w").write("\n".join(lines))
    plot(ing, proc, noti, png)
    return 0


def plot(ing, proc, noti, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    ps = ["p50", "p90", "p99"]

    def bars(ax, series, title):
        names = list(series)
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            vals = [v if v is not None else 0 for v in series[name]]
            ax.bar([x + i * width for x in range(len(ps))], vals, width, label=name)
        ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(ps))])
        ax.set_xticklabels(ps)
        ax.set_yscale("log")
        ax.set_ylabel("ms (log)")
        ax.set_title(title)
        ax.legend(fontsize=8)

    if ing:
        r = ing["runs"]
        bars(axes[0], {n: [r[k]["p50_ms"], r[k]["p90_ms"], r[k]["p99_ms"]] for n, k in
                       (("qalert-ingest", "qalert"), ("Alertmanager", "alertmanager"),
                        ("FastAPI", "python"))}, "ingest: request latency (wrk, 64 conns)")
    if proc:
        p = proc["latency"]["percentiles"]
        bars(axes[1], {"qalert-processor": [p["50"], p["90"], p["99"]]},
             "processor: event-to-alert beyond threshold")
    if noti:
        s = {}
        for l, r in noti["runs"].items():
            for k, label in (("qalert", "qalert"), ("alertmanager", "Alertmanager")):
                p = r[k + "_latency"]["percentiles"]
                s[f"{label}, sink {l} ms"] = [p["50"], p["90"], p["99"]]
        bars(axes[2], s, "notifier: alert-to-sink")
    fig.tight_layout()
    fig.savefig(png, dpi=90)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
