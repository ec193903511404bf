#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# health_states.sh - service probes, route states and their hysteresis, and
# routing that follows them:
#   - a target stopped: its route goes degraded then down (3 failed probes),
#     the relay refuses new connections for the name at once (reset,
#     counted route_down) instead of letting them time out; xrelayctl
#     tenants/status -j and both logs say so, with the reason
#   - the target started again: down -> degraded -> healthy only after a
#     full window of good probes
#   - a new failure burst right after that recovery: degraded is held until
#     the hold-down (6 s here, 30 min by default) has run out
#   - probes of each kind: tcp, tls (handshake with the target), http
#     (status code of a path), none
#   - a WireGuard tenant whose private host never sent anything is down,
#     with its reason
# Agent thresholds here: window 5, hold_down 6s, probes every 200 ms.
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh.
#   vm1 (priv, tenant lab)  h.example.test -> 127.0.0.1:8890 plain HTTP
#                           (agent terminates TLS; http probe of /healthz)
#                           t.example.test -> nginx :8443 (tls probe)
#                           c.example.test -> nginx :8443 (tcp probe)
#                           n.example.test -> 127.0.0.1:9 (nothing; probe none)
#                           x.example.test -> nginx :8443, http probe of a
#                           path that answers 404
#                           late.example.test -> nginx :8443, refused until
#                           a reload adds it to the tenant
# One "ok - NAME" / "not ok - NAME" line per assertion.  XR_KEEP=1 keeps the
# topology.
set -u
XR_PREFIX=${XR_PREFIX:-xt-hs-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/tls.sh"

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
tls_topo_up
tls_www
for n in h t c n x late; do tls_leaf "$n" "$n.example.test"; done
nginx_start priv "$NS_PRIV" 8443 \
	"$(nginx_tls_server priv 8443 t t.example.test default_server)" \
	"$(nginx_tls_server priv 8443 late late.example.test)" \
	"$(nginx_tls_server priv 8443 c c.example.test)" \
	"$(nginx_tls_server priv 8443 x x.example.test)"

HPORT=8890
tls_agent_key vm1
tls_agent_cert vm1 h
D1=$(agent_dir vm1)
wg_key wgpriv
tls_relay_config "$(tls_tenant lab vm1 "h.example.test t.example.test c.example.test n.example.test x.example.test")" \
	"  - name: wgonly" \
	"    wireguard:" \
	"      - pubkey: \"$(wg_pub wgpriv)\"" \
	"health:" \
	"  interval: 500ms" \
	"  wireguard_idle: 5s"
# health: is a top-level key: tls_relay_config puts tenants last, so move it
"$XR_PY" - "$XR_RELAY_CONF" <<'EOF'
import sys
p = sys.argv[1]
lines = open(p).read().split("\n")
i = lines.index("health:")
block = lines[i:i + 3]
del lines[i:i + 3]
open(p, "w").write("\n".join(block + lines))
EOF
AGENT_EXTRA=$'heartbeat: 1s\nhealth: {window: 5, hold_down: 6s}' tls_agent_config vm1 "$RELAY4:$CTRL_PORT" \
	"$(tls_service h.example.test 127.0.0.1:$HPORT "tls: {cert: $D1/h.pem, key: $D1/h.key}" \
		"health: {probe: http, path: /healthz, interval: 200ms, timeout: 150ms}")" \
	"$(tls_service t.example.test 127.0.0.1:8443 "health: {probe: tls, interval: 300ms}")" \
	"$(tls_service c.example.test 127.0.0.1:8443 "health: {interval: 300ms}")" \
	"$(tls_service n.example.test 127.0.0.1:9 "health: {probe: none}")" \
	"$(tls_service x.example.test 127.0.0.1:8443 "health: {probe: http, path: /nope, interval: 300ms}")" \
	"$(tls_service late.example.test 127.0.0.1:8443)"

# the target: plain HTTP on priv (tlsfix httpws answers every path with 200)
backend_up() {
	xr_spawn "httpws-$HPORT" "$NS_PRIV" "$XR_PY" "$TLSFIX" httpws --port "$HPORT"
	BACKEND_PID=$XR_LAST_PID
	wait_for 10 port_listens "$NS_PRIV" "$HPORT"
}
backend_down() { xr_kill "$BACKEND_PID" KILL; }

backend_up || xr_die "backend on :$HPORT"
if ! { tls_relay_up && tls_agent_start vm1 "$NS_PRIV"; }; then
	xr_notok "relay and agent up"
	exit 1
fi
xr_ok "relay and agent up"

# ---- helpers -----------------------------------------------------------------
# route_field HOSTNAME FIELD : from xrelayctl status -j, the configured name's
# state or reason ("state", "reason"), or its first replica's ("replica.X")
route_field() {
	xrctl -j status 2>/dev/null | "$XR_PY" -c '
import json, sys
d = json.load(sys.stdin)["xrelayd"] or {}
for r in d.get("routes", []):
    if r["hostname"] != sys.argv[1]: continue
    f = sys.argv[2]
    if f.startswith("replica."):
        reps = r.get("replicas") or [{}]
        print(reps[0].get(f[8:], ""))
    else:
        print(r.get(f, ""))' "$1" "$2"
}
route_is() { [ "$(route_field "$1" state)" = "$2" ]; }
# tenant_health TENANT FIELD : from xrelayctl tenants -j (the xr_health map)
tenant_health() {
	xrctl -j tenants 2>/dev/null | "$XR_PY" -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"] == sys.argv[1]:
        print(t["health"][sys.argv[2]])' "$1" "$2"
}
tenant_is() { [ "$(tenant_health "$1" "$2")" = "$3" ]; }
h_get() { TLS_CURL_MAX=5 tls_curl "$NS_PUB1" h.example.test /hello 2>&1; }
h_ok() { [ "$(h_get)" = "notebook ok path=/hello host=h.example.test" ]; }
AGENT_LOG1=${AGENT_LOG[vm1]}

# ---- scenarios -------------------------------------------------------------------
t_all_healthy() {
	local n rc=0
	for n in h t c n; do
		wait_for 10 route_is "$n.example.test" healthy ||
			{ xr_log "$n.example.test: $(route_field "$n.example.test" state) ($(route_field "$n.example.test" reason))"; rc=1; }
	done
	wait_for 10 h_ok || { xr_log "h.example.test: $(h_get)"; rc=1; }
	[ $rc = 0 ] || tls_diag "all healthy"
	return $rc
}

t_http_status_probe() {
	# x.example.test: nginx answers /nope with 404: down, with the status as reason
	wait_for 10 route_is x.example.test down || { xr_log "x: $(route_field x.example.test state)"; return 1; }
	case $(route_field x.example.test replica.target_reason) in
	*"HTTP status 404"*) ;;
	*) xr_log "reason: $(route_field x.example.test replica.target_reason)"; return 1 ;;
	esac
	log_says "$AGENT_LOG1" "service state changed" "hostname=x.example.test" "to=down"
}

