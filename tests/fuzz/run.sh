#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one libFuzzer harness (docs/testing.md "Fuzzing"): replay its committed corpus, then fuzz
# for SECONDS. Used by the fuzz_* ctest tests (a bounded run from the committed corpus only) and
# by dev/fuzz (longer runs that keep what they find in WORK).
#
#   tests/fuzz/run.sh [--fresh] BIN_DIR HARNESS SECONDS WORK
#
# BIN_DIR holds the fuzz_<HARNESS> binaries; WORK/corpus/HARNESS collects the new inputs the
# fuzzer finds interesting (--fresh empties it first) and WORK/findings/HARNESS the input of
# any finding. FUZZ_ARGS adds libFuzzer options (e.g. FUZZ_ARGS=-max_len=65536).
#
# Ends with "fuzz_HARNESS: N passed, N failed" (N passed: the corpus inputs replayed plus the
# fuzzing run); on a finding prints the input in hex and where it was saved, and exits 1.
set -uo pipefail

fresh=0
if [ "${1:-}" = --fresh ]; then fresh=1; shift; fi
if [ $# -ne 4 ]; then
    echo "usage: tests/fuzz/run.sh [--fresh] BIN_DIR HARNESS SECONDS WORK" >&2
    exit 2
fi
bin_dir=$1 harness=$2 seconds=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
fuzzer=$bin_dir/fuzz_$harness
seeds=$here/corpus/$harness
corpus=$work/corpus/$harness
findings=$work/findings/$harness
log=$work/fuzz_$harness.log
name=fuzz_$harness

[ -x "$fuzzer" ] || { echo "$name: no harness $fuzzer" >&2; exit 2; }
[ -d "$seeds" ] || { echo "$name: no seed corpus $seeds" >&2; exit 2; }
[ "$fresh" = 1 ] && rm -rf "$corpus"
mkdir -p "$corpus" "$findings"

# A run must not leave a previous finding lying around to be reported again.
stamp=$work/.stamp_$harness
touch "$stamp"

# -timeout: one input taking this long is a finding (a hang); -rss_limit_mb: so is a process
# this big; -malloc_limit_mb: so is one allocation of this size. The image harnesses bound the
# Lua heap per input themselves (fuzz_image.c).
opts=(-timeout=10 -rss_limit_mb=2560 -malloc_limit_mb=1024 -print_final_stats=1
      "-artifact_prefix=$findings/")
dict=$here/dict/$harness.dict
[ -f "$dict" ] && opts+=("-dict=$dict")
# shellcheck disable=SC2206
extra=(${FUZZ_ARGS:-})

report() { # report FAILED_PHASE
    echo "$name: FINDING while $1 (libFuzzer's log: $log)"
    grep -E '^(FINDING|==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 20
    local input
    input=$(find "$findings" -type f -newer "$stamp" -printf '%T@ %p\n' 2>/dev/null |
        sort -n | tail -n 1 | cut -d' ' -f2-)
    if [ -n "$input" ]; then
        echo "input ($(stat -c %s "$input") bytes), saved as $input:"
        od -An -tx1 -v "$input" | head -n 64
        echo "reproduce: $fuzzer $input"
    fi
}

# 1. the committed corpus (seeds and regression inputs), each input once
nseeds=$(find "$seeds" -type f | wc -l)
if ! "$fuzzer" "${opts[@]}" "${extra[@]}" -runs=0 "$seeds" >"$log" 2>&1; then
    report "replaying $seeds"
    echo "$name: 0 passed, 1 failed"
    exit 1
fi

# 2. fuzzing, from the committed corpus and whatever WORK kept
if ! "$fuzzer" "${opts[@]}" "${extra[@]}" -max_total_time="$seconds" "$corpus" "$seeds" \
    >"$log" 2>&1; then
    report "fuzzing"
    echo "$name: $nseeds passed, 1 failed"
    exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
echo "$name: ${runs:-?} inputs in ${seconds} s (${rate:-?}/s), corpus $(find "$corpus" -type f |
    wc -l) + $nseeds, no finding"
echo "$name: $((nseeds + 1)) passed, 0 failed"
