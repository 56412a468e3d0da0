-- SPDX-License-Identifier: MIT
-- --sim-app as a new user meets it (contract.md §5): an application model needs a chip to run
-- on, and a chip whose flash is blank stays silent as a real one would, but the simulator says
-- why where a real board would leave only a timeout.
local cli = require "support.cli"

local HELLO = "examples/stm32f1-hello/hello.hex"
local NEEDS_CHIP = "cwlua: --sim-app needs a chip: add --sim-target PART (a part, recipe or "
  .. "alias, e.g. --sim-target stm32f1)\n"

describe("--sim-app", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(cli.cleanup)

  local function sim(...)
    local args = { "-d", "sim", "--sim-state", dir .. "/state" }
    for _, a in ipairs({ ... }) do args[#args + 1] = a end
    return cli.run(args)
  end

  it("without --sim-target and no TARGET to take a part from exits 2, naming the fix", function()
    local script = cli.write(dir .. "/s.lua", "print('ran')\n")
    for _, argv in ipairs({ { "run", script }, { "run", "examples/lab/aes_kat.lua" },
                            { "reset" }, { "power", "on" }, { "term" }, { "shell" } }) do
      local r = sim("--sim-app", "ss1-aes", table.unpack(argv))
      assert.are.equal(2, r.status, argv[1])
      assert.are.equal(NEEDS_CHIP, r.stderr, argv[1])
      assert.are.equal("", r.stdout, argv[1])
    end
  end)

  it("without --sim-target takes the part from the TARGET a command names", function()
    local r = sim("--sim-app", "ss1-aes", "program", "stm32f1", HELLO)
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^programmed 368 bytes into STM32F10xxx Medium%-density VL", r.stdout)
    -- the flash that command programmed is the one --sim-target stm32f1 finds
    r = sim("--sim-target", "stm32f1", "--sim-app", "ss1-aes", "run", "examples/lab/aes_kat.lua",
      "--no-program")
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("all known answers match\n$", r.stdout)
  end)

  it("on a CW-Nano runs on the Nano's own STM32F030", function()
    local r = cli.run({ "-d", "sim:nano", "--sim-state", dir .. "/state", "program", "CWNANO",
                        HELLO })
    assert.are.equal(0, r.status, r.stderr)
    r = cli.run({ "-d", "sim:nano", "--sim-state", dir .. "/state", "--sim-app", "ss1-aes", "run",
                  "examples/lab/aes_kat.lua", "--no-program" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("all known answers match\n$", r.stdout)
  end)

  it("cw.open with an app and no target raises (misuse)", function()
    local script = cli.write(dir .. "/s.lua", [[
      print(pcall(cw.open, "sim", { app = "ss1-aes" }))
    ]])
    local r = cli.run({ "run", script })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^false\t.*open: opts.app needs opts.target, the chip that runs the "
      .. "application\n$", r.stdout)
  end)

  describe("on a blank flash (a fresh --sim-state)", function()
    local function hint(target)
      return ("the simulated chip's flash is blank: program it first (cwlua -d sim --sim-state "
        .. "%s/state program %s FIRMWARE)"):format(dir, target)
    end

    it("the application stays silent, and a SimpleSerial failure says why", function()
      local r = sim("--sim-target", "stm32f1", "--sim-app", "ss1-aes", "run",
        "examples/lab/aes_kat.lua", "--no-program")
      assert.are.equal(1, r.status)
      assert.are.equal("SimpleSerial v1 at 38400 baud\n", r.stdout)
      -- aes_kat.lua's assert puts its position in front
      assert.matches("^cwlua: examples/lab/aes_kat%.lua:%d+: ", r.stderr)
      assert.are.equal(": simpleserial v1: no 'z' acknowledgement of 'k' within 250 ms "
        .. "(38400 baud); " .. hint("stm32f1") .. "\n", r.stderr:match("%d(: .*)$"))
    end)

    it("the XMEGA model says it too", function()
      local r = sim("--sim-target", "atxmega128d4", "--sim-app", "ss1-aes", "run",
        "examples/lab/aes_kat.lua", "--target", "xmega", "--no-program")
      assert.are.equal(1, r.status)
      assert.matches("; " .. hint("xmega"):gsub("%p", "%%%0") .. "\n$", r.stderr)
    end)

    it("a plain read of the serial line says why (banner.lua), with the recipe of a part",
      function()
        local r = sim("--sim-target", "stm32f100xb", "--sim-app", "banner", "run",
          "examples/lab/banner.lua")
        assert.are.equal(4, r.status)
        assert.are.equal(("no banner: read_until: no match for %q within 1000 ms (0 bytes "
          .. "received); %s\n"):format("\n", hint("stm32f1")), r.stderr)
      end)

    it("says nothing once the flash is programmed, or for the silent model", function()
      local r = sim("--sim-target", "stm32f1", "--sim-app", "silent", "run",
        "examples/lab/banner.lua")
      assert.are.equal(4, r.status)
      assert.are.equal(("no banner: read_until: no match for %q within 1000 ms (0 bytes "
        .. "received)\n"):format("\n"), r.stderr)
      assert.are.equal(0, sim("program", "stm32f1", HELLO).status)
      r = sim("--sim-target", "stm32f1", "--sim-app", "ss2-aes", "run",
        "examples/lab/aes_kat.lua", "--no-program")
      assert.are.equal(1, r.status) -- the wrong version: garbled, but no word about the flash
      assert.is_nil(r.stderr:find("blank", 1, true))
    end)
  end)
end)
