#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fleet_failover.sh - a hostname kept up by a fleet of two relays when one
# of them dies: the agent keeps a session to each relay (its config lists
# both), so the name is served through either.  Relay A is SIGKILLed: the
# name is served through relay B at once (what DNS or anycast in front
# would switch to), B's session with the agent is untouched; A restarted,
# the agent is back on it within 2 s.
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh.  Relay A is
# the usual xrelayd on $RELAY4; relay B a second xrelayd in the relay
# namespace on 198.18.0.5 (its own key, pin root and admin socket), as a
# second VPS would be.  vm1 (priv) serves a.example.test -> nginx :8443.
set -u
XR_PREFIX=${XR_PREFIX:-xt-ff-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/tls.sh"

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
tls_topo_up
tls_www
tls_leaf a a.example.test
nginx_start priv "$NS_PRIV" 8443 "$(nginx_tls_server priv 8443 a a.example.test default_server)"

RELAY_B4=198.18.0.5
B_DIR=$XR_STATE/relay-b
B_CONF=$B_DIR/relay.yaml
B_SOCK=$B_DIR/xrelayd.sock
B_PIN=$XR_STATE/bpf/xrelay-b
mkdir -p "$B_DIR"
nsx "$NS_RELAY" ip addr add "$RELAY_B4/24" dev eth0

tls_agent_key vm1
tls_relay_config "$(tls_tenant lab vm1 a.example.test)"
"$XRELAYCTL" keygen "$B_DIR/relay.key" >"$B_DIR/relay.id" 2>/dev/null || xr_die "keygen relay B"
RELAY_B_ID=$(cat "$B_DIR/relay.id")
{
	echo "# relay B of run $XR_PREFIX"
	echo "control:"
	echo "  listen: [\"$RELAY_B4:$CTRL_PORT\"]"
	echo "  key: $B_DIR/relay.key"
	echo "tls:"
	echo "  listen: [\"$RELAY_B4:443\"]"
	echo "admin:"
	echo "  socket: $B_SOCK"
	echo "bpf:"
	echo "  pin_root: $B_PIN"
	echo "tenants:"
	tls_tenant lab vm1 a.example.test
} >"$B_CONF"
# vm1's agent.yaml: both relays
tls_agent_config vm1 "$RELAY4:$CTRL_PORT" "$(tls_service a.example.test 127.0.0.1:8443)"
D1=$(agent_dir vm1)
"$XR_PY" - "$D1/agent.yaml" "$RELAY_B4:$CTRL_PORT" "$RELAY_B_ID" <<'EOF'
import sys
p, addr, ident = sys.argv[1:]
s = open(p).read()
s = s.replace("services:\n", '  - address: "%s"\n    identity: "%s"\nservices:\n' % (addr, ident), 1)
open(p, "w").write(s)
EOF
sed -i 's/^name: vm1$/name: vm1\nheartbeat: 1s/' "$D1/agent.yaml"

B_PID=
b_start() {
	local n=${B_STARTS:-0}
	B_STARTS=$((n + 1))
	xr_spawn "xrelayd-b.$n" "$NS_RELAY" "$XRELAYD" -c "$B_CONF"
	B_PID=$XR_LAST_PID
	B_LOG=$XR_STATE/xrelayd-b.$n.log
	wait_for 10 port_listens "$NS_RELAY" 443 && wait_for 10 b_ctl status
}
b_ctl() { nsx "$NS_RELAY" "$XRELAYCTL" --pin-root "$B_PIN" -s "$B_SOCK" "$@"; }

if ! { tls_relay_up && b_start && tls_agent_start vm1 "$NS_PRIV"; }; then
	xr_notok "two relays and the agent up"
	exit 1
fi
xr_ok "two relays and the agent up"

# ---- helpers -----------------------------------------------------------------
# vm1_session CTL : vm1's session id as that relay's status -j lists it
vm1_session() { AGENT_FIELD_CTL=$1 agent_field vm1 session; }
on_a() { [ -n "$(vm1_session xrctl)" ]; }
on_b() { [ -n "$(vm1_session b_ctl)" ]; }
via() { # RELAY_IP : /name of a.example.test through that relay
	TLS_RELAY_IP=$1 TLS_CURL_MAX=5 tls_curl "$NS_PUB1" a.example.test /name 2>&1 | cut -d' ' -f1
}

# ---- scenarios -------------------------------------------------------------------
t_both_serve() {
	wait_for 10 on_a && wait_for 10 on_b || { tls_diag "sessions"; return 1; }
	wait_for 10 out_is node=priv via "$RELAY4" && wait_for 10 out_is node=priv via "$RELAY_B4" ||
		{ xr_log "via A: $(via "$RELAY4"), via B: $(via "$RELAY_B4")"; return 1; }
}

SID_B=
t_relay_a_dies() {
	local t0 t1 out
	SID_B=$(vm1_session b_ctl)
	relay_kill KILL
	t0=$(ms_now)
	out=$(via "$RELAY_B4")
	t1=$(ms_now)
	xr_log "measured: relay A killed -> request through relay B answered in $((t1 - t0)) ms ($out)"
	[ "$out" = node=priv ] || return 1
	# A is gone for the clients that still use it: refused, not hanging
	out=$(TLS_RELAY_IP=$RELAY4 TLS_CURL_MAX=5 tls_curl "$NS_PUB1" a.example.test /name 2>&1)
	case $out in *"Connection refused"*|*"Failed to connect"*) ;; *) xr_log "via dead A: $out"; return 1 ;; esac
	# B's session with the agent did not notice
	[ "$(vm1_session b_ctl)" = "$SID_B" ] || { xr_log "B's session $SID_B -> $(vm1_session b_ctl)"; return 1; }
}

t_relay_a_back() {
	local t0 t1
	relay_start || return 1
	t0=$(ms_now)
	wait_for 5 on_a || { tls_diag "vm1 not back on A"; return 1; }
	t1=$(ms_now)
	xr_log "measured: relay A restarted -> agent session back in $((t1 - t0)) ms"
	[ $((t1 - t0)) -le 2000 ] || return 1
	wait_for 5 out_is node=priv via "$RELAY4" || return 1
	[ "$(vm1_session b_ctl)" = "$SID_B" ]
}

xr_check "the agent has a session to each relay; the name is served through both" t_both_serve
xr_check "relay A SIGKILLed: served through relay B at once, B's session untouched" t_relay_a_dies
xr_check "relay A back: the agent's session to it within 2 s, served through both again" t_relay_a_back
xr_result
