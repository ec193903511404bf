#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tls_data.sh - the data path of TLS passthrough: bulk transfers both ways
# compared by SHA-256, hundreds of concurrent connections, half-close, PROXY
# protocol v2, a download ended by the backend's close, and back-pressure
# (a receiver that stops reading must stall the sender through TCP, not fill
# the relay's or the agent's memory).
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh.  Agent vm1
# (priv, tenant lab, user nobody) serves:
#   a.example.test   -> nginx 127.0.0.1:8443 (files, PUT uploads)
#   pp.example.test  -> nginx 127.0.0.1:8445 "ssl proxy_protocol", PROXY v2
#   raw.example.test -> tlsfix.py rawtls 127.0.0.1:8446 (close/echo/sink/firehose)
# TLS_MOVER=splice runs it all with tls.mover: splice (tls_data_splice.sh).
# One "ok - NAME" / "not ok - NAME" line per assertion; exits 1 when any
# failed.  XR_KEEP=1 keeps the topology.
set -u
XR_PREFIX=${XR_PREFIX:-xt2-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/tls.sh"

# growth of VmRSS allowed while a receiver does not read (kB)
RSS_SLACK_KB=$((64 * 1024))

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
tls_topo_up
tls_www
tls_leaf a a.example.test
tls_leaf pp pp.example.test
tls_leaf raw raw.example.test
PP_LOG=$XR_STATE/nginx-priv/pp.log
nginx_start priv "$NS_PRIV" "8443 8445" \
	"$(nginx_tls_server priv 8443 a a.example.test default_server)" \
	"$(nginx_tls_server priv 8445 pp pp.example.test proxy_protocol "access_log $PP_LOG pp;")"
tls_rawtls "$NS_PRIV" 8446 raw

tls_agent_key vm1
tls_relay_config "$(tls_tenant lab vm1 "a.example.test pp.example.test raw.example.test")"
tls_agent_config vm1 "$RELAY4:$CTRL_PORT" \
	"$(tls_service a.example.test 127.0.0.1:8443)" \
	"$(tls_service pp.example.test 127.0.0.1:8445 "proxy_protocol: v2")" \
	"$(tls_service raw.example.test 127.0.0.1:8446)"
if ! { tls_relay_up && tls_agent_start vm1 "$NS_PRIV"; }; then
	xr_notok "relay and agent up (xrelayd on :443/:$CTRL_PORT, vm1 as user nobody)"
	exit 1
fi
xr_ok "relay and agent up (xrelayd on :443/:$CTRL_PORT, vm1 as user nobody)"

# ---- scenarios -------------------------------------------------------------------
t_first_route() {
	wait_route "$NS_PUB1" a.example.test priv 20 || { tls_diag "a.example.test"; return 1; }
}

t_download_64m() {
	local t0 t1 sum rc
	t0=$(ms_now)
	sum=$(tls_curl "$NS_PUB1" a.example.test /big.bin --max-time 60 | sha256sum | cut -d' ' -f1)
	rc=${PIPESTATUS[0]}
	t1=$(ms_now)
	xr_log "64 MiB download: curl exit $rc, $((t1 - t0)) ms, sha256 ${sum:0:16}... (want ${BIG_SHA:0:16}...)"
	[ "$rc" = 0 ] && [ "$sum" = "$BIG_SHA" ] || { tls_diag "download"; return 1; }
}

t_upload_64m() {
	local code t0 t1
	rm -f "$TLS_WWW/up/big.bin"
	t0=$(ms_now)
	code=$(tls_curl "$NS_PUB1" a.example.test /up/big.bin --max-time 60 -T "$TLS_WWW/big.bin" \
		-o /dev/null -w '%{http_code}')
	t1=$(ms_now)
	local sum
	sum=$(sha256sum <"$TLS_WWW/up/big.bin" 2>/dev/null | cut -d' ' -f1)
	xr_log "64 MiB PUT: HTTP $code, $((t1 - t0)) ms; stored sha256 ${sum:0:16}..."
	rm -f "$TLS_WWW/up/big.bin"
	case $code in 201|204) ;; *) tls_diag "upload"; return 1 ;; esac
	[ "$sum" = "$BIG_SHA" ]
}

