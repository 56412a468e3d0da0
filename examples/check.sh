#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/check.sh - checks for the example firmware in examples/.
#
#  1. Always: the committed hello.hex, hello.bin and hello.elf agree with each other (the hex's
#     data equals the bin, the ELF's PT_LOAD segments equal the bin) and look like our firmware
#     (vector table, entry point, banner). Pure Python, no cross tools needed.
#  2. If arm-none-eabi-gcc is on PATH: rebuild in a temporary folder and compare the outputs
#     with the committed ones byte for byte. That comparison needs the compiler and binutils
#     recorded in stm32f1-hello/toolchain.txt; with other versions the code may legitimately
#     differ, so then only the rebuild itself and the consistency of its outputs are checked.
#  3. If qemu-system-arm is on PATH: boot each committed image on QEMU's stm32vldiscovery (an
#     STM32F100RB, like the CW308 STM32F1 target) and talk to USART1 (about 0.2 s per image).
#
# The last line is "examples: N passed, N failed"; the exit status is 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")" || exit 1

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
# run imagecheck.py and add its "N passed, N failed" line to the totals
tally() {
    local out last
    out=$("$PY" imagecheck.py "$@" 2>&1)
    last=$(tail -n 1 <<<"$out")
    sed '$d' <<<"$out"
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    else
        fail "imagecheck.py $*: $last"
    fi
}

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
if [ -z "$PY" ]; then
    fail "python3 not found: cannot check the committed images"
    echo "examples: $passed passed, $failed failed"
    exit 1
fi

ex=stm32f1-hello
echo "== $ex: committed hello.hex / hello.bin / hello.elf"
tally consistency "$ex"

echo "== $ex: rebuild"
if command -v arm-none-eabi-gcc >/dev/null && command -v arm-none-eabi-objcopy >/dev/null \
    && command -v make >/dev/null; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp "$ex/hello.c" "$ex/stm32f100xb.ld" "$ex/Makefile" "$tmp/"
    if make -s -C "$tmp" all toolchain.txt >"$tmp/build.log" 2>&1; then
        if grep -q 'warning:' "$tmp/build.log"; then
            fail "$ex: make gave warnings:"
            cat "$tmp/build.log"
        else
            ok "$ex: make, no warnings ($(head -n 1 "$tmp/toolchain.txt"))"
        fi
        if cmp -s "$tmp/toolchain.txt" "$ex/toolchain.txt"; then
            for f in hello.hex hello.bin hello.elf; do
                if cmp -s "$tmp/$f" "$ex/$f"; then
                    ok "$ex: rebuilt $f is byte-identical to the committed one"
                else
                    fail "$ex: rebuilt $f differs from the committed one (same toolchain:" \
                        "$(head -n 1 "$ex/toolchain.txt")); run 'make -C examples/$ex' and commit"
                fi
            done
        else
            echo "note: toolchain differs from stm32f1-hello/toolchain.txt, so the rebuilt"
            echo "      image is not compared byte for byte with the committed one:"
            sed 's/^/      committed: /' "$ex/toolchain.txt"
            sed 's/^/      here:      /' "$tmp/toolchain.txt"
            echo "-- consistency of the rebuilt images"
            tally consistency "$tmp"
        fi
    else
        fail "$ex: make failed:"
        cat "$tmp/build.log"
    fi
else
    echo "skipped: no arm-none-eabi-gcc or make (Debian: apt-get install gcc-arm-none-eabi make);" \
        "the committed images were checked above"
fi

echo "== $ex: QEMU stm32vldiscovery"
if command -v qemu-system-arm >/dev/null; then
    tally qemu "$ex"
else
    echo "skipped: qemu-system-arm not found (Debian: apt-get install qemu-system-arm)"
fi

echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
