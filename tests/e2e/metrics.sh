#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# metrics.sh - the Prometheus endpoint (admin.metrics, GET /metrics), end to
# end, in namespaces.
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh.  xrelayd on
# the relay with admin.metrics on 127.0.0.1:9470 (inside the relay's
# namespace), XDP attached to its eth0, and two tenants:
#   lab   agent vm1 (priv) serves a.example.test -> nginx :8443, and the
#         WireGuard pair priv <-> pub1
#   lab2  b.example.test; its agent vm2 never connects (refused: no_agent)
# Traffic through both paths, then the counters on /metrics must have moved
# by at least what was sent.  The output is checked with `promtool check
# metrics`; the endpoint must answer 404/405/400/431, cut off slow clients
# at its deadline without stalling other scrapes, turn away connections
# past its limit with 503, and never show key material.
#
# One "ok - NAME" / "not ok - NAME" line per assertion; exits 1 when any
# failed.  XR_KEEP=1 keeps the topology.
set -u
XR_PREFIX=${XR_PREFIX:-xt-met-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/tls.sh"

METRICS=127.0.0.1:9470
REQ_TIMEOUT=5          # user/xrelayd/metrics.c REQ_TIMEOUT_MS
MAX_CONNS=64           # user/xrelayd/metrics.c MAX_CONNS

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
command -v promtool >/dev/null || { xr_notok "promtool installed (Debian package prometheus; make deps)"; exit 1; }

tls_topo_up
tls_www
tls_leaf a a.example.test
nginx_start priv "$NS_PRIV" 8443 "$(nginx_tls_server priv 8443 a a.example.test default_server)"
tls_agent_key vm1
tls_agent_key vm2     # listed under lab2, never started
for k in priv pub1; do wg_key $k; done
tls_relay_config \
	"$(tls_tenant lab vm1 "a.example.test" \
		"wireguard:" \
		"  - pubkey: \"$(wg_pub priv)\"" \
		"    peers: [\"$(wg_pub pub1)\"]")" \
	"$(tls_tenant lab2 vm2 "b.example.test")"
# WireGuard and the metrics endpoint on top of the TLS relay config
sed -i "s|^admin:|wireguard:\n  listen: [\"$RELAY4:$WG_PORT\"]\n&\n  metrics: $METRICS|" "$XR_RELAY_CONF"
grep -q "^  metrics: $METRICS" "$XR_RELAY_CONF" || xr_die "could not add admin.metrics to $XR_RELAY_CONF"
tls_agent_config vm1 "$RELAY4:$CTRL_PORT" "$(tls_service a.example.test 127.0.0.1:8443)"

if ! { tls_relay_up && relay_attach && tls_agent_start vm1 "$NS_PRIV"; }; then
	xr_notok "relay up (TLS, WireGuard, admin.metrics on $METRICS), XDP attached, agent vm1 up"
	exit 1
fi
wg_relay_peers lab
xr_ok "relay up (TLS, WireGuard, admin.metrics on $METRICS), XDP attached, agent vm1 up"

# ---- helpers -------------------------------------------------------------------
MET=$XR_STATE/metrics

# scrape [FILE] : GET /metrics into FILE (default $MET.txt), headers in FILE.hdr
scrape() {
	local out=${1:-$MET.txt}
	nsx "$NS_RELAY" curl -sS --max-time 5 -D "$out.hdr" -o "$out" "http://$METRICS/metrics"
}

# series FILE 'NAME{LABELS}' : the value of one series, exactly as written
# (labels in the order xrelayd writes them); empty when absent
series() {
	awk -v k="$2" 'substr($0, 1, length(k) + 1) == k " " { print $2; exit }' "$1"
}
# val 'NAME{LABELS}' : the value in a fresh scrape, 0 when absent
val() {
	local v
	scrape "$MET.now" 2>/dev/null || { echo 0; return; }
	v=$(series "$MET.now" "$1")
	[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] && echo "${v%.*}" || echo 0
}
# val_ge 'SERIES' MIN : a fresh scrape shows SERIES >= MIN
val_ge() { [ "$(val "$1")" -ge "$2" ]; }
# wait_val 'SERIES' MIN : poll (5 s) until SERIES >= MIN; prints the last value
wait_val() {
	local v deadline=$((SECONDS + 5))
	while :; do
		v=$(val "$1")
		[ "$v" -ge "$2" ] && { echo "$v"; return 0; }
		[ $SECONDS -ge $deadline ] && { echo "$v"; return 1; }
		sleep 0.2
	done
}

