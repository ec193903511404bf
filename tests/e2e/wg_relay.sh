#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# wg_relay.sh - WireGuard through the relay, end to end, in namespaces.
#
# Topology: scripts/lib/netns.sh.  Tenant lab: priv (behind NAT) <-> pub1;
# tenant lab2: priv2 (same NAT) <-> pub2; tenant lab6: priv <-> pub1 with the
# relay reached over IPv6.  Every peer's Endpoint is the relay's 51820.
#
# Prints one "ok - NAME" / "not ok - NAME" line per assertion; exits 1 when
# any failed.  Every wait is bounded.  XR_KEEP=1 leaves the topology up.
set -u
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/netns.sh"

if ! xr_have_relay; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL)"
	exit 1
fi
topo_up
if ! wg_relay_up lab lab2 lab6; then
	xr_notok "relay up: xrelayd started, XDP attached to the relay's eth0, peers configured"
	exit 1
fi
xr_ok "relay up: xrelayd started, XDP attached to the relay's eth0, peers configured"

# ---- helpers -----------------------------------------------------------------
# dump what helps to see why an assertion failed
diag() {
	xr_log "--- $1"
	{
		echo "\$ xrelayctl -j sessions"; xrctl -j sessions 2>&1
		echo "\$ xrelayctl -j stats"; xrctl -j stats 2>&1
		echo "\$ xrelayd log (tail)"; tail -n 15 "$XR_RELAYD_LOG" 2>/dev/null
	} | sed 's/^/#   /' >&2
}

num() { [[ $1 =~ ^[0-9]+$ ]] && echo "$1" || echo 0; }
stat_n() { num "$(stats_get "$1" 2>/dev/null)"; }

# iperf3 server on NS bound to ADDR (one per address, reused)
declare -A IPERF_SRV
iperf_server() {
	local ns=$1 addr=$2
	[ -n "${IPERF_SRV[$addr]:-}" ] && return 0
	xr_spawn "iperf3-s-$addr" "$ns" iperf3 -s -B "$addr"
	IPERF_SRV[$addr]=$XR_LAST_PID
	wait_for 5 nsx "$ns" sh -c "ss -ltnH 'sport = :5201' | grep -q ."
}

# iperf_json_check FILE MIN_INTERVALS : every interval carried bytes
iperf_json_check() {
	/usr/bin/python3 - "$1" "$2" <<-'EOF'
	import json, sys
	try:
	    d = json.load(open(sys.argv[1]))
	except Exception as e:
	    print("#   iperf3 output is not JSON:", e); sys.exit(1)
	if "error" in d:
	    print("#   iperf3 error:", d["error"]); sys.exit(1)
	iv = [i["sum"] for i in d.get("intervals", []) if not i["sum"].get("omitted")]
	# the last interval can be a short tail (< 0.5 s); judge full seconds
	full = [s for s in iv if s["seconds"] >= 0.5]
	print("#   intervals (s:bytes):", " ".join("%.0f-%.0f:%d" % (s["start"], s["end"], s["bytes"]) for s in iv))
	mbit = d.get("end", {}).get("sum_received", {}).get("bits_per_second", 0) / 1e6
	print("#   received: %.1f Mbit/s" % mbit)
	gaps = [s for s in full if s["bytes"] == 0]
	ok = len(full) >= int(sys.argv[2]) and not gaps and mbit > 0
	sys.exit(0 if ok else 1)
	EOF
}

# ---- scenarios -------------------------------------------------------------------
t_handshake_lab() {
	# priv's keepalive has told the relay where it is; pub1's first packet
	# starts a handshake (retried every 5 s by WireGuard)
	wait_for 30 ping_ok "$NS_PUB1" $T_PRIV 1 || { diag "no tunnel pub1 -> priv"; return 1; }
	wg_handshake_age "$NS_PUB1" "$WG_PUB1" "$(wg_pub priv)" >/dev/null
}

