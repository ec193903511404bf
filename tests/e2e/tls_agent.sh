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
#                            and limits.bandwidth 16mbit
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
	"$(tls_tenant lab2 vm2 b.example.test "limits: {connections: 5/s, bandwidth: 16mbit}")" \
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

t_agent_unprivileged() {
	# the agents run as nobody without capabilities and listen on no port
	local n ns pid uid cap rc=0
	for n in vm1 vm2 vm3; do
		pid=${AGENT_PID[$n]}
		uid=$(awk '/^Uid:/ { print $2 "," $3 "," $4 "," $5 }' "/proc/$pid/status")
		cap=$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
		[ "$uid" = 65534,65534,65534,65534 ] && [ "$cap" = 0000000000000000 ] ||
			{ xr_log "agent $n (pid $pid): uids $uid, CapEff $cap"; rc=1; }
		case $n in vm1) ns=$NS_PRIV ;; *) ns=$NS_PRIV2 ;; esac
		if nsx "$ns" ss -lntupH | grep -q "pid=$pid,"; then
			xr_log "agent $n listens:"; nsx "$ns" ss -lntupH | grep "pid=$pid," | sed 's/^/#   /' >&2; rc=1
		fi
	done
	return $rc
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
	wait_for 5 out_is 0 flows_count a.example.test || { xr_log "flow still listed"; rc=1; }
	r1=$(tcp_wait resets "" $((r0 + 1)))
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
	tcp_settle
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
	r1=$(tcp_wait refused_rate lab2 $((r0 + no2))); l1=$(tcp_n refused_rate lab)
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
	tcp_settle
	a0=$(tcp_n refused_allow lab3)
	t0=$(ms_now)
	if NAME_IS_QUIET=1 name_is "$NS_PUB1" c.example.test priv2; then
		xr_log "pub1 reached c.example.test outside lab3's allow list"; rc=1
	fi
	TLS_RELAY_IP="[$RELAY6]" NAME_IS_QUIET=1 name_is "$NS_PUB1" c.example.test priv2 &&
		{ xr_log "pub1 reached c.example.test over IPv6 outside the allow list"; rc=1; }
	t1=$(ms_now)
	[ $((t1 - t0)) -lt 4000 ] || { xr_log "refusals took $((t1 - t0)) ms"; rc=1; }
	a1=$(tcp_wait refused_allow lab3 $((a0 + 2)))
	xr_log "lab3 refused_allow: $a0 -> $a1"
	[ $((a1 - a0)) -ge 2 ] || rc=1
	# the allowed client gets through, over both families
	name_is "$NS_PUB2" c.example.test priv2 && TLS_RELAY_IP="[$RELAY6]" name_is "$NS_PUB2" c.example.test priv2 || rc=1
	[ $rc = 0 ] || tls_diag "allow"
	return $rc
}

t_bandwidth() {
	# 8 MiB from lab2 (16mbit: ~4.2 s) and from lab (no limit) at once
	local t0 tb ta sb sa th0 th1 l0 l1 p rc=0
	tcp_settle
	th0=$(tcp_n throttled lab2); l0=$(tcp_n throttled lab)
	t0=$(ms_now)
	(
		tls_curl "$NS_PUB1" a.example.test /big.bin -r 0-8388607 -o /dev/null -w '%{size_download}\n'
		echo $(( $(ms_now) - t0 ))
	) >"$XR_STATE/bw.lab" 2>&1 &
	p=$!
	sb=$(tls_curl "$NS_PUB2" b.example.test /big.bin -r 0-8388607 -o /dev/null -w '%{size_download}')
	tb=$(( $(ms_now) - t0 ))
	wait $p
	{ read -r sa; read -r ta; } <"$XR_STATE/bw.lab"
	th1=$(tcp_wait throttled lab2 $((th0 + 1))); l1=$(tcp_n throttled lab)
	xr_log "lab2 (16mbit): $sb bytes in $tb ms; lab: $sa bytes in $ta ms; throttled lab2 $th0 -> $th1, lab $l0 -> $l1"
	[ "$sb" = 8388608 ] && [ "$sa" = 8388608 ] || { xr_log "incomplete downloads"; rc=1; }
	[ "$tb" -ge 3000 ] && [ "$tb" -le 9000 ] || { xr_log "lab2 not held near 16 Mbit/s (want 3..9 s)"; rc=1; }
	[ "$ta" -lt 2500 ] || { xr_log "lab slowed down"; rc=1; }
	[ "$th1" -gt "$th0" ] && [ "$l1" = "$l0" ] || { xr_log "throttled not counted to lab2 alone"; rc=1; }
	[ $rc = 0 ] || tls_diag "bandwidth"
	return $rc
}

