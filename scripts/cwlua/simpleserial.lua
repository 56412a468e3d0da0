-- SPDX-License-Identifier: MIT
-- cwlua.simpleserial (cw.simpleserial): NewAE's SimpleSerial v1.1 and v2.1, the protocols of
-- ChipWhisperer target firmware, over any cwlua stream (a board's USART bridge, a serial port,
-- a fake in a spec). Protocol facts: cw-usb-protocol.md §5.5 and §6.4, and NewAE's
-- simpleserial.c / SimpleSerial2.py (read for facts only).
--
--   local ss = assert(cw.simpleserial.open(board, { version = 1 }))
--   assert(ss:set_key(cw.simpleserial.unhex("2b7e151628aed2a6abf7158809cf4f3c")))
--   print(cw.simpleserial.hex(assert(ss:encrypt(pt))))
--
-- v1.1: the host sends a command letter, 2 hex digits per data byte and "\n"; the target
-- answers "r" + hex + "\n" where it has data, then acknowledges every command with "z" + 2 hex
-- digits + "\n" (the status). Default 38400 baud.
-- v2.1: frames [cmd, scmd, len, data, crc] with CRC-8 poly 0x4D (init 0, over cmd..data),
-- COBS-stuffed behind a pointer byte and ended by 0x00; replies [cmd, len, data, crc], and
-- every command ends with an 'e' frame carrying an error code. Default 230400 baud.
--
-- World failures return nil, message, code (style.md §2.3): "timeout" (nothing came),
-- "short" (part of a reply, then nothing), "malformed" (bytes that are not the expected
-- reply: wrong letter, not hex, a broken frame), "crc" (v2 checksum), "nack" (the target
-- answered with a non-zero status, given as a 4th value), or the stream's own codes. Misuse
-- raises. docs/api.md has the reference.
local time = require "cwlua.time"

local M = {}

