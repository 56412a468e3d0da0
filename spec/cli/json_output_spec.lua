-- SPDX-License-Identifier: MIT
-- --json over every command (contract.md §3.7): exactly one JSON object on stdout, on one line,
-- with "schema": 1 and a "cause" from the table of contract.md §6.4; "ok" exactly when the exit
-- status is 0, else an "error" (the message's first line) and the exit status §6.4 gives the
-- cause. Each command once succeeding and once failing; the commands whose output is not one
-- result refuse --json with a usage error's object.
local cli = require "support.cli"
-- Debian's lua-dkjson (a busted dependency): a JSON decoder we did not write
local json = require "dkjson"

local HELLO = "examples/stm32f1-hello/hello.hex"

-- contract.md §6.4: cause -> exit status (the first one a row gives)
local function cause_table()
  local f = assert(io.open("docs/reference/contract.md", "rb"))
  local text = f:read("a")
  f:close()
  local rows = {}
  for name, exit in text:match("\n### 6%.4 [^\n]*\n(.-)\n###"):gmatch("\n| `([%w%-]+)` | (%d+)") do
    rows[name] = tonumber(exit)
  end
  return rows
end

describe("--json", function()
  local CAUSES = cause_table()
  local dir, programmed
  local results = {}

  -- name, args (after -d sim unless they give -d), exit status, cause, fields the object has;
  -- state: "programmed" for a chip holding hello.hex, else a blank one
  local cases = {
    { "program", { "program", "stm32f1", HELLO }, 0, "ok", { "bytes", "erased", "verify" } },
    { "program, target silent", { "--sim-fault", "uart-rx-open", "program", "stm32f1", HELLO },
      4, "no-reply", { "details", "retries" } },
    { "program, no such file", { "program", "stm32f1", "/nonexistent.hex" }, 2, "bad-input" },
    -- no board: one that is gone before the first transfer, and a port that is not there (never
    -- -d usb, which would find whatever this machine has plugged in)
    { "program, no board", { "--sim-fault", "unplug-after=0", "program", "stm32f1", HELLO }, 3,
      "no-board" },
    { "info, no port", { "-d", "serial:/nonexistent/ttyUSB9", "info", "stm32f1" }, 3,
      "no-board" },
    { "program, a bug in the recipe", { "-s", "RECIPES", "program", "buggy", HELLO }, 1,
      "internal" },
    { "verify", { "verify", "stm32f1", HELLO }, 0, "ok", { "bytes", "verify" }, "programmed" },
    { "verify, a blank chip", { "verify", "stm32f1", HELLO }, 5, "verify-mismatch",
      { "first_mismatch", "verify" } },
    { "read", { "read", "stm32f1", "OUT", "--len", "16" }, 0, "ok", { "bytes" } },
    { "read, read-protected", { "--sim-fault", "read-protected", "read", "stm32f1", "OUT" }, 2,
      "read-protected" },
    { "erase", { "erase", "stm32f1", "--chip" }, 0, "ok", { "erased" } },
    { "erase, what to erase missing", { "erase", "stm32f1" }, 2, "usage" },
    { "info", { "info", "stm32f1" }, 0, "ok", { "chip" } },
    { "info, another chip", { "--sim-target", "stm32f4", "info", "stm32f1" }, 2, "wrong-chip" },
    { "info, old firmware", { "--sim-fault", "old-firmware", "info", "stm32f1" }, 3,
      "old-firmware" },
    { "info, AVR on a Nano", { "-d", "sim:nano", "info", "avr" }, 3, "no-engine" },
    { "doctor", { "doctor", "stm32f1" }, 0, "ok", { "steps", "actions" } },
    { "doctor, target silent", { "--sim-fault", "uart-rx-open", "doctor", "stm32f1" }, 4,
      "no-reply", { "steps", "candidates" } },
    { "reset", { "reset" }, 0, "ok", { "pin", "ms" } },
    { "reset, USB timeouts", { "--sim-fault", "usb-timeout-after=0", "reset" }, 3, "usb-error" },
    { "power", { "power", "on" }, 0, "ok", { "power" } },
    { "power, a Nano", { "-d", "sim:nano", "power", "on" }, 3, "unsupported" },
    { "clock", { "clock" }, 0, "ok", { "hz", "source" } },
    { "clock, FPGA not configured", { "--sim-fault", "fpga-unprogrammed", "clock" }, 3,
      "fpga-unprogrammed" },
    { "clock, a Husky", { "-d", "sim:husky", "clock", "7.37e6" }, 0, "ok",
      { "hz", "source", "dividers", "adc_hz", "adc_mul", "locked" } },
    { "clock, out of range", { "clock", "1GHz" }, 2, "usage" },
    { "clock, a Husky PLL that does not lock",
      { "-d", "sim:husky", "--sim-fault", "pll-unlocked", "clock", "8e6" }, 3, "board-error" },
    { "list", { "list" }, 0, "ok", { "boards", "ports" } },
    { "list, an argument", { "list", "extra" }, 2, "usage" },
    { "targets", { "targets" }, 0, "ok", { "targets" } },
    { "targets, an argument", { "targets", "extra" }, 2, "usage" },
    { "sim faults", { "sim", "faults" }, 0, "ok", { "faults" } },
    { "sim faults, an argument", { "sim", "faults", "extra" }, 2, "usage" },
    { "--version", { "--version" }, 0, "ok", { "cwlua", "lua" } },
    { "an unknown command", { "frobnicate" }, 2, "usage" },
    { "an option without its value", { "targets", "--device" }, 2, "usage" },
    { "an unknown TARGET", { "info", "stm32f7" }, 2, "usage", { "details" } },
    -- text, not one result: refused before anything runs
    { "term", { "term" }, 2, "usage" },
    { "run", { "run", "SCRIPT" }, 2, "usage" },
    { "shell", { "shell" }, 2, "usage" },
    { "help", { "help" }, 2, "usage" },
    { "--help", { "program", "--help" }, 2, "usage" },
    { "sim attach", { "sim", "attach", "cwlite", "--", "true" }, 2, "usage" },
    { "sim serve", { "sim", "serve", "stm32f1", "--pty" }, 2, "usage" },
  }

  setup(function()
    dir = cli.tmpdir()
    cli.write(dir .. "/recipes/buggy.lua", [[
return { api = 1, name = "buggy", summary = "a recipe with a bug",
  connect = function(ctx) local t = nil; return t.chip end,
  erase = function() end, write = function() end, read = function() end,
  start = function() end }
]])
    cli.write(dir .. "/script.lua", "print('hello')\n")
    programmed = dir .. "/programmed"
    local r = cli.run({ "-d", "sim", "program", "stm32f1", HELLO, "-q" },
      { XDG_STATE_HOME = programmed })
    assert.are.equal(0, r.status, r.stderr)
    -- every case in its own state folder, several at once
    local jobs = {}
    for i, c in ipairs(cases) do
      local state = ("%s/state%d"):format(dir, i)
      if c[6] == "programmed" then
        assert(os.execute(("cp -r %s %s"):format(cli.quote(programmed), cli.quote(state))))
      end
      local args = { "--json" }
      local has_d = false
      for _, a in ipairs(c[2]) do has_d = has_d or a == "-d" end
      if not has_d then args[#args + 1], args[#args + 2] = "-d", "sim" end
      for _, a in ipairs(c[2]) do
        args[#args + 1] = a == "RECIPES" and (dir .. "/recipes") or a == "OUT"
          and ("%s/out%d.bin"):format(dir, i) or a == "SCRIPT" and (dir .. "/script.lua") or a
      end
      jobs[i] = { args = args, env = { XDG_STATE_HOME = state } }
    end
    results = cli.run_all(jobs)
  end)
  teardown(cli.cleanup)

  for i, c in ipairs(cases) do
    local name, _, exit, cause, fields = c[1], c[2], c[3], c[4], c[5] or {}
    it(("%s: exit %d, one object, cause %s"):format(name, exit, cause), function()
      local r = results[i]
      assert.are.equal(exit, r.status, r.stderr)
      assert.matches("^{[^\n]*}\n$", r.stdout) -- one line, one object
      local o, _, err = json.decode(r.stdout)
      assert.is_table(o, err)
      assert.are.equal(1, o.schema)
      assert.are.equal(cause, o.cause)
      assert.is_not_nil(CAUSES[o.cause], "contract.md §6.4 lists " .. tostring(o.cause))
      -- doctor's report is its result (exit 3 or 4 by side, contract.md §6.4); the others
      -- exit as §6.4 says for the cause, and print the error on stderr as well
      local doctor = name:find("^doctor") ~= nil
      if not doctor then assert.are.equal(CAUSES[o.cause], r.status) end
      if exit == 0 then
        assert.is_nil(o.error)
        assert.is_nil(r.stderr:find("^cwlua: [^w]")) -- no error on stderr (a warning may be)
      else
        assert.is_string(o.error)
        assert.matches("^[^\n]+$", o.error)
        if not doctor then
          assert.are.equal(1, select(2, r.stderr:gsub("cwlua: " .. o.error:gsub("%p", "%%%0"),
            "")))
        end
      end
      if o.details ~= nil then
        for _, d in ipairs(o.details) do assert.matches("^[^\n]+$", d) end
      end
      for _, f in ipairs(fields) do
        assert.is_not_nil(o[f], ("field '%s' in %s"):format(f, r.stdout))
      end
    end)
  end

  it("refuses it for a command whose output is text, saying why", function()
    local r = cli.run({ "--json", "run", "x.lua" })
    assert.are.equal('{"cause":"usage","error":"--json does not apply to \'run\': the script '
      .. 'writes its own output (cw.json.encode makes JSON there); run it without --json",'
      .. '"schema":1}\n', r.stdout)
    -- after the script, it is the script's
    local s = cli.write(cli.tmpdir() .. "/s.lua", "print(select('#', ...), ...)\n")
    r = cli.run({ "run", s, "--json" })
    assert.are.equal("1\t--json\n", r.stdout)
  end)

  it("takes --json after 'sim faults' too", function()
    local r = cli.run({ "sim", "faults", "--json" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches('^{"cause":"ok","faults":%[', r.stdout)
  end)
end)