# hexs : stdin as one line of lower-case hex (coreutils od)
hexs() { od -An -v -tx1 | tr -d ' \n'; }

# http METHOD PATH : "STATUS" of one request (curl -X)
http_status() {
	nsx "$NS_RELAY" curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X "$1" "http://$METRICS$2"
}

# raw PYTHON_CLIENT_ARGS... : the raw client below in the relay namespace
raw() {
	nsx "$NS_RELAY" timeout -k 5 60 "$XR_PY" -c "$RAW_PY" "$METRICS" "$@"
}
# A raw client: "send HEX" one request and print the status line;
# "hold N MODE SECONDS" opens N connections (MODE idle: nothing sent,
# partial: half a request line), touches MARKER when open, and prints a JSON
# summary of how many the server closed and after how long.
RAW_PY='
import json, os, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1); port = int(port)
cmd = sys.argv[2]
if cmd == "send":
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(bytes.fromhex(sys.argv[3]))
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            data += b
    except OSError as e:
        print("error", e); sys.exit(1)
    print(data.split(b"\r\n", 1)[0].decode(errors="replace"))
    sys.exit(0)
n, mode, wait, marker = int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), sys.argv[6]
socks, t0 = [], time.time()
for _ in range(n):
    s = socket.create_connection((host, port), timeout=5)
    if mode == "partial": s.sendall(b"GET /met")
    socks.append(s)
open(marker, "w").close()
closed = {}
deadline = t0 + wait
while time.time() < deadline and len(closed) < n:
    for i, s in enumerate(socks):
        if i in closed: continue
        s.settimeout(0.05)
        try:
            b = s.recv(4096)
            if not b: closed[i] = time.time() - t0
        except socket.timeout: pass
        except OSError: closed[i] = time.time() - t0
if os.environ.get("HOLD_UNTIL"):
    while os.path.exists(os.environ["HOLD_UNTIL"]) and time.time() < deadline: time.sleep(0.05)
v = list(closed.values())
print(json.dumps({"closed": len(v), "min": min(v) if v else None, "max": max(v) if v else None}))
'

diag() {
	xr_log "--- $1"
	{
		echo "\$ head of the last scrape"; head -c 1500 "$MET.now" 2>/dev/null; echo
		echo "\$ xrelayd log (tail)"; tail -n 15 "$XR_RELAYD_LOG" 2>/dev/null
	} | sed 's/^/#   /' >&2
}

# ---- scenarios -------------------------------------------------------------------
t_scrape() {
	scrape || { diag "scrape"; return 1; }
	grep -qi '^content-type: text/plain; version=0.0.4' "$MET.txt.hdr" ||
		{ xr_log "Content-Type: $(grep -i '^content-type' "$MET.txt.hdr")"; return 1; }
	head -n 1 "$MET.txt.hdr" | grep -q '^HTTP/1.1 200' || return 1
}

t_promtool() {
	local out rc
	out=$(promtool check metrics <"$MET.txt" 2>&1); rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | head -n 20 | sed 's/^/#   promtool: /' >&2
	[ $rc = 0 ]
}