-- NewAE's defaults: 38400 for v1, 230400 for v2 (cw-usb-protocol.md §5.5, §6.4); read timeout
-- 250 ms (SimpleSerial.py / SimpleSerial2.py simpleserial_read).
M.BAUD = { [1] = 38400, [2] = 230400 }
local TIMEOUT_MS = 250
-- The clock the firmware's baud rate assumes: the CW's 7.3846 MHz (cw-usb-protocol.md §6.1;
-- NewAE's HSE_VALUE 7384600). A UART tolerates about 2 % in all.
local CLOCK_REF = 7384600
local CLOCK_TOL = 0.02
-- v2 error codes (NewAE SimpleSerial v2.1 documentation; SimpleSerial2_Err)
M.ERRORS = { [0] = "ok", [1] = "invalid command", [2] = "bad CRC", [3] = "timeout",
             [4] = "invalid length", [5] = "unexpected frame byte" }
local V2_MAX_LEN = 249 -- "dlen is limited to less than 250"
local V2_AES = 0x01    -- simpleserial-aes: cmd 0x01, scmd bit 0 plaintext, bit 1 key
-- v2 connect and reset_comms: two 0x00 bytes, 50 ms, flush (SimpleSerial2.reset_comms)
local V2_RESET_WAIT_MS = 50

local SS = {}
SS.__index = SS
SS.__name = "cwlua.SimpleSerial"

---------------------------------------------------------------------------------------------
-- helpers

--- simpleserial.hex(bytes) -> lower-case hex text
function M.hex(s)
  if type(s) ~= "string" then error("hex: bytes must be a string", 2) end
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- simpleserial.unhex(text) -> bytes; raises on anything but pairs of hex digits (spaces are
-- allowed between bytes)
function M.unhex(text)
  if type(text) ~= "string" then error("unhex: text must be a string", 2) end
  local t = text:gsub("%s", "")
  if #t % 2 ~= 0 or t:find("[^%x]") then
    error(("unhex: '%s' is not hex bytes"):format(text), 2)
  end
  return (t:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

--- simpleserial.crc8(bytes) -> the v2 CRC: poly 0x4D, init 0, no reflection
function M.crc8(s)
  local crc = 0
  for i = 1, #s do
    crc = crc ~ s:byte(i)
    for _ = 1, 8 do
      crc = crc & 0x80 ~= 0 and ((crc << 1) ~ 0x4D) & 0xFF or (crc << 1) & 0xFF
    end
  end
  return crc
end

--- simpleserial.stuff(packet) -> the frame on the wire: a pointer byte, packet with each 0x00
-- replaced by the distance to the next, and the 0x00 terminator (NewAE's stuff_data; packets
-- are shorter than 255 bytes, so no 254-byte blocks)
function M.stuff(packet)
  local b = { 0 }
  for i = 1, #packet do b[i + 1] = packet:byte(i) end
  b[#b + 1] = 0
  local last = 1
  for i = 2, #b do
    if b[i] == 0 then
      b[last] = i - last
      last = i
    end
  end
  return string.char(table.unpack(b))
end

--- simpleserial.unstuff(frame) -> packet | nil, reason: undo stuff(); the frame must end with
-- its only 0x00 and its pointers must lead to it
function M.unstuff(frame)
  local n = #frame
  if n < 2 then return nil, "too short for a frame" end
  if frame:byte(n) ~= 0 then return nil, "no 0x00 at the end" end
  local zero = frame:find("\0", 1, true)
  if zero < n then return nil, ("0x00 at byte %d, before the end"):format(zero) end
  local b = { frame:byte(1, n) }
  local pos = b[1] + 1
  while pos < n do
    local step = b[pos]
    b[pos] = 0
    pos = pos + step
  end
  if pos ~= n then return nil, "the stuffing pointers do not lead to the end" end
  return string.char(table.unpack(b, 2, n - 1))
end

-- Bytes for a message: printable ASCII as is, others as \xNN; long ones cut.
local function show(s)
  local t = s:sub(1, 48):gsub("[^\32-\126]", function(c)
    if c == "\n" then return "\\n" elseif c == "\r" then return "\\r" end
    return ("\\x%02X"):format(c:byte())
  end):gsub('"', '\\"')
  return '"' .. t .. (#s > 48 and '"...' or '"')
end

local function cmd_name(c)
  if type(c) == "number" then
    if c >= 0x21 and c <= 0x7E then return ("'%s'"):format(string.char(c)) end
    return ("0x%02X"):format(c)
  end
  return ("'%s'"):format(c)
end

local function check_timeout(t, where)
  if t == nil then return nil end
  if type(t) ~= "number" or t <= 0 then
    error(("%s: timeout_ms must be a positive number"):format(where), 3)
  end
  return t
end

---------------------------------------------------------------------------------------------
-- construction

--- simpleserial.new(stream [, opts]) -> ss: SimpleSerial over an open stream, as is (no
-- flush). opts: version (1 or 2, default 1), timeout_ms (250), dev (the board or port the
-- stream belongs to: reset_target and the clock hints use it), reset_pin, reset_ms, start_ms.
function M.new(stream, opts)
  if type(stream) ~= "table" or type(stream.read) ~= "function" then
    error("simpleserial.new: stream must be a cwlua stream", 2)
  end
  opts = opts or {}
  local version = opts.version or 1
  if version ~= 1 and version ~= 2 then
    error("simpleserial: version must be 1 (v1.1) or 2 (v2.1)", 2)
  end
  return setmetatable({
    stream = stream, version = version, baud = stream.baud or M.BAUD[version],
    timeout_ms = check_timeout(opts.timeout_ms, "simpleserial") or TIMEOUT_MS,
    _dev = opts.dev, _reset_pin = opts.reset_pin or "nrst", _reset_ms = opts.reset_ms or 10,
    _start_ms = opts.start_ms or 25,
  }, SS)
end

local OPEN_OPTS = { version = true, baud = true, timeout_ms = true, flush = true, target = true,
                    reset_pin = true, reset_ms = true, start_ms = true }

--- simpleserial.open(dev [, opts]) -> ss | nil, msg, code
-- dev: a board or serial port (cw.open). Opens its serial line at opts.baud (default 38400 for
-- v1, 230400 for v2, 8N1) and clears the line as NewAE's target connect does: v1 sends 24 'x'
-- and flushes, v2 sends two 0x00 bytes, waits 50 ms and flushes (opts.flush = false skips
-- it). opts: version, baud, timeout_ms, flush, target (a recipe name or alias: its reset_pin),
-- reset_pin (default nrst), reset_ms (10), start_ms (25).
function M.open(dev, opts)
  if type(dev) ~= "table" or type(dev.serial) ~= "function" then
    error("simpleserial.open: dev must be a board or port from cw.open", 2)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not OPEN_OPTS[k] then error(("simpleserial.open: unknown option '%s'"):format(k), 2) end
  end
  local version = opts.version or 1
  if version ~= 1 and version ~= 2 then
    error("simpleserial: version must be 1 (v1.1) or 2 (v2.1)", 2)
  end
  local reset_pin = opts.reset_pin
  if opts.target then
    local recipe = require("cwlua.targets").resolve(opts.target)
    reset_pin = reset_pin or (recipe.defaults and recipe.defaults.reset_pin)
  end
  local stream, msg, code = dev:serial{ baud = opts.baud or M.BAUD[version] }
  if not stream then return nil, msg, code end
  local self = M.new(stream, { version = version, timeout_ms = opts.timeout_ms, dev = dev,
    reset_pin = reset_pin, reset_ms = opts.reset_ms, start_ms = opts.start_ms })
  if opts.flush ~= false then
    local ok, m, c = self:reset_comms()
    if not ok then return nil, m, c end
  end
  return self
end

---------------------------------------------------------------------------------------------
-- failures

function SS:_where()
  return "simpleserial v" .. self.version
end

-- What to check when the target does not answer cleanly: evidence first (the simulator's own
-- word on a chip with a blank flash, the board's clock), else the usual suspects.
function SS:_hint()
  local dev = self._dev
  if dev and getmetatable(dev) == require("cwlua.board").Board then -- it knows its clock
    local sim = dev:_sim_hint()
    if sim then return sim end
    local ok, hz = pcall(dev.clock, dev)
    if ok and hz == false then
      return "the board's target clock (HS2) is off; a CW308 target runs from it: "
        .. "board:clock(7.37e6)"
    end
    if ok and type(hz) == "number" and math.abs(hz / CLOCK_REF - 1) > CLOCK_TOL then
      return ("the target clock (HS2) is %.6g MHz, so firmware built for %d baud at 7.37 MHz "
        .. "talks at about %d baud: set board:clock(7.37e6), or the baud the firmware "
        .. "really uses"):format(hz / 1e6, M.BAUD[self.version],
        math.floor(M.BAUD[self.version] * hz / CLOCK_REF + 0.5))
    end
  end
  return ("check that the target runs SimpleSerial v%d firmware at %d baud, is powered and "
    .. "clocked, and that its TX/RX reach the board"):format(self.version, self.baud)
end

function SS:_fail(code, fmt, ...)
  local msg = self:_where() .. ": " .. fmt:format(...)
  if code == "timeout" or code == "short" or code == "malformed" or code == "crc" then
    msg = msg .. "; " .. self:_hint()
  end
  return nil, msg, code
end

-- Exactly n more bytes, or a failure naming what was awaited. have: the part of the same reply
-- read before (for the message).
function SS:_read_exact(n, timeout_ms, what, have)
  have = have or ""
  local got, msg, code = self.stream:read(n, timeout_ms)
  if got == nil then
    if code ~= "timeout" then return nil, msg, code end
    if have == "" then
      return self:_fail("timeout", "no %s within %g ms (%d baud)", what, timeout_ms, self.baud)
    end
    got = ""
  end
  if #got < n then
    return self:_fail("short", "short %s: %d of %d bytes within %g ms (%s)", what, #have + #got,
      #have + n, timeout_ms, show(have .. got))
  end
  return got
end

---------------------------------------------------------------------------------------------
-- v1.1

local function v1_cmd(cmd)
  if type(cmd) ~= "string" or #cmd ~= 1 then
    error("simpleserial v1: cmd must be a one-letter string", 3)
  end
  return cmd
end

-- "r" + 2n hex digits + "\n" (or any length when n is nil) -> bytes. An acknowledgement where
-- the reply should be ("z" + status: the command failed, or gave no data) is taken whole, so
-- the line stays in step, and returned as a failure with acked = true as a 5th value.
function SS:_v1_read(letter, n, timeout_ms, what)
  local first, msg, code = self:_read_exact(1, timeout_ms, what)
  if not first then return nil, msg, code end
  if first == "z" and letter ~= "z" then
    local rest
    rest, msg, code = self:_read_exact(3, timeout_ms, what, first)
    if not rest then return nil, msg, code end
    local st = (first .. rest):match("^z(%x%x)\n$")
    if not st then
      return self:_fail("malformed", "malformed %s: expected '%s', got %s", what, letter,
        show(first .. rest))
    end
    st = tonumber(st, 16)
    if st ~= 0 then
      return nil, ("%s: the target answered with status 0x%02X instead of the %s"):format(
        self:_where(), st, what), "nack", st, true
    end
    return nil, ("%s: the target acknowledged (status 0x00) without the %s"):format(
      self:_where(), what), "malformed", nil, true
  end
  local raw
  if n then
    raw, msg, code = self:_read_exact(2 * n + 1, timeout_ms, what, first)
    if not raw then return nil, msg, code end
  else
    raw, msg, code = self.stream:read_until("\n", timeout_ms)
    if not raw then
      if code == "timeout" then
        return self:_fail("short", "short %s: %s, then no \"\\n\" within %g ms", what,
          show(first), timeout_ms)
      end
      return nil, msg, code
    end
  end
  raw = first .. raw
  local hex = raw:match("^" .. letter:gsub("%p", "%%%0") .. "(%x*)\n$")
  if not hex or #hex % 2 ~= 0 then
    local want = n and ("%d hex digits"):format(2 * n) or "hex digits"
    return self:_fail("malformed", "malformed %s: expected '%s', %s and \"\\n\", got %s", what,
      letter, want, show(raw))
  end
  return M.unhex(hex)
end

---------------------------------------------------------------------------------------------
-- v2.1

local function v2_cmd(cmd)
  if type(cmd) == "string" and #cmd == 1 then return cmd:byte() end
  if math.type(cmd) == "integer" and cmd >= 0 and cmd <= 255 then return cmd end
  error("simpleserial v2: cmd must be a one-letter string or a byte (0-255)", 3)
end

--- simpleserial.frame(cmd, scmd, data) -> the v2 command frame as sent on the wire
function M.frame(cmd, scmd, data)
  local packet = string.char(cmd, scmd, #data) .. data
  return M.stuff(packet .. string.char(M.crc8(packet)))
end

-- One reply frame: [ptr, cmd, len, data, crc, 0x00]. n: the data length expected, or nil to
-- take it from the frame. Returns letter (number), data.
function SS:_v2_frame(n, timeout_ms, what)
  local raw, msg, code
  if n then
    raw, msg, code = self:_read_exact(n + 5, timeout_ms, what)
    if not raw then return nil, msg, code end
  else
    raw, msg, code = self:_read_exact(3, timeout_ms, what)
    if not raw then return nil, msg, code end
    -- the length byte may itself be a stuffing pointer (a zero length): follow the chain
    local b = { raw:byte(1, 3) }
    local len, pos = b[3], b[1] + 1
    while pos <= 3 and b[pos] ~= 0 do
      if pos == 3 then len = 0 end
      pos = pos + b[pos]
    end
    if b[1] == 0 or b[2] == 0 or b[3] == 0 then
      return self:_fail("malformed", "malformed %s: 0x00 inside the header %s", what, show(raw))
    end
    local rest
    rest, msg, code = self:_read_exact(len + 2, timeout_ms, what, raw)
    if not rest then return nil, msg, code end
    raw = raw .. rest
  end
  local packet, why = M.unstuff(raw)
  if not packet then
    return self:_fail("malformed", "malformed %s: %s (%s)", what, why, show(raw))
  end
  local len = packet:byte(2)
  if len ~= #packet - 3 then
    return self:_fail("malformed", "malformed %s: length byte %d, %d data bytes (%s)", what, len,
      #packet - 3, show(raw))
  end
  local body, crc = packet:sub(1, -2), packet:byte(-1)
  if M.crc8(body) ~= crc then
    return self:_fail("crc", "bad CRC in the %s: 0x%02X, computed 0x%02X (%s)", what, crc,
      M.crc8(body), show(raw))
  end
  return packet:byte(1), packet:sub(3, -2)
end

-- The ack frame: 'e', 1 byte of status.
function SS:_v2_ack(timeout_ms, what)
  local c, data, code = self:_v2_frame(1, timeout_ms, what)
  if not c then return nil, data, code end
  if c ~= 0x65 then
    return self:_fail("malformed", "expected the %s, got a %s frame", what, cmd_name(c))
  end
  return data:byte(1)
end

---------------------------------------------------------------------------------------------
-- the interface

--- ss:write(cmd, data [, scmd]) -> true | nil, msg, code
-- v1: cmd is a letter, data any bytes (sent as lower-case hex, as NewAE does). v2: cmd a letter
-- or a byte, scmd a byte (default 0), data at most 249 bytes.
function SS:write(cmd, data, scmd)
  data = data or ""
  if type(data) ~= "string" then error("simpleserial: data must be a string of bytes", 2) end
  if self.version == 1 then
    self._last = cmd_name(v1_cmd(cmd))
    return self.stream:write(cmd .. M.hex(data) .. "\n")
  end
  local c = v2_cmd(cmd)
  scmd = scmd or 0
  if math.type(scmd) ~= "integer" or scmd < 0 or scmd > 255 then
    error("simpleserial v2: scmd must be a byte (0-255)", 2)
  end
  if #data > V2_MAX_LEN then
    error(("simpleserial v2: %d data bytes; a frame carries at most %d"):format(#data,
      V2_MAX_LEN), 2)
  end
  self._last = cmd_name(c) .. (scmd ~= 0 and ("/0x%02X"):format(scmd) or "")
  return self.stream:write(M.frame(c, scmd, data))
end

-- "'r' reply to 'p'", "'z' acknowledgement of 'k'": what a message says was awaited.
function SS:_what(letter, kind)
  local s = ("%s %s"):format(cmd_name(letter), kind)
  if self._last then s = s .. (kind == "reply" and " to " or " of ") .. self._last end
  return s
end

local READ_OPTS = { ack = true }

-- Bytes on the wire of a reply with n data bytes (nil: none) and, with ack, the
-- acknowledgement after it: v1 "r" + 2n hex + "\n", "z" + 2 hex + "\n"; v2 a frame of n + 2
-- bytes plus CRC, pointer and terminator, the 'e' frame 6 bytes.
local function wire_len(version, n, ack)
  local reply = n and (version == 1 and 2 * n + 2 or n + 5) or 0
  return reply + (ack and (version == 1 and 4 or 6) or 0)
end

-- Where the stream can (a board's USART bridge: stream:await), wait until the whole answer
-- of `len` bytes can be there before looking, so one look takes it all (bench/README.md, "The
-- capture bench"): after the command's last byte, one frame a byte, plus how long this
-- command kept the target busy last time (learnt from how much was missing at the first
-- look). An error reply, shorter than the answer awaited, ends the wait as soon as it is whole
-- (letter: what the answer starts with). Returns false when nothing came within the timeout,
-- for the caller's message.
function SS:_prefetch(len, timeout_ms, letter)
  local stream = self.stream
  if not stream.await or not stream.frame_ns then return true end
  local key = self._last or "?"
  self._busy = self._busy or {}
  local busy = self._busy[key] or 0
  local have, first = stream:await(len, timeout_ms, busy, self:_error_whole(letter))
  if not have then return true end -- the read that follows reports the stream's failure
  if have >= len and first < len then self._busy[key] = busy + (len - first) * stream.frame_ns end
  return have > 0
end

-- For _prefetch: a function telling whether the bytes buffered begin with a whole
-- acknowledgement where an answer starting with letter is awaited (v1 "z" + 2 hex digits + "\n",
-- v2 an 'e' frame up to its 0x00): the target's error reply (or a status without data), which
-- ends the answer. nil when the acknowledgement is what is awaited.
function SS:_error_whole(letter)
  if self.version == 1 then
    if letter == nil or letter == "z" then return nil end
    return function(pending) return pending:find("^z%x%x\n") ~= nil end
  end
  if letter == nil or letter == 0x65 then return nil end
  return function(pending) return pending:byte(2) == 0x65 and pending:find("\0", 2, true) ~= nil end
end

-- A non-zero status in the acknowledgement of the last command (what: "'p'", "0x01/0x01").
function SS:_nack(what, st)
  return nil, ("%s: the target answered %s with status 0x%02X%s"):format(self:_where(), what, st,
    self.version == 2 and (" (" .. (M.ERRORS[st] or "command-specific") .. ")") or ""), "nack", st
end

-- The reply alone: data | nil, msg, code [, status [, acked]] (acked: the failure was the
-- acknowledgement itself, so there is none left to read).
function SS:_reply(cmd, n, timeout_ms)
  local what = self:_what(cmd, "reply")
  if self.version == 1 then return self:_v1_read(v1_cmd(cmd), n, timeout_ms, what) end
  local want = v2_cmd(cmd)
  -- an error ack may come instead of the reply: read the header first when they differ
  local c, data, code = self:_v2_frame(nil, timeout_ms, what)
  if not c then return nil, data, code end
  if c == 0x65 and want ~= 0x65 and #data == 1 and data:byte() ~= 0 then
    local st = data:byte()
    return nil, ("%s: the target reported error 0x%02X (%s) instead of the %s"):format(
      self:_where(), st, M.ERRORS[st] or "command-specific", what), "nack", st, true
  end
  if c ~= want then
    return self:_fail("malformed", "expected %s, got a %s frame with %d data bytes (%s)", what,
      cmd_name(c), #data, show(data))
  end
  if n and #data ~= n then
    return self:_fail("malformed", "%s carries %d bytes, expected %d", what, #data, n)
  end
  return data
end

--- ss:read(cmd [, n [, timeout_ms]] [, opts]) -> data | nil, msg, code [, status]
-- The target's reply with letter cmd (usually 'r') and n data bytes (nil: any length), then
-- the acknowledgement that ends every command (v1 "z" + status, v2 the 'e' frame), as NewAE's
-- simpleserial_read(ack=True) does: so write + read can be repeated without the ack of one
-- command being taken for the reply to the next. A non-zero status is nil, msg, "nack",
-- status; an acknowledgement that comes instead of the reply too (v2: 'e' with an error code).
-- opts.ack = false leaves the acknowledgement on the line for ss:ack(). opts may stand in for
-- n or timeout_ms: ss:read("r", 16, { ack = false }).
function SS:read(cmd, n, timeout_ms, opts)
  if type(n) == "table" and timeout_ms == nil and opts == nil then
    n, opts = nil, n
  elseif type(timeout_ms) == "table" and opts == nil then
    timeout_ms, opts = nil, timeout_ms
  end
  if opts ~= nil then
    if type(opts) ~= "table" then error("simpleserial: read options must be a table", 2) end
    for k in pairs(opts) do
      if not READ_OPTS[k] then error(("simpleserial: unknown read option '%s'"):format(k), 2) end
    end
  end
  timeout_ms = check_timeout(timeout_ms, "read") or self.timeout_ms
  if n ~= nil and (math.type(n) ~= "integer" or n < 0) then
    error("simpleserial: n must be a non-negative integer", 2)
  end
  if n and not self:_prefetch(wire_len(self.version, n, not (opts and opts.ack == false)),
    timeout_ms, self.version == 1 and v1_cmd(cmd) or v2_cmd(cmd)) then
    return self:_fail("timeout", "no %s within %g ms (%d baud)", self:_what(cmd, "reply"),
      timeout_ms, self.baud)
  end
  local r = table.pack(self:_reply(cmd, n, timeout_ms))
  if r[1] == nil or (opts and opts.ack == false) then
    return table.unpack(r, 1, math.min(r.n, 4))
  end
  local st, msg, code = self:ack(timeout_ms)
  if not st then return nil, msg, code end
  if st ~= 0 then return self:_nack(self._last or "the command", st) end
  return r[1]
end

--- ss:ack([timeout_ms]) -> status (0 = ok) | nil, msg, code: v1 "z" + 2 hex digits + "\n",
-- v2 the 'e' frame
function SS:ack(timeout_ms)
  timeout_ms = check_timeout(timeout_ms, "ack") or self.timeout_ms
  if self.version == 1 then
    local data, msg, code = self:_v1_read("z", 1, timeout_ms, self:_what("z", "acknowledgement"))
    if not data then return nil, msg, code end
    return data:byte()
  end
  return self:_v2_ack(timeout_ms, self:_what("e", "acknowledgement"))
end

-- Send, read the reply (reply: nil for none, n bytes, or "any" length), then the
-- acknowledgement; a non-zero status is a failure ("nack").
function SS:_transact(label, cmd, scmd, data, reply_len)
  local ok, msg, code = self:write(cmd, data, scmd)
  if not ok then return nil, msg, code end
  if reply_len ~= "any" and not self:_prefetch(wire_len(self.version, reply_len, true),
    self.timeout_ms, reply_len and (self.version == 1 and "r" or 0x72) or nil) then
    local what = reply_len and self:_what(self.version == 1 and "r" or 0x72, "reply")
      or self:_what(self.version == 1 and "z" or "e", "acknowledgement")
    return self:_fail("timeout", "no %s within %g ms (%d baud)", what, self.timeout_ms, self.baud)
  end
  local reply
  if reply_len then
    local n = reply_len ~= "any" and reply_len or nil
    local r = table.pack(self:_reply(self.version == 1 and "r" or 0x72, n, self.timeout_ms))
    if not r[1] then return table.unpack(r, 1, math.min(r.n, 4)) end
    reply = r[1]
  end
  local st
  st, msg, code = self:ack()
  if not st then return nil, msg, code end
  if st ~= 0 then return self:_nack(label, st) end
  return reply or true
end

local function block(what, b)
  if type(b) ~= "string" or #b ~= 16 then
    error(("simpleserial: %s must be 16 bytes (a string; cw.simpleserial.unhex makes one from "
      .. "hex)"):format(what), 3)
  end
end

--- ss:set_key(key) -> true | nil, msg, code [, status]: the AES-128 key (16 bytes); v1 'k',
-- v2 command 0x01 with scmd 0x02 (NewAE's simpleserial-aes)
function SS:set_key(key)
  block("key", key)
  if self.version == 1 then return self:_transact("'k'", "k", nil, key) end
  return self:_transact("the key (0x01/0x02)", V2_AES, 0x02, key)
end

--- ss:encrypt(plaintext) -> ciphertext | nil, msg, code [, status]: v1 'p' -> 'r', v2 command
-- 0x01 with scmd 0x01 -> 'r'; 16 bytes each
function SS:encrypt(pt)
  block("plaintext", pt)
  if self.version == 1 then return self:_transact("'p'", "p", nil, pt, 16) end
  return self:_transact("the plaintext (0x01/0x01)", V2_AES, 0x01, pt, 16)
end

--- ss:target_version() -> the protocol version the firmware reports (v1.1: 1, v2.1: 3) |
-- nil, msg, code
function SS:target_version()
  if self.version == 1 then
    local ok, msg, code = self:write("v")
    if not ok then return nil, msg, code end
    return self:ack()
  end
  local ver, msg, code = self:_transact("'v'", "v", 0, "", 1)
  if not ver then return nil, msg, code end
  return ver:byte()
end

--- ss:commands() -> list of the target's commands | nil, msg, code. v1: { {cmd = "k", len =
-- 16, flags = 0}, ... }; v2: { {cmd = "k"}, ... } (a byte that is not a letter as a number)
function SS:commands()
  local t, msg, code = self:_transact("'w'", "w", self.version == 2 and 0 or nil, "", "any")
  if not t then return nil, msg, code end
  local list = {}
  local function name(b) return (b >= 0x21 and b <= 0x7E) and string.char(b) or b end
  if self.version == 1 then
    for i = 1, #t - 2, 3 do
      list[#list + 1] = { cmd = name(t:byte(i)), len = t:byte(i + 1), flags = t:byte(i + 2) }
    end
  else
    for i = 1, #t do list[#list + 1] = { cmd = name(t:byte(i)) } end
  end
  return list
end

--- ss:reset_comms() -> true | nil, msg, code: put the target's parser back to waiting for a
-- command and drop what it said (v1: 24 'x' then a flush; v2: two 0x00, 50 ms, a flush), as
-- NewAE's target connect does (cw-usb-protocol.md §6.4)
function SS:reset_comms()
  local ok, msg, code = self.stream:write(self.version == 1 and ("x"):rep(24) or "\0\0")
  if not ok then return nil, msg, code end
  if self.version == 2 then time.sleep(V2_RESET_WAIT_MS) end
  self.stream:flush()
  return true
end

--- ss:reset_target() -> true | nil, msg, code: pulse the target's reset line and clear the
-- line. A board: the recipe's reset pin (default nrst) low for reset_ms (10), high for
-- start_ms (25), then back to its mode before. A serial port: its --gpio-seq exit sequence.
function SS:reset_target()
  local dev = self._dev
  if dev == nil then
    return nil, self:_where() .. ": reset_target needs the board or port (open with "
      .. "simpleserial.open(dev))", "unsupported"
  end
  if dev.exit_bootloader then -- a serial port: its reset sequence, if it has one
    local how, msg, code = dev:exit_bootloader()
    if not how then return nil, msg, code end
    if how == "go" then
      return nil, self:_where() .. ": this serial port has no reset sequence; give one with "
        .. "--gpio-seq ENTRY:EXIT", "unsupported"
    end
  else
    local pin = self._reset_pin
    local before, msg, code = dev:pin(pin)
    if not before then return nil, msg, code end
    local ok
    ok, msg, code = dev:pin(pin, "low")
    if not ok then return nil, msg, code end
    time.sleep(self._reset_ms)
    ok, msg, code = dev:pin(pin, "high")
    if not ok then return nil, msg, code end
    time.sleep(self._start_ms)
    ok, msg, code = dev:pin(pin, before)
    if not ok then return nil, msg, code end
  end
  self.stream:flush()
  return true
end

function SS:__tostring()
  return ("cwlua.SimpleSerial (v%d, %d baud)"):format(self.version, self.baud)
end

M.SimpleSerial = SS
return M
