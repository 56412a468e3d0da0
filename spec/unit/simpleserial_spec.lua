-- SPDX-License-Identifier: MIT
-- cwlua.simpleserial against a scripted stream: framing, CRC and stuffing, every failure code
-- and its exact message. The simulated applications are in spec/cli/lab_simpleserial_spec.lua.
local ss = require "cwlua.simpleserial"
local fake = require "support.fake_stream"

-- A stream whose target answers each write from a table of replies (or a function); reads
-- never wait.
local function stream(replies, baud)
  local s = fake.new(function(data, f)
    local r = type(replies) == "function" and replies(data) or table.remove(replies or {}, 1)
    f:reply(r or "")
  end)
  s.baud = baud or 38400
  return s
end

local hex, unhex = ss.hex, ss.unhex
local KEY = unhex("000102030405060708090a0b0c0d0e0f")
local PT = unhex("00112233445566778899aabbccddeeff")
local CT = unhex("69c4e0d86a7b0430d8cdb78070b4c55a")
local HINT1 = "; check that the target runs SimpleSerial v1 firmware at 38400 baud, is powered "
  .. "and clocked, and that its TX/RX reach the board"
local HINT2 = "; check that the target runs SimpleSerial v2 firmware at 230400 baud, is powered "
  .. "and clocked, and that its TX/RX reach the board"

