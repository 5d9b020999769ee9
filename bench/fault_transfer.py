#!/usr/bin/env python3
"""Bulk transfers both ways with SHA-256 on both ends, for bench/faults.sh (no dependencies).

    fault_transfer.py server PORT
    fault_transfer.py client HOST PORT MIB
        The client sends an 8-byte length and MIB MiB; the server answers the SHA-256 of what it received,
        the SHA-256 of its own MIB MiB, then those bytes. The client compares both digests and prints one
        JSON line {mib, up_ok, down_ok, seconds}. Every 64-byte block of both payloads starts with MARKER
        (32 bytes of plaintext), so a capture can prove none of it crossed the wire in the clear.
"""
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

MARKER = b"TESSERA-FAULTS-PLAINTEXT-MARKER!"
assert len(MARKER) == 32
CHUNK = 1 << 20


def chunk():
    r = os.urandom(CHUNK // 2)
    return b"".join(MARKER + r[i:i + 32] for i in range(0, len(r), 32))


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(min(1 << 20, n - len(buf)))
        if not b:
            raise IOError("closed after %d of %d bytes" % (len(buf), n))
        buf += b
    return bytes(buf)


def send_payload(s, n):
    h = hashlib.sha256()
    left = n
    while left:
        c = chunk()[:left]
        h.update(c)
        s.sendall(c)
        left -= len(c)
    return h.hexdigest()


def handle(conn):
    with conn:
        n = struct.unpack("!Q", read_exact(conn, 8))[0]
        h = hashlib.sha256()
        left = n
        while left:
            b = conn.recv(min(1 << 20, left))
            if not b:
                return
            h.update(b)
            left -= len(b)
        own = [chunk() for _ in range((n + CHUNK - 1) // CHUNK)]
        data = b"".join(own)[:n]
        conn.sendall((h.hexdigest() + "\n" + hashlib.sha256(data).hexdigest() + "\n").encode())
        conn.sendall(data)


def server(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def client(host, port, mib):
    n = mib << 20
    t0 = time.monotonic()
    s = socket.create_connection((host, port), timeout=120)
    s.sendall(struct.pack("!Q", n))
    sent = send_payload(s, n)
    lines = b""
    while lines.count(b"\n") < 2:
        b = s.recv(1)
        if not b:
            raise IOError("closed before the digests")
        lines += b
    got_up, expect_down = lines.decode().split()
    h = hashlib.sha256()
    left = n
    while left:
        b = s.recv(min(1 << 20, left))
        if not b:
            raise IOError("closed after %d of %d bytes back" % (n - left, n))
        h.update(b)
        left -= len(b)
    s.close()
    print(json.dumps({"mib": mib, "up_ok": got_up == sent, "down_ok": h.hexdigest() == expect_down,
                      "seconds": round(time.monotonic() - t0, 2)}), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "server":
        server(int(a[1]))
    else:
        client(a[1], int(a[2]), int(a[3]))
