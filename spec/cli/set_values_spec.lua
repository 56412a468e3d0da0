-- SPDX-License-Identifier: MIT
-- Recipe parameters are typed and range-checked (contract.md §3.1, docs/targets.md
-- "Parameters"): --set KEY=VALUE is parsed as the default's type and checked against the range
-- the recipe or its family declares in `params`, before the board is opened; a value that does
-- not fit is exit 2 naming the key, the value and what is accepted. --baud N is --set bauds=N.
local cli = require "support.cli"

local HELLO = "examples/stm32f1-hello/hello.hex"
local BAUDS = "bauds takes whole numbers from 1200 to 115200 (the rates the ROM bootloader's "
  .. "autobaud detects, ST AN3155): one, or several separated by commas, e.g. "
  .. "bauds=115200,57600"

describe("recipe parameters", function()
  local dir, env

  local function cw(args) return cli.sim(env, args) end
  local function no_board(args) return cli.no_board(env, args) end

  before_each(function()
    dir = cli.tmpdir()
    env = cli.tmpdir()
  end)
  after_each(cli.cleanup)

  describe("--set", function()
    it("refuses a value of the wrong type or out of range, before the board is opened",
      function()
      local cases = {
        { "stm32f1", "bauds=abc", BAUDS },
        { "stm32f1", "bauds=250000", BAUDS },
        { "stm32f1", "bauds=57600,", BAUDS },
        { "stm32f1", "program_clock_hz=0", "program_clock_hz takes a number from 753000 to "
          .. "200000000 (what the board's clock generator makes)" },
        { "stm32f1", "reset_ms=-5", "reset_ms takes a number from 0 to 10000" },
        { "stm32f1", "boot_pin=foo", "boot_pin takes one of tio1, tio2, tio3, tio4, nrst, "
          .. "pdic, pdid" },
        { "stm32f1", "flash_start=0x100000000", "flash_start takes a whole number from 0 to "
          .. "4294967295" },
        { "stm32l4", "write_unit=2", "write_unit takes one of 4, 8" },
        { "stm32l0", "mass_erase=no", "mass_erase takes true or false" },
        { "avr", "slow_clock=maybe", "slow_clock takes one of auto, true, false" },
        { "avr", "isp_hz=0", "isp_hz takes a number above 0" },
        { "avr", "engine_timeout_ticks=1.5", "engine_timeout_ticks takes a whole number from 1 "
          .. "to 150000" },
        { "xmega", "engine_timeout_ms=0", "engine_timeout_ms takes a number above 0, at most "
          .. "60000" },
      }
      for _, c in ipairs(cases) do
        local r = no_board({ "program", c[1], HELLO, "--set", c[2] })
        assert.are.equal(2, r.status, c[2] .. ": " .. r.stderr)
        assert.are.equal(("cwlua: --set %s: %s\n"):format(c[2], c[3]), r.stderr)
        assert.are.equal("", r.stdout)
      end
    end)

    it("refuses a table-valued parameter, and one key given twice", function()
      local r = no_board({ "info", "stm32f1", "--set", "timing=5" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --set timing=5: timing holds a table of values, which --set "
        .. "cannot change; copy the recipe to a folder given with -s and edit it there\n",
        r.stderr)
      r = no_board({ "info", "stm32f1", "--set", "reset_ms=5", "--set", "reset_ms=6" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --set reset_ms=6: reset_ms is already set by --set reset_ms=5; "
        .. "give it once\n", r.stderr)
    end)

    it("takes values of the right type: lists, fractions, hex, booleans", function()
      for _, set in ipairs({ "bauds=57600,38400", "reset_ms=2.5", "program_clock_hz=7.37e6",
                             "flash_start=0x08000000", "boot_pin=pdic" }) do
        local r = cw({ "info", "stm32f1", "--set", set })
        assert.are.equal(0, r.status, set .. ": " .. r.stderr)
      end
      local r = cw({ "info", "stm32l0", "--set", "mass_erase=false" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "-v", "info", "avr", "--set", "slow_clock=false", "--set", "isp_hz=400000" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("avr: ISP at 376 kHz\n", r.stderr, 1, true)
    end)
  end)

  describe("--baud N", function()
    it("sets the rates sync tries, as --set bauds=N", function()
      local r = cw({ "-v", "info", "stm32f1", "--baud", "57600" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("stm32f1: bootloader synced at 57600 baud\n", r.stderr, 1, true)
      r = cw({ "-v", "program", "stm32f1", HELLO, "--baud", "9600,19200" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("stm32f1: bootloader synced at 9600 baud\n", r.stderr, 1, true)
    end)

    it("is checked like --set, and refused for a recipe without a baud rate", function()
      local r = no_board({ "program", "stm32f1", HELLO, "--baud", "250000" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --baud 250000: " .. BAUDS .. "\n", r.stderr)
      r = no_board({ "info", "avr", "--baud", "57600" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --baud: recipe avr has no baud rate to set (no parameter "
        .. "'bauds'); its parameters: clock_hz, engine_timeout_ticks, flash_start, isp_hz, "
        .. "isp_settle_ms, slow_clock\n", r.stderr)
      r = no_board({ "read", "stm32f1", dir .. "/x.bin", "--baud", "57600", "--set",
        "bauds=19200" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --set bauds=19200: bauds is already set by --baud 57600; give it "
        .. "once\n", r.stderr)
    end)

    it("is an option of every flash command", function()
      for _, cmd in ipairs({ "program", "verify", "read", "erase", "info" }) do
        local r = cli.run({ cmd, "--help" })
        assert.are.equal(0, r.status)
        assert.matches("[--baud N]", r.stdout, 1, true)
      end
    end)
  end)

  describe("a recipe's own params", function()
    local RECIPE = [[
local stm32 = require "cwlua.stm32"
return stm32.recipe {
  api = 1, name = "myf1", summary = "an F1 on a board with a slow reset circuit",
  part = "stm32f100xb", parts = { "stm32f100xb" }, chips = { 0x420 },
  defaults = { bauds = { 115200 }, boot_pin = "pdic", reset_pin = "nrst", reset_ms = RESET,
               flash_start = 0x08000000 },
  params = { reset_ms = { min = 5, max = 20, why = "this board's reset circuit" } EXTRA },
}
]]
    local function recipe(reset, extra)
      local d = cli.tmpdir()
      cli.write(d .. "/myf1.lua", (RECIPE:gsub("RESET", reset):gsub("EXTRA", extra or "")))
      return d
    end

    it("narrow the family's range", function()
      local d = recipe("10")
      local r = cw({ "-s", d, "info", "myf1", "--set", "reset_ms=1" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --set reset_ms=1: reset_ms takes a whole number from 5 to 20 "
        .. "(this board's reset circuit)\n", r.stderr)
      r = cw({ "-s", d, "info", "myf1", "--set", "reset_ms=15", "--set", "bauds=1200" })
      assert.are.equal(0, r.status, r.stderr)
    end)

    it("must hold the recipe's own defaults, and name only its parameters", function()
      local cases = {
        { recipe("50"), "default reset_ms = 50 is not a whole number from 5 to 20 (this "
          .. "board's reset circuit)" },
        { recipe("10", ", clock_hz = { min = 1 }"), "field 'params' has 'clock_hz', which is "
          .. "not in 'defaults'" },
        { recipe("10", ", bauds = { maximum = 1 }"), "field 'params.bauds' has unknown field "
          .. "'maximum' (known: above, max, min, one_of, pin, type, why)" },
      }
      for _, c in ipairs(cases) do
        local r = cw({ "-s", c[1], "info", "myf1" })
        assert.are.equal(2, r.status, r.stderr)
        assert.are.equal(("cwlua: recipe %s/myf1.lua: %s\n"):format(c[1], c[2]), r.stderr)
      end
    end)
  end)
end)
