#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# health_replicas.sh - replicated agents, a stolen identity, refusals:
#   - two agents with their own identities serve one hostname: new
#     connections are spread over both
#   - one replica SIGKILLed under a load of new connections: once the relay
#     has seen it go, not one connection fails
#   - one replica SIGSTOPped: its first unanswered heartbeat or connection
#     (no byte back within a second) makes it degraded, new connections
#     avoid it from then on, the ones it left unanswered go to the other
#     replica, three missed heartbeats close it; SIGCONT: it comes back
#   - vm1's key used at the same time from another address (pub2): refused,
#     both addresses logged, identity_conflicts counted, vm1 untouched; the
#     thief logs an error on every attempt; with --once it exits 1
#   - a name the tenant does not own: an error per attempt, --once exits 1
#   - an identity the relay does not know, with --once: exit 1
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh.
#   vm1 (priv), vm2 (priv2), tenant lab: a.example.test -> nginx :8443 on
#   each host (/name answers with the node).  Agents' heartbeat: 1 s.
set -u
XR_PREFIX=${XR_PREFIX:-xt-hr-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/tls.sh"

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
tls_topo_up
tls_www
tls_leaf a a.example.test
nginx_start priv "$NS_PRIV" 8443 "$(nginx_tls_server priv 8443 a a.example.test default_server)"
nginx_start priv2 "$NS_PRIV2" 8443 "$(nginx_tls_server priv2 8443 a a.example.test default_server)"

for a in vm1 vm2 vm3 stranger; do tls_agent_key "$a"; done
tls_relay_config "$(tls_tenant lab "vm1 vm2 vm3" a.example.test)"
export AGENT_EXTRA="heartbeat: 1s"
for a in vm1 vm2; do
	tls_agent_config "$a" "$RELAY4:$CTRL_PORT" "$(tls_service a.example.test 127.0.0.1:8443)"
done
tls_agent_config vm3 "$RELAY4:$CTRL_PORT" "$(tls_service a.example.test 127.0.0.1:8443)" \
	"$(tls_service z.other.test 127.0.0.1:8443)"
tls_agent_config stranger "$RELAY4:$CTRL_PORT" "$(tls_service a.example.test 127.0.0.1:8443)"
# the thief: vm1's key and name, from pub2
THIEF=$(agent_dir thief)
mkdir -p "$THIEF"
cp -p "$(agent_dir vm1)/agent.key" "$THIEF/agent.key"
sed "s|$(agent_dir vm1)/agent.key|$THIEF/agent.key|" "$(agent_dir vm1)/agent.yaml" >"$THIEF/agent.yaml"
chown -R "$AGENT_USER:$AGENT_GROUP" "$THIEF"
chmod 0700 "$THIEF"

if ! { tls_relay_up && tls_agent_start vm1 "$NS_PRIV" && tls_agent_start vm2 "$NS_PRIV2"; }; then
	xr_notok "relay and two replicas up"
	exit 1
fi
xr_ok "relay and two replicas up"

# ---- helpers -----------------------------------------------------------------
agent_listed() { [ -n "$(agent_field "$1" session)" ]; }
agent_gone() { ! agent_listed "$1"; }
agent_state_is() { [ "$(agent_field "$1" state)" = "$2" ]; }

# load FILE MS : sequential new TLS connections from pub1 for MS ms, one
# line each: "START_MS ok NODE" or "START_MS fail WHAT"
load() {
	local file=$1 end=$(( $(ms_now) + $2 )) s out
	while [ "$(ms_now)" -lt $end ]; do
		s=$(ms_now)
		out=$(TLS_CURL_MAX=4 tls_curl "$NS_PUB1" a.example.test /name 2>&1)
		case $out in
		node=*) echo "$s ok ${out%% *}" ;;
		*) echo "$s fail ${out:0:80}" | tr '\n' ' '; echo ;;
		esac
	done >"$file"
}
# after FILE MS : failures among requests started at or after MS
fails_after() { awk -v t="$2" '$1 >= t && $2 == "fail"' "$1" | wc -l; }
count() { awk -v w="$2" '$2 == w' "$1" | wc -l; }

