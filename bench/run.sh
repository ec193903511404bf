#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run.sh - the WireGuard relay benchmark (`sudo make bench`).
#
# In the namespace topology of scripts/lib/netns.sh, side by side in one run:
# WireGuard-shaped UDP -- type-4 messages carrying the receiver index of a
# session the relay learned from a real wireguard-go handshake -- sent by
# bench/udpgen on pub1 from pub1's WireGuard port to the relay's 51820 and
# counted by bench/udpsink on priv, bound to priv's WireGuard port behind
# the NAT, through four paths:
#
#   xdp     the relay: xrelayd running, its XDP program on eth0 forwards by
#           receiver index (XDP_TX), forwarding disabled in the relay ns
#   dnat    the kernel's own forwarding on the relay, XDP detached: nftables
#           DNAT pub1 -> relay:51820 to the router's NAT mapping that priv
#           punched, SNAT to relay:51820, ip_forward=1 (no tunnel)
#   socat   a userspace forwarder on the relay (socat UDP4-LISTEN:51820 ->
#           the NAT mapping, source port 51820), XDP detached, xrelayd
#           stopped (it owns 198.18.0.1:51820)
#   direct  no relay: pub1 sends straight to the NAT mapping priv punched
#           towards pub1 -- the ceiling of this topology
#
# Phase A, saturation: udpgen at full speed, BENCH_DUR seconds per run,
#   BENCH_ROUNDS rounds (the four paths interleaved within a round, so that
#   a burst of load elsewhere hits them alike), payloads BENCH_SIZES; per
#   run: delivered packets/s, loss, machine CPU per million packets.
# Phase B, the target: udpgen paced to 1.5x the DNAT path's median
#   delivered rate, BENCH_B_ROUNDS runs per size, through the relay, DNAT and
#   direct: loss and what was really offered.
# Phase E, equal load: every path paced to BENCH_EQ_RATE packets/s,
#   BENCH_B_ROUNDS runs per size: machine CPU per packet when nothing is
#   saturated (socat's figure is then not inflated by the packets it drops).
# Phase C, the XDP program's per-packet cost with BPF_PROG_TEST_RUN against
#   a drop-only program (bench/xdp_cost), and its run time per packet in the
#   live path (BPF_ENABLE_STATS during a 64-byte blast).
# Phase D, iperf3 (TCP) over real wireguard-go tunnels, BENCH_B_ROUNDS runs
#   per direction: through the relay, then the same two peers connected
#   directly (priv's Endpoint = pub1, through the NAT).
#
# A fresh handshake before every round keeps the session well inside its
# 210 s life.  udpsink polls its socket (see udpsink.c) so that the CPU
# delivering packets does not pay a cross-CPU wakeup per packet.
#
# Machine CPU: busy jiffies (everything but idle and iowait) of all CPUs
# from /proc/stat across each run, divided by delivered packets.  It is the
# whole machine: the generator and sink are in it, so is anything else
# running.  Before every run the machine is sampled idle for 0.5 s; when
# something else keeps more than BENCH_MAX_BG CPUs busy, the run waits (up
# to 20 s) and the background level is recorded with the run either way.
#
# Results: $BENCH_OUT (default build/bench/results-<date>/): runs.tsv (one
# line per run), summary.md (the tables for docs/BENCHMARKS.md), logs.
# Everything else it creates is torn down on exit by netns.sh's trap.
set -u
BENCH_DIR=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
. "$BENCH_DIR/../scripts/lib/netns.sh"

BENCH_DUR=${BENCH_DUR:-3}
BENCH_ROUNDS=${BENCH_ROUNDS:-5}      # phase A rounds
BENCH_B_ROUNDS=${BENCH_B_ROUNDS:-3}  # phase B runs and iperf3 runs per direction
BENCH_SIZES=${BENCH_SIZES:-64 1200}
BENCH_PATHS=${BENCH_PATHS:-xdp dnat socat direct}
BENCH_MAX_BG=${BENCH_MAX_BG:-0.3}
BENCH_IPERF_DUR=${BENCH_IPERF_DUR:-4}
BENCH_EQ_RATE=${BENCH_EQ_RATE:-30000} # phase E: packets/s offered to every path
BENCH_SKIP=${BENCH_SKIP:-}          # any of: A B E C D
BENCH_PERF=${BENCH_PERF:-0}         # 1: perf record -a -g during every run (not for figures)
BENCH_TOOLS=$XR_BUILD/bench
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
BENCH_OUT=${BENCH_OUT:-$XR_BUILD/bench/results-$STAMP}
PY=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root: sudo make bench" >&2; exit 2; }
xr_have_relay || { echo "run.sh: $XRELAYD / $XRELAYCTL not built: make all" >&2; exit 1; }
for t in socat nft conntrack iperf3 $PY; do
	command -v "$t" >/dev/null || { echo "run.sh: $t missing (make deps)" >&2; exit 1; }
