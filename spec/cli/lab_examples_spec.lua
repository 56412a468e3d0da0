-- SPDX-License-Identifier: MIT
-- The lab examples (examples/lab/) run on the simulator as the README and their headers say.
-- each_board.lua runs under 'cwlua sim attach' in tests/lab/CMakeLists.txt.
local cli = require "support.cli"

local KAT = "SimpleSerial v%d at %d baud\n"
  .. "FIPS-197 C.1  ok    key 000102030405060708090a0b0c0d0e0f  pt 00112233445566778899aabbccddeeff"
  .. "  ct 69c4e0d86a7b0430d8cdb78070b4c55a\n"
  .. "FIPS-197 B    ok    key 2b7e151628aed2a6abf7158809cf4f3c  pt 3243f6a8885a308d313198a2e0370734"
  .. "  ct 3925841d02dc09fbdc118597196a0b32\n"
  .. "all known answers match\n"

describe("examples/lab", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(cli.cleanup)

  local function sim(app, ...)
    local args = { "-d", "sim", "--sim-target", "stm32f1", "--sim-app", app, "--sim-state",
                   dir .. "/state", ... }
    return cli.run(args)
  end

  it("aes_kat.lua: programs, then passes the FIPS-197 known answers over SimpleSerial v1",
    function()
      local r = sim("ss1-aes", "run", "examples/lab/aes_kat.lua")
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("programmed examples/lab/../stm32f1-hello/hello.hex: 368 bytes, verify "
        .. "ok\n" .. KAT:format(1, 38400), r.stdout)
    end)

  it("aes_kat.lua --v2: the same over SimpleSerial v2", function()
    local r = sim("ss2-aes", "run", "examples/lab/aes_kat.lua", "--v2")
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("programmed examples/lab/../stm32f1-hello/hello.hex: 368 bytes, verify ok\n"
      .. KAT:format(2, 230400), r.stdout)
  end)

  it("aes_kat.lua fails (exit 1) against a firmware of the other version", function()
    local r = sim("ss2-aes", "run", "examples/lab/aes_kat.lua")
    assert.are.equal(1, r.status)
    -- v2's 'e' frames at 230400 baud read as 0xFF bytes at 38400
    assert.matches("simpleserial v1: malformed 'z' acknowledgement of 'k': expected 'z', 2 hex "
      .. "digits and \"\\n\", got \"\\xFF\\xFF\\xFF\\xFF\"", r.stderr, 1, true)
  end)

  it("banner.lua: resets the target and prints its banner", function()
    local r = sim("banner", "program", "stm32f1", "examples/stm32f1-hello/hello.hex")
    assert.are.equal(0, r.status, r.stderr)
    r = sim("banner", "run", "examples/lab/banner.lua")
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("cwsim stm32f100xb application\n", r.stdout)
  end)

  it("banner.lua: a silent target exits 4 and says so", function()
    assert.are.equal(0, sim("silent", "program", "stm32f1",
      "examples/stm32f1-hello/hello.hex").status)
    local r = sim("silent", "run", "examples/lab/banner.lua")
    assert.are.equal(4, r.status)
    assert.are.equal(("no banner: read_until: no match for %q within 1000 ms (0 bytes "
      .. "received)\n"):format("\n"), r.stderr)
  end)
end)
