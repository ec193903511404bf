#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/fuzz/run.sh [SECONDS] - build the ClientHello libFuzzer target with
# clang (-fsanitize=fuzzer,address,undefined) and run it for a fixed time
# (default 20 s) from the seed corpus tests/fuzz/corpus_clienthello/.  New
# inputs go to a temporary directory, so the checked-in seeds never change;
# a crash input is kept as build/fuzz/crash-*.  Prints
# "ok - fuzz clienthello (N runs)" or "not ok - fuzz clienthello: ...".
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
OUT=${XR_BUILD:-$ROOT/build}/fuzz
SECS=${1:-20}
CLANG=${CLANG:-clang}
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cd "$ROOT" || exit 1
if ! "$CLANG" -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Iinclude -Ibuild/include -Iuser/lib \
	-o "$OUT/fuzz_clienthello" tests/fuzz/fuzz_clienthello.c user/lib/clienthello.c \
	>"$OUT/build.log" 2>&1; then
	sed 's/^/# /' "$OUT/build.log" | tail -n 20
	echo "not ok - fuzz clienthello: build failed"
	exit 1
fi
cp tests/fuzz/corpus_clienthello/* "$TMP/" 2>/dev/null
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	"$OUT/fuzz_clienthello" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=1024 \
	-max_len=17000 -artifact_prefix="$OUT/" -print_final_stats=1 "$TMP" >"$OUT/fuzz.log" 2>&1
rc=$?
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p; s/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' "$OUT/fuzz.log" | tail -n1)
if [ $rc = 0 ] && [ -n "$runs" ]; then
	echo "ok - fuzz clienthello ($runs runs)"
else
	grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$OUT/fuzz.log" | head -n 10 | sed 's/^/# /'
	echo "not ok - fuzz clienthello: fuzzer exited $rc (log: $OUT/fuzz.log)"
	exit 1
fi