# run_once NAME NS : xrelay-agent --once; prints its exit status (or
# "running" if it did not exit within 8 s)
run_once() {
	local d pid st i
	d=$(agent_dir "$1")
	xr_spawn "once-$1" "$2" setpriv --reuid="$AGENT_USER" --regid="$AGENT_GROUP" --clear-groups \
		"$XR_AGENT" --once -c "$d/agent.yaml"
	pid=$XR_LAST_PID
	st=$(awk -v p="$pid" '$1 == p { print $2 }' "$XR_STATE/pids" | tail -n1)
	for i in $(seq 80); do
		xr_alive "$pid" "$st" || break
		sleep 0.1
	done
	if xr_alive "$pid" "$st"; then
		xr_kill "$pid" KILL
		echo running
		return
	fi
	wait "$pid"
	echo $?
}

# ---- scenarios -------------------------------------------------------------------
t_spread() {
	local f=$XR_STATE/spread.txt p1 p2
	wait_for 10 agent_listed vm1 && wait_for 10 agent_listed vm2 || { tls_diag "replicas"; return 1; }
	for _ in $(seq 20); do
		TLS_CURL_MAX=5 tls_curl "$NS_PUB1" a.example.test /name 2>&1 | awk '{ print $1 }'
	done >"$f"
	p1=$(grep -c '^node=priv$' "$f"); p2=$(grep -c '^node=priv2$' "$f")
	xr_log "20 requests: priv $p1, priv2 $p2"
	[ "$p1" -ge 5 ] && [ "$p2" -ge 5 ] && [ $((p1 + p2)) = 20 ]
}

t_kill_replica() {
	local f=$XR_STATE/load-kill.txt lpid t_kill t_seen n ok fail after
	load "$f" 6000 &
	lpid=$!
	sleep 2
	t_kill=$(ms_now)
	tls_agent_stop vm2 KILL
	wait_for 10 agent_gone vm2 || { xr_log "vm2 still listed"; wait $lpid; return 1; }
	t_seen=$(ms_now)
	wait $lpid
	n=$(wc -l <"$f"); ok=$(count "$f" ok); fail=$(count "$f" fail)
	after=$(fails_after "$f" "$t_seen")
	xr_log "measured: replica SIGKILL seen by the relay in $((t_seen - t_kill)) ms; $n requests, $fail failed, $after after it was seen"
	[ "$n" -ge 20 ] && [ "$after" = 0 ] || { grep fail "$f" | head -3 | sed 's/^/#   /' >&2; return 1; }
	# the survivor served everything after
	[ "$(awk -v t="$t_seen" '$1 >= t && $3 != "node=priv"' "$f" | wc -l)" = 0 ]
}

t_stop_replica() {
	local f=$XR_STATE/load-stop.txt lpid t_stop t_deg t_gone after fail
	tls_agent_start vm2 "$NS_PRIV2" || return 1
	wait_for 10 agent_state_is vm2 healthy || return 1
	load "$f" 7000 &
	lpid=$!
	sleep 1.5
	t_stop=$(ms_now)
	kill -STOP "${AGENT_PID[vm2]}"
	wait_for 5 eval '! agent_state_is vm2 healthy' || { xr_log "vm2 still healthy"; kill -CONT "${AGENT_PID[vm2]}"; wait $lpid; return 1; }
	t_deg=$(ms_now)
	wait_for 8 agent_gone vm2
	t_gone=$(ms_now)
	wait $lpid
	kill -CONT "${AGENT_PID[vm2]}"
	fail=$(count "$f" fail); after=$(fails_after "$f" "$t_deg")
	xr_log "measured: SIGSTOP -> degraded in $((t_deg - t_stop)) ms, session closed in $((t_gone - t_stop)) ms (heartbeat 1000 ms); $fail failed, $after after degraded"
	[ $((t_deg - t_stop)) -le 2500 ] && [ $((t_gone - t_stop)) -le 4500 ] || return 1
	log_says "$XR_RELAYD_LOG" "agent session state changed" "agent=vm2" "to=degraded" \
		"heartbeat not answered|no byte back within|not answered with a data connection" || return 1
	[ "$after" = 0 ] || { awk -v t="$t_deg" '$1 >= t && $2 == "fail"' "$f" | head -3 | sed 's/^/#   /' >&2; return 1; }
	# the requests handed to it before that went to vm1 after a second
	# (their ClientHello is held until the agent answers): at most the one
	# whose answer was on its way at the stop can fail
	[ "$fail" -le 1 ] || { grep fail "$f" | head -3 | sed 's/^/#   /' >&2; return 1; }
}

