#!/usr/bin/env python3
"""Turns what bench/run.sh recorded into the generated top of bench/RESULTS.md (no dependencies).

    report.py DATA.tsv META.txt

DATA: one line per figure, `rep <TAB> path <TAB> metric <TAB> value` (path: direct, mesh, peer); a metric
recorded in several repetitions is shown as median (min-max), and ratios are taken between medians.
META: key=value lines (date, secs, reps, machine, java, haproxy, extra, load).
Sections that were not run (BENCH_ONLY) are left out. Uses only "###" headings: run.sh keeps every "## "
section of the previous RESULTS.md below this output.
"""
import statistics
import sys
from collections import defaultdict

data = defaultdict(list)  # (path, metric) -> [float]
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 4 or parts[3] == "":
        continue
    try:
        data[(parts[1], parts[2])].append(float(parts[3]))
    except ValueError:
        pass
meta = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[2]) if "=" in l)
PATHS = ("direct", "mesh", "peer")


def med(path, metric):
    v = data.get((path, metric))
    return statistics.median(v) if v else None


def fmt(x, digits):
    if x is None:
        return "–"
    return f"{x:,.{digits}f}" if digits else f"{x:,.0f}"


def cell(path, metric, digits=0):
    v = data.get((path, metric))
    if not v:
        return "–"
    m = statistics.median(v)
    if len(v) == 1:
        return fmt(m, digits)
    return f"{fmt(m, digits)} ({fmt(min(v), digits)}–{fmt(max(v), digits)})"


def ratio(a, b):
    return a / b if a is not None and b else None


def rfmt(r):
    return "–" if r is None else f"{r:.2f}"


out = []
p = out.append
extra = meta.get("extra", "").strip()
p("# Benchmark results")
p("")
p(f"Produced by `sudo bench/run.sh {meta.get('secs')}` on {meta.get('date')} — {meta.get('machine')}, "
  f"{meta.get('java')} (agents, controller and CLI); load average at the end {meta.get('load')}.")
p("Two nodes as network namespaces; node1 (clients, agent, haproxy client side) pinned to CPU 0, node2 to CPU 1.")
p("direct = pod to pod without the mesh; mesh = Tessera (eBPF capture, HBONE over TLS 1.3 mTLS, ECDSA P-256);")
p(f"peer = haproxy {meta.get('haproxy')} mTLS tunnel pair (TLS 1.3, ECDSA P-256) on the same two nodes. Each "
  f"measurement is a {meta.get('secs')} s run, repeated {meta.get('reps')} times with the paths interleaved "
  "(direct, mesh, peer, direct, …): median (min–max); ratios are between medians.")
p("CPU = utime+stime from /proc/PID/stat of BOTH proxies of a path (the two agents; the two haproxies) during the "
  "measurement, divided by the work the client saw (requests, connections, bytes received).")
if extra:
    p(f"**Not the shipped agent options:** every agent of this run also had `{extra}`.")
else:
    p("The agents ran with the shipped options (`node-agent/src/main/jvm/agent-jvm.options`, "
      "the image's `jvm.options`); only the NMT section below adds `-XX:NativeMemoryTracking=summary`.")
p("")