done
make -s -C "$BENCH_DIR" BUILD="$XR_BUILD" || { echo "run.sh: building bench tools failed" >&2; exit 1; }
mkdir -p "$BENCH_OUT"
RUNS=$BENCH_OUT/runs.tsv
SUMMARY=$BENCH_OUT/summary.md
NCPU=$(nproc)
HZ=$(getconf CLK_TCK)
skip() { [[ " $BENCH_SKIP " == *" $1 "* ]]; }
log() { printf '# [%s] %s\n' "$(date +%T)" "$*" >&2; }

# ---- machine CPU ---------------------------------------------------------------
# busy jiffies of all CPUs: user nice system irq softirq steal (not idle, iowait)
cpu_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# quiet_wait : sample 0.5 s; until others keep fewer than BENCH_MAX_BG CPUs
# busy (at most 20 s).  Sets BG (CPUs busy in the last sample).
quiet_wait() {
	local b0 b1 waited=0
	while :; do
		b0=$(cpu_busy); sleep 0.5; b1=$(cpu_busy)
		BG=$(awk -v d=$((b1 - b0)) -v hz="$HZ" 'BEGIN { printf "%.2f", d / hz / 0.5 }')
		awk -v b="$BG" -v m="$BENCH_MAX_BG" 'BEGIN { exit !(b <= m) }' && break
		[ $waited -ge 20 ] && { log "background still $BG CPUs busy after 20 s; measuring anyway"; break; }
		[ $waited = 0 ] && log "background $BG CPUs busy (others' tests?): waiting"
		sleep 2; waited=$((waited + 3))
	done
}

# ---- processes of this run --------------------------------------------------------
# pid_of NAME : the last PID xr_spawn recorded under NAME
pid_of() { awk -v n="$1" '$3 == n { p = $1 } END { print p }' "$XR_STATE/pids"; }

wg_stop_peers() {
	local ifn pid
	for ifn in "$WG_PRIV" "$WG_PUB1"; do
		pid=$(pid_of "wg-$ifn")
		[ -n "$pid" ] && xr_kill "$pid" TERM
		wait_for 5 test ! -e "/var/run/wireguard/$ifn.sock" || rm -f "/var/run/wireguard/$ifn.sock"
	done
}