t_families() {
	# every family the docs promise, with the labels they promise
	local f=$MET.txt rc=0 s now start
	for s in 'xrelay_build_info{version="' 'xrelay_xdp_attached{interface="eth0",mode="' \
		'xrelay_tenant_wireguard_packets_total{tenant="lab",direction="tx"}' \
		'xrelay_tenant_wireguard_bytes_total{tenant="lab",direction="rx"}' \
		'xrelay_tenant_wireguard_dropped_packets_total{tenant="lab",reason="unknown_index"}' \
		'xrelay_tenant_wireguard_sessions{tenant="lab2"}' \
		'xrelay_wireguard_handshakes_total{type="initiation"}' \
		'xrelay_wireguard_handshakes_dropped_total{reason="no_key"}' \
		'xrelay_tls_connections_accepted_total ' \
		'xrelay_tls_connections_refused_total{reason="unknown_sni"}' \
		'xrelay_tenant_tls_connections_refused_total{tenant="lab2",reason="no_agent"}' \
		'xrelay_tenant_tls_bytes_total{tenant="lab",direction="out"}' \
		'xrelay_tenant_tls_connections_active{tenant="lab"}' \
		'xrelay_tenant_agent_sessions{tenant="lab"}' \
		'xrelay_xdp_packets_total{reason="tx"}' \
		'xrelay_bpf_map_entries{map="xr_sessions"}' \
		'xrelay_reloads_total ' 'xrelay_reload_failures_total ' 'xrelay_accept_errors_total ' \
		'process_cpu_seconds_total '; do
		grep -qF -- "$s" "$f" || { xr_log "missing: $s"; rc=1; }
	done
	# build info names this build's version; start time is within the run
	grep -q "^xrelay_build_info{version=\"$("$XRELAYD" -V | awk '{print $2}')\"} 1$" "$f" ||
		{ xr_log "xrelay_build_info: $(grep '^xrelay_build_info' "$f")"; rc=1; }
	now=$(date +%s); start=$(series "$f" xrelay_start_time_seconds); start=${start%.*}
	[ -n "$start" ] && [ "$start" -le "$now" ] && [ "$start" -ge $((now - 300)) ] ||
		{ xr_log "xrelay_start_time_seconds $start, now $now"; rc=1; }
	[ "$(series "$f" 'xrelay_tenant_agent_sessions{tenant="lab"}')" = 1 ] || {
		xr_log "agent sessions of lab: $(series "$f" 'xrelay_tenant_agent_sessions{tenant="lab"}')"; rc=1; }
	# TYPE lines: counters end in _total, nothing else does
	awk '$1 == "#" && $2 == "TYPE" {
		if (($4 == "counter") != ($3 ~ /_total$/)) { print "#   " $3 " is a " $4; bad = 1 } }
		END { exit bad }' "$f" >&2 || rc=1
	return $rc
}

t_tls_counters() {
	# 256 KiB to a client: lab's bytes out grow by at least that much, and the
	# relay-wide ones too; one more routed connection
	local k='xrelay_tenant_tls_bytes_total{tenant="lab",direction="out"}'
	local g='xrelay_tls_bytes_total{direction="out"}'
	local r='xrelay_tenant_tls_connections_routed_total{tenant="lab"}'
	local b0 g0 r0 b1 g1 r1 sha
	wait_route "$NS_PUB1" a.example.test priv 20 || { diag "route"; return 1; }
	tcp_settle
	b0=$(val "$k"); g0=$(val "$g"); r0=$(val "$r")
	sha=$(tls_curl "$NS_PUB1" a.example.test /256k.bin | sha256sum | cut -d' ' -f1)
	[ "$sha" = "$K256_SHA" ] || { xr_log "download through the relay: sha $sha"; return 1; }
	b1=$(wait_val "$k" $((b0 + 262144))); g1=$(wait_val "$g" $((g0 + 262144)))
	r1=$(wait_val "$r" $((r0 + 1)))
	xr_log "lab bytes out $b0 -> $b1, relay-wide $g0 -> $g1, lab routed $r0 -> $r1"
	[ $((b1 - b0)) -ge 262144 ] && [ $((g1 - g0)) -ge 262144 ] && [ $((r1 - r0)) -ge 1 ] ||
		{ diag "tls counters"; return 1; }
	# the connection is over: the active gauge comes back to 0
	wait_for 5 out_is 0 val 'xrelay_tenant_tls_connections_active{tenant="lab"}' ||
		{ xr_log "lab active stays at $(val 'xrelay_tenant_tls_connections_active{tenant="lab"}')"; return 1; }
}

