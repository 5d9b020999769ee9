#!/usr/bin/env python3
"""Top self frames and top inclusive "interesting" frames of async-profiler collapsed stacks.

    profile_top.py FILE.collapsed...   (no dependencies)

Per file (plain or .gz): total samples; for cpu profiles (taken with `threads`) the share of each thread and where
the event loop's samples go (TLS, socket syscalls, HTTP/2, ...); the 20 frames with the most self time (for alloc:
the allocated class, i.e. the leaf, and the allocating Java method, i.e. the frame under it), and the 25
dev.tessera / io.netty frames with the largest inclusive share.
"""
import gzip
import re
import sys
from collections import Counter

# Where the event loop's samples go: the first rule whose frame occurs in a stack takes it.
CATEGORIES = [
    ("TLS encrypt (SSL.writeToSSL)", "SSL.writeToSSL"), ("TLS decrypt (SSL.readFromSSL)", "SSL.readFromSSL"),
    ("socket writes (write/writev, incl. the kernel's TCP/veth path)", "AbstractEpollStreamChannel.doWrite"),
    ("socket reads", "Native.read"), ("socket reads", "FileDescriptor.read"),
    ("accept/connect/close", "Native.accept"), ("accept/connect/close", "LinuxSocket.connect"),
    ("accept/connect/close", "FileDescriptor.close"), ("epoll_wait, wake-ups", "Native.epollWait"),
    ("epoll_wait, wake-ups", "Native.epollBusyWait"), ("epoll_wait, wake-ups", "eventFdWrite"),
    ("epoll_ctl", "Native.epollCtl"), ("eBPF map lookup (JNR-FFI)", "dev/tessera/agent/redirect"),
    ("metrics", "dev/tessera/agent/metrics"), ("metrics", "io/prometheus"), ("access log", "JsonAccessLog"),
    ("HTTP/2 codec", "io/netty/handler/codec/http2"), ("SslHandler (other)", "io/netty/handler/ssl"),
    ("tessera proxy/tunnel code", "dev/tessera"), ("netty (other)", "io/netty"),
]


def thread_of(first):
    t = re.sub(r"\s*tid=\d+\]?$", "", first).strip("[")
    return re.sub(r"-\d+$", "-N", t)


def short(frame):
    frame = re.sub(r"_\[[jikt0]\]$", "", frame)
    return frame


for path in sys.argv[1:]:
    self_c, incl, site, threads, cats = Counter(), Counter(), Counter(), Counter(), Counter()
    total = 0
    for line in (gzip.open(path, "rt") if path.endswith(".gz") else open(path)):
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, n = line.rpartition(" ")
        n = int(n)
        frames = [short(f) for f in stack.split(";")]
        total += n
        self_c[frames[-1]] += n
        if frames[0].startswith("["):  # cpu profiles are taken with `threads`
            threads[thread_of(frames[0])] += n
            if any("SingleThreadIoEventLoop.run" in f for f in frames):
                cats[next((name for name, key in CATEGORIES if any(key in f for f in frames)), "event loop (other)")] += n
        if "alloc" in path and len(frames) > 1:
            # the allocating Java frame: the deepest frame that is not the allocated class
            site[frames[-2]] += n
        for f in set(frames):
            if f.startswith(("dev/tessera", "dev.tessera", "io/netty", "io.netty")):
                incl[f] += n
    unit = "allocation samples" if "alloc" in path else "samples"
    print(f"=== {path.rsplit('/', 1)[-1]}: {total:,} {unit}")
    if threads:
        print("  threads: " + ", ".join(f"{k} {100.0 * v / total:.1f}%" for k, v in threads.most_common(6)))
        print("  event loop: " + ", ".join(f"{k} {100.0 * v / total:.1f}%" for k, v in cats.most_common()))
    print("  self (leaf):")
    for f, n in self_c.most_common(20):
        print(f"    {100.0 * n / total:5.1f}%  {f}")
    if site:
        print("  allocating frame:")
        for f, n in site.most_common(15):
            print(f"    {100.0 * n / total:5.1f}%  {f}")
    print("  inclusive (dev.tessera / io.netty):")
    for f, n in incl.most_common(25):
        print(f"    {100.0 * n / total:5.1f}%  {f}")
    print()