t_agent_term() {
	# an agent stopped the ordinary way (SIGTERM: it says goodbye to the
	# relay) must not disturb the relay or the other tenants
	local rlog=$XR_RELAYD_LOG rc=0
	tls_agent_stop vm3 TERM
	sleep 1 # deliberate: the relay has processed the goodbye by now
	if ! pid_alive "$XR_RELAYD_PID"; then
		wait "$XR_RELAYD_PID"
		xr_log "xrelayd died (exit status $?) when agent vm3 stopped; its log ends:"
		tail -n 3 "$rlog" | sed 's/^/#   /' >&2
		rc=1
		# start it again, so that the tests after this one still mean something
		relay_start || return 1
	fi
	log_says "$rlog" 'agent disconnected' 'agent=vm3' || { xr_log "xrelayd did not log vm3's leaving"; rc=1; }
	wait_route "$NS_PUB1" a.example.test priv 20 && wait_route "$NS_PUB2" b.example.test priv2 20 || rc=1
	tls_agent_start vm3 "$NS_PRIV2" && wait_route "$NS_PUB2" c.example.test priv2 20 || rc=1
	[ $rc = 0 ] || tls_diag "agent stopped"
	return $rc
}

t_relay_restart() {
	# xrelayd stopped (SIGTERM: it tells the agents) and started again:
	# every agent reconnects by itself (backoff from 0.5 s) and serves again
	local n rc=0
	relay_kill TERM
	sleep 1 # deliberate: the agents have seen the relay go
	for n in vm1 vm2 vm3; do
		pid_alive "${AGENT_PID[$n]}" || { xr_log "agent $n died when the relay stopped; its log ends:"
			tail -n 2 "${AGENT_LOG[$n]}" | sed 's/^/#   /' >&2; rc=1; }
	done
	relay_start || return 1
	wait_route "$NS_PUB1" a.example.test priv 20 || rc=1
	wait_route "$NS_PUB2" b.example.test priv2 5 || rc=1
	wait_route "$NS_PUB2" c.example.test priv2 5 || rc=1
	NAME_IS_QUIET=1 wait_for 5 notebook_ok "$NS_PUB1" || notebook_ok "$NS_PUB1" || rc=1
	[ $rc = 0 ] || tls_diag "relay restart"
	return $rc
}

# last_session AGENT : the session id of the agent's latest "agent connected"
last_session() {
	grep 'msg="agent connected"' "$XR_RELAYD_LOG" | grep " agent=$1 " | tail -n1 |
		sed -n 's/.* session=\([0-9]*\).*/\1/p'
}
session_changed() { [ "$(last_session "$1")" != "$2" ]; }

