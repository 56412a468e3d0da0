-- SPDX-License-Identifier: MIT
-- cwlua.core.trace: traces unpacked from the OpenADC read-out (bindings/l_trace.c). The
-- read-outs are packed here, in Lua, from the layout of cw-usb-protocol.md §4.10, so the C
-- unpacking is checked against an independent packer.
local trace = require "cwlua.core.trace"

-- a CW-Lite/Pro word: three 10-bit samples (first in bits 9:0) and the trigger mark
local function word(a, b, c, mark)
  return string.pack(">I4", (mark << 30) | (c << 20) | (b << 10) | a)
end

-- codes -> a CW-Lite read-out with the trigger mark on sample `trig` (0-based; nil: none)
local function cw10(codes, trig)
  local out = { "\xAC" }
  for i = 1, #codes, 3 do
    local w = (i - 1) // 3
    local mark = 3
    if trig and trig // 3 == w then mark = trig % 3 end
    out[#out + 1] = word(codes[i] or 0, codes[i + 1] or 0, codes[i + 2] or 0, mark)
  end
  return table.concat(out)
end

local function husky12(codes)
  local out = {}
  for i = 1, #codes, 2 do
    local a, b = codes[i], codes[i + 1] or 0
    out[#out + 1] = string.char(a >> 4, ((a & 0xF) << 4) | (b >> 8), b & 0xFF)
  end
  return table.concat(out)
end

local function ramp(n, bits)
  local t = {}
  for i = 1, n do t[i] = (i * 37 + 11) % (1 << bits) end
  return t
end

describe("cwlua.core.trace", function()
  describe("unpack('cw10', ...)", function()
    it("unpacks three samples a word, in bit order 9:0, 19:10, 29:20", function()
      local t = assert(trace.unpack("cw10", "\xAC" .. word(1, 2, 3, 3) .. word(4, 5, 6, 3), 6))
      assert.same({ 1, 2, 3, 4, 5, 6 }, t:raw())
      assert.equal(6, #t)
      assert.equal(10, t:bits())
      assert.is_nil(t:trigger_index())
    end)

    it("scales as get_last_trace(): code / 1024 - 0.5", function()
      local t = assert(trace.unpack("cw10", "\xAC" .. word(0, 512, 1023, 3), 3))
      assert.equal(-0.5, t[1])
      assert.equal(0.0, t[2])
      assert.equal(1023 / 1024 - 0.5, t[3])
      assert.is_nil(t[0])
      assert.is_nil(t[4])
      assert.same({ -0.5, 0.0, 1023 / 1024 - 0.5 }, t:values())
    end)

    it("starts at the marked sample, less the presamples, as NewAE's processData", function()
      local codes = ramp(30, 10)
      local t = assert(trace.unpack("cw10", cw10(codes, 10), 12))
      assert.equal(12, #t)
      assert.equal(codes[11], t:raw(1))
      assert.equal(1, t:trigger_index())
      t = assert(trace.unpack("cw10", cw10(codes, 10), 12, 4))
      assert.equal(codes[7], t:raw(1))
      assert.equal(5, t:trigger_index())
    end)

    it("keeps the start when fewer samples than presamples precede the mark", function()
      local codes = ramp(9, 10)
      local t = assert(trace.unpack("cw10", cw10(codes, 2), 9, 5))
      assert.equal(codes[1], t:raw(1))
      assert.equal(3, t:trigger_index())
    end)

    it("returns what there is when the read-out is short, and ignores a partial word", function()
      local t = assert(trace.unpack("cw10", cw10(ramp(6, 10)) .. "\1\2", 3000))
      assert.equal(6, #t)
    end)

    it("refuses a read-out without the sync byte or without a whole word", function()
      assert.same({ nil, "the ADC read-out starts with 0x00, not the sync byte 0xAC",
        "malformed" }, { trace.unpack("cw10", "\0" .. word(1, 2, 3, 3), 3) })
      assert.same({ nil, "the ADC read-out is empty", "malformed" },
        { trace.unpack("cw10", "", 3) })
      assert.same({ nil, "the ADC read-out holds no whole sample", "malformed" },
        { trace.unpack("cw10", "\xAC\1\2", 3) })
    end)

    it("unpacks 24 400 samples, a CW-Lite's whole buffer", function()
      local codes = ramp(24400, 10)
      local t = assert(trace.unpack("cw10", cw10(codes, 0), 24400))
      assert.same(codes, t:raw())
    end)
  end)

  describe("unpack('husky12' | 'husky8', ...)", function()
    it("unpacks two 12-bit samples from three bytes, big-endian", function()
      local t = assert(trace.unpack("husky12", "\xAB\xCD\xEF\x12\x34\x56", 4))
      assert.same({ 0xABC, 0xDEF, 0x123, 0x456 }, t:raw())
      assert.equal(12, t:bits())
      assert.equal(0xABC / 4096 - 0.5, t[1])
      local codes = ramp(3001, 12)
      assert.same(codes, assert(trace.unpack("husky12", husky12(codes), 3001)):raw())
    end)

    it("unpacks 8-bit samples", function()
      local t = assert(trace.unpack("husky8", "\0\128\255", 3))
      assert.same({ 0, 128, 255 }, t:raw())
      assert.equal(8, t:bits())
      assert.equal(0.5 - 1 / 256, t[3])
    end)

    it("puts the capture's first sample after the presamples", function()
      assert.equal(1, assert(trace.unpack("husky8", ("\1"):rep(9), 9)):trigger_index())
      assert.equal(4, assert(trace.unpack("husky8", ("\1"):rep(9), 9, 3)):trigger_index())
    end)
  end)

  describe("new()", function()
    it("makes a trace from codes", function()
      local t = trace.new({ 0, 1, 1023 }, 10, 2)
      assert.equal(3, #t)
      assert.equal(2, t:trigger_index())
      assert.equal("cwlua.Trace (3 samples, 10-bit)", tostring(t))
    end)

    it("raises on codes out of range and bad arguments", function()
      assert.has_error(function() trace.new({ 1024 }, 10) end,
        "trace.new: code 1 is not an integer from 0 to 1023")
      assert.has_error(function() trace.new({ 1 }, 9) end)
      assert.has_error(function() trace.new({ 1 }, 10, 2) end)
      assert.has_error(function() trace.unpack("cw11", "", 1) end)
    end)
  end)

  describe("f32()", function()
    it("gives each sample as a little-endian float32, exactly t[i]", function()
      local codes = ramp(100, 12)
      local t = trace.new(codes, 12)
      local vals = { string.unpack("<" .. ("f"):rep(100), t:f32()) }
      for i = 1, 100 do assert.equal(t[i], vals[i]) end
    end)
  end)
end)
