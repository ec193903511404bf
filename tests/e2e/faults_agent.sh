#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# faults_agent.sh - faults of the agent process, and a reload under load:
#   SIGSTOP  the relay drops the silent session after 3 missed heartbeats
#            (not before 2), resets its public connections, refuses new ones
#   SIGCONT  the agent notices and reconnects with a new session
#   SIGKILL  public connections through it reset at once; a new process
#            serves again
#   reload   `xrelayctl reload` adding a tenant and changing another's limits
#            during a 64 MiB download of an unchanged tenant: byte-exact, not
#            reset, and that tenant's agent keeps its session
# Recovery times are printed as "# measured: NAME MS ms" (docs/RELIABILITY.md).
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh, faults.sh.
# Agents vm1 (tenant lab, a.example.test), vm2 (lab2, b.example.test) and,
# after the reload, vm3 (lab3, c.example.test), all on priv behind the NAT,
# heartbeat 1 s.  XR_KEEP=1 keeps the topology.
set -u
XR_PREFIX=${XR_PREFIX:-xt-f1-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/faults.sh"

HB=$FAULT_HB_MS

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
tls_topo_up
tls_www
tls_leaf a a.example.test
tls_leaf b b.example.test
tls_leaf c c.example.test
nginx_start priv "$NS_PRIV" 8443 \
	"$(nginx_tls_server priv 8443 a a.example.test default_server)" \
	"$(nginx_tls_server priv 8443 b b.example.test)" \
	"$(nginx_tls_server priv 8443 c c.example.test)"
for a in vm1 vm2 vm3; do tls_agent_key $a; done
# relay.yaml before the reload; after it (config_after) lab2 has other
# limits and lab3 exists; lab is the same
config_before() {
	tls_relay_config \
		"$(tls_tenant lab vm1 a.example.test)" \
		"$(tls_tenant lab2 vm2 b.example.test "limits: {connections: 50/s}")"
}
config_after() {
	tls_relay_config \
		"$(tls_tenant lab vm1 a.example.test)" \
		"$(tls_tenant lab2 vm2 b.example.test "limits: {connections: 20/s, bandwidth: 400mbit}")" \
		"$(tls_tenant lab3 vm3 c.example.test)"
}
config_before
tls_agent_config vm1 "$RELAY4:$CTRL_PORT" "$(tls_service a.example.test 127.0.0.1:8443)"
tls_agent_config vm2 "$RELAY4:$CTRL_PORT" "$(tls_service b.example.test 127.0.0.1:8443)"
tls_agent_config vm3 "$RELAY4:$CTRL_PORT" "$(tls_service c.example.test 127.0.0.1:8443)"
if ! { tls_relay_up && tls_agent_start vm1 "$NS_PRIV" && tls_agent_start vm2 "$NS_PRIV"; }; then
	xr_notok "relay and agents up (heartbeat ${HB} ms)"
	exit 1
fi
xr_ok "relay and agents up (heartbeat ${HB} ms)"

BIG=$TLS_WWW/big.bin

t_first_route() {
	wait_route "$NS_PUB1" a.example.test priv 20 && wait_route "$NS_PUB1" b.example.test priv 20 &&
		wait_for 5 agent_listed vm1 || { tls_diag "first routes"; return 1; }
	xr_log "xrelayctl status -j lists vm1 with session $(agent_session vm1), vm2 with $(agent_session vm2)"
}

# ---- SIGSTOP / SIGCONT ------------------------------------------------------------
S_STOP=
t_sigstop() {
	local s0 m t rc=0 lo=$((2 * HB - 300)) hi=$((3 * HB + 1000))
	s0=$(agent_session vm1); S_STOP=$s0
	[ -n "$s0" ] || { xr_log "vm1 not listed before SIGSTOP"; return 1; }
	# a download is running through vm1 when it stops (8 MB/s: 8 s)
	dl_start stop "$NS_PUB1" a.example.test /big.bin --limit-rate 8M
	wait_for 10 sh -c "[ \$(stat -c %s '$XR_STATE/dl-stop.bin' 2>/dev/null || echo 0) -ge 1048576 ]" ||
		{ xr_log "download through vm1 did not start"; rc=1; }
	m=$(log_mark "$XR_RELAYD_LOG")
	kill -STOP "${AGENT_PID[vm1]}"
	t=$(ms_wait $((hi + 3000)) agent_not_listed vm1)
	local got=$?
	measured agent_sigstop_detect "$t"
	if [ $got != 0 ]; then
		xr_log "vm1 (stopped) still listed by xrelayctl status -j after $t ms"; rc=1
	else
		xr_log "vm1 stopped: the relay dropped session $s0 after $t ms (want $lo..$hi ms: 3 heartbeats of $HB ms, 1 s sweep)"
		[ "$t" -ge "$lo" ] && [ "$t" -le "$hi" ] || rc=1
	fi
	wait_for 2 log_after "$XR_RELAYD_LOG" "$m" 'msg="agent disconnected"' " session=$s0 " 'heartbeat' ||
		{ xr_log "no 'agent disconnected ... heartbeat' line for session $s0"; rc=1; }
	log_show "$XR_RELAYD_LOG" "$m" 'agent disconnected'
	# its public connection is reset with the session, not left hanging
	dl_wait stop 5 || { xr_log "download through the stopped agent still running 5 s after the drop"; rc=1; }
	dl_verdict stop "$BIG" || rc=1
	[ "${DL_V[stop]}" = cut ] || { xr_log "want the download cut by the drop"; rc=1; }
	dl_clean stop
	[ $rc = 0 ] || tls_diag "SIGSTOP"
	return $rc
}

t_stopped_refused() {
	# vm1 is still stopped, its session gone: a new client is refused at
	# once instead of waiting for a timeout
	local t0 t1 out
	t0=$(ms_now)
	out=$(TLS_CURL_MAX=10 tls_curl "$NS_PUB1" a.example.test /name 2>&1)
	local crc=$?
	t1=$(ms_now)
	xr_log "a.example.test with vm1 stopped: curl exit $crc after $((t1 - t0)) ms: $out"
	measured agent_stopped_refusal $((t1 - t0))
	[ $crc != 0 ] && [ $((t1 - t0)) -lt 2000 ]
}

t_sigcont() {
	local t rc=0 m
	m=$(log_mark "${AGENT_LOG[vm1]}")
	kill -CONT "${AGENT_PID[vm1]}"
	t=$(ms_wait 10000 agent_session_new vm1 "$S_STOP")
	local got=$?
	measured agent_sigcont_reconnect "$t"
	if [ $got != 0 ]; then
		xr_log "vm1 not back 10 s after SIGCONT"; rc=1
	else
		xr_log "vm1 continued: new session $(agent_session vm1) listed after $t ms"
		[ "$t" -le 3000 ] || { xr_log "slower than 3 s"; rc=1; }
	fi
	wait_for 2 log_after "${AGENT_LOG[vm1]}" "$m" 'relay session (lost|failed)' ||
		{ xr_log "the agent did not log losing its session"; rc=1; }
	log_show "${AGENT_LOG[vm1]}" "$m" 'relay session'
	wait_route "$NS_PUB1" a.example.test priv 5 || rc=1
	[ $rc = 0 ] || tls_diag "SIGCONT"
	return $rc
}

# ---- SIGKILL ---------------------------------------------------------------------
t_sigkill() {
	local t0 t rc=0 s0
	s0=$(agent_session vm1)
	dl_start kill "$NS_PUB1" a.example.test /big.bin --limit-rate 8M
	wait_for 10 sh -c "[ \$(stat -c %s '$XR_STATE/dl-kill.bin' 2>/dev/null || echo 0) -ge 1048576 ]" ||
		{ xr_log "download through vm1 did not start"; rc=1; }
	t0=$(ms_now)
	tls_agent_stop vm1 KILL
	dl_wait kill 10 || { xr_log "download still running 10 s after SIGKILL of the agent"; rc=1; }
	t=$(( ${DL_T1[kill]} - t0 ))
	measured agent_sigkill_client_reset "$t"
	dl_verdict kill "$BIG" || rc=1
	[ "${DL_V[kill]}" = cut ] || { xr_log "want the download cut"; rc=1; }
	[ "$t" -le 1000 ] || { xr_log "client ended $t ms after the kill (want <= 1000)"; rc=1; }
	t=$(ms_wait 3000 agent_not_listed vm1) || { xr_log "session $s0 still listed $t ms after the kill"; rc=1; }
	measured agent_sigkill_session_gone "$t"
	dl_clean kill
	[ $rc = 0 ] || tls_diag "SIGKILL"
	return $rc
}

t_restart() {
	local t0 t rc=0 sum
	t0=$(ms_now)
	tls_agent_start vm1 "$NS_PRIV" || return 1
	NAME_IS_QUIET=1 wait_for 10 name_is "$NS_PUB1" a.example.test priv ||
		{ xr_log "new vm1 process does not serve within 10 s"; rc=1; }
	t=$(( $(ms_now) - t0 ))
	measured agent_restart_serving "$t"
	[ "$t" -le 3000 ] || { xr_log "slower than 3 s"; rc=1; }
	sum=$(tls_curl "$NS_PUB1" a.example.test /big.bin --max-time 60 | sha256sum | cut -d' ' -f1)
	[ "$sum" = "$BIG_SHA" ] || { xr_log "64 MiB after the restart: sha256 ${sum:0:16}..."; rc=1; }
	[ $rc = 0 ] || tls_diag "agent restart"
	return $rc
}

# ---- reload during a transfer ----------------------------------------------------------
t_reload() {
	local s1 s2 m r0 r1 out rc=0 x0 x1
	wait_for 5 agent_listed vm1 && wait_for 5 agent_listed vm2 || { xr_log "agents not listed"; return 1; }
	s1=$(agent_session vm1); s2=$(agent_session vm2)
	tcp_settle
	r0=$(tcp_n resets lab)
	x0=$(xrctl -j status | "$XR_PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("xrelayd", d).get("reloads", 0))')
	# 64 MiB at 24 MB/s: ~2.8 s; the reload lands in the middle
	dl_start reload "$NS_PUB1" a.example.test /big.bin --limit-rate 24M
	wait_for 10 sh -c "[ \$(stat -c %s '$XR_STATE/dl-reload.bin' 2>/dev/null || echo 0) -ge 16777216 ]" ||
		{ xr_log "download did not reach 16 MiB"; rc=1; }
	m=$(log_mark "$XR_RELAYD_LOG")
	config_after
	out=$(xrctl reload 2>&1) || { xr_log "xrelayctl reload failed: $out"; rc=1; }
	xr_log "xrelayctl reload at $(dl_bytes reload) bytes: $out"
	dl_running reload || { xr_log "the download ended before the reload was applied"; rc=1; }
	dl_wait reload 30
	dl_verdict reload "$BIG" || rc=1
	[ "${DL_V[reload]}" = exact ] || { xr_log "want the 64 MiB download byte-exact across the reload"; rc=1; }
	log_show "$XR_RELAYD_LOG" "$m" 'reload|agent (dis)?connected'
	x1=$(xrctl -j status | "$XR_PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("xrelayd", d).get("reloads", 0))')
	[ "$x1" -gt "$x0" ] || { xr_log "status reloads $x0 -> $x1: no reload counted"; rc=1; }
	# the unchanged tenant's agent keeps its session; none of its flows reset
	agent_session_is vm1 "$s1" || { xr_log "vm1's session changed: $s1 -> $(agent_session vm1)"; rc=1; }
	if log_after "$XR_RELAYD_LOG" "$m" 'agent disconnected' ' agent=vm1 '; then
		xr_log "the relay disconnected vm1 during the reload"; rc=1
	fi
	tcp_settle
	r1=$(tcp_n resets lab)
	[ "$r1" = "$r0" ] || { xr_log "tenant lab tcp.resets $r0 -> $r1"; rc=1; }
	xr_log "vm1 session $s1 -> $(agent_session vm1); vm2 (lab2, limits changed) $s2 -> $(agent_session vm2)"
	dl_clean reload
	[ $rc = 0 ] || tls_diag "reload"
	return $rc
}

t_reload_applied() {
	# lab2's new limits are in the map, lab3 exists and its agent serves
	local rc=0 lim
	lim=$(xrctl -j tenants | "$XR_PY" -c '
import json, sys
t = {x["name"]: x for x in json.load(sys.stdin)}
print(t.get("lab2", {}).get("conn_per_sec"), t.get("lab2", {}).get("bw_bits_per_sec"), "lab3" in t)')
	xr_log "after the reload: lab2 conn_per_sec, bw_bits_per_sec, lab3 listed = $lim"
	[ "$lim" = "20 400000000 True" ] || rc=1
	tls_agent_start vm3 "$NS_PRIV" || return 1
	wait_route "$NS_PUB1" c.example.test priv 10 || rc=1
	wait_route "$NS_PUB1" b.example.test priv 5 || rc=1
	both_alive || rc=1
	[ $rc = 0 ] || tls_diag "reload applied"
	return $rc
}

xr_check "agents registered; xrelayctl status -j lists them" t_first_route
xr_check "agent SIGSTOP: the relay drops its session after 2..3 heartbeats, its download cut cleanly" t_sigstop
xr_check "agent stopped: a new connection for its name is refused within 2 s" t_stopped_refused
xr_check "agent SIGCONT: it notices and is back with a new session within 3 s" t_sigcont
xr_check "agent SIGKILL: its public connection resets within 1 s, no byte corrupted" t_sigkill
xr_check "agent restarted: the new process serves within 3 s, 64 MiB byte-exact" t_restart
xr_check "reload (tenant added, limits changed) during a 64 MiB download of an unchanged tenant: exact, session kept" t_reload
xr_check "reload applied: lab2's limits changed, lab3's agent serves" t_reload_applied

xr_result
