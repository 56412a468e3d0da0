-- SPDX-License-Identifier: MIT
-- cwlua.board: a ChipWhisperer capture board, over any USB backend (the in-process simulator,
-- or real USB through libusb, with the same transfers). All protocol facts are from
-- docs/reference/cw-usb-protocol.md (cited as §N); the board logic lives here, in Lua, shared
-- by every backend (contract.md §2).
--
--   local board = assert(cw.open("sim"))        -- or "usb", "usb:SERIAL"
--   board:pin("tio1", "serial_rx"); board:power(true); board:clock(7.37e6)
--   local s = board:serial{ baud = 115200, parity = "even" }; s:write("\x7F"); s:read(1, 100)
--
-- World failures (USB errors, a board without the feature) return nil, message, code; misuse
-- (an unknown pin or mode, a bad argument) raises. docs/api.md lists every function.
local time = require "cwlua.time"
local connect = require "cwlua.connect"
local device = require "cwlua.core.device"
local devspec = require "cwlua.devspec"
local errors = require "cwlua.errors"
local signal = require "cwlua.core.signal"

local M = {}

-- Defaults for open() without arguments: the CLI sets them from -d and the --sim-* options.
-- bitstream (--bitstream FILE) and quiet (-q: no notices or warnings on stderr) apply to every
-- open() that does not give its own.
M.defaults = { spec = nil, sim = {}, bitstream = nil, quiet = false }

-- Vendor requests, bmRequestType 0xC1 (IN) / 0x41 (OUT), wIndex 0 (§0 conventions, §2.3).
local RT_IN, RT_OUT = 0xC1, 0x41
local REQ = {
  MEMREAD_BULK = 0x10, MEMWRITE_BULK = 0x11, MEMREAD_CTRL = 0x12, MEMWRITE_CTRL = 0x13,
  FPGA_STATUS = 0x15, FW_VERSION = 0x17, USART_DATA = 0x1A, USART_CONFIG = 0x1B,
  SAM_CONFIG = 0x22, NANO_GPIO = 0x25, NANO_CLKOUT = 0x27,
}
local SAM_RELEASE_LOCK = 0x0011 -- 0x22 sub-command: release the FPGA bus lock (§2.3, §2.5)
local USART_INIT, USART_ENABLE = 0x10, 0x11            -- 0x1B sub-commands (§5.1)
local USART_RX_COUNT, USART_TX_COUNT = 0x14, 0x18      -- 0x1B IN sub-commands (§5.2, §5.3)

-- FPGA registers, Lite/Pro numbering, also Husky for these (§4.0).
local REG = { ADVCLOCK = 6, SYSTEMCLK = 7, EXTCLK = 38, GLITCH = 51, IOROUTE = 55, IOREAD = 59 }

-- A vendor request is answered within a millisecond; 2 s means the board is wedged. (NewAE
-- uses 20 s for everything, §1.3 item 6, which makes a dead board look like a hang.)
local CTRL_TIMEOUT_MS = 2000
local CTRL_IO_THRESHOLD = 48 -- below: control transfers; from here: bulk (§2.5)
local CTRL_MAX = 128         -- firmware control buffer (§2.1)
local USART_CAPACITY = 199   -- 200-byte circular buffers, one slot always empty (§5.4)

-- What each board kind is (§1.1, §7.1).
local KINDS = {
  cwlite = { name = "CW-Lite", fpga = true, clkgen = "dcm", mck = 96e6 },
  cw1200 = { name = "CW1200 Pro", fpga = true, clkgen = "dcm", mck = 96e6 },
  husky = { name = "CW-Husky", fpga = true, clkgen = "pll", mck = 96e6, ioread16 = true },
  nano = { name = "CW-Nano", fpga = false, clkgen = "pck", mck = 120e6 },
}

