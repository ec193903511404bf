#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tls_route.sh - TLS passthrough routed by SNI, end to end, in namespaces.
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh.  xrelayd on
# the relay (:443 public, :7443 control); agents dial out through the NAT:
#   vm1  (priv,  tenant lab)  a.example.test, *.w.example.test -> nginx :8443
#   vm2  (priv2, tenant lab2) b.example.test                   -> nginx :8443
#                             (vm2 dials the relay's control port over IPv6)
#   vm2x (priv2, tenant lab2) registers a.example.test, which lab2 does not own
# lab2 also owns c.example.test, which no agent serves (no_agent).
#
# Each nginx answers /name with "node=<namespace> ... sni=<server name>", so
# the body proves where a connection went.  One "ok - NAME" / "not ok - NAME"
# line per assertion; exits 1 when any failed.  XR_KEEP=1 keeps the topology.
set -u
XR_PREFIX=${XR_PREFIX:-xt1-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/tls.sh"

TLS_HELLO_TIMEOUT=3

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
tls_topo_up
tls_www
tls_leaf a a.example.test
tls_leaf b b.example.test
tls_leaf c c.example.test
tls_leaf w '*.w.example.test'
tls_leaf fb '*.fb.example.test'
nginx_start priv "$NS_PRIV" 8443 \
	"$(nginx_tls_server priv 8443 a a.example.test default_server)" \
	"$(nginx_tls_server priv 8443 w '*.w.example.test')"
nginx_start priv2 "$NS_PRIV2" 8443 \
	"$(nginx_tls_server priv2 8443 b b.example.test default_server)" \
	"$(nginx_tls_server priv2 8443 c c.example.test)"

for a in vm1 vm2 vm2x; do tls_agent_key $a; done
tls_relay_config \
	"$(tls_tenant lab vm1 "a.example.test *.w.example.test")" \
	"$(tls_tenant lab2 "vm2 vm2x" "b.example.test c.example.test")"
RELAY_ADDR=$RELAY4:$CTRL_PORT
tls_agent_config vm1 "$RELAY_ADDR" \
	"$(tls_service a.example.test 127.0.0.1:8443)" \
	"$(tls_service '*.w.example.test' 127.0.0.1:8443)"
# vm2 reaches the relay over IPv6 (through the router's NAT66)
tls_agent_config vm2 "[$RELAY6]:$CTRL_PORT" "$(tls_service b.example.test 127.0.0.1:8443)"
tls_agent_config vm2x "$RELAY_ADDR" "$(tls_service a.example.test 127.0.0.1:8443)"

if ! { tls_relay_up && tls_agent_start vm1 "$NS_PRIV" && tls_agent_start vm2 "$NS_PRIV2"; }; then
	xr_notok "relay and agents up (xrelayd on :443/:$CTRL_PORT, vm1 and vm2 as user nobody)"
	exit 1
fi
xr_ok "relay and agents up (xrelayd on :443/:$CTRL_PORT, vm1 and vm2 as user nobody)"

# ---- scenarios -------------------------------------------------------------------
t_first_route() {
	# the agents register after their control connection is up: poll
	wait_route "$NS_PUB1" a.example.test priv 20 || { tls_diag "a.example.test"; return 1; }
	wait_route "$NS_PUB1" b.example.test priv2 20 || { tls_diag "b.example.test"; return 1; }
}

# xrelayctl status -j: the relay lists both agent sessions with their tenant
# and registered names
t_status_agents() {
	local out
	out=$(xrctl -j status) || { xr_log "xrelayctl -j status failed"; return 1; }
	printf '%s' "$out" | "$XR_PY" -c '
import json, sys
d = json.load(sys.stdin)["xrelayd"]
got = sorted((a["tenant"], a["agent"], tuple(sorted(a["hostnames"]))) for a in d["agents"])
want = [("lab", "vm1", ("*.w.example.test", "a.example.test")), ("lab2", "vm2", ("b.example.test",))]
ok = got == want and d["tls"]["agents_connected"] == 2 and all(a["pool"] <= a["pool_target"] for a in d["agents"])
if not ok:
    print("#   agents:", got, "tls:", d["tls"])
sys.exit(0 if ok else 1)' >&2
}

t_names() {
	local n rc=0
	for n in a.example.test b.example.test a.example.test b.example.test; do
		case $n in a.*) name_is "$NS_PUB1" $n priv || rc=1 ;; b.*) name_is "$NS_PUB1" $n priv2 || rc=1 ;; esac
	done
	# pub2 is another public client: the same routing
	name_is "$NS_PUB2" a.example.test priv && name_is "$NS_PUB2" b.example.test priv2 || rc=1
	[ $rc = 0 ] || tls_diag "names"
	return $rc
}

