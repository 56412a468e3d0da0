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
    -- the RAM buffer goes first, 128 bytes a request (the board's OUT buffer, §1), SET = 0x21
    -- with the offset in the high byte
    assert.are.same({ "out", 0x21, 0x0021, ("\x11"):rep(128) }, b.sent[3])
    assert.are.same({ "out", 0x21, 0x8021, "\x11\x11" }, b.sent[4])
    assert.are.same({ "out", 0x21, 0x13, "\x82\x00\xC1\x05\x40\x4C\x20\xFF\xFF" }, b.sent[5])
  end)

  it("follows the engine's advancing address: one LOAD_ADDRESS for a contiguous run", function()
    local b = fake({ "\x06\x00", "\x13\x00", "\x13\x00", "\x14\x00", "\x14\x00",
                     "\x15\x00", "\x15\x81", "\x06\x00" })
    local isp = v2isp.new(b)
    local p = { mode = 0xC1, delay_ms = 5, load = 0x40, write = 0x4C, read = 0x20 }
    local function loads()
      local n = 0
      for _, t in ipairs(b.sent) do
        if t[1] == "out" and t[3] == v2isp.CMD.LOAD_ADDRESS then n = n + 1 end
      end
      return n
    end
    isp:seek(0x40)                             -- nothing known yet: LOAD_ADDRESS
    isp:program("flash", ("\x11"):rep(128), p) -- 64 words: the engine is at 0x80 (§C.3)
    isp:seek(0x80)                             -- there already
    isp:program("flash", ("\x11"):rep(128), p)
    isp:seek(0xC0)
    isp:read("flash", 256)                     -- 128 words: at 0x140
    assert.are.equal(1, loads())
    assert.are.equal(0x140, isp.addr)
    isp:read("flash", 6)                       -- 3 words further
    assert.are.equal(0x143, isp.addr)
    isp:program("eeprom", "\x01\x02\x03\x04", p) -- EEPROM advances a byte at a time
    assert.are.equal(0x147, isp.addr)
    isp:seek(0x147)
    assert.are.equal(1, loads())
    -- a command that fails leaves the address unknown: the next seek loads it again
    local ok = pcall(isp.program, isp, "eeprom", "\x05", p)
    assert.is_false(ok)
    assert.is_nil(isp.addr)
    isp:seek(0x148)
    assert.are.equal(2, loads())
    assert.are.equal(0x148, isp.addr)
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

  it("reads the RAM buffer with GET = 0x22 in one request", function()
    local b = fake({ "\x14\x00" })
    local data = v2isp.new(b):read("flash", 256)
    assert.are.same({ "out", 0x21, 0x14, "\x00\x01\x20" }, b.sent[1])
    assert.are.same({ "in", 0x21, 0x0022, 256 }, b.sent[3])
    assert.are.equal(3, #b.sent)
    assert.are.equal(256, #data)
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
