-- SPDX-License-Identifier: MIT
-- examples/lab/capture.lua OUT [N]: what `cwlua capture` does, written out with the API
-- (docs/capture.md): one key, N random plaintexts (default 100), a power trace of 3000 samples
-- for each, every ciphertext checked with AES-128 on the host, and all four saved as they come
-- in a trace set that numpy reads (examples/lab/cpa.py recovers the key from it). The target
-- runs NewAE's simpleserial-aes (SimpleSerial v1.1); the board is left as it was found.
--   cwlua run examples/lab/capture.lua set1 100
-- 'cwlua run' sets the global cw (docs/api.md):
-- luacheck: read globals cw
local out = assert(arg[1], "usage: cwlua run examples/lab/capture.lua OUT [N]")
local n = math.tointeger(tonumber(arg[2] or "100")) or error("N must be a whole number")
local S = cw.simpleserial
local key = S.unhex("2b7e151628aed2a6abf7158809cf4f3c")

local board <close> = assert(cw.open())
local _ <close> = assert(board:snapshot()) -- the ADC settings and the serial line come back
local scope = assert(cw.scope.open(board, { samples = 3000 }))
local ss = assert(S.open(board, { target = "stm32f1" }))
assert(ss:set_key(key))
local set <close> = assert(cw.traceset.create(out, { samples = 3000 }))
for _ = 1, n do
  local bytes = {}
  for j = 1, 16 do bytes[j] = math.random(0, 255) end
  local pt = string.char(table.unpack(bytes))
  assert(scope:arm())
  local ct = assert(ss:encrypt(pt))
  local trace = assert(scope:capture())
  assert(ct == cw.aes.encrypt(key, pt), "the target's ciphertext is not AES-128(key, pt)")
  assert(set:append(trace, pt, ct, key))
end
print(("%d traces of %d samples in %s"):format(set.count, set.samples, out))