t_wildcard() {
	name_is "$NS_PUB1" x.w.example.test priv && name_is "$NS_PUB1" yy-2.w.example.test priv ||
		{ tls_diag "wildcard"; return 1; }
}

# refused NS NAME : curl to NAME fails, and within 2 s
refused() {
	local t0 t1 out rc
	t0=$(ms_now)
	out=$(TLS_CURL_MAX=10 tls_curl "$1" "$2" /name 2>&1); rc=$?
	t1=$(ms_now)
	xr_log "https://$2/name: curl exit $rc after $((t1 - t0)) ms: $(head -c 160 <<<"$out")"
	[ $rc != 0 ] && [ $((t1 - t0)) -lt 2000 ]
}

t_unknown_sni() {
	local u0 u1 r0 r1
	tcp_settle
	u0=$(tcp_n unknown_sni); r0=$(tcp_n routed)
	refused "$NS_PUB1" nope.example.test || return 1
	# the wildcard covers one label, not two
	refused "$NS_PUB1" deep.x.w.example.test || return 1
	u1=$(tcp_wait unknown_sni "" $((u0 + 2)))
	tcp_settle
	r1=$(tcp_n routed)
	xr_log "tcp.unknown_sni: $u0 -> $u1; tcp.routed: $r0 -> $r1"
	[ $((u1 - u0)) -ge 2 ] && [ "$r1" = "$r0" ] || { tls_diag "unknown_sni"; return 1; }
}

t_no_agent() {
	# lab2 owns c.example.test but no agent registered it
	local n0 n1
	tcp_settle
	n0=$(tcp_n no_agent)
	refused "$NS_PUB1" c.example.test || return 1
	n1=$(tcp_wait no_agent "" $((n0 + 1)))
	xr_log "tcp.no_agent: $n0 -> $n1"
	[ $((n1 - n0)) -ge 1 ] || { tls_diag "no_agent"; return 1; }
}

t_foreign_registration() {
	# vm2x (tenant lab2) registers a.example.test, owned by lab
	# (whether the agent then keeps running or exits is its choice)
	tls_agent_start vm2x "$NS_PRIV2" || xr_log "vm2x did not keep running"
	local alog=${AGENT_LOG[vm2x]:-/dev/null} rc=0
	wait_for 10 log_says "$XR_RELAYD_LOG" 'a\.example\.test' 'refus|reject|not own|denied|forbidden|not allowed' ||
		{ xr_log "xrelayd's log does not say why a.example.test was refused"; rc=1; }
	wait_for 10 log_says "$alog" 'a\.example\.test' 'refus|reject|not own|denied|forbidden|not allowed' ||
		{ xr_log "vm2x's log does not say why a.example.test was refused"; rc=1; }
	grep -Ei 'a\.example\.test' "$XR_RELAYD_LOG" | tail -n 2 | sed 's/^/#   relay: /' >&2
	grep -Ei 'a\.example\.test' "$alog" | tail -n 2 | sed 's/^/#   vm2x: /' >&2
	# a.example.test still goes to lab's agent, every time
	for _ in 1 2 3 4 5 6; do name_is "$NS_PUB1" a.example.test priv || rc=1; done
	tls_agent_stop vm2x
	[ $rc = 0 ] || tls_diag "foreign registration"
	return $rc
}

