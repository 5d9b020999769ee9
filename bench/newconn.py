#!/usr/bin/env python3
"""New-connection latency at a fixed low rate, for bench/run.sh (no dependencies).

    newconn.py HOST PORT PATH [SAMPLES] [INTERVAL_MS] [WARMUP]

Every INTERVAL_MS (default 200) opens a NEW TCP connection, sends one HTTP/1.0-style request
(`Connection: close`), and measures from just before connect() to the first response byte (ttfb) and to
the end of the response (the server's close). WARMUP (default 5) unmeasured connections come first.
Prints one JSON line: {samples, errors, ttfb_p50_us, ttfb_p90_us, ttfb_max_us, total_p50_us,
total_p90_us, total_max_us, connect_p50_us}. Runs one connection at a time, so what it measures is a
connection's setup on an otherwise idle path, not throughput.
"""
import json
import socket
import sys
import time


def one(host, port, request):
    t0 = time.perf_counter_ns()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    try:
        s.connect((host, port))
        t_conn = time.perf_counter_ns()
        s.sendall(request)
        first = s.recv(65536)
        t_first = time.perf_counter_ns()
        if not first:
            raise IOError("closed before the response")
        while s.recv(65536):
            pass
        t_end = time.perf_counter_ns()
    finally:
        s.close()
    return (t_conn - t0) // 1000, (t_first - t0) // 1000, (t_end - t0) // 1000


def pct(values, p):
    v = sorted(values)
    if not v:
        return 0
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def main(argv):
    host, port, path = argv[1], int(argv[2]), argv[3]
    samples = int(argv[4]) if len(argv) > 4 else 40
    interval = (int(argv[5]) if len(argv) > 5 else 200) / 1000.0
    warmup = int(argv[6]) if len(argv) > 6 else 5
    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode()
    conn, ttfb, total = [], [], []
    errors = 0
    nxt = time.monotonic()
    for i in range(warmup + samples):
        nxt += interval
        try:
            c, f, t = one(host, port, request)
            if i >= warmup:
                conn.append(c)
                ttfb.append(f)
                total.append(t)
        except (OSError, IOError):
            if i >= warmup:
                errors += 1
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(json.dumps({
        "samples": len(total), "errors": errors,
        "connect_p50_us": pct(conn, 50),
        "ttfb_p50_us": pct(ttfb, 50), "ttfb_p90_us": pct(ttfb, 90), "ttfb_max_us": max(ttfb or [0]),
        "total_p50_us": pct(total, 50), "total_p90_us": pct(total, 90), "total_max_us": max(total or [0]),
    }))


if __name__ == "__main__":
    main(sys.argv)