t_ping_pub1_priv() { ping_ok "$NS_PUB1" $T_PRIV 5; }
t_ping_priv_pub1() { ping_ok "$NS_PRIV" $T_PUB1 5; }

t_xdp_forwards() {
	# 20 echo requests + 20 replies are 40 data messages, all forwarded by XDP
	local before after
	before=$(stat_n reasons.tx.packets)
	ping_ok "$NS_PUB1" $T_PRIV 20 || return 1
	after=$(stat_n reasons.tx.packets)
	xr_log "reasons.tx.packets: $before -> $after"
	[ $((after - before)) -ge 40 ] || { diag "XDP tx counter did not grow by 40"; return 1; }
}

t_sessions_listed() {
	# one session per direction: towards pub1 and towards priv's NAT mapping
	sessions_has lab "$PUB1_4:" && sessions_has lab "$RTR_WAN4:" || { diag "sessions"; return 1; }
}

t_stats_json() {
	xrctl -j stats | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["reasons"]; t = {x["name"]: x for x in d["tenants"]}
for k in ("tx", "drop_unknown_index", "drop_wg_bad_type", "pass_handshake"):
    assert isinstance(r[k]["packets"], int) and isinstance(r[k]["bytes"], int), k
assert r["tx"]["packets"] > 0 and r["pass_handshake"]["packets"] > 0, r
assert t["lab"]["rx_packets"] > 0 and t["lab"]["tx_packets"] > 0, t["lab"]
assert isinstance(t["lab"]["drops"], dict), t["lab"]
' || { diag "stats JSON"; return 1; }
}

t_bpftool_fields() {
	local stats sess
	stats=$(xr_pin_path xr_stats) && sess=$(xr_pin_path xr_sessions) ||
		{ xr_log "no xr_stats/xr_sessions under $XR_PIN: $(find "$XR_PIN" -maxdepth 2 | tr '\n' ' ')"; return 1; }
	bpftool map dump pinned "$stats" | grep -q '"packets"' || { xr_log "xr_stats dump has no \"packets\""; return 1; }
	bpftool map dump pinned "$sess" | grep -q '"dst"' || { xr_log "xr_sessions dump has no \"dst\""; return 1; }
}

t_iperf() { # NAME CLIENT_NS SERVER_NS SERVER_ADDR [-R]
	local name=$1 cns=$2 sns=$3 addr=$4; shift 4
	iperf_server "$sns" "$addr" || return 1
	nsx "$cns" timeout 20 iperf3 -c "$addr" -t 3 -i 1 -J "$@" >"$XR_STATE/$name.json" 2>&1
	iperf_json_check "$XR_STATE/$name.json" 3
}

t_lab2_tunnel() {
	wait_for 30 ping_ok "$NS_PUB2" $T_PRIV2 1 || { diag "no tunnel pub2 -> priv2"; return 1; }
	ping_ok "$NS_PRIV2" $T_PUB2 3 && ping_ok "$NS_PUB2" $T_PRIV2 3
}

t_lab2_counted_apart() {
	# traffic of lab2 moves lab2's counters, not lab's session counters
	local b2 a2
	b2=$(stat_n tenant.lab2.tx_packets)
	ping_ok "$NS_PUB2" $T_PRIV2 10 || return 1
	a2=$(stat_n tenant.lab2.tx_packets)
	xr_log "tenant lab2 tx_packets: $b2 -> $a2"
	[ $((a2 - b2)) -ge 20 ] || { diag "lab2 counters"; return 1; }
	sessions_has lab2 "$PUB2_4:" && sessions_has lab2 "$RTR_WAN4:" || { diag "lab2 sessions"; return 1; }
	# and no lab2 session leads to pub1
	! sessions_has lab2 "$PUB1_4:"
}