# ---- a session learned from a real handshake ------------------------------------
# handshake : wireguard-go on priv and pub1 (tenant lab), handshake through
# the relay, read the session towards priv's NAT mapping, stop both peers.
# Sets IDX (receiver index priv chose) and NAT_EP (router's mapping, ip:port).
handshake() {
	local out
	wg_relay_peers lab
	if ! wait_for 30 ping_ok "$NS_PUB1" "$T_PRIV" 1; then
		log "no tunnel pub1 -> priv through the relay; xrelayd log:"; tail -n 20 "$XR_RELAYD_LOG" >&2
		return 1
	fi
	out=$(xrctl -j sessions | $PY -c '
import json, sys
d = json.load(sys.stdin)
if isinstance(d, dict): d = d.get("sessions", [])
best = None
for s in d:
    if s.get("tenant") == "lab" and str(s.get("dst", "")).startswith(sys.argv[1] + ":"):
        if best is None or (s.get("age_s") or 0) < (best.get("age_s") or 0): best = s
if best is None: sys.exit(1)
print(best["index"], best["dst"])' "$RTR_WAN4") || { log "no lab session towards $RTR_WAN4"; xrctl sessions >&2; return 1; }
	read -r IDX NAT_EP <<<"$out"
	wg_stop_peers
	log "session: index $IDX -> $NAT_EP (priv's NAT mapping); wireguard-go stopped"
}

# ---- the four paths ----------------------------------------------------------------
CUR_PATH=
IDX= NAT_EP=
relay_nat_off() {
	nsx "$NS_RELAY" nft delete table ip xrbench 2>/dev/null
	nsx "$NS_RELAY" sysctl -qw net.ipv4.ip_forward=0
	nsx "$NS_RELAY" conntrack -F >/dev/null 2>&1
}
socat_stop() {
	local pid
	pid=$(pid_of socat)
	[ -n "$pid" ] && xr_kill "$pid" TERM
	return 0
}
# use_path PATH : put the relay namespace in the state PATH needs
use_path() {
	local p=$1 nat_ip=${NAT_EP%:*} nat_port=${NAT_EP##*:}
	[ "$p" = "$CUR_PATH" ] && return 0
	# undo
	case $CUR_PATH in
	dnat) relay_nat_off ;;
	socat) socat_stop; relay_start || return 1 ;;
	esac
	case $p in
	xdp)
		relay_attach || return 1 ;;
	dnat)
		xrctl detach eth0 >/dev/null 2>&1
		nsx "$NS_RELAY" sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
		nsx "$NS_RELAY" nft -f - <<-EOF || return 1
		table ip xrbench {
			chain pre {
				type nat hook prerouting priority dstnat;
				ip saddr $PUB1_4 udp dport $WG_PORT dnat to $nat_ip:$nat_port
			}
			chain post {
				type nat hook postrouting priority srcnat;
				ip daddr $nat_ip udp dport $nat_port snat to $RELAY4:$WG_PORT
			}
		}
		EOF
		nsx "$NS_RELAY" conntrack -F >/dev/null 2>&1 ;;
	socat)
		xrctl detach eth0 >/dev/null 2>&1
		relay_kill TERM
		xr_spawn socat "$NS_RELAY" socat -T 60 \
			UDP4-LISTEN:$WG_PORT,bind=$RELAY4,reuseaddr \
			UDP4:$nat_ip:$nat_port,sourceport=$WG_PORT,reuseaddr
		wait_for 5 nsx "$NS_RELAY" sh -c "ss -lunH 'sport = :$WG_PORT' | grep -q ." ||
			{ log "socat did not bind :$WG_PORT: $(cat "$XR_STATE/socat.log")"; return 1; } ;;
	direct)
		relay_attach || return 1 ;;   # the relay idles as in the xdp state
	esac
	CUR_PATH=$p
}

# direct_ep : the router's mapping of priv:51820 -> pub1:51820 (after a punch)
direct_ep() {
	nsx "$NS_RTR" conntrack -L -p udp --orig-src "$PRIV_4" --orig-dst "$PUB1_4" \
		--sport $WG_PORT --dport $WG_PORT 2>/dev/null |
		awk '{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^dport=/) { n++; if (n == 2) { sub("dport=", "", $i); print $i; exit } } }'
}

# measure PHASE ROUND PATH SIZE RATE : one run; appends a line to runs.tsv
measure() {
	local phase=$1 round=$2 path=$3 size=$4 rate=$5
	local tag="$phase-$round-$path-$size" punch=() dst sink_pid c0 c1 gen sink port
	[ "$path" = direct ] && punch=(-P "$PUB1_4:$WG_PORT")
	quiet_wait
	xr_spawn "sink-$tag" "$NS_PRIV" "$BENCH_TOOLS/udpsink" -p $WG_PORT -i "$IDX" \
		-w $((BENCH_DUR + 30)) "${punch[@]}"
	sink_pid=$XR_LAST_PID
	wait_for 5 grep -q ready "$XR_STATE/sink-$tag.log" || { log "udpsink did not start"; return 1; }
	case $path in
	direct)
		port=
		for _ in $(seq 20); do port=$(direct_ep); [ -n "$port" ] && break; sleep 0.1; done
		[ -n "$port" ] || { log "no NAT mapping priv -> pub1 after the punch"; return 1; }
		dst=$RTR_WAN4:$port ;;
	*)	dst=$RELAY4:$WG_PORT ;;
	esac
	c0=$(cpu_busy)
	if [ "$BENCH_PERF" = 1 ]; then  # a profile of the middle of the run
		xr_spawn "perf-$tag" - sh -c "sleep 0.5; exec perf record -a -g -q \
			-o '$BENCH_OUT/perf-$tag.data' -- sleep $((BENCH_DUR - 1))"
	fi
	gen=$(nsx "$NS_PUB1" "$BENCH_TOOLS/udpgen" -d "$dst" -s $WG_PORT -i "$IDX" -l "$size" \
		-t "$BENCH_DUR" ${rate:+-r "$rate"})
	sleep 0.3   # deliberate: let queued packets drain into the sink
	c1=$(cpu_busy)
	[ "$BENCH_PERF" = 1 ] && wait "$(pid_of "perf-$tag")"
	xr_kill "$sink_pid" INT
	sink=$(grep '^received=' "$XR_STATE/sink-$tag.log")
	printf '%s\n' "$gen $sink" | $PY -c '