has_main = any(k[1] == "gbps" for k in data)
goals_at = len(out)
if has_main:
    p("| measurement | direct | mesh | peer (haproxy) | mesh/direct | mesh/peer |")
    p("|---|---|---|---|---|---|")

    def row(label, metric, digits=0, direct=True):
        d, m, q = med("direct", metric), med("mesh", metric), med("peer", metric)
        p(f"| {label} | {cell('direct', metric, digits) if direct else '–'} | {cell('mesh', metric, digits)} | "
          f"{cell('peer', metric, digits)} | {rfmt(ratio(m, d)) if direct else '–'} | {rfmt(ratio(m, q))} |")

    row("single-stream throughput, Gbit/s (iperf3)", "gbps", 2)
    for size in ("100b", "1k", "64k"):
        row(f"keep-alive req/s, 10 connections, {size} (wrk)", f"rps.{size}")
    row("p50 at 1,000 req/s, 1 KB, µs", "p50_us")
    row("p99 at 1,000 req/s, 1 KB, µs", "p99_us")
    row("new connections/s (one request each, wrk)", "cps")
    row("CPU of both proxies per GB of bulk transfer, s", "cpu_s_per_gb", 2, direct=False)
    for size in ("100b", "1k", "64k"):
        row(f"CPU of both proxies per 1,000 keep-alive requests, {size}, ms", f"cpu_ms_per_1k_req.{size}", 1,
            direct=False)
    row("CPU of both proxies per 1,000 new connections, ms", "cpu_ms_per_1k_conn", 1, direct=False)
    p("")
    errs = ", ".join(f"{x} {fmt(sum(data.get((x, 'lat_errors'), [0])), 0)}" for x in PATHS)
    cerrs = ", ".join(f"{x} {fmt(sum(data.get((x, 'cps_errors'), [0])), 0)}" for x in PATHS)
    d50, m50, q50 = med("direct", "p50_us"), med("mesh", "p50_us"), med("peer", "p50_us")
    d99, m99, q99 = med("direct", "p99_us"), med("mesh", "p99_us"), med("peer", "p99_us")
    p(f"Added latency over direct at 1,000 req/s (medians): mesh p50 {m50 - d50:+,.0f} µs, p99 {m99 - d99:+,.0f} µs; "
      f"peer p50 {q50 - d50:+,.0f} µs, p99 {q99 - d99:+,.0f} µs. Errors, all repetitions: fixed rate {errs}; "
      f"new connections/s (socket errors) {cerrs}.")
    p("")
goals_at = len(out)

# Memory
MB = 1024.0
has_mem = ("mesh", "mem.idle_kb") in data
if has_mem:
    def kb(path, metric):
        return med(path, metric)

    def per_conn(path, suffix=""):
        """RSS growth per connection between 1,000 and 10,000 held ones (less sensitive to the idle baseline,
        which moves by several MB with GC and native-heap trimming)."""
        h1, h10 = med(path, f"mem.held1000.{suffix}kb"), med(path, f"mem.held10000.{suffix}kb")
        n1, n10 = med(path, "mem.held1000.n"), med(path, "mem.held10000.n")
        return (h10 - h1) / (n10 - n1) if None not in (h1, h10, n1, n10) and n10 > n1 else None

    p("### Memory (RSS, MB)")
    p("")
    p("| proxy | right after start | idle after the load | 1,000 held connections | 10,000 held connections "
      "| per additional connection, KB (1,000 → 10,000) |")
    p("|---|---|---|---|---|---|")
    for path, label, suffix in (("mesh", "agent node1 (client side)", ""), ("mesh", "agent node2 (server side)", "dst_"),
                                ("peer", "haproxy node1", ""), ("peer", "haproxy node2", "dst_")):
        fresh = kb(path, f"mem.fresh_{suffix}kb")
        idle = kb(path, f"mem.idle_{suffix}kb")
        h1 = kb(path, f"mem.held1000.{suffix}kb")
        h10 = kb(path, f"mem.held10000.{suffix}kb")
        n10 = kb(path, "mem.held10000.n")
        per = per_conn(path, suffix)
        n10s = "" if n10 in (None, 10000) else f" ({fmt(n10, 0)} held)"
        p(f"| {label} | {fmt(fresh / MB, 0) if fresh else '–'} | {fmt(idle / MB, 0)} | "
          f"{fmt(h1 / MB, 0) if h1 else '–'} | {(fmt(h10 / MB, 0) + n10s) if h10 else '–'} | {fmt(per, 1)} |")
    p("")
    p("Held connections: `bench/LoadGen.java hold` from the path's client pod, one 100 B request each, then idle; haproxy "
      "holds at most 9,000 here (two descriptors per connection under the machine's 20,000-file limit). \"Idle after "
      "the load\" is measured after every other measurement of the run.")
    p("")

if ("mesh", "idle.wakeups_per_s") in data:
    p("### Idle cost (no traffic, 10 s)")
    p("")
    p("| proxy pair | wake-ups per second (context switches of all threads) | CPU, ms per minute |")
    p("|---|---|---|")
    for path, label in (("mesh", "both agents"), ("peer", "both haproxies")):
        p(f"| {label} | {fmt(med(path, 'idle.wakeups_per_s'), 0)} | {fmt(med(path, 'idle.cpu_ms_per_min'), 0)} |")
    p("")
    p("Measured after the load, before the held connections; a wake-up is a thread scheduled onto a core that "
      "the node's pods share.")
    p("")