t_stopped_comes_back() {
	# SIGCONT: the agent finds its session dead and dials again
	wait_for 15 agent_listed vm2 || { tls_diag "vm2 after SIGCONT"; return 1; }
	log_says "${AGENT_LOG[vm2]}" "relay session (lost|failed)"
}

t_stolen_identity() {
	local sid0 sid1 c0 c1 rc=0
	sid0=$(agent_field vm1 session)
	c0=$(tcp_n identity_conflicts lab)
	tls_agent_start thief "$NS_PUB2" || return 1
	sleep 4
	sid1=$(agent_field vm1 session)
	c1=$(tcp_wait identity_conflicts lab $((c0 + 2)))
	xr_log "vm1 session $sid0 -> $sid1; identity_conflicts $c0 -> $c1"
	[ -n "$sid0" ] && [ "$sid0" = "$sid1" ] || { xr_log "vm1's session changed"; rc=1; }
	[ "$(agent_field vm1 peer)" != "" ] && [[ $(agent_field vm1 peer) != *"$PUB2_4"* ]] || rc=1
	log_says "$XR_RELAYD_LOG" "identity connected from two addresses" "agent=vm1" "second=$PUB2_4" ||
		{ xr_log "relay did not log both addresses"; rc=1; }
	# the thief: an error on every attempt (at least two in 4 s)
	[ "$(grep -c 'relay refused this agent.*another address' "${AGENT_LOG[thief]}")" -ge 2 ] ||
		{ xr_log "thief log:"; sed 's/^/#   /' "${AGENT_LOG[thief]}" >&2; rc=1; }
	[ "$c1" -ge $((c0 + 2)) ] || rc=1
	tls_agent_stop thief
	wait_for 5 eval '[ "$(TLS_CURL_MAX=5 tls_curl "$NS_PUB1" a.example.test /name 2>&1 | cut -c1-5)" = node= ]' || rc=1
	return $rc
}

t_stolen_once() {
	local st
	st=$(run_once thief "$NS_PUB2")
	xr_log "thief --once: $st"
	[ "$st" = 1 ] && log_says "$XR_STATE/once-thief.log" "stopping: --once"
}

t_refused_name() {
	local st
	tls_agent_start vm3 "$NS_PRIV" || return 1
	wait_for 5 log_says "${AGENT_LOG[vm3]}" "level=error" "hostname refused by the relay" "z.other.test" ||
		{ sed 's/^/#   /' "${AGENT_LOG[vm3]}" >&2; return 1; }
	# the accepted name is still served by it (three replicas now)
	wait_for 5 agent_listed vm3 || return 1
	tls_agent_stop vm3
	st=$(run_once vm3 "$NS_PRIV")
	xr_log "vm3 --once with a refused name: $st"
	[ "$st" = 1 ]
}

t_stranger_once() {
	local st
	st=$(run_once stranger "$NS_PRIV2")
	xr_log "unknown identity --once: $st"
	[ "$st" = 1 ] && log_says "$XR_STATE/once-stranger.log" "relay refused this agent" "identity not accepted"
}

xr_check "two replicas: new connections spread over both" t_spread
xr_check "replica SIGKILLed under load: no failure once the relay saw it" t_kill_replica
xr_check "replica SIGSTOPped: degraded, avoided, its unanswered connections re-sent, closed after 3 heartbeats" t_stop_replica
xr_check "SIGCONT: the stopped replica reconnects" t_stopped_comes_back
xr_check "stolen identity from a second address: refused, logged, counted, vm1 untouched" t_stolen_identity
xr_check "stolen identity with --once: exit 1" t_stolen_once
xr_check "refused name: an error, and exit 1 with --once" t_refused_name
xr_check "unknown identity with --once: exit 1" t_stranger_once
xr_result
