-- SPDX-License-Identifier: MIT
-- spec/support/fake_an3155.lua: an STM32 ROM bootloader that reads one byte at a time, behind a
-- fake stream whose line loses or damages the bytes a spec picks: for the engine's retries
-- (contract.md §3.11). As target-protocols.md §A.3, §A.4 and §A.9 describe it: a frame it cannot
-- use is NACKed and it waits for a new command; after a lost byte it waits for the rest of the
-- frame; flash takes the AND of its bytes and the new ones. Erase (0x43) only, 1 KiB pages.
--
--   local bl = fake_an3155.new({ lose = function(n, byte) return n == 5 end })
--   local boot = stm32boot.new(bl.stream, { where = "stm32f1" })
--   boot:read(0x08000000, 4); bl:peek(0x08000000, 4); bl.erased   -- { page numbers, ... }
local fake = require "support.fake_stream"

local M = {}

local ACK, NACK = 0x79, 0x1F
M.BASE, M.PAGE = 0x08000000, 1024

local B = {}
B.__index = B

--- fake_an3155.new(opts) -> bl. opts: size (flash bytes, default 4096), protected (NACK Read,
-- Write and Erase), lose(n, byte) -> true drops the n-th byte the host sends (counting from 1),
-- damage(n, byte) -> a byte that replaces the n-th reply byte, or nil, reset_at = n: the chip
-- resets when the n-th byte arrives, and its bootloader waits for a 0x7F sync (§A.2).
function M.new(opts)
  opts = opts or {}
  local bl = setmetatable({ size = opts.size or 4096, opts = opts, state = "cmd", buf = {},
    sent = 0, replied = 0, erased = {}, mass = false, flash = {} }, B)
  for i = 0, bl.size - 1 do bl.flash[i] = 0xFF end
  bl.stream = fake.new(function(d, f)
    for i = 1, #d do
      local b = d:byte(i)
      bl.sent = bl.sent + 1
      if bl.sent == opts.reset_at then
        bl.unsynced, bl.state, bl.resets = true, "cmd", (bl.resets or 0) + 1
      elseif bl.unsynced then
        if b == 0x7F then -- the baud rate measured: synced (§A.3)
          bl.unsynced = false
          bl:_reply(f, ACK)
        end
      elseif not (opts.lose and opts.lose(bl.sent, b)) then
        bl:_byte(b, f)
      end
    end
  end)
  return bl
end

--- bl:peek(addr, n) -> the n flash bytes at addr
function B:peek(addr, n)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = string.char(self.flash[addr - M.BASE + i]) end
  return table.concat(t)
end

--- bl:poke(addr, s): flash bytes set as they are (a block written earlier)
function B:poke(addr, s)
  for i = 1, #s do self.flash[addr - M.BASE + i - 1] = s:byte(i) end
end

function B:_reply(f, ...)
  for _, b in ipairs({ ... }) do
    self.replied = self.replied + 1
    local d = self.opts.damage and self.opts.damage(self.replied, b)
    f:reply(string.char(d or b))
  end
end

local function xor(t, from, to)
  local x = 0
  for i = from, to do x = x ~ t[i] end
  return x
end

function B:_in_flash(a, n)
  return a >= M.BASE and a + n <= M.BASE + self.size
end

function B:_byte(b, f)
  local st, buf = self.state, self.buf
  if st == "cmd" then
    self.cmd, self.state = b, "comp"
  elseif st == "comp" then
    self.state = "cmd"
    local c = self.cmd
    if b ~ c ~= 0xFF then return self:_reply(f, NACK) end
    if c == 0x00 then
      return self:_reply(f, ACK, 11, 0x22, 0x00, 0x01, 0x02, 0x11, 0x21, 0x31, 0x43, 0x63, 0x73,
        0x82, 0x92, ACK)
    elseif c == 0x01 then
      return self:_reply(f, ACK, 0x22, 0, 0, ACK)
    elseif c == 0x02 then
      return self:_reply(f, ACK, 1, 0x04, 0x20, ACK)
    elseif c ~= 0x11 and c ~= 0x31 and c ~= 0x43 or self.opts.protected then
      return self:_reply(f, NACK)
    end
    self.buf = {}
    self.state = c == 0x43 and "erase_n" or "addr"
    self:_reply(f, ACK)
  elseif st == "addr" then
    buf[#buf + 1] = b
    if #buf < 5 then return end
    self.state = "cmd"
    self.addr = buf[1] << 24 | buf[2] << 16 | buf[3] << 8 | buf[4]
    if xor(buf, 1, 4) ~= buf[5] or not self:_in_flash(self.addr, 1) then
      return self:_reply(f, NACK)
    end
    self.buf, self.state = {}, self.cmd == 0x11 and "rlen" or "wn"
    self:_reply(f, ACK)
  elseif st == "rlen" then
    buf[#buf + 1] = b
    if #buf < 2 then return end
    self.state = "cmd"
    local n = buf[1] + 1
    if buf[1] ~ buf[2] ~= 0xFF or not self:_in_flash(self.addr, n) then
      return self:_reply(f, NACK)
    end
    self:_reply(f, ACK)
    for i = 0, n - 1 do self:_reply(f, self.flash[self.addr - M.BASE + i]) end
  elseif st == "wn" then
    self.count, self.buf, self.state = b + 1, { b }, "wdata"
  elseif st == "wdata" then
    if #buf < self.count + 1 then
      buf[#buf + 1] = b
      return
    end
    self.state = "cmd"
    if xor(buf, 1, #buf) ~= b or self.count % 4 ~= 0 or
        not self:_in_flash(self.addr, self.count) then
      return self:_reply(f, NACK)
    end
    for i = 1, self.count do
      local o = self.addr - M.BASE + i - 1
      self.flash[o] = self.flash[o] & buf[i + 1]
    end
    self.writes = (self.writes or 0) + 1
    self:_reply(f, ACK)
  elseif st == "erase_n" then
    if b == 0xFF then
      self.state = "erase_mass"
      return
    end
    self.count, self.buf, self.state = b + 1, { b }, "erase_list"
  elseif st == "erase_mass" then
    self.state = "cmd"
    if b ~= 0x00 then return self:_reply(f, NACK) end
    self.mass = true
    for i = 0, self.size - 1 do self.flash[i] = 0xFF end
    self:_reply(f, ACK)
  else -- erase_list
    if #buf < self.count + 1 then
      buf[#buf + 1] = b
      return
    end
    self.state = "cmd"
    local pages = self.size // M.PAGE
    local ok = xor(buf, 1, #buf) == b
    for i = 2, #buf do ok = ok and buf[i] < pages end
    if not ok then return self:_reply(f, NACK) end
    for i = 2, #buf do
      local p = buf[i]
      self.erased[#self.erased + 1] = p
      for o = p * M.PAGE, (p + 1) * M.PAGE - 1 do self.flash[o] = 0xFF end
    end
    self:_reply(f, ACK)
  end
end

return M
