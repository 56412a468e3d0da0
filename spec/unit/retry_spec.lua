-- SPDX-License-Identifier: MIT
-- cwlua.retry, and the XMEGA and AVR steps that run once more when their engine command failed
-- (contract.md §3.11).
local avr = require "cwlua.avr"
local errors = require "cwlua.errors"
local retry = require "cwlua.retry"
local xmega = require "cwlua.xmega"

local function target_error(msg)
  return errors.new("target", msg, { code = "timeout" })
end

describe("cwlua.retry", function()
  it("counts, keeps the first messages and logs one line per retry", function()
    local lines = {}
    local rec = retry.new(function(fmt, ...) lines[#lines + 1] = fmt:format(...) end)
    for i = 1, retry.MAX_LIST + 5 do rec:note("attempt %d", i) end
    assert.are.equal(retry.MAX_LIST + 5, rec.count)
    assert.are.equal(retry.MAX_LIST, #rec.list)
    assert.are.equal("retry 1: attempt 1", lines[1])
    assert.are.equal(retry.MAX_LIST + 5, #lines)
  end)

  it("runs again after a target error, up to its attempts, and says how many", function()
    local rec, calls = retry.new(), 0
    local ok, e = pcall(rec.run, rec, "flash read", 2, function()
      calls = calls + 1
      error(target_error("xmega: READ_MEM reported TIMEOUT"), 0)
    end)
    assert.is_false(ok)
    assert.are.equal(2, calls)
    assert.are.equal("xmega: READ_MEM reported TIMEOUT (2 attempts)", e.message)
    assert.are.same({ "flash read: READ_MEM reported TIMEOUT; trying again (2 of 2)" }, rec.list)
  end)

  it("lets any other error through at once (USB, bad input, a bug)", function()
    for _, e in ipairs({ errors.new("device", "USB gone"), errors.new("input", "bad"), "bug" }) do
      local rec, calls = retry.new(), 0
      local ok, got = pcall(rec.run, rec, "x", 3, function()
        calls = calls + 1
        error(e, 0)
      end)
      assert.is_false(ok)
      assert.are.equal(e, got)
      assert.are.same({ 1, 0 }, { calls, rec.count })
    end
  end)
end)

describe("engine steps that run once more", function()
  it("XMEGA: a READ_MEM that timed out is read again", function()
    local recipe = xmega.recipe({ name = "xmega" })
    local calls = 0
    local ctx = { where = "xmega", xprog = { read = function(_, addr, len)
      calls = calls + 1
      if calls == 1 then error(target_error("xmega: READ_MEM reported TIMEOUT at 0x0800000"), 0) end
      return ("%07X"):format(addr):sub(1, len)
    end } }
    assert.are.equal("080", recipe.read(ctx, {}, 0, 3))
    assert.are.equal(2, calls)
    assert.are.same({ "flash read: READ_MEM reported TIMEOUT at 0x0800000; trying again (2 of "
      .. "2)" }, ctx.retries.list)
  end)

  it("AVR: a flash read starts again from LOAD_ADDRESS", function()
    -- the real v2isp on a board that answers GET_STATUS from a list: the first READ_FLASH_ISP
    -- fails, which leaves the engine's address unknown (its own LOAD_ADDRESS is needed again)
    local v2isp = require "cwlua.proto.v2isp"
    local recipe = avr.recipe({ name = "avr" })
    local log, statuses = {}, { "\x06\x00", "\x14\x80", "\x06\x00", "\x14\x00" }
    local board = {
      ctrl_out = function(_, _, value, data)
        log[#log + 1] = ("out %02X %s"):format(value, data:gsub(".", function(c)
          return ("%02X"):format(c:byte())
        end))
        return true
      end,
      ctrl_in = function(_, _, value, len)
        if value == v2isp.CMD.GET_STATUS then return table.remove(statuses, 1) end
        return ("\xAB"):rep(len)
      end,
    }
    local ctx = { where = "avr", isp = v2isp.new(board) }
    assert.are.equal("\xAB\xAB\xAB\xAB", recipe.read(ctx, {}, 0x100, 4))
    assert.are.same({ "out 06 80000000", "out 14 040020", "out 06 80000000", "out 14 040020" },
      log)
    assert.are.equal(1, ctx.retries.count)
  end)
end)