t_tls_refused() {
	local u='xrelay_tls_connections_refused_total{reason="unknown_sni"}'
	local n='xrelay_tenant_tls_connections_refused_total{tenant="lab2",reason="no_agent"}'
	local u0 n0 u1 n1
	u0=$(val "$u"); n0=$(val "$n")
	TLS_CURL_MAX=5 tls_curl "$NS_PUB1" nope.example.test /name >/dev/null 2>&1
	TLS_CURL_MAX=5 tls_curl "$NS_PUB1" b.example.test /name >/dev/null 2>&1
	u1=$(wait_val "$u" $((u0 + 1))); n1=$(wait_val "$n" $((n0 + 1)))
	xr_log "unknown_sni $u0 -> $u1; lab2 no_agent $n0 -> $n1"
	[ $((u1 - u0)) -ge 1 ] && [ $((n1 - n0)) -ge 1 ]
}

t_wg_counters() {
	# 20 pings of 1000 bytes each way: 40 data packets of lab forwarded by
	# XDP, each frame > 1000 bytes
	local p='xrelay_tenant_wireguard_packets_total{tenant="lab",direction="tx"}'
	local b='xrelay_tenant_wireguard_bytes_total{tenant="lab",direction="tx"}'
	local x='xrelay_xdp_packets_total{reason="tx"}'
	local p0 b0 x0 p1 b1 x1 s
	wait_for 30 ping_ok "$NS_PUB1" "$T_PRIV" 1 || { diag "no WireGuard tunnel pub1 -> priv"; return 1; }
	p0=$(val "$p"); b0=$(val "$b"); x0=$(val "$x")
	nsx "$NS_PUB1" ping -n -q -c 20 -i 0.05 -s 1000 -W 2 "$T_PRIV" >/dev/null ||
		{ xr_log "ping through WireGuard lost packets"; return 1; }
	p1=$(val "$p"); b1=$(val "$b"); x1=$(val "$x")
	s=$(val 'xrelay_tenant_wireguard_sessions{tenant="lab"}')
	xr_log "lab tx packets $p0 -> $p1, bytes $b0 -> $b1; xdp tx $x0 -> $x1; lab sessions $s"
	[ $((p1 - p0)) -ge 40 ] && [ $((b1 - b0)) -ge 40000 ] && [ $((x1 - x0)) -ge 40 ] && [ "$s" -ge 2 ] ||
		{ diag "wireguard counters"; return 1; }
	local hi si s2
	hi=$(val 'xrelay_wireguard_handshakes_total{type="initiation"}')
	si=$(val 'xrelay_wireguard_sessions_installed_total')
	s2=$(val 'xrelay_tenant_wireguard_sessions{tenant="lab2"}')
	xr_log "handshake initiations $hi, sessions installed $si, lab2 sessions $s2"
	[ "$hi" -ge 1 ] && [ "$si" -ge 1 ] && [ "$s2" = 0 ]
}

t_promtool_after() {
	# again after traffic (non-zero values, every family filled)
	scrape && t_promtool
}

t_http_errors() {
	local rc=0 s
	s=$(http_status GET /); [ "$s" = 404 ] || { xr_log "GET / -> $s"; rc=1; }
	s=$(http_status GET /metricsx); [ "$s" = 404 ] || { xr_log "GET /metricsx -> $s"; rc=1; }
	s=$(http_status POST /metrics); [ "$s" = 405 ] || { xr_log "POST /metrics -> $s"; rc=1; }
	s=$(http_status DELETE /metrics); [ "$s" = 405 ] || { xr_log "DELETE /metrics -> $s"; rc=1; }
	s=$(http_status GET '/metrics?x=1'); [ "$s" = 200 ] || { xr_log "GET /metrics?x=1 -> $s"; rc=1; }
	nsx "$NS_RELAY" curl -s --max-time 5 -D - -o /dev/null -X POST "http://$METRICS/metrics" |
		grep -qi '^allow: GET, HEAD' || { xr_log "405 without Allow: GET, HEAD"; rc=1; }
	# HEAD: headers only
	s=$(nsx "$NS_RELAY" curl -s --max-time 5 -I "http://$METRICS/metrics" | head -n1)
	case $s in "HTTP/1.1 200"*) ;; *) xr_log "HEAD /metrics -> $s"; rc=1 ;; esac
	# not HTTP at all
	s=$(raw send "$(printf 'hello\r\n\r\n' | hexs)")
	case $s in "HTTP/1.1 400"*) ;; *) xr_log "garbage -> $s"; rc=1 ;; esac
	return $rc
}