t_target_down() {
	local t0 t1 body r0 r1
	r0=$(tcp_n route_down lab)
	backend_down
	t0=$(ms_now)
	wait_for 10 route_is h.example.test down || { tls_diag "route not down"; return 1; }
	t1=$(ms_now)
	xr_log "measured: target stopped -> route down in $((t1 - t0)) ms"
	# passed through degraded on the way (one failure), both logs
	log_says "$AGENT_LOG1" "service state changed" "hostname=h.example.test" "from=healthy" "to=degraded" &&
	log_says "$AGENT_LOG1" "service state changed" "hostname=h.example.test" "from=degraded" "to=down" &&
	log_says "$XR_RELAYD_LOG" "route state changed" "hostname=h.example.test" "to=down" "connect" ||
		{ xr_log "transitions missing from the logs"; return 1; }
	# refused at once, not after a timeout
	t0=$(ms_now)
	body=$(h_get)
	t1=$(ms_now)
	xr_log "request while down: $((t1 - t0)) ms: ${body:0:100}"
	[ $((t1 - t0)) -lt 1500 ] || { xr_log "took $((t1 - t0)) ms"; return 1; }
	r1=$(tcp_wait route_down lab $((r0 + 1)))
	[ "$r1" -ge $((r0 + 1)) ] || { xr_log "route_down $r0 -> $r1"; return 1; }
	# the tenant (xr_health map) and its reason
	wait_for 5 tenant_is lab state down || { xr_log "tenant lab: $(tenant_health lab state)"; return 1; }
	case $(tenant_health lab reason) in
	*h.example.test*|*x.example.test*) ;;
	*) xr_log "tenant reason: $(tenant_health lab reason)"; return 1 ;;
	esac
}

