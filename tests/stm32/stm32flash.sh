#!/bin/sh
# SPDX-License-Identifier: MIT
# stm32flash.sh MODE CWLUA MKIMAGE SHIM: Debian's stm32flash 0.7 (a client we did not write)
# against `cwlua sim serve stm32f1 --pty` (tools/simserve): detection, write, verify, read-back, erase and protection; and
# against the L0 and L4 parts, whose quirks stm32flash 0.7 knows from its own table.
#   MODE 8n1: the bare pty, stm32flash -m 8n1 (a bare pty cannot carry parity, test-harnesses.md §2)
#   MODE 8e1: stm32flash's default 8E1 through the parity shim SHIM (LD_PRELOAD), which lets the
#             server see the parity, so the chip checks 8E1
# Prints "stm32flash_MODE: N passed, N failed" and exits non-zero on any failure. Each scenario
# has its own mktemp -d state folder; every server started is stopped.
set -u
MODE=$1
SERVE=$2
MKIMAGE=$3
SHIM=$4
NAME=stm32flash_$MODE
TIMEOUT=${STM32FLASH_TIMEOUT:-180} # seconds per stm32flash run: generous for a loaded CI box

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "$NAME: FAILED: $*" >&2
}
# check DESCRIPTION COMMAND...: count COMMAND's success
check() {
    d=$1
    shift
    if "$@"; then ok; else bad "$d"; fi
}

WORK=$(mktemp -d)
SERVER_PID=
PTY=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! command -v stm32flash >/dev/null 2>&1; then
    bad "stm32flash is not on PATH (Debian package stm32flash)"
    echo "$NAME: $passed passed, $failed failed"
    exit 1
fi

# start_server DIR [OPTIONS...]: cwlua sim serve $PART --pty; sets PTY and SERVER_PID
PART=stm32f1
start_server() {
    dir=$1
    shift
    : >"$WORK/pty.out"
    "$SERVE" sim serve "$PART" --pty --sim-state "$dir" "$@" >"$WORK/pty.out" 2>"$WORK/serve.err" &
    SERVER_PID=$!
    i=0
    PTY=
    while [ $i -lt 600 ]; do # poll for the path, up to 60 s
        PTY=$(head -n 1 "$WORK/pty.out")
        [ -n "$PTY" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    if [ -z "$PTY" ] || [ ! -c "$PTY" ]; then
        bad "server did not print a pty path: $(cat "$WORK/serve.err")"
        return 1
    fi
    # stdout holds the path and nothing else
    check "stdout is only the pty path" test "$(wc -l <"$WORK/pty.out")" -eq 1
    return 0
}

# stop_server: SIGTERM; the server saves its state and exits 0
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID"
    rc=$?
    SERVER_PID=
    check "server exits 0 on SIGTERM (rc $rc; $(cat "$WORK/serve.err"))" test "$rc" -eq 0
}

# flash OUT ARGS...: run stm32flash on the pty in this MODE, output in OUT; returns its status
flash() {
    out=$1
    shift
    if [ "$MODE" = 8n1 ]; then
        timeout "$TIMEOUT" stm32flash -b 115200 -m 8n1 "$@" "$PTY" >"$out" 2>&1
    else
        LD_PRELOAD="$SHIM" ASAN_OPTIONS=verify_asan_link_order=0 \
            timeout "$TIMEOUT" stm32flash -b 115200 "$@" "$PTY" >"$out" 2>&1
    fi
}

has() { grep -q -e "$2" "$1"; }
MODE_UP=$(echo "$MODE" | tr 'a-z' 'A-Z')

"$MKIMAGE" "$WORK/image.bin" "$WORK/image.hex" 0x08000000 4096 4 || bad "stm32_mkimage"
head -c 131072 /dev/zero | tr '\000' '\377' >"$WORK/ff.bin"
BLOB=stm32f100xb.flash