t_isolation() {
	# pub2 (tenant lab2) knows priv's public key and tries to reach it through
	# the relay; priv knows only pub1, so no handshake may complete, and the
	# relay must not install a lab session towards pub2
	wg_peer "$NS_PUB2" "$WG_PUB2" "$(wg_pub priv)" $T_PRIV/32 "$RELAY_EP4"
	nsx "$NS_PUB2" ip route replace $T_PRIV/32 dev "$WG_PUB2"
	local hs_before hs_after
	hs_before=$(stat_n reasons.pass_handshake.packets)
	# wireguard-go sends an initiation at once and retries every 5 s: 12 s
	# covers three attempts
	if nsx "$NS_PUB2" ping -n -q -c 12 -i 1 -W 1 $T_PRIV >/dev/null 2>&1; then
		xr_log "pub2 reached priv's tunnel address"; return 1
	fi
	hs_after=$(stat_n reasons.pass_handshake.packets)
	xr_log "pass_handshake: $hs_before -> $hs_after (pub2's initiations reached xrelayd, none completed)"
	if wg_handshake_age "$NS_PUB2" "$WG_PUB2" "$(wg_pub priv)" >/dev/null; then
		xr_log "pub2 completed a handshake with priv"; return 1
	fi
	if sessions_has lab "$PUB2_4:"; then diag "a lab session leads to pub2"; return 1; fi
	[ $((hs_after - hs_before)) -ge 2 ] || { diag "pub2's initiations were not counted"; return 1; }
	# tenant lab still works
	ping_ok "$NS_PUB1" $T_PRIV 3
}

t_garbage() {
	# 500 type-4 messages with random receiver indexes and 500 datagrams that
	# are no WireGuard message at all, from pub1 to the relay port
	local ui0 bt0 ui1 bt1
	ui0=$(stat_n reasons.drop_unknown_index.packets)
	bt0=$(stat_n reasons.drop_wg_bad_type.packets)
	nsx "$NS_PUB1" timeout 20 /usr/bin/python3 - "$RELAY4" "$WG_PORT" <<-'EOF' || return 1
	import os, random, socket, struct, sys, time
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	dst = (sys.argv[1], int(sys.argv[2]))
	for i in range(500):
	    # type 4, reserved 0, receiver index, counter, 16..96 bytes "ciphertext"
	    msg = struct.pack("<BBBBIQ", 4, 0, 0, 0, random.getrandbits(32), i)
	    s.sendto(msg + os.urandom(random.choice((16, 48, 96))), dst)
	    if i % 50 == 0: time.sleep(0.01)
	for i in range(500):
	    # first byte outside 1..4: not a WireGuard message type
	    s.sendto(bytes([random.randint(5, 255)]) + os.urandom(random.randint(31, 200)), dst)
	    if i % 50 == 0: time.sleep(0.01)
	EOF
	# counters are per-CPU arrays summed on read: poll briefly
	local deadline=$((SECONDS + 5))
	while :; do
		ui1=$(stat_n reasons.drop_unknown_index.packets)
		bt1=$(stat_n reasons.drop_wg_bad_type.packets)
		[ $((ui1 - ui0)) -ge 500 ] && [ $((bt1 - bt0)) -ge 500 ] && break
		[ $SECONDS -ge $deadline ] && break
		sleep 0.2
	done
	xr_log "drop_unknown_index: $ui0 -> $ui1; drop_wg_bad_type: $bt0 -> $bt1"
	[ $((ui1 - ui0)) -ge 500 ] && [ $((bt1 - bt0)) -ge 500 ] || { diag "garbage counters"; return 1; }
	# xrelayd still alive, tunnel still works both ways
	xr_sock_ready && ping_ok "$NS_PUB1" $T_PRIV 3 && ping_ok "$NS_PRIV" $T_PUB1 3
}

