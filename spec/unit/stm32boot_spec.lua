-- SPDX-License-Identifier: MIT
-- cwlua.proto.stm32boot: AN3155 framing and error reporting, over a scripted stream
-- (target-protocols.md §A.3, §A.4, §A.8).
local errors = require "cwlua.errors"
local fake = require "support.fake_stream"
local fake_an3155 = require "support.fake_an3155"
local stm32boot = require "cwlua.proto.stm32boot"
local time = require "cwlua.time"

local ACK, NACK = "\x79", "\x1F"

local function raised(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(errors.is(e), "expected a cwlua error, got " .. tostring(e))
  return e
end

describe("cwlua.proto.stm32boot", function()
  describe("sync()", function()
    it("answers 'synced' to ACK", function()
      local s = fake.new(function(d, f) if d == "\x7F" then f:reply(ACK) end end)
      assert.are.equal("synced", stm32boot.new(s):sync())
      assert.are.equal("\x7F", s:written())
    end)

    it("sends 0x7F again after silence and accepts a NACK as already synced", function()
      local n = 0
      local s = fake.new(function(d, f)
        if d == "\x7F" then
          n = n + 1
          if n == 2 then f:reply(NACK) end
        end
      end)
      assert.are.equal("already-synced", stm32boot.new(s):sync())
      assert.are.equal("\x7F\x7F", s:written())
    end)

    it("drops an application's banner before syncing", function()
      local s = fake.new(function(d, f) if d == "\x7F" then f:reply(ACK) end end)
      s:reply("hello from the app\n")
      assert.are.equal("synced", stm32boot.new(s):sync())
    end)

    it("reports silence as a timeout", function()
      local e = raised(stm32boot.new(fake.new(), { where = "stm32f1" }).sync,
        stm32boot.new(fake.new(), { where = "stm32f1" }))
      assert.are.same({ "target", "timeout" }, { e.kind, e.code })
      assert.are.equal("stm32f1: no reply to bootloader sync (0x7F), sent twice 100 ms apart",
        e.message)
    end)

    it("reports a reply one bit from ACK as a line or baud problem", function()
      local s = fake.new(function(d, f) if d == "\x7F" then f:reply("\x59") end end)
      local b = stm32boot.new(s, { where = "stm32f1" })
      local e = raised(b.sync, b)
      assert.are.same({ "target", "garbled", "\x59" }, { e.kind, e.code, e.observed })
      assert.are.equal("stm32f1: sync (0x7F): reply 0x59 is one bit away from ACK 0x79; the "
        .. "serial line or baud rate is wrong", e.message)
    end)

    it("reports other bytes as not the bootloader's, with what came", function()
      local s = fake.new(function(d, f) if d == "\x7F" then f:reply("\x00") end end)
      local b = stm32boot.new(s, { where = "stm32f1" })
      local e = raised(b.sync, b)
      assert.are.equal("garbled", e.code)
      assert.are.equal("stm32f1: sync (0x7F): the target answered with 2 bytes that are not the "
        .. "bootloader's (00 00)", e.message)
    end)
  end)

  describe("commands", function()
    -- a tiny bootloader: answers Get, Get ID, Read Memory and Write Memory as AN3155 says
    local function bootloader(mem)
      local state, cmd, addr = "idle", nil, nil
      return function(d, f)
        if state == "idle" then
          local c = d:byte(1)
          if #d ~= 2 or d:byte(2) ~= c ~ 0xFF then return f:reply(NACK) end
          cmd = c
          if c == 0x00 then return f:reply(ACK .. "\x0B\x22\x00\x01\x02\x11\x21\x31\x43\x63"
            .. "\x73\x82\x92" .. ACK) end
          if c == 0x02 then return f:reply(ACK .. "\x01\x04\x20" .. ACK) end
          state = "addr"
          return f:reply(ACK)
        elseif state == "addr" then
          local a = string.unpack(">I4", d)
          if d:byte(5) ~= d:byte(1) ~ d:byte(2) ~ d:byte(3) ~ d:byte(4) then
            state = "idle"
            return f:reply(NACK)
          end
          addr, state = a, "data"
          return f:reply(ACK)
        else
          state = "idle"
          if cmd == 0x11 then
            local n = d:byte(1) + 1
            return f:reply(ACK .. mem:sub(addr - 0x08000000 + 1, addr - 0x08000000 + n))
          elseif cmd == 0x31 then
            local n = d:byte(1) + 1
            local x = 0
            for i = 1, n + 1 do x = x ~ d:byte(i) end
            if x ~= d:byte(n + 2) then return f:reply(NACK) end
            return f:reply(ACK)
          end
        end
      end
    end

    it("frames Get and parses the command list and the erase command", function()
      local s = fake.new(bootloader(""))
      local info = stm32boot.new(s):get()
      assert.are.equal(0x22, info.version)
      assert.are.equal(0x43, info.erase)
      assert.are.equal(11, #info.commands)
      assert.are.equal("\x00\xFF", s:written())
    end)

    it("reads the product ID big-endian", function()
      assert.are.equal(0x420, stm32boot.new(fake.new(bootloader(""))):get_id())
    end)

    it("frames Read Memory: address with XOR, length with complement", function()
      local s = fake.new(bootloader("0123456789"))
      assert.are.equal("2345", stm32boot.new(s):read(0x08000002, 4))
      assert.are.equal("\x11\xEE" .. "\x08\x00\x00\x02\x0A" .. "\x03\xFC", s:written())
    end)

    it("pads a write to a multiple of 4 with 0xFF and ends it with XOR(N, data)", function()
      local s = fake.new(bootloader(""))
      stm32boot.new(s):write(0x08000000, "\1\2\3\4\5")
      local w = s:written()
      assert.are.equal("\x31\xCE" .. "\x08\x00\x00\x00\x08" .. "\x07\1\2\3\4\5\xFF\xFF\xFF"
        .. string.char(7 ~ 1 ~ 2 ~ 3 ~ 4 ~ 5 ~ 0xFF ~ 0xFF ~ 0xFF), w)
    end)

    it("raises 'nack' with the command named when the bootloader refuses", function()
      local s = fake.new(function(_, f) f:reply(NACK) end)
      local b = stm32boot.new(s, { where = "stm32f1", attempts = 1 })
      local e = raised(b.read, b, 0x08000000, 4)
      assert.are.same({ "target", "nack" }, { e.kind, e.code })
      assert.are.equal("stm32f1: Read Memory (0x11) refused (NACK 0x1F)", e.message)
    end)

    it("refuses misuse: unaligned write, oversize read", function()
      local b = stm32boot.new(fake.new())
      assert.has_error(function() b:write(0x08000002, "abcd") end,
        "write: address 0x08000002 is not 4-byte aligned")
      assert.has_error(function() b:read(0x08000000, 257) end, "read: len must be 1 to 256")
    end)
  end)

  describe("erase()", function()
    it("uses Erase (0x43) forms: mass FF 00 and a 1-byte page list with XOR", function()
      local s = fake.new(function(_, f) f:reply(ACK) end)
      local b = stm32boot.new(s)
      b.info = { erase = 0x43 }
      b:erase("all")
      assert.are.equal("\x43\xBC\xFF\x00", s:written())
      s.sent = {}
      b:erase({ 1, 2 })
      assert.are.equal("\x43\xBC\x01\x01\x02" .. string.char(1 ~ 1 ~ 2), s:written())
    end)

    it("uses Extended Erase (0x44) forms: FF FF 00 and 2-byte numbers", function()
      local s = fake.new(function(_, f) f:reply(ACK) end)
      local b = stm32boot.new(s)
      b.info = { erase = 0x44 }
      b:erase("all")
      assert.are.equal("\x44\xBB\xFF\xFF\x00", s:written())
      s.sent = {}
      b:erase({ 0x102 })
      assert.are.equal("\x44\xBB\x00\x00\x01\x02" .. string.char(0 ~ 0 ~ 1 ~ 2), s:written())
    end)

    -- A mass erase of an F4 (16 s typical, here 17 s) on a clock that advances as the engine
    -- waits; the stream waits as board.lua's does (until extra_ns after the erase frame, then
    -- up to timeout_ms in all) and answers ACK once the chip is done.
    local function long_erase(with_tick)
      local clock, sent, done_at, noticed, polls, ticks = 0, nil, nil, nil, 0, {}
      local dev = { now_ns = function() return clock end,
                    sleep_ns = function(_, ns) clock = clock + ns end }
      local s = fake.new(function(d, f)
        if d == "\xFF\xFF\x00" then sent, done_at = clock, clock + 17e9 else f:reply(ACK) end
      end)
      local plain_read = s.read
      function s.read(self, n, timeout_ms, extra_ns)
        if not done_at then return plain_read(self, n, timeout_ms) end
        local deadline = clock + math.floor(timeout_ms * 1e6)
        if extra_ns then clock = math.min(deadline, math.max(clock, sent + extra_ns)) end
        polls = polls + 1
        if clock < done_at then
          if clock < sent + 16e9 then return nil, "nothing", "timeout" end -- one look, as
          -- board.lua takes after a wait cut short by the deadline
          clock = math.min(done_at, deadline)
          if clock < done_at then return nil, "nothing", "timeout" end
        end
        self:reply(ACK)
        done_at, noticed = nil, clock
        return plain_read(self, n, timeout_ms)
      end
      time.use(dev)
      local ok, err = pcall(function()
        local b = stm32boot.new(s, { timing = { mass_erase_ns = 16e9 },
          timeout = { mass_erase = 300000 } })
        b.info = { erase = 0x44 }
        b:erase("all", with_tick and function() ticks[#ticks + 1] = clock end or nil)
      end)
      time.release(dev)
      assert(ok, err)
      return noticed, polls, ticks
    end

    it("calls tick about 10 times a second while the chip erases; the answer is noticed when "
      .. "it would be without", function()
      local noticed_plain, polls_plain = long_erase(false)
      local noticed, polls, ticks = long_erase(true)
      assert.are.equal(17e9, noticed_plain)
      assert.are.equal(noticed_plain, noticed)
      assert.are.equal(1, polls_plain)
      assert.is_true(polls <= 171, polls .. " looks") -- at most one a slice
      assert.is_true(#ticks >= 165 and #ticks <= 171, #ticks .. " ticks")
      for i = 2, #ticks do assert.is_true(ticks[i] - ticks[i - 1] <= 100000000) end
      assert.is_true(ticks[#ticks] >= 16.9e9) -- on past the expected time, until the answer
    end)
  end)

  describe("retries (contract.md §3.11)", function()
    local FLASH = fake_an3155.BASE

    -- bytes the host sent from the n-th on (1-based), as one string
    local function sent_from(bl, n) return bl.stream:written():sub(n) end

    local function boot_of(bl)
      local heard = {}
      local b = stm32boot.new(bl.stream, { where = "stm32f1",
        on_retry = function(m) heard[#heard + 1] = m end })
      return b, heard
    end

    it("a lost address byte: back in step with 0xFF filler, the Read sent again", function()
      -- host bytes: 11 EE, then the address 08 00 00 00 08 (bytes 3..7): the 4th is lost
      local bl = fake_an3155.new({ lose = function(n) return n == 4 end })
      bl:poke(FLASH, "abcd")
      local b, heard = boot_of(bl)
      assert.are.equal("abcd", b:read(FLASH, 4))
      assert.are.equal(1, b.retries)
      assert.are.same({ "no reply to Read Memory (0x11): address 0x08000000 within 1000 ms; in "
        .. "step again after 3 filler bytes; sending Read Memory (0x11) at 0x08000000 again (2 "
        .. "of 5)" }, heard)
      -- the frame was filled with 0xFF (NACK: bad checksum), then FF (silence) and FF (NACK)
      assert.are.equal("\x11\xEE\x08\x00\x00\x00\x08\xFF\xFF\xFF\x11\xEE",
        bl.stream:written():sub(1, 12))
    end)

    it("a damaged ACK: the command goes again once the bootloader is in step", function()
      local bl = fake_an3155.new({
        damage = function(n, byte) if n == 1 then return byte ~ 0x40 end end })
      local b, heard = boot_of(bl)
      assert.are.equal(0x420, b:get_id())
      assert.are.equal(1, #heard)
      assert.matches("^Get ID %(0x02%): reply 0x39 is one bit away from ACK 0x79;", heard[1])
      -- the rest of the reply was dropped, then FF (silence), FF (NACK)
      assert.are.equal("\x02\xFD\xFF\xFF\x02\xFD", bl.stream:written())
    end)

    it("Get: a command list without Get ID is a damaged reply, asked for again", function()
      -- reply bytes: 79 0B 22 00 01 02 ...: the 6th (0x02) arrives as 0x06
      local bl = fake_an3155.new({ damage = function(n) if n == 6 then return 0x06 end end })
      local b, heard = boot_of(bl)
      local info = b:get()
      assert.are.equal(0x43, info.erase)
      assert.is_true(info.has[0x02])
      assert.matches("^Get %(0x00%): the command list 00 01 06 11 21 31 43 63 73 82 92 lacks",
        heard[1])
    end)

    it("an Erase whose page list was lost never becomes a mass erase", function()
      -- 43 BC, then the list 00 02 02 (one page, page 2, XOR): all three bytes lost, so the
      -- bootloader waits for the page count; stm32flash's FF 00 filler would erase everything
      local bl = fake_an3155.new({ lose = function(n) return n >= 3 and n <= 5 end })
      bl:poke(FLASH, "keep")
      local b = boot_of(bl)
      b.info = { erase = 0x43 }
      b:erase({ 2 })
      assert.is_false(bl.mass)
      assert.are.same({ 2 }, bl.erased)
      assert.are.equal("keep", bl:peek(FLASH, 4))
      assert.is_nil(sent_from(bl, 6):find("\xFF\x00", 1, true))
    end)

    it("a chip that reset mid-command is synced again with 0x7F when no filler is answered",
      function()
        -- 11 EE, address: the chip resets on the address's first byte
        local bl = fake_an3155.new({ reset_at = 3 })
        bl:poke(FLASH, "wxyz")
        local b, heard = boot_of(bl)
        assert.are.equal("wxyz", b:read(FLASH, 4))
        assert.are.equal(1, bl.resets)
        assert.matches("; in step again after %d+ filler bytes; sending Read Memory", heard[1])
      end)

    it("two NACKs in a row are the bootloader's answer", function()
      local bl = fake_an3155.new({ protected = true })
      local b, heard = boot_of(bl)
      local e = raised(b.read, b, FLASH, 4)
      assert.are.same({ "nack", "stm32f1: Read Memory (0x11) refused (NACK 0x1F) (2 attempts)" },
        { e.code, e.message })
      assert.are.equal(1, #heard)
    end)

    it("gives up after its attempts, saying how many", function()
      -- every Get ID's length byte is damaged: 79 then 0x41, so each reply is too short
      local bl = fake_an3155.new({ damage = function(_, byte)
        if byte == 0x01 then return 0x41 end end })
      local b = boot_of(bl)
      local e = raised(b.get_id, b)
      assert.are.equal("garbled", e.code)
      assert.matches("^stm32f1: Get ID %(0x02%) reply: 3 of 66 bytes arrived within 1000 ms "
        .. "%(04 20 79%) %(3 attempts%)$", e.message)
      assert.are.equal(2, b.retries)
    end)

    it("stops at once when nothing answers any more, not even a 0x7F", function()
      local bl = fake_an3155.new({ lose = function() return true end })
      local b = boot_of(bl)
      local e = raised(b.get_id, b)
      assert.are.same({ "timeout", "stm32f1: no reply to Get ID (0x02) within 1000 ms; then no "
        .. "answer to 300 filler bytes nor to a 0x7F sync" }, { e.code, e.message })
      assert.are.equal(0, b.retries)
    end)

    it("never sends Write Memory twice by itself", function()
      local bl = fake_an3155.new({ lose = function(n) return n == 10 end }) -- a data byte
      local b = boot_of(bl)
      local e = raised(b.write, b, FLASH, "abcdefgh")
      assert.are.equal("timeout", e.code)
      assert.are.equal(0, b.retries)
      assert.are.equal(1, select(2, bl.stream:written():gsub("\x31\xCE", "")))
    end)
  end)
end)
