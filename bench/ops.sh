#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# ops.sh - what operating xrelayd costs at rest: the metrics endpoint and the
# once-a-second walk of the WireGuard sessions map, for the current build and
# for an older commit side by side, in the namespace topology of
# scripts/lib/netns.sh (only the relay namespace is used).
#
# xrelayd runs with N_TENANTS tenants (each one hostname, one agent identity,
# one WireGuard key and peer; no agent connects), control and public TLS
# listeners, wireguard.listen, admin.metrics on 127.0.0.1:9470; XDP is not
# attached (the sweep and the metrics read the pinned maps either way).
# Per round and variant (rounds interleave the variants):
#   0 sessions        idle CPU over IDLE_S s; then SCRAPES scrapes of /metrics
#                     (bench/ops/scrape.py, a new connection each, SCRAPE_GAP_MS
#                     apart: they hit every phase of the once-a-second work)
#   SESSIONS sessions bench/ops/fill_sessions.py puts SESSIONS entries into
#                     the pinned xr_sessions (live tenants, created now, so
#                     the sweep keeps them for 210 s); the metrics page must
#                     show them; then the same idle and scrape measurements
# Variants: "new" = build/ (copied at the start), "old" = OLD_REV (default
# f1dad3b, before "Read xr_sessions in batches"), built in a git worktree
# under /tmp that is removed again once its binaries are copied.  Each
# variant has its own pin root (fresh maps every round).
#
# CPU = utime+stime of xrelayd (all threads) from /proc/PID/stat; per scrape
# "raw" = CPU over the scrape phase / SCRAPES, "net" = the same minus the
# idle rate measured just before (the scrape's own cost).  Latency = the
# client's, from connect to the last byte.
#
# Knobs: ROUNDS=3 N_TENANTS=100 SESSIONS=60000 SCRAPES=300 SCRAPE_GAP_MS=20 IDLE_S=10
#   VARIANTS="new old" OLD_REV=f1dad3b OPS_OUT=build/bench/ops-results-<date>
#   XR_PREFIX=xbo WAIT_OTHERS=600
# Results: $OPS_OUT/{env.txt,runs.tsv,summary.md}, logs/.  Everything it
# starts is torn down on exit (netns.sh's trap), the worktree too.
set -u
BENCH_DIR=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OPS_OUT=${OPS_OUT:-$ROOT/build/bench/ops-results-$STAMP}
ROUNDS=${ROUNDS:-3}
N_TENANTS=${N_TENANTS:-100}
SESSIONS=${SESSIONS:-60000}
SCRAPES=${SCRAPES:-300}
SCRAPE_GAP_MS=${SCRAPE_GAP_MS:-20}
IDLE_S=${IDLE_S:-10}
VARIANTS=${VARIANTS:-new old}
OLD_REV=${OLD_REV:-f1dad3b}
WAIT_OTHERS=${WAIT_OTHERS:-600}
METRICS=127.0.0.1:9470
HZ=$(getconf CLK_TCK)

