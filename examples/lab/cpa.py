#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# examples/lab/cpa.py DIR: a textbook CPA on a trace set of `cwlua capture` (docs/capture.md):
# for each key byte, the guess whose first-round S-box output has the Hamming weight that
# correlates best with some sample of the traces. Needs numpy (Debian: python3-numpy).
import sys
import numpy as np

def mul(a, b):  # multiplication in GF(2^8), FIPS-197 4.2
    r = 0
    while b:
        r, a, b = r ^ (a if b & 1 else 0), (a << 1) ^ (0x11B if a & 0x80 else 0), b >> 1
    return r

inv = [0] + [next(y for y in range(1, 256) if mul(x, y) == 1) for x in range(1, 256)]
rotl = lambda x, n: ((x << n) | (x >> (8 - n))) & 0xFF
sbox = np.array([v ^ rotl(v, 1) ^ rotl(v, 2) ^ rotl(v, 3) ^ rotl(v, 4) ^ 0x63 for v in inv])
hw = np.array([bin(v).count("1") for v in range(256)])

traces = np.load(sys.argv[1] + "/traces.npy")
textin = np.load(sys.argv[1] + "/textin.npy")
t = (traces - traces.mean(0)) / (traces.std(0) + 1e-12)
key = []
for b in range(16):
    h = hw[sbox[textin[:, b, None] ^ np.arange(256)]].astype(float)  # traces x 256 guesses
    h = (h - h.mean(0)) / h.std(0)
    key.append(int(np.abs(h.T @ t).max(1).argmax()))  # correlation, times the trace count
print("key:", bytes(key).hex())
