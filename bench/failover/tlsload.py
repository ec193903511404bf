#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tlsload.py - a load of new TLS connections for bench/failover.sh.

Usage: tlsload.py --addr A --port P --sni NAME [--path /name] [--workers 4]
                  [--secs 20] [--timeout 10] --out FILE

WORKERS threads each open one TLS connection after another for SECS seconds
(SNI NAME, certificate not checked), send "GET PATH" with Connection: close
and read to EOF.  A request is ok when the answer is HTTP 200 with a body
that starts with "node=" (the bench backends' /name); anything else, a reset
or no answer within TIMEOUT seconds, is a failure.  One line per request in
FILE, in start order:

    START_MS END_MS ok NODE          (wall clock, ms since the epoch)
    START_MS END_MS fail REASON

and one summary line on stdout:

    RESULT requests=N ok=N fail=N slow=N p50_ms=X p99_ms=X max_ms=X

slow = ok but took more than 1 s.  Bounded: every request ends within
TIMEOUT s, the run within SECS + TIMEOUT + a little.
"""
import argparse
import socket
import ssl
import sys
import threading
import time


def one(addr, port, sni, path, timeout, ctx):
    t0 = time.time()
    try:
        with socket.create_connection((addr, port), timeout=timeout) as raw:
            raw.settimeout(max(0.1, timeout - (time.time() - t0)))
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, sni)).encode())
                buf = b""
                while True:
                    left = timeout - (time.time() - t0)
                    if left <= 0:
                        raise socket.timeout("timed out")
                    s.settimeout(left)
                    b = s.recv(65536)
                    if not b:
                        break
                    buf += b
        t1 = time.time()
        head, _, body = buf.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " in status + b" " and body.startswith(b"node="):
            return t0, t1, "ok", body.split()[0].decode(errors="replace")
        return t0, t1, "fail", "answer-" + (status.decode(errors="replace").replace(" ", "_") or "empty")
    except (OSError, ssl.SSLError) as e:
        name = type(e).__name__
        if isinstance(e, (socket.timeout, TimeoutError)):
            name = "timeout"
        return t0, time.time(), "fail", name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--sni", required=True)
    ap.add_argument("--path", default="/name")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--secs", type=float, default=20)
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    recs = []
    lock = threading.Lock()
    end = time.time() + a.secs

    def worker():
        while time.time() < end:
            r = one(a.addr, a.port, a.sni, a.path, a.timeout, ctx)
            with lock:
                recs.append(r)
            if r[2] == "fail" and r[1] - r[0] < 0.01:
                time.sleep(0.01)   # refused at once: do not spin

    th = [threading.Thread(target=worker, daemon=True) for _ in range(a.workers)]
    for t in th:
        t.start()
    for t in th:
        t.join(a.secs + a.timeout + 10)
    with lock:
        recs = sorted(recs)
    with open(a.out, "w") as f:
        for t0, t1, v, what in recs:
            f.write("%d %d %s %s\n" % (t0 * 1000, t1 * 1000, v, what))
    ok = [r for r in recs if r[2] == "ok"]
    lat = sorted((r[1] - r[0]) * 1000 for r in ok)

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else 0

    print("RESULT requests=%d ok=%d fail=%d slow=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f" % (
        len(recs), len(ok), len(recs) - len(ok), sum(1 for x in lat if x > 1000),
        pct(0.5), pct(0.99), lat[-1] if lat else 0))


if __name__ == "__main__":
    sys.exit(main())
