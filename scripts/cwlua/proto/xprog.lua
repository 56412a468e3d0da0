-- SPDX-License-Identifier: MIT
-- cwlua.proto.xprog: the host side of the board's XPROG engine (XMEGA PDI programming) on
-- vendor request 0x20: sub-commands, the 256-byte RAM buffer, the 3-byte status.
-- Facts: docs/reference/target-protocols.md §B.1 (framing), §B.2 (what each sub-command does),
-- §B.3 (NewAE's host flow), §E (what bad input does), §1 (the transport and the timeout counter
-- the XPROG and AVR engines share).
--
--   local x = xprog.new(board, { where = "xmega" })
--   x:set_timeout(200); x:enter(); local sig = x:read(0x01000090, 3); x:leave()
--
-- Raises cwlua errors: "device" (exit 3) when the board fails a transfer or has no engine
-- (code "no_engine": the request stalls), "target" (exit 4) when a command reports FAILED or
-- TIMEOUT (code "timeout", with .status and .timed_out).
local errors = require "cwlua.errors"

local M = {}

M.REQUEST = 0x20 -- XMEGA_PROGRAM (target-protocols.md §1 request table)

-- Sub-commands: the low byte of wValue (§B.1).
M.CMD = { ENTER = 0x01, LEAVE = 0x02, ERASE = 0x03, WRITE = 0x04, READ = 0x05, CRC = 0x06,
          SET_PARAM = 0x07, GET_STATUS = 0x20, GET_RAMBUF = 0x21, SET_RAMBUF = 0x22 }
-- Status byte 1 (§B.1): 0 OK, 1 FAILED, 2 COLLISION (never produced, §B.2), 3 TIMEOUT.
M.STATUS = { [0] = "OK", [1] = "FAILED", [2] = "COLLISION", [3] = "TIMEOUT" }
-- WRITE_MEM memory types, ERASE types, page-mode bits, SET_PARAM ids (§B.1).
M.MEM = { APPL = 1, BOOT = 2, EEPROM = 3, FUSE = 4, LOCKBITS = 5, USERSIG = 6 }
M.ERASE = { CHIP = 1, APP = 2, BOOT = 3, EEPROM = 4, APP_PAGE = 5, BOOT_PAGE = 6,
            EEPROM_PAGE = 7, USERSIG = 8 }
M.PAGE_ERASE_BUFFER, M.PAGE_WRITE = 0x01, 0x02
M.PARAM = { NVMBASE = 0x01, EEPPAGESIZE = 0x02, TIMEOUT = 0x08 }
-- The engine's timeout counter ticks at 2500 Hz (§1 "Shared timeout counter").
M.TICKS_PER_MS = 2.5
-- PDI addresses (§B.4): flash, EEPROM, fuse bytes (lock bits at +7), MCU.DEVID in data space.
M.ADDR = { FLASH = 0x0800000, EEPROM = 0x08C0000, FUSES = 0x08F0020, LOCK = 0x08F0027,
           USERSIG = 0x08E0400, SIGNATURE = 0x01000090 }
-- The RAM buffer is 256 bytes (§B.6). NewAE moves it in 64-byte control transfers (§B.3); cwlua
-- fills it in OUT transfers of 128 bytes, as much as the board's OUT buffer takes (§1), and reads
-- it in one IN transfer: GET_RAMBUF answers straight from the RAM buffer, any length that stays
-- inside it (§B.1). A 256-byte page is then two transfers out and one in instead of four each.
M.RAMBUF, M.OUT_CHUNK = 256, 128

local Engine = {}
Engine.__index = Engine

--- xprog.new(board, opts) -> engine. opts.where: the prefix of messages (the recipe name).
function M.new(board, opts)
  opts = opts or {}
  return setmetatable({ board = board, where = opts.where or "xprog", timeout_ms = 200 }, Engine)
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02X "):format(c:byte()) end):gsub(" $", ""))
end
M.hex = hex

