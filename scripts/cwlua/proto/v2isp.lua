-- SPDX-License-Identifier: MIT
-- cwlua.proto.v2isp: the host side of the ChipWhisperer board's V2/ISP engine (AVR serial
-- programming through the board's SAM SPI). Facts: docs/reference/target-protocols.md §1
-- (transport, the timeout counter shared with XPROG), §C.1 (framing, codes, status), §C.2
-- (SPI, slow clock), §C.3 (command semantics), §C.4 (NewAE's host flow), §C.5 (instructions).
--
--   local isp = v2isp.new(board, { where = "avr" })
--   isp:enter(v2isp.ENTER_DEFAULTS) ; local sig = isp:signature() ; isp:leave()
--
-- Every OUT command is followed by GET_STATUS: the OUT transfer succeeds before the board
-- runs the command, so only the status tells (§1, §F.6). Failures raise cwlua.errors: a USB
-- failure is a "device" error (exit 3), a command the chip did not complete a "target" error
-- (exit 4), a missing status (a malformed command the engine dropped, §C.3) a "failure".
local board_mod = require "cwlua.board"
local errors = require "cwlua.errors"

local M = {}

M.REQ = 0x21          -- AVR_PROGRAM (§1)
M.REQ_XPROG = 0x20    -- XMEGA_PROGRAM: owns the shared timeout's default (§1, §B.1)
M.REQ_SAM_CFG = 0x22  -- SAM_CFG: 0x01 slow clock on, 0x02 off (§1, §C.2)

-- §C.1 command codes (wValue low byte)
M.CMD = {
  SIGN_ON = 0x01, SET_PARAMETER = 0x02, GET_PARAMETER = 0x03, LOAD_ADDRESS = 0x06,
  ENTER = 0x10, LEAVE = 0x11, CHIP_ERASE = 0x12, PROGRAM_FLASH = 0x13, READ_FLASH = 0x14,
  PROGRAM_EEPROM = 0x15, READ_EEPROM = 0x16, PROGRAM_FUSE = 0x17, READ_FUSE = 0x18,
  PROGRAM_LOCK = 0x19, READ_LOCK = 0x1A, READ_SIGNATURE = 0x1B, READ_OSCCAL = 0x1C,
  GET_STATUS = 0x20, SET_RAMBUF = 0x21, GET_RAMBUF = 0x22, -- note the swap vs XMEGA (§F.2)
}
local CMD = M.CMD

-- §C.1 status codes
M.STATUS_TEXT = { [0x00] = "OK", [0x80] = "command timeout", [0x81] = "RDY/BSY timeout",
                  [0x82] = "parameter missing", [0xC0] = "command failed",
                  [0xC9] = "unknown command" }

M.PARAM_SCK_DURATION = 0x98 -- §C.1 parameter table
M.XPROG_SET_PARAM, M.XPROG_TIMEOUT = 0x07, 0x08 -- §B.1: SET_PARAM, TIMEOUT (u32 ticks)
M.TICK_MS = 0.4 -- the shared counter ticks at 2500 Hz (§1)

-- §C.1 SCK_DURATION -> requested SCK (the AVRISP mkII table; entries 0..6 are the useful ones)
M.SCK_TABLE = { [0] = 8e6, 4e6, 2e6, 1e6, 500e3, 250e3, 125e3 }
-- The SAM SPI divider is computed for the board's 96 MHz master clock and stops at 255 (§C.1:
-- "silently uses divider 255"): nothing below 376.5 kHz. The slow clock (§C.2) switches the
-- master clock to the crystal: 6 MHz on a CW-Lite (cw-usb-protocol.md §2.3 infers 12 MHz / 2;
-- target-protocols.md §C.2 assumes 12 MHz: UNCONFIRMED), which slows SCK and every delay.
M.MCK_HZ, M.SLOW_MCK_HZ = 96e6, 6e6
M.SPI_DIV_MAX = 255

--- v2isp.sck_hz(duration, slow) -> the SCK the board really produces
function M.sck_hz(d, slow)
  local req = M.SCK_TABLE[d] or 0
  local div = req > 0 and math.ceil(M.MCK_HZ / req) or M.SPI_DIV_MAX
  div = math.max(1, math.min(M.SPI_DIV_MAX, div))
  return (slow and M.SLOW_MCK_HZ or M.MCK_HZ) / div
end

