-- SPDX-License-Identifier: MIT
-- cwlua.aes: AES-128 against the vectors of FIPS-197 (Appendix B, Appendix C.1) and the
-- S-box table of FIPS-197 §5.1.1 (spot values).
local aes = require "cwlua.aes"
local S = require "cwlua.simpleserial"

describe("cwlua.aes", function()
  it("encrypts FIPS-197 Appendix B", function()
    assert.equal("3925841d02dc09fbdc118597196a0b32", S.hex(aes.encrypt(
      S.unhex("2b7e151628aed2a6abf7158809cf4f3c"), S.unhex("3243f6a8885a308d313198a2e0370734"))))
  end)

  it("encrypts FIPS-197 Appendix C.1", function()
    assert.equal("69c4e0d86a7b0430d8cdb78070b4c55a", S.hex(aes.encrypt(
      S.unhex("000102030405060708090a0b0c0d0e0f"), S.unhex("00112233445566778899aabbccddeeff"))))
  end)

  it("expands the key as FIPS-197 Appendix A.1", function()
    local w = aes.expand(S.unhex("2b7e151628aed2a6abf7158809cf4f3c"))
    assert.equal(176, #w)
    local last = string.char(table.unpack(w, 161, 176))
    assert.equal("d014f9a8c9ee2589e13f0cc8b6630ca6", S.hex(last))
  end)

  it("has the S-box of FIPS-197 §5.1.1", function()
    assert.equal(0x63, aes.SBOX[0x00 + 1])
    assert.equal(0xED, aes.SBOX[0x53 + 1])
    assert.equal(0x16, aes.SBOX[0xFF + 1])
    local seen = {}
    for i = 1, 256 do seen[aes.SBOX[i]] = true end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.equal(256, n)
  end)

  it("raises on blocks that are not 16 bytes", function()
    assert.has_error(function() aes.encrypt("short", ("\0"):rep(16)) end,
      "aes: key must be a 16-byte string")
    assert.has_error(function() aes.encrypt(("\0"):rep(16), 5) end,
      "aes: plaintext must be a 16-byte string")
  end)
end)
