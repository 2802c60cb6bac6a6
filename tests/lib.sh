# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # $logs and $start are the caller's
#
# tests/lib.sh - the step helpers shared by tests/check and tests/check-debug
# (sourced, not run). The caller works in the project's root directory, sets
# $logs (a directory for the STEP.log files), truncates $logs/results.tsv
# and starts with passed=0 failed=0 skipped=0 failed_steps=() start=$SECONDS.
# Each helper runs one step, writes its output to $logs/NAME.log, prints a
# PASS/FAIL line (with the log's tail on failure) and adds to the counts;
# summary prints the closing lines, "N passed, N failed, N skipped" last,
# and fails if anything failed. Steps with tests of their own are counted
# from the runners' reports (GoogleTest's JSON, ctest's JUnit, TAP), each
# test once, and a step whose runner ran fewer tests than it lists fails.

# kernel_label RELEASE: the short name steps carry, "6.12.117" for
# 6.12.117+deb12-amd64, "6.1.0-57" for 6.1.0-57-amd64 (flavours other than
# the generic one keep theirs: "6.1.0-57-rt").
kernel_label() {
	sed -E 's/\+deb1[0-9]+//; s/-amd64$//' <<<"$1"
}

# The device suite again with other module parameters: without the tests
# that load parameters of their own whatever the harness passed (the DMA
# tests, the refused loads) or that would only repeat the run with the
# defaults (the tracepoints). repeat_filter_dma keeps the DMA tests.
repeat_skip='*CircbufParamRefused*:*CircbufLoadRefused*:CircbufObserveTrace*:CircbufRings*'
repeat_filter="-CircbufDma*:$repeat_skip"
repeat_filter_dma="-$repeat_skip"

# report NAME STATUS PASSED FAILED SECONDS [SKIPPED]: also one line of
# $logs/results.tsv (name, PASS or FAIL, passed, failed, seconds, skipped),
# which scripts/supported-kernels reads.
report() {
	local name=$1 status=$2 np=$3 nf=$4 secs=$5 ns=${6:-0} what= verdict=PASS
	passed=$((passed + np))
	failed=$((failed + nf))
	skipped=$((skipped + ns))
	if [ $((np + nf + ns)) -gt 1 ]; then
		what=" ($np passed, $nf failed"
		[ "$ns" = 0 ] || what+=", $ns skipped"
		what+=")"
	fi
	[ "$status" = 0 ] && [ "$nf" = 0 ] || verdict=FAIL
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$verdict" "$np" "$nf" "$secs" "$ns" >> "$logs/results.tsv"
	if [ "$verdict" = PASS ]; then
		printf 'PASS  %-40s %4ss%s\n' "$name" "$secs" "$what"
	else
		printf 'FAIL  %-40s %4ss%s  log: %s\n' "$name" "$secs" "$what" "$logs/$name.log"
		failed_steps+=("$name")
		excerpt "$logs/$name.log" | sed 's/^/      | /'
	fi
}

# excerpt LOG: what a failed step's line shows of its log. Where
# tests/vm/run showed a kernel report, its first 30 lines (the report's
# headline and call trace, which the panic's register dumps would push out
# of the end) and the last 5; else the last 25 lines.
excerpt() {
	local at
	at=$(grep -anm1 '^---- kernel log (' "$1" | cut -d: -f1)
	if [ -n "$at" ]; then
		sed -n "$at,$((at + 29))p" "$1"
		echo "[...]"
		tail -n 5 "$1"
	else
		tail -n 25 "$1"
	fi
}

# step NAME CMD...: one check, passes when CMD exits 0.
step() {
	local name=$1 t0=$SECONDS status=0
	shift
	"$@" > "$logs/$name.log" 2>&1 || status=$?
	if [ "$status" = 0 ]; then
		report "$name" 0 1 0 $((SECONDS - t0))
	else
		report "$name" "$status" 0 1 $((SECONDS - t0))
	fi
	return "$status"
}

# counted NAME STATUS T0 WANT PASSED FAILED SKIPPED: report a step whose
# runner listed WANT tests (empty: unknown) and reported the other counts
# (all empty: it wrote no report). No report, fewer tests than listed, or
# a failed run without a failed test (a crash, a kernel report, a
# timeout) each add one failure, said at the end of the step's log.
counted() {
	local name=$1 status=$2 t0=$3 want=$4 np=${5:-0} nf=${6:-0} ns=${7:-0} why=
	if [ -z "$5$6$7" ]; then
		why="wrote no test report"
	elif [ -n "$want" ] && [ $((np + nf + ns)) != "$want" ]; then
		why="ran $((np + nf + ns)) of the $want tests it lists"
	elif [ "$status" != 0 ] && [ "$nf" = 0 ]; then
		why="exited with status $status and no failed test"
	elif [ $((np + nf + ns)) = 0 ]; then
		why="ran no test"
	fi
	if [ -n "$why" ]; then
		echo "---- $name: $why" >> "$logs/$name.log"
		nf=$((nf + 1))
	fi
	report "$name" "$status" "$np" "$nf" $((SECONDS - t0)) "$ns"
}