--- v2isp.duration_for(hz) -> the SCK_DURATION whose requested rate is the fastest not above hz
function M.duration_for(hz)
  for d = 0, 6 do
    if M.SCK_TABLE[d] <= hz then return d end
  end
  return 6
end

-- §C.3 ENTER_PROGMODE_ISP: NewAE's values (§C.4) are timeout 200, stab 100 ms, exec 25 ms,
-- 32 sync loops. Their first attempt comes at 125 ms, which a timeout left at 100 ms by an
-- XMEGA session never reaches (§C.3 "Timing trap"). cwlua's: stab 25 ms (the datasheet's
-- "wait at least 20 ms" after /RESET low before Programming Enable), exec 5 ms — the first
-- attempt at 30 ms, one every 50 ms after, four within 200 ms.
M.ENTER_DEFAULTS = { timeout = 200, stab_ms = 25, exec_ms = 5, loops = 32, byte_delay = 0,
                     poll_value = 0x53, poll_index = 3, cmd = "\xAC\x53\x00\x00" }
-- NewAE's slow-clock variant (§C.4): delays ~10x smaller, because the slow clock stretches them
M.ENTER_SLOW = { timeout = 20, stab_ms = 10, exec_ms = 2, loops = 32, byte_delay = 0,
                 poll_value = 0x53, poll_index = 3, cmd = "\xAC\x53\x00\x00" }

-- Paged programming modes (§C.3): paged (bit0) + wait RDY/BSY (bit6) + commit (bit7)
M.MODE_PAGED_RDYBSY = 0xC1
local STATUS_WANT = 32 -- GET_STATUS wLength: at least any pending status (§C.1, §E overflow)
-- The RAM buffer goes out in 128-byte transfers, as much as the board's OUT buffer takes (§1;
-- NewAE sends 64, §C.4), and comes back in one IN transfer: GET_RAMBUF answers straight from the
-- buffer, any length that stays inside it (§C.1)
local OUT_CHUNK = 128
local BUFFER = 256     -- avr_rambuf (§C.7)
-- The engine runs a command before it answers the next request (§1): ENTER may take its
-- delays times the slow-clock factor plus the whole shared timeout; give it room.
local LONG_MS = 15000

local Isp = {}
Isp.__index = Isp

--- v2isp.new(board, opts) -> isp. opts.where: prefix for messages (default "avr").
function M.new(board, opts)
  opts = opts or {}
  return setmetatable({ board = board, where = opts.where or "avr" }, Isp)
end

function Isp:_usb(what, ok, msg, code)
  if ok == nil then
    error(errors.new("device", ("%s: %s: %s"):format(self.where, what, msg or "USB error"),
      { code = code }), 0)
  end
  return ok
end

--- isp:sign_on() -> the engine's name ("CWLITE_AVRISP") | nil, msg, code (no engine: stall)
function Isp:sign_on()
  local r, msg, code = self.board:ctrl_in(M.REQ, CMD.SIGN_ON, STATUS_WANT)
  if not r then return nil, msg, code end
  local n = r:byte(3) or 0
  return r:sub(4, 3 + n)
end

--- isp:out(cmd, payload [, timeout_ms]): the OUT request alone (no status read)
function Isp:out(cmd, payload, timeout_ms)
  board_mod.wire(">", string.char(M.REQ, cmd & 0xFF) .. (payload or ""))
  self:_usb(("V2 command 0x%02X"):format(cmd),
    self.board:ctrl_out(M.REQ, cmd, payload or "", timeout_ms))
end

--- isp:status([timeout_ms]) -> the pending status bytes ("" when none; consume-once, §C.1)
function Isp:status(timeout_ms)
  local st = self:_usb("V2 GET_STATUS",
    self.board:ctrl_in(M.REQ, CMD.GET_STATUS, STATUS_WANT, timeout_ms))
  board_mod.wire("<", st)
  return st
end