RECOVERED_MS=0
t_target_back() {
	local t0 t1 saw_degraded=0 st
	backend_up || return 1
	t0=$(ms_now)
	# down -> degraded -> healthy: degraded while the window fills (5 x 200 ms)
	while [ $(( $(ms_now) - t0 )) -lt 10000 ]; do
		st=$(route_field h.example.test state)
		[ "$st" = degraded ] && saw_degraded=1
		[ "$st" = healthy ] && break
		sleep 0.1
	done
	t1=$(ms_now)
	RECOVERED_MS=$t1
	[ "$st" = healthy ] || { tls_diag "not healthy again ($st)"; return 1; }
	xr_log "measured: target started -> route healthy in $((t1 - t0)) ms (window 5 x 200 ms)"
	[ $saw_degraded = 1 ] || log_says "$XR_RELAYD_LOG" "route state changed" "hostname=h.example.test" "from=down" "to=degraded" ||
		{ xr_log "never seen degraded"; return 1; }
	log_says "$AGENT_LOG1" "hostname=h.example.test" "from=degraded" "to=healthy" "probes without failure" || return 1
	# not faster than the window: 5 good probes 200 ms apart
	[ $((t1 - t0)) -ge 700 ] || { xr_log "healthy after only $((t1 - t0)) ms"; return 1; }
	wait_for 5 h_ok
}

t_hold_down() {
	# a new burst 1 s after the recovery: back to degraded, held there until
	# 6 s after the recovery although every probe is good again
	local st reason t_ready
	sleep 0.5
	backend_down
	wait_for 5 route_is h.example.test down || { xr_log "not down: $(route_field h.example.test state)"; return 1; }
	backend_up || return 1
	wait_for 5 route_is h.example.test degraded || return 1
	sleep 2   # the window (1 s) is clean by now
	st=$(route_field h.example.test state)
	reason=$(route_field h.example.test replica.target_reason)
	xr_log "2 s after the target came back: $st ($reason)"
	[ "$st" = degraded ] || return 1
	case $reason in *hold-down*) ;; *) return 1 ;; esac
	# degraded routes still serve (no healthy replica to prefer)
	h_ok || { xr_log "degraded route did not serve: $(h_get)"; return 1; }
	wait_for 10 route_is h.example.test healthy || return 1
	t_ready=$(ms_now)
	xr_log "measured: healthy again $((t_ready - RECOVERED_MS)) ms after the previous recovery (hold-down 6000 ms)"
	[ $((t_ready - RECOVERED_MS)) -ge 5500 ] || { xr_log "hold-down not held"; return 1; }
}

t_probe_kinds() {
	# tls and tcp probes healthy, none healthy without probing; the agent
	# counts its probes in the routes' session reasons
	route_is t.example.test healthy && route_is c.example.test healthy && route_is n.example.test healthy || return 1
	# stop nginx: the tls and tcp probes fail, n.example.test (none) stays healthy
	xr_kill "$(awk '$3 == "nginx-priv" { print $1 }' "$XR_STATE/pids" | tail -n1)" TERM
	wait_for 10 route_is t.example.test down && wait_for 10 route_is c.example.test down || return 1
	case $(route_field t.example.test replica.target_reason) in
	*"TLS handshake"*|*connect*) ;;
	*) xr_log "t reason: $(route_field t.example.test replica.target_reason)"; return 1 ;;
	esac
	route_is n.example.test healthy
}