# gtest NAME CMD...: a GoogleTest program, counted from its JSON report
# (CMD gets --gtest_output=json:FILE). The program is CMD, or what follows
# CMD's last "--" (tests/vm/run's COMMAND); it lists the tests its filter
# selects on the host first, which the run must all report.
gtest() {
	local name=$1 t0=$SECONDS status=0 want i
	shift
	local json=$logs/$name.json list=$logs/$name.list.json
	rm -f "$json" "$list"
	for ((i = $#; i > 0; i--)); do
		[ "${!i}" != -- ] || break
	done
	"${@:i+1}" --gtest_list_tests --gtest_output="json:$list" > /dev/null 2>&1
	want=$(jq '[.testsuites[].testsuite[] | select(.name | startswith("DISABLED_") | not)]
		| length' "$list" 2>/dev/null)
	"$@" --gtest_output="json:$json" > "$logs/$name.log" 2>&1 || status=$?
	# shellcheck disable=SC2046 # three numbers, or none
	counted "$name" "$status" "$t0" "$want" $(jq -r '[.testsuites[].testsuite[]
		| select(.status == "RUN")] | [(map(select(.failures == null
		and .result != "SKIPPED")) | length), (map(select(.failures != null))
		| length), (map(select(.failures == null and .result == "SKIPPED"))
		| length)] | @tsv' "$json" 2>/dev/null)
}

# ctest_step NAME DIR: the tests ctest knows in build directory DIR,
# counted from its JUnit report; it must report every test it lists.
ctest_step() {
	local name=$1 dir=$2 t0=$SECONDS status=0 want
	local xml=$logs/$name.xml
	rm -f "$xml"
	want=$(ctest --test-dir "$dir" --show-only=json-v1 2>/dev/null | jq '.tests | length')
	ctest --test-dir "$dir" --output-on-failure --output-junit "$xml" -j"$(nproc)" \
		> "$logs/$name.log" 2>&1 || status=$?
	# shellcheck disable=SC2046 # three numbers, or none
	counted "$name" "$status" "$t0" "$want" $(junit_counts "$xml")
}

# junit_counts XML: "PASSED FAILED SKIPPED" of a ctest JUnit report, or
# nothing if there is none. ctest marks each <testcase> with status "run",
# "fail", "notrun" or "disabled"; skipped ones also carry a <skipped/>.
junit_counts() {
	[ -s "$1" ] || return 0
	local n
	for n in 'run' 'fail'; do
		xmllint --xpath "count(//testcase[@status='$n' and not(skipped)])" "$1" || return 0
		printf ' '
	done
	xmllint --xpath 'count(//testcase[skipped or @status="notrun" or @status="disabled"])' "$1"
}

# tap NAME CMD...: a TAP producer, counted test by test: "ok N ... # SKIP"
# is a skipped test, and the run must reach its plan ("1..N").
tap() {
	local name=$1 t0=$SECONDS status=0 want np nf ns
	shift
	"$@" > "$logs/$name.log" 2>&1 || status=$?
	want=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$logs/$name.log" | tail -n 1)
	ns=$(grep -ciE '^ok .*# *skip' "$logs/$name.log")
	np=$(($(grep -cE '^ok ' "$logs/$name.log") - ns))
	nf=$(grep -cE '^not ok ' "$logs/$name.log")
	if [ -z "$want" ]; then
		echo "---- $name: printed no TAP plan (1..N)" >> "$logs/$name.log"
		nf=$((nf + 1))
	fi
	counted "$name" "$status" "$t0" "$want" "$np" "$nf" "$ns"
}

# module_build TARGET [VAR=VALUE...]: "make TARGET" (module, debug-module),
# which builds at W=1; warnings are errors, so it must print none.
module_build() {
	local out status=0
	out=$(make -s "$@" 2>&1) || status=$?
	printf '%s\n' "$out"
	[ "$status" = 0 ] || return "$status"
	! grep -E 'warning:' <<<"$out"
}

# echo_cat VM_RUN...: the seed's example, in a VM started by VM_RUN... (a
# tests/vm/run command line): data written by one open comes back on the next.
echo_cat() {
	"$@" --param buffer_size=1000 -- bash -c '
		echo hello > /dev/circbuf
		got=$(cat /dev/circbuf)
		echo "cat printed: $got"
		[ "$got" = hello ]'
}

# summary WHAT: the closing lines; returns non-zero if anything failed.
summary() {
	echo
	if [ ${#failed_steps[@]} -gt 0 ]; then
		echo "failed steps: ${failed_steps[*]}"
	fi
	echo "$1 took $((SECONDS - start))s"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}
