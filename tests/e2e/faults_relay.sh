#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# faults_relay.sh - xrelayd SIGKILLed and started again after a few seconds:
#   - WireGuard between pub1 and the private host priv keeps flowing while
#     xrelayd is dead (pinned maps and XDP link): every ping answered, a
#     64 MiB download over the tunnel across the kill and restart byte-exact
#   - TLS connections through the agent die with xrelayd (they are its
#     sockets): cut cleanly, no corrupted byte
#   - the agent reconnects within 2 s of xrelayd being back (control port
#     listening -> "agent connected" / `xrelayctl status -j`), and the name
#     is served again
# FAULT_RELAY_DOWN_S (8) is how long xrelayd stays dead: long enough for an
# agent's reconnect backoff to have grown.  Recovery times are printed as
# "# measured: NAME MS ms" (docs/RELIABILITY.md).
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh, faults.sh
# (fault_std_up: tenant lab, agent vm1 and WireGuard host on priv, pub1).
set -u
XR_PREFIX=${XR_PREFIX:-xt-f2-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/faults.sh"

DOWN_S=${FAULT_RELAY_DOWN_S:-8}

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
if ! fault_std_up; then
	xr_notok "relay, XDP, WireGuard tunnel and agent up"
	exit 1
fi
xr_ok "relay, XDP, WireGuard tunnel and agent up"
BIG=$TLS_WWW/big.bin

t_kill_restart() {
	local rc=0 s0 m t_kill t_back t_ready t pct pp
	s0=$(agent_session vm1)
	# 64 MiB over the tunnel at 6 MB/s (~11 s) spans the whole outage;
	# 64 MiB through the agent at 8 MB/s is cut when xrelayd dies
	DL_MAX=60 wg_dl_start wg "$NS_PUB1" "http://$T_PRIV:$WG_HTTP_PORT/big.bin" --limit-rate 6M
	dl_start tls "$NS_PUB1" a.example.test /big.bin --limit-rate 8M
	wait_for 10 sh -c "[ \$(stat -c %s '$XR_STATE/dl-tls.bin' 2>/dev/null || echo 0) -ge 1048576 ] &&
		[ \$(stat -c %s '$XR_STATE/dl-wg.bin' 2>/dev/null || echo 0) -ge 1048576 ]" ||
		{ xr_log "downloads did not start"; rc=1; }
	m=$(log_mark "${AGENT_LOG[vm1]}")
	t_kill=$(ms_now)
	relay_kill KILL
	xr_log "xrelayd SIGKILLed; it stays dead for $DOWN_S s"
	# pings over the tunnel while xrelayd is dead: 10 a second
	pp=$(( DOWN_S * 10 - 10 ))
	pct=$(ping_rate "$NS_PUB1" "$T_PRIV" "$pp" 0.1)
	xr_log "xrelayd dead: $pct % of $pp pings pub1 -> priv answered"
	echo "# measured: wg_ping_while_relay_dead ${pct} %"
	[ "$pct" = 100 ] || { xr_log "WireGuard lost packets while xrelayd was dead"; rc=1; }
	wait_for 2 log_after "${AGENT_LOG[vm1]}" "$m" 'relay session (lost|failed)' ||
		{ xr_log "the agent did not notice the relay go"; rc=1; }
	dl_wait tls 5 || { xr_log "TLS download still running ${DOWN_S} s after xrelayd died"; rc=1; }
	dl_verdict tls "$BIG" || rc=1
	[ "${DL_V[tls]}" = cut ] || { xr_log "want the TLS download cut with xrelayd"; rc=1; }
	while [ $(( $(ms_now) - t_kill )) -lt $((DOWN_S * 1000)) ]; do sleep 0.1; done
	dl_running wg || { xr_log "the tunnel download ended while xrelayd was dead"; rc=1; }

	t_back=$(ms_now)
	relay_start || { xr_log "xrelayd did not start again"; return 1; }
	wait_for 10 port_listens "$NS_RELAY" "$CTRL_PORT" || { xr_log "no control listener"; return 1; }
	t_ready=$(ms_now)
	measured relay_restart_ready $((t_ready - t_back))
	t=$(ms_wait 15000 agent_listed vm1)
	local got=$?
	t=$(( $(ms_now) - t_ready ))
	measured agent_reconnect_after_relay_restart "$t"
	if [ $got != 0 ]; then
		xr_log "vm1 not listed by the restarted xrelayd after 15 s"; rc=1
	else
		xr_log "vm1 back $t ms after the restarted xrelayd listened (session $s0 -> $(agent_session vm1))"
		[ "$t" -le 2000 ] || { xr_log "want <= 2000 ms"; rc=1; }
	fi
	log_show "${AGENT_LOG[vm1]}" "$m" 'relay session'
	log_show "$XR_RELAYD_LOG" 0 'agent connected|adopt|sessions'
	t=$(ms_wait 10000 name_is "$NS_PUB1" a.example.test priv) || { xr_log "a.example.test not served 10 s after the restart"; rc=1; }
	measured tls_route_after_relay_restart $(( $(ms_now) - t_ready ))

	dl_wait wg 60 || { xr_log "the tunnel download did not finish"; rc=1; }
	dl_verdict wg "$BIG" || rc=1
	[ "${DL_V[wg]}" = exact ] || { xr_log "want the 64 MiB over the tunnel byte-exact across the kill"; rc=1; }
	dl_clean tls; dl_clean wg
	[ $rc = 0 ] || tls_diag "relay kill and restart"
	return $rc
}

t_after() {
	local rc=0
	sessions_has lab "$PUB1_4:" || { xr_log "the restarted xrelayd does not list lab's session"; rc=1; }
	ping_ok "$NS_PUB1" "$T_PRIV" 5 && ping_ok "$NS_PRIV" "$T_PUB1" 5 || { xr_log "tunnel pings fail"; rc=1; }
	big_exact_tls || rc=1
	big_exact_wg || rc=1
	both_alive || rc=1
	return $rc
}

xr_check "xrelayd SIGKILLed for ${DOWN_S} s: tunnel pings all answered, tunnel download exact, TLS cut cleanly, agent back within 2 s" t_kill_restart
xr_check "after the restart: sessions adopted, 64 MiB byte-exact through the agent and over the tunnel" t_after

xr_result
