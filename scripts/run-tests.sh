#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run-tests.sh [unit|bpf|e2e|all] [E2E_NAME...] - run xrelay's tests.
#
#   unit  build/tests/unit_tests   (CUnit; counted from its run summary)
#   bpf   build/tests/bpf_tests    (CUnit, packet fixtures through BPF_PROG_TEST_RUN)
#   e2e   every tests/e2e/*.sh, or only the named ones, each under `timeout 300`;
#         each prints "ok - NAME" / "not ok - NAME" lines, counted here
#
# Prints a line per test, then "<suite>: N passed, N failed" per suite and
# finally "all: N passed, N failed".  Exits 1 when anything failed, 2 on
# usage errors.  Logs go to build/test-logs/.  Needs root (namespaces, BPF).
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BUILD=${XR_BUILD:-$ROOT/build}
LOGS=$BUILD/test-logs
E2E_TIMEOUT=${E2E_TIMEOUT:-300}

usage() { echo "usage: $0 [unit|bpf|e2e|all] [E2E_NAME...]" >&2; exit 2; }
what=${1:-all}
case $what in unit|bpf|e2e|all) ;; -h|--help) usage ;; *) usage ;; esac
[ $# -gt 0 ] && shift

if [ "$(id -u)" != 0 ]; then
	echo "run-tests.sh: must run as root (network namespaces, XDP, BPF maps); try: sudo $0 $what" >&2
	exit 2
fi
mkdir -p "$LOGS"

ALL_PASS=0 ALL_FAIL=0
suite_end() { # NAME PASS FAIL
	echo "$1: $2 passed, $3 failed"
	ALL_PASS=$((ALL_PASS + $2)); ALL_FAIL=$((ALL_FAIL + $3))
}

# run_cunit SUITE BINARY : one CUnit binary, counted from its "tests" summary row
run_cunit() {
	local suite=$1 bin=$2 log=$LOGS/$1.log rc p f
	if [ ! -x "$bin" ]; then
		echo "not ok - $suite: $bin not built (make test-build)"
		suite_end "$suite" 0 1
		return
	fi
	echo "# $suite: $bin (log: $log)"
	timeout -k 10 "$E2E_TIMEOUT" "$bin" >"$log" 2>&1
	rc=$?
	# CUnit (normal mode) names each failed test, then its assertions:
	#   Suite wgstate, Test two tenants had failures:
	#       1. tests/unit/test_wgstate.c:678  - CU_ASSERT...
	awk -v s="$suite" '
		/^Suite .*, Test .* had failures:$/ {
			sub(/^Suite /, ""); sub(/ had failures:$/, ""); sub(/, Test /, "/")
			print "not ok - " s ": " $0; n = 0; next }
		/^ +[0-9]+\. .*:[0-9]+ / { if (++n <= 3) print "#  " $0; else if (n == 4) print "#      ..." }
	' "$log"
	read -r p f < <(awk '$1 == "tests" && NF >= 6 { print $4, $5 }' "$log" | tail -n1)
	if [[ ! ${p:-} =~ ^[0-9]+$ ]] || [[ ! ${f:-} =~ ^[0-9]+$ ]]; then
		# no CUnit summary: judge the binary as one test
		if [ $rc = 0 ]; then p=1 f=0; else p=0 f=1; fi
	fi
	if [ "$f" != 0 ]; then
		echo "# $suite: $f of $((p + f)) tests failed (exit $rc)"
	elif [ $rc != 0 ]; then
		echo "not ok - $suite: $bin exited $rc$( [ $rc = 124 ] && echo " (killed after $E2E_TIMEOUT s)")"
		tail -n 10 "$log" | sed 's/^/#   /'
		f=1
	else
		echo "ok - $suite: $p tests"
	fi
	suite_end "$suite" "$p" "$f"
}

run_e2e() {
	local files=() f name log rc p f_ n line
	if [ $# -gt 0 ]; then
		for n in "$@"; do files+=("$ROOT/tests/e2e/${n%.sh}.sh"); done
	else
		files=("$ROOT"/tests/e2e/*.sh)
	fi
	local pass=0 fail=0
	for f in "${files[@]}"; do
		name=$(basename "$f" .sh)
		log=$LOGS/e2e-$name.log
		if [ ! -f "$f" ]; then
			echo "not ok - $name: no such test"; fail=$((fail + 1)); continue
		fi
		echo "# e2e: $name (log: $log)"
		p=0 f_=0 rc=
		# stdout and stderr both streamed; ok/not ok lines are counted
		while IFS= read -r line; do
			case $line in
			"ok - "*) p=$((p + 1)); echo "ok - $name: ${line#ok - }" ;;
			"not ok - "*) f_=$((f_ + 1)); echo "not ok - $name: ${line#not ok - }" ;;
			__rc=*) rc=${line#__rc=} ;;
			*) echo "$line" ;;
			esac
		done < <(timeout -k 15 "$E2E_TIMEOUT" bash "$f" 2>&1 | tee "$log"; echo "__rc=${PIPESTATUS[0]}")
		if [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ -z "$rc" ]; then
			echo "not ok - $name: killed after ${E2E_TIMEOUT} s"; f_=$((f_ + 1))
		elif [ "$rc" != 0 ] && [ $f_ = 0 ]; then
			echo "not ok - $name: exited $rc"; f_=$((f_ + 1))
		elif [ "$rc" = 0 ] && [ $p = 0 ]; then
			echo "not ok - $name: ran no test"; f_=$((f_ + 1))
		fi
		pass=$((pass + p)); fail=$((fail + f_))
	done
	suite_end e2e $pass $fail
}

case $what in
unit) run_cunit unit "$BUILD/tests/unit_tests" ;;
bpf)  run_cunit bpf "$BUILD/tests/bpf_tests" ;;
e2e)  run_e2e "$@" ;;
all)
	run_cunit unit "$BUILD/tests/unit_tests"
	run_cunit bpf "$BUILD/tests/bpf_tests"
	run_e2e "$@" ;;
esac

echo "all: $ALL_PASS passed, $ALL_FAIL failed"
[ "$ALL_FAIL" = 0 ]
