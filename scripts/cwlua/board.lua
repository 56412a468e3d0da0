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
-- The parts with a concern of their own are modules of their own: cwlua.board.usart (the
-- serial bridge), cwlua.board.clock (the target clock and its sources: clkgen, pll, pck).
local time = require "cwlua.time"
local clock = require "cwlua.board.clock"
local common = require "cwlua.board.common"
local connect = require "cwlua.connect"
local device = require "cwlua.core.device"
local devspec = require "cwlua.devspec"
local errors = require "cwlua.errors"
local signal = require "cwlua.core.signal"
local usart = require "cwlua.board.usart"
local worker = require "cwlua.worker"

local M = {}

-- Defaults for open() without arguments: the CLI sets them from -d and the --sim-* options.
-- bitstream (--bitstream FILE) and quiet (-q: no notices or warnings on stderr) apply to every
-- open() that does not give its own.
M.defaults = { spec = nil, sim = {}, bitstream = nil, quiet = false }

-- Vendor requests, bmRequestType 0xC1 (IN) / 0x41 (OUT), wIndex 0 (§0 conventions, §2.3).
local RT_IN, RT_OUT = 0xC1, 0x41
local REQ = {
  MEMREAD_BULK = 0x10, MEMWRITE_BULK = 0x11, MEMREAD_CTRL = 0x12, MEMWRITE_CTRL = 0x13,
  SAM_CONFIG = 0x22, NANO_GPIO = 0x25,
}
local SAM_RELEASE_LOCK = 0x0011 -- 0x22 sub-command: release the FPGA bus lock (§2.3, §2.5)

-- FPGA registers, Lite/Pro numbering, also Husky for these (§4.0).
local REG = { SYSTEMCLK = 7, EXTCLK = 38, IOROUTE = 55, IOREAD = 59 }

-- A vendor request is answered within a millisecond; 2 s means the board is wedged. (NewAE
-- uses 20 s for everything, §1.3 item 6, which makes a dead board look like a hang.)
local CTRL_TIMEOUT_MS = 2000
local CTRL_IO_THRESHOLD = 48 -- below: control transfers; from here: bulk (§2.5)

-- What each board kind is (§1.1, §7.1); clkgen names the target clock's source
-- (cwlua.board.clock).
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

-- CW-Nano: 0x25 GPIO (mode in wValue, pin mask in data[0]) (§7.2).
local NANO_MASK = { tio3 = 0x04, pdic = 0x10, pdid = 0x20, nrst = 0x40 }
local NANO_OUTPUT, NANO_INPUT, NANO_LOW, NANO_HIGH = 1, 2, 3, 4

local Board = {}
Board.__index = Board
Board.__name = "cwlua.Board"

-- Raised device failures (code per docs/api.md); protect turns them into nil, msg, code.
local fail, protect = common.fail, common.protect

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
  [0x25] = "Nano GPIO", [0x27] = "Nano clock", [0x29] = "PLL access", [0x31] = "CDC settings",
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

local getbyte, setbyte = common.getbyte, common.setbyte

-- SYSTEMCLK (7): the FPGA's clock, which scales its frequency counters (96 MHz on the Lite,
-- §4.0); read once per open.
function Board:_systemclk()
  if not self._fin then
    self._fin = string.unpack("<I4", self:_fpga_read(REG.SYSTEMCLK, 4))
  end
  return self._fin
end

---------------------------------------------------------------------------------------------
-- opening

