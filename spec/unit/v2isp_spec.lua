-- SPDX-License-Identifier: MIT
-- cwlua.proto.v2isp against a scripted board: the bytes it sends (little-endian payloads,
-- exact sizes, the RAM-buffer codes) and how it reads statuses (target-protocols.md §C).
local v2isp = require "cwlua.proto.v2isp"

-- A board that records control transfers and answers GET_STATUS from a queue.
local function fake(statuses)
  local b = { sent = {}, statuses = statuses or {} }
  function b.ctrl_out(_, req, value, data)
    b.sent[#b.sent + 1] = { "out", req, value, data }
    if b.stall then return nil, "pipe error", "stall" end
    return true
  end
  function b.ctrl_in(_, req, value, len)
    b.sent[#b.sent + 1] = { "in", req, value, len }
    if value == 0x20 then return table.remove(b.statuses, 1) or "" end
    if value == 0x01 then return "\x01\x00\x0DCWLITE_AVRISP" end
    return ("\xAB"):rep(len)
  end
  return b
end

describe("cwlua.proto.v2isp", function()
  it("sends LOAD_ADDRESS and PROGRAM counts little-endian", function()
    local b = fake({ "\x10\x00", "\x13\x00" })
    local isp = v2isp.new(b)
    isp:load_address(0x00012345)
    assert.are.same({ "out", 0x21, 0x06, "\x45\x23\x01\x00" }, b.sent[1])
    assert.are.same({ "in", 0x21, 0x20, 32 }, b.sent[2])
    isp:program("flash", ("\x11"):rep(130), { mode = 0xC1, delay_ms = 5, load = 0x40,
      write = 0x4C, read = 0x20 })
    -- the RAM buffer goes first, 64 bytes a request, SET = 0x21 with the offset in the high byte
    assert.are.same({ "out", 0x21, 0x0021, ("\x11"):rep(64) }, b.sent[3])
    assert.are.same({ "out", 0x21, 0x4021, ("\x11"):rep(64) }, b.sent[4])
    assert.are.same({ "out", 0x21, 0x8021, "\x11\x11" }, b.sent[5])
    assert.are.same({ "out", 0x21, 0x13, "\x82\x00\xC1\x05\x40\x4C\x20\xFF\xFF" }, b.sent[6])
  end)

  it("sends NewAE's ENTER layout (11 bytes) and reads the raw response through READ_*", function()
    local b = fake({ "\x10\x00", "\x1B\x00\x53\x00" })
    local isp = v2isp.new(b)
    assert.is_true(isp:enter(v2isp.ENTER_DEFAULTS))
    assert.are.same({ "out", 0x21, 0x10, "\xC8\x19\x05\x20\x00\x53\x03\xAC\x53\x00\x00" },
      b.sent[1])
    assert.are.equal(0x53, isp:transfer(v2isp.CMD.READ_SIGNATURE, 3, "\xAC\x53\x00\x00"))
    assert.are.same({ "out", 0x21, 0x1B, "\x03\xAC\x53\x00\x00" }, b.sent[3])
  end)

  it("reads the RAM buffer with GET = 0x22 in 64-byte pieces", function()
    local b = fake({ "\x14\x00" })
    local data = v2isp.new(b):read("flash", 100)
    assert.are.same({ "out", 0x21, 0x14, "\x64\x00\x20" }, b.sent[1])
    assert.are.same({ "in", 0x21, 0x0022, 64 }, b.sent[3])
    assert.are.same({ "in", 0x21, 0x4022, 36 }, b.sent[4])
    assert.are.equal(100, #data)
  end)

  it("raises a target error with the status, and a failure when no status came", function()
    local isp = v2isp.new(fake({ "\x12\x81" }), { where = "avr" })
    local ok, e = pcall(isp.chip_erase, isp)
    assert.is_false(ok)
    assert.are.equal("target", e.kind)
    assert.are.equal("avr: CHIP_ERASE_ISP failed (V2 status 0x81, RDY/BSY timeout)", e.message)
    isp = v2isp.new(fake({ "" }), { where = "avr" })
    ok, e = pcall(isp.leave, isp)
    assert.is_false(ok)
    assert.are.equal("failure", e.kind)
    assert.are.equal("avr: V2 command 0x11 (2 payload bytes) left no status: the board's V2 "
      .. "engine dropped it", e.message)
  end)

  it("turns a USB failure into a device error", function()
    local b = fake()
    b.stall = true
    local isp = v2isp.new(b, { where = "avr" })
    local ok, e = pcall(isp.leave, isp)
    assert.is_false(ok)
    assert.are.equal("device", e.kind)
    assert.are.equal("avr: V2 command 0x11: pipe error", e.message)
  end)

  it("sets the shared timeout through XPROG's SET_PARAM (0x20/0x07)", function()
    local b = fake()
    assert.is_true(v2isp.new(b):set_shared_timeout(500))
    assert.are.same({ "out", 0x20, 0x07, "\x08\xF4\x01\x00\x00" }, b.sent[1])
  end)

  it("knows the SCK the board makes: divider 255 at most, the slow clock", function()
    assert.are.equal(1e6, v2isp.sck_hz(3, false))
    assert.are.equal(96e6 / 255, v2isp.sck_hz(6, false)) -- 125 kHz asked
    assert.are.equal(6e6 / 255, v2isp.sck_hz(6, true))
    assert.are.equal(3, v2isp.duration_for(1e6))
    assert.are.equal(4, v2isp.duration_for(900e3))
    assert.are.equal(6, v2isp.duration_for(1))
  end)

  it("reads SIGN_ON", function()
    assert.are.equal("CWLITE_AVRISP", v2isp.new(fake()):sign_on())
  end)
end)