t_oversize() {
	# a request head over 4 KiB: 431 and closed, at once
	local s t0 t1 big
	big=$(printf 'GET /metrics HTTP/1.1\r\nX-Pad: %s\r\n\r\n' "$(head -c 6000 /dev/zero | tr '\0' a)" |
		hexs)
	t0=$(ms_now); s=$(raw send "$big"); t1=$(ms_now)
	xr_log "oversize request: '$s' after $((t1 - t0)) ms"
	case $s in "HTTP/1.1 431"*) ;; *) return 1 ;; esac
	[ $((t1 - t0)) -lt 2000 ]
}

t_slow_clients() {
	# 20 idle and 20 half-request connections stay open; meanwhile scrapes
	# answer fast; the slow ones are cut off at the deadline
	local m1=$XR_STATE/slow1.open m2=$XR_STATE/slow2.open p1 p2 rc=0 i t0 t1 worst=0 to0 to1
	to0=$(val xrelay_metrics_timeouts_total)
	xr_spawn slow-idle "$NS_RELAY" timeout 60 "$XR_PY" -c "$RAW_PY" "$METRICS" hold 20 idle $((REQ_TIMEOUT + 5)) "$m1"
	p1=$XR_LAST_PID
	xr_spawn slow-partial "$NS_RELAY" timeout 60 "$XR_PY" -c "$RAW_PY" "$METRICS" hold 20 partial $((REQ_TIMEOUT + 5)) "$m2"
	p2=$XR_LAST_PID
	wait_for 10 test -f "$m1" -a -f "$m2" || { xr_log "slow clients did not connect"; rc=1; }
	for i in 1 2 3 4 5; do
		t0=$(ms_now)
		scrape "$MET.slow" || { xr_log "scrape $i failed while slow clients were connected"; rc=1; }
		t1=$(ms_now)
		[ $((t1 - t0)) -gt $worst ] && worst=$((t1 - t0))
		sleep 0.2
	done
	wait "$p1"; wait "$p2"
	xr_log "slowest of 5 scrapes beside 40 slow clients: $worst ms"
	xr_log "idle: $(cat "$XR_STATE/slow-idle.log"); partial: $(cat "$XR_STATE/slow-partial.log")"
	[ $worst -lt 1000 ] || rc=1
	"$XR_PY" -c '
import json, sys
T = float(sys.argv[1]); bad = 0
for p in sys.argv[2:]:
    r = json.loads(open(p).read().splitlines()[-1])
    if r["closed"] != 20 or r["min"] < T - 0.5 or r["max"] > T + 2.5:
        print("#   %s: %d of 20 closed, after %s..%s s (want %.1f..%.1f)" % (p, r["closed"], r["min"], r["max"], T - 0.5, T + 2.5)); bad = 1
sys.exit(bad)' "$REQ_TIMEOUT" "$XR_STATE/slow-idle.log" "$XR_STATE/slow-partial.log" || rc=1
	to1=$(val xrelay_metrics_timeouts_total)
	xr_log "xrelay_metrics_timeouts_total $to0 -> $to1"
	[ $((to1 - to0)) -ge 40 ] || rc=1
	return $rc
}

t_concurrent() {
	# 30 scrapes at once, all complete and identical in shape
	local i pids=() rc=0
	for i in $(seq 30); do
		scrape "$MET.par$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	for i in $(seq 30); do
		head -n 1 "$MET.par$i.hdr" | grep -q '^HTTP/1.1 200' || { xr_log "scrape $i: $(head -n1 "$MET.par$i.hdr")"; rc=1; }
		grep -q '^xrelay_build_info' "$MET.par$i" || rc=1
	done
	return $rc
}

