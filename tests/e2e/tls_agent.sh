#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tls_agent.sh - the agent's side of TLS services and the tenants' limits:
# TLS terminated by the agent in front of a plain-HTTP backend (with a
# WebSocket upgrade), the agent killed mid-transfer and restarted, per-tenant
# connection rate and allow list, the control connection through the relay's
# :443 (control.hostname), and certificate reload.
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh.  Agents run as
# user nobody and dial out through the NAT:
#   vm1 (priv,  tenant lab)  a.example.test -> nginx :8443 (passthrough)
#                            notebook.example.test -> 127.0.0.1:8888 plain
#                            HTTP; the agent terminates TLS (tls.cert/key)
#   vm2 (priv2, tenant lab2) b.example.test; lab2 has limits.connections 5/s
#   vm3 (priv2, tenant lab3) c.example.test; lab3 allows only pub2's address
# One "ok - NAME" / "not ok - NAME" line per assertion; exits 1 when any
# failed.  XR_KEEP=1 keeps the topology.
set -u
XR_PREFIX=${XR_PREFIX:-xt3-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/tls.sh"

TLS_CONTROL_HOSTNAME=relay.example.test

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
tls_topo_up
tls_www
tls_leaf a a.example.test
tls_leaf b b.example.test
tls_leaf c c.example.test
tls_leaf notebook notebook.example.test
nginx_start priv "$NS_PRIV" 8443 \
	"$(nginx_tls_server priv 8443 a a.example.test default_server)"
nginx_start priv2 "$NS_PRIV2" 8443 \
	"$(nginx_tls_server priv2 8443 b b.example.test default_server)" \
	"$(nginx_tls_server priv2 8443 c c.example.test)"
tls_httpws "$NS_PRIV" 8888

for a in vm1 vm2 vm3; do tls_agent_key $a; done
tls_agent_cert vm1 notebook
NB_DIR=$(agent_dir vm1)
tls_relay_config \
	"$(tls_tenant lab vm1 "a.example.test notebook.example.test")" \
	"$(tls_tenant lab2 vm2 b.example.test "limits: {connections: 5/s}")" \
	"$(tls_tenant lab3 vm3 c.example.test "allow: [\"$PUB2_4/32\", \"$PUB2_6/128\"]")"
vm1_config() { # RELAY_ADDRESS
	tls_agent_config vm1 "$1" \
		"$(tls_service a.example.test 127.0.0.1:8443)" \
		"$(tls_service notebook.example.test 127.0.0.1:8888 \
			"tls:" "  cert: $NB_DIR/notebook.pem" "  key: $NB_DIR/notebook.key")"
}
vm1_config "$RELAY4:$CTRL_PORT"
tls_agent_config vm2 "$RELAY4:$CTRL_PORT" "$(tls_service b.example.test 127.0.0.1:8443)"
tls_agent_config vm3 "$RELAY4:$CTRL_PORT" "$(tls_service c.example.test 127.0.0.1:8443)"

if ! { tls_relay_up && tls_agent_start vm1 "$NS_PRIV" && tls_agent_start vm2 "$NS_PRIV2" &&
	tls_agent_start vm3 "$NS_PRIV2"; }; then
	xr_notok "relay and agents up (xrelayd on :443/:$CTRL_PORT, vm1..vm3 as user nobody)"
	exit 1
fi
xr_ok "relay and agents up (xrelayd on :443/:$CTRL_PORT, vm1..vm3 as user nobody)"

# ---- helpers -----------------------------------------------------------------
# notebook_ok NS : GET through the relay, TLS ended by the agent
notebook_ok() {
	local body
	body=$(TLS_CURL_MAX=5 tls_curl "$1" notebook.example.test /hello 2>&1)
	[ "$body" = "notebook ok path=/hello host=notebook.example.test" ] && return 0
	[ "${NAME_IS_QUIET:-0}" = 1 ] || xr_log "https://notebook.example.test/hello: ${body:-(nothing)}"
	return 1
}
served_fp() {
	tlsfix "$NS_PUB1" certfp "$RELAY4" 443 notebook.example.test --ca "$TLS_CA" 2>/dev/null
}

# ---- scenarios -------------------------------------------------------------------
t_first_route() {
	wait_route "$NS_PUB1" a.example.test priv 20 &&
	wait_route "$NS_PUB2" b.example.test priv2 20 &&
	wait_route "$NS_PUB2" c.example.test priv2 20 || { tls_diag "first routes"; return 1; }
}

t_notebook() {
	NAME_IS_QUIET=1 wait_for 10 notebook_ok "$NS_PUB1" || notebook_ok "$NS_PUB1" || { tls_diag "notebook"; return 1; }
	# the certificate is the agent's, HTTP/1.1 by ALPN; a POST goes both ways
	local fp want ver out
	fp=$(served_fp); want=$(tls_fp "$TLS_PKI/notebook.crt")
	[ "$fp" = "$want" ] || { xr_log "served certificate $fp, want $want"; return 1; }
	ver=$(tls_curl "$NS_PUB1" notebook.example.test /hello -o /dev/null -w '%{http_version}')
	[ "$ver" = 1.1 ] || { xr_log "HTTP version $ver"; return 1; }
	out=$(tls_curl "$NS_PUB1" notebook.example.test /post --data-binary "@$TLS_WWW/256k.bin" \
		-H 'Content-Type: application/octet-stream')
	[ "$out" = "262144 $K256_SHA" ] || { xr_log "POST 256 KiB answered: $out"; return 1; }
}

t_websocket() {
	local out
	out=$(tlsfix "$NS_PUB1" ws "$RELAY4" 443 notebook.example.test --ca "$TLS_CA")
	local rc=$?
	xr_log "ws: $out"
	[ $rc = 0 ] || { tls_diag "websocket"; return 1; }
	# ALPN: the agent's default list is ["http/1.1"]
	case $out in *'"alpn": "http/1.1"'*) ;; *) xr_log "ALPN not http/1.1"; return 1 ;; esac
}

