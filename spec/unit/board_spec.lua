-- SPDX-License-Identifier: MIT
-- cwlua.board over the in-process simulator: pins, power, clock, serial, snapshot, time.
local board = require "cwlua.board"
local time = require "cwlua.time"
local device = require "cwlua.core.device"

describe("cwlua.board", function()
  describe("open()", function()
    it("connects: firmware version and FPGA state", function()
      local b <close> = assert(board.open("sim"))
      local i = b:info()
      assert.are.same({ "cwlite", "CW-Lite", "0.65.0", "configured", "sim" },
        { i.kind, i.name, i.firmware, i.fpga, i.backend })
    end)

    it("names every simulated board kind", function()
      for kind, fw in pairs({ cw1200 = "1.62.0", husky = "1.5.0", nano = "0.66.0" }) do
        local b <close> = assert(board.open("sim:" .. kind))
        assert.are.equal(kind, b:info().kind)
        assert.are.equal(fw, b:info().firmware)
      end
    end)

    it("refuses a board whose FPGA is not configured when no bitstream is found", function()
      local bitstream = require "cwlua.bitstream"
      local pythons = bitstream.PYTHONS
      bitstream.PYTHONS = {} -- not the machine's chipwhisperer package
      local b, msg, code = board.open("sim", { faults = { "fpga-unprogrammed" } })
      bitstream.PYTHONS = pythons
      assert.is_nil(b)
      assert.are.equal("fpga_unprogrammed", code)
      assert.matches("its FPGA is not configured %(as after power%-up%) and cwlua found "
        .. "no bitstream to load\n  looked at: %-%-bitstream %(not given%)\n", msg)
    end)

    it("opens USB boards through libusb: with none attached, says so", function()
      local usb_list = device.usb_list
      device.usb_list = function() return {} end -- whatever this machine has plugged in
      local b, msg, code = board.open("usb")
      device.usb_list = usb_list
      assert.is_nil(b)
      assert.are.equal("no_device", code)
      assert.are.equal("usb: no ChipWhisperer board found; connect one (cwlua list shows what "
        .. "is attached), or use -d sim for the simulator", msg)
    end)

    it("raises for a malformed spec", function()
      assert.has_error(function() board.open("bogus") end)
    end)
  end)

  describe("pin()", function()
    it("starts from NewAE's default_setup() routing (§6.1)", function()
      local b <close> = assert(board.open("sim"))
      assert.are.same({ "serial_rx", "serial_tx", "high_z", "high_z", "high_z" },
        { b:pin("tio1"), b:pin("tio2"), b:pin("tio3"), b:pin("tio4"), b:pin("nrst") })
    end)

    it("drives pins the simulated target then sees", function()
      local b <close> = assert(board.open("sim"))
      assert.are.equal("low", b:pin("nrst", "low"))
      assert.are.equal("low", b:sim_view().pins.nrst)
      assert.are.equal("high", b:pin("pdic", "high"))
      assert.are.equal("high", b:sim_view().pins.pdic)
      assert.are.equal("high_z", b:pin("nrst", "high_z"))
      assert.are.equal("z", b:sim_view().pins.nrst)
      assert.are.equal("high", b:pin("tio3", "high"))
      assert.are.equal("high", b:sim_view().pins.tio3)
      assert.are.equal("serial_tx", b:pin("tio1", "serial_tx"))
      assert.are.equal("serial_rx", b:pin("tio1", "default"))
    end)

    it("raises for an unknown pin or a mode the pin cannot have", function()
      local b <close> = assert(board.open("sim"))
      assert.has_error(function() b:pin("tio9", "high") end,
        "pin: unknown pin 'tio9' (use tio1, tio2, tio3, tio4, nrst, pdic, pdid)")
      assert.has_error(function() b:pin("tio4", "serial_rx") end,
        "pin: mode 'serial_rx' is not possible on tio4 (use default, high, high_z, low, "
        .. "serial_tx)")
      assert.has_error(function() b:pin("nrst", "serial_tx") end,
        "pin: mode 'serial_tx' is not possible on nrst (use default, high, high_z, low)")
    end)

    it("on the Nano sets only tio3, nrst, pdic, pdid and cannot read modes back", function()
      local b <close> = assert(board.open("sim:nano"))
      local ok, msg, code = b:pin("nrst")
      assert.is_nil(ok)
      assert.are.equal("unsupported", code)
      assert.matches("the CW%-Nano cannot report pin modes", msg)
      assert.are.equal("low", b:pin("nrst", "low"))
      assert.are.equal("low", b:pin("nrst"))
      ok, msg, code = b:pin("tio1", "high")
      assert.is_nil(ok)
      assert.are.equal("unsupported", code)
      assert.matches("cannot set tio1", msg)
    end)
  end)

  describe("level()", function()
    it("reads TIO levels back on a CW-Lite and refuses nRST", function()
      local b <close> = assert(board.open("sim"))
      b:pin("tio3", "high")
      assert.are.equal(1, b:level("tio3"))
      b:pin("tio3", "low")
      assert.are.equal(0, b:level("tio3"))
      local ok, _, code = b:level("nrst")
      assert.is_nil(ok)
      assert.are.equal("unsupported", code)
    end)
  end)

  describe("power()", function()
    it("switches target power and the simulated target sees it", function()
      local b <close> = assert(board.open("sim"))
      assert.is_true(b:power())
      assert.is_false(b:power(false))
      assert.is_false(b:sim_view().power)
      assert.is_true(b:power(true))
      assert.is_true(b:sim_view().power)
    end)
  end)

  describe("clock()", function()
    it("gives 7384615 Hz for 7.37 MHz, as NewAE's search does (§4.8)", function()
      local b <close> = assert(board.open("sim"))
      local hz, src = b:clock(7.37e6)
      assert.are.equal(7384615, math.floor(hz))
      assert.are.equal("clkgen", src)
      assert.are.equal(7384615, math.floor(b:sim_view().clock_hz))
      assert.are.equal(7384615, math.floor(b:clock()))
    end)

    it("matches the document's M/D examples", function()
      for _, c in ipairs({ { 10e6, 5, 48 }, { 16e6, 2, 12 }, { 24e6, 2, 8 }, { 4e6, 2, 48 },
                           { 1e6, 2, 192 }, { 100e6, 25, 24 }, { 7.3728e6, 2, 26 } }) do
        local mul, div = board.clkgen_search(c[1], 96e6)
        assert.are.same({ c[2], c[3] }, { mul, div }, tostring(c[1]))
      end
    end)

    it("turns HS2 off with false, and the target loses its clock", function()
      local b <close> = assert(board.open("sim"))
      assert.are.same({ false, "off" }, { b:clock(false) })
      assert.are.equal(0, b:sim_view().clock_hz)
    end)

    it("refuses an out-of-range request with nothing changed", function()
      local b <close> = assert(board.open("sim"))
      local hz, msg, code = b:clock(1e9)
      assert.is_nil(hz)
      assert.are.equal("invalid", code)
      assert.matches("1e%+09 Hz is outside what the clock generator can make %(0%.753 to 200 MHz%)",
        msg)
      assert.are.equal(7384615, math.floor(b:clock()))
    end)

    it("raises for a non-number", function()
      local b <close> = assert(board.open("sim"))
      assert.has_error(function() b:clock("fast") end,
        "clock: hz must be a positive number or false")
    end)

    it("uses the Nano's 240 MHz / div clock (§7.2)", function()
      local b <close> = assert(board.open("sim:nano"))
      assert.are.same({ 7.5e6, "pck2" }, { b:clock(8e6) }) -- 240 MHz / 32, the nearest
      assert.are.same({ input_hz = 240e6, div = 32 }, b:clock_info().dividers)
    end)
  end)

  describe("serial()", function()
    it("round-trips bytes through a loop-back target at 115200 8E1", function()
      local b <close> = assert(board.open("sim", { target = "loopback" }))
      local s = assert(b:serial({ baud = 115200, parity = "even" }))
      assert.are.equal(115108, math.floor(s.actual_baud + 0.5)) -- §5.1 divider: CD 52, FP 1
      local data = string.rep("\x7F\x00\xFFcwlua", 15)
      assert.is_true(s:write(data))
      assert.are.equal(data, s:read(#data, 100))
      local v = b:sim_view()
      assert.are.same({ 115108, "even", 8 }, { math.floor(v.uart.baud + 0.5), v.uart.parity,
        v.uart.bits })
    end)

    it("talks to the simulated STM32 bootloader: sync and Get ID (AN3155)", function()
      local b <close> = assert(board.open("sim", { target = "stm32f100xb",
        state = require("support.cli").tmpdir() }))
      local s = assert(b:serial({ baud = 115200, parity = "even" }))
      b:pin("pdic", "high") -- BOOT0
      b:pin("nrst", "low")
      time.sleep(10)
      b:pin("nrst", "high_z")
      time.sleep(2)
      s:write("\x7F")
      assert.are.equal("\x79", s:read(1, 100)) -- ACK
      s:write("\x02\xFD")                      -- Get ID and its complement
      assert.are.equal("\x79\x01\x04\x20\x79", s:read(5, 100)) -- PID 0x420, the F100
    end)

    it("returns nil, msg, 'timeout' when nothing arrives, after the timeout in virtual time",
      function()
        local b <close> = assert(board.open("sim"))
        local s = assert(b:serial())
        local t0 = time.now_ns()
        local data, msg, code = s:read(1, 250)
        assert.is_nil(data)
        assert.are.equal("timeout", code)
        assert.are.equal("read: nothing received within 250 ms", msg)
        assert.is_true(time.now_ns() - t0 >= 250e6)
      end)

    it("gives a USB timeout as 'io', the board's failure, never the target's 'timeout'",
      function()
        -- the transfers up to a working stream, then the same with the next one timing out
        local n
        do
          local b <close> = assert(board.open("sim"))
          assert(b:serial())
          local c = b:sim_counters()
          n = c.ctrl_in + c.ctrl_out + c.bulk_in + c.bulk_out
        end
        local b <close> = assert(board.open("sim", { faults = { "usb-timeout-after=" .. n } }))
        local s = assert(b:serial())
        for _, call in ipairs({ function() return s:read(1, 250) end,
                                function() return s:write("x") end,
                                function() return s:read_until("\n", 250) end,
                                function() return s:available() end }) do
          local v, msg, code = call()
          assert.is_nil(v)
          assert.are.equal("io", code)
          assert.matches("timed out; the board stopped answering", msg)
        end
      end)

    it("reads up to a pattern and keeps the rest", function()
      local b <close> = assert(board.open("sim", { target = "loopback" }))
      local s = assert(b:serial({ baud = 38400 }))
      s:write("line one\nline two\n")
      assert.are.equal("line one\n", s:read_until("\n", 100))
      assert.are.equal("line two\n", s:read_until("\n", 100))
    end)

    it("raises on bad settings", function()
      local b <close> = assert(board.open("sim"))
      assert.has_error(function() b:serial({ parity = "weird" }) end,
        "serial: parity must be none, odd, even, mark or space")
      assert.has_error(function() b:serial({ speed = 9600 }) end,
        "serial: unknown setting 'speed'")
    end)
  end)

  describe("snapshot()", function()
    it("puts back pins, power, clock and serial settings when closed, also on error", function()
      local b <close> = assert(board.open("sim", { target = "loopback" }))
      local ok = pcall(function()
        local _ <close> = assert(b:snapshot())
        b:pin("nrst", "low")
        b:pin("tio1", "high")
        b:power(false)
        b:clock(16e6)
        b:serial({ baud = 115200, parity = "even" })
        error("recipe failed half-way")
      end)
      assert.is_false(ok)
      local v = b:sim_view()
      assert.are.same({ "z", true, 7384615 }, { v.pins.nrst, v.power, math.floor(v.clock_hz) })
      assert.are.equal("serial_rx", b:pin("tio1"))
      -- the board cannot report its USART settings: NewAE's target default 38400 8N1
      assert.are.same({ 38400, "none" }, { math.floor(v.uart.baud + 0.5), v.uart.parity })
    end)

    it("restores the serial settings cwlua itself set earlier", function()
      local b <close> = assert(board.open("sim"))
      b:serial({ baud = 57600, parity = "odd" })
      do
        local _ <close> = assert(b:snapshot())
        b:serial({ baud = 115200, parity = "even" })
      end
      local u = b:sim_view().uart
      assert.are.same({ 57623, "odd" }, { math.floor(u.baud + 0.5), u.parity })
    end)

    it("guard(): a restore that fails after a block that succeeded raises exit 3", function()
      local function block(faults, fail)
        local b <close> = assert(board.open("sim", { faults = faults }))
        local snap = assert(b:snapshot())
        local n
        local ok, e = pcall(function()
          local _ <close> = snap:guard()
          b:pin("nrst", "low")
          local c = b:sim_counters()
          n = c.ctrl_in + c.ctrl_out + c.bulk_in + c.bulk_out
          if fail then error("the block failed", 0) end
        end)
        return ok, e, n
      end
      local ok, _, n = block({})
      assert.is_true(ok)
      -- the board goes away at the restore's first transfer
      local e
      ok, e = block({ "unplug-after=" .. n })
      assert.is_false(ok)
      assert.are.equal("device", e.kind)
      assert.are.equal(3, e.exit)
      assert.are.equal("no_device", e.code)
      assert.matches("^the board could not be put back as found: cwlite .*the board is gone",
        e.message)
      -- after an error in the block, that error is the one that counts
      ok, e = block({ "unplug-after=" .. n }, true)
      assert.is_false(ok)
      assert.are.equal("the block failed", e)
    end)

    it("puts back glitch outputs a notebook left on", function()
      local b <close> = assert(board.open("sim", { faults = { "glitch-active" } }))
      local before = b:fpga_read(55, 8):byte(5)
      assert.are_not.equal(0, before)
      do
        local _ <close> = assert(b:snapshot())
        local io = b:fpga_read(55, 8)
        b:fpga_write(55, io:sub(1, 4) .. "\0" .. io:sub(6))
        assert.are.equal(0, b:fpga_read(55, 8):byte(5))
      end
      assert.are.equal(before, b:fpga_read(55, 8):byte(5))
    end)
  end)

  describe("close()", function()
    it("is idempotent and a closed board raises on use", function()
      local b = assert(board.open("sim"))
      assert.is_true(b:close())
      assert.is_true(b:close())
      assert.has_error(function() b:pin("nrst") end, "attempt to use a closed board")
    end)
  end)

  describe("virtual time", function()
    it("makes cw.sleep(1000) cost no real second while a simulator is open", function()
      local _ <close> = assert(board.open("sim")) -- its clock is the runtime clock now
      local real0, virt0 = device.monotonic_ns(), time.now_ns()
      time.sleep(1000)
      assert.are.equal(1000000000, time.now_ns() - virt0)
      assert.is_true(device.monotonic_ns() - real0 < 500000000)
    end)
  end)
end)