t_flow_listed() {
	# a rate-limited download keeps a flow open; it must be listed with its
	# tenant, hostname and client, and be gone once the client is gone
	local cpid rc=0
	xr_spawn slowdl "$NS_PUB1" curl -sS --max-time 60 --limit-rate 2M \
		--resolve a.example.test:443:$RELAY4 --cacert "$TLS_CA" -o /dev/null https://a.example.test/big.bin
	cpid=$XR_LAST_PID
	if wait_for 10 flows_has a.example.test "$PUB1_4"; then
		xrctl -j flows | "$XR_PY" -c '
import json, sys
d = json.load(sys.stdin); d = d.get("flows", d) if isinstance(d, dict) else d
for f in d: print("#   flow:", json.dumps(f, sort_keys=True))' >&2
		xrctl -j flows | "$XR_PY" -c '
import json, sys
d = json.load(sys.stdin); d = d.get("flows", d) if isinstance(d, dict) else d
f = [f for f in d if f.get("hostname") == "a.example.test"][0]
sys.exit(0 if f.get("tenant") == "lab" else 1)' || { xr_log "the flow does not name tenant lab"; rc=1; }
		xrctl flows | sed 's/^/#   /' >&2
		# its byte count follows the transfer (2 MB/s)
		wait_for 5 flow_field_ge a.example.test bytes_out $((1 << 20)) ||
			{ xr_log "bytes_out of the flow stays at $(flow_field a.example.test bytes_out)"; rc=1; }
		xr_log "flow bytes_out: $(flow_field a.example.test bytes_out)"
	else
		xr_log "no flow for a.example.test from $PUB1_4 within 10 s"; rc=1
	fi
	xr_kill "$cpid"
	wait_for 10 out_is 0 flows_count a.example.test ||
		{ xr_log "the flow is still listed 10 s after the client went"; rc=1; }
	[ $rc = 0 ] || tls_diag "flows"
	return $rc
}

t_concurrent() { # N
	# N TLS connections are established through the relay at the same time
	# (all handshakes done, none closed), then each fetches 256 KiB
	local n=$1 ready=$XR_STATE/many.ready go=$XR_STATE/many.go cpid active flows rc=0
	rm -f "$ready" "$go"
	xr_spawn many "$NS_PUB1" timeout 100 "$XR_PY" "$TLSFIX" many "$RELAY4" 443 a.example.test \
		--ca "$TLS_CA" --n "$n" --path /256k.bin --sha "$K256_SHA" --ready "$ready" --go "$go"
	cpid=$XR_LAST_PID
	wait_for 60 test -f "$ready" || { xr_log "handshakes not done within 60 s"; rc=1; }
	active=$(tcp_wait active "" "$n")
	wait_for 5 flows_at_least "$n" a.example.test
	flows=$(flows_count a.example.test)
	xr_log "with $(cat "$ready" 2>/dev/null) handshakes done: tcp.active $active, flows for a.example.test $flows"
	[ "$active" -ge "$n" ] || { xr_log "tcp.active $active < $n"; rc=1; }
	[ "$flows" -ge "$n" ] || { xr_log "xrelayctl -j flows lists $flows < $n"; rc=1; }
	touch "$go"
	wait "$cpid" || rc=1
	xr_log "many: $(tail -n1 "$XR_STATE/many.log")"
	grep -q "\"ok\": $n," "$XR_STATE/many.log" || rc=1
	[ $rc = 0 ] || tls_diag "concurrent"
	return $rc
}

t_halfclose() {
	# the client sends 1 MiB, then close_notify and FIN (shutdown(SHUT_WR));
	# the backend answers only after EOF: the reply must arrive in full
	local out
	out=$(tlsfix "$NS_PUB1" halfclose "$RELAY4" 443 raw.example.test --ca "$TLS_CA" --size 1048576)
	local rc=$?
	xr_log "halfclose: $out"
	[ $rc = 0 ] || { tls_diag "half-close"; return 1; }
}

