-- SPDX-License-Identifier: MIT
-- cwlua.proto.xprog against a scripted board: the exact requests (target-protocols.md §B.1, §B.3)
-- and how replies become results and errors.
local xprog = require "cwlua.proto.xprog"

-- A board that records ctrl_out/ctrl_in and answers from a queue of IN replies.
local function fake(replies)
  local b = { log = {}, replies = replies or {} }
  function b:ctrl_out(req, value, data)
    self.log[#self.log + 1] = ("OUT %02X %04X %s"):format(req, value, xprog.hex(data))
    if self.stall then return nil, "the board stalled the request", "stall" end
    return true
  end
  function b:ctrl_in(req, value, len)
    self.log[#self.log + 1] = ("IN %02X %04X %d"):format(req, value, len)
    local r = table.remove(self.replies, 1)
    if r == nil then return nil, "the board stalled the request", "stall" end
    return r
  end
  return b
end

describe("cwlua.proto.xprog", function()
  it("sends NewAE's SET_PARAM TIMEOUT and reads the 3-byte status", function()
    local b = fake({ "\x20\x00\x00" })
    xprog.new(b):set_timeout(100)
    assert.are.same({ "OUT 20 0007 08 FA 00 00 00", "IN 20 0020 3" }, b.log)
  end)

  it("stages writes in 128-byte SET_RAMBUF chunks with the offset in wValue's high byte",
    function()
      local b = fake({ "\x20\x00\x00" })
      xprog.new(b):write(xprog.MEM.APPL, 3, 0x0800100, ("\xAA"):rep(200))
      -- the board's OUT buffer takes 128 bytes (target-protocols.md §1)
      assert.are.same({ "OUT 20 0022", "OUT 20 8022" },
        { b.log[1]:sub(1, 11), b.log[2]:sub(1, 11) })
      assert.are.equal(128 * 3 - 1, #b.log[1]:sub(13))
      assert.are.equal(72 * 3 - 1, #b.log[2]:sub(13)) -- the last chunk: 72 bytes
      assert.are.same({ "OUT 20 0004 01 03 00 01 80 00 C8 00", "IN 20 0020 3" },
        { b.log[3], b.log[4] })
      assert.are.equal(4, #b.log)
    end)

  it("reads through READ_MEM, then the whole RAM buffer in one GET_RAMBUF", function()
    local b = fake({ "\x20\x00\x00", ("a"):rep(100) })
    local d = xprog.new(b):read(0x08C0000, 100)
    assert.are.equal(("a"):rep(100), d)
    assert.are.same({ "OUT 20 0005 01 00 00 8C 00 64 00", "IN 20 0020 3", "IN 20 0021 100" },
      b.log)
  end)

  it("a page of 256 bytes costs two transfers out and one in", function()
    local b = fake({ "\x20\x00\x00", "\x20\x00\x00", ("r"):rep(256) })
    local x = xprog.new(b)
    x:write(xprog.MEM.APPL, xprog.PAGE_WRITE, 0x0800000, ("w"):rep(256))
    assert.are.same({ "OUT 20 0022", "OUT 20 8022", "OUT 20 0004", "IN 20 0020 3" },
      { b.log[1]:sub(1, 11), b.log[2]:sub(1, 11), b.log[3]:sub(1, 11), b.log[4] })
    assert.are.equal(("r"):rep(256), x:read(0x0800000, 256))
    assert.are.same({ "OUT 20 0005 01 00 00 80 00 00 01", "IN 20 0020 3", "IN 20 0021 256" },
      { b.log[5], b.log[6], b.log[7] })
    assert.are.equal(7, #b.log)
  end)

  it("a GET_RAMBUF that comes back short is a board error", function()
    local ok, e = pcall(function()
      return xprog.new(fake({ "\x20\x00\x00", "abc" }), { where = "x" }):read(0x0800000, 4)
    end)
    assert.is_false(ok)
    assert.are.equal("device", e.kind)
    assert.are.equal("x: XMEGA programmer: GET_RAMBUF returned 3 of 4 bytes", e.message)
  end)

  it("turns FAILED or TIMEOUT into a target error", function()
    local b = fake({ "\x20\x03\x01" })
    local ok, e = pcall(xprog.new(b, { where = "xmega" }).erase, xprog.new(b, { where = "xmega" }),
      xprog.ERASE.CHIP, 0)
    assert.is_false(ok)
    assert.are.equal("target", e.kind)
    assert.are.equal("xmega: ERASE type 1 reported TIMEOUT (the engine's timeout expired) at "
      .. "0x0000000", e.message)
    assert.are.equal(3, e.status)
  end)

  it("enter returns nil, status, timed_out", function()
    local x = xprog.new(fake({ "\x20\x01\x01" }))
    assert.are.same({ nil, 1, true }, { x:enter() })
  end)

  it("a stalled request means the board has no engine", function()
    local b = fake()
    b.stall = true
    local ok, e = pcall(xprog.new(b, { where = "xmega" }).set_timeout,
      xprog.new(b, { where = "xmega" }), 200)
    assert.is_false(ok)
    assert.are.equal("device", e.kind)
    assert.are.equal("no_engine", e.code)
    assert.are.equal("xmega: this board cannot program XMEGA: its XMEGA programmer request "
      .. "(0x20, SET_PARAM TIMEOUT) stalls, so its firmware has no XPROG (PDI) engine; use a "
      .. "CW-Lite, CW1200 or CW-Husky", e.message)
  end)

  it("a status that does not start with 0x20 is a board error", function()
    local ok, e = pcall(xprog.new(fake({ "\x00\x00" }), { where = "x" }).status,
      xprog.new(fake({ "\x00\x00" }), { where = "x" }))
    assert.is_false(ok)
    assert.are.equal("x: XMEGA programmer: GET_STATUS answered 00 00, not 20 xx xx", e.message)
  end)
end)
