#!/usr/bin/env python3
"""Many concurrent connections with traffic, for bench/soak.sh and bench/faults.sh (no dependencies).

    soak_conns.py server PORT
        asyncio line echo on 0.0.0.0:PORT (run inside the server pod's network namespace).
    soak_conns.py hold HOST PORT CONNECTIONS SECONDS [INTERVAL_S]
        opens CONNECTIONS connections (at most 200 handshakes at a time), then for SECONDS every connection
        sends one line every INTERVAL_S (default 5, spread at random) and checks the echo; then closes them.
        Progress on stderr every 10 s; one JSON line on stdout at the end.
    soak_conns.py churn HOST PORT SECONDS RATE
        opens RATE new connections per second for SECONDS, each one line round trip then close.
        Prints one JSON line: {attempted, ok, failed, failures: [first few errors with times]}.

Every error is counted, never retried: a failed connect, a timeout (10 s), an early close or a wrong echo.
"""
import asyncio
import json
import random
import resource
import sys
import time


async def serve(port):
    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                writer.write(line)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=8192, reuse_address=True)
    async with server:
        await server.serve_forever()


async def hold(host, port, n, seconds, interval):
    errors = []
    stats = {"opened": 0, "messages": 0, "open": 0}
    sem = asyncio.Semaphore(200)
    t0 = time.monotonic()
    all_open = asyncio.Event()
    stop_at = [None]

    def error(what):
        if len(errors) < 20:
            errors.append("%.1fs %s" % (time.monotonic() - t0, what))
        stats.setdefault("errors", 0)
        stats["errors"] += 1

    async def one(i):
        try:
            async with sem:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        except Exception as e:  # noqa: BLE001 - every failure counts
            error("connect %d: %r" % (i, e))
            return
        stats["opened"] += 1
        stats["open"] += 1
        if stats["opened"] == n:
            stop_at[0] = time.monotonic() + seconds
            all_open.set()
        try:
            await all_open.wait()
            seq = 0
            await asyncio.sleep(random.uniform(0, interval))
            while time.monotonic() < stop_at[0]:
                msg = ("c%d s%d %s\n" % (i, seq, "x" * 64)).encode()
                writer.write(msg)
                await writer.drain()
                got = await asyncio.wait_for(reader.readexactly(len(msg)), 10)
                if got != msg:
                    error("conn %d: wrong echo" % i)
                    break
                stats["messages"] += 1
                seq += 1
                await asyncio.sleep(interval)
        except Exception as e:  # noqa: BLE001
            error("conn %d: %r" % (i, e))
        finally:
            stats["open"] -= 1
            writer.close()

    async def progress():
        while True:
            await asyncio.sleep(10)
            print("t=%.0fs open=%d messages=%d errors=%d" % (time.monotonic() - t0, stats["open"],
                  stats["messages"], stats.get("errors", 0)), file=sys.stderr, flush=True)

    p = asyncio.ensure_future(progress())
    tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
    await asyncio.gather(*tasks)
    p.cancel()
    print(json.dumps({"connections": n, "opened": stats["opened"], "messages": stats["messages"],
                      "errors": stats.get("errors", 0), "first_errors": errors,
                      "seconds": round(time.monotonic() - t0, 1)}), flush=True)


async def churn(host, port, seconds, rate):
    t0 = time.monotonic()
    res = {"attempted": 0, "ok": 0, "failed": 0}
    failures = []

    async def one(i):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            msg = b"n%d\n" % i
            writer.write(msg)
            await writer.drain()
            got = await asyncio.wait_for(reader.readexactly(len(msg)), 10)
            writer.close()
            if got != msg:
                raise IOError("wrong echo")
            res["ok"] += 1
        except Exception as e:  # noqa: BLE001
            res["failed"] += 1
            if len(failures) < 20:
                failures.append("%.2fs %r" % (time.monotonic() - t0, e))

    tasks = []
    i = 0
    while time.monotonic() - t0 < seconds:
        tasks.append(asyncio.ensure_future(one(i)))
        res["attempted"] += 1
        i += 1
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    res["failures"] = failures
    print(json.dumps(res), flush=True)


def main(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a[0] == "server":
        asyncio.run(serve(int(a[1])))
    elif a[0] == "hold":
        asyncio.run(hold(a[1], int(a[2]), int(a[3]), float(a[4]), float(a[5]) if len(a) > 5 else 5.0))
    elif a[0] == "churn":
        asyncio.run(churn(a[1], int(a[2]), float(a[3]), float(a[4])))
    else:
        raise SystemExit("mode: %s (expected: server | hold | churn)" % a[0])


if __name__ == "__main__":
    main(sys.argv[1:])