t_proxy_v2() {
	# the backend's log must show the public client's address and port (fixed
	# local ports below the ephemeral range, so no earlier connection holds them)
	local rc=0
	tls_curl "$NS_PUB1" pp.example.test /name --local-port 20123 >"$XR_STATE/pp4.out" 2>&1 || rc=1
	TLS_RELAY_IP="[$RELAY6]" tls_curl "$NS_PUB1" pp.example.test /name --local-port 20124 \
		>"$XR_STATE/pp6.out" 2>&1 || rc=1
	sed 's/^/#   curl: /' "$XR_STATE/pp4.out" "$XR_STATE/pp6.out" >&2
	sed 's/^/#   nginx pp.log: /' "$PP_LOG" >&2
	grep -q "^$PUB1_4:20123 .*\"GET /name HTTP/1.1\" 200" "$PP_LOG" ||
		{ xr_log "no request from $PUB1_4:20123 in the PROXY protocol log"; rc=1; }
	grep -q "^$PUB1_6:20124 .*\"GET /name HTTP/1.1\" 200" "$PP_LOG" ||
		{ xr_log "no request from $PUB1_6:20124 in the PROXY protocol log"; rc=1; }
	[ $rc = 0 ] || tls_diag "PROXY v2"
	return $rc
}

t_close_download() {
	# no Content-Length: only the backend's close ends the body; every byte
	# must arrive before the relay passes the end on
	local sum rc
	sum=$(tls_curl "$NS_PUB1" raw.example.test /close --max-time 60 | sha256sum | cut -d' ' -f1)
	rc=${PIPESTATUS[0]}
	xr_log "Connection: close download: curl exit $rc, sha256 ${sum:0:16}... (want ${BIG_SHA:0:16}...)"
	[ "$rc" = 0 ] && [ "$sum" = "$BIG_SHA" ] || { tls_diag "close download"; return 1; }
}

# rss_check WHAT RELAY_KB0 AGENT_KB0 : RSS now within RSS_SLACK_KB of before
rss_check() {
	local what=$1 r0=$2 a0=$3 r1 a1 rc=0
	r1=$(rss_kb "$XR_RELAYD_PID"); a1=$(rss_kb "${AGENT_PID[vm1]}")
	xr_log "$what: xrelayd VmRSS $r0 -> $r1 kB, agent VmRSS $a0 -> $a1 kB"
	[ $((r1 - r0)) -lt $RSS_SLACK_KB ] || { xr_log "xrelayd grew by $((r1 - r0)) kB"; rc=1; }
	[ $((a1 - a0)) -lt $RSS_SLACK_KB ] || { xr_log "the agent grew by $((a1 - a0)) kB"; rc=1; }
	return $rc
}

t_upload_to_nonreader() {
	# the backend stops reading; the public client keeps sending: TCP must
	# stall the client (nothing accepted in the last 2 s of 8) and memory
	# stay bounded on the relay and the agent
	local r0 a0 marker=$XR_STATE/upsink.stalled cpid rc=0
	r0=$(rss_kb "$XR_RELAYD_PID"); a0=$(rss_kb "${AGENT_PID[vm1]}")
	rm -f "$marker"
	xr_spawn upsink "$NS_PUB1" timeout 60 "$XR_PY" "$TLSFIX" upsink "$RELAY4" 443 raw.example.test \
		--ca "$TLS_CA" --seconds 8 --hold 2 --marker "$marker"
	cpid=$XR_LAST_PID
	wait_for 20 test -f "$marker" || { xr_log "upsink client made no progress"; rc=1; }
	rss_check "upload to a backend that does not read" "$r0" "$a0" || rc=1
	flows_has raw.example.test "$PUB1_4" || { xr_log "the stalled flow is not listed"; rc=1; }
	wait "$cpid"
	local out
	out=$(tail -n1 "$XR_STATE/upsink.log")
	xr_log "upsink: $out"
	"$XR_PY" -c '
import json, sys
r = json.loads(sys.argv[1])
tot, grew = r["total"], r["grew_in_last_hold_s"]
print("#   client had %d MiB accepted by TCP; %s bytes in the last 2 s" % (tot >> 20, grew))
ok = grew is not None and grew < (1 << 20) and 0 < tot < (256 << 20)
sys.exit(0 if ok else 1)' "$out" || { xr_log "the client was not stalled"; rc=1; }
	[ $rc = 0 ] || tls_diag "upload to a non-reader"
	return $rc
}

