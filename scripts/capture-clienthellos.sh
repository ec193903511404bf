#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# capture-clienthellos.sh - record real TLS ClientHellos as C test vectors.
#
#   scripts/capture-clienthellos.sh > tests/unit/clienthello_corpus.h
#
# A throwaway python3 listener on 127.0.0.1 (ephemeral port) accepts one
# connection at a time and keeps the first bytes the client sends: whole TLS
# records until the handshake message they carry is complete (bounded by
# 64 KiB and a 5 s socket timeout), then closes.  Each client is pointed at it
# with an SNI: curl (--resolve), `openssl s_client -servername` and python3's
# ssl module (server_hostname, ALPN h2/http/1.1).  The handshake then fails,
# which is expected.  Prints a C header with one array per client.  No root
# needed; every wait is bounded; a trap removes the temporary directory and
# kills the listener (by PID).
#
# Needs: python3, curl, openssl, timeout.
set -euo pipefail

die() { echo "capture-clienthellos: $*" >&2; exit 1; }
for t in python3 curl openssl timeout; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done

TMP=$(mktemp -d)
LPID=
cleanup() {
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

# listener: writes $TMP/port, then $TMP/capN.bin per connection (N = 1, 2, ...)
cat >"$TMP/listen.py" <<'PY'
import socket, sys, os
d = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4); s.settimeout(60)
open(os.path.join(d, "port.tmp"), "w").write(str(s.getsockname()[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
def complete(b):
    # concatenate handshake-record payloads; done when the first handshake message is whole
    hs, off = b"", 0
    while off + 5 <= len(b):
        n = int.from_bytes(b[off+3:off+5], "big")
        if b[off] != 22 or off + 5 + n > len(b): break
        hs += b[off+5:off+5+n]; off += 5 + n
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            return True
    return b[:1] != b"\x16" and len(b) > 0
for i in range(1, 10):
    c, _ = s.accept(); c.settimeout(5); buf = b""
    try:
        while len(buf) < 65536 and not complete(buf):
            x = c.recv(4096)
            if not x: break
            buf += x
    except socket.timeout:
        pass
    c.close()
    open(os.path.join(d, "cap%d.bin" % i), "wb").write(buf)
PY
python3 "$TMP/listen.py" "$TMP" &
LPID=$!
for _ in $(seq 50); do [ -f "$TMP/port" ] && break; sleep 0.1; done
[ -f "$TMP/port" ] || die "listener did not start"
PORT=$(cat "$TMP/port")

wait_cap() { # N
	for _ in $(seq 50); do [ -s "$TMP/cap$1.bin" ] && return 0; sleep 0.1; done
	die "no capture $1"
}

timeout 10 curl -s -k --max-time 5 --resolve "curl.example.com:$PORT:127.0.0.1" \
	"https://curl.example.com:$PORT/" >/dev/null 2>&1 || true
wait_cap 1
timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername openssl.example.org \
	-alpn h2,http/1.1 </dev/null >/dev/null 2>&1 || true
wait_cap 2
timeout 10 python3 - "$PORT" <<'PY' >/dev/null 2>&1 || true
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2", "http/1.1"])
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    ctx.wrap_socket(s, server_hostname="Py.Example.NET")
except Exception:
    pass
PY
wait_cap 3

emit() { # NAME FILE COMMENT
	echo "/* $3 */"
	echo "static const uint8_t $1[] = {"
	od -An -v -tx1 "$2" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1, /g' -e 's/^/\t/' -e 's/, *$/,/'
	echo "};"
	echo
}

cat <<HDR
/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Real TLS ClientHellos captured on 127.0.0.1 by scripts/capture-clienthellos.sh
 * ($(date -u +%Y-%m-%d)).  Regenerate with:
 *   scripts/capture-clienthellos.sh > tests/unit/clienthello_corpus.h
 */
#ifndef XR_CLIENTHELLO_CORPUS_H
#define XR_CLIENTHELLO_CORPUS_H

#include <stdint.h>

HDR
emit ch_curl "$TMP/cap1.bin" "$(curl --version | head -n1 | cut -d' ' -f1-2,4-5); SNI curl.example.com, ALPN h2,http/1.1"
emit ch_openssl "$TMP/cap2.bin" "$(openssl version | cut -d' ' -f1-2) s_client; SNI openssl.example.org, ALPN h2,http/1.1"
emit ch_python "$TMP/cap3.bin" "python3 $(python3 -c 'import sys;print(sys.version.split()[0])') ssl; SNI sent mixed-case as Py.Example.NET, ALPN h2,http/1.1"
echo "#endif /* XR_CLIENTHELLO_CORPUS_H */"