t_limit() {
	# MAX_CONNS connections held open: the next one gets 503; once they are
	# gone, 200 again
	local m=$XR_STATE/limit.open hold=$XR_STATE/limit.hold p s rc=0
	: >"$hold"
	xr_spawn limit "$NS_RELAY" env HOLD_UNTIL="$hold" timeout 60 "$XR_PY" -c "$RAW_PY" \
		"$METRICS" hold $MAX_CONNS idle $((REQ_TIMEOUT + 5)) "$m"
	p=$XR_LAST_PID
	wait_for 10 test -f "$m" || { xr_log "limit client did not connect"; rc=1; }
	sleep 0.3
	s=$(http_status GET /metrics)
	[ "$s" = 503 ] || { xr_log "connection $((MAX_CONNS + 1)): $s, want 503"; rc=1; }
	rm -f "$hold"
	wait "$p"
	wait_for 5 out_is 200 http_status GET /metrics || { xr_log "after the limit: $(http_status GET /metrics)"; rc=1; }
	return $rc
}

t_no_secrets() {
	# no key material of any key this run made, in any scrape
	local f rc=0 l k
	scrape "$MET.final" || return 1
	for f in "$XR_STATE"/keys/*.key "$(agent_dir vm1)/agent.key"; do
		while read -r l; do
			case $l in ''|-----*) continue ;; esac
			if grep -qF -- "$l" "$MET.final" "$MET.txt"; then xr_log "key material of $f on /metrics"; rc=1; fi
		done <"$f"
	done
	# the Ed25519 seeds themselves (base64 and hex)
	for f in "$XR_STATE/keys/relay.key" "$(agent_dir vm1)/agent.key"; do
		k=$(openssl pkey -in "$f" -outform DER 2>/dev/null | tail -c 32 | base64)
		[ -n "$k" ] && grep -qF -- "$k" "$MET.final" && { xr_log "seed of $f on /metrics"; rc=1; }
		k=$(openssl pkey -in "$f" -outform DER 2>/dev/null | tail -c 32 | hexs)
		[ -n "$k" ] && grep -qiF -- "$k" "$MET.final" && { xr_log "seed of $f (hex) on /metrics"; rc=1; }
	done
	# label values are short names, never key-like strings
	grep -v '^#' "$MET.final" | grep -oE '="[^"]*"' | sort -u | awk '
		length($0) > 40 || $0 ~ /[+\/=][^"]*"$/ && length($0) > 20 { print "#   suspicious label value " $0; bad = 1 }
		END { exit bad }' >&2 || rc=1
	grep -Eqi 'private[ _-]?key|BEGIN [A-Z ]*KEY|token=' "$MET.final" &&
		{ xr_log "/metrics mentions private keys or tokens"; rc=1; }
	return $rc
}

# ---- run ------------------------------------------------------------------------
xr_check "GET /metrics: 200, Content-Type text/plain; version=0.0.4" t_scrape
xr_check "promtool check metrics accepts the exposition" t_promtool
xr_check "families: build info, start time, XDP links, tenants' WireGuard/TLS/agents, relay-wide" t_families
xr_check "TLS: 256 KiB download grows lab's and relay-wide bytes out by >= 256 KiB, routed by 1" t_tls_counters
xr_check "TLS: unknown SNI and no_agent refusals counted" t_tls_refused
xr_check "WireGuard: 40 packets of 1 KB grow lab's tx packets by 40 and bytes by 40 KB; sessions" t_wg_counters
xr_check "promtool check metrics accepts it after traffic too" t_promtool_after
xr_check "404 for other paths, 405 (Allow: GET, HEAD) for other methods, HEAD, 400 for garbage" t_http_errors
xr_check "request head over 4 KiB: 431 at once" t_oversize
xr_check "40 slow clients: scrapes answer in < 1 s; the slow ones are cut off after ${REQ_TIMEOUT} s" t_slow_clients
xr_check "30 concurrent scrapes all served" t_concurrent
xr_check "past $MAX_CONNS open connections: 503, then served again" t_limit
xr_check "no key material or tokens on /metrics" t_no_secrets

xr_result