import sys
kv = dict(x.split("=", 1) for x in sys.stdin.read().split())
phase, rnd, path, size, rate, busy, hz, bg, load = sys.argv[1:10]
sent, rx = int(kv["sent"]), int(kv["received"])
# delivered: counted messages over the sink first-to-last interval;
# offered: what udpgen got the kernel to accept per second
delivered = rx / float(kv["secs"]) if float(kv["secs"]) > 0 else 0
cpu_s = int(busy) / int(hz)
print("\t".join(str(x) for x in (phase, rnd, path, size, rate or 0, sent, kv["errors"], rx,
      "%.0f" % delivered, kv["pps"], "%.3f" % (100.0 * (sent - rx) / sent if sent else 0),
      "%.2f" % cpu_s, "%.3f" % (cpu_s / (rx / 1e6) if rx else 0), bg, load)))
' "$phase" "$round" "$path" "$size" "$rate" $((c1 - c0)) "$HZ" "$BG" "$(cut -d' ' -f1 /proc/loadavg)" \
		>>"$RUNS"
	tail -n1 "$RUNS" | awk -F'\t' '{ printf "# %-2s r%s %-6s %4sB rate=%-8s sent=%-9s rx=%-9s %8s pps  loss %6s%%  %s CPU-s/Mpkt  bg %s\n", $1, $2, $3, $4, $5, $6, $8, $9, $11, $13, $14 }' >&2
	rm -f "$XR_STATE/sink-$tag.log"
}

# ---- phase D helpers: iperf3 over wireguard-go ----------------------------------------
iperf_runs() { # LABEL [-R]
	local label=$1; shift
	local i
	for i in $(seq "$BENCH_B_ROUNDS"); do
		quiet_wait
		nsx "$NS_PUB1" timeout 30 iperf3 -c "$T_PRIV" -t "$BENCH_IPERF_DUR" -O 1 -J "$@" \
			>"$BENCH_OUT/iperf-$label-$i.json" 2>&1
		$PY - "$BENCH_OUT/iperf-$label-$i.json" "$label" "$i" "$BG" <<-'EOF' >>"$BENCH_OUT/iperf.tsv"
		import json, sys
		d = json.load(open(sys.argv[1]))
		e = d.get("end", {})
		rx = e.get("sum_received", {}).get("bits_per_second", 0) / 1e6
		rt = e.get("sum_sent", {}).get("retransmits", 0)
		print("%s\t%s\t%.1f\t%s\t%s" % (sys.argv[2], sys.argv[3], rx, rt, sys.argv[4]))
		EOF
		tail -n1 "$BENCH_OUT/iperf.tsv" | awk -F'\t' '{ printf "# iperf3 %-14s run %s: %s Mbit/s, %s retransmits, bg %s\n", $1, $2, $3, $4, $5 }' >&2
	done
}

# ---- run ---------------------------------------------------------------------------
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel: $(uname -r)"
	echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $NCPU"
	echo "wireguard-go: $(wireguard-go --version 2>&1 | head -n1)"
	echo "socat: $(socat -V 2>/dev/null | awk '/socat version/ { print $3; exit }')"
	echo "iperf3: $(iperf3 --version 2>/dev/null | awk 'NR == 1 { print $2 }')"
	echo "duration: ${BENCH_DUR} s per run, $BENCH_ROUNDS rounds (phase A), $BENCH_B_ROUNDS (phases B, E, iperf3), payloads $BENCH_SIZES B, equal load $BENCH_EQ_RATE pkt/s"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "others' namespaces at start: $(ip netns list | awk '{ print $1 }' | sed -n 's/-.*//p' | sort -u | grep -vx "$XR_PREFIX" | tr '\n' ' ')"
} >"$BENCH_OUT/env.txt"
cat "$BENCH_OUT/env.txt" | sed 's/^/# /' >&2
printf 'phase\tround\tpath\tsize\trate\tsent\terrors\treceived\tdelivered_pps\toffered_pps\tloss_pct\tcpu_s\tcpu_s_per_mpkt\tbg_cpus\tload1\n' >"$RUNS"
printf 'label\trun\tmbit_s\tretransmits\tbg_cpus\n' >"$BENCH_OUT/iperf.tsv"