local PINS = { "tio1", "tio2", "tio3", "tio4", "nrst", "pdic", "pdid" }
M.PINS = PINS -- board.PINS: the pin names board:pin takes (a recipe's { pin = true } params)
local PIN_SET = {}
for _, p in ipairs(PINS) do PIN_SET[p] = true end

-- IOROUTE (55) TIO bytes 0..3 (§4.1 table "Python API value <-> byte value").
local TIO_MODE = { low = 0x80, high = 0xC0, high_z = 0x00, serial_tx = 0x01, serial_rx = 0x02,
                   serial_tx_rx = 0x22 }
local TIO_ALLOWED = {
  tio1 = { serial_tx = true, serial_rx = true }, tio2 = { serial_tx = true, serial_rx = true },
  tio3 = { serial_tx = true, serial_rx = true, serial_tx_rx = true }, tio4 = { serial_tx = true },
}
-- "default": what NewAE's default_setup() leaves (§6.1): TIO1 = board RX, TIO2 = board TX.
local TIO_DEFAULT = { tio1 = "serial_rx", tio2 = "serial_tx", tio3 = "high_z", tio4 = "high_z" }
-- IOROUTE byte 6 fields: 2 bits each, bit0 = drive enable, bit1 = level (§4.1 "Byte 6").
local XIO_SHIFT = { nrst = 0, pdid = 2, pdic = 4 }
local POWER_OFF_BIT = 0x02 -- IOROUTE byte 5 bit 1: 1 = target power off (§4.1 "Byte 5")

-- HS2 output, CW_EXTCLK (38) bits 6..5 (§4.3).
local HS2_MASK, HS2_OFF, HS2_CLKGEN, HS2_GLITCH = 0x60, 0x00, 0x40, 0x60

-- CW-Nano: 0x25 GPIO (mode in wValue, pin mask in data[0]) and 0x27 clock out (§7.2).
local NANO_MASK = { tio3 = 0x04, pdic = 0x10, pdid = 0x20, nrst = 0x40 }
local NANO_OUTPUT, NANO_INPUT, NANO_LOW, NANO_HIGH = 1, 2, 3, 4
local NANO_PCK_HZ = 240e6                         -- PCK2 source: 240 MHz / div (§7.2)
local NANO_DIVS = { 1, 2, 4, 8, 16, 32, 64 }

-- USART INIT codes (§5.1).
local STOP_CODE = { [1] = 0, [1.5] = 1, [2] = 2 }
local PARITY_CODE = { none = 0, odd = 1, even = 2, mark = 3, space = 4 }
local SERIAL_DEFAULT = { baud = 38400, parity = "none", stop = 1, bits = 8 } -- NewAE target default

local Board = {}
Board.__index = Board
Board.__name = "cwlua.Board"

-- Serial settings cwlua set on each board during this process, by serial number: the board
-- cannot report them, so a snapshot restores these, else SERIAL_DEFAULT (contract.md §3).
local serial_set = {}

---------------------------------------------------------------------------------------------
-- failures

local function fail(code, fmt, ...)
  error(errors.new("device", fmt:format(...), { code = code }), 0)
end

-- Wrap a method so that a raised device failure becomes the return values nil, msg, code.
-- stream: on a stream, "timeout" means the target sent nothing in time (docs/api.md); a USB
-- transfer that timed out is the board failing, not the target, so it is returned as "io" (its
-- message still says "timed out"): a protocol engine that waits for its target must never take
-- a board that stopped answering for a silent target (exit 3, not 4; contract.md §3.8).
local function protect(f, stream)
  return function(...)
    local r = table.pack(pcall(f, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local e = r[2]
    if errors.is(e, "device") and e.code then
      return nil, e.message, (stream and e.code == "timeout") and "io" or e.code
    end
    error(e, 0)
  end
end

function Board:_where()
  return ("%s %s"):format(self.kind, self.serial_number)
end

---------------------------------------------------------------------------------------------
-- raw transfers (raising)

-- What each request is, for messages that name the one that failed (§2.3).
local REQ_NAME = {
  [0x10] = "FPGA bulk read", [0x11] = "FPGA bulk write", [0x12] = "FPGA read",
  [0x13] = "FPGA write", [0x15] = "FPGA status", [0x16] = "FPGA programming",
  [0x17] = "firmware version", [0x1A] = "serial data", [0x1B] = "serial set-up",
  [0x20] = "XMEGA programmer", [0x21] = "AVR programmer", [0x22] = "SAM set-up",
  [0x25] = "Nano GPIO", [0x27] = "Nano clock", [0x31] = "CDC settings",
}

-- Raise for a failed transfer: "<board>: <what>: <transport detail>; <what to do>".
function Board:_usb_fail(what, msg, code)
  fail(code, "%s: %s: %s%s", self:_where(), what, msg, connect.hint(code))
end

local function req_what(req, dir)
  return ("%s (request 0x%02X %s)"):format(REQ_NAME[req] or "request", req, dir)
end

-- what: how a failure names the request (default: its name from REQ_NAME)
function Board:_ctrl_in(req, value, len, what)
  local data, msg, code = self._dev:control(RT_IN, req, value, 0, len, CTRL_TIMEOUT_MS)
  if not data then
    self:_usb_fail(("%s (request 0x%02X IN)"):format(what or REQ_NAME[req] or "request", req),
      msg, code)
  end
  return data
end

function Board:_ctrl_out(req, value, data)
  local ok, msg, code = self._dev:control(RT_OUT, req, value, 0, data or "", CTRL_TIMEOUT_MS)
  if not ok then self:_usb_fail(req_what(req, "OUT"), msg, code) end
end

-- Bulk OUT on the vendor endpoint, raising; what names the data in a message.
function Board:_bulk_out(data, timeout_ms, what)
  local n, msg, code = self._dev:bulk_out(self._ep_out, data, timeout_ms)
  if not n then
    self:_usb_fail(("%s (bulk OUT 0x%02X)"):format(what, self._ep_out), msg, code)
  end
end

-- 0x10..0x13 stall while the FPGA bus lock is held; NewAE's recovery is to release the lock
-- (0x22/0x11) and retry once (§2.5).
function Board:_mem_out(req, data)
  local ok, msg, code = self._dev:control(RT_OUT, req, 0, 0, data, CTRL_TIMEOUT_MS)
  if not ok and code == "stall" and
    self._dev:control(RT_OUT, REQ.SAM_CONFIG, SAM_RELEASE_LOCK, 0, "", CTRL_TIMEOUT_MS) then
    ok, msg, code = self._dev:control(RT_OUT, req, 0, 0, data, CTRL_TIMEOUT_MS)
  end
  if not ok then
    local addr = string.unpack("<I4", data, 5) -- the header's register (§2.5)
    self:_usb_fail(("%s of register %d (request 0x%02X OUT)"):format(REQ_NAME[req], addr, req),
      msg, code)
  end
end

local function mem_header(len, addr)
  return string.pack("<I4I4", len, addr) -- [length u32 LE][address u32 LE] (§2.5)
end

function Board:_require_fpga()
  if not self._kind.fpga then
    fail("unsupported", "%s: this board has no FPGA registers", self:_where())
  end
end

function Board:_fpga_read(addr, len)
  self:_require_fpga()
  local data
  if len < CTRL_IO_THRESHOLD then
    self:_mem_out(REQ.MEMREAD_CTRL, mem_header(len, addr))
    data = self:_ctrl_in(REQ.MEMREAD_CTRL, 0, len, ("FPGA read of register %d"):format(addr))
  else
    self:_mem_out(REQ.MEMREAD_BULK, mem_header(len, addr))
    local msg, code
    data, msg, code = self._dev:bulk_in(self._ep_in, len, CTRL_TIMEOUT_MS)
    if not data then
      self:_usb_fail(("FPGA bulk read of register %d (bulk IN 0x%02X)"):format(addr,
        self._ep_in), msg, code)
    end
  end
  if #data ~= len then
    fail("io", "%s: FPGA register %d: %d bytes read, %d expected", self:_where(), addr, #data,
      len)
  end
  return data
end

function Board:_fpga_write(addr, data)
  self:_require_fpga()
  if #data < CTRL_IO_THRESHOLD then
    self:_mem_out(REQ.MEMWRITE_CTRL, mem_header(#data, addr) .. data)
    return
  end
  self:_mem_out(REQ.MEMWRITE_BULK, mem_header(#data, addr))
  local what = ("FPGA bulk write of register %d"):format(addr)
  self:_bulk_out(data, CTRL_TIMEOUT_MS, what)
  -- a multiple of the 512-byte packet size that does not fill the firmware's 1024-byte buffer
  -- is only delivered after a zero-length packet (§2.5, inferred)
  if #data % 512 == 0 and #data % 1024 ~= 0 then self:_bulk_out("", CTRL_TIMEOUT_MS, what) end
end

local function getbyte(s, i) return s:byte(i) end
local function setbyte(s, i, v) return s:sub(1, i - 1) .. string.char(v) .. s:sub(i + 1) end

---------------------------------------------------------------------------------------------
-- opening

local function open_device(spec, opts)
  if spec.kind == "sim" then
    return device.open({
      backend = "sim", board = spec.board, target = opts.target, state = opts.state,
      faults = opts.faults, latency_ms = opts.latency_ms, seed = opts.seed, app = opts.app,
      power_up = opts.power_up,
    })
  end
  return connect.open_usb(spec.serial) -- real boards through libusb (cwlua.connect)
end

--- board.open_device(spec, opts) -> device | nil, msg, code: the device a parsed spec (sim or
-- usb) names, opened without the firmware check, bitstream and set-up of board.open: for
-- `cwlua list`, which asks a board what it is without changing it.
M.open_device = open_device

--- board.open_default([part]) -> board | nil, msg, code: the board the command line names (-d
-- and the --sim-* options), carrying part as its simulated chip unless --sim-target gives one.
-- A simulated CW-Nano carries its own STM32F030 (contract.md §3: CWNANO, "the default on
-- -d sim:nano"). Every command that opens a board for a target goes through here.
function M.open_default(part)
  local sim = {}
  for k, v in pairs(M.defaults.sim or {}) do sim[k] = v end
  if not sim.target and M.defaults.spec == "sim:nano" then part = "stm32f030x6" end
  sim.target = sim.target or part
  if not sim.target then M.check_sim_app() end
  return M.open(M.defaults.spec, sim)
end

--- board.check_sim_app(): raises a usage error (exit 2) when the command line gives --sim-app
-- without --sim-target for a simulated board that has no chip of its own: the application
-- model would have no chip to run on. Commands without a TARGET (run, shell, term, ...) check
-- before they start; those with one give its recipe's part instead (open_default).
function M.check_sim_app()
  local sim, spec = M.defaults.sim or {}, M.defaults.spec
  if sim.app == nil or sim.target ~= nil or spec == nil then return end
  local parsed = devspec.parse(spec)
  if parsed.kind == "sim" and parsed.board ~= "nano" then
    errors.raise("usage", "--sim-app needs a chip: add --sim-target PART (a part, recipe or "
      .. "alias, e.g. --sim-target stm32f1)")
  end
end

--- board.open([spec [, opts]]) -> board | nil, msg, code
-- spec: a device spec (contract.md §3) or nil for $CWLUA_DEVICE, else "usb". opts: bitstream (a
-- file to load when the FPGA is not configured; default board.defaults.bitstream, then
-- $CWLUA_BITSTREAM, then NewAE's Python package), notify (function(msg) for progress and
-- warnings; default: "cwlua: msg" on stderr unless board.defaults.quiet); for the simulator:
-- target (part name), state (folder), faults (list of "NAME[=VALUE]"), latency_ms, seed, app,
-- power_up.
function M.open(spec, opts)
  if spec == nil then
    spec = M.defaults.spec
    opts = opts or M.defaults.sim
  end
  opts = opts or {}
  if spec == nil then
    local env = os.getenv("CWLUA_DEVICE")
    spec = (env and env ~= "") and env or "usb"
  end
  if type(spec) ~= "string" then error("open: spec must be a string", 2) end
  local parsed = devspec.parse(spec)
  if parsed.kind == "serial" then -- a plain adapter: cwlua.port, the same stream interface
    return require("cwlua.port").open(parsed.path, opts)
  end
  if parsed.kind == "sim" and opts.app ~= nil and opts.target == nil then
    -- an application model with no chip to run it would be dropped without a word
    if parsed.board == "nano" then -- the Nano's own target (contract.md §3: CWNANO)
      local o = { target = "stm32f030x6" }
      for k, v in pairs(opts) do o[k] = o[k] or v end
      opts = o
    elseif opts == M.defaults.sim then -- the command line's --sim-* options
      M.check_sim_app()
    else
      error("open: opts.app needs opts.target, the chip that runs the application", 2)
    end
  end
  local dev, msg, code = open_device(parsed, opts)
  if not dev then return nil, msg, code end
  local info = dev:info()
  local self = setmetatable({
    _dev = dev, _kind = KINDS[info.kind], kind = info.kind, serial_number = info.serial,
    product = info.product, backend = info.backend, pid = info.pid,
    _ep_in = info.ep_bulk_in, _ep_out = info.ep_bulk_out, _nano_pins = {},
  }, Board)
  time.use(dev)
  -- what the blank-flash hint needs to say which command programs this chip (_sim_hint)
  if parsed.kind == "sim" then
    self._sim = { spec = spec, target = opts.target, state = opts.state }
  end
  local notify = opts.notify or function(text)
    if not M.defaults.quiet then io.stderr:write("cwlua: ", text, "\n") end
  end
  local ok, err = pcall(self._connect, self, { notify = notify,
    bitstream = opts.bitstream or M.defaults.bitstream })
  if not ok then
    self:close()
    if errors.is(err, "device") then return nil, err.message, err.code end
    error(err, 0)
  end
  return self
end

-- Firmware check, FPGA state, bitstream and default set-up: cwlua.connect (contract.md §3).
function Board:_connect(opts)
  connect.run(self, opts)
end

local function close(self)
  if self._dev then
    time.release(self._dev)
    self._dev:close()
    self._dev = nil
  end
  return true
end

--- board:close() -> true; closing twice is harmless through <close> and __gc. Finishes even
-- while SIGINT/SIGTERM stops the run (signal.hold): the simulator saves its state and frees
-- its folder, a USB board is released.
function Board:close()
  return signal.hold(close, self)
end
Board.__close = Board.close
Board.__gc = Board.close

function Board:__tostring()
  return ("cwlua.Board (%s %s%s)"):format(self.kind, self.serial_number,
    self._dev and "" or ", closed")
end

local function checkopen(self)
  if getmetatable(self) ~= Board then error("expected a cwlua.Board", 3) end
  if not self._dev then error("attempt to use a closed board", 3) end
end

--- board:info() -> { kind, name, serial, product, firmware, fpga, backend, fpga_loaded,
-- warnings }. fpga_loaded: where the bitstream came from when cwlua loaded it on open;
-- warnings: what open() warned about (old firmware...).
function Board:info()
  checkopen(self)
  local warnings = {}
  for i, w in ipairs(self._warnings or {}) do warnings[i] = w end
  return { kind = self.kind, name = self._kind.name, serial = self.serial_number,
           product = self.product, firmware = self.firmware, fpga = self.fpga,
           backend = self.backend, fpga_loaded = self.fpga_loaded, warnings = warnings }
end

---------------------------------------------------------------------------------------------
-- pins

local function tio_mode_name(b)
  for name, v in pairs(TIO_MODE) do
    if v == b then return name end
  end
  return ("raw 0x%02X"):format(b)
end

local function xio_mode_name(byte6, pin)
  local field = (byte6 >> XIO_SHIFT[pin]) & 3
  if field & 1 == 0 then return "high_z" end
  return field & 2 ~= 0 and "high" or "low"
end

local function check_pin_mode(pin, mode)
  if not PIN_SET[pin] then
    error(("pin: unknown pin '%s' (use %s)"):format(tostring(pin), table.concat(PINS, ", ")), 3)
  end
  if mode == nil then return end
  if mode == "high" or mode == "low" or mode == "high_z" or mode == "default" then return end
  if TIO_ALLOWED[pin] and TIO_ALLOWED[pin][mode] then return end
  local allowed = { "high", "low", "high_z", "default" }
  for m in pairs(TIO_ALLOWED[pin] or {}) do allowed[#allowed + 1] = m end
  table.sort(allowed)
  error(("pin: mode '%s' is not possible on %s (use %s)"):format(tostring(mode), pin,
    table.concat(allowed, ", ")), 3)
end

local function fpga_pin(self, pin, mode)
  local io = self:_fpga_read(REG.IOROUTE, 8) -- read-modify-write all 8 bytes (§4.1)
  local idx = tonumber(pin:match("^tio(%d)$"))
  if mode == nil then
    return idx and tio_mode_name(getbyte(io, idx)) or xio_mode_name(getbyte(io, 7), pin)
  end
  if idx then
    if mode == "default" then mode = TIO_DEFAULT[pin] end
    io = setbyte(io, idx, TIO_MODE[mode])
  else
    if mode == "default" then mode = "high_z" end
    local b6, shift = getbyte(io, 7), XIO_SHIFT[pin]
    if mode == "high_z" then
      b6 = b6 & ~(1 << shift) -- only the enable bit is cleared, on purpose (§4.1)
    else
      b6 = (b6 & ~(3 << shift)) | ((mode == "high" and 3 or 1) << shift)
    end
    io = setbyte(io, 7, b6)
  end
  self:_fpga_write(REG.IOROUTE, io)
  return mode
end

local function nano_pin(self, pin, mode)
  if mode == nil then
    local known = self._nano_pins[pin]
    if known then return known end
    fail("unsupported", "%s: the CW-Nano cannot report pin modes, and cwlua has not set %s yet",
      self:_where(), pin)
  end
  local mask = NANO_MASK[pin]
  if not mask then
    -- the Nano's pin request drives only these lines (cw-usb-protocol.md §7.2)
    fail("unsupported", "%s: the CW-Nano cannot set %s (it drives only tio3, nrst, pdic and "
      .. "pdid)", self:_where(), pin)
  end
  if mode == "default" then mode = "high_z" end
  local data = string.char(mask, 0)
  if mode == "high_z" then
    self:_ctrl_out(REQ.NANO_GPIO, NANO_INPUT, data)
  else -- output, then the level, as NewAE's Python does (§7.2)
    self:_ctrl_out(REQ.NANO_GPIO, NANO_OUTPUT, data)
    self:_ctrl_out(REQ.NANO_GPIO, mode == "high" and NANO_HIGH or NANO_LOW, data)
  end
  self._nano_pins[pin] = mode
  return mode
end

--- board:pin(name [, mode]) -> the configured mode | nil, msg, code
-- name: tio1..tio4, nrst, pdic, pdid. mode: high, low, high_z, default, and for TIO pins the
-- serial roles serial_tx (board TX), serial_rx (board RX; not TIO4), serial_tx_rx (TIO3).
Board.pin = protect(function(self, name, mode)
  checkopen(self)
  check_pin_mode(name, mode)
  if self._kind.fpga then return fpga_pin(self, name, mode) end
  return nano_pin(self, name, mode)
end)

--- board:level(name) -> 0 | 1, the live level, where the board can read it (Lite/Pro: TIO1-4;
-- Husky also nrst, pdic, pdid) | nil, msg, "unsupported"
local HUSKY_LEVEL_BIT = { pdic = 6, pdid = 7, nrst = 8 } -- CW_IOREAD 2-byte form (§4.2)
Board.level = protect(function(self, name)
  checkopen(self)
  check_pin_mode(name)
  local idx = tonumber(name:match("^tio(%d)$"))
  if self._kind.fpga and (idx or self._kind.ioread16) then
    if self._kind.ioread16 then
      local v = string.unpack("<I2", self:_fpga_read(REG.IOREAD, 2))
      return (v >> (idx and idx - 1 or HUSKY_LEVEL_BIT[name])) & 1
    end
    return (self:_fpga_read(REG.IOREAD, 1):byte() >> (idx - 1)) & 1 -- bits 3..0 (§4.2)
  end
  fail("unsupported", "%s: the board cannot read the level of %s", self:_where(), name)
end)

---------------------------------------------------------------------------------------------
-- power

--- board:power([on]) -> true (target power on) | false | nil, msg, code
Board.power = protect(function(self, on)
  checkopen(self)
  if not self._kind.fpga then
    fail("unsupported", "%s: the CW-Nano cannot switch target power", self:_where())
  end
  local io = self:_fpga_read(REG.IOROUTE, 8)
  local b5 = getbyte(io, 6)
  if on ~= nil then
    b5 = on and (b5 & ~POWER_OFF_BIT) or (b5 | POWER_OFF_BIT)
    self:_fpga_write(REG.IOROUTE, setbyte(io, 6, b5))
  end
  return b5 & POWER_OFF_BIT == 0
end)

---------------------------------------------------------------------------------------------
-- clock

--- board.clkgen_search(hz, fin) -> mul, div, achieved: NewAE's exact search (§4.8): mul 2..256
-- outer, div 1..maxdiv-1 inner, the first strict minimum of |hz - fin*mul/div|.
function M.clkgen_search(hz, fin)
  local maxdiv = fin < 52e6 and math.floor(fin / 0.5e6) or 256
  local best_err, best_mul, best_div = math.huge, nil, nil
  for mul = 2, 256 do
    for div = 1, maxdiv - 1 do
      local e = math.abs(hz - fin * mul / div)
      if e < best_err then best_err, best_mul, best_div = e, mul, div end
    end
  end
  return best_mul, best_div, fin * best_mul / best_div
end

-- The DCM_CLKGEN range cwlua accepts: Python warns below 3.2 MHz that the DCM may not lock
-- (§4.8); the exact limits are unconfirmed, so the lock bit decides in the end.
local CLKGEN_MIN_HZ, CLKGEN_MAX_HZ = 96e6 * 2 / 255, 200e6

function Board:_advclock()
  return self:_fpga_read(REG.ADVCLOCK, 4)
end

function Board:_systemclk()
  if not self._fin then
    self._fin = string.unpack("<I4", self:_fpga_read(REG.SYSTEMCLK, 4)) -- 96 MHz on Lite (§4.0)
  end
  return self._fin
end

-- Pulse bit `bit` of byte `i` of ADVCLOCK: set, write; clear, write.
function Board:_advclock_pulse(adv, i, bit)
  adv = setbyte(adv, i, getbyte(adv, i) | bit)
  self:_fpga_write(REG.ADVCLOCK, adv)
  adv = setbyte(adv, i, getbyte(adv, i) & ~bit)
  self:_fpga_write(REG.ADVCLOCK, adv)
  return adv
end

function Board:_glitch_dcm_reset() -- CLOCKGLITCH_SETTINGS (51) byte 5 bit 1 pulse (§4.6, §4.8)
  local g = self:_fpga_read(REG.GLITCH, 8)
  self:_fpga_write(REG.GLITCH, setbyte(g, 6, getbyte(g, 6) | 0x02))
  self:_fpga_write(REG.GLITCH, setbyte(g, 6, getbyte(g, 6) & ~0x02))
end

-- Reset the CLKGEN DCM and reload M/D (§4.8 step 4).
function Board:_clkgen_reset(adv)
  adv = setbyte(adv, 4, getbyte(adv, 4) | 0x04)
  self:_fpga_write(REG.ADVCLOCK, adv)
  adv = setbyte(setbyte(adv, 1, getbyte(adv, 1) & ~0x10), 4, getbyte(adv, 4) & ~0x04)
  self:_fpga_write(REG.ADVCLOCK, adv)
  adv = self:_advclock_pulse(adv, 4, 0x01) -- LOAD
  self:_glitch_dcm_reset()
  return adv
end

-- Program M and D and wait for the DCM to lock (§4.8 steps 1-4, then NewAE's
-- try_wait_clkgen_locked: up to 5 polls 50 ms apart with a DCM reset between, §6.1 step 13).
function Board:_clkgen_set(mul, div)
  local adv = self:_advclock()
  if getbyte(adv, 1) & 0x08 ~= 0 then -- CLKGEN input = EXTCLK: use the system clock (§4.8)
    adv = setbyte(adv, 1, getbyte(adv, 1) & ~0x08)
  end
  adv = setbyte(adv, 2, mul - 1)
  adv = self:_advclock_pulse(adv, 4, 0x01)
  adv = setbyte(adv, 3, div - 1)
  adv = self:_advclock_pulse(adv, 4, 0x01)
  self:_clkgen_reset(adv)
  for _ = 1, 5 do
    adv = self:_advclock()
    local done, locked = getbyte(adv, 4) & 0x02 ~= 0, getbyte(adv, 1) & 0x20 ~= 0
    if done and locked then return end
    self:_clkgen_reset(adv)
    time.sleep(50)
  end
  fail("io", "%s: the clock generator did not lock at M=%d D=%d (ADVCLOCK reads %s)",
    self:_where(), mul, div, (adv:gsub(".", function(c) return ("%02X "):format(c:byte()) end)))
end

function Board:_hs2(value)
  local b = self:_fpga_read(REG.EXTCLK, 1):byte()
  if value ~= nil then
    b = (b & ~HS2_MASK) | value -- read-modify-write of bits 6..5 (§4.3)
    self:_fpga_write(REG.EXTCLK, string.char(b))
  end
  return b & HS2_MASK
end

local function nano_clock(self, hz)
  if hz == nil then
    local div = self:_ctrl_in(REQ.NANO_CLKOUT, 0, 3):byte(1) -- [div, 0, 0] (§7.2)
    if div == 0 then return false, "off" end
    return NANO_PCK_HZ / div, "pck2"
  end
  if hz == false then
    self:_ctrl_out(REQ.NANO_CLKOUT, 0, "\0\0\0")
    return false, "off"
  end
  local best
  for _, d in ipairs(NANO_DIVS) do
    if not best or math.abs(NANO_PCK_HZ / d - hz) < math.abs(NANO_PCK_HZ / best - hz) then
      best = d
    end
  end
  self:_ctrl_out(REQ.NANO_CLKOUT, 0, string.char(best, 0, 0))
  return NANO_PCK_HZ / best, "pck2"
end

--- board:clock([hz | false]) -> achieved Hz | false, source ("clkgen", "glitch", "off",
-- "pck2") | nil, msg, code. hz sets the clock generator and routes it to HS2 (the target
-- clock pin); false turns HS2 off; no argument reads the current state.
Board.clock = protect(function(self, hz)
  checkopen(self)
  if hz ~= nil and hz ~= false and (type(hz) ~= "number" or hz ~= hz or hz <= 0) then
    error("clock: hz must be a positive number or false", 2)
  end
  if self._kind.clkgen == "pck" then return nano_clock(self, hz) end
  if hz == false then
    self:_hs2(HS2_OFF)
    return false, "off"
  end
  if hz ~= nil then
    if self._kind.clkgen ~= "dcm" then
      -- the Husky's target clock comes from its CDCI6214 PLL (cw-usb-protocol.md §4.9)
      fail("unsupported", "%s: setting the clock of a %s (its CDCI6214 PLL) is not supported "
        .. "yet", self:_where(), self._kind.name)
    end
    local fin = self:_systemclk()
    if hz < CLKGEN_MIN_HZ or hz > CLKGEN_MAX_HZ then
      fail("invalid", "%s: %.6g Hz is outside what the clock generator can make (%.3f to %.0f "
        .. "MHz)", self:_where(), hz, CLKGEN_MIN_HZ / 1e6, CLKGEN_MAX_HZ / 1e6)
    end
    local mul, div = M.clkgen_search(hz, fin)
    self:_clkgen_set(mul, div)
    self:_hs2(HS2_CLKGEN)
  end
  local hs2 = self:_hs2()
  if hs2 == HS2_OFF then return false, "off" end
  if hs2 == HS2_GLITCH then return false, "glitch" end
  if hs2 ~= HS2_CLKGEN then return false, "invalid" end
  if self._kind.clkgen ~= "dcm" then return false, "pll" end
  local adv = self:_advclock()
  if getbyte(adv, 4) & 0x02 == 0 then return false, "not loaded" end -- DONE clear (§4.8)
  return self:_systemclk() * (getbyte(adv, 2) + 1) / (getbyte(adv, 3) + 1), "clkgen"
end)

---------------------------------------------------------------------------------------------
-- the USART bridge (§5)

--- board.usart_baud(requested, mck) -> the baud the SAM really produces (§5.1 divider), or nil
-- when the divider is out of range (the INIT then fails silently).
function M.usart_baud(baud, mck)
  local over = mck >= 16 * baud and 16 or 8
  local cd_fp = (8 * math.floor(mck) + over * baud // 2) // (over * baud)
  local cd, fp = cd_fp >> 3, cd_fp & 7
  if cd < 1 or cd > 65535 then return nil end
  return mck / (over * (cd + fp / 8))
end

local Stream = {}
Stream.__index = Stream
Stream.__name = "cwlua.Stream"

-- --log-wire (contract.md §3): one line per burst, "+0.012345 > 7F" (to the target) or "< 79"
-- (from it), seconds since the first burst on the runtime clock.
local wire = { out = nil, t0 = nil }

--- board.set_wire_log(true | path | file): log every burst of every stream; true = stderr.
function M.set_wire_log(where)
  if where == true then
    wire.out = io.stderr
  elseif type(where) == "string" then
    local f, err = io.open(where, "w")
    if not f then errors.raise("usage", "--log-wire: cannot write %s", err) end
    f:setvbuf("line")
    wire.out = f
  else
    wire.out = where
  end
  wire.t0 = nil
end

--- board.wire(dir, bytes): log a burst (">" to the target, "<" from it); for other streams too
function M.wire(dir, bytes)
  if not wire.out or #bytes == 0 then return end
  local now = time.now_ns()
  wire.t0 = wire.t0 or now
  wire.out:write(("+%.6f %s %s\n"):format((now - wire.t0) / 1e9, dir,
    (bytes:gsub(".", function(c) return ("%02X "):format(c:byte()) end):gsub(" $", ""))))
end

local function frame_bits(cfg)
  return 1 + cfg.bits + (cfg.parity == "none" and 0 or 1) + cfg.stop
end

function Stream:_count(sub)
  local b = self._board
  return string.unpack("<I4", b:_ctrl_in(REQ.USART_CONFIG, sub, 4))
end

--- stream:available() -> bytes that can be read now | nil, msg, code
Stream.available = protect(function(self)
  return #self._pending + self:_count(USART_RX_COUNT)
end, true)

--- stream:tx_pending() -> bytes in the board's transmit buffer not yet sent | nil, msg, code
Stream.tx_pending = protect(function(self)
  return self:_count(USART_TX_COUNT)
end, true)

-- The stream keeps _tx_end_ns, the (virtual) time its last queued byte leaves the board's
-- UART: the board shifts bytes out at a fixed rate, so how full its transmit buffer is, and
-- when a reply can arrive at the earliest, are known without asking: knowing when the answer
-- can arrive, instead of polling blindly, is what keeps a block near its wire time
-- (bench/README.md, "The AN3155 bound").
function Stream:_queued_est()
  local left = self._tx_end_ns - time.now_ns()
  return left > 0 and -(-left // self.frame_ns) or 0 -- ceil
end

-- Re-synchronise the estimate with the board's own count (0x1B/0x18).
function Stream:_tx_sync()
  local q = self:_count(USART_TX_COUNT)
  self._tx_end_ns = time.now_ns() + q * self.frame_ns
  return q
end

--- stream:write(data) -> true | nil, msg, code. Keeps the board's 199-byte transmit buffer
-- full while it drains but never overflowing it (it would drop bytes silently, §5.2); at most
-- 128 bytes a request (§5.2).
Stream.write = protect(function(self, data)
  if type(data) ~= "string" then error("write: data must be a string", 2) end
  M.wire(">", data)
  local b, pos, n = self._board, 1, #data
  while pos <= n do
    -- one byte of margin for the estimate's rounding
    local room = USART_CAPACITY - 1 - self:_queued_est()
    if room <= 0 then
      -- wait until what must leave first has left, then ask the board, so a wrong estimate
      -- can never overflow the buffer
      time.sleep_ns(math.min(n - pos + 1, CTRL_MAX) * self.frame_ns)
      room = USART_CAPACITY - 1 - self:_tx_sync()
    end
    if room > 0 then
      local chunk = math.min(room, CTRL_MAX, n - pos + 1)
      b:_ctrl_out(REQ.USART_DATA, 0, data:sub(pos, pos + chunk - 1))
      self._tx_end_ns = math.max(self._tx_end_ns, time.now_ns()) + chunk * self.frame_ns
      pos = pos + chunk
    end
  end
  return true
end, true)

-- Take everything the board holds: one count (0x1B/0x14), then as many 0x1A reads as needed;
-- what the caller does not want yet stays in _pending for the next read. Never asks for more
-- than is buffered: the firmware pads with 0xFF (§5.3).
function Stream:_fill()
  local b = self._board
  local waiting = self:_count(USART_RX_COUNT)
  local got, burst = 0, {}
  while got < waiting do
    local n = math.min(waiting - got, CTRL_MAX)
    burst[#burst + 1] = b:_ctrl_in(REQ.USART_DATA, 0, n)
    got = got + n
  end
  if got > 0 then
    local data = table.concat(burst)
    M.wire("<", data)
    self._pending = self._pending .. data
  end
  return got
end

local POLL_MAX_NS = 2000000 -- longest gap between two looks at an idle line: 2 ms
-- Never let more than this arrive unread: the board's receive buffer holds 199 bytes and drops
-- the rest (§5.4); the margin covers the USB round trips of emptying it (3 transfers at a few
-- milliseconds each is 30-odd bytes at 115200).
local RX_UNREAD_MAX = USART_CAPACITY - 64

-- Wait for bytes: not before the earliest moment the missing ones can have arrived (after our
-- own last byte, one frame each, plus extra_ns the caller knows the target needs), but never
-- so long that the board's receive buffer could overflow; then poll with a gap that doubles
-- from one frame time up to POLL_MAX_NS.
function Stream:_await(n, left, extra_ns)
  local ahead = math.min(n - #self._pending, RX_UNREAD_MAX)
  local earliest = self._tx_end_ns + ahead * self.frame_ns + (extra_ns or 0)
  local wait = earliest - time.now_ns()
  if wait > 0 then time.sleep_ns(math.min(wait, math.max(left(), 0))) end
  local gap = self.frame_ns
  while #self._pending < n do
    if self:_fill() == 0 then
      local remaining = left()
      if remaining <= 0 then return end
      time.sleep_ns(math.min(remaining, gap))
      gap = math.min(gap * 2, POLL_MAX_NS)
    else
      gap = self.frame_ns
      local missing = math.min(n - #self._pending, RX_UNREAD_MAX)
      if missing > 0 then time.sleep_ns(math.min(math.max(left(), 0), missing * self.frame_ns)) end
    end
  end
end

--- stream:read(n, timeout_ms [, extra_ns]) -> string of up to n bytes | nil, msg, "timeout"
-- when none arrived in time. extra_ns: how long the target needs before it answers (e.g.
-- flash programming), so the board is not asked before the answer can exist. Waits on the
-- runtime clock: on the simulator this costs no real time.
Stream.read = protect(function(self, n, timeout_ms, extra_ns)
  if math.type(n) ~= "integer" or n < 1 then error("read: n must be a positive integer", 2) end
  if type(timeout_ms) ~= "number" or timeout_ms <= 0 then
    error("read: timeout_ms must be a positive number", 2)
  end
  if #self._pending < n then self:_await(n, time.deadline(timeout_ms), extra_ns) end
  if #self._pending == 0 then
    local hint = self._board:_sim_hint()
    return nil, ("read: nothing received within %g ms"):format(timeout_ms)
      .. (hint and ("; " .. hint) or ""), "timeout"
  end
  local out = self._pending:sub(1, n)
  self._pending = self._pending:sub(n + 1)
  return out
end, true)

--- stream:read_until(pattern, timeout_ms) -> text up to and including the first match |
-- nil, msg, "timeout" (what arrived stays buffered for the next read)
Stream.read_until = protect(function(self, pattern, timeout_ms)
  if type(pattern) ~= "string" then error("read_until: pattern must be a string", 2) end
  local left = time.deadline(timeout_ms)
  while true do
    local _, e = self._pending:find(pattern)
    if e then
      local out = self._pending:sub(1, e)
      self._pending = self._pending:sub(e + 1)
      return out
    end
    if self:_fill() == 0 then
      local remaining = left()
      if remaining <= 0 then
        local hint = #self._pending == 0 and self._board:_sim_hint()
        return nil, ("read_until: no match for %q within %g ms (%d bytes received)"):format(
          pattern, timeout_ms, #self._pending) .. (hint and ("; " .. hint) or ""), "timeout"
      end
      time.sleep_ns(math.min(remaining, math.max(self.frame_ns, 100000)))
    end
  end
end, true)

--- stream:flush() -> bytes discarded: drops everything received so far
Stream.flush = protect(function(self)
  local dropped = #self._pending
  self._pending = ""
  while true do
    local n = self:_fill()
    if n == 0 then break end
    dropped = dropped + #self._pending
    self._pending = ""
  end
  return dropped
end, true)

--- stream:drain(timeout_ms) -> true once the board has sent everything | nil, msg, "timeout"
Stream.drain = protect(function(self, timeout_ms)
  local left = time.deadline(timeout_ms)
  while true do
    local q = self:_tx_sync()
    if q == 0 then return true end
    if left() <= 0 then
      return nil, ("drain: %d bytes still queued after %g ms"):format(q, timeout_ms), "timeout"
    end
    time.sleep_ns(q * self.frame_ns)
  end
end, true)

--- board:serial([cfg]) -> stream | nil, msg, code. cfg: baud (38400), parity ("none", "odd",
-- "even", "mark", "space"), stop (1, 1.5, 2), bits (5..8). INIT (which empties both board
-- buffers on shipped firmware, §5.1) then ENABLE.
Board.serial = protect(function(self, cfg)
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
  if PARITY_CODE[c.parity] == nil then
    error("serial: parity must be none, odd, even, mark or space", 2)
  end
  if STOP_CODE[c.stop] == nil then error("serial: stop must be 1, 1.5 or 2", 2) end
  if math.type(c.bits) ~= "integer" or c.bits < 5 or c.bits > 8 then
    error("serial: bits must be 5 to 8", 2)
  end
  local actual = M.usart_baud(c.baud, self._kind.mck)
  if not actual then
    fail("invalid", "%s: %d baud is outside the board USART's range", self:_where(), c.baud)
  end
  self:_ctrl_out(REQ.USART_CONFIG, USART_INIT,
    string.pack("<I4BBB", c.baud, STOP_CODE[c.stop], PARITY_CODE[c.parity], c.bits))
  self:_ctrl_out(REQ.USART_CONFIG, USART_ENABLE)
  serial_set[self.serial_number] = c
  self._serial_gen = (self._serial_gen or 0) + 1
  return setmetatable({
    _board = self, _pending = "", _tx_end_ns = 0, baud = c.baud, actual_baud = actual,
    parity = c.parity, rx_capacity = USART_CAPACITY,
    stop = c.stop, bits = c.bits,
    frame_ns = math.ceil(frame_bits(c) * 1e9 / actual),
  }, Stream)
end)

---------------------------------------------------------------------------------------------
-- raw access for recipes that drive the board's engines (XPROG 0x20, V2/ISP 0x21)

--- board:ctrl_in(bRequest, wValue, length [, timeout_ms]) -> string | nil, msg, code
function Board:ctrl_in(req, value, len, timeout_ms)
  checkopen(self)
  return self._dev:control(RT_IN, req, value, 0, len, timeout_ms or CTRL_TIMEOUT_MS)
end

--- board:ctrl_out(bRequest, wValue, data [, timeout_ms]) -> true | nil, msg, code
function Board:ctrl_out(req, value, data, timeout_ms)
  checkopen(self)
  return self._dev:control(RT_OUT, req, value, 0, data or "", timeout_ms or CTRL_TIMEOUT_MS)
end

--- board:bulk_in(length [, timeout_ms]) -> string | nil, msg, code (the vendor bulk IN EP)
function Board:bulk_in(len, timeout_ms)
  checkopen(self)
  return self._dev:bulk_in(self._ep_in, len, timeout_ms or CTRL_TIMEOUT_MS)
end

--- board:bulk_out(data [, timeout_ms]) -> bytes sent | nil, msg, code
function Board:bulk_out(data, timeout_ms)
  checkopen(self)
  return self._dev:bulk_out(self._ep_out, data, timeout_ms or CTRL_TIMEOUT_MS)
end

--- board:fpga_read(addr, len) / board:fpga_write(addr, data): FPGA registers (§2.5)
Board.fpga_read = protect(function(self, addr, len)
  checkopen(self)
  return self:_fpga_read(addr, len)
end)
Board.fpga_write = protect(function(self, addr, data)
  checkopen(self)
  self:_fpga_write(addr, data)
  return true
end)

-- The recipe that programs a simulated part: the --sim-target word itself when it names a
-- recipe or alias, else the recipe whose part or parts include it; nil if none does.
local function recipe_of(part)
  local targets = require "cwlua.targets"
  if pcall(targets.resolve, part) then return part end
  for _, e in ipairs(targets.list()) do
    local r = not e.overridden_by and e.recipe
    if r and r.part == part then return e.name end
    for _, p in ipairs(r and r.parts or {}) do
      if (type(p) == "table" and p.name or p) == part then return e.name end
    end
  end
  return nil
end

--- board:_sim_hint() -> text | nil: the simulator's word on why the target is silent, where
-- a real board would leave only a timeout ("flash-blank": the chosen application model does not
-- run on an erased flash; cwsim_board_target_note). Never anything on a real board.
function Board:_sim_hint()
  if not self._sim or not self._dev then return nil end
  local ok, v = pcall(self._dev.sim_view, self._dev)
  if not ok or type(v) ~= "table" or v.note ~= "flash-blank" then return nil end
  local s = self._sim
  local state = s.state and (" --sim-state " .. s.state) or ""
  return ("the simulated chip's flash is blank: program it first (cwlua -d %s%s program %s "
    .. "FIRMWARE)"):format(s.spec, state, s.target and recipe_of(s.target) or "TARGET")
end

--- board:sim_counters() / board:sim_view(): the simulator's counters (virtual time, UART bytes,
-- USB transfers by kind) and what the board drives onto the target connector; on other
-- backends nil, msg, "unsupported".
function Board:sim_counters()
  checkopen(self)
  return self._dev:sim_counters()
end

function Board:sim_view()
  checkopen(self)
  return self._dev:sim_view()
end

---------------------------------------------------------------------------------------------
-- snapshot / restore (contract.md §3 "Leave the board as found")

local Snapshot = {}
Snapshot.__index = Snapshot
Snapshot.__name = "cwlua.Snapshot"

--- board:snapshot() -> snap | nil, msg, code. snap:restore() (and <close>) puts back the target
-- clock and HS2, pin modes and power, glitch outputs (MOSFETs, HS2 = glitch) and the serial
-- settings: those cwlua set earlier in this process, else 38400 8N1 (the board cannot report
-- them).
Board.snapshot = protect(function(self)
  checkopen(self)
  local s = { _board = self, _serial_gen = self._serial_gen,
              _serial = serial_set[self.serial_number] or SERIAL_DEFAULT }
  if self._kind.fpga then
    s._ioroute = self:_fpga_read(REG.IOROUTE, 8)
    s._extclk = self:_fpga_read(REG.EXTCLK, 1)
    if self._kind.clkgen == "dcm" then s._advclock = self:_advclock() end
  else
    s._nano_clk = self:_ctrl_in(REQ.NANO_CLKOUT, 0, 3)
    s._nano_pins = {}
    for k, v in pairs(self._nano_pins) do s._nano_pins[k] = v end
  end
  return setmetatable(s, Snapshot)
end)

local restore = protect(function(self)
  local b = self._board
  if self._done or not b._dev then return true end
  self._done = true
  if b._kind.fpga then
    local adv = self._advclock
    if adv then
      local now = b:_advclock()
      if now:byte(2) ~= adv:byte(2) or now:byte(3) ~= adv:byte(3) then
        b:_clkgen_set(adv:byte(2) + 1, adv:byte(3) + 1)
      end
    end
    b:_fpga_write(REG.EXTCLK, self._extclk)
    b:_fpga_write(REG.IOROUTE, self._ioroute)
  else
    b:_ctrl_out(REQ.NANO_CLKOUT, 0, self._nano_clk)
    for pin, mode in pairs(self._nano_pins) do nano_pin(b, pin, mode) end
  end
  if b._serial_gen ~= self._serial_gen then -- cwlua changed the serial line since
    local c = self._serial
    b:_ctrl_out(REQ.USART_CONFIG, USART_INIT,
      string.pack("<I4BBB", c.baud, STOP_CODE[c.stop], PARITY_CODE[c.parity], c.bits))
    b:_ctrl_out(REQ.USART_CONFIG, USART_ENABLE)
    serial_set[b.serial_number] = c
    b._serial_gen = self._serial_gen
  end
  return true
end)

--- snap:restore() -> true | nil, msg, code. Safe to call more than once. Runs to its end even
-- while SIGINT/SIGTERM stops the run (signal.hold: no interrupt is raised inside), so the
-- board is put back before the process exits (contract.md §3.9).
function Snapshot:restore()
  return signal.hold(restore, self)
end

function Snapshot:__close()
  self:restore() -- errors in __close are swallowed: nowhere to report them (style.md §2.3)
end

--- snap:guard() -> a to-be-closed value that restores the snapshot on every exit path. Unlike
-- the snapshot's own <close>, a restore that fails after a block that otherwise succeeded
-- raises the device error (exit 3): the board was not left as found, and the user must know.
-- After an error the block's own error is kept, being the cause.
function Snapshot:guard()
  return setmetatable({}, { __close = function(_, err)
    local ok, msg, code = self:restore()
    if not ok and err == nil then
      error(errors.new("device", "the board could not be put back as found: " .. msg,
        { code = code }), 0)
    end
  end })
end

M.Board, M.Stream = Board, Stream
return M
