-- SPDX-License-Identifier: MIT
-- Connecting to a board (cwlua.connect, contract.md §3): the firmware check, loading the FPGA
-- bitstream and the default set-up after it, on the in-process simulator; choosing a USB board
-- from a stubbed device list. The same paths over real libusb are tests/usb/usb_test.lua.
local bitstream = require "cwlua.bitstream"
local board = require "cwlua.board"
local cli = require "support.cli"
local device = require "cwlua.core.device"

-- A .bit with the size and sync offset of the one NewAE ships (§3.1, §3.2), which is what the
-- simulator checks before DONE rises; the payload is zeros.
local SHIPPED = { cwlite = { 340722, 0x86, "6slx9tqg144" }, cw1200 = { 1484523, 0x87,
  "6slx45csg324" }, husky = { 2192119, 0x9B, "7a35tftg256" } }
local function make_bit(kind, short)
  local size, sync, part = table.unpack(SHIPPED[kind])
  local head = "\0\9\15\240\15\240\15\240\15\240\0\0\1" .. "b" .. string.pack(">s2", part .. "\0")
  head = head .. ("\xFF"):rep(sync - #head) .. "\xAA\x99\x55\x66"
  return head .. ("\0"):rep(size - #head - (short or 0))
end

local function base64(s)
  local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return (s:gsub("..?.?", function(c)
    local x, y, z = c:byte(1, 3)
    local v = (x << 16) | ((y or 0) << 8) | (z or 0)
    local out = {}
    for k = 1, 4 do
      local i = (v >> (24 - 6 * k) & 63) + 1
      out[k] = a:sub(i, i)
    end
    if not y then out[3], out[4] = "=", "=" elseif not z then out[4] = "=" end
    return table.concat(out)
  end))
end

-- a zip with one stored entry (APPNOTE 4.3.7, 4.3.12, 4.3.16)
local function make_zip(name, data)
  local fields = string.pack("<I2I2I2I2I2I4I4I4I2I2", 20, 0, 0, 0, 0, bitstream.crc32(data),
    #data, #data, #name, 0)
  local local_part = "PK\3\4" .. fields .. name .. data
  local cd = "PK\1\2" .. string.pack("<I2", 20) .. fields .. string.pack("<I2I2I2I4I4", 0, 0, 0,
    0, 0) .. name
  return local_part .. cd .. "PK\5\6" .. string.pack("<I2I2I2I2I4I4I2", 0, 0, 1, 1, #cd,
    #local_part, 0)
end

local function quiet_open(spec, opts)
  local notes = {}
  opts.notify = function(msg) notes[#notes + 1] = msg end
  opts.state = opts.state or cli.tmpdir()
  local b, msg, code = board.open(spec, opts)
  return b, msg, code, notes
end

describe("connecting to a board", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(cli.cleanup)

  describe("an unconfigured FPGA", function()
    it("loads the bitstream in each form and applies the default set-up (§3.4, §6.1)", function()
      local bit = make_bit("cwlite")
      local zip = make_zip("cwlite_interface.bit", bit)
      local forms = {
        { cli.write(dir .. "/cwlite.bit", bit), dir .. "/cwlite.bit" },
        { cli.write(dir .. "/fw.zip", zip), "cwlite_interface.bit in " .. dir .. "/fw.zip" },
        { cli.write(dir .. "/cwlite.py", "_contents = {\n'cwlite_firmware.zip':'"
          .. base64(zip) .. "',\n}\n"), "cwlite_interface.bit in cwlite_firmware.zip in "
          .. dir .. "/cwlite.py" },
      }
      for _, f in ipairs(forms) do
        local b <close>, msg, _, notes = quiet_open("sim", { faults = { "fpga-unprogrammed" },
                                                          bitstream = f[1] })
        assert.is_truthy(b, msg)
        local i = b:info()
        assert.are.same({ "configured", f[2] }, { i.fpga, i.fpga_loaded })
        assert.are.same({ "cwlite " .. i.serial .. ": loading the FPGA bitstream " .. f[2],
          "cwlite " .. i.serial .. ": FPGA configured; applied NewAE's default set-up (TIO1 "
          .. "serial RX, TIO2 serial TX, clock on HS2)" }, notes)
        -- the register image of §6.1
        assert.are.same({ "serial_rx", "serial_tx", "high_z" },
          { b:pin("tio1"), b:pin("tio2"), b:pin("tio4") })
        assert.are.same({ 7384615.384615385, "clkgen" }, { b:clock() })
        assert.are.same({ 0x1E, 0x26, 0x20, 0x43 }, { b:fpga_read(0, 1):byte(),
          b:fpga_read(1, 1):byte(), b:fpga_read(39, 1):byte(), b:fpga_read(38, 1):byte() })
        assert.are.equal(5000, (string.unpack("<I4", b:fpga_read(16, 4))))
        assert.are.equal("\xE0\x01\x19\x02", b:fpga_read(6, 4)) -- ADVCLOCK, §6.1
        assert.are.equal(7384615, math.floor(b:sim_view().clock_hz + 0.5))
      end
    end)

    it("leaves a configured FPGA alone", function()
      local b <close>, _, _, notes = quiet_open("sim", { bitstream = "/nonexistent.bit" })
      assert.are.same({ "configured", nil }, { b:info().fpga, b:info().fpga_loaded })
      assert.are.same({}, notes)
    end)

    it("fails with 'fpga_unprogrammed' when DONE does not rise (§3.4 step 8)", function()
      local path = cli.write(dir .. "/short.bit", make_bit("cwlite", 1000))
      local b, msg, code = quiet_open("sim", { faults = { "fpga-unprogrammed" }, bitstream = path })
      assert.is_nil(b)
      assert.are.equal("fpga_unprogrammed", code)
      assert.matches("^cwlite %x+: the FPGA did not configure from " .. path:gsub("%p", "%%%0")
        .. " %(its DONE pin stayed low%); the file may be damaged or for another board: pass "
        .. "a good one with %-%-bitstream FILE$", msg)
    end)

    it("names the places it searched when there is no bitstream", function()
      local pythons = bitstream.PYTHONS
      bitstream.PYTHONS = { "/nonexistent/python3" }
      local b, msg, code = quiet_open("sim", { faults = { "fpga-unprogrammed" } })
      bitstream.PYTHONS = pythons
      assert.is_nil(b)
      assert.are.equal("fpga_unprogrammed", code)
      -- a short first line, then one place or way out to a line
      assert.matches("^cwlite %x+: its FPGA is not configured %(as after power%-up%) and "
        .. "cwlua found no bitstream to load\n", msg)
      assert.are.equal("  looked at: --bitstream (not given)\n"
        .. "             $CWLUA_BITSTREAM (not set)\n"
        .. "             the config files' bitstream (not set)\n"
        .. "             the chipwhisperer package of /nonexistent/python3 (no such Python)\n"
        .. "  do: pass --bitstream FILE: cwlite_interface.bit, NewAE's cwlite_firmware.zip, or\n"
        .. "      hardware/firmware/cwlite.py of NewAE's chipwhisperer Python package;\n"
        .. "      or set CWLUA_BITSTREAM=FILE; or install the package: pip install chipwhisperer",
        msg:match("\n(.*)$"))
      for line in msg:gmatch("[^\n]+") do
        if not line:find("^cwlite") then assert.is_true(#line <= 90, line) end
      end
    end)

    it("loads the Husky's bitstream and sets its PLL as NewAE's default_setup does", function()
      local path = cli.write(dir .. "/husky.bit", make_bit("husky"))
      local b <close>, msg, _, notes = quiet_open("sim:husky", { faults = { "fpga-unprogrammed" },
                                                                 bitstream = path })
      assert.is_truthy(b, msg)
      assert.are.same({ "serial_rx", "serial_tx" }, { b:pin("tio1"), b:pin("tio2") })
      assert.matches("applied NewAE's default set%-up", notes[2])
      assert.are.equal(0, #b:info().warnings)
      local info = b:clock_info()
      assert.are.same({ 7370130, "pll", true }, { math.floor(info.hz + 0.5), info.source,
        info.locked })
      -- the clock state cw-usb-protocol.md §6.2 lists: crystal input chosen by register (0x01
      -- bits 9..8 = 10), d 11, PSFB 5 with m 454 (0x1D = 0x41C6), prescalers A and B /4, 84, 21,
      -- channel 3 LVDS; the FPGA's MMCM powered down (48 = 3), the clock monitor off (82)
      local pll = require "cwlua.board.pll"
      local function reg(r) return pll.read_reg(b, r) end
      assert.are.same({ 0x2, 11, 0x41C6, 0, 84, 21, 0x05 }, { (reg(0x01) >> 8) & 3,
        reg(0x1B) & 0xFF, reg(0x1D), reg(0x1E) & 0xF, reg(0x25), reg(0x31), reg(0x32) & 0xFF })
      assert.are.same({ "\3", "\0" }, { b:fpga_read(48, 1), b:fpga_read(82, 1) })
    end)

    it("does not look for a bitstream on a CW-Nano, which has no FPGA", function()
      local b <close> = quiet_open("sim:nano", { bitstream = "/nonexistent.bit" })
      assert.are.equal("none", b:info().fpga)
    end)
  end)

  describe("the firmware version (§1.1, §2.4)", function()
    it("refuses firmware below what cwlua needs, naming both versions", function()
      local b, msg, code = quiet_open("sim", { faults = { "old-firmware" } })
      assert.is_nil(b)
      assert.are.equal("old_firmware", code)
      assert.matches("^cwlite %x+: firmware 0%.20%.0 is too old for cwlua, which needs at least "
        .. "0%.30%.0 %(NewAE ships 0%.65%.0%); update it with NewAE's chipwhisperer Python "
        .. "package: scope%.upgrade_firmware%(%) %(see docs/install%.md%)$", msg)
    end)

    it("warns about firmware older than NewAE ships, and works", function()
      local b <close>, _, _, notes = quiet_open("sim", { faults = { "old-firmware=0.52.0" } })
      local w = "cwlite " .. b:info().serial .. ": firmware 0.52.0 is older than 0.65.0, the "
        .. "version NewAE ships; update it with NewAE's chipwhisperer Python package: "
        .. "scope.upgrade_firmware() (see docs/install.md)"
      assert.are.same({ "warning: " .. w }, notes)
      assert.are.same({ w }, b:info().warnings)
      assert.are.equal("serial_rx", b:pin("tio1"))
    end)

    it("loads a bitstream without the programming speed below 0.52 (§2.4)", function()
      local path = cli.write(dir .. "/cwlite.bit", make_bit("cwlite"))
      local b <close>, msg = quiet_open("sim", { faults = { "fpga-unprogrammed",
                                                            "old-firmware=0.51.0" },
                                                 bitstream = path })
      assert.is_truthy(b, msg)
      assert.are.equal("configured", b:info().fpga)
    end)
  end)

  describe("on the command line", function()
    it("loads the --bitstream, says so on stderr, -q keeps it quiet", function()
      local path = cli.write(dir .. "/cwlite.bit", make_bit("cwlite"))
      local env = { XDG_STATE_HOME = cli.tmpdir() }
      local r = cli.run({ "-d", "sim", "--sim-fault", "fpga-unprogrammed", "--bitstream", path,
                          "clock" }, env)
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("7384615 Hz (clkgen on HS2)\n", r.stdout)
      assert.matches("^cwlua: cwlite %x+: loading the FPGA bitstream " .. path:gsub("%p", "%%%0")
        .. "\ncwlua: cwlite %x+: FPGA configured; applied NewAE's default set%-up %(TIO1 serial "
        .. "RX, TIO2 serial TX, clock on HS2%)\n$", r.stderr)
      r = cli.run({ "-q", "-d", "sim", "--sim-fault", "fpga-unprogrammed", "clock" },
        { XDG_STATE_HOME = cli.tmpdir(), CWLUA_BITSTREAM = path })
      assert.are.same({ 0, "" }, { r.status, r.stderr })
    end)

    it("exits 2 for a file that is not a bitstream", function()
      local path = cli.write(dir .. "/notes.txt", "hello\n")
      local r = cli.run({ "-d", "sim", "--sim-fault", "fpga-unprogrammed", "--bitstream", path,
                          "clock" }, { XDG_STATE_HOME = cli.tmpdir() })
      assert.are.equal(2, r.status)
      assert.matches(": its FPGA is not configured, and the bitstream from %-%-bitstream cannot "
        .. "be used: .* is not a bitstream: expected a %.bit file, NewAE's cwlite_firmware%.zip "
        .. "or chipwhisperer's hardware/firmware/cwlite%.py\n$", r.stderr)
    end)

    it("prints the diagnosis cause (contract.md §6) with --json", function()
      local r = cli.run({ "-d", "sim", "--sim-fault", "old-firmware", "--json", "clock" },
        { XDG_STATE_HOME = cli.tmpdir() })
      assert.are.equal(3, r.status)
      assert.matches('^{"cause":"old%-firmware","error":"cwlite %x+: firmware 0%.20%.0 is too old '
        .. 'for cwlua, .*","schema":1}\n$', r.stdout)
    end)
  end)
end)

describe("choosing a USB board (contract.md §3 -d usb, usb:SERIAL)", function()
  local usb_list, open = device.usb_list, device.open
  local opened
  local function attached(list)
    device.usb_list = function() return list end
    device.open = function(o)
      opened = o
      return nil, "stub: not opened", "io"
    end
  end
  local function board_at(kind, bus, address, serial, extra)
    local e = { kind = kind, bus = bus, address = address, serial = serial, vid = 0x2B3E,
                pid = 0xACE2, product = "", port = "" }
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end
  after_each(function()
    device.usb_list, device.open, opened = usb_list, open, nil
  end)

  it("opens the only board, by bus, address and serial", function()
    attached({ board_at("cwlite", 1, 7, "abc") })
    -- an I/O error says what to do about it (replug, no hub)
    assert.are.same({ nil, "usb: cannot open cwlite abc: stub: not opened"
      .. require("cwlua.connect").hint("io"), "io" }, { board.open("usb") })
    assert.are.same({ backend = "libusb", bus = 1, address = 7, serial = "abc" }, opened)
  end)

  it("ignores NewAE devices that are not capture boards", function()
    attached({ board_at("", 1, 3, "c305"), board_at("cwlite", 1, 7, "abc") })
    board.open("usb")
    assert.are.equal(7, opened.address)
  end)

  it("with several boards and no serial, lists them in bus order (code 'ambiguous')", function()
    attached({ board_at("cw1200", 2, 4, "PRO"), board_at("cwlite", 1, 9, "LITE"),
               board_at("nano", 1, 3, "NANO") })
    assert.are.same({ nil, "usb: 3 boards are attached (nano NANO, cwlite LITE, cw1200 PRO); "
      .. "choose one with -d usb:SERIAL", "ambiguous" }, { board.open("usb") })
    board.open("usb:LITE")
    assert.are.equal(9, opened.address)
  end)

  it("says which boards there are when the serial matches none", function()
    attached({ board_at("cwlite", 1, 9, "LITE") })
    assert.are.same({ nil, "usb:XYZ: no board with that serial number is attached (attached: "
      .. "cwlite LITE)", "no_device" }, { board.open("usb:XYZ") })
    attached({})
    assert.are.same({ nil, "usb:XYZ: no board with that serial number is attached (none is)",
      "no_device" }, { board.open("usb:XYZ") })
  end)

  it("reports a board it cannot open with what to do", function()
    attached({ board_at("cwlite", 1, 9, "", { code = "access", error = "permission denied" }) })
    local _, msg, code = board.open("usb")
    assert.are.equal("access", code)
    assert.matches("^usb: cannot open the cwlite at usb 001/009: permission denied; install "
      .. "cwlua's udev rule and join the plugdev group: sudo cp .*/share/cwlua/udev/60%-cwlua"
      .. "%.rules /etc/udev/rules%.d/ && sudo udevadm control %-%-reload%-rules && sudo udevadm "
      .. "trigger, then sudo usermod %-aG plugdev %$USER and log in again %(see "
      .. "docs/install%.md%)$", msg)
    _, msg, code = board.open("usb:LITE")
    assert.are.equal("access", code)
    assert.matches("^usb:LITE: cannot read the serial number of the cwlite at usb 001/009: "
      .. "permission denied; install cwlua's udev rule", msg)
  end)

  it("explains a busy board", function()
    attached({ board_at("cwlite", 1, 9, "LITE") })
    device.open = function() return nil, "usb 001/009: cannot claim interface 0: busy", "busy" end
    assert.are.same({ nil, "usb: cannot open cwlite LITE: usb 001/009: cannot claim interface "
      .. "0: busy; another program has the board open: close it there (in a notebook using "
      .. "NewAE's chipwhisperer, call scope.dis()), then run cwlua again", "busy" },
      { board.open("usb") })
  end)
end)
