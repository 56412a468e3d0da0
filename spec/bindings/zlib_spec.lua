-- SPDX-License-Identifier: MIT
-- cwlua.core.zlib: raw inflate and CRC-32 through the system's zlib (bindings/l_zlib.c).
--
-- The deflate streams are made here by Debian's Python (/usr/bin/python3, its zlib module with
-- wbits -15: raw deflate as zip stores it), from data the spec builds, so each stream comes
-- from a compressor other than the library under test.
local zlib = require "cwlua.core.zlib"

local PYTHON = "/usr/bin/python3"
local DEFLATE = "import sys, zlib; d = open(sys.argv[1], 'rb').read(); "
  .. "c = zlib.compressobj(int(sys.argv[3]), zlib.DEFLATED, -15, 8, int(sys.argv[4])); "
  .. "open(sys.argv[2], 'wb').write(c.compress(d) + c.flush()); print(zlib.crc32(d))"
local ZEROS = "import sys, zlib; c = zlib.compressobj(9, zlib.DEFLATED, -15); "
  .. "open(sys.argv[1], 'wb').write(c.compress(bytes(int(sys.argv[2]))) + c.flush())"
local Z_DEFAULT_STRATEGY, Z_FIXED = 0, 4 -- zlib.h

local slurp = require("support.cli").slurp

-- deflate(data [, level [, strategy]]) -> raw deflate stream, Python's CRC-32 of data
local function deflate(data, level, strategy)
  local input, output = os.tmpname(), os.tmpname()
  local f = assert(io.open(input, "wb"))
  f:write(data)
  f:close()
  local p = assert(io.popen(("%s -c %q %q %q %d %d"):format(PYTHON, DEFLATE, input, output,
    level or 6, strategy or Z_DEFAULT_STRATEGY)))
  local crc = tonumber(p:read("a"))
  p:close()
  local stream = slurp(output)
  os.remove(input)
  os.remove(output)
  return stream, assert(crc, "python3 did not deflate")
end

-- zeros(n) -> a raw deflate stream of n zero bytes (made by Python: no n-byte string here)
local function zeros(n)
  local output = os.tmpname()
  assert(os.execute(("%s -c %q %q %d"):format(PYTHON, ZEROS, output, n)))
  local stream = slurp(output)
  os.remove(output)
  return stream
end

-- About 1 MiB that compresses like a bitstream: mostly zeros and repeated text, some
-- pseudo-random words (a fixed linear congruential generator, so every run is the same).
local DATA = (function()
  local t, seed = {}, 1
  for i = 1, 16384 do
    seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
    if seed % 5 == 0 then
      t[i] = string.pack("<I4", seed) .. ("\0"):rep(60)
    elseif seed % 5 == 1 then
      t[i] = ("ChipWhisperer %08x "):format(i):rep(2) .. ("\xFF"):rep(20)
    else
      t[i] = ("\0"):rep(64)
    end
  end
  return table.concat(t)
end)()

describe("cwlua.core.zlib", function()
  it("is the module cwlua.zlib", function()
    assert.are.equal(zlib, require("cwlua.zlib"))
  end)

  describe("inflate_raw()", function()
    it("inflates what Python's zlib deflated: stored, fixed and dynamic blocks", function()
      for _, how in ipairs({ { 0 }, { 1 }, { 9 }, { 6, Z_FIXED } }) do
        local stream = deflate(DATA, how[1], how[2])
        assert.are.equal(DATA, zlib.inflate_raw(stream, #DATA))
      end
      assert.are.equal("", zlib.inflate_raw((deflate("")), 0))
    end)

    it("takes expected_len as a bound: less comes back as it is", function()
      local stream = deflate("hello, cwlua")
      assert.are.equal("hello, cwlua", zlib.inflate_raw(stream, 1000))
      -- a size a damaged zip might declare: the output grows as it comes, nothing is reserved
      assert.are.equal("hello, cwlua", zlib.inflate_raw(stream, 1 << 40))
    end)

    it("ignores bytes after the last block", function()
      local stream = deflate("hello, cwlua")
      assert.are.equal("hello, cwlua", zlib.inflate_raw(stream .. "PK\1\2 trailing", 12))
    end)

    it("returns nil, msg, 'overflow' as soon as the output outgrows expected_len", function()
      local stream = deflate(DATA)
      assert.are.same({ nil, ("corrupt deflate data (more than %d bytes, expected %d)"):format(
        #DATA - 1, #DATA - 1), "overflow" }, { zlib.inflate_raw(stream, #DATA - 1) })
      assert.are.same({ nil, "corrupt deflate data (more than 0 bytes, expected 0)", "overflow" },
        { zlib.inflate_raw((deflate("x")), 0) })
      -- a zip bomb: 64 MiB of zeros in about 64 KB, refused without inflating it all
      local bomb = zeros(64 << 20)
      assert.is_true(#bomb < 70000)
      assert.are.same({ nil, "corrupt deflate data (more than 4096 bytes, expected 4096)",
        "overflow" }, { zlib.inflate_raw(bomb, 4096) })
    end)

    it("returns nil, msg, 'invalid' for a truncated stream", function()
      local stream = deflate(DATA)
      for _, cut in ipairs({ 0, 1, #stream // 2, #stream - 1 }) do
        assert.are.same({ nil, "corrupt deflate data (truncated)", "invalid" },
          { zlib.inflate_raw(stream:sub(1, cut), #DATA) })
      end
    end)

    it("returns nil, msg, 'invalid' with zlib's reason for corrupt data", function()
      assert.are.same({ nil, "corrupt deflate data (invalid block type)", "invalid" },
        { zlib.inflate_raw("\7", 100) })
      assert.are.same({ nil, "corrupt deflate data (invalid stored block lengths)", "invalid" },
        { zlib.inflate_raw("\1\5\0\5\0hello", 100) })
      -- fixed Huffman block: literal 'a' (0x91 in 8 bits), then length 3 at distance 2, which
      -- reaches before the start of the output
      assert.are.same({ nil, "corrupt deflate data (invalid distance too far back)", "invalid" },
        { zlib.inflate_raw("\x4B\x04\x42\x00", 100) })
    end)

    it("raises on misuse", function()
      assert.has_error(function() zlib.inflate_raw(nil, 1) end)
      assert.has_error(function() zlib.inflate_raw("x") end)
      assert.has_error(function() zlib.inflate_raw("x", -1) end,
        "bad argument #2 to 'inflate_raw' (expected_len must be a size in bytes)")
      assert.has_error(function() zlib.inflate_raw("x", 1.5) end)
    end)
  end)

  describe("crc32()", function()
    it("is zip's CRC-32 (ISO-HDLC): check value and Python's", function()
      assert.are.equal(0xCBF43926, zlib.crc32("123456789"))
      assert.are.equal(0, zlib.crc32(""))
      assert.are.equal(0x414FA339, zlib.crc32("The quick brown fox jumps over the lazy dog"))
      local _, crc = deflate(DATA)
      assert.are.equal(crc, zlib.crc32(DATA))
    end)

    it("continues a CRC over several pieces", function()
      assert.are.equal(0xCBF43926, zlib.crc32("56789", zlib.crc32("1234")))
      assert.are.equal(0xCBF43926, zlib.crc32("123456789", 0))
    end)

    it("raises on misuse", function()
      assert.has_error(function() zlib.crc32({}) end)
      assert.has_error(function() zlib.crc32("x", -1) end,
        "bad argument #2 to 'crc32' (crc must be 0 to 0xFFFFFFFF)")
      assert.has_error(function() zlib.crc32("x", 1 << 32) end)
    end)
  end)
end)
