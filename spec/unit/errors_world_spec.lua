-- SPDX-License-Identifier: MIT
-- cwlua.errors.world: a failed board, port or simulator call's stable code becomes the exit
-- status of contract.md §3.8. An allocation that failed in C ("no_memory": libusb, libcwsim,
-- tests/sim/test_oom.c) is running out of memory, exit 1 in one line, not a usage error.
local errors = require "cwlua.errors"
local cmdutil = require "cwlua.cmdutil"

describe("cwlua.errors.world", function()
  it("makes a request the board cannot meet a usage error (exit 2)", function()
    local e = errors.world("invalid", "sim: unknown target part 'x'", { code = "invalid" })
    assert.is_true(errors.is(e, "usage"))
    assert.are.equal(2, errors.exit_code(e))
    assert.are.equal("invalid", e.code)
  end)

  it("makes the other codes the device's (exit 3)", function()
    for _, code in ipairs({ "timeout", "busy", "io", "no_device" }) do
      local e = errors.world(code, "x")
      assert.is_true(errors.is(e, "device"))
      assert.are.equal(3, errors.exit_code(e))
    end
  end)

  it("raises Lua's out-of-memory error for no_memory, whatever the message", function()
    local ok, e = pcall(errors.world, "no_memory", "sim: cwsim stm32: out of memory")
    assert.is_false(ok)
    assert.is_true(errors.out_of_memory(e))
    assert.are.equal(1, errors.exit_code(e))
    ok, e = pcall(cmdutil.fail, "sim: cwsim: out of memory", "no_memory")
    assert.is_false(ok)
    assert.is_true(errors.out_of_memory(e))
    ok, e = pcall(cmdutil.fail, "sim: unknown target part 'x'", "invalid")
    assert.is_false(ok)
    assert.are.equal(2, errors.exit_code(e))
  end)
end)