t_ipv6() {
	TLS_RELAY_IP="[$RELAY6]" name_is "$NS_PUB1" a.example.test priv &&
	TLS_RELAY_IP="[$RELAY6]" name_is "$NS_PUB2" b.example.test priv2 || { tls_diag "IPv6"; return 1; }
}

t_slow_hello() { # CHUNK DELAY [RECORDS]
	local out
	out=$(tlsfix "$NS_PUB1" slowhello "$RELAY4" 443 a.example.test --ca "$TLS_CA" --chunk "$1" --delay "$2" \
		--records "${3:-1}")
	xr_log "slowhello: $out"
	case $out in *'"body": "node=priv port=8443 sni=a.example.test '*) return 0 ;; esac
	tls_diag "ClientHello in $1-byte segments"; return 1
}

t_junk_and_idle() {
	# 10 idle, 10 partial-ClientHello, 10 HTTP, 10 random and 10 oversize
	# connections on :443 while curl keeps working.  Garbage is closed at
	# once (bad_hello); idle/partial ones after tls.hello_timeout (3 s).
	local b0 b1 h0 h1 out jpid okc=0 failc=0 rc=0 T=$TLS_HELLO_TIMEOUT
	local marker=$XR_STATE/junk.open
	tcp_settle
	b0=$(tcp_n bad_hello); h0=$(tcp_n hello_timeout)
	xr_spawn junk "$NS_PUB2" timeout 60 "$XR_PY" "$TLSFIX" junk "$RELAY4" 443 a.example.test \
		--ca "$TLS_CA" --idle 10 --partial 10 --garbage 10 --timeout $((T + 5)) --marker "$marker"
	jpid=$XR_LAST_PID
	wait_for 10 test -f "$marker" || { xr_log "junk client did not open its connections"; rc=1; }
	# real clients meanwhile, until the junk client is done
	for _ in $(seq 15); do
		if name_is "$NS_PUB1" a.example.test priv; then okc=$((okc + 1)); else failc=$((failc + 1)); fi
		sleep 0.3
	done
	wait "$jpid"
	out=$(cat "$XR_STATE/junk.log")
	b1=$(tcp_wait bad_hello "" $((b0 + 30))); h1=$(tcp_wait hello_timeout "" $((h0 + 20)))
	xr_log "during junk: $okc curl ok, $failc failed; bad_hello $b0 -> $b1; hello_timeout $h0 -> $h1"
	xr_log "junk: $out"
	[ $failc = 0 ] || { xr_log "real clients failed while junk was connected"; rc=1; }
	"$XR_PY" -c '
import json, sys
T = float(sys.argv[1])
r = json.loads(sys.stdin.read().splitlines()[-1])
bad = []
for k in ("http", "random", "oversize"):
    v = r[k]
    if v["closed"] != 10 or v["max"] is None or v["max"] > 2.0:
        bad.append("%s: %d of 10 closed, slowest after %s s (want <= 2 s)" % (k, v["closed"], v["max"]))
for k in ("idle", "partial"):
    v = r[k]
    if v["closed"] != 10 or v["min"] < T - 0.5 or v["max"] > T + 2.5:
        bad.append("%s: %d of 10 closed, after %s..%s s (want %.1f..%.1f s)" % (k, v["closed"], v["min"], v["max"], T - 0.5, T + 2.5))
for b in bad: print("#  ", b)
sys.exit(1 if bad else 0)' "$T" <<<"$out" || rc=1
	[ $((b1 - b0)) -ge 30 ] || { xr_log "bad_hello grew by $((b1 - b0)), want >= 30"; rc=1; }
	[ $((h1 - h0)) -ge 20 ] || { xr_log "hello_timeout grew by $((h1 - h0)), want >= 20"; rc=1; }
	[ $rc = 0 ] || tls_diag "junk"
	return $rc
}