--- isp:command(cmd, payload [, timeout_ms]) -> status bytes; raises when there is none
function Isp:command(cmd, payload, timeout_ms)
  self:out(cmd, payload, timeout_ms)
  local st = self:status(timeout_ms)
  if #st < 2 then
    -- the engine answers every command it runs with at least two bytes (target-protocols.md §C.3)
    errors.raise("failure", "%s: V2 command 0x%02X (%d payload bytes) left no status: the "
      .. "board's V2 engine dropped it", self.where, cmd, #(payload or ""))
  end
  return st
end

--- isp:check(cmd, payload, what [, timeout_ms]) -> status bytes; a non-zero result raises a
-- "target" error naming what and the status
function Isp:check(cmd, payload, what, timeout_ms)
  local st = self:command(cmd, payload, timeout_ms)
  local r = st:byte(2)
  if r ~= 0 then
    error(errors.new("target", ("%s: %s failed (V2 status 0x%02X, %s)"):format(self.where,
      what, r, M.STATUS_TEXT[r] or "unknown"), { code = "timeout", status = r }), 0)
  end
  return st
end

--- isp:set_param(id, value)
function Isp:set_param(id, value)
  return self:check(CMD.SET_PARAMETER, string.char(id, value), ("SET_PARAMETER 0x%02X"):format(id))
end

--- isp:get_param(id) -> value
function Isp:get_param(id)
  return self:check(CMD.GET_PARAMETER, string.char(id), ("GET_PARAMETER 0x%02X"):format(id))
    :byte(3)
end

--- isp:set_sck(duration): SCK_DURATION (§C.1)
function Isp:set_sck(d)
  self:set_param(M.PARAM_SCK_DURATION, d)
  self.sck_duration = d
end

--- isp:slow_clock(on): the SAM master clock from its crystal (§C.2); changes the board's USART
-- baud too, so callers switch it off again on every exit path
function Isp:slow_clock(on)
  self:_usb("SAM slow clock", self.board:ctrl_out(M.REQ_SAM_CFG, on and 0x01 or 0x02, ""))
  self.slow = on
end

--- isp:set_shared_timeout(ticks) -> true | nil, msg, code: the default of the counter shared
-- with the XPROG engine, set through XPROG's SET_PARAM TIMEOUT (§1, §B.1): the V2 engine has
-- no parameter for it
function Isp:set_shared_timeout(ticks)
  return self.board:ctrl_out(M.REQ_XPROG, M.XPROG_SET_PARAM,
    string.pack("<BI4", M.XPROG_TIMEOUT, ticks))
end

--- isp:enter(p) -> true | false, status: ENTER_PROGMODE_ISP with parameters p (ENTER_DEFAULTS)
function Isp:enter(p)
  self.addr = nil -- ENTER sets the engine's address to 0 (§C.3); a LOAD_ADDRESS says so anyway
  local payload = string.char(p.timeout, p.stab_ms, p.exec_ms, p.loops, p.byte_delay,
    p.poll_value, p.poll_index) .. p.cmd
  local st = self:command(CMD.ENTER, payload, LONG_MS)
  self.in_progmode = true -- /RESET stays asserted even when it fails (§C.4)
  return st:byte(2) == 0, st:byte(2)
end

--- isp:leave(): LEAVE_PROGMODE_ISP, 1 ms pre- and post-delay (§C.4): /RESET released
function Isp:leave()
  self:check(CMD.LEAVE, "\x01\x01", "LEAVE_PROGMODE_ISP")
  self.in_progmode = false
end

--- isp:transfer(cmd, ret, bytes4) -> response byte ret (1..4) of a 4-byte instruction, through
-- READ_FUSE/LOCK/SIGNATURE/OSCCAL_ISP (§C.1: status [cmd, 0, response[ret-1], 0])
function Isp:transfer(cmd, ret, bytes4, what)
  local st = self:check(cmd, string.char(ret) .. bytes4, what or "ISP read")
  return st:byte(3)
end

--- isp:signature() -> 3 bytes (Read Signature Byte 0..2, §C.5)
function Isp:signature()
  local s = {}
  for i = 0, 2 do
    s[#s + 1] = string.char(self:transfer(CMD.READ_SIGNATURE, 4,
      string.char(0x30, 0x00, i, 0x00), "READ_SIGNATURE_ISP"))
  end
  return table.concat(s)
end

-- §C.5 fuse instructions: read (cmd byte 1, byte 2) and write (AC xx 00 v)
M.FUSE_READ = { low = "\x50\x00\x00\x00", high = "\x58\x08\x00\x00", ext = "\x50\x08\x00\x00" }
M.FUSE_WRITE = { low = 0xA0, high = 0xA8, ext = 0xA4 }
M.LOCK_READ, M.LOCK_WRITE = "\x58\x00\x00\x00", 0xE0

--- isp:read_fuse(name) -> byte ("low", "high", "ext")
function Isp:read_fuse(name)
  return self:transfer(CMD.READ_FUSE, 4, M.FUSE_READ[name], "READ_FUSE_ISP " .. name)
end

