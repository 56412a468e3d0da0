-- SPDX-License-Identifier: MIT
-- `cwlua sim attach` takes every --sim-* option that -d sim takes (contract.md §5.4, §5.8): both
-- come from libcwsim's one table (cwsim_option_table), so an option added there reaches both
-- command lines; this spec makes sure each one also does something in each of them, and that
-- a capture client can run the SimpleSerial AES application under sim attach.
local cli = require "support.cli"

-- A value each option accepts. An option without one here fails the first test: a new
-- --sim-* option needs its line.
local SAMPLE = {
  sim_target = "stm32f1",
  sim_state = false, -- the test's own folder
  sim_fault = "baud-skew=1",
  sim_usb_latency = "0.25",
  sim_seed = "7",
  sim_app = "ss1-aes",
  sim_noise = "0.02",
}

describe("cwlua sim attach options", function()
  after_each(cli.cleanup)

  local options = require("cwlua.cli").SIM_OPTIONS

  it("is the table of libcwsim, in cwlua's --help and sim attach's --help alike", function()
    local table_names = {}
    for _, o in ipairs(require("cwlua.core.device").sim_options()) do
      table_names[#table_names + 1] = "--" .. o.name
    end
    local names = {}
    for _, o in ipairs(options) do names[#names + 1] = o[2] end
    assert.are.same(table_names, names)
    local help = cli.run({ "--help" }).stdout
    local attach = cli.run({ "sim", "attach", "--help" })
    assert.are.equal(0, attach.status, attach.stderr)
    for _, o in ipairs(options) do
      assert.is_not_nil(SAMPLE[o[1]], "no sample value for " .. o[2] .. " in this spec")
      assert.is_truthy(help:find("\n      " .. o[2] .. " ", 1, true), o[2])
      assert.is_truthy(attach.stdout:find("\n  " .. o[2] .. " ", 1, true), o[2])
      assert.is_truthy(attach.stdout:match("^usage: .-\n\n"):find("[" .. o[2] .. " ", 1, true),
        o[2] .. " in sim attach's usage line")
    end
  end)

  it("takes every -d sim option, after 'attach' and before 'sim' alike", function()
    for _, o in ipairs(options) do
      local value = SAMPLE[o[1]]
      local state = cli.tmpdir() .. "/state"
      local given = value and { o[2], value } or {}
      local after = { "sim", "attach", "--sim-state", state }
      for _, w in ipairs(given) do after[#after + 1] = w end
      for _, w in ipairs({ "cwlite:stm32f1", "--", "true" }) do after[#after + 1] = w end
      local r = cli.run(after)
      assert.are.equal(0, r.status, o[2] .. ": " .. r.stderr)
      local before = {}
      for _, w in ipairs(given) do before[#before + 1] = w end
      for _, w in ipairs({ "sim", "attach", "--sim-state", state .. "2", "cwlite:stm32f1", "--",
                           "true" }) do
        before[#before + 1] = w
      end
      r = cli.run(before)
      assert.are.equal(0, r.status, o[2] .. " before 'sim': " .. r.stderr)
    end
  end)

  it("passes every option on to the in-process simulator (-d sim)", function()
    local cli_mod = require "cwlua.cli"
    local none = cli_mod.sim_options({})
    for _, o in ipairs(options) do
      local value = SAMPLE[o[1]] or "/tmp/x"
      if o[1] == "sim_fault" then value = { value } end
      local got = cli_mod.sim_options({ [o[1]] = value })
      local changed = false
      for k, v in pairs(got) do changed = changed or v ~= none[k] end
      assert.is_true(changed, o[2] .. " is parsed by cwlua but not given to the simulator")
    end
  end)

  it("checks the values by the rules -d sim uses", function()
    local r = cli.run({ "sim", "attach", "--sim-noise", "2", "cwlite", "--", "true" })
    assert.are.equal(2, r.status)
    assert.matches("^cwlua sim attach: %-%-sim%-noise '2': expected a standard deviation", r.stderr)
    r = cli.run({ "sim", "attach", "--sim-app", "ss1-aes", "cwlite", "--", "true" })
    assert.are.equal(2, r.status)
    assert.matches("%-%-sim%-app needs a chip", r.stderr)
    r = cli.run({ "sim", "attach", "--sim-state", cli.tmpdir(), "--sim-app", "ss1-aes",
                  "cwlite:atmega328p", "--", "true" })
    assert.are.equal(2, r.status)
    assert.matches("no application model 'ss1%-aes'", r.stderr)
    r = cli.run({ "sim", "attach", "--sim-target", "x y", "cwlite", "--", "true" })
    assert.are.equal(2, r.status)
    r = cli.run({ "sim", "attach", "--sim-app", "ss1-aes", "--sim-app", "ss2-aes",
                  "cwlite:stm32f1", "--", "true" })
    assert.are.equal(2, r.status)
    assert.matches("option '%-%-sim%-app' is given twice", r.stderr)
  end)

  it("runs the SimpleSerial AES application for a client: --sim-app ss1-aes", function()
    local dir = cli.tmpdir()
    local script = cli.write(dir .. "/kat.lua", [[
local S = cw.simpleserial
local board <close> = assert(cw.open())
assert(cw.flash.program("stm32f1", "examples/stm32f1-hello/hello.hex",
  { board = board, quiet = true }))
-- a sim attach board starts at its reset values: what NewAE's default_setup would set
assert(board:pin("tio1", "serial_rx"))
assert(board:pin("tio2", "serial_tx"))
assert(board:clock(7.3846e6))
local ss = assert(S.open(board, { version = 1 }))
assert(ss:set_key(S.unhex("000102030405060708090a0b0c0d0e0f")))
print(S.hex(assert(ss:encrypt(S.unhex("00112233445566778899aabbccddeeff")))))
]])
    -- the target's chip from --sim-target: the SPEC names only the board
    local r = cli.run({ "sim", "attach", "--sim-state", dir .. "/state", "--sim-target", "stm32f1",
                        "--sim-app", "ss1-aes", "cwlite", "--", cli.BIN, "run", script })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("69c4e0d86a7b0430d8cdb78070b4c55a\n", r.stdout)
  end)
end)
