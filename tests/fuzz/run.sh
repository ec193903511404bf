#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/fuzz/run.sh [SECONDS] [NAME...] - build each libFuzzer target
# tests/fuzz/fuzz_NAME.c with clang (-fsanitize=fuzzer,address,undefined)
# and run it for a fixed time from its seed corpus tests/fuzz/corpus_NAME/.
#
#   clienthello  user/lib/clienthello.c                    default 20 s
#   proto        user/lib/proto.c (+ config.c for names)   default 15 s
#
# SECONDS, when given (and not "-"), is the time for every target; NAMEs
# pick targets (default: all, in the order above).  New inputs go to a
# temporary directory, so the checked-in seeds never change; a crash input
# is kept as build/fuzz/NAME-crash-*.  Prints per target
# "ok - fuzz NAME (N runs)" or "not ok - fuzz NAME: ...", and exits 1 if
# any target failed.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
BUILD=${XR_BUILD:-$ROOT/build}
OUT=$BUILD/fuzz
SECS=${1:--}
[ $# -gt 0 ] && shift
CLANG=${CLANG:-clang}

ALL=(clienthello proto)
declare -A DEF_SECS=([clienthello]=20 [proto]=15)
declare -A SRCS=(
	[clienthello]="user/lib/clienthello.c"
	# proto.c checks host names with config.c's xr_parse_hostname, which
	# drags in the rest of the config loader's objects and libraries
	[proto]="user/lib/proto.c user/lib/config.c user/lib/health.c user/lib/identity.c user/lib/wg.c user/lib/log.c"
)
declare -A LIBS=([clienthello]="" [proto]="-lyaml -lcrypto -lbpf")

if [ "$SECS" != - ] && [[ ! $SECS =~ ^[0-9]+$ ]]; then
	echo "usage: $0 [SECONDS|-] [${ALL[*]}]" >&2
	exit 2
fi
targets=("$@")
[ ${#targets[@]} = 0 ] && targets=("${ALL[@]}")
for t in "${targets[@]}"; do
	if [ -z "${DEF_SECS[$t]+x}" ]; then
		echo "$0: unknown fuzz target '$t' (have: ${ALL[*]})" >&2
		exit 2
	fi
done

mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT" || exit 1
# config.c (proto) includes the Kconfig header: generate it if need be
if [ ! -f "$BUILD/include/generated/autoconf.h" ] &&
   ! make -s BUILD="$BUILD" "$BUILD/include/generated/autoconf.h" >"$OUT/autoconf.log" 2>&1; then
	sed 's/^/# /' "$OUT/autoconf.log" | tail -n 5
fi

# fuzz_one NAME SECONDS
fuzz_one() {
	local name=$1 secs=$2 bin=$OUT/fuzz_$1 blog=$OUT/build-$1.log flog=$OUT/fuzz-$1.log
	local corpus=$TMP/$1 rc runs
	# shellcheck disable=SC2086 # SRCS/LIBS are word lists
	if ! "$CLANG" -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iinclude -I"$BUILD/include" -Iuser/lib \
		-o "$bin" "tests/fuzz/fuzz_$name.c" ${SRCS[$name]} ${LIBS[$name]} \
		>"$blog" 2>&1; then
		sed 's/^/# /' "$blog" | tail -n 20
		echo "not ok - fuzz $name: build failed"
		return 1
	fi
	mkdir -p "$corpus"
	cp "tests/fuzz/corpus_$name"/* "$corpus/" 2>/dev/null
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
		-max_len=17000 -artifact_prefix="$OUT/$name-" -print_final_stats=1 "$corpus" \
		>"$flog" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p; s/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' "$flog" | tail -n1)
	if [ $rc = 0 ] && [ -n "$runs" ]; then
		echo "ok - fuzz $name ($runs runs)"
	else
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$flog" | head -n 10 | sed 's/^/# /'
		echo "not ok - fuzz $name: fuzzer exited $rc (log: $flog)"
		return 1
	fi
}

failed=0
for t in "${targets[@]}"; do
	s=$SECS
	[ "$s" = - ] && s=${DEF_SECS[$t]}
	fuzz_one "$t" "$s" || failed=1
done
exit $failed