nmt = {k[1][4:]: v[0] for k, v in data.items() if k[0] == "mesh" and k[1].startswith("nmt.")}
if nmt:
    p("### Native Memory Tracking, idle agent (node1, restarted with `-XX:NativeMemoryTracking=summary`, 10 s idle)")
    p("")
    rss = nmt.pop("rss_kb", None)
    total = nmt.pop("Total", None)
    p(f"RSS {fmt(rss / MB, 1) if rss else '–'} MB; NMT committed {fmt(total / MB, 1) if total else '–'} MB "
      "(the difference is memory NMT does not see: glibc malloc arenas of native libraries such as BoringSSL, "
      "libbpf and jffi, and shared library text).")
    p("")
    p("| NMT category | committed, MB |")
    p("|---|---|")
    always = ("Java Heap", "Class", "Metaspace", "Code", "Thread", "GC", "Other")  # Other: direct buffers
    for name, v in sorted(nmt.items(), key=lambda kv: -kv[1]):
        if v >= 256 or name in always:
            p(f"| {name} | {v / MB:.1f} |")
    p("")

# Warm-up
warm = {}
for label in ("fresh", "restart", "steady"):
    b = [med("mesh", f"warm.{label}.{i}") for i in range(1, 11)]
    if any(x is not None for x in b):
        warm[label] = b
if warm:
    steady = statistics.median([x for x in warm["steady"] if x is not None]) if "steady" in warm else None
    p("### Warm-up: mesh req/s in 1-second buckets (`wrk -t1 -c10 -d1s`, 1 KB, ten in a row), median of the repetitions")
    p("")
    p("| when | " + " | ".join(f"{i} s" for i in range(1, 11)) + " | first bucket ÷ steady (min–max) |")
    p("|---|" + "---|" * 11)
    names = {"fresh": "right after `tessera local up` (agents just ready)",
             "restart": "right after `tessera local restart-agent` of node2, then node1",
             "steady": "steady state (agents warm, after the main measurements)"}
    for label, b in warm.items():
        firsts = data.get(("mesh", f"warm.{label}.1"), [])
        shown = "–"
        if label != "steady" and ratio(b[0], steady) is not None:
            shown = f"{ratio(b[0], steady) * 100:.1f} %"
            if len(firsts) > 1:
                shown += f" ({min(firsts) / steady * 100:.1f}–{max(firsts) / steady * 100:.1f} %)"
        p(f"| {names[label]} ({len(firsts)}x) | " + " | ".join(fmt(x, 0) for x in b) + f" | {shown} |")
    p("")

# New connections at a low rate
if any(k[1].startswith("nc.") for k in data):
    def ms(path, metric):
        v = med(path, metric)
        return "–" if v is None else f"{v / 1000:.2f}"

    p("### New connection at 5/s, 1 KB (`bench/newconn.py`), ms, median of the repetitions")
    p("")
    p("| path | first byte p50 | first byte p90 | total p50 | total p90 | max | errors |")
    p("|---|---|---|---|---|---|---|")
    for where in ("cross", "same"):
        for x in PATHS:
            k = f"nc.{where}."
            p(f"| {where}-node, {x} | {ms(x, k + 'ttfb_p50_us')} | {ms(x, k + 'ttfb_p90_us')} | {ms(x, k + 'total_p50_us')}"
              f" | {ms(x, k + 'total_p90_us')} | {ms(x, k + 'total_max_us')} | {fmt(sum(data.get((x, k + 'errors'), [0])), 0)} |")
    p("")
    for where in ("cross", "same"):
        k = f"nc.{where}."
        d50, m50, q50 = (med(x, k + "total_p50_us") for x in PATHS)
        d90, m90, q90 = (med(x, k + "total_p90_us") for x in PATHS)
        if None not in (d50, m50, q50, d90, m90, q90):
            p(f"Added over direct, {where}-node: mesh total p50 {(m50 - d50) / 1000:+.2f} ms, p90 {(m90 - d90) / 1000:+.2f} ms;"
              f" haproxy pair p50 {(q50 - d50) / 1000:+.2f} ms, p90 {(q90 - d90) / 1000:+.2f} ms.")
    p("")