t_restart_no_gap() {
	# forwarding of established sessions lives in XDP: SIGKILL xrelayd during
	# a transfer, restart it, and no 1-second interval may be empty
	iperf_server "$NS_PRIV" $T_PRIV || return 1
	local out=$XR_STATE/restart.json cpid
	xr_spawn iperf3-restart "$NS_PUB1" timeout 30 iperf3 -c $T_PRIV -t 8 -i 1 -J
	cpid=$XR_LAST_PID
	sleep 2 # deliberate: the transfer must be running when xrelayd dies
	relay_kill KILL
	xr_log "xrelayd SIGKILLed at ~2 s"
	sleep 1 # deliberate: ~1 s with no xrelayd at all
	relay_start || { xr_log "xrelayd did not come back"; return 1; }
	xr_log "xrelayd restarted at ~3 s"
	wait "$cpid"; local rc=$?
	cp "$XR_STATE/iperf3-restart.log" "$out"
	[ $rc = 0 ] || { xr_log "iperf3 client exited $rc"; cat "$out" | tail -n 5 | sed 's/^/#   /' >&2; }
	iperf_json_check "$out" 8 || { diag "transfer across the restart"; return 1; }
	[ $rc = 0 ] || return 1
	# the restarted xrelayd adopted the pinned sessions and still forwards
	sessions_has lab "$PUB1_4:" && ping_ok "$NS_PRIV" $T_PUB1 3 || { diag "after restart"; return 1; }
}

t_ipv6() {
	wait_for 30 ping_ok "$NS_PUB1" $T_PRIV6 1 || { diag "no tunnel pub1 -> priv over the IPv6 relay"; return 1; }
	ping_ok "$NS_PUB1" $T_PRIV6 5 && ping_ok "$NS_PRIV" $T_PUB16 5 || return 1
	sessions_has lab6 "$PUB1_6" && sessions_has lab6 "$RTR_WAN6" || { diag "lab6 sessions"; return 1; }
}

t_reload_keeps_sessions() {
	# SIGHUP with an unchanged config must not disturb live sessions
	kill -HUP "$XR_RELAYD_PID" || return 1
	sleep 0.5
	xr_sock_ready && sessions_has lab "$PUB1_4:" && ping_ok "$NS_PUB1" $T_PRIV 3
}

# iperf_mbps FILE : received Mbit/s of an iperf3 -J run
iperf_mbps() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["end"]["sum_received"]["bits_per_second"]/1e6))' "$1" 2>/dev/null || echo 0
}

wg_state() { # TENANT : its WireGuard health as xrelayctl tenants -j shows it
	xrctl -j tenants 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"] == sys.argv[1]:
        print(t["health"]["wireguard"], "-", t["health"]["wireguard_reason"])' "$1"
}
t_wg_health() {
	# the private hosts' keepalives and the pings above passed the relay:
	# the WireGuard probe (every 5 s) finds them, so no grace period is left
	local t rc=0
	for t in lab lab2 lab6; do
		wait_for 12 eval '[ "$(wg_state '"$t"' | cut -d" " -f1)" = healthy ]' ||
			{ xr_log "$t: $(wg_state "$t")"; rc=1; }
	done
	xrctl -j status | /usr/bin/python3 -c '
import json, sys
w = {x["tenant"]: x["health"]["state"] for x in json.load(sys.stdin)["xrelayd"]["wireguard"]}
assert w.get("lab") == "healthy", w
print("#   status -j wireguard:", w)' || rc=1
	return $rc
}

