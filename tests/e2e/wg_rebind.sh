#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# wg_rebind.sh - NAT rebinding of the private host, measured.
#
# The router masquerades with --random, so every new conntrack entry gets a
# new public source port.  Flushing the router's conntrack table makes the
# private host's next packet leave from a new port: the relay's session
# towards priv points at a dead mapping until the relay learns the new one
# (from a data packet or a new handshake).  We measure how long until a ping
# through the tunnel works again, in both directions, and print the seconds:
#   round 1: priv pings pub1 (the private side is active)
#   round 2: pub1 pings priv (only priv's keepalive and rekey can help)
# Bounds: 60 s for round 1, 150 s for round 2.
set -u
export NAT_RANDOM=1 # read by netns.sh topo_nat_rules
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/netns.sh"

if ! xr_have_relay; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL)"
	exit 1
fi
topo_up
if ! wg_relay_up lab; then
	xr_notok "relay up: xrelayd started, XDP attached, peers configured"
	exit 1
fi
xr_ok "relay up: xrelayd started, XDP attached, peers configured"

# the public port of priv's WireGuard mapping on the router ("" if none)
nat_port() {
	nsx "$NS_RTR" conntrack -L -p udp --orig-src $PRIV_4 --orig-port-src 51820 2>/dev/null |
		sed -n 's/.*src=[0-9.]* dst='"$RTR_WAN4"' sport=[0-9]* dport=\([0-9]*\).*/\1/p' | head -n1
}

# rebind ROUND_NAME PING_NS PING_DST BOUND_S
rebind() {
	local name=$1 ns=$2 dst=$3 bound=$4 before after t0 t
	before=$(nat_port)
	nsx "$NS_RTR" conntrack -F >/dev/null 2>&1 || { xr_log "conntrack -F failed"; return 1; }
	t0=$SECONDS
	# one probe per second: ping -c1 -W1 takes up to 1 s itself
	while ! nsx "$ns" ping -n -q -c 1 -W 1 "$dst" >/dev/null 2>&1; do
		if [ $((SECONDS - t0)) -ge "$bound" ]; then
			after=$(nat_port)
			xr_log "$name: no ping after $bound s (NAT port $before -> ${after:-none})"
			xrctl -j sessions 2>&1 | sed 's/^/#   /' >&2
			return 1
		fi
	done
	t=$((SECONDS - t0))
	after=$(nat_port)
	echo "# rebind $name: tunnel works again after $t s (NAT port $before -> ${after:-none})"
	REBIND_T=$t
	REBIND_PORT=$after
	[ -n "$before" ] && [ -n "$after" ] && [ "$before" != "$after" ] ||
		xr_log "$name: NAT port did not change ($before -> $after): not a real rebind"
	return 0
}

t_tunnel() {
	wait_for 30 ping_ok "$NS_PUB1" $T_PRIV 1 && ping_ok "$NS_PRIV" $T_PUB1 3
}

# the relay trusts the new mapping only once data flows on a session from
# the opposite peer (confirmation by use): its log says so
confirmed_at() { grep -q "msg=\"endpoint confirmed\".* endpoint=$RTR_WAN4:$1 " "$XR_RELAYD_LOG"; }
t_confirmed() {
	[ -n "${REBIND_PORT:-}" ] && wait_for 10 confirmed_at "$REBIND_PORT"
}

xr_check "tunnel pub1 <-> priv through the relay before the rebind" t_tunnel
REBIND_T=
if rebind "priv->pub1" "$NS_PRIV" $T_PUB1 60; then
	xr_ok "NAT rebind, private side active: priv -> pub1 recovers (${REBIND_T} s)"
	xr_check "the relay confirmed priv's new NAT mapping" t_confirmed
else
	xr_notok "NAT rebind, private side active: priv -> pub1 recovers within 60 s"
fi
# settle: both directions work before the second round
wait_for 30 ping_ok "$NS_PUB1" $T_PRIV 1
REBIND_T=
if rebind "pub1->priv" "$NS_PUB1" $T_PRIV 150; then
	xr_ok "NAT rebind, public side active: pub1 -> priv recovers (${REBIND_T} s)"
	xr_check "the relay confirmed priv's new NAT mapping again" t_confirmed
else
	xr_notok "NAT rebind, public side active: pub1 -> priv recovers within 150 s"
fi

xr_result