describe("cwlua.simpleserial", function()
  describe("helpers", function()
    it("converts hex both ways and rejects what is not hex", function()
      assert.are.equal("00ff7f", hex("\0\255\127"))
      assert.are.equal("\0\255\127", unhex("00FF7f"))
      assert.are.equal("\1\2", unhex("01 02"))
      assert.has_error(function() unhex("0g") end, "unhex: '0g' is not hex bytes")
      assert.has_error(function() unhex("012") end, "unhex: '012' is not hex bytes")
    end)

    it("computes NewAE's CRC-8 (poly 0x4D, init 0)", function()
      assert.are.equal(0xC3, ss.crc8("123456789"))
      assert.are.equal(0xEB, ss.crc8("e\1\0"))
    end)

    it("stuffs and unstuffs frames as NewAE's SimpleSerial2 does", function()
      assert.are.equal(unhex("04010210110102030405060708090a0b0c0d0e0ffc00"), ss.frame(1, 2, KEY))
      assert.are.equal(unhex("027601027900"), ss.frame(0x76, 0, ""))
      assert.are.equal("v\0\0\x79", ss.unstuff(unhex("027601027900")))
      assert.are.same({ nil, "no 0x00 at the end" }, { ss.unstuff("\2v\1") })
      assert.are.same({ nil, "0x00 at byte 2, before the end" }, { ss.unstuff("\2\0\1\0") })
      assert.are.same({ nil, "the stuffing pointers do not lead to the end" },
        { ss.unstuff("\9v\1\2\0") })
    end)
  end)

  describe("v1.1", function()
    it("sends a letter, lower-case hex and a newline; reads 'r' and the 'z' ack", function()
      local s = stream({ "z00\n", "r69C4E0D86A7B0430D8CDB78070B4C55A\nz00\n" })
      local t = ss.new(s)
      assert.is_true(t:set_key(KEY))
      assert.are.equal(CT, t:encrypt(PT))
      assert.are.same({ "k000102030405060708090a0b0c0d0e0f\n",
        "p00112233445566778899aabbccddeeff\n" }, s.sent)
    end)

    it("reports the firmware's version from the 'v' ack", function()
      local t = ss.new(stream({ "z01\n" }))
      assert.are.equal(1, t:target_version())
    end)

    it("lists the target's commands from 'w'", function()
      local t = ss.new(stream({ "r6B1000701000\nz00\n" }))
      assert.are.same({ { cmd = "k", len = 16, flags = 0 }, { cmd = "p", len = 16, flags = 0 } },
        t:commands())
    end)

    it("returns nack and the status for a non-zero acknowledgement", function()
      local t = ss.new(stream({ "z01\n" }))
      assert.are.same({ nil, "simpleserial v1: the target answered 'k' with status 0x01", "nack",
        1 }, { t:set_key(KEY) })
    end)

    it("times out when nothing comes", function()
      local t = ss.new(stream({}))
      assert.are.same({ nil, "simpleserial v1: no 'r' reply to 'p' within 250 ms (38400 baud)"
        .. HINT1, "timeout" }, { t:encrypt(PT) })
      t = ss.new(stream({}), { timeout_ms = 40 })
      assert.are.same({ nil, "simpleserial v1: no 'z' acknowledgement of 'x' within 40 ms "
        .. "(38400 baud)" .. HINT1, "timeout" }, { (function()
          t:write("x")
          return t:ack()
        end)() })
    end)

    it("reports a short reply with what arrived", function()
      local t = ss.new(stream({ "r69C4E0" }))
      assert.are.same({ nil, "simpleserial v1: short 'r' reply to 'p': 7 of 34 bytes within 250 "
        .. "ms (\"r69C4E0\")" .. HINT1, "short" }, { t:encrypt(PT) })
    end)

    it("reports a malformed reply: wrong letter, not hex, no newline", function()
      local t = ss.new(stream({ "x69C4E0D86A7B0430D8CDB78070B4C55A\n" }))
      assert.are.same({ nil, "simpleserial v1: malformed 'r' reply to 'p': expected 'r', 32 hex "
        .. "digits and \"\\n\", got \"x69C4E0D86A7B0430D8CDB78070B4C55A\\n\"" .. HINT1,
        "malformed" }, { t:encrypt(PT) })
      t = ss.new(stream({ "r69C4E0D86A7B0430D8CDB78070B4C5\xD5\xC1\n" }))
      local _, msg, code = t:encrypt(PT)
      assert.are.equal("malformed", code)
      assert.matches('got "r69C4E0D86A7B0430D8CDB78070B4C5\\xD5\\xC1\\n"', msg, 1, true)
    end)

    it("read consumes the acknowledgement, as NewAE's simpleserial_read(ack=True)", function()
      -- the firmware answers every 'p' with 'r' + data and then 'z00': write + read again and
      -- again must stay in step
      local reply = "r69C4E0D86A7B0430D8CDB78070B4C55A\nz00\n"
      local s = stream(function(data) return data:sub(1, 1) == "p" and reply or nil end)
      local t = ss.new(s)
      for _ = 1, 3 do
        assert.is_true(t:write("p", PT))
        assert.are.equal(CT, t:read("r", 16))
      end
      assert.are.equal("", s.rx)
    end)

    it("read with { ack = false } leaves the acknowledgement for ss:ack()", function()
      local t = ss.new(stream({ "r69C4E0D86A7B0430D8CDB78070B4C55A\nz00\n" }))
      t:write("p", PT)
      assert.are.equal(CT, t:read("r", 16, { ack = false }))
      assert.are.equal(0, t:ack())
      t = ss.new(stream({ "r01\nz00\n" }))
      t:write("y")
      assert.are.equal("\1", t:read("r", { ack = false }))
      assert.are.equal(0, t:ack(100))
      t = ss.new(stream({ "r01\nz00\n" }))
      t:write("y")
      assert.are.equal("\1", t:read("r", 1, 100, { ack = true }))
      assert.has_error(function() t:read("r", 1, { acks = false }) end,
        "simpleserial: unknown read option 'acks'")
      assert.has_error(function() t:read("r", 1, 100, "no") end,
        "simpleserial: read options must be a table")
    end)

    it("read: a non-zero or missing acknowledgement after the reply fails", function()
      local t = ss.new(stream({ "r69C4E0D86A7B0430D8CDB78070B4C55A\nz05\n" }))
      t:write("p", PT)
      assert.are.same({ nil, "simpleserial v1: the target answered 'p' with status 0x05", "nack",
        5 }, { t:read("r", 16) })
      t = ss.new(stream({ "r69C4E0D86A7B0430D8CDB78070B4C55A\n" }))
      t:write("p", PT)
      assert.are.same({ nil, "simpleserial v1: no 'z' acknowledgement of 'p' within 250 ms "
        .. "(38400 baud)" .. HINT1, "timeout" }, { t:read("r", 16) })
    end)

    it("read: an acknowledgement instead of the reply is taken whole", function()
      local s = stream({ "z01\n", "z00\n" })
      local t = ss.new(s)
      t:write("p", PT)
      assert.are.same({ nil, "simpleserial v1: the target answered with status 0x01 instead of "
        .. "the 'r' reply to 'p'", "nack", 1 }, { t:read("r", 16) })
      assert.are.equal("", s.rx) -- nothing left over for the next command
      t:write("x")
      assert.are.same({ nil, "simpleserial v1: the target acknowledged (status 0x00) without the "
        .. "'r' reply to 'x'", "malformed" }, { t:read("r") })
      assert.are.equal("", s.rx)
    end)

    it("clears the line as NewAE's connect does: 24 'x' and a flush", function()
      local s = stream({ "junk" })
      local t = ss.new(s)
      assert.is_true(t:reset_comms())
      assert.are.same({ ("x"):rep(24) }, s.sent)
      assert.are.equal("", s.rx)
    end)

    it("raises on misuse", function()
      local t = ss.new(stream({}))
      assert.has_error(function() t:write("kk", "") end,
        "simpleserial v1: cmd must be a one-letter string")
      assert.has_error(function() t:encrypt("short") end,
        "simpleserial: plaintext must be 16 bytes (a string; cw.simpleserial.unhex makes one "
        .. "from hex)")
      assert.has_error(function() t:read("r", -1) end,
        "simpleserial: n must be a non-negative integer")
      assert.has_error(function() ss.new(stream({}), { version = 3 }) end,
        "simpleserial: version must be 1 (v1.1) or 2 (v2.1)")
      assert.has_error(function() ss.open({}) end,
        "simpleserial.open: dev must be a board or port from cw.open")
    end)

    it("needs the board or port for reset_target", function()
      local t = ss.new(stream({}))
      assert.are.same({ nil, "simpleserial v1: reset_target needs the board or port (open with "
        .. "simpleserial.open(dev))", "unsupported" }, { t:reset_target() })
    end)
  end)

  describe("v2.1", function()
    local ACK0 = unhex("03650102eb00")
    local R_CT = unhex("14721069c4e0d86a7b0430d8cdb78070b4c55aaf00")

    it("sends stuffed frames with the CRC; reads the reply and the 'e' ack", function()
      local s = stream({ ACK0, R_CT .. ACK0 }, 230400)
      local t = ss.new(s, { version = 2 })
      assert.is_true(t:set_key(KEY))
      assert.are.equal(CT, t:encrypt(PT))
      assert.are.same({ ss.frame(1, 2, KEY), ss.frame(1, 1, PT) }, s.sent)
    end)

    it("reads the version and the command list", function()
      local t = ss.new(stream({ unhex("057201034e00") .. ACK0 }), { version = 2 })
      assert.are.equal(3, t:target_version())
      local w = ss.stuff("r\3vw\1" .. string.char(ss.crc8("r\3vw\1")))
      t = ss.new(stream({ w .. ACK0 }), { version = 2 })
      assert.are.same({ { cmd = "v" }, { cmd = "w" }, { cmd = 1 } }, t:commands())
    end)

    it("detects a bad CRC", function()
      local bad = R_CT:sub(1, -3) .. "\xAE\0"
      local t = ss.new(stream({ bad .. ACK0 }, 230400), { version = 2 })
      local _, msg, code = t:encrypt(PT)
      assert.are.equal("crc", code)
      assert.are.equal("simpleserial v2: bad CRC in the 'r' reply to 0x01/0x01: 0xAE, computed "
        .. "0xAF (\"\\x14r\\x10i\\xC4\\xE0\\xD8j{\\x040\\xD8\\xCD\\xB7\\x80p\\xB4\\xC5Z\\xAE"
        .. "\\x00\")" .. HINT2, msg)
    end)

    it("returns the target's error code when an 'e' frame comes instead of the reply",
      function()
        local t = ss.new(stream({ unhex("056501027100") }), { version = 2 })
        assert.are.same({ nil, "simpleserial v2: the target reported error 0x02 (bad CRC) "
          .. "instead of the 'r' reply to 0x01/0x01", "nack", 2 }, { t:encrypt(PT) })
        t = ss.new(stream({ unhex("0565010471") }), { version = 2 }) -- the ack cut short
        local _, _, code = t:set_key(KEY)
        assert.are.equal("short", code)
      end)

    it("reports a non-zero ack as nack with its meaning", function()
      local e4 = ss.stuff("e\1\4" .. string.char(ss.crc8("e\1\4")))
      local t = ss.new(stream({ e4 }), { version = 2 })
      assert.are.same({ nil, "simpleserial v2: the target answered the key (0x01/0x02) with "
        .. "status 0x04 (invalid length)", "nack", 4 }, { t:set_key(KEY) })
    end)

    it("reports short and malformed frames", function()
      local t = ss.new(stream({ R_CT:sub(1, 9) }, 230400), { version = 2 })
      assert.are.same({ nil, "simpleserial v2: short 'r' reply to 0x01/0x01: 9 of 21 bytes "
        .. "within 250 ms (\"\\x14r\\x10i\\xC4\\xE0\\xD8j{\")" .. HINT2, "short" },
        { t:encrypt(PT) })
      t = ss.new(stream({ "\3r\0" }, 230400), { version = 2 })
      assert.are.same({ nil, "simpleserial v2: malformed 'r' reply to 0x01/0x01: 0x00 inside the "
        .. "header \"\\x03r\\x00\"" .. HINT2, "malformed" }, { t:encrypt(PT) })
      t = ss.new(stream({ R_CT:sub(1, -2) .. "\1" .. ACK0 }, 230400), { version = 2 })
      local _, msg, code = t:encrypt(PT)
      assert.are.equal("malformed", code)
      assert.matches("simpleserial v2: malformed 'r' reply to 0x01/0x01: no 0x00 at the end",
        msg, 1, true)
      t = ss.new(stream({}, 230400), { version = 2 })
      assert.are.same({ nil, "simpleserial v2: no 'r' reply to 0x01/0x01 within 250 ms "
        .. "(230400 baud)" .. HINT2, "timeout" }, { t:encrypt(PT) })
    end)

    it("read consumes the 'e' acknowledgement; { ack = false } leaves it", function()
      local s = stream(function() return R_CT .. ACK0 end, 230400)
      local t = ss.new(s, { version = 2 })
      for _ = 1, 3 do
        assert.is_true(t:write(1, PT, 1))
        assert.are.equal(CT, t:read("r", 16))
      end
      assert.are.equal("", s.rx)
      t:write(1, PT, 1)
      assert.are.equal(CT, t:read("r", 16, { ack = false }))
      assert.are.equal(0, t:ack())
      -- an error frame instead of the reply is the acknowledgement: nothing more is read
      s = stream({ unhex("056501027100") .. R_CT }, 230400)
      t = ss.new(s, { version = 2 })
      t:write(1, PT, 1)
      assert.are.same({ nil, "simpleserial v2: the target reported error 0x02 (bad CRC) "
        .. "instead of the 'r' reply to 0x01/0x01", "nack", 2 }, { t:read("r", 16) })
      assert.are.equal(R_CT, s.rx)
    end)

    it("clears the line with two 0x00 bytes, then flushes", function()
      local s = stream({ ACK0 .. ACK0 })
      assert.is_true(ss.new(s, { version = 2 }):reset_comms())
      assert.are.same({ "\0\0" }, s.sent)
      assert.are.equal("", s.rx)
    end)

    it("raises on misuse", function()
      local t = ss.new(stream({}), { version = 2 })
      assert.has_error(function() t:write(256, "") end,
        "simpleserial v2: cmd must be a one-letter string or a byte (0-255)")
      assert.has_error(function() t:write("p", ("x"):rep(250)) end,
        "simpleserial v2: 250 data bytes; a frame carries at most 249")
      assert.has_error(function() t:write("p", "", 300) end,
        "simpleserial v2: scmd must be a byte (0-255)")
    end)
  end)

  -- On a simulated board the stream waits for a reply whose length it knows (stream:await):
  -- an error reply, shorter than what was awaited, must end that wait when it is whole, not
  -- after the 250 ms timeout. Measured on the simulator's clock, which only the simulated wire
  -- and the waits move: the same every run, whatever the machine's load.
  describe("an error reply on a simulated board", function()
    local board = require "cwlua.board"
    local time = require "cwlua.time"
    local SRC = os.getenv("CWLUA_SOURCE_DIR") or "."
    local dirs = {}
    teardown(function()
      for _, d in ipairs(dirs) do os.execute("rm -rf '" .. d .. "'") end
    end)
    local function lab(app)
      local dir = os.tmpname()
      os.remove(dir)
      dirs[#dirs + 1] = dir
      local b = assert(board.open("sim", { target = "stm32f100xb", state = dir, app = app }))
      assert(require("cwlua.flashapi").program("stm32f1",
        SRC .. "/examples/stm32f1-hello/hello.hex", { board = b, quiet = true }))
      return b
    end
    -- ms of the simulator's clock that f() takes, and f's results
    local function timed(f)
      local t0 = time.now_ns()
      local r = table.pack(f())
      return (time.now_ns() - t0) / 1e6, r
    end

    it("v1: a 'z' acknowledgement where the 'r' reply was awaited", function()
      local b <close> = lab("ss1-aes")
      local t = assert(ss.open(b, { version = 1 }))
      assert(t:set_key(KEY))
      local ok_ms = timed(function() return assert(t:encrypt(PT)) end)
      assert.is_true(t:write("x", ""))  -- 'x' answers "z00\n" and nothing else
      local ms, r = timed(function() return t:read("r", 16) end)
      assert.are.same({ nil, "simpleserial v1: the target acknowledged (status 0x00) without "
        .. "the 'r' reply to 'x'", "malformed" }, { r[1], r[2], r[3] })
      -- taken at the first look, when the whole reply could have come (about as long as an
      -- encryption), not 250 ms later
      assert.is_true(ms <= ok_ms + 2, ("took %.3f ms, an encryption %.3f ms"):format(ms, ok_ms))
      assert.are.equal(CT, (t:encrypt(PT))) -- the line is in step: encryptions go on
    end)

    it("v2: an 'e' error frame where the 'r' reply was awaited", function()
      local b <close> = lab("ss2-aes")
      local t = assert(ss.open(b, { version = 2 }))
      assert(t:set_key(KEY))
      local ok_ms = timed(function() return assert(t:encrypt(PT)) end)
      assert.is_true(t:write(1, PT:sub(1, 15), 1)) -- 15 bytes: error 0x04, invalid length
      local ms, r = timed(function() return t:read("r", 16) end)
      assert.are.same({ nil, "simpleserial v2: the target reported error 0x04 (invalid length) "
        .. "instead of the 'r' reply to 0x01/0x01", "nack", 4 }, { r[1], r[2], r[3], r[4] })
      assert.is_true(ms <= ok_ms + 2, ("took %.3f ms, an encryption %.3f ms"):format(ms, ok_ms))
      assert.are.equal(CT, (t:encrypt(PT)))
    end)
  end)
end)
