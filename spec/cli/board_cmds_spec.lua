-- SPDX-License-Identifier: MIT
-- cwlua reset / power / clock / list / sim faults on the in-process simulator (contract.md §3).
local cli = require "support.cli"

local function sim(args, env)
  local a = args[1] == "-d" and {} or { "-d", "sim" } -- -d given once (contract.md §3.1)
  for _, x in ipairs(args) do a[#a + 1] = x end
  return cli.run(a, env or { XDG_STATE_HOME = cli.tmpdir() })
end

describe("board commands", function()
  after_each(cli.cleanup)

  describe("clock", function()
    it("shows the clock a default_setup() board gives its target", function()
      local r = sim({ "clock" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("7384615 Hz (clkgen on HS2)\n", r.stdout)
    end)
    it("sets a frequency and prints the achieved one", function()
      local r = sim({ "clock", "7.37e6" })
      assert.are.equal("7384615 Hz (clkgen on HS2)\n", r.stdout)
      r = sim({ "clock", "8MHz" })
      assert.are.equal("8000000 Hz (clkgen on HS2)\n", r.stdout)
      r = sim({ "--json", "clock", "16000000" })
      assert.are.equal('{"cause":"ok","dividers":{"div":12,"input_hz":96000000,"mul":2},'
        .. '"hz":16000000,"locked":true,"schema":1,"source":"clkgen"}\n', r.stdout)
    end)
    it("turns the clock off", function()
      local r = sim({ "clock", "off" })
      assert.are.equal(0, r.status)
      assert.are.equal("no clock on HS2 (off)\n", r.stdout)
    end)
    it("exits 2 for a frequency that is not one, or out of range", function()
      local r = sim({ "clock", "fast" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: 'fast' is not a frequency; give Hz like 7.37e6, 7370000 or "
        .. "7.37MHz\n", r.stderr)
      r = sim({ "clock", "1GHz" })
      assert.are.equal(2, r.status)
      assert.matches("^cwlua: cwlite %x+: 1e%+09 Hz is outside what the clock generator can make "
        .. "%(0%.753 to 200 MHz%)\n$", r.stderr)
    end)
    -- the Husky's and the Nano's clocks: clock_spec.lua
  end)

  describe("power", function()
    it("switches target power", function()
      assert.are.equal("target power off\n", sim({ "power", "off" }).stdout)
      assert.are.equal("target power on\n", sim({ "power", "cycle", "--delay-ms", "100" }).stdout)
      assert.are.equal('{"cause":"ok","power":"on","schema":1}\n',
        sim({ "power", "on", "--json" }).stdout)
    end)
    it("exits 2 without a valid action and 3 on a Nano", function()
      local r = sim({ "power", "up" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: power needs one of on, off, cycle; usage: cwlua power "
        .. "on|off|cycle [--delay-ms MS]\n", r.stderr)
      r = sim({ "-d", "sim:nano", "power", "on" })
      assert.are.equal(3, r.status)
      assert.matches("^cwlua: nano %x+: the CW%-Nano cannot switch target power %(its firmware has "
        .. "no request for it%)\n$", r.stderr)
    end)
  end)

  describe("reset", function()
    it("pulses nRST", function()
      local r = sim({ "reset" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("reset: nrst low for 10 ms\n", r.stdout)
      r = sim({ "reset", "--ms", "50", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("", r.stdout)
    end)
    it("pulses nRST on a CW-Nano, which cannot report the line's earlier mode", function()
      local r = sim({ "-d", "sim:nano", "reset" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("reset: nrst low for 10 ms\n", r.stdout)
      assert.are.equal("", r.stderr)
    end)
    it("exits 2 for an unknown target", function()
      local r = sim({ "reset", "stm32f7" })
      assert.are.equal(2, r.status)
      assert.matches("^cwlua: unknown target 'stm32f7'", r.stderr)
    end)
  end)

  describe("list", function()
    it("lists the simulated board with -d sim", function()
      local r = sim({ "list" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^boards:\n  cwlite  %x+  firmware 0%.65%.0  FPGA configured  %(simulated%)\n",
        r.stdout)
      r = sim({ "list", "--json" })
      assert.matches('^{"boards":%[{"backend":"sim","firmware":"0%.65%.0","fpga":"configured",'
        .. '"kind":"cwlite","product":"ChipWhisperer Lite","serial":"%x+"}%],"cause":"ok",'
        .. '"ports":%[.*%],'
        .. '"schema":1}\n$', r.stdout)
    end)
    -- docs/install.md: `cwlua list` marks these boards; opening one for a command stops (old
    -- firmware) or loads a bitstream (FPGA), listing it changes nothing and is no error
    it("marks a board with old firmware or an unconfigured FPGA, exit 0", function()
      local r = sim({ "--sim-fault", "old-firmware", "list" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^boards:\n  cwlite  %x+  firmware 0%.20%.0 %(too old for cwlua, which needs "
        .. "0%.30%.0%)  FPGA configured  %(simulated%)\n", r.stdout)
      assert.are.equal("", r.stderr)
      r = sim({ "--sim-fault", "old-firmware=0.60.0", "--json", "list" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches('^{"boards":%[{"backend":"sim","firmware":"0%.60%.0","firmware_note":'
        .. '"NewAE ships 0%.65%.0","fpga":"configured",', r.stdout)
      r = sim({ "--sim-fault", "fpga-unprogrammed", "list" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^boards:\n  cwlite  %x+  firmware 0%.65%.0  FPGA unconfigured  "
        .. "%(simulated%)\n", r.stdout)
      assert.are.equal("", r.stderr)
      r = sim({ "--sim-fault", "fpga-unprogrammed", "--json", "list" })
      assert.matches('"fpga":"unconfigured"', r.stdout)
      assert.matches('"cause":"ok"', r.stdout)
      r = sim({ "-d", "sim:nano", "list" })
      assert.matches("^boards:\n  nano    %x+  firmware 0%.66%.0  FPGA none  %(simulated%)\n",
        r.stdout)
    end)
  end)

  describe("board errors", function()
    it("exits 3 naming the cause when the FPGA is unconfigured", function()
      local r = sim({ "--sim-fault", "fpga-unprogrammed", "clock" })
      assert.are.equal(3, r.status)
      assert.matches("its FPGA is not configured", r.stderr)
    end)
    it("exits 3 when the board is busy (the state folder is locked)", function()
      local state, tmp = cli.tmpdir(), cli.tmpdir()
      local env = { XDG_STATE_HOME = state }
      -- a script holds the simulated board (and its state-folder lock), says so in a file,
      -- and waits for a line on stdin before it lets go
      local s = cli.write(tmp .. "/hold.lua", ("local b = assert(cw.open())\n"
        .. "local f = assert(io.open(%q, 'w')) f:write('locked') f:close()\n"
        .. "io.read('l')\nb:close()\n"):format(tmp .. "/ready"))
      local p = io.popen(("env XDG_STATE_HOME=%s %s -d sim run %s"):format(cli.quote(state),
        cli.quote(cli.BIN), cli.quote(s)), "w")
      for _ = 1, 600 do -- up to 30 s on a loaded machine
        local f = io.open(tmp .. "/ready")
        if f then f:close() break end
        os.execute("sleep 0.05")
      end
      local r = sim({ "clock" }, env)
      p:write("\n")
      p:close()
      assert.are.equal(3, r.status, r.stderr)
      assert.matches("^cwlua: sim: .*in use", r.stderr)
    end)
  end)

  describe("sim faults", function()
    it("lists the faults with their arguments and defaults", function()
      local r = cli.run({ "sim", "faults" })
      assert.are.equal(0, r.status)
      assert.matches("\nuart%-rx%-open +the target's TX never reaches the board", r.stdout)
      assert.matches("\nslow%-erase=F +.*%(default 10%)\n", r.stdout)
      assert.matches("\nread%-protected +.*%[persistent%]\n", r.stdout)
    end)
  end)
end)
