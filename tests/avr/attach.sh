#!/bin/sh
# SPDX-License-Identifier: MIT
# attach.sh ATTACH CWLUA: the avr recipe over real libusb, against simulated boards that
# 'cwlua sim attach' (the cwlua-sim-attach helper, umockdev) puts on the USB bus: program,
# verify, read back and info for both reference parts, as a user types it.
# Prints "avr_attach: N passed, N failed"; exits non-zero on any failure.
set -u
ATTACH=$1
CWLUA=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() {
    d=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "avr_attach: FAILED: $d" >&2; fi
}
# a 32-byte image at 0x40: two Intel HEX records and EOF (checksums computed here)
hexrec() { # ADDR DATA-HEX
    n=$((${#2} / 2))
    sum=$((n + ($1 >> 8) + ($1 & 255)))
    i=0
    while [ $i -lt $n ]; do
        sum=$((sum + 0x$(printf '%s' "$2" | cut -c$((i * 2 + 1))-$((i * 2 + 2)))))
        i=$((i + 1))
    done
    printf ':%02X%04X00%s%02X\n' "$n" "$1" "$2" $(((256 - sum % 256) % 256))
}
{
    hexrec 64 00112233445566778899AABBCCDDEEFF
    hexrec 80 0F1E2D3C4B5A69788796A5B4C3D2E1F0
    echo ':00000001FF'
} >"$tmp/fw.hex"
for part in atmega328p atmega168pa; do
    state=$tmp/state-$part
    out=$("$ATTACH" --sim-state "$state" "cwlite:$part" -- sh -c "
        '$CWLUA' -d usb program avr '$tmp/fw.hex' -q &&
        '$CWLUA' -d usb verify avr '$tmp/fw.hex' -q &&
        '$CWLUA' -d usb read avr '$tmp/rb.bin' --addr 0x40 --len 32 -q &&
        '$CWLUA' -d usb info avr --json" 2>"$tmp/err")
    check "$part: program, verify, read, info through sim attach ($(cat "$tmp/err"))" [ $? -eq 0 ]
    check "$part: read back" [ "$(od -An -tx1 "$tmp/rb.bin" | tr -d ' \n')" = \
        "00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f0" ]
    case $part in
    atmega328p) want='"signature":"1E 95 0F"' ;;
    *) want='"signature":"1E 94 0B"' ;;
    esac
    case $out in
    *"$want"*) found=1 ;;
    *) found=0 ;;
    esac
    check "$part: info shows the signature ($out)" [ $found -eq 1 ]
done
# a fault through sim attach: isp-open -> exit 4
"$ATTACH" --sim-state "$tmp/state-fault" --sim-fault isp-open cwlite:atmega328p -- \
    "$CWLUA" -d usb program avr "$tmp/fw.hex" -q 2>"$tmp/err"
check "isp-open exits 4" [ $? -eq 4 ]
check "isp-open says nothing came back" grep -q "seen: nothing came back" "$tmp/err"
echo "avr_attach: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