-- A transfer failed: a STALL on the first engine request means the board has no XPROG engine
-- (the Nano's firmware lacks it, cw-usb-protocol.md §2.3); once the engine has answered, a
-- stall is the board or USB failing like anything else.
function Engine:_fail(what, msg, code)
  if (code == "stall" or code == "pipe") and not self.answered then
    error(errors.new("device", ("%s: this board cannot program XMEGA: its XMEGA programmer "
      .. "request (0x20, %s) stalls, so its firmware has no XPROG (PDI) engine; use a CW-Lite, "
      .. "CW1200 or CW-Husky"):format(self.where, what), { code = "no_engine",
      cause = "no-engine" }), 0)
  end
  error(errors.new("device", ("%s: XMEGA programmer (request 0x20, %s): %s"):format(self.where,
    what, msg), { code = code }), 0)
end

-- A command runs to its end before the board takes the next request (§1 "Execution model"),
-- and may wait for the chip up to the engine's timeout (§B.2): the USB timeout of every
-- request covers that, with the board's own 2 s on top.
local USB_MARGIN_MS = 2000
function Engine:_usb_timeout()
  return math.ceil(self.timeout_ms) + USB_MARGIN_MS
end

function Engine:_out(sub, data, what)
  local ok, msg, code = self.board:ctrl_out(M.REQUEST, sub, data or "", self:_usb_timeout())
  if not ok then self:_fail(what, msg, code) end
  self.answered = true
end

function Engine:_in(value, len, what)
  local data, msg, code = self.board:ctrl_in(M.REQUEST, value, len, self:_usb_timeout())
  if not data then self:_fail(what, msg, code) end
  self.answered = true
  return data
end

--- engine:status() -> status (0 OK ...), timed_out (bool). Byte 0 is always 0x20 (§B.1).
function Engine:status()
  local s = self:_in(M.CMD.GET_STATUS, 3, "GET_STATUS")
  if #s ~= 3 or s:byte(1) ~= M.CMD.GET_STATUS then
    error(errors.new("device", ("%s: XMEGA programmer: GET_STATUS answered %s, not 20 xx xx")
      :format(self.where, hex(s)), { code = "io" }), 0)
  end
  return s:byte(2), s:byte(3) == 1
end

-- Run a command and read its status (an OUT command cannot fail at the USB level, only
-- GET_STATUS tells, §F.6). Returns status, timed_out.
function Engine:_command(sub, payload, what)
  self:_out(sub, payload, what)
  return self:status()
end

-- Raise a target error for a command that did not report OK.
function Engine:_check(what, st, to, detail)
  if st == 0 then return end
  error(errors.new("target", ("%s: %s reported %s%s%s"):format(self.where, what,
    M.STATUS[st] or ("status " .. st), to and " (the engine's timeout expired)" or "",
    detail or ""), { code = "timeout", status = st, timed_out = to, command = what }), 0)
end

--- engine:set_timeout(ms): SET_PARAM TIMEOUT, the default for every later XPROG and AVR
-- command (§B.2; the counter is shared, §1).
function Engine:set_timeout(ms)
  local ticks = math.floor(ms * M.TICKS_PER_MS + 0.5)
  local st, to = self:_command(M.CMD.SET_PARAM, string.pack("<BI4", M.PARAM.TIMEOUT, ticks),
    "SET_PARAM TIMEOUT")
  self:_check("SET_PARAM TIMEOUT", st, to)
  self.timeout_ms = ms
end

--- engine:enter() -> true | nil, status, timed_out: PDI on, RESET key, NVM key, wait for NVMEN
-- (§B.2 ENTER). Not raising: the caller explains a silent target.
function Engine:enter()
  local st, to = self:_command(M.CMD.ENTER, "", "ENTER")
  self.entered = true
  self.fbuf_empty = false -- what the chip's flash page buffer holds is not known (§B.5)
  if st ~= 0 then return nil, st, to end
  return true
end

--- engine:leave(): release the RESET key and the PDI lines; the target runs (§B.2 LEAVE,
-- always OK).
function Engine:leave()
  self:_command(M.CMD.LEAVE, "", "LEAVE")
  self.entered = false
end

--- engine:erase(type, addr): ERASE (§B.2); raises on FAILED/TIMEOUT
function Engine:erase(etype, addr, what)
  local st, to = self:_command(M.CMD.ERASE, string.pack("<BI4", etype, addr), "ERASE")
  self:_check(what or ("ERASE type " .. etype), st, to, (" at 0x%07X"):format(addr))
end

--- engine:erase_status(type, addr) -> status, timed_out (for a caller with its own fallback)
function Engine:erase_status(etype, addr)
  return self:_command(M.CMD.ERASE, string.pack("<BI4", etype, addr), "ERASE")
end

local function put_rambuf(self, data)
  for off = 0, #data - 1, M.OUT_CHUNK do
    -- the offset goes in wValue's high byte (§B.1)
    self:_out(M.CMD.SET_RAMBUF | (off << 8), data:sub(off + 1, off + M.OUT_CHUNK), "SET_RAMBUF")
  end
end

local function get_rambuf(self, len)
  local got = self:_in(M.CMD.GET_RAMBUF, len, "GET_RAMBUF")
  if #got ~= len then
    error(errors.new("device", ("%s: XMEGA programmer: GET_RAMBUF returned %d of %d bytes")
      :format(self.where, #got, len), { code = "io" }), 0)
  end
  return got
end

--- engine:write(type, mode, addr, data): data (at most 256 bytes) into the RAM buffer, then
-- WRITE_MEM [type, mode, addr, len] (§B.2); raises on FAILED/TIMEOUT
function Engine:write(mtype, mode, addr, data)
  assert(#data >= 1 and #data <= M.RAMBUF, "xprog write: 1 to 256 bytes")
  put_rambuf(self, data)
  local st, to = self:_command(M.CMD.WRITE, string.pack("<BBI4I2", mtype, mode, addr, #data),
    "WRITE_MEM")
  self:_check("WRITE_MEM", st, to, (" at 0x%07X"):format(addr))
end

--- engine:read(addr, len) -> data: READ_MEM into the RAM buffer, then GET_RAMBUF (§B.2, §B.3)
function Engine:read(addr, len)
  assert(len >= 1 and len <= M.RAMBUF, "xprog read: 1 to 256 bytes")
  -- mem_type is ignored by the engine (§B.1); NewAE sends 1
  local st, to = self:_command(M.CMD.READ, string.pack("<BI4I2", M.MEM.APPL, addr, len),
    "READ_MEM")
  self:_check("READ_MEM", st, to, (" at 0x%07X"):format(addr))
  return get_rambuf(self, len)
end

return M