topo_up
wg_relay_config
relay_start || exit 1
relay_attach || exit 1
CUR_PATH=xdp
T0=$SECONDS

if ! skip A; then
	for r in $(seq "$BENCH_ROUNDS"); do
		use_path xdp || exit 1
		handshake || exit 1
		for p in $BENCH_PATHS; do
			use_path "$p" || exit 1
			for s in $BENCH_SIZES; do measure A "$r" "$p" "$s" "" || exit 1; done
		done
	done
fi

# phase B: 1.5x the DNAT path's median delivered rate, offered to the relay
if ! skip B && ! skip A && [[ " $BENCH_PATHS " == *" dnat "* ]]; then
	declare -A RATE
	for s in $BENCH_SIZES; do
		RATE[$s]=$(awk -F'\t' -v s="$s" '$1 == "A" && $3 == "dnat" && $4 == s { print $9 }' "$RUNS" |
			sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.0f", 1.5 * m }')
		log "phase B, ${s}B: offered rate 1.5 x DNAT median = ${RATE[$s]} pps"
	done
	for r in $(seq "$BENCH_B_ROUNDS"); do
		use_path xdp || exit 1
		handshake || exit 1
		for p in xdp dnat direct; do
			use_path "$p" || exit 1
			for s in $BENCH_SIZES; do measure B "$r" "$p" "$s" "${RATE[$s]}" || exit 1; done
		done
	done
fi
# phase E: every path at the same modest rate, to compare what each costs
# per packet when none is saturated
if ! skip E; then
	for r in $(seq "$BENCH_B_ROUNDS"); do
		use_path xdp || exit 1
		handshake || exit 1
		for p in $BENCH_PATHS; do
			use_path "$p" || exit 1
			for s in $BENCH_SIZES; do measure E "$r" "$p" "$s" "$BENCH_EQ_RATE" || exit 1; done
		done
	done
fi
use_path xdp || exit 1

# phase C: per-packet cost, BPF_PROG_TEST_RUN; then the same program's
# run time in the live path (BPF_ENABLE_STATS while udpgen blasts 64-byte
# messages through the relay; not one of the throughput figures above)
if ! skip C; then
	quiet_wait
	"$BENCH_TOOLS/xdp_cost" -k 5 "$BENCH_TOOLS/xdp_drop.bpf.o" >"$BENCH_OUT/xdp_cost.txt" ||
		{ log "xdp_cost failed"; exit 1; }
	sed 's/^/# xdp_cost: /' "$BENCH_OUT/xdp_cost.txt" >&2
	[ -n "$IDX" ] || handshake || exit 1
	prog_id=$(nsx "$NS_RELAY" ip -d link show eth0 | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -n1)
	[ -n "$prog_id" ] || { log "no XDP program on the relay's eth0"; exit 1; }
	quiet_wait
	xr_spawn sink-live "$NS_PRIV" "$BENCH_TOOLS/udpsink" -p $WG_PORT -i "$IDX" -w $((BENCH_DUR + 30))
	live_sink=$XR_LAST_PID
	wait_for 5 grep -q ready "$XR_STATE/sink-live.log" || { log "udpsink did not start"; exit 1; }
	xr_spawn xdp-live - sh -c "sleep 0.5; exec '$BENCH_TOOLS/xdp_cost' -l $prog_id -t $((BENCH_DUR - 1))"
	live_pid=$XR_LAST_PID
	nsx "$NS_PUB1" "$BENCH_TOOLS/udpgen" -d "$RELAY4:$WG_PORT" -s $WG_PORT -i "$IDX" -l 64 \
		-t "$BENCH_DUR" >>"$BENCH_OUT/xdp_cost.txt"
	wait "$live_pid"
	xr_kill "$live_sink" INT
	grep '^live_' "$XR_STATE/xdp-live.log" >>"$BENCH_OUT/xdp_cost.txt" || { log "live run-time sample failed: $(cat "$XR_STATE/xdp-live.log")"; exit 1; }
	grep '^received=' "$XR_STATE/sink-live.log" >>"$BENCH_OUT/xdp_cost.txt"
	grep '^live_' "$BENCH_OUT/xdp_cost.txt" | sed 's/^/# xdp live: /' >&2
fi

# phase D: iperf3 between wireguard-go peers, through the relay and directly
if ! skip D; then
	wg_relay_peers lab
	wait_for 30 ping_ok "$NS_PUB1" "$T_PRIV" 1 || { log "no tunnel through the relay"; exit 1; }
	xr_spawn iperf3-server "$NS_PRIV" iperf3 -s -B "$T_PRIV"
	IPERF_PID=$XR_LAST_PID
	wait_for 5 nsx "$NS_PRIV" sh -c "ss -ltnH 'sport = :5201' | grep -q ." || { log "iperf3 -s did not start"; exit 1; }
	xrctl -j stats >"$BENCH_OUT/stats-iperf-before.json"
	iperf_runs relay-up
	iperf_runs relay-down -R
	xrctl -j stats >"$BENCH_OUT/stats-iperf-after.json"
	$PY - "$BENCH_OUT/stats-iperf-before.json" "$BENCH_OUT/stats-iperf-after.json" <<-'EOF' >>"$BENCH_OUT/env.txt"
	import json, sys
	a, b = (json.load(open(f))["reasons"] for f in sys.argv[1:3])
	d = {k: b[k]["packets"] - a.get(k, {}).get("packets", 0) for k in b}
	print("relay_xdp_tx_relayed=%d" % d.get("tx", 0))
	print("relay_drops_relayed=%d" % sum(v for k, v in d.items() if k.startswith("drop_")))
	print("relay_slowpath_relayed=%d" % d.get("pass_slowpath", 0))
	EOF
	log "relay during the relayed iperf3 runs: $(grep '_relayed=' "$BENCH_OUT/env.txt" | tr '\n' ' ')"
	# the same peers, directly: priv's Endpoint is pub1 (priv opens the NAT
	# mapping with its handshake), pub1 has no Endpoint and learns rtr's mapping
	wg_stop_peers
	wg_up "$NS_PRIV" "$WG_PRIV" $T_PRIV/24 "$(wg_keyfile priv)" $WG_PORT
	wg_up "$NS_PUB1" "$WG_PUB1" $T_PUB1/24 "$(wg_keyfile pub1)" $WG_PORT
	wg_peer "$NS_PRIV" "$WG_PRIV" "$(wg_pub pub1)" $T_PUB1/32 "$PUB1_4:$WG_PORT" 25
	wg_peer "$NS_PUB1" "$WG_PUB1" "$(wg_pub priv)" $T_PRIV/32
	wait_for 30 ping_ok "$NS_PRIV" "$T_PUB1" 1 || { log "no direct tunnel priv -> pub1"; exit 1; }
	ep=$(nsx "$NS_PUB1" wg show "$WG_PUB1" endpoints | awk '{ print $2 }')
	log "direct: pub1 sees priv at $ep"
	echo "direct_endpoint=$ep" >>"$BENCH_OUT/env.txt"
	case $ep in "$RTR_WAN4":*) ;; *) log "pub1's endpoint for priv is not the NAT router"; exit 1 ;; esac
	# the iperf3 server bound to T_PRIV went away with the old interface's address
	xr_kill "$IPERF_PID" TERM
	xr_spawn iperf3-server2 "$NS_PRIV" iperf3 -s -B "$T_PRIV"
	wait_for 5 nsx "$NS_PRIV" sh -c "ss -ltnH 'sport = :5201' | grep -q ." || { log "iperf3 -s did not start"; exit 1; }
	tx0=$(stats_get reasons.tx.packets)
	iperf_runs direct-up
	iperf_runs direct-down -R
	tx1=$(stats_get reasons.tx.packets)
	echo "relay_xdp_tx_direct=$((tx1 - tx0))" >>"$BENCH_OUT/env.txt"
fi
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_OUT/env.txt"
echo "elapsed: $((SECONDS - T0)) s after topology up" >>"$BENCH_OUT/env.txt"

$PY "$BENCH_DIR/summary.py" "$BENCH_OUT" >"$SUMMARY" || { log "summary failed"; exit 1; }
cat "$SUMMARY"
log "results in $BENCH_OUT"
