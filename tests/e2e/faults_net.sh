#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# faults_net.sh - the network path fails under the tunnel and the agents.
# Throughout, three 64 MiB downloads run: over the WireGuard tunnel, through
# agent vm1 (heartbeat 5 s, the default) and through agent vm2 (heartbeat 1 s).
#
#   NAT      the router forgets every mapping (conntrack -F; NAT with
#            --random, so each new mapping gets a new public port).  The
#            tunnel is back within one PersistentKeepalive interval + 2 s
#            (27 s; WireGuard re-handshakes after 15 s without an answer),
#            each agent within one heartbeat + 2 s; the tunnel download
#            exact, the agents' downloads exact or cut and told.
#   relay    `ip link set eth0 down` on the relay (the NIC with the XDP
#            program) for FAULT_LINK_DOWN_S (5) seconds: longer than the
#            relay needs to declare a 1 s-heartbeat agent dead (3 missed
#            heartbeats and its 1 s sweep), shorter than a 5 s one needs
#   uplink   the private host's cable: the router's port towards priv (lp1)
#            down for as long, so priv sees its carrier go
# In both link outages the tunnel's TCP and vm1's session ride out the outage
# (those downloads byte-exact); vm2's session dies, its download may end cut,
# as a byte-exact prefix, but its client must be told within 10 s of the link
# coming back, not left hanging.  After the link is up: tunnel pings within
# 3 s, both names served within 5 s, XDP still attached, nothing crashed.
# Times: "# measured: NAME MS ms" (docs/RELIABILITY.md).
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh, faults.sh
# (fault_std_up: tenant lab, agents vm1 and vm2 and the WireGuard host on
# priv, its peer on pub1).
set -u
export NAT_RANDOM=1 # read by netns.sh topo_nat_rules
XR_PREFIX=${XR_PREFIX:-xt-f3-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/faults.sh"

DOWN_S=${FAULT_LINK_DOWN_S:-5}

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
# vm1 with the default heartbeat (5 s: rides out the outage), vm2 with 1 s
# shellcheck disable=SC2034 # read by fault_std_up
FAULT_VM1_HB_MS=5000 FAULT_VM2=1
if ! fault_std_up; then
	xr_notok "relay, XDP, WireGuard tunnel and agent up"
	exit 1
fi
xr_ok "relay, XDP, WireGuard tunnel and agent up"
BIG=$TLS_WWW/big.bin

# ping1 : one tunnel ping pub1 -> priv, 0.5 s to answer
ping1() { nsx "$NS_PUB1" ping -n -q -c 1 -W 0.5 "$T_PRIV" >/dev/null 2>&1; }

# xdp_attached : `xrelayctl status -j` lists a link on eth0
xdp_attached() {
	xrctl -j status 2>/dev/null | "$XR_PY" -c '
import json, sys
d = json.load(sys.stdin)
links = d.get("interfaces") or []
sys.exit(0 if any(l.get("ifname") == "eth0" for l in links) else 1)'
}

# started NAME... : each download has at least 1 MiB
started() {
	local n
	for n in "$@"; do [ "$(dl_bytes "$n")" -ge 1048576 ] || return 1; done
}

# outage NAME NS IFACE : three downloads running (over the tunnel; through
# vm1, heartbeat 5 s; through vm2, heartbeat 1 s), IFACE in NS down for
# DOWN_S seconds, then up; checks and times the recovery
outage() {
	local name=$1 ns=$2 ifc=$3 rc=0 a0 a1 b0 b1 t_down t_up m k
	local t_ping='' t_a='' t_b='' t_bend=''
	a0=$(agent_session vm1); b0=$(agent_session vm2)
	DL_MAX=90 wg_dl_start "$name-wg" "$NS_PUB1" "http://$T_PRIV:$WG_HTTP_PORT/big.bin" --limit-rate 8M
	DL_MAX=90 dl_start "$name-a" "$NS_PUB1" a.example.test /big.bin --limit-rate 8M
	DL_MAX=90 dl_start "$name-b" "$NS_PUB1" b.example.test /big.bin --limit-rate 8M
	wait_for 10 started "$name-wg" "$name-a" "$name-b" || { xr_log "downloads did not start"; rc=1; }
	m=$(log_mark "$XR_RELAYD_LOG")
	t_down=$(ms_now)
	nsx "$ns" ip link set "$ifc" down || { xr_log "ip link set $ifc down in $ns failed"; return 1; }
	# vm2's client may be told during the outage (the relay resets the
	# flows of a session it drops), so its end is watched from here
	while [ $(( $(ms_now) - t_down )) -lt $((DOWN_S * 1000)) ]; do
		[ -z "$t_bend" ] && dl_done "$name-b" && t_bend=$(ms_now)
		sleep 0.05
	done
	nsx "$ns" ip link set "$ifc" up
	t_up=$(ms_now)
	# then every 50 ms for up to 10 s: tunnel ping, both names served, the
	# end of vm2's download
	while [ $(( $(ms_now) - t_up )) -lt 10000 ]; do
		[ -z "$t_ping" ] && ping1 && t_ping=$(ms_now)
		[ -z "$t_bend" ] && dl_done "$name-b" && t_bend=$(ms_now)
		[ -z "$t_a" ] && NAME_IS_QUIET=1 TLS_CURL_MAX=1 name_is "$NS_PUB1" a.example.test priv && t_a=$(ms_now)
		[ -z "$t_b" ] && NAME_IS_QUIET=1 TLS_CURL_MAX=1 name_is "$NS_PUB1" b.example.test priv && t_b=$(ms_now)
		[ -n "$t_ping" ] && [ -n "$t_a" ] && [ -n "$t_b" ] && [ -n "$t_bend" ] && break
		sleep 0.05
	done
	for k in ping:t_ping:3000:"tunnel ping" a:t_a:5000:"a.example.test (vm1) served" \
		b:t_b:5000:"b.example.test (vm2) served"; do
		local key=${k%%:*} rest=${k#*:} var bound what
		var=${rest%%:*}; rest=${rest#*:}; bound=${rest%%:*}; what=${rest#*:}
		if [ -n "${!var}" ]; then
			measured "link_${name}_${key}_after_up" $(( ${!var} - t_up ))
			[ $(( ${!var} - t_up )) -le "$bound" ] ||
				{ xr_log "$name: $what again $(( ${!var} - t_up )) ms after up (want <= $bound)"; rc=1; }
		else
			xr_log "$name: $what: not within 10 s of the link coming up"; rc=1
		fi
	done
	a1=$(agent_session vm1); b1=$(agent_session vm2)
	xr_log "$name: sessions vm1 (heartbeat 5 s) $a0 -> ${a1:-none}, vm2 (heartbeat 1 s) $b0 -> ${b1:-none}, $DOWN_S s down"
	log_show "$XR_RELAYD_LOG" "$m" 'agent (dis)?connected'
	[ "$a1" = "$a0" ] || { xr_log "$name: vm1's session did not ride out $DOWN_S s with a 5 s heartbeat"; rc=1; }
	# vm2's download: reset cleanly, and its client told within 10 s of the link
	# coming back, or it resumed; a client left hanging is killed and counted
	if [ -z "$t_bend" ] && [ "$(dl_bytes "$name-b")" -lt $((60 << 20)) ]; then
		local p0 p1
		p0=$(dl_bytes "$name-b"); sleep 1; p1=$(dl_bytes "$name-b")
		if [ "$p1" = "$p0" ]; then
			xr_log "$name: vm2's download stalled at $p1 bytes, its client not told 10 s after the link came up"
			xr_kill "${DL_PID[$name-b]}" KILL; rc=1
		fi
	fi
	dl_wait "$name-b" 60 || { xr_log "$name: download through vm2 still running"; rc=1; }
	dl_verdict "$name-b" "$BIG" || rc=1
	[ "${DL_V[$name-b]}" = cut ] && [ -n "$t_bend" ] &&
		measured "link_${name}_vm2_client_reset_after_down" $((t_bend - t_down))
	dl_wait "$name-a" 60 || { xr_log "$name: download through vm1 still running"; rc=1; }
	dl_verdict "$name-a" "$BIG" || rc=1
	[ "${DL_V[$name-a]}" = exact ] || { xr_log "$name: want vm1's download (heartbeat 5 s) to resume"; rc=1; }
	dl_wait "$name-wg" 60 || { xr_log "$name: tunnel download still running"; rc=1; }
	dl_verdict "$name-wg" "$BIG" || rc=1
	[ "${DL_V[$name-wg]}" = exact ] || { xr_log "$name: want the tunnel download to ride out the outage"; rc=1; }
	dl_clean "$name-wg"; dl_clean "$name-a"; dl_clean "$name-b"
	xdp_attached || { xr_log "$name: XDP no longer attached to eth0"; rc=1; }
	both_alive || rc=1
	[ $rc = 0 ] || tls_diag "$name link down/up"
	return $rc
}

# nat_port : priv's WireGuard mapping's public port on the router ("" if none)
nat_port() {
	nsx "$NS_RTR" conntrack -L -p udp --orig-src "$PRIV_4" --orig-port-src 51820 2>/dev/null |
		sed -n 's/.*src=[0-9.]* dst='"$RTR_WAN4"' sport=[0-9]* dport=\([0-9]*\).*/\1/p' | head -n1
}

t_nat_flush() {
	# traffic both ways over the tunnel (1 ping/s each way) and a download
	# through each agent while the router forgets every mapping.  WireGuard
	# re-handshakes from the new mapping once 15 s pass without an answer
	# (keepalive + rekey timeout), which the relay learns from; bound: one
	# PersistentKeepalive interval (25 s) and 2 s.  An agent's next heartbeat
	# leaves from a new port, the relay's stack answers RST, the agent dials
	# again: bound one heartbeat and 2 s.  Downloads: exact or cut, told.
	local rc=0 p0 p1 a0 b0 t0 t_wg='' t_a='' t_b='' t_aend='' t_bend='' m ppid
	a0=$(agent_session vm1); b0=$(agent_session vm2)
	p0=$(nat_port)
	DL_MAX=90 wg_dl_start nat-wg "$NS_PUB1" "http://$T_PRIV:$WG_HTTP_PORT/big.bin" --limit-rate 8M
	DL_MAX=90 dl_start nat-a "$NS_PUB1" a.example.test /big.bin --limit-rate 8M
	DL_MAX=90 dl_start nat-b "$NS_PUB1" b.example.test /big.bin --limit-rate 8M
	wait_for 10 started nat-wg nat-a nat-b || { xr_log "downloads did not start"; rc=1; }
	xr_spawn nat-ping "$NS_PRIV" ping -n -q -i 1 -c 40 -W 1 "$T_PUB1"
	ppid=$XR_LAST_PID
	m=$(log_mark "$XR_RELAYD_LOG")
	nat_flush || { xr_log "conntrack -F failed"; return 1; }
	t0=$(ms_now)
	while [ $(( $(ms_now) - t0 )) -lt 30000 ]; do
		[ -z "$t_wg" ] && ping1 && t_wg=$(ms_now)
		[ -z "$t_aend" ] && dl_done nat-a && t_aend=$(ms_now)
		[ -z "$t_bend" ] && dl_done nat-b && t_bend=$(ms_now)
		[ -z "$t_a" ] && agent_session_new vm1 "$a0" && t_a=$(ms_now)
		[ -z "$t_b" ] && agent_session_new vm2 "$b0" && t_b=$(ms_now)
		[ -n "$t_wg" ] && [ -n "$t_a" ] && [ -n "$t_b" ] && break
		sleep 0.2
	done
	p1=$(nat_port)
	xr_log "NAT port of priv's WireGuard $p0 -> ${p1:-none}"
	[ -n "$p1" ] && [ "$p1" != "$p0" ] || xr_log "the mapping did not change: not a real rebind"
	if [ -n "$t_wg" ]; then
		measured nat_flush_wg_ping $((t_wg - t0))
		[ $((t_wg - t0)) -le 27000 ] || { xr_log "tunnel back after $((t_wg - t0)) ms (want <= 27000)"; rc=1; }
	else
		xr_log "tunnel not back 30 s after the flush"; rc=1
	fi
	for k in vm1:t_a:5000 vm2:t_b:1000; do
		local n=${k%%:*} v b
		v=${k#*:}; b=${v#*:}; v=${v%%:*}
		if [ -n "${!v}" ]; then
			measured "nat_flush_${n}_new_session" $(( ${!v} - t0 ))
			[ $(( ${!v} - t0 )) -le $((b + 2000)) ] ||
				{ xr_log "$n reconnected $(( ${!v} - t0 )) ms after the flush (want <= $((b + 2000)), heartbeat $b ms)"; rc=1; }
		else
			xr_log "$n: still session $(agent_session $n) 30 s after the flush"; rc=1
		fi
	done
	log_show "$XR_RELAYD_LOG" "$m" 'agent (dis)?connected|endpoint'
	wait_route "$NS_PUB1" a.example.test priv 5 || rc=1
	wait_route "$NS_PUB1" b.example.test priv 5 || rc=1
	for k in a b; do
		local e=t_${k}end
		dl_wait "nat-$k" 30 || { xr_log "download nat-$k hangs"; rc=1; }
		dl_verdict "nat-$k" "$BIG" || rc=1
		[ "${DL_V[nat-$k]}" = cut ] && [ -n "${!e}" ] && measured "nat_flush_${k}_client_reset" $(( ${!e} - t0 ))
		dl_clean "nat-$k"
	done
	dl_wait nat-wg 90 || { xr_log "tunnel download hangs"; rc=1; }
	dl_verdict nat-wg "$BIG" || rc=1
	[ "${DL_V[nat-wg]}" = exact ] || { xr_log "want the tunnel download to ride out the rebind"; rc=1; }
	dl_clean nat-wg
	xr_kill "$ppid" INT
	both_alive || rc=1
	[ $rc = 0 ] || tls_diag "NAT flush"
	return $rc
}

t_after() {
	ping_ok "$NS_PUB1" "$T_PRIV" 5 && ping_ok "$NS_PRIV" "$T_PUB1" 5 && big_exact_tls && big_exact_wg
}

xr_check "XDP attached to the relay's eth0 before the outages" xdp_attached
xr_check "NAT conntrack flushed: tunnel back within 27 s, agents within a heartbeat + 2 s, no byte corrupted" t_nat_flush
xr_check "relay eth0 down ${DOWN_S} s: tunnel and vm1 (5 s heartbeat) downloads exact, vm2's (1 s) exact or cut and told, all back" \
	outage relay "$NS_RELAY" eth0
xr_check "private uplink down ${DOWN_S} s: tunnel and vm1 (5 s heartbeat) downloads exact, vm2's (1 s) exact or cut and told, all back" \
	outage uplink "$NS_RTR" lp1
xr_check "after both outages: 64 MiB byte-exact through the agent and over the tunnel" t_after

xr_result