t_agent_killed() {
	# a download is running (listed in xrelayctl flows) when the agent is
	# SIGKILLed: the public client must fail promptly, not hang
	local cpid st t0 t1 rc=0 crc r0 r1
	xr_spawn dl-kill "$NS_PUB1" curl -sS --max-time 60 --limit-rate 4M \
		--resolve a.example.test:443:$RELAY4 --cacert "$TLS_CA" -o /dev/null https://a.example.test/big.bin
	cpid=$XR_LAST_PID
	st=$(awk -v p="$cpid" '$1 == p { print $2 }' "$XR_STATE/pids" | tail -n1)
	wait_for 10 flows_has a.example.test "$PUB1_4" || { xr_log "transfer not listed in xrelayctl -j flows"; rc=1; }
	sleep 1 # deliberate: bytes are flowing when the agent dies
	r0=$(tcp_n resets)
	t0=$(ms_now)
	tls_agent_stop vm1 KILL
	while xr_alive "$cpid" "$st" && [ $(( $(ms_now) - t0 )) -lt 15000 ]; do sleep 0.05; done
	t1=$(ms_now)
	if xr_alive "$cpid" "$st"; then
		xr_log "curl still running 15 s after the agent was killed"; xr_kill "$cpid"; rc=1
	else
		wait "$cpid"; crc=$?
		xr_log "curl exited $crc, $((t1 - t0)) ms after SIGKILL of the agent: $(tail -n1 "$XR_STATE/dl-kill.log")"
		[ "$crc" != 0 ] || { xr_log "curl reported success for a cut transfer"; rc=1; }
		[ $((t1 - t0)) -lt 5000 ] || { xr_log "not prompt (>= 5 s)"; rc=1; }
	fi
	wait_for 5 test "$(flows_count a.example.test)" = 0 || { xr_log "flow still listed"; rc=1; }
	r1=$(tcp_n resets)
	xr_log "tcp.resets: $r0 -> $r1"
	echo "$r0 $r1" >"$XR_STATE/resets.kill"
	[ $rc = 0 ] || tls_diag "agent killed"
	return $rc
}

t_agent_loss_counted() {
	local r0 r1
	read -r r0 r1 <"$XR_STATE/resets.kill"
	[ $((r1 - r0)) -ge 1 ]
}

t_agent_restarted() {
	tls_agent_start vm1 "$NS_PRIV" || return 1
	wait_route "$NS_PUB1" a.example.test priv 20 || { tls_diag "after restart"; return 1; }
	NAME_IS_QUIET=1 wait_for 10 notebook_ok "$NS_PUB1" || notebook_ok "$NS_PUB1"
}

t_rate_limit() {
	# 30 connections as fast as curl goes, to lab2 (5/s) from pub2 and to lab
	# (no limit) from pub1, at the same time
	local r0 r1 l0 l1 ok2=0 no2=0 ok1=0 p
	r0=$(tcp_n refused_rate lab2); l0=$(tcp_n refused_rate lab)
	(
		for _ in $(seq 30); do name_is "$NS_PUB1" a.example.test priv 2>/dev/null && echo ok || echo fail; done
	) >"$XR_STATE/rate.lab" &
	p=$!
	for _ in $(seq 30); do
		if NAME_IS_QUIET=1 TLS_CURL_MAX=3 name_is "$NS_PUB2" b.example.test priv2; then
			ok2=$((ok2 + 1)); else no2=$((no2 + 1)); fi
	done
	wait $p
	ok1=$(grep -c '^ok$' "$XR_STATE/rate.lab")
	r1=$(tcp_n refused_rate lab2); l1=$(tcp_n refused_rate lab)
	xr_log "lab2 (5/s): $ok2 served, $no2 refused, refused_rate $r0 -> $r1; lab: $ok1 of 30 served, refused_rate $l0 -> $l1"
	local rc=0
	[ $no2 -ge 5 ] && [ $ok2 -ge 1 ] || { xr_log "lab2 not held at its rate"; rc=1; }
	[ $((r1 - r0)) -ge $no2 ] || { xr_log "lab2's refusals not counted as refused_rate"; rc=1; }
	[ "$ok1" = 30 ] && [ "$l1" = "$l0" ] || { xr_log "lab was affected"; rc=1; }
	[ $rc = 0 ] || tls_diag "rate limit"
	return $rc
}

