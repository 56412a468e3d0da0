-- SPDX-License-Identifier: MIT
-- aes_kat.lua: program a SimpleSerial AES-128 firmware, then check it against the FIPS-197
-- known answers through SimpleSerial (docs/api.md "SimpleSerial"). Exit status 0 when every
-- answer matches.
--
--   cwlua -d sim --sim-target stm32f1 --sim-app ss1-aes run examples/lab/aes_kat.lua
--   cwlua -d sim --sim-target stm32f1 --sim-app ss2-aes run examples/lab/aes_kat.lua --v2
--   cwlua run examples/lab/aes_kat.lua simpleserial-aes-CW308_STM32F1.hex   # a real board
--
-- Arguments: [--v2] [--target RECIPE] [--no-program] [FIRMWARE]. FIRMWARE is NewAE's
-- simpleserial-aes built for your target (make PLATFORM=CW308_STM32F1 CRYPTO_TARGET=TINYAES128C
-- SS_VER=SS_VER_1_1, or SS_VER_2_1 with --v2). The simulator does not run flashed code: its
-- --sim-app model stands in for the firmware, so any image will do, and without FIRMWARE the
-- example's hello.hex is used.
-- 'cwlua run' sets the global cw (docs/api.md):
-- luacheck: read globals cw
local S = cw.simpleserial

local version, recipe, program, firmware = 1, "stm32f1", true, nil
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--v2" then
    version = 2
  elseif a == "--target" then
    i = i + 1
    recipe = assert(arg[i], "--target needs a recipe name")
  elseif a == "--no-program" then
    program = false
  else
    firmware = a
  end
  i = i + 1
end

local board <close> = assert(cw.open())
if program then
  local here = arg[0]:match("^(.*)/[^/]*$") or "."
  firmware = firmware or (here .. "/../stm32f1-hello/hello.hex")
  -- a failure returns nil and the message (docs/api.md "Other modules"); assert stops there
  local r = assert(cw.flash.program(recipe, firmware, { board = board, quiet = true }))
  print(("programmed %s: %d bytes, verify %s"):format(firmware, r.bytes, r.verify))
end

local ss = assert(S.open(board, { version = version }))
print(("SimpleSerial v%d at %d baud"):format(version, ss.baud))

-- FIPS-197 Appendix C.1 (AES-128) and Appendix B (the cipher example)
local VECTORS = {
  { name = "FIPS-197 C.1", key = "000102030405060708090a0b0c0d0e0f",
    pt = "00112233445566778899aabbccddeeff", ct = "69c4e0d86a7b0430d8cdb78070b4c55a" },
  { name = "FIPS-197 B", key = "2b7e151628aed2a6abf7158809cf4f3c",
    pt = "3243f6a8885a308d313198a2e0370734", ct = "3925841d02dc09fbdc118597196a0b32" },
}

local failures = 0
for _, v in ipairs(VECTORS) do
  assert(ss:set_key(S.unhex(v.key)))
  local ct = assert(ss:encrypt(S.unhex(v.pt)))
  local ok = S.hex(ct) == v.ct
  if not ok then failures = failures + 1 end
  print(("%-13s %s  key %s  pt %s  ct %s"):format(v.name, ok and "ok  " or "FAIL", v.key, v.pt,
    S.hex(ct)))
end
print(failures == 0 and "all known answers match" or (failures .. " known answers differ"))
os.exit(failures == 0 and 0 or 1, true)