function Isp:read_lock()
  return self:transfer(CMD.READ_LOCK, 4, M.LOCK_READ, "READ_LOCK_ISP")
end

--- isp:write_fuse(name, value) / isp:write_lock(value): no completion wait in the engine
-- (§C.1): the caller waits tWD_FUSE before the next write
function Isp:write_fuse(name, v)
  self:check(CMD.PROGRAM_FUSE, string.char(0xAC, M.FUSE_WRITE[name], 0x00, v),
    "PROGRAM_FUSE_ISP " .. name)
end

function Isp:write_lock(v)
  self:check(CMD.PROGRAM_LOCK, string.char(0xAC, M.LOCK_WRITE, 0x00, v), "PROGRAM_LOCK_ISP")
end

--- isp:chip_erase(): Chip Erase (AC 80 00 00), waiting on RDY/BSY (poll method 1; NewAE waits
-- a fixed 25 ms instead, §C.4)
function Isp:chip_erase(delay_ms)
  self:check(CMD.CHIP_ERASE, string.char(delay_ms or 10, 1, 0xAC, 0x80, 0x00, 0x00),
    "CHIP_ERASE_ISP")
end

--- isp:load_address(a): LOAD_ADDRESS, little-endian (§C.1); a word address for flash
function Isp:load_address(a)
  self.addr = nil
  self:check(CMD.LOAD_ADDRESS, string.pack("<I4", a), "LOAD_ADDRESS")
  self.addr = a
end

--- isp:seek(a): make a the engine's current address (words for flash, bytes for EEPROM), with a
-- LOAD_ADDRESS only when it is not there already. The engine advances its address through
-- every PROGRAM and READ (§C.3: after each odd byte of flash, each byte of EEPROM; a 64 Ki-word
-- boundary re-arms the extended-address load by itself), so a contiguous run needs one
-- LOAD_ADDRESS, as NewAE's writeMemory sends (§C.4). isp.addr is nil whenever the engine's
-- address is not known: before the first LOAD_ADDRESS and after a command that failed.
function Isp:seek(a)
  if self.addr ~= a then self:load_address(a) end
end

-- The engine's address after a PROGRAM or READ of n bytes that started at a.
local function advanced(kind, a, n)
  if a == nil then return nil end
  return a + (kind == "eeprom" and n or n // 2)
end

--- isp:set_rambuf(data): the board's RAM buffer from offset 0, in 128-byte requests (§C.1)
function Isp:set_rambuf(data)
  for off = 0, #data - 1, OUT_CHUNK do
    self:out(CMD.SET_RAMBUF | (off << 8), data:sub(off + 1, off + OUT_CHUNK))
  end
end

--- isp:get_rambuf(n) -> the first n (<= 256) bytes of the RAM buffer, in one request
function Isp:get_rambuf(n)
  return self:_usb("V2 GET_RAMBUF", self.board:ctrl_in(M.REQ, CMD.GET_RAMBUF, n))
end

--- isp:program(kind, data, p): PROGRAM_FLASH/EEPROM_ISP of #data (<= 256) bytes at the
-- current address; p = { mode, delay_ms, load, write, read }
function Isp:program(kind, data, p)
  assert(#data <= BUFFER, "v2isp: at most 256 bytes per PROGRAM command")
  self:set_rambuf(data)
  local cmd = kind == "eeprom" and CMD.PROGRAM_EEPROM or CMD.PROGRAM_FLASH
  local a = self.addr
  self.addr = nil
  self:check(cmd, string.pack("<I2BBBBBBB", #data, p.mode, p.delay_ms, p.load, p.write,
    p.read, 0xFF, 0xFF), kind == "eeprom" and "PROGRAM_EEPROM_ISP" or "PROGRAM_FLASH_ISP",
    LONG_MS)
  self.addr = advanced(kind, a, #data)
end

--- isp:read(kind, n) -> n (<= 256) bytes from the current address (which advances)
function Isp:read(kind, n)
  assert(n <= BUFFER, "v2isp: at most 256 bytes per READ command")
  local cmd = kind == "eeprom" and CMD.READ_EEPROM or CMD.READ_FLASH
  local a = self.addr
  self.addr = nil
  self:check(cmd, string.pack("<I2B", n, kind == "eeprom" and 0xA0 or 0x20),
    kind == "eeprom" and "READ_EEPROM_ISP" or "READ_FLASH_ISP", LONG_MS)
  self.addr = advanced(kind, a, n)
  return self:get_rambuf(n)
end

return M
