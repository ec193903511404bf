# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# quiet.sh - shared by bench/failover.sh and bench/ops.sh (source it after
# scripts/lib/tls.sh, with log/die defined and BENCH_OTHERS set to the other
# bench scripts to wait for, as an ERE like "tls|run|ops"):
#   bench_refuse_twin   a live run with this XR_PREFIX: die
#   bench_busy_with     names of other live runs (topology owners, make
#                       test, the other benches), space-separated
#   bench_wait_quiet    wait for them up to WAIT_OTHERS s; sets waited and
#                       BUSY_AT_START (what was still busy when measuring began)

bench_refuse_twin() {
	local opid ost
	[ -f "$XR_STATE/owner" ] || return 0
	read -r opid ost <"$XR_STATE/owner"
	xr_alive "$opid" "$ost" && die "a run with prefix $XR_PREFIX is active (pid $opid); set XR_PREFIX"
	return 0
}

bench_busy_with() {
	local d opid ost
	for d in "$XR_STATE_BASE"/*/; do
		d=${d%/}
		if [ ! -f "$d/owner" ] || [ "$d" = "$XR_STATE" ]; then continue; fi
		read -r opid ost <"$d/owner"
		xr_alive "$opid" "$ost" && printf '%s ' "${d##*/}"
	done
	pgrep -f "run-tests.sh|bench/($BENCH_OTHERS)\\.sh" >/dev/null && printf 'run-tests/bench '
	return 0
}

bench_wait_quiet() {
	waited=0
	while [ -n "$(bench_busy_with)" ] && [ "$waited" -lt "$WAIT_OTHERS" ]; do
		[ "$waited" = 0 ] && log "others busy ($(bench_busy_with)): waiting up to $WAIT_OTHERS s"
		sleep 5; waited=$((waited + 5))
	done
	BUSY_AT_START=$(bench_busy_with)
	[ -n "$BUSY_AT_START" ] && log "others still busy ($BUSY_AT_START): measuring anyway"
	return 0
}