t_download_paused() {
	# the backend sends without end while the public client pauses for 6 s;
	# memory stays bounded, and once the client reads again the counter
	# stream continues without a gap
	local r0 a0 marker=$XR_STATE/firehose.paused cpid rc=0
	r0=$(rss_kb "$XR_RELAYD_PID"); a0=$(rss_kb "${AGENT_PID[vm1]}")
	rm -f "$marker"
	xr_spawn firehose "$NS_PUB1" timeout 60 "$XR_PY" "$TLSFIX" firehose "$RELAY4" 443 raw.example.test \
		--ca "$TLS_CA" --pause 6 --hold 2 --after $((32 << 20)) --marker "$marker"
	cpid=$XR_LAST_PID
	wait_for 20 test -f "$marker" || { xr_log "firehose client did not get to its pause"; rc=1; }
	rss_check "download to a client that pauses" "$r0" "$a0" || rc=1
	wait "$cpid" || rc=1
	xr_log "firehose: $(tail -n1 "$XR_STATE/firehose.log")"
	[ $rc = 0 ] || tls_diag "paused download"
	return $rc
}

t_bytes_counted() {
	local i o li lo rc=0
	tcp_settle
	i=$(tcp_n bytes_in); o=$(tcp_n bytes_out); li=$(tcp_n bytes_in lab); lo=$(tcp_n bytes_out lab)
	xr_log "tcp.bytes_in $i, bytes_out $o; tenant lab: $li, $lo"
	# at least the 64 MiB upload in, the 64 MiB download and close download out
	[ "$i" -ge $((64 << 20)) ] && [ "$o" -ge $((128 << 20)) ] || rc=1
	[ "$li" -ge $((64 << 20)) ] && [ "$lo" -ge $((128 << 20)) ] || rc=1
	return $rc
}

t_agent_goodbye() {
	# the agent stopped the ordinary way (SIGTERM: it tells the relay it is
	# stopping): xrelayd notes it and keeps running; the agent comes back
	local rc=0
	tls_agent_stop vm1 TERM
	sleep 1 # deliberate: the relay has processed the goodbye by now
	if ! pid_alive "$XR_RELAYD_PID"; then
		wait "$XR_RELAYD_PID"
		xr_log "xrelayd died (exit status $?) when the agent stopped; its log ends:"
		tail -n 2 "$XR_RELAYD_LOG" | sed 's/^/#   /' >&2
		return 1
	fi
	log_says "$XR_RELAYD_LOG" 'agent disconnected' 'agent=vm1' 'stopping' ||
		{ xr_log "xrelayd did not log the agent's goodbye"; rc=1; }
	tls_agent_start vm1 "$NS_PRIV" && wait_route "$NS_PUB1" a.example.test priv 20 || rc=1
	return $rc
}

# ---- run ------------------------------------------------------------------------
xr_check "agent registered: a.example.test served by priv" t_first_route
xr_check "64 MiB download through the relay, SHA-256 equal" t_download_64m
xr_check "64 MiB upload (PUT) through the relay, SHA-256 equal" t_upload_64m
xr_check "xrelayctl -j flows lists a running transfer (tenant, hostname, client, bytes)" t_flow_listed
xr_check "300 concurrent connections: all open at once, all transfers intact" t_concurrent 300
xr_check "half-close: request, shutdown(SHUT_WR), full reply" t_halfclose
xr_check "PROXY v2: the backend logs the public client's address (IPv4 and IPv6)" t_proxy_v2
xr_check "download ended by the backend's close arrives byte-exact" t_close_download
xr_check "upload to a backend that does not read: client stalled, RSS bounded" t_upload_to_nonreader
xr_check "download to a client that pauses: RSS bounded, stream intact after" t_download_paused
xr_check "tcp.bytes_in/bytes_out count the transfers (relay-wide and tenant lab)" t_bytes_counted
xr_check "agent stopped with SIGTERM: xrelayd logs it and keeps running, agent comes back" t_agent_goodbye

xr_result