[ "$(id -u)" = 0 ] || { echo "ops.sh: must run as root" >&2; exit 2; }
log() { printf '# [%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

mkdir -p "$OPS_OUT/logs"
# ---- binaries: build/ now, and OLD_REV from a worktree ---------------------------------
OLD_TREE=
rm_tree() {
	[ -n "$OLD_TREE" ] && [ -d "$OLD_TREE" ] && git -C "$ROOT" worktree remove --force "$OLD_TREE"
	OLD_TREE=
}
for v in $VARIANTS; do
	mkdir -p "$OPS_OUT/bin/$v"
	case $v in
	new)
		for b in xrelayd xrelayctl; do
			[ -x "$ROOT/build/$b" ] || die "build/$b missing: make"
			cp "$ROOT/build/$b" "$OPS_OUT/bin/new/$b"
		done
		NEW_DESC="build/ (HEAD $(git -C "$ROOT" rev-parse --short HEAD), xrelayd built $(date -u -r "$ROOT/build/xrelayd" '+%H:%M UTC'))" ;;
	old)
		OLD_TREE=/tmp/xr-old-$$
		trap 'rm_tree' EXIT
		log "building $OLD_REV in $OLD_TREE"
		git -C "$ROOT" worktree add --detach "$OLD_TREE" "$OLD_REV" >"$OPS_OUT/logs/old-build.log" 2>&1 ||
			die "git worktree add failed: $(tail -n2 "$OPS_OUT/logs/old-build.log")"
		# .config is not tracked: the same options as this tree
		[ -f "$ROOT/.config" ] && cp "$ROOT/.config" "$OLD_TREE/.config"
		make -C "$OLD_TREE" -j"$(nproc)" >>"$OPS_OUT/logs/old-build.log" 2>&1 ||
			die "building $OLD_REV failed: $(tail -n5 "$OPS_OUT/logs/old-build.log")"
		for b in xrelayd xrelayctl; do cp "$OLD_TREE/build/$b" "$OPS_OUT/bin/old/$b"; done
		OLD_DESC="$(git -C "$ROOT" log -1 --format='%h %s' "$OLD_REV")"
		rm_tree
		trap - EXIT ;;
	*) die "unknown variant $v (new, old)" ;;
	esac
done

export XR_PREFIX=${XR_PREFIX:-xbo}
export XRELAYD=$OPS_OUT/bin/new/xrelayd XRELAYCTL=$OPS_OUT/bin/new/xrelayctl
. "$ROOT/scripts/lib/tls.sh"

# others' runs of the topology, `make test`, the other benches: wait for
# them (at most WAIT_OTHERS s)
BENCH_OTHERS='tls|run|failover'
. "$ROOT/bench/lib/quiet.sh"
bench_refuse_twin
bench_wait_quiet

RUNS_TSV=$OPS_OUT/runs.tsv
ticks() { # PID : utime+stime, all threads
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	# shellcheck disable=SC2086 # split into the stat fields on purpose
	set -- $s
	echo $(( ${12} + ${13} ))
}
metric() { # NAME_WITH_LABELS : its value on the page
	nsx "$NS_RELAY" curl -s --max-time 5 "http://$METRICS/metrics" | awk -v m="$1" '$1 == m { print $2; exit }'
}
sessions_shown() { [ "$(metric 'xrelay_bpf_map_entries{map="xr_sessions"}')" = "$1" ]; }

# config VARIANT : relay.yaml with N_TENANTS tenants, pin root of the variant
config() {
	local i blocks=()
	for i in $(seq "$N_TENANTS"); do
		blocks+=("$(tls_tenant "t$i" "a$i" "h$i.example.test" "wireguard:" \
			"  - pubkey: \"$(wg_pub "w$i")\"" "    peers: [\"$(wg_pub "p$i")\"]")")
	done
	tls_relay_config "${blocks[@]}"
	cat >>"$XR_RELAY_CONF" <<-EOF
	wireguard:
	  listen: ["$RELAY4:$WG_PORT"]
	EOF
	sed -i "s|^admin:|&\n  metrics: $METRICS|" "$XR_RELAY_CONF"
}