t_reload_grants() {
	# late.example.test was refused at HELLO; a reload that gives the tenant
	# the name grants it to the live session (same session, no reconnect)
	local sid0 sid1
	log_says "$AGENT_LOG1" "hostname refused by the relay" "late.example.test" || return 1
	sid0=$(xrctl -j status | "$XR_PY" -c 'import json,sys; print(json.load(sys.stdin)["xrelayd"]["agents"][0]["session"])')
	sed -i 's/hostnames: \["h.example.test"/hostnames: ["late.example.test", "h.example.test"/' "$XR_RELAY_CONF"
	grep -q late.example.test "$XR_RELAY_CONF" || { xr_log "config not edited"; return 1; }
	relay_reload || return 1
	log_says "$XR_RELAYD_LOG" "hostname granted by reload" "late.example.test" || return 1
	wait_for 5 name_is "$NS_PUB1" late.example.test priv || return 1
	sid1=$(xrctl -j status | "$XR_PY" -c 'import json,sys; print(json.load(sys.stdin)["xrelayd"]["agents"][0]["session"])')
	[ "$sid0" = "$sid1" ] || { xr_log "session $sid0 -> $sid1"; return 1; }
}

t_status_json() {
	# status -j: the agent session's own health and rtt
	xrctl -j status | "$XR_PY" -c '
import json, sys
d = json.load(sys.stdin)["xrelayd"]
a = d["agents"][0]
assert a["state"] == "healthy", a
assert a["rtt_us"] > 0, a
r = [x for x in d["routes"] if x["hostname"] == "h.example.test"][0]
rep = r["replicas"][0]
assert rep["session"]["state"] == "healthy", rep
assert rep["session"]["probes"] >= 2, rep
print("agent rtt_us", a["rtt_us"], "session probes", rep["session"]["probes"])'
}

t_wireguard_down() {
	# tenant wgonly has a WireGuard host that never sent anything
	wait_for 10 tenant_is wgonly wireguard down || { xr_log "wgonly: $(tenant_health wgonly wireguard)"; return 1; }
	tenant_is wgonly state down || return 1
	case $(tenant_health wgonly wireguard_reason) in
	*"no WireGuard session"*) ;;
	*) xr_log "reason: $(tenant_health wgonly wireguard_reason)"; return 1 ;;
	esac
	log_says "$XR_RELAYD_LOG" "wireguard state changed" "tenant=wgonly" "to=down"
}

t_metrics_states() {
	# xrelayctl tenants (text) shows the state column; status counts tenants by state
	xrctl tenants | awk '$2 == "wgonly" && $3 == "down" { f = 1 } END { exit !f }' || return 1
	xrctl status | grep -E '^health: tenants [0-9]+ healthy, [0-9]+ degraded, [1-9][0-9]* down'
}

t_no_secrets() {
	# no log line carries a private key (its base64 body, or the 32-byte seed
	# in base64 without the PKCS#8 prefix), nor a TLS key of a service
	local k body seed f rc=0
	for k in "$XR_STATE/keys/relay.key" "$D1/agent.key" "$D1/h.key"; do
		body=$(grep -v -- ----- "$k" | tr -d '\n')
		seed=$(grep -v -- ----- "$k" | base64 -d 2>/dev/null | tail -c 32 | base64)
		for f in "$XR_RELAYD_LOG" "$AGENT_LOG1"; do
			if grep -qF -e "${body:0:40}" -e "${seed:0:40}" "$f"; then
				xr_log "$f shows the key $k"; rc=1
			fi
		done
	done
	return $rc
}

xr_check "all routes healthy, h.example.test served" t_all_healthy
xr_check "http probe: a 404 path makes the route down with the status as reason" t_http_status_probe
xr_check "target stopped: degraded then down, refused at once (route_down), tenant down" t_target_down
xr_check "target back: down -> degraded -> healthy after a full window" t_target_back
xr_check "burst after a recovery: degraded held until the hold-down ends" t_hold_down
xr_check "status -j: agent session health and round trip" t_status_json
xr_check "reload grants a name refused before to the live session" t_reload_grants
xr_check "tls and tcp probes fail with nginx stopped; probe none stays healthy" t_probe_kinds
xr_check "WireGuard tenant without traffic: down with its reason" t_wireguard_down
xr_check "xrelayctl tenants shows the state, status counts them" t_metrics_states
xr_check "no private key in any log (relay, agent, service TLS key)" t_no_secrets
xr_result
