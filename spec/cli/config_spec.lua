-- SPDX-License-Identifier: MIT
-- The config files of contract.md §3.12: the user file ($CWLUA_CONFIG, else
-- $XDG_CONFIG_HOME/cwlua/config.lua) over the system file ($CWLUA_SYSCONFDIR/config.lua, for
-- /etc/cwlua), the environment over both, the command line over everything; read in the
-- recipe sandbox; a mistake is exit 2 naming FILE:LINE; `cwlua config` says where each value
-- came from.
local cli = require "support.cli"
local json = require "dkjson" -- Debian's lua-dkjson: a decoder we did not write; null is nil

local HEX = "examples/stm32f1-hello/hello.hex"

local function q(s) return (s:gsub("%p", "%%%0")) end

-- A fresh pair of config folders: env for cli.run, and writers for the two files.
local function setup()
  local xdg, etc = cli.tmpdir(), cli.tmpdir()
  local c = {
    env = { XDG_CONFIG_HOME = xdg, CWLUA_SYSCONFDIR = etc },
    user = xdg .. "/cwlua/config.lua", system = etc .. "/config.lua", xdg = xdg, etc = etc,
    state = cli.tmpdir(),
  }
  function c.run(args, more)
    local env = {}
    for k, v in pairs(c.env) do env[k] = v end
    for k, v in pairs(more or {}) do env[k] = v end
    return cli.run(args, env)
  end
  -- the board `cwlua list` sees (the simulated one when the device is sim:BOARD)
  function c.board(args, more)
    local all = { "--json", "--sim-state", c.state }
    for _, a in ipairs(args or {}) do all[#all + 1] = a end
    all[#all + 1] = "list"
    local r = c.run(all, more)
    assert.are.equal(0, r.status, r.stderr)
    local o = json.decode(r.stdout)
    return o.boards[1] and o.boards[1].kind
  end
  function c.json(args, more)
    local r = c.run(args, more)
    assert.are.equal(0, r.status, r.stderr)
    return json.decode(r.stdout)
  end
  return c
end

describe("config files", function()
  after_each(cli.cleanup)

  describe("device and rig", function()
    it("uses the user file's device, and -d and CWLUA_DEVICE win over it", function()
      local c = setup()
      cli.write(c.user, 'device = "sim:cw1200"\n')
      assert.are.equal("cw1200", c.board())
      assert.are.equal("husky", c.board({ "-d", "sim:husky" }))
      assert.are.equal("nano", c.board({}, { CWLUA_DEVICE = "sim:nano" }))
      assert.are.equal("husky", c.board({ "-d", "sim:husky" }, { CWLUA_DEVICE = "sim:nano" }))
    end)

    it("uses the system file's device when the user file sets none, and the user's over it",
      function()
        local c = setup()
        cli.write(c.system, 'device = "sim:husky"\nrig = "cw506"\n')
        assert.are.equal("husky", c.board())
        cli.write(c.user, 'device = "sim:cw1200"\n')
        assert.are.equal("cw1200", c.board())
        -- no file at all: the default, usb
        local r = setup().run({ "--json", "config" })
        assert.are.equal("usb", json.decode(r.stdout).device.value)
      end)

    it("makes the file's rig the one doctor states, and --rig wins over it", function()
      local c = setup()
      cli.write(c.user, 'device = "sim"\nrig = "cw506"\n')
      local o = c.json({ "--json", "--sim-state", c.state, "doctor", "stm32f1" })
      assert.are.equal("cw506", o.rig)
      o = c.json({ "--json", "--sim-state", c.state, "--rig", "cw313", "doctor", "stm32f1" })
      assert.are.equal("cw313", o.rig)
      -- without one the rig is not known, and JSON says so
      o = setup().json({ "--json", "-d", "sim", "--sim-state", c.state, "doctor", "stm32f1" })
      assert.is_nil(o.rig)
    end)

    it("takes a device from the file for the --sim-* options' check", function()
      local c = setup()
      cli.write(c.user, 'device = "usb"\n')
      local r = c.run({ "--sim-target", "stm32f1", "--sim-state", c.state, "list" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --sim-target applies to the simulator only (-d sim or sim:BOARD); "
        .. "the device is 'usb' (from the user file " .. c.user .. ":1)\n", r.stderr)
    end)
  end)

  describe("search folders and --set values", function()
    it("puts each file's folders before its level's own folder", function()
      local c = setup()
      local lab = cli.tmpdir()
      local recipe = 'return { api = 1, name = "%s", summary = "%s", part = "p1" }\n'
      cli.write(c.user, ('search = { %q, "mine" }\n'):format(lab))
      cli.write(c.xdg .. "/cwlua/mine/a.lua", recipe:format("a", "relative to the file"))
      cli.write(lab .. "/b.lua", recipe:format("b", "the lab's"))
      cli.write(c.xdg .. "/cwlua/targets/b.lua", recipe:format("b", "the user folder's"))
      cli.write(c.system, 'search = "shared"\n')
      cli.write(c.etc .. "/shared/d.lua", recipe:format("d", "the system file's folder"))
      cli.write(c.etc .. "/targets/d.lua", recipe:format("d", "the system folder's"))
      cli.write(c.etc .. "/targets/e.lua", recipe:format("e", "the system folder's"))
      local o = c.json({ "--json", "targets" })
      local seen = {}
      for _, t in ipairs(o.targets) do
        seen[#seen + 1] = ("%s %s %s"):format(t.name, t.origin, t.summary)
        if #seen == 6 then break end
      end
      assert.are.same({ "b user-config the lab's", "a user-config relative to the file",
        "b user the user folder's", "d system-config the system file's folder",
        "d system the system folder's", "e system the system folder's" }, seen)
      local dirs = {}
      for _, d in ipairs(c.json({ "--json", "config" }).search) do
        dirs[#dirs + 1] = d.origin .. " " .. d.dir
      end
      assert.are.same({ "user-config " .. lab, "user-config " .. c.xdg .. "/cwlua/mine",
        "user " .. c.xdg .. "/cwlua/targets", "system-config " .. c.etc .. "/shared",
        "system " .. c.etc .. "/targets" }, { table.unpack(dirs, 1, 5) })
      assert.matches("^built%-in .*/share/cwlua/targets$", dirs[6])
    end)

    it("applies a recipe's set values, the user's over the system's and --set over both",
      function()
        local c = setup()
        local base = { "-d", "sim", "--sim-state", c.state, "-v", "program", "stm32f1", HEX }
        cli.write(c.system, 'set = { stm32f1 = { bauds = 38400 } }\n')
        local r = c.run(base)
        assert.are.equal(0, r.status, r.stderr)
        assert.matches("stm32f1: bootloader synced at 38400 baud", r.stderr)
        cli.write(c.user, 'set = { stm32f1 = { bauds = { 57600, 19200 } } }\n')
        r = c.run(base)
        assert.are.equal(0, r.status, r.stderr)
        assert.matches("stm32f1: bootloader synced at 57600 baud", r.stderr)
        table.insert(base, "--set")
        table.insert(base, "bauds=19200")
        r = c.run(base)
        assert.are.equal(0, r.status, r.stderr)
        assert.matches("stm32f1: bootloader synced at 19200 baud", r.stderr)
        -- another recipe's values are not this one's
        cli.write(c.user, 'set = { avr = { isp_hz = 1 } }\n')
        r = c.run({ "-d", "sim", "--sim-state", c.state, "-q", "program", "stm32f1", HEX })
        assert.are.equal(0, r.status, r.stderr)
      end)

    it("checks a set value as --set would, naming the file and line", function()
      local c = setup()
      cli.write(c.user, '-- the lab\nset = { stm32f1 = { bauds = 250000 } }\n')
      local r = c.run({ "-d", "sim", "--sim-state", c.state, "program", "stm32f1", HEX })
      assert.are.equal(2, r.status)
      assert.matches("^cwlua: config file " .. q(c.user) .. ":2: set%.stm32f1%.bauds = 250000: "
        .. "bauds takes whole numbers from 1200 to 115200", r.stderr)
      cli.write(c.user, 'set = { stm32f1 = { baud = 57600 } }\n')
      r = c.run({ "-d", "sim", "--sim-state", c.state, "program", "stm32f1", HEX })
      assert.are.equal(2, r.status)
      assert.matches("^cwlua: config file " .. q(c.user) .. ":1: recipe stm32f1 has no "
        .. "parameter 'baud' %(did you mean 'bauds'%?%)", r.stderr)
    end)

    it("gives the bitstream of the file when the FPGA needs one", function()
      local c = setup()
      cli.write(c.user, 'bitstream = "cwlite.bit"\n')
      local r = c.run({ "-d", "sim", "--sim-fault", "fpga-unprogrammed", "--sim-state", c.state,
        "--sim-target", "stm32f1", "program", "stm32f1", HEX })
      assert.are.equal(2, r.status) -- as a --bitstream FILE that cannot be opened
      assert.matches("the bitstream from the user file " .. q(c.user) .. ":1 cannot be used: "
        .. ".*" .. q(c.xdg .. "/cwlua/cwlite.bit"), r.stderr)
    end)
  end)

  describe("cwlua config", function()
    it("says where each value came from, as text", function()
      local c = setup()
      cli.write(c.system, 'device = "sim:husky"\nrig = "cw506"\n'
        .. 'set = { stm32f1 = { reset_ms = 20, bauds = 38400 } }\n')
      cli.write(c.user, 'device = "sim"\nset = { stm32f1 = { bauds = 57600 } }\n')
      local r = c.run({ "--bitstream", "/b.bit", "config" }, { CWLUA_PATH = "/p" })
      assert.are.equal(0, r.status, r.stderr)
      local lines = {}
      for l in r.stdout:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.are.same({
        "device     sim (user file " .. c.user .. ":1)",
        "rig        cw506 (system file " .. c.system .. ":2)",
        "bitstream  /b.bit (command line --bitstream)",
        "set        stm32f1.bauds=57600 (user file " .. c.user .. ":2)",
        "           stm32f1.reset_ms=20 (system file " .. c.system .. ":3)",
        "search     /p (environment CWLUA_PATH)",
        "           " .. c.xdg .. "/cwlua/targets (user folder)",
        "           " .. c.etc .. "/targets (system folder)",
      }, { table.unpack(lines, 1, 8) })
      assert.matches("^           .*/share/cwlua/targets %(built%-in%)$", lines[9])
      assert.are.same({ "files      " .. c.system .. " (system file)",
        "           " .. c.user .. " (user file)" }, { lines[10], lines[11] })
      assert.are.equal(11, #lines)
      -- nothing set: the defaults, and the files that are not there
      r = setup().run({ "config" })
      assert.matches("^device     usb %(default%)\nrig        the recipe's %(default%)\n"
        .. "bitstream  NewAE's chipwhisperer package %(default%)\nset        none %(default%)\n",
        r.stdout)
      assert.matches("\nfiles      [^\n]* %(system file, not present%)\n", r.stdout)
    end)

    it("says where each value came from, as JSON", function()
      local c = setup()
      cli.write(c.user, '\nrig = "serial"\n')
      local o = c.json({ "--json", "-d", "sim:nano", "config" }, { CWLUA_BITSTREAM = "/e.bit" })
      assert.are.equal("ok", o.cause)
      assert.are.same({ value = "sim:nano", origin = "command-line", option = "-d" }, o.device)
      assert.are.same({ value = "serial", origin = "user", file = c.user, line = 2 }, o.rig)
      assert.are.same({ value = "/e.bit", origin = "environment", variable = "CWLUA_BITSTREAM" },
        o.bitstream)
      assert.are.same({}, o.set)
      assert.are.same({ { origin = "system", path = c.system, present = false },
        { origin = "user", path = c.user, present = true } }, o.files)
      o = setup().json({ "--json", "config" })
      assert.are.same({ value = "usb", origin = "default" }, o.device)
      assert.are.same({ origin = "default" }, o.rig) -- value null: the recipe's
    end)

    it("reads the file CWLUA_CONFIG names instead of the user file", function()
      local c = setup()
      cli.write(c.user, 'device = "sim:husky"\n')
      local other = cli.write(cli.tmpdir() .. "/lab.lua", 'device = "sim:cw1200"\n')
      local o = c.json({ "--json", "config" }, { CWLUA_CONFIG = other })
      assert.are.same({ value = "sim:cw1200", origin = "user", file = other, line = 1 },
        o.device)
      assert.are.same({ origin = "user", path = other, present = true,
        variable = "CWLUA_CONFIG" }, o.files[2])
      local r = c.run({ "config" }, { CWLUA_CONFIG = other .. ".missing" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: CWLUA_CONFIG names " .. other .. ".missing: No such file or "
        .. "directory\n", r.stderr)
    end)

    it("is listed in --help", function()
      local r = cli.run({ "--help" })
      assert.matches("\n  config +show the settings in effect and where each came from\n",
        r.stdout)
    end)
  end)

  describe("a broken file", function()
    local function broken(text, want, status)
      local c = setup()
      cli.write(c.user, text)
      local r = c.run({ "-d", "sim", "--sim-state", c.state, "-q", "program", "stm32f1", HEX })
      assert.are.equal(status or 2, r.status, r.stderr)
      assert.are.equal("cwlua: config file " .. c.user .. want .. "\n", r.stderr)
      local j = c.run({ "--json", "config" })
      assert.are.equal(status or 2, j.status)
      assert.are.equal("usage", json.decode(j.stdout).cause)
    end

    it("names the file and line of a syntax error", function()
      broken('device = "sim"\nrig = = 3\n', ":2: unexpected symbol near '='")
    end)

    it("names an unknown setting, with a hint", function()
      broken('devcie = "sim"\n', ":1: unknown setting 'devcie' (did you mean 'device'?); a "
        .. "config file sets device, rig, bitstream, search, set")
    end)

    it("checks each value", function()
      broken('device = "simm"\n', ":1: bad device spec 'simm'; use usb, usb:SERIAL, "
        .. "serial:PATH, sim, sim:BOARD or sim:BOARD@SERIAL (BOARD: cwlite, cw1200, husky, "
        .. "nano); several boards: usb:* or usb:SERIAL1,usb:SERIAL2")
      broken('\n\nrig = "cw999"\n', ":3: unknown rig 'cw999'; use cw308, cw506, cw313, serial")
      broken('device = 3\n', ":1: device must be a device spec (a string), not a number")
      broken('search = {}\n', ":1: search must be a folder or a list of folders (strings)")
      broken('set = { stm32f1 = { bauds = {} } }\n', ":1: set.stm32f1.bauds must be a number, "
        .. "a string, true or false, or a list of numbers")
      broken('device = "sim"\ndevice = "usb"\n', ":2: device is already set at line 1; set it "
        .. "once")
    end)

    it("does not stop --help and help", function()
      local c = setup()
      cli.write(c.user, "rig = = 3\n")
      assert.are.equal(0, c.run({ "--help" }).status)
      assert.are.equal(0, c.run({ "help", "config" }).status)
    end)
  end)

  -- The sandbox holds in config files as in recipes (contract.md §3.5): they may compute
  -- values, and reach nothing of the host.
  describe("the sandbox", function()
    local function run_file(text)
      local c = setup()
      cli.write(c.user, text)
      return c.run({ "--json", "config" }), c
    end

    it("lets a file compute and read back its own values", function()
      local r = run_file('local lab = "sim"\ndevice = lab .. ":husky"\n'
        .. 'search = { ("x"):rep(2) }\nset = { stm32f1 = { reset_ms = 5 * 4 } }\n'
        .. 'set.stm32f1.bauds = 57600\n')
      assert.are.equal(0, r.status, r.stderr)
      local o = json.decode(r.stdout)
      assert.are.equal("sim:husky", o.device.value)
      assert.are.equal("20", o.set[2].value)
      assert.are.equal("57600", o.set[1].value)
    end)

    for _, case in ipairs({
      { "io", "local f = io.open('/etc/passwd')\n", ":1: undefined global 'io'" },
      { "os", "device = os.getenv('HOME')\n", ":1: undefined global 'os'" },
      { "load", "load('x = 1')()\n", ":1: undefined global 'load'" },
      { "a C module", "require('cwlua.core.runtime')\n",
        ":1: recipes may not require C modules ('cwlua.core.runtime')" },
      { "the string metatable", "getmetatable('').__index = {}\n",
        ":1: getmetatable: recipes may read only metatables they set themselves" },
    }) do
      it("refuses " .. case[1], function()
        local r, c = run_file(case[2])
        assert.are.equal(2, r.status)
        assert.matches("^cwlua: config file " .. q(c.user) .. q(case[3]), r.stderr)
      end)
    end

    it("stops a file that loops", function()
      local r, c = run_file("while true do end\n")
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: config file " .. c.user .. ": did not finish loading within "
        .. "10000000 instructions (stopped at " .. c.user .. ":1); does it loop?\n", r.stderr)
    end)
  end)
end)