# measure VARIANT ROUND NSESS : idle CPU, then the scrapes
measure() {
	local v=$1 r=$2 n=$3 c0 c1 t0 t1 res idle_ms net raw
	sleep 2
	c0=$(ticks "$XR_RELAYD_PID"); t0=$(ms_now)
	sleep "$IDLE_S"
	c1=$(ticks "$XR_RELAYD_PID"); t1=$(ms_now)
	idle_ms=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v w=$((t1 - t0)) 'BEGIN { printf "%.2f", d * 1000 / hz / (w / 1000) }')
	c0=$(ticks "$XR_RELAYD_PID"); t0=$(ms_now)
	res=$(nsx "$NS_RELAY" timeout $((SCRAPES * 5 + 30)) "$XR_PY" "$BENCH_DIR/ops/scrape.py" "$METRICS" "$SCRAPES" "$SCRAPE_GAP_MS")
	c1=$(ticks "$XR_RELAYD_PID"); t1=$(ms_now)
	raw=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v n="$SCRAPES" 'BEGIN { printf "%.3f", d * 1000 / hz / n }')
	net=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v n="$SCRAPES" -v i="$idle_ms" -v w=$((t1 - t0)) \
		'BEGIN { x = (d * 1000 / hz - i * w / 1000) / n; printf "%.3f", x < 0 ? 0 : x }')
	local shown
	shown=$(metric 'xrelay_bpf_map_entries{map="xr_sessions"}')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "$n" "$idle_ms" "$raw" "$net" \
		"${res#RESULT }" "${shown:-?}" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RUNS_TSV"
	log "$v r$r $n sessions: idle $idle_ms CPU-ms/s; scrapes ${res#RESULT }; CPU per scrape $raw ms raw, $net ms net; map shows ${shown:-?}"
}

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "new: ${NEW_DESC:-not measured}"
	echo "old: ${OLD_DESC:-not measured}"
	echo "kernel: $(uname -r)"
	echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc)"
	echo "parameters: ROUNDS=$ROUNDS N_TENANTS=$N_TENANTS SESSIONS=$SESSIONS SCRAPES=$SCRAPES SCRAPE_GAP_MS=$SCRAPE_GAP_MS IDLE_S=$IDLE_S VARIANTS=\"$VARIANTS\""
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "others busy at start: ${BUSY_AT_START:-none}${BUSY_AT_START:+ (waited $waited s)}"
} >"$OPS_OUT/env.txt"
sed 's/^/# /' "$OPS_OUT/env.txt" >&2
printf 'variant\tround\tsessions\tidle_cpu_ms_per_s\tcpu_ms_per_scrape_raw\tcpu_ms_per_scrape_net\tscrape\tmap_entries_shown\tload1\n' >"$RUNS_TSV"

save_logs() {
	local f
	for f in "$XR_STATE"/*.log "$XR_RELAY_CONF"; do
		[ -f "$f" ] && tail -c 2000000 "$f" >"$OPS_OUT/logs/${f##*/}"
	done
	return 0
}
tls_topo_up
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; save_logs; (exit $rc); topo_down' EXIT
for i in $(seq "$N_TENANTS"); do
	tls_agent_key "a$i"; wg_key "w$i"; wg_key "p$i"
done
T0=$SECONDS
for r in $(seq "$ROUNDS"); do
	for v in $VARIANTS; do
		XRELAYD=$OPS_OUT/bin/$v/xrelayd XRELAYCTL=$OPS_OUT/bin/$v/xrelayctl
		XR_PIN=$XR_STATE/bpf/$v
		rm -rf "$XR_PIN"   # fresh maps (no xrelayd of ours runs now)
		config "$v"
		tls_relay_up || die "$v: xrelayd did not come up"
		wait_for 10 sessions_shown 0 || die "$v: metrics page does not show xr_sessions = 0"
		measure "$v" "$r" 0
		"$XR_PY" "$BENCH_DIR/ops/fill_sessions.py" "$(xr_pin_path xr_sessions)" "$SESSIONS" "1-$N_TENANTS" >/dev/null ||
			die "$v: filling xr_sessions failed"
		# the sweep keeps them only if the tenant ids are live ones
		wait_for 5 sessions_shown "$SESSIONS" ||
			die "$v: metrics page shows $(metric 'xrelay_bpf_map_entries{map="xr_sessions"}') sessions, want $SESSIONS"
		measure "$v" "$r" "$SESSIONS"
		relay_kill TERM
	done
done
log "measured in $((SECONDS - T0)) s"
trap - EXIT
save_logs
topo_down
"$XR_PY" "$BENCH_DIR/ops/summary.py" "$OPS_OUT" >"$OPS_OUT/summary.md" || die "summary.py failed"
cat "$OPS_OUT/summary.md"
log "results: $OPS_OUT"
