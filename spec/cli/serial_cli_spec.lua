-- SPDX-License-Identifier: MIT
-- -d serial:PATH and --gpio-seq on the command line (contract.md §3.4). What needs a port
-- that exists (lines, 8E1, unplug, permission, busy) runs in tests/serial on a simulated
-- adapter; these are the parts that need none.
local cli = require "support.cli"

-- A script that opens the -d device and prints what cw.open returned.
local OPEN = [[
local p, msg, code = cw.open()
if p then print("opened", p:info().path) else print(msg) print(code) end
]]

local function open_with(args)
  local a = {}
  for _, x in ipairs(args) do a[#a + 1] = x end
  a[#a + 1] = "run"
  a[#a + 1] = "-"
  return cli.run(a, nil, OPEN)
end

describe("serial ports on the command line", function()
  after_each(cli.cleanup)

  describe("-d serial:PATH", function()
    it("says there is no such port and how to find the ports", function()
      local r = open_with({ "-d", "serial:/dev/ttyUSB-cwlua-none" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("serial:/dev/ttyUSB-cwlua-none: no such port (No such file or "
        .. "directory); check the path and the cable, and run 'cwlua list' to see the serial "
        .. "ports\nno_device\n", r.stdout)
    end)

    it("refuses what is not a character device", function()
      local dir = cli.tmpdir()
      local r = open_with({ "-d", "serial:" .. dir })
      assert.are.equal(("serial:%s: not a serial port (not a character device)\ninvalid\n")
        :format(dir), r.stdout)
    end)

    it("refuses a device libserialport does not know as a serial port", function()
      local r = open_with({ "-d", "serial:/dev/null" })
      assert.are.equal("serial:/dev/null: libserialport does not know it as a serial port\n"
        .. "unsupported\n", r.stdout)
    end)

    it("needs a path", function()
      local r = cli.run({ "-d", "serial:", "list" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: device spec 'serial:' (from -d) needs a port: serial:/dev/ttyUSB0\n",
        r.stderr)
    end)
  end)

  describe("--gpio-seq", function()
    it("is in the help", function()
      local r = cli.run({ "--help" })
      -- too wide for the column: its help starts on the next line
      assert.is_truthy(r.stdout:find("      --gpio-seq ENTRY[:EXIT]\n" .. (" "):rep(25)
        .. "serial:PATH only: reset/boot lines, stm32flash -i sequences\n" .. (" "):rep(25)
        .. "of rts, dtr, brk ('-' low, ',' 100 ms, '&' none), e.g.\n", 1, true), r.stdout)
    end)

    it("is a usage error when malformed, before anything is opened", function()
      local r = cli.run({ "-d", "serial:/dev/ttyUSB-cwlua-none", "--gpio-seq", "rts&&x", "list" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --gpio-seq 'rts&&x': unknown signal 'x' at column 6; use rts, dtr "
        .. "or brk, '-' before one for low, ',' (100 ms) or '&' between\n", r.stderr)
    end)

    it("says that numeric sysfs GPIOs are not supported", function()
      local r = cli.run({ "-d", "serial:/dev/ttyUSB0", "--gpio-seq=-3&-2,2:3&-2,,,2", "list" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --gpio-seq '-3&-2,2:3&-2,,,2': GPIO 3 (column 2) is a sysfs GPIO "
        .. "number, which cwlua does not support; use the adapter's lines rts, dtr or brk\n",
        r.stderr)
    end)

    it("needs a serial port", function()
      local r = cli.run({ "-d", "sim", "--gpio-seq", "dtr,-dtr", "list" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --gpio-seq drives a serial adapter's lines; it needs -d "
        .. "serial:PATH (the device is 'sim')\n", r.stderr)
      r = cli.run({ "--gpio-seq", "dtr", "list" }, { CWLUA_DEVICE = "serial:/dev/ttyS9" })
      assert.are.equal(0, r.status, r.stderr)
    end)

    it("reaches the port's options", function()
      local r = cli.run({ "-d", "serial:/dev/ttyUSB0", "--gpio-seq", "-rts&dtr,-dtr:rts", "run",
        "-" }, nil, [[
local seq = require("cwlua.port").defaults.gpio_seq
print(seq.text, #seq.entry, #seq.exit)
]])
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("-rts&dtr,-dtr:rts\t3\t1\n", r.stdout)
    end)
  end)
end)
