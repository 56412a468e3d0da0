-- SPDX-License-Identifier: MIT
-- cwlua.port: a plain serial adapter (-d serial:PATH, contract.md §3) over libserialport
-- (cwlua.core.serial), with the same stream interface as a board's USART bridge (cwlua.board
-- Stream) and its reset/boot lines: DTR, RTS and break, driven by --gpio-seq ENTRY[:EXIT]
-- (cwlua.gpioseq, stm32flash 0.7's -i grammar).
--
--   local port <close> = assert(cw.open("serial:/dev/ttyUSB0"))
--   assert(port:enter_bootloader())                 -- the entry sequence, if any
--   local s = assert(port:serial{ baud = 115200, parity = "even" })
--   s:write("\x7F"); print(s:read(1, 100))
--
-- A real port runs on real time: waits use the runtime clock (cwlua.time), whose default is
-- the monotonic clock, and every C call is bounded by its timeout. World failures return
-- nil, message, code with the hint that says what to do; misuse raises. docs/api.md.
local time = require "cwlua.time"
local core = require "cwlua.core.serial"
local gpioseq = require "cwlua.gpioseq"

local M = {}

-- The reset/boot sequences for ports opened without opts.gpio_seq: the CLI sets this from
-- --gpio-seq (a sequence parsed by cwlua.gpioseq).
M.defaults = { gpio_seq = nil }

-- NewAE's USB vendor ID (cw-usb-protocol.md §1.1): such a port is a ChipWhisperer's own CDC serial
-- port, which carries only the baud rate and always runs 8N1 (§5.6).
local NEWAE_VID = 0x2B3E

local SERIAL_DEFAULT = { baud = 38400, parity = "none", stop = 1, bits = 8 } -- as cwlua.board
local PARITY = { none = true, odd = true, even = true, mark = true, space = true }
local OUT_LINES = { rts = "rts", dtr = "dtr", brk = "break" }
local IN_LINES = { cts = true, dsr = true, dcd = true, ri = true }

-- A write is given the time its bytes take on the wire plus this margin (USB-serial adapters
-- buffer a few KiB; a write that cannot even be queued in that time means a stuck port).
local WRITE_MARGIN_MS = 1000
local WRITE_CHUNK = 4096

local Port = {}
Port.__index = Port
Port.__name = "cwlua.Port"

local Stream = {}
Stream.__index = Stream
Stream.__name = "cwlua.PortStream"

---------------------------------------------------------------------------------------------
-- messages

local function detail_of(path, msg)
  local start = path .. ": "
  if msg:sub(1, #start) == start then return msg:sub(#start + 1) end
  return msg
end

-- The message for a failure of the port at path, with what to do about it.
local function explain(path, msg, code)
  local detail = detail_of(path, msg)
  local where = "serial:" .. path
  if code == "no_device" then
    if detail:find("went away", 1, true) then
      return ("%s: the adapter is gone %s; plug it back in, check the cable, and run the "
        .. "command again"):format(where, (detail:gsub("^the port went away ", "")))
    end
    return ("%s: %s; check the path and the cable, and run 'cwlua list' to see the serial "
      .. "ports"):format(where, detail)
  elseif code == "access" then
    return ("%s: %s; add yourself to the dialout group (sudo usermod -aG dialout $USER), "
      .. "then log out and in again"):format(where, detail)
  elseif code == "busy" then
    return ("%s: %s; close the program that has it open: a terminal (screen, minicom, "
      .. "picocom), another cwlua or stm32flash, or ModemManager, which probes new ports "
      .. "(sudo systemctl stop ModemManager)"):format(where, detail)
  end
  return ("%s: %s"):format(where, detail)
end

---------------------------------------------------------------------------------------------
-- opening

--- port.open(path [, opts]) -> port | nil, msg, code
-- opts.gpio_seq: --gpio-seq text or a sequence from cwlua.gpioseq.parse (default: the CLI's
-- --gpio-seq). Other fields (the simulator's options) are ignored.
function M.open(path, opts)
  if type(path) ~= "string" or path == "" then error("port.open: path must be a string", 2) end
  opts = opts or {}
  local seq = opts.gpio_seq
  if seq == nil then seq = M.defaults.gpio_seq end
  if type(seq) == "string" then
    local parsed, msg = gpioseq.parse(seq)
    if not parsed then error(msg, 2) end
    seq = parsed
  end
  local dev, msg, code = core.open(path)
  if not dev then return nil, explain(path, msg, code), code end
  local i = dev:info()
  return setmetatable({
    _dev = dev, _seq = seq, _out = {}, path = path, description = i.description,
    vid = i.vid, pid = i.pid, chipwhisperer = i.vid == NEWAE_VID, _info = i,
  }, Port)
end

local function checkopen(self)
  if getmetatable(self) ~= Port then error("expected a cwlua.Port", 3) end
  if not self._dev then error("attempt to use a closed port", 3) end
end

--- port:close() -> true; closing twice is harmless through <close> and __gc
function Port:close()
  if self._dev then
    self._dev:close()
    self._dev = nil
  end
  return true
end
Port.__close = Port.close
Port.__gc = Port.close

function Port:__tostring()
  return ("cwlua.Port (serial:%s%s)"):format(self.path, self._dev and "" or ", closed")
end

--- port:info() -> { kind = "serial", backend = "serialport", path, description, manufacturer,
-- product, serial, vid, pid, chipwhisperer, gpio_seq }
function Port:info()
  checkopen(self)
  local i = self._info
  return { kind = "serial", backend = "serialport", path = self.path,
           description = i.description, manufacturer = i.manufacturer, product = i.product,
           serial = i.usb_serial ~= "" and i.usb_serial or nil, vid = i.vid, pid = i.pid,
           chipwhisperer = self.chipwhisperer, gpio_seq = self._seq and self._seq.text }
end

-- The message for a ChipWhisperer's own serial port asked for a frame other than 8N1.
function Port:_cw_port_message(c)
  local fmt = ("%d%s%s"):format(c.bits, c.parity:sub(1, 1):upper(), tostring(c.stop))
  return ("serial:%s is a ChipWhisperer's own USB serial port (%04x:%04x%s): it carries only "
    .. "the baud rate and always runs 8N1 (its firmware ignores parity and stop bits), so %s "
    .. "cannot work through it, nor can the STM32 bootloader (8E1); use the board itself with "
    .. "-d usb, whose USART bridge sets the whole frame"):format(self.path, self.vid, self.pid,
    self.description ~= "" and (", " .. self.description) or "", fmt)
end

---------------------------------------------------------------------------------------------
-- the serial line

local function frame_bits(cfg)
  return 1 + cfg.bits + (cfg.parity == "none" and 0 or 1) + cfg.stop
end

--- port:serial([cfg]) -> stream | nil, msg, code. cfg: baud (38400), parity ("none", "odd",
-- "even", "mark", "space"), stop (1, 2; 1.5 is not possible on POSIX ports), bits (5..8).
-- Applies the settings in one go, reads them back, and discards whatever was received or
-- queued before (like the board's USART INIT).
function Port:serial(cfg)
  checkopen(self)
  cfg = cfg or {}
  local c = {}
  for k, v in pairs(SERIAL_DEFAULT) do c[k] = cfg[k] == nil and v or cfg[k] end
  for k in pairs(cfg) do
    if SERIAL_DEFAULT[k] == nil then error(("serial: unknown setting '%s'"):format(k), 2) end
  end
  if math.type(c.baud) ~= "integer" or c.baud < 1 then
    error("serial: baud must be a positive integer", 2)
  end
  if not PARITY[c.parity] then
    error("serial: parity must be none, odd, even, mark or space", 2)
  end
  if c.stop ~= 1 and c.stop ~= 1.5 and c.stop ~= 2 then
    error("serial: stop must be 1, 1.5 or 2", 2)
  end
  if math.type(c.bits) ~= "integer" or c.bits < 5 or c.bits > 8 then
    error("serial: bits must be 5 to 8", 2)
  end
  if self.chipwhisperer and (c.parity ~= "none" or c.bits ~= 8 or c.stop ~= 1) then
    return nil, self:_cw_port_message(c), "unsupported"
  end
  if c.stop == 1.5 then
    return nil, ("serial:%s: 1.5 stop bits are not possible on a serial port here (POSIX "
      .. "offers 1 or 2)"):format(self.path), "unsupported"
  end
  local got, msg, code = self._dev:config(c.baud, c.bits, c.parity, math.tointeger(c.stop))
  if not got then return nil, explain(self.path, msg, code), code end
  if got.parity ~= c.parity or got.bits ~= c.bits or got.stop ~= c.stop then
    return nil, ("serial:%s: the port did not take %d%s%d (it reports %d%s%d)"):format(
      self.path, c.bits, c.parity:sub(1, 1):upper(), c.stop, got.bits,
      got.parity:sub(1, 1):upper(), got.stop), "unsupported"
  end
  local ok
  ok, msg, code = self._dev:flush(true, true)
  if not ok then return nil, explain(self.path, msg, code), code end
  local actual = got.baud > 0 and got.baud or c.baud
  return setmetatable({
    _port = self, _pending = "", baud = c.baud, actual_baud = actual, parity = c.parity,
    stop = c.stop, bits = c.bits, frame_ns = math.ceil(frame_bits(c) * 1e9 / actual),
  }, Stream)
end

function Stream:_dev()
  local port = self._port
  if not port._dev then error("attempt to use a closed port", 3) end
  return port._dev
end

function Stream:_fail(msg, code)
  return nil, explain(self._port.path, msg, code), code
end

--- stream:available() -> bytes that can be read now | nil, msg, code
function Stream:available()
  local rx, msg, code = self:_dev():queued()
  if not rx then return self:_fail(msg, code) end
  return #self._pending + rx
end

--- stream:tx_pending() -> bytes written but not sent yet | nil, msg, code
function Stream:tx_pending()
  local rx, tx, code = self:_dev():queued()
  if not rx then return self:_fail(tx, code) end
  return tx
end

--- stream:write(data) -> true | nil, msg, code
function Stream:write(data)
  if type(data) ~= "string" then error("write: data must be a string", 2) end
  local dev = self:_dev()
  for pos = 1, #data, WRITE_CHUNK do
    local chunk = data:sub(pos, pos + WRITE_CHUNK - 1)
    local timeout = WRITE_MARGIN_MS + math.ceil(#chunk * self.frame_ns / 1e6)
    local n, msg, code = dev:write(chunk, timeout)
    if not n then return self:_fail(msg, code) end
  end
  return true
end

-- Read up to max bytes into the pending buffer, waiting at most ms. Returns the number of
-- bytes added (0: the wait ran out), or nil, msg, code.
function Stream:_fill(max, ms)
  local data, msg, code = self:_dev():read(max, ms)
  if not data then return nil, msg, code end
  self._pending = self._pending .. data
  return #data
end

local function wait_ms(left)
  return math.max(1, math.ceil(left() / 1e6))
end

--- stream:read(n, timeout_ms) -> string of up to n bytes | nil, "read: nothing received
-- within T ms", "timeout" when none arrived in time. Waits for all n bytes, at most
-- timeout_ms, and returns what came.
function Stream:read(n, timeout_ms)
  if math.type(n) ~= "integer" or n < 1 then error("read: n must be a positive integer", 2) end
  if type(timeout_ms) ~= "number" or timeout_ms <= 0 then
    error("read: timeout_ms must be a positive number", 2)
  end
  local left = time.deadline(timeout_ms)
  while #self._pending < n and left() > 0 do
    local got, msg, code = self:_fill(n - #self._pending, wait_ms(left))
    if not got then return self:_fail(msg, code) end
    if got == 0 then break end -- the C wait used up the time that was left
  end
  if #self._pending == 0 then
    return nil, ("read: nothing received within %g ms"):format(timeout_ms), "timeout"
  end
  local out = self._pending:sub(1, n)
  self._pending = self._pending:sub(n + 1)
  return out
end

--- stream:read_until(pattern, timeout_ms) -> text up to and including the first match |
-- nil, msg, "timeout" (what arrived stays buffered for the next read)
function Stream:read_until(pattern, timeout_ms)
  if type(pattern) ~= "string" then error("read_until: pattern must be a string", 2) end
  if type(timeout_ms) ~= "number" or timeout_ms <= 0 then
    error("read_until: timeout_ms must be a positive number", 2)
  end
  local left = time.deadline(timeout_ms)
  while true do
    local _, e = self._pending:find(pattern)
    if e then
      local out = self._pending:sub(1, e)
      self._pending = self._pending:sub(e + 1)
      return out
    end
    local got = 0
    if left() > 0 then
      local msg, code
      got, msg, code = self:_fill(4096, wait_ms(left))
      if not got then return self:_fail(msg, code) end
    end
    if got == 0 then
      return nil, ("read_until: no match for %q within %g ms (%d bytes received)"):format(
        pattern, timeout_ms, #self._pending), "timeout"
    end
  end
end

--- stream:flush() -> bytes discarded: drops everything received so far
function Stream:flush()
  local dev = self:_dev()
  local rx, msg, code = dev:queued()
  if not rx then return self:_fail(msg, code) end
  local dropped = #self._pending + rx
  self._pending = ""
  local ok
  ok, msg, code = dev:flush(true, false)
  if not ok then return self:_fail(msg, code) end
  return dropped
end

--- stream:drain(timeout_ms) -> true once everything written has left | nil, msg, "timeout"
function Stream:drain(timeout_ms)
  if type(timeout_ms) ~= "number" or timeout_ms <= 0 then
    error("drain: timeout_ms must be a positive number", 2)
  end
  local left = time.deadline(timeout_ms)
  while true do
    local q, msg, code = self:tx_pending()
    if not q then return nil, msg, code end
    if q == 0 then return true end
    if left() <= 0 then
      return nil, ("drain: %d bytes still queued after %g ms"):format(q, timeout_ms), "timeout"
    end
    time.sleep_ns(math.min(left(), math.max(q * self.frame_ns, 100000)))
  end
end

---------------------------------------------------------------------------------------------
-- lines

local BOARD_PINS = { tio1 = true, tio2 = true, tio3 = true, tio4 = true, nrst = true,
                     pdic = true, pdid = true }

--- port:pin(name [, mode]) -> mode | nil, msg, code
-- name: rts, dtr (the modem-control outputs) or brk (a break: TX held low). mode: "high"
-- (asserted: the bit set; the RTS#/DTR# pin of a USB-TTL adapter then goes low) or "low".
-- Without mode: the mode cwlua last set. A board's pin names (nrst, pdic, tio1...) return
-- nil, msg, "unsupported": a port has no such pins; see port:enter_bootloader().
function Port:pin(name, mode)
  checkopen(self)
  if BOARD_PINS[name] then
    return nil, ("serial:%s: a plain serial adapter has no pin '%s'; its lines are rts, dtr "
      .. "and brk, and its reset/boot wiring is given with --gpio-seq"):format(self.path, name),
      "unsupported"
  end
  local line = OUT_LINES[name]
  if not line then
    error(("pin: unknown line '%s' on a serial port (use rts, dtr or brk)"):format(
      tostring(name)), 2)
  end
  if mode == nil then
    if self._out[name] then return self._out[name] end
    return nil, ("serial:%s: %s cannot be read back, and cwlua has not set it yet"):format(
      self.path, name:upper()), "unsupported"
  end
  if mode ~= "high" and mode ~= "low" then
    error(("pin: mode '%s' is not possible on %s (use high or low)"):format(tostring(mode),
      name), 2)
  end
  local ok, msg, code = self._dev:set_line(line, mode == "high")
  if not ok then return nil, explain(self.path, msg, code), code end
  self._out[name] = mode
  return mode
end

--- port:level(name) -> 0 | 1: an input line (cts, dsr, dcd, ri) | nil, msg, code
function Port:level(name)
  checkopen(self)
  if not IN_LINES[name] then
    error(("level: unknown input line '%s' (use cts, dsr, dcd or ri)"):format(tostring(name)),
      2)
  end
  local t, msg, code = self._dev:lines()
  if not t then return nil, explain(self.path, msg, code), code end
  return t[name] and 1 or 0
end

function Port:_run(steps)
  local dev, path = self._dev, self.path
  return gpioseq.run(steps, function(line, on)
    local ok, msg, code = dev:set_line(line, on)
    if not ok then return nil, explain(path, msg, code), code end
    local name = line == "break" and "brk" or line
    if line ~= "break" then self._out[name] = on and "high" or "low" end
    return true
  end, time.sleep)
end

--- port:enter_bootloader() -> "sequence" (the --gpio-seq entry sequence ran) | "assumed" (no
-- entry sequence: nothing done, the target's bootloader is taken to be running) | nil, msg, code
function Port:enter_bootloader()
  checkopen(self)
  if not (self._seq and self._seq.entry) then return "assumed" end
  local ok, msg, code = self:_run(self._seq.entry)
  if not ok then return nil, msg, code end
  return "sequence"
end

--- port:exit_bootloader() -> "sequence" (the --gpio-seq exit sequence ran) | "go" (no exit
-- sequence: nothing done; the caller starts the application with the bootloader's Go) |
-- nil, msg, code
function Port:exit_bootloader()
  checkopen(self)
  if not (self._seq and self._seq.exit) then return "go" end
  local ok, msg, code = self:_run(self._seq.exit)
  if not ok then return nil, msg, code end
  return "sequence"
end

M.Port, M.Stream = Port, Stream
return M