t_agent_stale() {
	# the private host loses its connections without the relay seeing it
	# (the agent dies while the path is down: a crash and reboot, a NAT
	# state flush), then the agent starts again.  Its new session must take
	# the names over at once: connections routed to the silent old session
	# would fail until the heartbeat timeout (15 s) notices it.
	local old new ok=0 fail=0 rc=0 ipt
	old=$(last_session vm1)
	for ipt in iptables ip6tables; do
		nsx "$NS_RTR" $ipt -I FORWARD 1 -i lan -o wan -p tcp -j DROP
	done
	tls_agent_stop vm1 KILL
	sleep 0.5 # deliberate: the FINs/RSTs of the dying agent are dropped now
	for ipt in iptables ip6tables; do
		nsx "$NS_RTR" $ipt -D FORWARD -i lan -o wan -p tcp -j DROP
	done
	tls_agent_start vm1 "$NS_PRIV" || return 1
	wait_for 10 session_changed vm1 "$old" || { xr_log "vm1 did not reconnect"; return 1; }
	new=$(last_session vm1)
	for _ in $(seq 12); do
		if name_is "$NS_PUB1" a.example.test priv; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
	done
	xr_log "old session $old, new session $new: $ok of 12 connections served, $fail failed"
	[ $fail = 0 ] || rc=1
	# whatever happened, let the relay drop the old session before going on
	wait_for 25 log_says "$XR_RELAYD_LOG" 'agent disconnected' " session=$old " ||
		xr_log "old session $old still not dropped after 25 s"
	grep 'agent disconnected' "$XR_RELAYD_LOG" | grep " session=$old " | sed 's/^/#   /' >&2
	[ $rc = 0 ] || tls_diag "stale session"
	return $rc
}

t_control_via_443() {
	# priv may no longer open connections to :7443 (the router rejects new
	# ones: a stateful "outbound 443 only" firewall); vm1 is restarted with
	# the relay's :443 as its address and control.hostname as the name it
	# asks for
	local ipt rc=0 old
	old=$(last_session vm1)
	# SIGKILL: the kernel closes its connections and the relay sees them go
	# (a TERM goodbye is t_agent_term's business)
	tls_agent_stop vm1 KILL
	wait_for 5 log_says "$XR_RELAYD_LOG" 'agent disconnected' " session=$old " ||
		{ xr_log "the relay did not notice vm1's session $old end within 5 s"; rc=1; }
	nsx "$NS_RTR" iptables -I FORWARD 1 -s "$PRIV_4" -p tcp --dport $CTRL_PORT \
		-m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset
	nsx "$NS_RTR" ip6tables -I FORWARD 1 -s fd77::2 -p tcp --dport $CTRL_PORT \
		-m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset
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
	local old new fp
	old=$(tls_fp "$TLS_PKI/notebook.crt")
	tls_leaf notebook2 notebook.example.test
	new=$(tls_fp "$TLS_PKI/notebook2.crt")
	fp=$(served_fp)
	[ "$fp" = "$old" ] || { xr_log "before: served $fp, not the old certificate $old"; tls_diag "cert reload"; return 1; }
	tls_agent_cert vm1 notebook2 notebook
	if ! wait_for 15 out_is "$new" served_fp; then
		xr_log "after 15 s still serving $(served_fp) (old $old, new $new)"; tls_diag "cert reload"; return 1
	fi
	notebook_ok "$NS_PUB1"
}

# ---- run ------------------------------------------------------------------------
xr_check "agents registered: a -> priv, b and c -> priv2" t_first_route
xr_check "agents run as nobody, no capabilities, no listening socket" t_agent_unprivileged
xr_check "agent-side TLS: notebook.example.test to a plain-HTTP backend (cert, ALPN, POST)" t_notebook
xr_check "WebSocket upgrade through agent-side TLS: masked frames echoed" t_websocket
xr_check "agent SIGKILLed mid-transfer: the listed flow's client fails within 5 s" t_agent_killed
xr_check "agent loss counted in tcp.resets" t_agent_loss_counted
xr_check "agent restarted: new connections work" t_agent_restarted
xr_check "limits.connections: lab2 refused and counted as refused_rate, lab unaffected" t_rate_limit
xr_check "allow list: lab3 refuses pub1 (refused_allow), serves pub2" t_allow
xr_check "limits.bandwidth: lab2 held near 16mbit (throttled), lab unaffected" t_bandwidth
xr_check "agent stopped with SIGTERM: xrelayd and the other tenants unaffected" t_agent_term
xr_check "agent back after losing its connections silently: its new session serves at once" t_agent_stale
xr_check "agent control through the relay's :443 (control.hostname), :7443 blocked" t_control_via_443
xr_check "certificate files replaced: the agent serves the new certificate" t_cert_reload
xr_check "xrelayd restarted: every agent reconnects and serves again" t_relay_restart

xr_result
