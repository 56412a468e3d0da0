-- SPDX-License-Identifier: MIT
-- cwlua.flash: the board is left as found on every exit path (contract.md §3), glitch outputs
-- included, and a failed check touches nothing.
local board = require "cwlua.board"
local flash = require "cwlua.flash"
local cli = require "support.cli"
local images = require "support.images"

local function state(b)
  local v = b:sim_view()
  return { clock = math.floor(v.clock_hz), io = b:fpga_read(55, 8), hs2 = b:fpga_read(38, 1),
           nrst = v.pins.nrst, pdic = v.pins.pdic, baud = math.floor(v.uart.baud + 0.5),
           parity = v.uart.parity }
end

describe("cwlua.flash leaves the board as found", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(cli.cleanup)

  local function with_board(faults, f)
    local b <close> = assert(board.open("sim", { target = "stm32f100xb", faults = faults,
      state = cli.tmpdir() }))
    b:serial({ baud = 38400 }) -- what a notebook's cw.target() leaves (§6.4)
    return f(b)
  end

  it("after success: clock back to 7.37 MHz, pins, serial settings", function()
    with_board({}, function(b)
      local before = state(b)
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { 0x08000000, images.pattern(300) } }))
      local s = flash.program("stm32f1", hex, { board = b, quiet = true })
      assert.are.equal("ok", s.verify)
      assert.are.same(before, state(b))
    end)
  end)

  it("after a target that does not answer", function()
    with_board({ "uart-rx-open" }, function(b)
      local before = state(b)
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { 0x08000000, "\1\2\3\4" } }))
      local ok, e = pcall(flash.program, "stm32f1", hex, { board = b, quiet = true })
      assert.is_false(ok)
      assert.are.equal("target", e.kind)
      assert.are.same(before, state(b))
    end)
  end)

  it("after an image that does not fit, and nothing was erased", function()
    with_board({}, function(b)
      local good = cli.write(dir .. "/good.hex", images.hex({ { 0x08000000, "abcd" } }))
      flash.program("stm32f1", good, { board = b, quiet = true })
      local before = state(b)
      local big = cli.write(dir .. "/big.bin", images.pattern(140 * 1024))
      local ok, e = pcall(flash.program, "stm32f1", big, { board = b, quiet = true })
      assert.is_false(ok)
      assert.are.equal("input", e.kind)
      assert.are.same(before, state(b))
      assert.are.same("verify", (flash.verify("stm32f1", good, { board = b, quiet = true })
        .verify == "ok") and "verify" or "mismatch")
    end)
  end)

  it("takes a product ID no STM32 has for a damaged reply (exit 4), not bad input", function()
    with_board({}, function(b)
      local before = state(b)
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { 0x08000000, "\1\2\3\4" } }))
      local Boot = require("cwlua.proto.stm32boot").Boot
      local get_id = Boot.get_id
      Boot.get_id = function(self) return get_id(self) ~ 0x200 end -- 0x420 -> 0x620: one bit
      local ok, e = pcall(flash.program, "stm32f1", hex, { board = b, quiet = true })
      Boot.get_id = get_id
      assert.is_false(ok)
      assert.are.equal("target", e.kind)
      assert.are.equal("garbled", e.code)
      assert.matches("^stm32f1: the chip reports product ID 0x620, which is no STM32 cwlua "
        .. "knows: the reply was probably damaged on the line", e.message)
      assert.are.same(before, state(b))
    end)
  end)

  it("switches glitch outputs off while programming and puts them back", function()
    with_board({ "glitch-active" }, function(b)
      local before = state(b)
      assert.are_not.equal(0, before.io:byte(5)) -- MOSFETs on, as a notebook left them
      local seen
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { 0x08000000, "\1\2\3\4" } }))
      -- look at the board while the first block is written (the engine class is shared)
      local Boot = require("cwlua.proto.stm32boot").Boot
      local write = Boot.write
      Boot.write = function(self, addr, data)
        seen = seen or { io = b:fpga_read(55, 8):byte(5), hs2 = b:fpga_read(38, 1):byte() & 0x60 }
        return write(self, addr, data)
      end
      local ok, e = pcall(flash.program, "stm32f1", hex, { board = b, quiet = true })
      Boot.write = write
      assert(ok, e)
      assert.are.same({ io = 0, hs2 = 0x40 }, seen)
      assert.are.same(before, state(b))
    end)
  end)
end)

describe("cwlua.flash on a CW-Husky", function()
  after_each(cli.cleanup)
  local pll = require "cwlua.board.pll"
  -- the PLL registers cw-usb-protocol.md §4.9.7 has the snapshot keep, and the lock bit
  local function regs(b)
    local t = {}
    for _, r in ipairs({ 0x01, 0x07, 0x1B, 0x1D, 0x1E, 0x25, 0x31, 0x32 }) do
      t[r] = pll.read_reg(b, r)
    end
    return t
  end

  it("programs an STM32F1 at NewAE's 8 MHz and leaves the PLL as it found it", function()
    local b <close> = assert(board.open("sim:husky", { target = "stm32f100xb",
      state = cli.tmpdir() }))
    -- a clock of the user's own, which the F1's 8 MHz must not replace for good
    assert.are.equal(10e6, (b:clock(10e6)))
    local before, hz_before = regs(b), b:sim_view().clock_hz
    local asked = {}
    local clock = b.clock
    b.clock = function(self, hz, ...) -- what the recipe asks for, and what the PLL makes
      local got, src = clock(self, hz, ...)
      if hz then asked[#asked + 1] = { hz, got, src } end
      return got, src
    end
    local hex = cli.write(cli.tmpdir() .. "/fw.hex", images.hex({ { 0x08000000,
      images.pattern(300) } }))
    local s = flash.program("stm32f1", hex, { board = b, quiet = true })
    assert.are.equal("ok", s.verify)
    -- 8 MHz exactly: d 1, m 40, p 5, /60 (cw-usb-protocol.md §4.9.6)
    assert.are.same({ { 8e6, 8e6, "pll" } }, asked)
    assert.are.same(before, regs(b))
    assert.are.equal(hz_before, b:sim_view().clock_hz)
    assert.are.equal(10e6, (clock(b)))
  end)

  it("a snapshot puts back a PLL a script retuned, and relocks it", function()
    local b <close> = assert(board.open("sim:husky", { state = cli.tmpdir() }))
    local before = regs(b)
    local snap = assert(b:snapshot())
    assert.are.equal(24e6, (b:clock(24e6, { adc_mul = 2 })))
    assert.are_not.same(before, regs(b))
    assert.is_true(snap:restore())
    assert.are.same(before, regs(b))
    local info = b:clock_info()
    assert.are.same({ 7370130, "pll", true }, { math.floor(info.hz + 0.5), info.source,
      info.locked })
  end)
end)

describe("cwlua.flash.image_limit", function()
  it("is the largest flash of the part tables (2 MiB, STM32F42x/43x) plus 64 KiB", function()
    local limit, what = flash.image_limit()
    assert.are.equal(2 * 1024 * 1024 + 64 * 1024, limit)
    assert.are.equal("any supported chip's flash (2 MiB)", what)
  end)
end)
