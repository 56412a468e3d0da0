#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/capture/run.sh CWLUA BOARD VERSION SRC WORK: what a lab does, on a simulated board with a
# CW308 STM32F1 running NewAE's simpleserial-aes (the simulator's ss1-aes or ss2-aes): program
# the flash, then `cwlua capture` 300 traces of 3000 samples with a random key into WORK/set;
# then cpa.py (numpy, python3-cryptography) checks the set and recovers the key. The state
# folder keeps the programmed flash from the first command to the second (contract.md §5.5).
set -eu
cwlua=$1 board=$2 version=$3 src=$4 work=$5
rm -rf "$work"
mkdir -p "$work"
sim="-d sim:$board --sim-state $work/state --sim-target stm32f1 --sim-app ss$version-aes"
v2=
[ "$version" = 2 ] && v2=--v2
# shellcheck disable=SC2086
"$cwlua" $sim -q program stm32f1 "$src/examples/stm32f1-hello/hello.hex"
# shellcheck disable=SC2086
"$cwlua" $sim --json capture stm32f1 --traces 300 --samples 3000 --key random $v2 \
    --out "$work/set" | tee "$work/capture.json"
exec /usr/bin/python3 "$src/tests/capture/cpa.py" "$work/set" 300 3000
