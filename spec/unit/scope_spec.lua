-- SPDX-License-Identifier: MIT
-- cw.scope on the in-process simulator: settings checked before anything is written, cached
-- and restored by the board's snapshot; traces captured in a lab script's loop with
-- cw.simpleserial, at eight control transfers a trace; the read-out formats of the CW-Lite and
-- the Husky; a trigger that never comes.
local board = require "cwlua.board"
local scope = require "cwlua.scope"
local S = require "cwlua.simpleserial"
local aes = require "cwlua.aes"
local time = require "cwlua.time"

local SRC = os.getenv("CWLUA_SOURCE_DIR") or "."
local HELLO = SRC .. "/examples/stm32f1-hello/hello.hex"
local KEY = S.unhex("2b7e151628aed2a6abf7158809cf4f3c")

local dirs = {}
local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  dirs[#dirs + 1] = p
  return p
end

-- A board with a CW308 STM32F1 running simpleserial-aes (its flash programmed first: a chip
-- with a blank flash runs no application).
local function lab(spec, opts)
  opts = opts or {}
  local b = assert(board.open(spec or "sim", { target = "stm32f100xb", state = tmpdir(),
    app = opts.app or "ss1-aes", faults = opts.faults }))
  assert(require("cwlua.flashapi").program("stm32f1", HELLO, { board = b, quiet = true }))
  return b
end

local function transfers(b)
  local c = b:sim_counters()
  return c.ctrl_in + c.ctrl_out, c.bulk_in + c.bulk_out
end

describe("cw.scope", function()
  teardown(function()
    for _, d in ipairs(dirs) do os.execute("rm -rf '" .. d .. "'") end
  end)

  describe("open() and get()", function()
    it("reads what NewAE's default_setup() leaves (cw-usb-protocol.md §6.1)", function()
      local b <close> = assert(board.open("sim"))
      local sc = assert(scope.open(b))
      local g = sc:get()
      assert.are.same({ 5000, 0, 0, 1, 24.836, 30, "high", "tio4", "rising_edge", 0, 10,
        24400, "cwlite" }, { g.samples, g.offset, g.presamples, g.decimate, g.gain, g.gain_raw,
        g.gain_mode, g.trigger, g.mode, g.trigger_module, g.bits, g.max_samples, g.board })
      assert.are.equal(96e6 * 2 / 26 * 4, g.adc_hz) -- CLKGEN x 4 (§4.8)
    end)

    it("knows the Husky's depth, gain, 12-bit read-out and ADC clock", function()
      local b <close> = assert(board.open("sim:husky"))
      local g = assert(scope.open(b)):get()
      assert.are.same({ 12, 131124, "husky" }, { g.bits, g.max_samples, g.board })
      assert.is_true(math.abs(g.adc_hz - 29480519.48) < 1)
    end)

    it("returns unsupported on a CW-Nano", function()
      local b <close> = assert(board.open("sim:nano"))
      local sc, msg, code = scope.open(b)
      assert.is_nil(sc)
      assert.are.equal("unsupported", code)
      assert.matches("the CW%-Nano's ADC is not supported", msg)
    end)
  end)

  describe("set()", function()
    it("writes only what changes", function()
      local b <close> = assert(board.open("sim"))
      local sc = assert(scope.open(b))
      local n0 = transfers(b)
      assert.is_true(sc:set{ samples = 3000, offset = 10, trigger = "tio3 or tio4" })
      local n1 = transfers(b)
      assert.are.equal(3, n1 - n0) -- SAMPLES, OFFSET, TRIGSRC: one write each
      assert.is_true(sc:set{ samples = 3000, offset = 10, trigger = "tio3 or tio4" })
      assert.are.equal(n1, (transfers(b)))
      assert.are.same({ 3000, 10, "tio3 or tio4" }, { sc:get().samples, sc:get().offset,
        sc:get().trigger })
      assert.are.equal("\xB8\x0B\0\0", b:fpga_read(16, 4))
      assert.are.equal("\x30", b:fpga_read(39, 1))
    end)

    it("sets the gain in dB as NewAE does (§4.7)", function()
      local b <close> = assert(board.open("sim"))
      local sc = assert(scope.open(b))
      sc:set{ gain = 0 }
      assert.are.same({ "low", 10 }, { sc:get().gain_mode, sc:get().gain_raw })
      assert.are.equal(0, b:fpga_read(1, 1):byte() & 0x02)
      sc:set{ gain = 45 }
      assert.are.same({ "high", 61 }, { sc:get().gain_mode, sc:get().gain_raw })
    end)

    it("raises on a bad value before writing anything", function()
      local b <close> = assert(board.open("sim"))
      local sc = assert(scope.open(b))
      local n0 = transfers(b)
      for _, case in ipairs({
        { { samples = 0 }, "scope: samples must be from 1 to 24400" },
        { { samples = 24401 }, "scope: samples must be from 1 to 24400" },
        { { samples = 1.5 }, "scope: samples must be an integer" },
        { { gain = 57 }, "scope: gain must be from -6.5 to 56 dB on a CW-Lite" },
        { { mode = "edge" }, "scope: mode must be one of rising_edge, falling_edge, high, low" },
        { { trigger = "tio5" }, "scope: unknown trigger input 'tio5' (use tio1, tio2, tio3, "
          .. "tio4, nrst or aux)" },
        { { trigger = "tio1 or tio2 and tio3" }, "scope: trigger 'tio1 or tio2 and tio3': join "
          .. "inputs with one of or, and, nand" },
        { { bits = 8 }, "scope: bits must be 10 on a CW-Lite" },
        { { samples = 3000, colour = 1 }, "scope: unknown setting 'colour' (samples, offset, "
          .. "presamples, decimate, gain, trigger, mode, bits)" },
      }) do
        local ok, err = pcall(sc.set, sc, case[1])
        assert.is_false(ok)
        assert.are.equal(case[2], tostring(err):gsub("^[^:]*:%d+: ", ""))
      end
      assert.are.equal(n0, (transfers(b)))
    end)
  end)

  describe("the board's snapshot", function()
    it("puts back every ADC register the scope changed, disarmed", function()
      local b <close> = assert(board.open("sim"))
      local before = { b:fpga_read(0, 1), b:fpga_read(1, 1), b:fpga_read(16, 4),
                       b:fpga_read(26, 4), b:fpga_read(39, 1) }
      do
        local _ <close> = assert(b:snapshot())
        local sc = assert(scope.open(b, { samples = 100, gain = 40, offset = 7,
          trigger = "nrst", mode = "low" }))
        assert(sc:arm())
        assert.are_not.same(before[3], b:fpga_read(16, 4))
      end
      assert.are.same(before, { b:fpga_read(0, 1), b:fpga_read(1, 1), b:fpga_read(16, 4),
                               b:fpga_read(26, 4), b:fpga_read(39, 1) })
      -- a scope opened later knows the restored values
      assert.are.equal(5000, assert(scope.open(b)):get().samples)
    end)
  end)

  describe("capture()", function()
    it("captures in a lab script's loop, eight control transfers and one bulk read a trace",
      function()
        local b <close> = lab()
        local sc = assert(scope.open(b, { samples = 3000 }))
        local ss = assert(S.open(b))
        assert(ss:set_key(KEY))
        local pt = S.unhex("3243f6a8885a308d313198a2e0370734")
        for i = 1, 4 do
          local c0, k0 = transfers(b)
          assert(sc:arm())
          assert.are.equal(aes.encrypt(KEY, pt), assert(ss:encrypt(pt)))
          local t = assert(sc:capture())
          local c1, k1 = transfers(b)
          assert.are.equal(3000, #t)
          assert.are.equal(1, t:trigger_index())
          assert.are.equal(10, t:bits())
          for j = 1, #t, 97 do
            assert.is_true(t[j] >= -0.5 and t[j] < 0.5)
            assert.are.equal(t:raw(j) / 1024 - 0.5, t[j])
          end
          if i > 1 then -- the first call learns how long the target takes to answer
            assert.are.equal(8, c1 - c0)
            assert.are.equal(1, k1 - k0)
          end
        end
      end)

    it("reads out while the reply is on the wire: arm, send, capture, read", function()
      local b <close> = lab()
      local sc = assert(scope.open(b, { samples = 500 }))
      local ss = assert(S.open(b))
      assert(ss:set_key(KEY))
      local pt = S.unhex("00112233445566778899aabbccddeeff")
      for _ = 1, 3 do
        assert(sc:arm())
        assert(ss:write("p", pt))
        local t = assert(sc:capture(nil, { not_before = ss.stream:sent_at() }))
        assert.are.equal(aes.encrypt(KEY, pt), assert(ss:read("r", 16)))
        assert.are.equal(500, #t)
      end
    end)

    it("keeps presamples before the capture's first sample", function()
      for _, spec in ipairs({ "sim", "sim:husky" }) do
        local b <close> = lab(spec)
        local sc = assert(scope.open(b, { samples = 600, presamples = 90 }))
        local ss = assert(S.open(b))
        assert(sc:arm())
        assert(ss:encrypt(KEY))
        local t = assert(sc:capture())
        assert.are.equal(600, #t, spec)
        assert.are.equal(91, t:trigger_index(), spec)
      end
    end)

    it("unpacks the Husky's 12-bit and 8-bit read-outs", function()
      local b <close> = lab("sim:husky")
      local sc = assert(scope.open(b, { samples = 1000 }))
      local ss = assert(S.open(b))
      for _, bits in ipairs({ 12, 8, 12 }) do
        sc:set{ bits = bits }
        assert(sc:arm())
        assert(ss:encrypt(KEY))
        local t = assert(sc:capture())
        assert.are.same({ 1000, bits, bits }, { #t, t:bits(), sc:get().bits })
        local hi = 0
        for _, c in ipairs(t:raw()) do hi = math.max(hi, c) end
        assert.is_true(hi < (1 << bits) and hi > (1 << (bits - 2)))
      end
    end)

    it("returns timeout, disarmed, when the trigger never reaches the board", function()
      local b <close> = lab("sim", { faults = { "trigger-open" } })
      local sc = assert(scope.open(b, { samples = 500 }))
      local ss = assert(S.open(b))
      assert(sc:arm())
      local t0 = time.now()
      assert(ss:encrypt(KEY)) -- the target works; its trigger goes nowhere
      local t, msg, code = sc:capture(100)
      assert.is_nil(t)
      assert.are.equal("timeout", code)
      assert.matches(": no trigger within 100 ms %(trigger tio4, rising_edge%)$", msg)
      assert.is_true(time.now() - t0 < 0.2)
      assert.has_error(function() sc:capture() end,
        "scope:capture: the scope is not armed (scope:arm() first)")
    end)

    it("refuses new settings while armed", function()
      local b <close> = assert(board.open("sim"))
      local sc = assert(scope.open(b))
      assert(sc:arm())
      assert.has_error(function() sc:set{ samples = 10 } end)
      assert(sc:disarm())
      assert.is_true(sc:set{ samples = 10 })
    end)
  end)
end)