t_police_isolation() {
	# lab2 gets a 4 Mbit/s budget (SIGHUP reload), then both tenants push
	# iperf3 at once: lab2 is held near its budget and its excess is
	# counted as drop_over_bandwidth; lab is neither slowed nor charged.
	local conf=$XR_RELAY_CONF saved=$XR_STATE/relay.yaml.unlimited lab lab2 d0 d1 l0 l1 rc=0
	cp "$conf" "$saved"
	sed -i 's/^  - name: lab2$/  - name: lab2\n    limits: {bandwidth: 4mbit}/' "$conf"
	grep -q 'bandwidth: 4mbit' "$conf" || { xr_log "could not add the limit"; return 1; }
	kill -HUP "$XR_RELAYD_PID" && sleep 0.5
	iperf_server "$NS_PRIV" $T_PRIV && iperf_server "$NS_PRIV2" $T_PRIV2 || return 1
	d0=$(stat_n tenant.lab2.drops.drop_over_bandwidth)
	l0=$(stat_n tenant.lab.drops.drop_over_bandwidth)
	nsx "$NS_PUB2" timeout 20 iperf3 -c $T_PRIV2 -t 4 -J >"$XR_STATE/police-lab2.json" 2>&1 &
	local p2=$!
	nsx "$NS_PUB1" timeout 20 iperf3 -c $T_PRIV -t 4 -J >"$XR_STATE/police-lab.json" 2>&1
	wait $p2
	d1=$(stat_n tenant.lab2.drops.drop_over_bandwidth)
	l1=$(stat_n tenant.lab.drops.drop_over_bandwidth)
	lab=$(iperf_mbps "$XR_STATE/police-lab.json")
	lab2=$(iperf_mbps "$XR_STATE/police-lab2.json")
	xr_log "policing: lab2 (4mbit) received ${lab2} Mbit/s, dropped $((d1 - d0)); lab received ${lab} Mbit/s, dropped $((l1 - l0))"
	[ "$lab2" -le 5 ] || { xr_log "lab2 exceeded its budget"; rc=1; }
	[ "$lab2" -ge 1 ] || { xr_log "lab2 starved instead of held at its budget"; rc=1; }
	[ $((d1 - d0)) -gt 0 ] || { xr_log "no drop_over_bandwidth counted for lab2"; rc=1; }
	[ $((l1 - l0)) -eq 0 ] || { xr_log "lab was charged"; rc=1; }
	[ "$lab" -ge $((5 * (lab2 + 1))) ] || { xr_log "lab slowed down"; rc=1; }
	cp "$saved" "$conf"
	kill -HUP "$XR_RELAYD_PID" && sleep 0.5
	return $rc
}

# ---- run ------------------------------------------------------------------------
xr_check "handshake pub1 <-> priv through the relay (tenant lab)" t_handshake_lab
xr_check "ping pub1 -> priv through the relay" t_ping_pub1_priv
xr_check "ping priv -> pub1 through the relay" t_ping_priv_pub1
xr_check "data messages forwarded by XDP (reasons.tx grows by >= 40 for 20 pings)" t_xdp_forwards
xr_check "xrelayctl -j sessions lists both directions of tenant lab" t_sessions_listed
xr_check "xrelayctl -j stats: reasons and per-tenant counters" t_stats_json
xr_check "bpftool map dump pinned xr_stats/xr_sessions shows field names" t_bpftool_fields
xr_check "iperf3 pub1 -> priv (3 s) through the relay" t_iperf iperf-up "$NS_PUB1" "$NS_PRIV" $T_PRIV
xr_check "iperf3 priv -> pub1 (3 s, -R) through the relay" t_iperf iperf-down "$NS_PUB1" "$NS_PRIV" $T_PRIV -R
xr_check "second tenant lab2 (priv2 <-> pub2) on the same port" t_lab2_tunnel
xr_check "tenant lab2 counted apart from lab" t_lab2_counted_apart
xr_check "isolation: pub2 cannot reach priv's tunnel address" t_isolation
xr_check "policing: lab2 over its bandwidth limit is held and counted, lab not slowed" t_police_isolation
xr_check "random datagrams to :51820 dropped and counted, tunnel unharmed" t_garbage
xr_check "xrelayd SIGKILLed and restarted during iperf3: no empty interval" t_restart_no_gap
xr_check "SIGHUP reload keeps live sessions" t_reload_keeps_sessions
xr_check "IPv6: pub1 <-> priv via [$RELAY6]:$WG_PORT (tenant lab6)" t_ipv6
xr_check "health: tenants with WireGuard traffic are healthy (xrelayctl tenants -j, status -j)" t_wg_health

xr_result
