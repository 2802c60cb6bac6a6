# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # $logs and $start are the caller's
#
# tests/lib.sh - the step helpers shared by tests/check and tests/check-debug
# (sourced, not run). The caller works in the project's root directory, sets
# $logs (a directory for the STEP.log files), truncates $logs/results.tsv
# and starts with passed=0 failed=0 failed_steps=() start=$SECONDS. Each
# helper runs one step, writes its output to $logs/NAME.log, prints a
# PASS/FAIL line (with the log's tail on failure) and adds to the counts;
# summary prints the closing lines,
# "N passed, N failed" last, and fails if anything failed.

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
repeat_skip='*CircbufParamRefused*:*CircbufLoadRefused*:CircbufObserveTrace*'
repeat_filter="-CircbufDma*:$repeat_skip"
repeat_filter_dma="-$repeat_skip"

# report NAME STATUS PASSED FAILED SECONDS: also one line of
# $logs/results.tsv (name, PASS or FAIL, passed, failed, seconds), which
# scripts/supported-kernels reads.
report() {
	local name=$1 status=$2 np=$3 nf=$4 secs=$5 what= verdict=PASS
	passed=$((passed + np))
	failed=$((failed + nf))
	[ $((np + nf)) -le 1 ] || what=" ($np passed, $nf failed)"
	[ "$status" = 0 ] && [ "$nf" = 0 ] || verdict=FAIL
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$verdict" "$np" "$nf" "$secs" >> "$logs/results.tsv"
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

# gtest NAME CMD...: a GoogleTest run, counted test by test. A run that
# exits non-zero without a failing test (a crash, a kernel report, a
# timeout) counts as one more failure.
gtest() {
	local name=$1 t0=$SECONDS status=0 np nf
	shift
	"$@" > "$logs/$name.log" 2>&1 || status=$?
	np=$(grep -aE '^\[ +OK +\] ' "$logs/$name.log" | wc -l)
	nf=$(grep -aE '^\[ +FAILED +\] .*\(' "$logs/$name.log" | wc -l)
	[ "$status" = 0 ] || [ "$nf" -gt 0 ] || nf=1
	[ "$status" != 0 ] || [ "$np" -gt 0 ] || nf=$((nf + 1)) # ran nothing
	report "$name" "$status" "$np" "$nf" $((SECONDS - t0))
}

# tap NAME CMD...: a TAP producer, counted test by test.
tap() {
	local name=$1 t0=$SECONDS status=0 np nf
	shift
	"$@" > "$logs/$name.log" 2>&1 || status=$?
	np=$(grep -cE '^ok ' "$logs/$name.log")
	nf=$(grep -cE '^not ok ' "$logs/$name.log")
	[ "$status" = 0 ] || [ "$nf" -gt 0 ] || nf=1
	report "$name" "$status" "$np" "$nf" $((SECONDS - t0))
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
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}
