#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# capture-wg-vectors.sh - record a real WireGuard handshake as C test vectors.
#
#   sudo scripts/capture-wg-vectors.sh > tests/unit/wg_vectors.h
#
# Two network namespaces joined by a veth pair each run wireguard-go
# (userspace, so no kernel module is needed) with keys fresh from
# `wg genkey`.  The initiator sends a UDP datagram through the tunnel, which
# makes it send a handshake initiation; tcpdump on the veth records the UDP
# payloads.  The script prints a C header with both public keys, the raw
# initiation (148 bytes, mac1 made with the responder's public key), the raw
# response (92 bytes, mac1 made with the initiator's public key) and the
# first transport data message from initiator to responder (receiver index
# = the responder's sender index from the response).  The private keys are
# thrown away.  Everything happens in the namespaces; every wait is bounded;
# a trap removes namespaces, processes (by PID) and temporary files.
#
# Needs: root, iproute2, wireguard-go, wireguard-tools (wg), tcpdump,
# python3, timeout.

set -euo pipefail

die() { echo "capture-wg-vectors: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
for t in ip wg wireguard-go tcpdump python3 timeout; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done

ID=$$
NS_I="xrwgi$ID"                 # initiator namespace
NS_R="xrwgr$ID"                 # responder namespace
WG_I="xwi$ID"                   # wireguard-go interface names: their UAPI
WG_R="xwr$ID"                   # sockets in /var/run/wireguard are global
VE_I="xvi$ID"
VE_R="xvr$ID"
UNDER_I=10.231.0.1 UNDER_R=10.231.0.2   # veth (outer) addresses
TUN_I=10.232.0.1 TUN_R=10.232.0.2       # tunnel (inner) addresses
PORT_I=51820 PORT_R=51821
for n in "$WG_I" "$WG_R" "$VE_I" "$VE_R"; do
	[ ${#n} -le 15 ] || die "interface name too long: $n"
done

TMP=$(mktemp -d /tmp/xrwg.XXXXXX)
PIDS=()

cleanup() {
	local pid i
	for pid in "${PIDS[@]}"; do
		kill -INT "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	ip netns del "$NS_I" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	rm -f "/var/run/wireguard/$WG_I.sock" "/var/run/wireguard/$WG_R.sock"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS CMD...: poll until CMD succeeds, at most SECONDS.
wait_for() {
	local deadline=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

ip netns add "$NS_I"
ip netns add "$NS_R"
ip link add "$VE_I" netns "$NS_I" type veth peer name "$VE_R" netns "$NS_R"
ip -n "$NS_I" addr add "$UNDER_I/24" dev "$VE_I"
ip -n "$NS_R" addr add "$UNDER_R/24" dev "$VE_R"
for ns in "$NS_I" "$NS_R"; do
	ip -n "$ns" link set lo up
done
ip -n "$NS_I" link set "$VE_I" up
ip -n "$NS_R" link set "$VE_R" up

umask 077
timeout 10 wg genkey > "$TMP/i.key"
timeout 10 wg genkey > "$TMP/r.key"
PUB_I=$(timeout 10 wg pubkey < "$TMP/i.key")
PUB_R=$(timeout 10 wg pubkey < "$TMP/r.key")

# -f: stay in the foreground so that $! is wireguard-go itself (ip netns
# exec execs its command).  The env var is checked on Linux by some
# wireguard-go releases (which otherwise point to the kernel module); it is
# harmless elsewhere.  v0.0.20220316 only prints that banner.
start_wg() { # NS IFNAME LOG
	ip netns exec "$1" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
		wireguard-go -f "$2" >"$3" 2>&1 &
	PIDS+=("$!")
	wait_for 10 test -S "/var/run/wireguard/$2.sock" || {
		cat "$3" >&2; die "wireguard-go $2 did not start"; }
	wait_for 10 ip -n "$1" link show "$2" || die "no interface $2"
}
start_wg "$NS_I" "$WG_I" "$TMP/wg-i.log"
start_wg "$NS_R" "$WG_R" "$TMP/wg-r.log"

timeout 10 ip netns exec "$NS_I" wg set "$WG_I" listen-port "$PORT_I" \
	private-key "$TMP/i.key" \
	peer "$PUB_R" endpoint "$UNDER_R:$PORT_R" allowed-ips "$TUN_R/32"
timeout 10 ip netns exec "$NS_R" wg set "$WG_R" listen-port "$PORT_R" \
	private-key "$TMP/r.key" \
	peer "$PUB_I" allowed-ips "$TUN_I/32"
ip -n "$NS_I" addr add "$TUN_I/24" dev "$WG_I"
ip -n "$NS_R" addr add "$TUN_R/24" dev "$WG_R"
ip -n "$NS_I" link set "$WG_I" up
ip -n "$NS_R" link set "$WG_R" up

# Capture before anything is sent.  --immediate-mode: without it TPACKET_V3
# hands packets over in blocks, and a SIGINT arriving before the block
# timeout loses them ("4 packets received by filter, 0 captured").
# -U: write each packet at once.
ip netns exec "$NS_I" tcpdump -i "$VE_I" -nn -U --immediate-mode -s 0 -w "$TMP/wg.pcap" \
	"udp and (port $PORT_I or port $PORT_R)" 2>"$TMP/tcpdump.log" &
TCPDUMP=$!
PIDS+=("$TCPDUMP")
wait_for 10 grep -q "listening on" "$TMP/tcpdump.log" || {
	cat "$TMP/tcpdump.log" >&2; die "tcpdump did not start"; }

# Any packet routed into the tunnel makes wireguard-go initiate and, once
# the handshake completes, send it as a transport message.  A UDP datagram
# via bash's /dev/udp is enough (no ping needed); resend until the
# initiator reports a handshake.
handshaken() {
	local t
	t=$(timeout 5 ip netns exec "$NS_I" wg show "$WG_I" latest-handshakes | awk '{print $2}')
	[ -n "$t" ] && [ "$t" != 0 ]
}
ok=
for i in $(seq 10); do
	timeout 5 ip netns exec "$NS_I" bash -c "echo xrelay > /dev/udp/$TUN_R/9" || true
	if wait_for 2 handshaken; then ok=1; break; fi
done
[ -n "$ok" ] || die "no handshake within the time limit"
sleep 1
kill -INT "$TCPDUMP"
for i in $(seq 50); do kill -0 "$TCPDUMP" 2>/dev/null || break; sleep 0.1; done

WGGO_VER=$(timeout 5 wireguard-go --version 2>/dev/null | head -n1 || true)

python3 - "$TMP/wg.pcap" "$PUB_I" "$PUB_R" "$UNDER_I" "$WGGO_VER" <<'EOF'
import base64, datetime, hashlib, socket, struct, sys

path, pub_i, pub_r, under_i, wggo = sys.argv[1:6]
data = open(path, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
if magic in (0xa1b2c3d4, 0xa1b23c4d):
    end = "<"
elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
    end = ">"
else:
    sys.exit("capture-wg-vectors: not a pcap file")
linktype = struct.unpack(end + "I", data[20:24])[0]
if linktype != 1:
    sys.exit("capture-wg-vectors: unexpected link type %d" % linktype)

pkts = []  # (src ip, payload)
off = 24
while off + 16 <= len(data):
    incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        continue
    ihl = (frame[14] & 15) * 4
    if frame[14 + 9] != 17:
        continue
    src = socket.inet_ntoa(frame[14 + 12:14 + 16])
    udp = frame[14 + ihl:]
    ulen = struct.unpack("!H", udp[4:6])[0]
    pkts.append((src, udp[8:ulen]))

def first(pred, what):
    for src, p in pkts:
        if pred(src, p):
            return p
    sys.exit("capture-wg-vectors: no %s captured" % what)

init = first(lambda s, p: s == under_i and p[:1] == b"\x01" and len(p) == 148,
             "initiation")
resp = first(lambda s, p: s != under_i and p[:1] == b"\x02" and len(p) == 92,
             "response")
r_sender = resp[4:8]
data4 = first(lambda s, p: s == under_i and p[:1] == b"\x04" and p[4:8] == r_sender,
              "data message initiator->responder")

def carr(name, b, comment):
    out = ["/* %s */" % comment,
           "static const uint8_t %s[%d] = {" % (name, len(b))]
    for i in range(0, len(b), 12):
        out.append("\t" + " ".join("0x%02x," % x for x in b[i:i + 12]))
    out.append("};")
    return "\n".join(out)

ki, kr = base64.b64decode(pub_i), base64.b64decode(pub_r)
assert len(ki) == 32 and len(kr) == 32

# Cross-check with an independent implementation before emitting anything.
def mac1(msg, off, pub):
    key = hashlib.blake2s(b"mac1----" + pub).digest()
    return hashlib.blake2s(msg[:off], key=key, digest_size=16).digest()
if mac1(init, 116, kr) != init[116:132] or mac1(resp, 60, ki) != resp[60:76]:
    sys.exit("capture-wg-vectors: captured mac1 does not verify")
if mac1(init, 116, ki) == init[116:132]:
    sys.exit("capture-wg-vectors: initiation verifies under the wrong key")
print("""/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * GENERATED by scripts/capture-wg-vectors.sh -- do not edit; re-run it.
 * A real handshake between two %s instances in network
 * namespaces, captured with tcpdump on %s (UTC).  Keys came from
 * `wg genkey`; the private keys were discarded.
 *   initiation: mac1 made with the responder's public key
 *   response:   mac1 made with the initiator's public key
 *   data:       first transport message initiator -> responder; its
 *               receiver index is the response's sender index
 */
#ifndef XR_WG_VECTORS_H
#define XR_WG_VECTORS_H

#include <stdint.h>
""" % (wggo or "wireguard-go",
       datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")))
print('static const char wgv_initiator_pub_b64[] = "%s";' % pub_i)
print('static const char wgv_responder_pub_b64[] = "%s";\n' % pub_r)
print(carr("wgv_initiator_pub", ki, "initiator's public key") + "\n")
print(carr("wgv_responder_pub", kr, "responder's public key") + "\n")
print(carr("wgv_initiation", init, "type 1, initiator -> responder") + "\n")
print(carr("wgv_response", resp, "type 2, responder -> initiator") + "\n")
print(carr("wgv_data", data4, "type 4, initiator -> responder") + "\n")
print("""/* which public key each mac1 was made with */
#define WGV_INITIATION_MAC1_PUB wgv_responder_pub
#define WGV_RESPONSE_MAC1_PUB   wgv_initiator_pub

#endif""")
EOF