# ---- detection, write + verify, read back, erase only --------------------------------------
D1=$(mktemp -d "$WORK/state.XXXXXX")
if start_server "$D1"; then
    flash "$WORK/detect.txt"
    rc=$?
    check "detection exits 0 ($(cat "$WORK/detect.txt"))" test "$rc" -eq 0
    check "interface line" has "$WORK/detect.txt" "Interface serial_posix: 115200 $MODE_UP"
    check "device ID and F100 name" \
        has "$WORK/detect.txt" 'Device ID *: 0x0420 (STM32F10xxx Medium-density VL)'
    check "bootloader version 0x22" has "$WORK/detect.txt" 'Version *: 0x22'

    flash "$WORK/write.txt" -w "$WORK/image.hex" -v
    rc=$?
    check "-w image.hex -v exits 0 ($(tail -c 300 "$WORK/write.txt"))" test "$rc" -eq 0
    check "-w wrote and verified the last block" \
        has "$WORK/write.txt" 'Wrote and verified address 0x08001000 (100.00%) Done.'

    flash "$WORK/read.txt" -r "$WORK/out.bin" -S 0x08000000:4096
    rc=$?
    check "-r exits 0 ($(tail -c 300 "$WORK/read.txt"))" test "$rc" -eq 0
    check "-r returns the image" cmp -s "$WORK/out.bin" "$WORK/image.bin"

    flash "$WORK/erase.txt" -o
    rc=$?
    check "-o exits 0 ($(tail -c 300 "$WORK/erase.txt"))" test "$rc" -eq 0
    flash "$WORK/read2.txt" -r "$WORK/out2.bin" -S 0x08000000:4096
    rc=$?
    check "-r after -o exits 0" test "$rc" -eq 0
    check "-o left the image area 0xFF" cmp -s "$WORK/out2.bin" "$WORK/ff.bin" -n 4096
    stop_server
    check "-o left all of flash 0xFF (state blob)" cmp -s "$D1/$BLOB" "$WORK/ff.bin"
fi

# ---- read protection: -r fails as on a protected chip, flash unchanged ----------------------
D2=$(mktemp -d "$WORK/state.XXXXXX")
if start_server "$D2"; then
    flash "$WORK/w2.txt" -w "$WORK/image.hex"
    rc=$?
    check "write before protecting exits 0" test "$rc" -eq 0
    stop_server
fi
if start_server "$D2" --sim-fault read-protected; then
    flash "$WORK/rp.txt" -r "$WORK/rp.bin" -S 0x08000000:4096
    rc=$?
    check "-r on a read-protected chip fails (rc $rc)" test "$rc" -ne 0
    check "-r names the refused read ($(cat "$WORK/rp.txt"))" \
        has "$WORK/rp.txt" 'Failed to read memory at address 0x08000000'
    stop_server
    head -c 4096 "$D2/$BLOB" >"$WORK/blob_head.bin"
    tail -c +4097 "$D2/$BLOB" >"$WORK/blob_tail.bin"
    check "flash unchanged under read protection (image)" \
        cmp -s "$WORK/blob_head.bin" "$WORK/image.bin"
    check "flash unchanged under read protection (rest erased)" \
        cmp -s "$WORK/blob_tail.bin" "$WORK/ff.bin" -n $((131072 - 4096))
fi
# the protection is chip state: it persists without the fault
if start_server "$D2"; then
    flash "$WORK/rp2.txt" -r "$WORK/rp2.bin" -S 0x08000000:256
    rc=$?
    check "read protection persists in the state folder (rc $rc)" test "$rc" -ne 0
    stop_server
fi

# ---- already-synced: the warning, and it still works ----------------------------------------
D3=$(mktemp -d "$WORK/state.XXXXXX")
if start_server "$D3" --sim-fault already-synced; then
    flash "$WORK/as.txt"
    rc=$?
    check "already-synced: detection exits 0 ($(cat "$WORK/as.txt"))" test "$rc" -eq 0
    check "already-synced: stm32flash warns" \
        has "$WORK/as.txt" 'Warning: the interface was not closed properly.'
    check "already-synced: device ID" has "$WORK/as.txt" 'Device ID *: 0x0420'
    flash "$WORK/as_w.txt" -w "$WORK/image.hex" -v
    rc=$?
    check "already-synced: write + verify exits 0" test "$rc" -eq 0
    stop_server
fi

