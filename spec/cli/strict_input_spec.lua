-- SPDX-License-Identifier: MIT
-- Command-line values read strictly (contract.md §3.1, §5.4, §5.7): a fault value that would
-- wrap around, a latency out of range, a search folder that is not one, an option given twice,
-- simulator options for a real board. Each is exit 2 with one line, before anything runs.
local cli = require "support.cli"

local function sim(args, dir)
  local a = { "-d", "sim", "--sim-state", dir }
  for _, x in ipairs(args) do a[#a + 1] = x end
  return a
end

describe("strict command-line values", function()
  after_each(cli.cleanup)

  describe("--sim-fault values", function()
    it("refuses a count that would wrap around to 0, naming the fault and the range", function()
      local r = cli.run(sim({ "--sim-fault", "unplug-after=18446744073709551615", "info",
        "stm32f1" }, cli.tmpdir()))
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: sim: cwsim: bad value '18446744073709551615' for fault "
        .. "'unplug-after'; expected a whole number from 0 to 4294967295\n", r.stderr)
      assert.are.equal("", r.stdout)
    end)

    it("refuses negative, NaN, infinite, out-of-range values and trailing garbage", function()
      local N, P = "a whole number from 0 to 4294967295", "a probability from 0 to 1 (e.g. 1e-4)"
      local cases = {
        { "usb-stall-after", "-1", N }, { "usb-timeout-after", "4294967296", N },
        { "unplug-after", "0x10", N }, { "unplug-after", " 5", N },
        { "bit-flips", "nan", P }, { "drop-bytes", "inf", P }, { "bit-flips", "0.1x", P },
        { "baud-skew", "-51", "a percentage from -50 to 50" },
        { "slow-erase", "1e300", "a factor above 0, at most 1000" },
        { "old-firmware", "1.256", "a version MAJ.MIN[.DBG], each part 0 to 255" },
        { "write-protected", "99999999999999999999", "'all' or sectors 0 to 65535 like 0-3,7" },
      }
      for _, c in ipairs(cases) do
        local r = cli.run(sim({ "--sim-fault", c[1] .. "=" .. c[2], "info", "stm32f1" },
          cli.tmpdir()))
        assert.are.equal(2, r.status, c[1])
        assert.are.equal(("cwlua: sim: cwsim: bad value '%s' for fault '%s'; expected %s\n")
          :format(c[2], c[1], c[3]), r.stderr)
      end
    end)

    it("still takes the edges of each range", function()
      local r = cli.run(sim({ "--sim-fault", "unplug-after=4294967295", "--sim-fault",
        "bit-flips=0", "--sim-fault", "slow-erase=1000", "info", "stm32f1" }, cli.tmpdir()))
      assert.are.equal(0, r.status, r.stderr)
    end)
  end)

  describe("--sim-usb-latency", function()
    local LINE = "--sim-usb-latency '%s': expected milliseconds from 0 to 10000"

    it("has one rule in process and under sim attach: 0 to 10000 ms", function()
      for _, v in ipairs({ "1e9", "10000.5", "-1", "inf", "nan", "0x10", " 1", "abc", "" }) do
        local r = cli.run(sim({ "--sim-usb-latency", v, "info", "stm32f1" }, cli.tmpdir()))
        assert.are.equal(2, r.status, v)
        assert.are.equal("cwlua: " .. LINE:format(v) .. "\n", r.stderr)
        local a = cli.run({ "sim", "attach", "--sim-usb-latency", v, "cwlite", "--", "true" })
        assert.are.equal(2, a.status, v)
        assert.are.equal("cwlua sim attach: " .. LINE:format(v)
          .. "; run 'cwlua sim attach --help' for usage\n", a.stderr)
      end
    end)

    it("accepts the range's ends in process", function()
      for _, v in ipairs({ "0", "10000", "0.5", "2e3" }) do
        local r = cli.run(sim({ "--sim-usb-latency", v, "info", "stm32f1" }, cli.tmpdir()))
        assert.are.equal(0, r.status, v .. ": " .. r.stderr)
      end
    end)

    it("is checked by cw.open too", function()
      local script = cli.write(cli.tmpdir() .. "/s.lua", [[
        local ok, err = pcall(cw.open, "sim", { latency_ms = 1e9, state = arg[1] })
        print(ok, (tostring(err):gsub("^.-: ", "")))
      ]])
      local r = cli.run({ "run", script, cli.tmpdir() })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^false\t.*opts%.latency_ms must be 0 to 10000 %(milliseconds%)", r.stdout)
    end)
  end)

  describe("--sim-noise", function()
    local LINE = "--sim-noise '%s': expected a standard deviation from 0 to 1 (full-scale units)"

    it("takes 0 to 1 in decimal, by the simulator's own rule (cwsim_noise_parse)", function()
      for _, v in ipairs({ "1.5", "-0.1", "inf", "nan", "0x1", " 0.1", "abc", "" }) do
        local r = cli.run(sim({ "--sim-noise", v, "info", "stm32f1" }, cli.tmpdir()))
        assert.are.equal(2, r.status, v)
        assert.are.equal("cwlua: " .. LINE:format(v) .. "\n", r.stderr)
      end
      for _, v in ipairs({ "0", "1", "0.01", "2e-2" }) do
        local r = cli.run(sim({ "--sim-noise", v, "info", "stm32f1" }, cli.tmpdir()))
        assert.are.equal(0, r.status, v .. ": " .. r.stderr)
      end
    end)

    it("is checked by cw.open too", function()
      local script = cli.write(cli.tmpdir() .. "/s.lua", [[
        local ok, err = pcall(cw.open, "sim", { noise = 2, state = arg[1] })
        print(ok, (tostring(err):gsub("^.-: ", "")))
      ]])
      local r = cli.run({ "run", script, cli.tmpdir() })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^false\t.*opts%.noise must be 0 to 1 %(full%-scale units%)", r.stdout)
    end)
  end)

  describe("-s DIR", function()
    it("exits 2 for a folder that does not exist or is not a folder", function()
      local missing = cli.tmpdir() .. "/nonexistent"
      local r = cli.run({ "-s", missing, "targets" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: -s " .. missing .. ": no such directory\n", r.stderr)
      assert.are.equal("", r.stdout)
      local file = cli.write(cli.tmpdir() .. "/passwd", "root:x:0:0::/root:/bin/sh\n")
      r = cli.run({ "--search", file, "program", "stm32f1", file })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: -s " .. file .. ": not a directory\n", r.stderr)
      r = cli.run({ "-s", cli.tmpdir(), "-s", "/etc/passwd", "targets" })
      assert.are.equal("cwlua: -s /etc/passwd: not a directory\n", r.stderr)
    end)

    it("still takes an empty folder", function()
      local r = cli.run({ "-s", cli.tmpdir(), "targets" })
      assert.are.equal(0, r.status, r.stderr)
    end)
  end)

  describe("options given twice", function()
    it("exits 2 naming the option, for every option that is not repeatable", function()
      local cases = {
        { { "-d", "sim", "program", "stm32f1", "x.bin", "--base", "0x100", "--base", "0x200" },
          "option '--base' is given twice ('0x100' and '0x200'); give it once" },
        { { "-d", "sim", "-d", "usb", "targets" },
          "option '--device' is given twice ('sim' and 'usb'); give it once" },
        { { "--device=sim", "--sim-state", "a", "--sim-state", "b", "targets" },
          "option '--sim-state' is given twice ('a' and 'b'); give it once" },
        { { "-q", "targets", "--quiet" }, "option '--quiet' is given twice; give it once" },
        { { "--json", "--json", "targets" }, "option '--json' is given twice; give it once" },
        { { "-d", "sim", "read", "stm32f1", "out.bin", "--len", "4K", "--len=8K" },
          "option '--len' is given twice ('4K' and '8K'); give it once" },
        { { "-d", "sim", "reset", "--ms", "5", "--ms", "6" },
          "option '--ms' is given twice ('5' and '6'); give it once" },
        { { "-d", "sim", "program", "xmega", "x.hex", "--lock", "0xFF", "--lock", "0xFC" },
          "option '--lock' is given twice ('0xFF' and '0xFC'); give it once" },
      }
      for _, c in ipairs(cases) do
        local r = cli.run(c[1])
        assert.are.equal(2, r.status, table.concat(c[1], " "))
        assert.are.equal("cwlua: " .. c[2] .. "\n", r.stderr)
      end
    end)

    it("is refused by the sim helpers too, in the same words", function()
      local r = cli.run({ "sim", "attach", "--sim-state", "a", "--sim-state", "b", "cwlite", "--",
        "true" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua sim attach: option '--sim-state' is given twice ('a' and 'b'); give "
        .. "it once; run 'cwlua sim attach --help' for usage\n", r.stderr)
      r = cli.run({ "--sim-seed", "1", "sim", "attach", "--sim-seed", "2", "cwlite", "--", "true" })
      assert.are.equal(2, r.status)
      assert.matches("option '--sim-seed' is given twice ('1' and '2')", r.stderr, 1, true)
      r = cli.run({ "sim", "serve", "stm32f1", "--pty", "--sim-app", "banner", "--sim-app=silent" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua sim serve: option '--sim-app' is given twice ('banner' and "
        .. "'silent'); give it once; run 'cwlua sim serve --help'\n", r.stderr)
    end)

    it("keeps the repeatable ones repeatable", function()
      local dir = cli.tmpdir()
      local r = cli.run({ "-s", cli.tmpdir(), "-s", cli.tmpdir(), "-d", "sim", "--sim-state", dir,
        "--sim-fault", "slow-erase", "--sim-fault", "bit-flips=0", "info", "stm32f1" })
      assert.are.equal(0, r.status, r.stderr)
    end)
  end)

  describe("--sim-* options", function()
    it("exit 2 with a real board or a serial port: they apply to the simulator only", function()
      local cases = {
        { { "-d", "usb", "--sim-fault", "no-power", "info", "stm32f1" }, "--sim-fault", "usb" },
        { { "-d", "serial:/dev/ttyUSB0", "--sim-seed", "3", "program", "stm32f1", "x.hex" },
          "--sim-seed", "serial:/dev/ttyUSB0" },
        { { "-d", "usb:123", "--sim-usb-latency", "1", "list" }, "--sim-usb-latency", "usb:123" },
        { { "--device", "usb", "--sim-state", "/tmp", "reset" }, "--sim-state", "usb" },
        { { "-d", "usb", "--sim-target", "stm32f1", "term" }, "--sim-target", "usb" },
        { { "-d", "usb", "--sim-app", "banner", "run", "x.lua" }, "--sim-app", "usb" },
        { { "-d", "usb", "--sim-noise", "0.1", "list" }, "--sim-noise", "usb" },
      }
      for _, c in ipairs(cases) do
        local r = cli.run(c[1])
        assert.are.equal(2, r.status, table.concat(c[1], " "))
        assert.are.equal(("cwlua: %s applies to the simulator only (-d sim or sim:BOARD); the "
          .. "device is '%s'\n"):format(c[2], c[3]), r.stderr)
      end
    end)

    it("say where the device came from when -d was not given", function()
      local r = cli.run({ "--sim-fault", "no-power", "info", "stm32f1" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --sim-fault applies to the simulator only (-d sim or sim:BOARD); "
        .. "the device is 'usb' (the default)\n", r.stderr)
      r = cli.run({ "--sim-fault", "no-power", "info", "stm32f1" }, { CWLUA_DEVICE = "usb" })
      assert.matches("the device is 'usb' %(from CWLUA_DEVICE%)\n$", r.stderr)
      r = cli.run({ "--sim-fault", "no-power", "--sim-state", cli.tmpdir(), "info", "stm32f1" },
        { CWLUA_DEVICE = "sim" })
      assert.are.equal(4, r.status) -- the simulator took it: an unpowered target is silent
      assert.not_matches("simulator only", r.stderr)
    end)

    it("go to the sim helpers only where the helper takes them", function()
      local r = cli.run({ "--sim-target", "stm32f1", "sim", "serve", "stm32f1", "--pty" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --sim-target does not apply to 'sim serve'; run 'cwlua sim serve "
        .. "--help'\n", r.stderr)
      r = cli.run({ "--sim-usb-latency", "1", "sim", "serve", "stm32f1", "--pty" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --sim-usb-latency does not apply to 'sim serve'; run 'cwlua sim "
        .. "serve --help'\n", r.stderr)
      r = cli.run({ "--sim-fault", "no-power", "sim", "faults" })
      assert.are.equal(2, r.status)
      r = cli.run({ "--sim-seed", "5", "sim", "attach", "cwlite", "--", "true" })
      assert.are.equal(0, r.status, r.stderr)
    end)
  end)
end)