# Goals of issue 10, from this run
goals = []


def goal(name, target, value, ok, shown):
    goals.append((name, target, shown if value is not None else "not measured",
                  "–" if value is None else ("✓" if ok(value) else "✗")))


if has_main:
    g = lambda metric: ratio(med("mesh", metric), med("peer", metric))
    gd = lambda metric: ratio(med("mesh", metric), med("direct", metric))
    goal("single-stream throughput ÷ haproxy", "≥ 1.5x", g("gbps"), lambda v: v >= 1.5, f"{rfmt(g('gbps'))}x")
    goal("single-stream throughput ÷ direct", "≥ 0.45x", gd("gbps"), lambda v: v >= 0.45, f"{rfmt(gd('gbps'))}x")
    for size in ("100b", "1k", "64k"):
        goal(f"keep-alive req/s ÷ haproxy, {size}", "≥ 1.2x", g(f"rps.{size}"), lambda v: v >= 1.2,
             f"{rfmt(g(f'rps.{size}'))}x")
    goal("p50 at 1,000 req/s ÷ haproxy", "≤ 1.00x", g("p50_us"), lambda v: v <= 1.0, f"{rfmt(g('p50_us'))}x")
    goal("p99 at 1,000 req/s ÷ haproxy", "≤ 1.00x", g("p99_us"), lambda v: v <= 1.0, f"{rfmt(g('p99_us'))}x")
    goal("new connections/s ÷ haproxy", "≥ 3x", g("cps"), lambda v: v >= 3, f"{rfmt(g('cps'))}x")
    goal("new connections/s ÷ direct", "≥ 0.5x", gd("cps"), lambda v: v >= 0.5, f"{rfmt(gd('cps'))}x")
    for size in ("100b", "1k", "64k"):
        m = f"cpu_ms_per_1k_req.{size}"
        goal(f"CPU per 1,000 keep-alive requests ÷ haproxy, {size}", "≤ 0.8x", g(m), lambda v: v <= 0.8,
             f"{rfmt(g(m))}x ({fmt(med('mesh', m), 1)} vs {fmt(med('peer', m), 1)} ms)")
    goal("CPU per 1,000 new connections ÷ haproxy", "≤ 0.3x", g("cpu_ms_per_1k_conn"), lambda v: v <= 0.3,
         f"{rfmt(g('cpu_ms_per_1k_conn'))}x ({fmt(med('mesh', 'cpu_ms_per_1k_conn'), 1)} vs "
         f"{fmt(med('peer', 'cpu_ms_per_1k_conn'), 1)} ms)")
    goal("CPU per GB ÷ haproxy", "≤ 0.8x", g("cpu_s_per_gb"), lambda v: v <= 0.8,
         f"{rfmt(g('cpu_s_per_gb'))}x ({fmt(med('mesh', 'cpu_s_per_gb'), 2)} vs {fmt(med('peer', 'cpu_s_per_gb'), 2)} s)")
if has_mem:
    idle = med("mesh", "mem.idle_kb")
    goal("agent RSS idle (controller mode, node1, after the load)", "≤ 64 MB", idle, lambda v: v <= 64 * 1024,
         f"{fmt(idle / MB, 0)} MB")
    per = per_conn("mesh")
    goal("agent RSS per additional open connection, up to 10,000 (node1)", "≤ 10 KB", per, lambda v: v <= 10,
         f"{fmt(per, 1)} KB")
if warm and "steady" in warm:
    for label, name in (("fresh", "after a first start"), ("restart", "after restart-agent")):
        if label in warm and warm[label][0] is not None:
            r = ratio(warm[label][0], steady)
            goal(f"first 1-s bucket ÷ steady state, {name}", "≥ 80 %", r, lambda v: v >= 0.8, f"{r * 100:.1f} %")
if goals:
    g_out = ["### Goals of issue 10 (mesh ÷ haproxy pair, medians of this run)", "",
             "| goal | target | measured | met |", "|---|---|---|---|"]
    g_out += [f"| {name} | {target} | {shown} | {mark} |" for name, target, shown, mark in goals]
    g_out += ["", f"Met: {sum(1 for x in goals if x[3] == '✓')} of {len(goals)}.", ""]
    out[goals_at:goals_at] = g_out

print("\n".join(out).rstrip("\n"))