t_counters() {
	# after all that: counters moved, nothing left open
	local rc=0 k v
	tcp_settle
	for k in accepted routed bytes_in bytes_out; do
		v=$(tcp_n $k); [ "$v" -gt 0 ] || { xr_log "tcp.$k is $v"; rc=1; }
	done
	v=$(tcp_n routed lab); [ "$v" -gt 0 ] || { xr_log "tenant lab tcp.routed is $v"; rc=1; }
	v=$(tcp_n routed lab2); [ "$v" -gt 0 ] || { xr_log "tenant lab2 tcp.routed is $v"; rc=1; }
	wait_for 10 out_is 0 tcp_n active || { xr_log "tcp.active stays at $(tcp_n active)"; rc=1; }
	[ $rc = 0 ] || tls_diag "counters"
	return $rc
}

t_fallback() {
	# an nginx on the relay host takes names no tenant owns
	nginx_start relay "$NS_RELAY" 9443 \
		"$(nginx_tls_server relay-fallback 9443 fb '*.fb.example.test' default_server)"
	cp "$XR_RELAY_CONF" "$XR_STATE/relay.yaml.nofallback"
	sed -i "s/^  hello_timeout: .*/&\n  fallback: \"127.0.0.1:9443\"/" "$XR_RELAY_CONF"
	grep -q 'fallback: "127.0.0.1:9443"' "$XR_RELAY_CONF" || { xr_log "could not add tls.fallback"; return 1; }
	relay_reload || { xr_log "xrelayd did not come back after SIGHUP"; return 1; }
	local u0 u1 rc=0
	tcp_settle
	u0=$(tcp_n unknown_sni)
	wait_route "$NS_PUB1" zz.fb.example.test relay-fallback 5 || rc=1
	name_is "$NS_PUB1" q.fb.example.test relay-fallback || rc=1
	tcp_settle
	u1=$(tcp_n unknown_sni)
	xr_log "tcp.unknown_sni: $u0 -> $u1 (fallback configured)"
	[ "$u1" = "$u0" ] || { xr_log "names sent to the fallback were counted as unknown_sni"; rc=1; }
	# owned names are not affected
	name_is "$NS_PUB1" a.example.test priv && name_is "$NS_PUB1" b.example.test priv2 || rc=1
	[ $rc = 0 ] || tls_diag "fallback"
	return $rc
}

# ---- run ------------------------------------------------------------------------
xr_check "agents registered: a.example.test -> priv, b.example.test -> priv2 (agent over IPv6)" t_first_route
xr_check "xrelayctl status -j lists the agent sessions, tenants and names" t_status_agents
xr_check "hostnames route to their tenant's agent (pub1 and pub2)" t_names
xr_check "wildcard *.w.example.test routes x.w and yy-2.w" t_wildcard
xr_check "unknown SNI refused in < 2 s and counted as tcp.unknown_sni" t_unknown_sni
xr_check "owned name without an agent refused, counted as tcp.no_agent" t_no_agent
xr_check "agent registering a name its tenant does not own: refused, both logs say why" t_foreign_registration
xr_check "IPv6 client via [$RELAY6]:443" t_ipv6
xr_check "ClientHello in 1-byte TCP segments" t_slow_hello 1 0.002
xr_check "ClientHello in 3-byte TCP segments" t_slow_hello 3 0.005
xr_check "ClientHello cut into 3 TLS records, one segment" t_slow_hello 100000 0 3
xr_check "ClientHello cut into 4 TLS records, 7-byte segments" t_slow_hello 7 0.001 4
xr_check "garbage closed (bad_hello), idle closed after hello_timeout, real clients served" t_junk_and_idle
xr_check "tcp counters moved, tcp.active back to 0" t_counters
xr_check "tls.fallback (SIGHUP): unknown names go to the fallback target" t_fallback

xr_result
