#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""fill_sessions.py - put N synthetic WireGuard session directions into a
pinned xr_sessions map (bench/ops.sh), as if N handshakes had completed now.

Usage: fill_sessions.py PINNED_MAP N TENANT_IDS   e.g. .../v1/xr_sessions 60000 1-100

Keys 0x10000000 + i (receiver indexes nobody uses); values are struct
xr_session (include/xrelay_abi.h, 128 bytes): dst and src 198.18.0.99:51820,
tenant id spread round-robin over TENANT_IDS ("A-B" or "A,B,C"; they must be
tenants of the running config, or xrelayd's sweep deletes the entries),
peer index 0x20000000 + i, created_ns = now (CLOCK_MONOTONIC), so the sweep
keeps them for REJECT_AFTER_TIME + slack (180 + 30 s by default).  One
BPF_MAP_UPDATE_ELEM per entry (60,000 take about a second).
"""
import ctypes
import struct
import sys
import time

SYS_BPF = 321          # x86_64
BPF_MAP_UPDATE_ELEM = 2
BPF_OBJ_GET = 7
VALUE_SIZE = 128       # sizeof(struct xr_session)

libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(SYS_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "bpf(cmd %d)" % cmd)
    return r


def endpoint(ip4, port):
    # struct xr_endpoint: 16-byte address (v4-mapped), port (network order),
    # family (XR_AF_INET = 4), pad
    return b"\0" * 10 + b"\xff\xff" + bytes(ip4) + struct.pack(">H", port) + bytes([4, 0])


def tenant_ids(spec):
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, n, tids = sys.argv[1], int(sys.argv[2]), tenant_ids(sys.argv[3])
    pbuf = ctypes.create_string_buffer(path.encode())
    fd = bpf(BPF_OBJ_GET, struct.pack("QII", ctypes.addressof(pbuf), 0, 0))
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    ep = endpoint([198, 18, 0, 99], 51820)
    key = ctypes.create_string_buffer(4)
    val = ctypes.create_string_buffer(VALUE_SIZE)
    for i in range(n):
        struct.pack_into("I", key, 0, 0x10000000 + i)
        v = (ep + ep + struct.pack("IIII", tids[i % len(tids)], 0x20000000 + i, 0, 0) +
             struct.pack("QQQQ", now, 0, 0, 0))
        ctypes.memmove(val, v, len(v))   # key_tag and next-hop cache stay zero
        bpf(BPF_MAP_UPDATE_ELEM, struct.pack("IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(val), 0))
    print("inserted", n)


if __name__ == "__main__":
    main()
