#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks a trace set written by `cwlua capture` with code that is not cwlua's: numpy reads the
.npy files, python3-cryptography checks every ciphertext, and a textbook correlation power
analysis (the Hamming weight of the first round's S-box output, Brier et al. 2004) recovers the
key. Usage: cpa.py DIR TRACES SAMPLES. Prints the traces the CPA needed and "N passed, N failed"."""
import json, sys
import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

d, want_n, want_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
T = np.load(d + "/traces.npy").astype(np.float64)
pt, ct, keys = (np.load(d + "/%s.npy" % f) for f in ("textin", "textout", "keys"))
meta = json.load(open(d + "/meta.json"))
checks = [T.shape == (want_n, want_s), pt.shape == ct.shape == keys.shape == (want_n, 16),
          T.min() >= -0.5 and T.max() < 0.5, meta["traces"] == want_n and meta["complete"]]
key = bytes(keys[0])
aes = lambda k, p: Cipher(algorithms.AES(k), modes.ECB()).encryptor().update(p)
checks.append(all(bytes(k) == key and aes(key, bytes(p)) == bytes(c)
                  for k, p, c in zip(keys, pt, ct)))

def gmul(a, b):  # GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (FIPS-197 4.2)
    r = 0
    for _ in range(8):
        r, a, b = r ^ (a if b & 1 else 0), ((a << 1) ^ (0x11B if a & 0x80 else 0)), b >> 1
    return r
inv = [0] + [next(y for y in range(1, 256) if gmul(x, y) == 1) for x in range(1, 256)]
rot = lambda x, n: ((x << n) | (x >> (8 - n))) & 0xFF
SBOX = np.array([b ^ rot(b, 1) ^ rot(b, 2) ^ rot(b, 3) ^ rot(b, 4) ^ 0x63 for b in inv])
HW = np.array([bin(x).count("1") for x in range(256)], dtype=np.float64)

def cpa(n):  # the key byte whose predicted leakage correlates best with some sample
    t = T[:n] - T[:n].mean(0)
    out = []
    for b in range(16):
        h = HW[SBOX[pt[:n, b, None] ^ np.arange(256)]]
        h -= h.mean(0)
        c = (h.T @ t) / np.outer(np.linalg.norm(h, axis=0), np.linalg.norm(t, axis=0) + 1e-12)
        out.append(int(np.abs(c).max(1).argmax()))
    return bytes(out)

sizes = [n for n in range(10, 101, 10) if n < want_n] + [want_n]
ok = [cpa(n) == key for n in sizes]  # the fewest traces from which on every size succeeds:
need = next((n for i, n in enumerate(sizes) if all(ok[i:])), None)
checks += [ok[-1], need is not None and need < 100]
print("key %s, CPA on %d traces %s; traces needed: %s" % (key.hex(), want_n,
      "recovers it" if ok[-1] else "fails: " + cpa(want_n).hex(), need))
print("capture_cpa: %d passed, %d failed" % (sum(checks), len(checks) - sum(checks)))
sys.exit(0 if all(checks) else 1)