t_allow() {
	local a0 a1 rc=0 t0 t1
	a0=$(tcp_n refused_allow lab3)
	t0=$(ms_now)
	if NAME_IS_QUIET=1 name_is "$NS_PUB1" c.example.test priv2; then
		xr_log "pub1 reached c.example.test outside lab3's allow list"; rc=1
	fi
	TLS_RELAY_IP="[$RELAY6]" NAME_IS_QUIET=1 name_is "$NS_PUB1" c.example.test priv2 &&
		{ xr_log "pub1 reached c.example.test over IPv6 outside the allow list"; rc=1; }
	t1=$(ms_now)
	[ $((t1 - t0)) -lt 4000 ] || { xr_log "refusals took $((t1 - t0)) ms"; rc=1; }
	a1=$(tcp_n refused_allow lab3)
	xr_log "lab3 refused_allow: $a0 -> $a1"
	[ $((a1 - a0)) -ge 2 ] || rc=1
	# the allowed client gets through, over both families
	name_is "$NS_PUB2" c.example.test priv2 && TLS_RELAY_IP="[$RELAY6]" name_is "$NS_PUB2" c.example.test priv2 || rc=1
	[ $rc = 0 ] || tls_diag "allow"
	return $rc
}

t_control_via_443() {
	# priv may no longer open anything to :7443 (the router rejects it); vm1
	# is restarted with the relay's :443 as its address and
	# control.hostname as the name it asks for
	local ipt rc=0
	nsx "$NS_RTR" iptables -I FORWARD 1 -s "$PRIV_4" -p tcp --dport $CTRL_PORT -j REJECT --reject-with tcp-reset
	nsx "$NS_RTR" ip6tables -I FORWARD 1 -s fd77::2 -p tcp --dport $CTRL_PORT -j REJECT --reject-with tcp-reset
	tls_agent_stop vm1
	printf '127.0.0.1 localhost\n%s %s\n' "$RELAY4" "$TLS_CONTROL_HOSTNAME" >"$XR_STATE/hosts.priv"
	chmod 0644 "$XR_STATE/hosts.priv"
	vm1_config "$TLS_CONTROL_HOSTNAME:443"
	AGENT_HOSTS=$XR_STATE/hosts.priv tls_agent_start vm1 "$NS_PRIV" || return 1
	wait_route "$NS_PUB1" a.example.test priv 20 || rc=1
	NAME_IS_QUIET=1 wait_for 10 notebook_ok "$NS_PUB1" || notebook_ok "$NS_PUB1" || rc=1
	local c443 c7443
	c443=$(nsx "$NS_PRIV" ss -tnH state established "( dport = :443 )" | grep -c "$RELAY4:443")
	c7443=$(nsx "$NS_PRIV" ss -tnH state established "( dport = :$CTRL_PORT )" | grep -c .)
	xr_log "priv: $c443 connections to $RELAY4:443, $c7443 to :$CTRL_PORT"
	[ "$c443" -ge 1 ] && [ "$c7443" = 0 ] || rc=1
	for ipt in iptables ip6tables; do
		nsx "$NS_RTR" $ipt -vnL FORWARD 1 | sed "s/^/#   $ipt: /" >&2
	done
	[ $rc = 0 ] || tls_diag "control via :443"
	return $rc
}

t_cert_reload() {
	# new key and certificate for notebook.example.test, moved over the files
	# the agent's config names: the agent must serve the new one
	local old new
	old=$(tls_fp "$TLS_PKI/notebook.crt")
	tls_leaf notebook2 notebook.example.test
	new=$(tls_fp "$TLS_PKI/notebook2.crt")
	[ "$(served_fp)" = "$old" ] || { xr_log "before: not the old certificate"; return 1; }
	tls_agent_cert vm1 notebook2 notebook
	if ! wait_for 15 test "$(served_fp)" = "$new"; then
		xr_log "after 15 s still serving $(served_fp) (old $old, new $new)"; tls_diag "cert reload"; return 1
	fi
	notebook_ok "$NS_PUB1"
}

# ---- run ------------------------------------------------------------------------
xr_check "agents registered: a -> priv, b and c -> priv2" t_first_route
xr_check "agent-side TLS: notebook.example.test to a plain-HTTP backend (cert, ALPN, POST)" t_notebook
xr_check "WebSocket upgrade through agent-side TLS: masked frames echoed" t_websocket
xr_check "agent SIGKILLed mid-transfer: the listed flow's client fails within 5 s" t_agent_killed
xr_check "agent loss counted in tcp.resets" t_agent_loss_counted
xr_check "agent restarted: new connections work" t_agent_restarted
xr_check "limits.connections: lab2 refused and counted as refused_rate, lab unaffected" t_rate_limit
xr_check "allow list: lab3 refuses pub1 (refused_allow), serves pub2" t_allow
xr_check "agent control through the relay's :443 (control.hostname), :7443 blocked" t_control_via_443
xr_check "certificate files replaced: the agent serves the new certificate" t_cert_reload

xr_result
