#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/capture/attach.sh CWLUA ATTACH SRC WORK: `cwlua capture` through libusb, as on a lab
# bench: a simulated CW-Lite on umockdev's mock bus (`cwlua sim attach`, in real time), whose
# registers start at their reset values (no default set-up: the serial pins crossed, HS2 off),
# an STM32F1 running ss1-aes; program it, capture 100 traces, then cpa.py checks the set.
set -eu
cwlua=$1 attach=$2 src=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
"$attach" --sim-state "$work/state" --sim-app ss1-aes cwlite:stm32f1 -- sh -c "
  '$cwlua' -q program stm32f1 '$src/examples/stm32f1-hello/hello.hex' &&
  '$cwlua' --json capture stm32f1 --traces 100 --samples 3000 --out '$work/set'"
exec /usr/bin/python3 "$src/tests/capture/cpa.py" "$work/set" 100 3000
