-- SPDX-License-Identifier: MIT
-- cwlua.proto.stm32boot: the STM32 ROM USART bootloader protocol (ST AN3155), over any stream
-- with the cwlua stream interface (a board's USART bridge or a plain serial port).
-- Facts: docs/reference/target-protocols.md §A.3 (link layer), §A.4 (commands), §A.8 (what
-- the host sees on bad input), §A.10 (stm32flash 0.7's timeouts and sync rule).
--
--   local boot = stm32boot.new(stream, { where = "stm32f1" })
--   boot:sync()                     -- "synced" | "already-synced"
--   local info = boot:get()         -- version, command list, erase command
--   local pid = boot:get_id()
--   local data = boot:read(0x08000000, 256)
--
-- Failures raise cwlua errors of kind "target" (exit 4) with a field `code`:
--   "timeout"  nothing came back         "nack"     the bootloader refused (NACK 0x1F)
--   "garbled"  a reply one bit from ACK/NACK, or wrong bytes: a line or baud problem
-- and a field `observed` with the bytes seen (for diagnosis). Stream (USB/port) failures
-- raise kind "device" (exit 3).
--
-- Get, Get Version, Get ID, Read Memory and Erase are retried when the line broke them (see
-- "Retries" below, contract.md §3.11); Write Memory is sent once (cwlua.stm32 decides from the
-- flash whether it may go again), and so are Go and the protection commands.
local time = require "cwlua.time"
local errors = require "cwlua.errors"

local M = {}

local ACK, NACK, SYNC = 0x79, 0x1F, 0x7F -- §A.3
M.ACK, M.NACK = ACK, NACK
M.CMD = { -- §A.4
  GET = 0x00, GET_VERSION = 0x01, GET_ID = 0x02, READ = 0x11, GO = 0x21, WRITE = 0x31,
  ERASE = 0x43, EXT_ERASE = 0x44, WRITE_PROTECT = 0x63, WRITE_UNPROTECT = 0x73,
  READOUT_PROTECT = 0x82, READOUT_UNPROTECT = 0x92,
}
local CMD = M.CMD

-- Timeouts in ms. The bootloader answers a command within microseconds; what takes time is
-- the wire and, over a ChipWhisperer, the USB round trips: 1 s is generous. Long operations
-- use stm32flash 0.7's figures (§A.10): mass erase and readout unprotect 35 s, page erase 5 s
-- per page, block write 1 s; a recipe may raise them (F2/F4 mass erase takes ~16 s, §A.7b).
M.TIMEOUT = {
  ack = 1000, sync = 100, write = 1000, page_erase = 5000, mass_erase = 35000,
  protect = 1000, readout_unprotect = 35000,
}

local MAX_BLOCK = 256 -- Read and Write Memory move at most 256 bytes (§A.4)

local Boot = {}
Boot.__index = Boot

-- Retries. A command that the line may have broken (no reply, a garbled reply, a NACK) is sent
-- again once the engine is back in step with the bootloader (Boot:resync), up to ATTEMPTS
-- times in all, DATA_ATTEMPTS for the commands that carry a data block (Read Memory; a Write
-- Memory piece, cwlua.stm32), whose longer frames a noisy line breaks more often. A NACK is
-- asked about only once more: two NACKs in a row are the bootloader's answer (read protection,
-- an address it refuses, §A.8).
M.ATTEMPTS, M.DATA_ATTEMPTS = 3, 5

-- Getting back in step (Boot:resync): how long a quiet line must stay quiet to count as "no
-- reply" (a USB-serial adapter may hold bytes 16 ms), how long to wait for the rest of a reply
-- that has begun, the most filler bytes to send (a Write Memory frame is 258 bytes after its
-- address), and the burst size once the bootloader is known to wait for a long frame.
M.RESYNC = { quiet_ms = 50, settle_ms = 5, max_fill = 300, burst = 32 }

--- stm32boot.new(stream [, opts]) -> boot. opts.where names the target in messages;
-- opts.timeout overrides entries of M.TIMEOUT; opts.timing gives the chip's typical flash
-- times, so the engine does not ask for an answer before it can exist:
-- { program_ns_per_byte = 26250, page_erase_ns = 20e6, mass_erase_ns = 20e6 }.
-- opts.attempts (default M.ATTEMPTS and M.DATA_ATTEMPTS; 1 = never retry); opts.on_retry(message)
-- hears of each retry, which boot.retries counts.
function M.new(stream, opts)
  opts = opts or {}
  local t = {}
  for k, v in pairs(M.TIMEOUT) do t[k] = (opts.timeout and opts.timeout[k]) or v end
  return setmetatable({ s = stream, where = opts.where or "stm32", timeout = t,
    timing = opts.timing or {}, attempts = opts.attempts or M.ATTEMPTS,
    data_attempts = opts.attempts or M.DATA_ATTEMPTS,
    on_retry = opts.on_retry, retries = 0 }, Boot)
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02X "):format(c:byte()) end):gsub(" $", ""))
end
M.hex = hex

local function bits(x)
  local n = 0
  while x ~= 0 do n, x = n + (x & 1), x >> 1 end
  return n
end

local function fail(self, code, observed, fmt, ...)
  error(errors.new("target", self.where .. ": " .. fmt:format(...),
    { code = code, observed = observed }), 0)
end

-- A byte that is one bit away from ACK or NACK is a damaged reply: the line or the baud rate
-- is wrong, not the protocol, and the error should say so.
local function near_miss(b)
  return bits(b ~ ACK) == 1 or bits(b ~ NACK) == 1
end
M.near_miss = near_miss

function Boot:_write(bytes)
  local ok, msg, code = self.s:write(bytes)
  if not ok then error(errors.new("device", msg, { code = code }), 0) end
end

-- How often a caller waiting on a long command (tick, below) hears of it: 10 times a second,
-- as often as a progress bar is drawn.
local TICK_NS = 100000000

local DIRECT = { direct = true }

-- Exactly n bytes within timeout_ms, or raise "timeout" naming what was awaited. tick, when
-- given, is called about every TICK_NS while waiting (a progress bar's frame during a mass
-- erase): the wait is then taken in slices of that length. Each slice passes busy_ns on, which
-- counts from the last byte sent, so a board's stream still waits for the same moment before
-- it polls often; it may look once a slice before it (a control transfer, nothing the target
-- sees), and an answer is noticed when it would have been without slices. opts goes to the
-- stream's read (reply: the reply's length in all, when more follows these n bytes; direct:
-- the byte awaited is never 0xFF).
function Boot:_read(n, timeout_ms, what, busy_ns, tick, opts)
  local got, left = "", time.deadline(timeout_ms)
  while #got < n do
    local remaining = left()
    if remaining <= 0 and #got > 0 then break end
    local wait_ns = remaining
    if tick then
      tick()
      wait_ns = math.min(remaining, TICK_NS)
    end
    local chunk, msg, code = self.s:read(n - #got, math.max(wait_ns / 1e6, 1), busy_ns, opts)
    if not tick then busy_ns = nil end
    if chunk then
      got = got .. chunk
    elseif code ~= "timeout" then
      error(errors.new("device", msg, { code = code }), 0)
    elseif not tick or left() <= 0 then
      break
    end
  end
  if #got < n then
    if #got == 0 then
      fail(self, "timeout", got, "no reply to %s within %g ms", what, timeout_ms)
    end
    fail(self, "garbled", got, "%s: %d of %d bytes arrived within %g ms (%s%s)", what, #got, n,
      timeout_ms, hex(got:sub(1, 16)), #got > 16 and " ..." or "")
  end
  return got
end

-- Wait for ACK, not asking before the target can have answered: busy_ns is how long it works
-- first (flash programming, erasing); tick as for _read. NACK raises "nack"; a near miss or
-- another byte raises "garbled". An ACK or NACK is never 0xFF, so a board's stream reads it
-- without asking first how many bytes it holds (cw-usb-protocol.md §5.3); when reply is given
-- (the ACK of a Read Memory, reply bytes with its data) it is read together with the data
-- instead.
function Boot:_ack(timeout_ms, what, busy_ns, tick, reply)
  local b = self:_read(1, timeout_ms, what, busy_ns, tick,
    reply and { reply = reply } or DIRECT):byte()
  if b == ACK then return end
  if b == NACK then fail(self, "nack", string.char(b), "%s refused (NACK 0x1F)", what) end
  if near_miss(b) then
    fail(self, "garbled", string.char(b), "%s: reply 0x%02X is one bit away from %s; the serial "
      .. "line or baud rate is wrong (noise, a baud mismatch, or the board clock)", what, b,
      bits(b ~ ACK) == 1 and "ACK 0x79" or "NACK 0x1F")
  end
  fail(self, "garbled", string.char(b), "%s: unexpected reply 0x%02X (expected ACK 0x79)", what,
    b)
end

-- Command byte and its complement (§A.3), then ACK; reply: the length of the whole reply when
-- data follows the ACK (Get, Get Version, Get ID), so it comes in one read (Boot:_ack).
function Boot:_cmd(c, what, timeout_ms, reply)
  self:_write(string.char(c, c ~ 0xFF))
  self:_ack(timeout_ms or self.timeout.ack, what, nil, nil, reply)
end

local function xor(s)
  local x = 0
  for i = 1, #s do x = x ~ s:byte(i) end
  return x
end
M.xor = xor

-- Address: 4 bytes big-endian and their XOR (§A.3), then ACK.
function Boot:_addr(addr, what)
  local a = string.pack(">I4", addr)
  self:_write(a .. string.char(xor(a)))
  self:_ack(self.timeout.ack, ("%s: address 0x%08X"):format(what, addr))
end

--- stm32boot.retryable(err) -> true for an error a damaged or lost byte can cause: no reply,
-- a garbled reply, a NACK
function M.retryable(err)
  return errors.is(err, "target") and (err.code == "timeout" or err.code == "garbled" or
    err.code == "nack")
end

-- Everything that arrives until the line has been quiet for quiet_ms (then settle_ms).
function Boot:_collect(quiet_ms)
  local r = self.s:read(1, quiet_ms)
  if not r then return "" end
  local got = { r }
  while true do
    r = self.s:read(MAX_BLOCK + 2, M.RESYNC.settle_ms)
    if not r then return table.concat(got) end
    got[#got + 1] = r
  end
end

--- boot:resync() -> true, filler bytes sent | false, filler bytes sent, silent (nothing came
-- back at all: the target no longer answers)
-- Back in step with a bootloader that may be waiting for the rest of a frame whose bytes the
-- line lost, without resetting the chip. ST AN3155 §2 (target-protocols.md §A.3, §A.9): the
-- bootloader NACKs a frame it cannot use and then waits for a new command. The filler is 0xFF,
-- which completes nothing harmful: as a command byte it is unknown (FF FF is NACKed), as a Read
-- length its complement check fails (FF FF), and it never makes a mass erase (43 FF 00,
-- 44 FF FF 00); a frame it completes with a wrong checksum is NACKed, and the rare one whose
-- checksum it matches is an address (which then wants more filler) or a Write Memory that
-- cwlua.stm32 finds on reading the block back. stm32flash sends FF 00 pairs instead, which
-- after an Erase command the bootloader took would be that mass erase (§A.10).
-- One byte at a time, each followed by a wait for quiet: the bootloader is in step when a
-- 0xFF met with silence (it took it as a command byte) is followed by a 0xFF met with exactly
-- one NACK. More silences in a row than an address has bytes mean it swallows a long frame (an
-- address the filler happened to complete, then a Write Memory block): then the filler goes in
-- bursts.
function Boot:resync()
  local q = M.RESYNC
  self:_collect(q.quiet_ms) -- whatever is still on its way is dropped
  local sent, silent, burst, heard = 0, 0, 1, false
  while sent < q.max_fill do
    burst = math.min(burst, q.max_fill - sent)
    self:_write(("\xFF"):rep(burst))
    sent = sent + burst
    local r = self:_collect(q.quiet_ms)
    if burst == 1 and silent > 0 and r == string.char(NACK) then return true, sent end
    if r == "" then
      silent = silent + 1
      if silent > 5 then burst = q.burst end -- longer than any frame but Write's data
    else
      silent, burst, heard = 0, 1, true
    end
  end
  -- Not a byte back to all that filler: the chip may have reset (a brown-out, a glitch) and its
  -- bootloader waits for the 0x7F that measures the baud rate (§A.2, §A.3); a synced one would
  -- have NACKed. One 0x7F tells.
  if not heard then
    self:_write(string.char(SYNC))
    if self:_collect(q.quiet_ms) == string.char(ACK) then return true, sent + 1 end
  end
  return false, sent, not heard
end

--- boot:recover(err) -> in step (true | false), filler bytes sent: back in step after err (a
-- retryable error). When nothing answers any more, not even the 0x7F, err is raised at once,
-- saying so: retrying a target that has gone only wastes the user's time.
function Boot:recover(err)
  local ok, n, silent = self:resync()
  if silent then
    if errors.is(err) then
      err.message = err.message .. ("; then no answer to %d filler bytes nor to a 0x7F sync")
        :format(n)
    end
    error(err, 0)
  end
  self.retries = self.retries + 1
  return ok, n
end

-- Run fn(self, ...) and retry it as "Retries" above says, attempts times at most; what names the
-- command in the messages. Only for commands that may be sent twice.
function Boot:_again(attempts, what, fn, ...)
  local nacks = 0
  for attempt = 1, attempts do
    local r = table.pack(pcall(fn, self, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local e = r[2]
    if not M.retryable(e) then error(e, 0) end
    if e.code == "nack" then nacks = nacks + 1 end
    if attempt == attempts or nacks >= 2 then
      if attempt > 1 then
        e.message = e.message .. (" (%d attempts)"):format(attempt)
      end
      error(e, 0)
    end
    self:_retried(e, ("sending %s again"):format(what), attempt + 1, attempts)
  end
end

-- Back in step after err, then report the retry (attempt of attempts comes next).
function Boot:_retried(err, next_step, attempt, attempts)
  local ok, n = self:recover(err)
  if self.on_retry then
    self.on_retry(("%s; %s after %d filler byte%s; %s (%d of %d)"):format(
      err.message:gsub("^[^:]*: ", "", 1), ok and "in step again" or "not in step",
      n, n == 1 and "" or "s", next_step, attempt, attempts))
  end
  return ok
end

--- boot:sync([timeout_ms]) -> "synced" | "already-synced"
-- Sends 0x7F; if nothing comes back in time, sends it again. A NACK to either means a
-- bootloader that was already synced took 0x7F as a command byte: accepted (stm32flash's
-- rule, §A.10). Bytes received before the sync (an application banner) are dropped first.
function Boot:sync(timeout_ms)
  timeout_ms = timeout_ms or self.timeout.sync
  self.s:flush()
  local seen = ""
  for _ = 1, 2 do
    self:_write(string.char(SYNC))
    local r = self.s:read(1, timeout_ms)
    if r then
      local b = r:byte()
      if b == ACK then return "synced" end
      if b == NACK then
        -- a bootloader that was already synced took the first 0x7F as a command byte and the
        -- second as its complement: 0x7F is not 0x7F ~ 0xFF, so it NACKs and waits for the
        -- next command (§A.2 note, §A.10)
        return "already-synced"
      end
      seen = seen .. r .. (self.s:read(64, 5) or "")
      if near_miss(b) then
        fail(self, "garbled", seen, "sync (0x7F): reply 0x%02X is one bit away from %s; the "
          .. "serial line or baud rate is wrong", b, bits(b ~ ACK) == 1 and "ACK 0x79" or
          "NACK 0x1F")
      end
    end
  end
  if #seen > 0 then
    fail(self, "garbled", seen, "sync (0x7F): the target answered with %d bytes that are not "
      .. "the bootloader's (%s)", #seen, hex(seen:sub(1, 16)))
  end
  fail(self, "timeout", "", "no reply to bootloader sync (0x7F), sent twice %g ms apart",
    timeout_ms)
end

-- Get's reply at its shortest (§A.4): ACK, N = 11, the version and 11 commands (bootloader
-- v2.x; later ones list more), ACK. Only when to look depends on it.
local GET_REPLY = 15

-- The command list must hold what every bootloader lists (Get, Get Version and Get ID, which
-- stm32flash 0.7 insists on, §A.10) and exactly one of Erase and Extended Erase (§A.4): a list
-- that does not is a damaged reply.
local function get(self)
  self:_cmd(CMD.GET, "Get (0x00)", nil, GET_REPLY)
  local n = self:_read(1, self.timeout.ack, "Get (0x00) length"):byte()
  local body = self:_read(n + 1, self.timeout.ack, "Get (0x00) command list")
  self:_ack(self.timeout.ack, "Get (0x00) end")
  local info = { version = body:byte(1), commands = {}, has = {} }
  for i = 2, #body do
    local c = body:byte(i)
    info.commands[#info.commands + 1] = c
    info.has[c] = true
  end
  -- a bootloader lists exactly one of Erase and Extended Erase (§A.4, §A.6 notes)
  info.erase = info.has[CMD.EXT_ERASE] and CMD.EXT_ERASE or
    (info.has[CMD.ERASE] and CMD.ERASE or nil)
  if not (info.has[CMD.GET] and info.has[CMD.GET_VERSION] and info.has[CMD.GET_ID]) or
      not info.erase or (info.has[CMD.EXT_ERASE] and info.has[CMD.ERASE]) then
    fail(self, "garbled", body, "Get (0x00): the command list %s lacks Get, Get Version, Get ID "
      .. "or exactly one erase command", hex(body:sub(2)))
  end
  return info
end

--- boot:get() -> { version = 0x22, commands = { ... }, has = { [code] = true },
---   erase = 0x43 | 0x44 } (Get, §A.4)
function Boot:get()
  local info = self:_again(self.attempts, "Get (0x00)", get)
  self.info = info
  return info
end

local function get_version(self)
  self:_cmd(CMD.GET_VERSION, "Get Version (0x01)", nil, 5) -- ACK, 3 bytes, ACK
  local r = self:_read(3, self.timeout.ack, "Get Version (0x01) reply")
  self:_ack(self.timeout.ack, "Get Version (0x01) end")
  -- the version is the one Get gave: another is a damaged reply
  if self.info and r:byte(1) ~= self.info.version then
    fail(self, "garbled", r, "Get Version (0x01): version 0x%02X, but Get said 0x%02X",
      r:byte(1), self.info.version)
  end
  return r:byte(1), r:byte(2), r:byte(3)
end

--- boot:get_version() -> version, option byte 1, option byte 2 (Get Version, §A.4)
function Boot:get_version()
  return self:_again(self.attempts, "Get Version (0x01)", get_version)
end

local function get_id(self)
  self:_cmd(CMD.GET_ID, "Get ID (0x02)", nil, 5) -- ACK, N = 1, the PID, ACK
  local n = self:_read(1, self.timeout.ack, "Get ID (0x02) length"):byte()
  local body = self:_read(n + 1, self.timeout.ack, "Get ID (0x02) reply")
  self:_ack(self.timeout.ack, "Get ID (0x02) end")
  if #body < 2 then
    fail(self, "garbled", body, "Get ID (0x02): %d-byte product ID", #body)
  end
  return string.unpack(">I2", body)
end

--- boot:get_id() -> product ID (Get ID, §A.4: N, then N+1 bytes, the PID big-endian). A PID
-- damaged on the line reads as another chip: the caller asks again before believing a PID it
-- did not expect (cwlua.stm32).
function Boot:get_id()
  return (self:_again(self.attempts, "Get ID (0x02)", get_id))
end

local function read(self, addr, len)
  self:_cmd(CMD.READ, "Read Memory (0x11)")
  self:_addr(addr, "Read Memory (0x11)")
  local n = len - 1
  self:_write(string.char(n, n ~ 0xFF)) -- the length and its complement (§A.3)
  self:_ack(self.timeout.ack, ("Read Memory (0x11) of %d bytes at 0x%08X"):format(len, addr),
    nil, nil, 1 + len)
  return self:_read(len, self.timeout.ack + len, ("Read Memory data at 0x%08X"):format(addr))
end

--- boot:read(addr, len) -> string (Read Memory, §A.4: 1..256 bytes). The data has no checksum:
-- a byte damaged on its way back is not seen here (verify reads a differing block again).
function Boot:read(addr, len)
  if math.type(len) ~= "integer" or len < 1 or len > MAX_BLOCK then
    error(("read: len must be 1 to %d"):format(MAX_BLOCK), 2)
  end
  return self:_again(self.data_attempts, ("Read Memory (0x11) at 0x%08X"):format(addr), read,
    addr, len)
end

--- boot:write(addr, data): Write Memory (§A.4). data is padded with 0xFF to a multiple of 4;
-- at most 256 bytes; addr must be 4-byte aligned. Sent once: flash takes a write only where it
-- is erased, so whether it may go again depends on what the flash now holds (cwlua.stm32's
-- write step reads it back and decides; boot:recover gets back in step first).
function Boot:write(addr, data)
  if addr % 4 ~= 0 then error(("write: address 0x%08X is not 4-byte aligned"):format(addr), 2) end
  if #data % 4 ~= 0 then data = data .. ("\xFF"):rep(4 - #data % 4) end
  if #data < 1 or #data > MAX_BLOCK then
    error(("write: data must be 1 to %d bytes"):format(MAX_BLOCK), 2)
  end
  self:_cmd(CMD.WRITE, "Write Memory (0x31)")
  self:_addr(addr, "Write Memory (0x31)")
  local block = string.char(#data - 1) .. data
  self:_write(block .. string.char(xor(block))) -- N, data, XOR(N, data) (§A.3)
  self:_ack(self.timeout.write + #block, ("Write Memory (0x31) of %d bytes at 0x%08X"):format(
    #data, addr), #data * (self.timing.program_ns_per_byte or 0))
end

-- Erase and Extended Erase (§A.4): "all", or a list of page (or sector) numbers.
local function erase(self, pages, info, what, tick)
  self:_cmd(info.erase, what)
  local frame, timeout, busy
  if pages == "all" then
    frame = info.erase == CMD.EXT_ERASE and "\xFF\xFF\x00" or "\xFF\x00" -- mass erase
    timeout = self.timeout.mass_erase
    busy = self.timing.mass_erase_ns
  else
    local n = #pages
    if info.erase == CMD.ERASE then
      frame = string.char(n - 1)
      for _, p in ipairs(pages) do frame = frame .. string.char(p) end
    else
      frame = string.pack(">I2", n - 1)
      for _, p in ipairs(pages) do frame = frame .. string.pack(">I2", p) end
    end
    frame = frame .. string.char(xor(frame))
    timeout = self.timeout.page_erase * n
    busy = self.timing.page_erase_ns and self.timing.page_erase_ns * n
  end
  self:_write(frame)
  self:_ack(timeout, what .. (pages == "all" and " of the whole flash" or
    (" of %d pages"):format(#pages)), busy, tick)
end

--- boot:erase(pages [, tick]): "all", or a list of page (or sector) numbers. Sent again when
-- the line broke it: erasing a page twice leaves it erased. tick(), when given, is called about
-- 10 times a second while the chip erases (a mass erase of an F4 takes 16 s).
function Boot:erase(pages, tick)
  local info = self.info or self:get()
  if not info.erase then
    fail(self, "nack", "", "the bootloader lists neither Erase (0x43) nor Extended Erase (0x44)")
  end
  local what = info.erase == CMD.EXT_ERASE and "Extended Erase (0x44)" or "Erase (0x43)"
  if pages ~= "all" and #pages < 1 then error("erase: no pages", 2) end
  if pages ~= "all" and info.erase == CMD.ERASE and #pages > 255 then
    error("erase: at most 255 pages per Erase (0x43) command", 2)
  end
  return self:_again(self.attempts, what, erase, pages, info, what, tick)
end

--- boot:go(addr): Go (§A.4): the chip leaves the bootloader and runs from addr
function Boot:go(addr)
  self:_cmd(CMD.GO, "Go (0x21)")
  self:_addr(addr, "Go (0x21)")
end

--- boot:readout_unprotect([tick]): mass-erases the flash and clears read protection; the chip
-- then resets (§A.4), so the caller must sync again. tick as for boot:erase.
function Boot:readout_unprotect(tick)
  self:_cmd(CMD.READOUT_UNPROTECT, "Readout Unprotect (0x92)")
  self:_ack(self.timeout.readout_unprotect, "Readout Unprotect (0x92) mass erase", nil, tick)
end

--- boot:readout_protect(): sets read protection; the chip then resets (§A.4)
function Boot:readout_protect()
  self:_cmd(CMD.READOUT_PROTECT, "Readout Protect (0x82)")
  self:_ack(self.timeout.protect, "Readout Protect (0x82)")
end

--- boot:write_unprotect(): clears write protection of all sectors; the chip then resets
function Boot:write_unprotect()
  self:_cmd(CMD.WRITE_UNPROTECT, "Write Unprotect (0x73)")
  self:_ack(self.timeout.protect, "Write Unprotect (0x73)")
end

--- boot:write_protect(sectors): write-protects the listed sectors; the chip then resets
function Boot:write_protect(sectors)
  self:_cmd(CMD.WRITE_PROTECT, "Write Protect (0x63)")
  local frame = string.char(#sectors - 1)
  for _, s in ipairs(sectors) do frame = frame .. string.char(s) end
  self:_write(frame .. string.char(xor(frame)))
  self:_ack(self.timeout.protect, "Write Protect (0x63)")
end

M.Boot = Boot
return M
