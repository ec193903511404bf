#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""scrape.py - GET /metrics N times in a row, one new TCP connection each
(as Prometheus does after a keep-alive timeout), for bench/ops.sh.

Usage: scrape.py HOST:PORT N [GAP_MS]   -> "RESULT n=N fail=F bytes=B p50_ms= p90_ms= p99_ms= max_ms="
bytes = the body size of the last scrape.  Each scrape is bounded by 5 s.
GAP_MS (default 0) is slept between scrapes: spread over some seconds, the
scrapes land at every phase of xrelayd's once-a-second work, as Prometheus'
scrapes (every 15 s or so, unrelated to that second) do.
"""
import socket
import sys
import time


def main():
    host, _, port = sys.argv[1].rpartition(":")
    n = int(sys.argv[2])
    gap = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0
    lat, fail, size = [], 0, 0
    req = ("GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sys.argv[1]).encode()
    for i in range(n):
        if gap and i:
            time.sleep(gap)
        t0 = time.perf_counter()
        try:
            with socket.create_connection((host, int(port)), timeout=5) as s:
                s.sendall(req)
                buf = bytearray()
                while True:
                    b = s.recv(262144)
                    if not b:
                        break
                    buf += b
            t1 = time.perf_counter()
            head, _, body = bytes(buf).partition(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0] + b" ":
                fail += 1
                continue
            size = len(body)
            lat.append((t1 - t0) * 1000)
        except OSError:
            fail += 1
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else 0

    print("RESULT n=%d fail=%d bytes=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f" % (
        n, fail, size, pct(0.5), pct(0.9), pct(0.99), lat[-1] if lat else 0))


if __name__ == "__main__":
    main()