# ---- L0 and L4 ---------------------------------------------------------------------------
# stm32flash 0.7 flags the L0 "no mass erase" (target-protocols.md §A.6 notes): -o erases every
# page in lists (§A.10), which the model must take; its erased flash is 0x00 [ext RM0377].
PART=stm32l0
D6=$(mktemp -d "$WORK/state.XXXXXX")
head -c 65536 /dev/zero >"$WORK/zero64k.bin"
if start_server "$D6"; then
    flash "$WORK/l0.txt"
    rc=$?
    check "L0: detection exits 0 ($(cat "$WORK/l0.txt"))" test "$rc" -eq 0
    check "L0: device ID and name" has "$WORK/l0.txt" 'Device ID *: 0x0417 (STM32L05xxx/06xxx)'
    flash "$WORK/l0w.txt" -w "$WORK/image.hex" -v
    rc=$?
    check "L0: -w image.hex -v exits 0 ($(tail -c 300 "$WORK/l0w.txt"))" test "$rc" -eq 0
    check "L0: -w wrote and verified the last block" \
        has "$WORK/l0w.txt" 'Wrote and verified address 0x08001000 (100.00%) Done.'
    flash "$WORK/l0r.txt" -r "$WORK/l0.bin" -S 0x08000000:4096
    rc=$?
    check "L0: -r exits 0" test "$rc" -eq 0
    check "L0: -r returns the image" cmp -s "$WORK/l0.bin" "$WORK/image.bin"
    flash "$WORK/l0o.txt" -o
    rc=$?
    check "L0: -o (every page, no mass erase) exits 0 ($(tail -c 300 "$WORK/l0o.txt"))" \
        test "$rc" -eq 0
    stop_server
    check "L0: -o left all of flash 0x00 (state blob)" \
        cmp -s "$D6/stm32l051x8.flash" "$WORK/zero64k.bin"
fi
# The L4 programs double words [ext RM0394]; stm32flash writes 256-byte blocks of a 4 KiB image
PART=stm32l4
D7=$(mktemp -d "$WORK/state.XXXXXX")
if start_server "$D7"; then
    flash "$WORK/l4.txt"
    rc=$?
    check "L4: detection exits 0 ($(cat "$WORK/l4.txt"))" test "$rc" -eq 0
    check "L4: device ID and name" has "$WORK/l4.txt" 'Device ID *: 0x0435 (STM32L43xxx/44xxx)'
    flash "$WORK/l4w.txt" -w "$WORK/image.hex" -v
    rc=$?
    check "L4: -w image.hex -v exits 0 ($(tail -c 300 "$WORK/l4w.txt"))" test "$rc" -eq 0
    flash "$WORK/l4r.txt" -r "$WORK/l4.bin" -S 0x08000000:4096
    rc=$?
    check "L4: -r returns the image" cmp -s "$WORK/l4.bin" "$WORK/image.bin"
    flash "$WORK/l4o.txt" -o
    rc=$?
    check "L4: -o (mass erase) exits 0 ($(tail -c 300 "$WORK/l4o.txt"))" test "$rc" -eq 0
    stop_server
    head -c 4096 "$D7/stm32l433xc.flash" >"$WORK/l4head.bin"
    check "L4: -o left the image area 0xFF" cmp -s "$WORK/l4head.bin" "$WORK/ff.bin" -n 4096
fi
PART=stm32f1

if [ "$MODE" = 8e1 ]; then
    # ---- the shim lets the chip check parity: 8O1 and 8N1 do not get through -----------------
    D4=$(mktemp -d "$WORK/state.XXXXXX")
    if start_server "$D4"; then
        flash "$WORK/odd.txt" -m 8o1
        rc=$?
        check "8O1 through the shim is refused by the chip (rc $rc)" test "$rc" -ne 0
        stop_server
    fi
else
    # ---- command line and state folder ---------------------------------------------------------
    "$SERVE" sim serve >/dev/null 2>"$WORK/u1.txt"
    check "no PART: exit 2" test $? -eq 2
    check "no PART: message" has "$WORK/u1.txt" '^cwlua sim serve: '
    "$SERVE" sim serve stm32f9 --pty >/dev/null 2>"$WORK/u2.txt"
    check "unknown PART: exit 2" test $? -eq 2
    check "unknown PART: message" has "$WORK/u2.txt" "^cwlua sim serve: unknown part 'stm32f9'"
    "$SERVE" sim serve CW308_STM32F1 >/dev/null 2>"$WORK/u3.txt"
    check "no --pty: exit 2" test $? -eq 2
    "$SERVE" sim serve stm32f1 --pty --sim-fault no-such-fault >/dev/null 2>"$WORK/u4.txt"
    check "unknown fault: exit 2" test $? -eq 2
    "$SERVE" sim serve --help >"$WORK/help.txt" 2>&1
    check "--help: exit 0" test $? -eq 0
    check "--help reads as cwlua sim serve" has "$WORK/help.txt" '^usage: cwlua sim serve PART --pty'
    D5=$(mktemp -d "$WORK/state.XXXXXX")
    if start_server "$D5"; then
        "$SERVE" sim serve stm32f1 --pty --sim-state "$D5" >"$WORK/l.out" 2>"$WORK/l.err"
        rc=$?
        check "a locked state folder is refused (rc $rc)" test "$rc" -eq 1
        check "nothing on stdout when refused" test ! -s "$WORK/l.out"
        stop_server
    fi
fi

echo "$NAME: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