local function open_device(spec, opts)
  if spec.kind == "sim" then
    return device.open({
      backend = "sim", board = spec.board, serial = spec.serial, target = opts.target,
      state = opts.state,
      faults = opts.faults, latency_ms = opts.latency_ms, seed = opts.seed, noise = opts.noise,
      app = opts.app, power_up = opts.power_up,
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
  local parsed = M.defaults.spec and devspec.parse(M.defaults.spec)
  if not sim.target and parsed and parsed.kind == "sim" and parsed.board == "nano" then
    part = "stm32f030x6"
  end
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
-- spec: a device spec (contract.md §3) or nil for the command line's (-d), else $CWLUA_DEVICE,
-- else the config files' device (cwlua.config), else "usb". opts: bitstream (a file to load
-- when the FPGA is not configured; default board.defaults.bitstream, then $CWLUA_BITSTREAM,
-- then the config files', then NewAE's Python package), notify (function(msg) for progress and
-- warnings; default: "cwlua: msg" on stderr unless board.defaults.quiet); for the simulator:
-- target (part name), state (folder), faults (list of "NAME[=VALUE]"), latency_ms, seed, noise,
-- app, power_up.
function M.open(spec, opts)
  if spec == nil then
    spec = M.defaults.spec
    opts = opts or M.defaults.sim
  end
  opts = opts or {}
  if spec == nil then
    local origin
    spec, origin = require("cwlua.config").value("device")
    if spec and origin.origin == "environment" then devspec.parse(spec, "CWLUA_DEVICE") end
    spec = spec or "usb"
  end
  if type(spec) ~= "string" then error("open: spec must be a string", 2) end
  local parsed = devspec.parse(spec)
  if parsed.kind == "many" then
    return nil, ("%s names several boards; open each (cw.open(\"usb:SERIAL\")), or run a "
      .. "function on each with cw.each(\"%s\", fn) (docs/api.md)"):format(spec, spec), "invalid"
  end
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
  worker.board_opened(self) -- in a worker of a command on several boards: tell the parent
  return self
end

-- Firmware check, FPGA state, bitstream and default set-up: cwlua.connect (contract.md §3).
function Board:_connect(opts)
  connect.run(self, opts)
end

local function close(self)
  if self._dev then
    worker.board_closing()
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
    fail("unsupported", "%s: the CW-Nano cannot switch target power (its firmware has no "
      .. "request for it)", self:_where())
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
-- clock (cwlua.board.clock and its sources)

local function check_hz(hz)
  if hz ~= nil and hz ~= false and (type(hz) ~= "number" or hz ~= hz or hz <= 0) then
    error("clock: hz must be a positive number or false", 0)
  end
end

--- board:clock([hz | false [, opts]]) -> achieved Hz | false, source | nil, msg, code.
-- hz programs the board's clock source (CW-Lite/CW1200 DCM "clkgen", Husky PLL "pll", Nano
-- "pck2") and routes it to HS2 (the target clock pin); false turns HS2 off; no argument reads
-- the current state (false with "off", "glitch", "not loaded", "pll off", "pll unlocked" or
-- "invalid" when HS2 carries no readable clock). opts.adc_mul (Husky): the ADC clock's
-- multiple of hz, 0 = off (default 4, NewAE's). A frequency the board cannot make
-- is "invalid" with nothing changed; a clock generator that does not lock is "unlocked".
Board.clock = protect(function(self, hz, opts)
  checkopen(self)
  check_hz(hz)
  if opts ~= nil and type(opts) ~= "table" then error("clock: opts must be a table", 0) end
  local k = opts and opts.adc_mul
  if k ~= nil and (math.type(k) ~= "integer" or k < 0) then
    error("clock: adc_mul must be a non-negative integer", 0)
  end
  local got, src
  if hz == false then
    got, src = clock.off(self)
  elseif hz == nil then
    got, src = clock.read(self)
  else
    got, src = clock.set(self, hz, opts)
  end
  return got, src
end)

--- board:clock_info() -> { hz, source, dividers, locked, adc_hz, adc_mul, measured_adc_hz,
-- note } | nil, msg, code: what board:clock() reads, with the source's settings (dividers),
-- its lock bit, on a Husky its ADC clock and the FPGA's count of it, and a note saying what
-- the board can confirm of its own clock (docs/api.md).
Board.clock_info = protect(function(self)
  checkopen(self)
  local hz, src, info = clock.read(self, true)
  info = info or {}
  info.hz, info.source = hz or nil, src
  return info
end)

--- board.clkgen_search(hz, fin) -> mul, div, achieved: the CW-Lite's M and D (cwlua.board.clkgen)
M.clkgen_search = require("cwlua.board.clkgen").search

--- board.usart_baud(requested, mck) -> the baud the SAM really produces (cw-usb-protocol.md
-- §5.1), or nil when the divider is out of range
M.usart_baud = usart.baud
M.set_wire_log, M.wire = usart.set_wire_log, usart.wire

--- board:serial([cfg]) -> stream | nil, msg, code. cfg: baud (38400), parity ("none", "odd",
-- "even", "mark", "space"), stop (1, 1.5, 2), bits (5..8). INIT (which empties both board
-- buffers on shipped firmware, §5.1) then ENABLE.
Board.serial = protect(function(self, cfg)
  checkopen(self)
  return usart.open(self, cfg)
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
-- clock (the clock source's settings — a Husky's PLL registers included — and HS2), pin modes
-- and power, glitch outputs (MOSFETs, HS2 = glitch), the ADC registers cwlua.scope changed
-- since (disarming it) and the serial settings: those cwlua set earlier in this process, else
-- 38400 8N1 (the board cannot report them).
Board.snapshot = protect(function(self)
  checkopen(self)
  local s = { _board = self, _serial = usart.snapshot(self), _clock = clock.snapshot(self),
              _adc = {} }
  -- the ADC registers cost nothing here: cwlua.scope reports each one before it first changes
  -- it (Board:_adc_note), so only what a capture changed is written back
  self._snaps = self._snaps or setmetatable({}, { __mode = "k" })
  self._snaps[s] = true
  if self._kind.fpga then
    s._ioroute = self:_fpga_read(REG.IOROUTE, 8)
    s._extclk = self:_fpga_read(REG.EXTCLK, 1)
  else
    s._nano_pins = {}
    for k, v in pairs(self._nano_pins) do s._nano_pins[k] = v end
  end
  return setmetatable(s, Snapshot)
end)

-- Each part is put back even when an earlier one failed (a PLL that does not relock must not
-- leave the pins as cwlua set them); the first failure is raised at the end.
local restore = protect(function(self)
  local b = self._board
  if self._done or not b._dev then return true end
  self._done = true
  local first
  local function part(f, ...)
    local ok, err = pcall(f, ...)
    if not ok then first = first or err end
  end
  for reg, v in pairs(self._adc) do
    part(function()
      b:_fpga_write(reg, v)
      b._adc[reg] = v
    end)
  end
  part(clock.restore, b, self._clock)
  if b._kind.fpga then
    part(b._fpga_write, b, REG.EXTCLK, self._extclk)
    part(b._fpga_write, b, REG.IOROUTE, self._ioroute)
  else
    for pin, mode in pairs(self._nano_pins) do part(nano_pin, b, pin, mode) end
  end
  part(usart.restore, b, self._serial)
  if first then error(first, 0) end
  return true
end)

--- board:_adc_note(reg, bytes): cwlua.scope is about to change ADC register reg, whose value is
-- bytes; every live snapshot that has not seen it change yet keeps bytes, to write back.
function Board:_adc_note(reg, old)
  for s in pairs(self._snaps or {}) do
    if not s._done and s._adc[reg] == nil then s._adc[reg] = old end
  end
end

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

M.Board, M.Stream = Board, usart.Stream
return M
