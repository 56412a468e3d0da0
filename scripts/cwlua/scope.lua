-- SPDX-License-Identifier: MIT
-- cwlua.scope (cw.scope): the capture half of a CW-Lite, CW1200 or Husky: the OpenADC's
-- registers in the FPGA, armed, triggered by the target and read out as a trace. Facts:
-- docs/reference/cw-usb-protocol.md (cited as §N): the register map §4.0, FPGA register
-- access §2.5, the trigger §4.4, the gain §4.7, the ADC clock §4.8 and §4.9, the read-out
-- §4.10; NewAE's _OpenADCInterface.py (capture, arm, readData, processData, readHuskyData),
-- read for facts.
--
--   local scope = assert(cw.scope.open(board, { samples = 3000 }))
--   assert(scope:arm())
--   ss:write("p", pt); local ct = assert(ss:read("r", 16))
--   local trace = assert(scope:capture())      -- #trace, trace[i], trace:raw()
--
-- Every register value the scope writes is kept (board._adc), so a capture costs five control
-- transfers: arming (SETTINGS), one look at STATUS (two transfers), the bulk read's set-up and
-- disarming; what it can compute (the read-out's length, when the capture can have ended) it
-- does not ask. The board's snapshot (board:snapshot) puts back every ADC register the scope
-- changed (board:_adc_note). Unpacking the samples is C (cwlua.core.trace).
--
-- World failures return nil, msg, code (style.md §2.3): "unsupported" (a board without the
-- OpenADC: CW-Nano, a serial port), "timeout" (no trigger), "short" (a read-out with fewer
-- samples than asked), or the board's USB codes. Misuse raises.
local ctrace = require "cwlua.core.trace"
local common = require "cwlua.board.common"
local time = require "cwlua.time"

local M = {}

local fail, protect = common.fail, common.protect

-- OpenADC registers (§4.0); the Husky's own beside them.
local REG = {
  GAIN = 0, SETTINGS = 1, STATUS = 2, ADCREAD = 3, ADVCLOCK = 6, ADCFREQ = 8, DECIMATE = 15,
  SAMPLES = 16, PRESAMPLES = 17, OFFSET = 26, ADC_LOW_RES = 29, TRIGSRC = 39, TRIGMOD = 40,
  VMAG_CTRL = 61, MAX_SAMPLES = 93,
}
M.REG = REG

-- SETTINGS (1) bits (§4.0)
local S_RESET, S_GAIN_HIGH, S_TRIG_HIGH, S_ARM, S_WAIT = 0x01, 0x02, 0x04, 0x08, 0x20
-- STATUS (2) bits (§4.0): armed; done (1 = not capturing: the FIFO is full)
local ST_ARMED, ST_DONE = 0x01, 0x02

-- Trigger modes: SETTINGS under mask 0x24 (§4.4); NewAE's basic_mode names.
local MODES = { rising_edge = S_TRIG_HIGH | S_WAIT, falling_edge = S_WAIT, high = S_TRIG_HIGH,
                low = 0 }
local MODE_MASK = S_TRIG_HIGH | S_WAIT
M.MODES = { "rising_edge", "falling_edge", "high", "low" }

-- CW_TRIGSRC (39) pins and how they combine (§4.4)
local TRIG_PINS = { aux = 0x01, nrst = 0x02, tio1 = 0x04, tio2 = 0x08, tio3 = 0x10, tio4 = 0x20 }
local TRIG_PIN_ORDER = { "tio1", "tio2", "tio3", "tio4", "nrst", "aux" }
local TRIG_LOGIC = { ["or"] = 0x00, ["and"] = 0x40, nand = 0x80 }

-- The boards with an OpenADC: read-out format, register widths (§4.0), gain range (§4.7),
-- capture depth and FIFO. The depth NewAE allows is SAMPLES' reset value less 45 (§4.0):
-- 24 400 on the Lite; the Husky reports its own (93). A Lite or Pro capture does not stop
-- after SAMPLES: its FIFO takes MAX_SAMPLES - 134 - PRESAMPLES samples after the trigger (and
-- offset), and STATUS says done only then (fifo_post, §4.10).
local KINDS = {
  cwlite = { format = "cw10", presamples_len = 4, trigsrc_len = 1, max_samples = 24400,
             fifo_post = 24573 - 134,
             gain = { min = -6.5, max = 56, low_below = 5.5, steps = 78 } },
  cw1200 = { format = "cw10", presamples_len = 4, trigsrc_len = 1, max_samples = 98134,
             fifo_post = 98307 - 134,
             gain = { min = -6.5, max = 56, low_below = 5.5, steps = 78 } },
  husky = { format = "husky12", presamples_len = 2, trigsrc_len = 2, max_samples = nil,
            gain = { min = -15, max = 65, low_below = 15, steps = 109, husky = true } },
}
-- Bytes read beyond the samples asked for on a Lite or Pro: its read-out starts with samples
-- from before the trigger, as many as the FIFO kept, and NewAE reads this much more (§4.10).
local CW10_SLACK = 256
-- CW_VMAG_CTRL (61) on the Husky: the LNA's high- and low-gain modes (§4.7)
local VMAG_HIGH, VMAG_LOW = 0x1F, 0x00

-- The read-out arrives within a transfer's time: 2 s means the board is wedged (as
-- cwlua.board's CTRL_TIMEOUT_MS). A capture waits for its trigger 2 s unless told otherwise,
-- NewAE's scope.adc.timeout.
local CAPTURE_TIMEOUT_MS = 2000
local GAIN_SETTLE_MS = 100 -- NewAE's pause after writing GAIN: the LNA settles (§4.7)
local POLL_MAX_NS = 2000000 -- longest gap between two looks at STATUS

local Scope = {}
Scope.__index = Scope
Scope.__name = "cwlua.Scope"

---------------------------------------------------------------------------------------------
-- registers, through the board's cache

local function le(n, len) return string.pack("<I" .. len, n) end
local function unle(s) return string.unpack("<I" .. #s, s) end

-- The cached bytes of a register, read once per board.
function Scope:_get(reg, len)
  local b = self.board
  local v = b._adc[reg]
  if v == nil or #v ~= len then
    v = b:_fpga_read(reg, len)
    b._adc[reg] = v
  end
  return v
end

-- Write a register when its bytes change; the board's live snapshots note the value before.
function Scope:_put(reg, bytes, force)
  local b = self.board
  local old = b._adc[reg]
  if old == bytes and not force then return false end
  if old == nil then old = b:_fpga_read(reg, #bytes) end
  b:_adc_note(reg, old)
  b:_fpga_write(reg, bytes)
  b._adc[reg] = bytes
  return true
end

function Scope:_settings() return self:_get(REG.SETTINGS, 1):byte() end

function Scope:_put_settings(v)
  -- bit 0 would reset every register block of the FPGA (§4.0): never from here
  return self:_put(REG.SETTINGS, string.char(v & ~S_RESET & 0xFF))
end

---------------------------------------------------------------------------------------------
-- opening

--- scope.open(board [, settings]) -> scope | nil, msg, code. board: an open CW-Lite, CW1200
-- or Husky. settings: as scope:set, applied at once.
function M.open(board, settings)
  local Board = require("cwlua.board").Board
  if getmetatable(board) ~= Board then
    if type(board) == "table" and board.serial and board.info then
      return nil, "scope: a serial port has no ADC; open a ChipWhisperer board", "unsupported"
    end
    error("scope.open: board must be a board from cw.open", 2)
  end
  if settings ~= nil and type(settings) ~= "table" then
    error("scope.open: settings must be a table", 2)
  end
  local kind = KINDS[board.kind]
  if not kind then
    return nil, ("%s: the %s's ADC is not supported (cwlua captures on a CW-Lite, CW1200 or "
      .. "CW-Husky)"):format(board:_where(), board._kind.name), "unsupported"
  end
  local self = setmetatable({ board = board, kind = kind, _armed = false }, Scope)
  board._adc = board._adc or {}
  local ok, msg, code = self:_open()
  if not ok then return nil, msg, code end
  if settings then
    ok, msg, code = self:set(settings)
    if not ok then return nil, msg, code end
  end
  return self
end

-- The registers a capture depends on, read once (the board's cache keeps them across scopes).
Scope._open = protect(function(self)
  local b = self.board
  if not b._dev then error("attempt to use a closed board", 0) end
  self:_get(REG.SETTINGS, 1)
  self:_get(REG.GAIN, 1)
  self:_get(REG.SAMPLES, 4)
  self:_get(REG.OFFSET, 4)
  self:_get(REG.PRESAMPLES, self.kind.presamples_len)
  self:_get(REG.DECIMATE, 2)
  self:_get(REG.TRIGSRC, self.kind.trigsrc_len)
  self:_get(REG.TRIGMOD, 1)
  if self.kind.gain.husky then
    self:_get(REG.VMAG_CTRL, 1)
    self:_get(REG.ADC_LOW_RES, 1)
  end
  if self:_settings() & S_ARM ~= 0 then -- left armed (a notebook, an interrupted run)
    self:_put_settings(self:_settings() & ~S_ARM)
  end
  self.max_samples = self.kind.max_samples
  if not self.max_samples then
    b._adc_max = b._adc_max or unle(b:_fpga_read(REG.MAX_SAMPLES, 4))
    self.max_samples = b._adc_max
  end
  self:_clock()
  return true
end)

-- The ADC clock in Hz (§4.8, §4.9), or nil when it cannot be known without measuring.
function Scope:_clock()
  local b = self.board
  local hz
  if self.kind.gain.husky then
    local _, _, info = require("cwlua.board.pll").read(b)
    hz = info and info.adc_hz
  else
    local adv = b:_fpga_read(REG.ADVCLOCK, 4):byte(1)
    if adv & 0x05 == 0 then -- the DCM from CLKGEN: x4 or x1 (§4.8 ADVCLOCK b0 bits 2..0)
      local clk = require("cwlua.board.clkgen").read(b)
      if clk then hz = clk * ((adv & 0x02) ~= 0 and 1 or 4) end
    else -- EXTCLK: only the FPGA's count knows it (register 8, §4.8)
      hz = unle(b:_fpga_read(REG.ADCFREQ, 4)) * b:_systemclk() / (1 << 23)
    end
  end
  self.adc_hz = (hz and hz > 0) and hz or nil
  return self.adc_hz
end

---------------------------------------------------------------------------------------------
-- settings

local function gain_raw(g, db)
  local low = db < g.low_below
  local v
  if g.husky then
    v = (db - (low and g.min or g.low_below)) / 50 * g.steps
  else
    v = ((db - (low and g.min or g.low_below)) / 50) / 3.3 * 256
  end
  v = math.floor(v + 0.5)
  return math.max(0, math.min(v, g.steps)), low
end

local function gain_db(g, raw, low)
  if g.husky then return (low and g.min or g.low_below) + 50 * raw / g.steps end
  return 50 * (raw / 256 * 3.3) + (low and g.min or g.low_below)
end

-- "tio4", "tio1 or tio2", "tio3 and tio4", "tio1 nand tio2" -> CW_TRIGSRC byte (§4.4)
local function parse_trigger(s)
  if type(s) ~= "string" then error("scope: trigger must be a string such as \"tio4\"", 4) end
  local pins, logic, n = 0, nil, 0
  for word in s:lower():gmatch("%S+") do
    n = n + 1
    if n % 2 == 1 then
      local bit = TRIG_PINS[word]
      if not bit then
        error(("scope: unknown trigger input '%s' (use tio1, tio2, tio3, tio4, nrst or aux)"):
          format(word), 4)
      end
      pins = pins | bit
    else
      if not TRIG_LOGIC[word] or (logic and logic ~= word) then
        error(("scope: trigger '%s': join inputs with one of or, and, nand"):format(s), 4)
      end
      logic = word
    end
  end
  if n == 0 or n % 2 == 0 then
    error(("scope: trigger '%s' is not an input or inputs joined by or, and, nand"):format(s), 4)
  end
  return pins | TRIG_LOGIC[logic or "or"]
end

local function trigger_name(v)
  local names = {}
  for _, p in ipairs(TRIG_PIN_ORDER) do
    if v & TRIG_PINS[p] ~= 0 then names[#names + 1] = p end
  end
  if #names == 0 then return "none" end
  local logic = ({ [0] = "or", [1] = "and", [2] = "nand" })[v >> 6] or "or"
  return table.concat(names, " " .. logic .. " ")
end

local SETTABLE = { samples = true, offset = true, presamples = true, decimate = true,
                   gain = true, trigger = true, mode = true, bits = true }

local function int_in(name, v, lo, hi)
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v)) then
    error(("scope: %s must be an integer"):format(name), 4)
  end
  v = math.tointeger(v)
  if not v or v < lo or v > hi then
    error(("scope: %s must be from %d to %d"):format(name, lo, hi), 4)
  end
  return v
end

-- Check everything before writing anything: a bad value changes nothing.
function Scope:_plan(t)
  for k in pairs(t) do
    if not SETTABLE[k] then
      error(("scope: unknown setting '%s' (samples, offset, presamples, decimate, gain, "
        .. "trigger, mode, bits)"):format(tostring(k)), 3)
    end
  end
  local p = {}
  local cur = self:_current()
  local samples = t.samples ~= nil and int_in("samples", t.samples, 1, self.max_samples)
    or cur.samples
  p.samples = t.samples ~= nil and samples or nil
  if t.offset ~= nil then p.offset = int_in("offset", t.offset, 0, 0xFFFFFFFF) end
  if t.decimate ~= nil then p.decimate = int_in("decimate", t.decimate, 1, 65536) end
  local pre = t.presamples ~= nil and t.presamples or cur.presamples
  if t.presamples ~= nil or t.samples ~= nil then
    local husky = self.kind.gain.husky
    local hi = husky and math.min(samples - 2, 32767) or samples
    pre = int_in("presamples", pre, 0, math.max(hi, 0))
    if husky and pre ~= 0 and pre < 8 then
      error("scope: presamples must be 0 or at least 8 on a CW-Husky", 3)
    end
    if t.presamples ~= nil then p.presamples = pre end
  end
  if t.gain ~= nil then
    local g = self.kind.gain
    if type(t.gain) ~= "number" or t.gain ~= t.gain or t.gain < g.min or t.gain > g.max then
      error(("scope: gain must be from %g to %g dB on a %s"):format(g.min, g.max,
        self.board._kind.name), 3)
    end
    p.gain = t.gain
  end
  if t.trigger ~= nil then p.trigger = parse_trigger(t.trigger) end
  if t.bits ~= nil then
    local ok = self.kind.gain.husky and (t.bits == 12 or t.bits == 8) or t.bits == 10
    if not ok then
      error(("scope: bits must be %s on a %s"):format(self.kind.gain.husky and "12 or 8" or
        "10", self.board._kind.name), 3)
    end
    p.bits = t.bits
  end
  if t.mode ~= nil then
    if not MODES[t.mode] then
      error(("scope: mode must be one of %s"):format(table.concat(M.MODES, ", ")), 3)
    end
    p.mode = t.mode
  end
  return p
end

local apply = protect(function(self, p)
  local k = self.kind
  if p.samples then self:_put(REG.SAMPLES, le(p.samples, 4)) end
  if p.offset then self:_put(REG.OFFSET, le(p.offset, 4)) end
  if p.presamples then self:_put(REG.PRESAMPLES, le(p.presamples, k.presamples_len)) end
  if p.decimate then self:_put(REG.DECIMATE, le(p.decimate - 1, 2)) end
  local s = self:_settings()
  if p.mode then s = (s & ~MODE_MASK) | MODES[p.mode] end
  if p.gain then
    local raw, low = gain_raw(k.gain, p.gain)
    if k.gain.husky then
      self:_put(REG.VMAG_CTRL, string.char(low and VMAG_LOW or VMAG_HIGH))
    else
      s = low and (s & ~S_GAIN_HIGH) or (s | S_GAIN_HIGH)
    end
    self:_put_settings(s)
    if self:_put(REG.GAIN, string.char(raw)) then time.sleep(GAIN_SETTLE_MS) end
  else
    self:_put_settings(s)
  end
  if p.bits and k.gain.husky then
    -- ADC_LOW_RES bit 0: 8-bit read-out, the top bits of each sample (§4.10)
    local v = self:_get(REG.ADC_LOW_RES, 1):byte()
    self:_put(REG.ADC_LOW_RES, string.char(p.bits == 8 and (v | 0x01) or (v & ~0x03)))
  end
  if p.trigger then
    local src = string.char(p.trigger) .. ("\0"):rep(k.trigsrc_len - 1)
    self:_put(REG.TRIGSRC, src)
    local mod = self:_get(REG.TRIGMOD, 1):byte()
    -- the pins above feed the basic trigger module (§4.4): select it, keeping bit 3
    if mod & 0x07 ~= 0 then self:_put(REG.TRIGMOD, string.char(mod & ~0x07)) end
  end
  return true
end)

--- scope:set(settings) -> true | nil, msg, code. settings: samples (1 to the board's depth),
-- offset (ADC clocks from the trigger to the first sample), presamples (samples kept from
-- before the trigger), decimate (keep one sample in N), gain (dB, NewAE's gain.db),
-- trigger ("tio4", "tio1 or tio2", …), mode ("rising_edge", "falling_edge", "high", "low").
-- A value out of range raises before anything is written; only what changes is written.
function Scope:set(t)
  self:_check()
  if type(t) ~= "table" then error("scope:set: settings must be a table", 2) end
  if self._armed then error("scope:set: the scope is armed; capture first", 2) end
  return apply(self, self:_plan(t))
end

-- Settings as the cache holds them.
function Scope:_current()
  local k = self.kind
  local s = self:_settings()
  local mode
  for name, bits in pairs(MODES) do
    if s & MODE_MASK == bits then mode = name end
  end
  local raw = self:_get(REG.GAIN, 1):byte()
  local low
  if k.gain.husky then low = self:_get(REG.VMAG_CTRL, 1):byte() ~= VMAG_HIGH
  else low = s & S_GAIN_HIGH == 0 end
  return {
    samples = unle(self:_get(REG.SAMPLES, 4)),
    offset = unle(self:_get(REG.OFFSET, 4)),
    presamples = unle(self:_get(REG.PRESAMPLES, k.presamples_len)),
    decimate = unle(self:_get(REG.DECIMATE, 2)) + 1,
    gain = math.floor(gain_db(k.gain, raw, low) * 1000 + 0.5) / 1000,
    gain_raw = raw, gain_mode = low and "low" or "high",
    trigger = trigger_name(self:_get(REG.TRIGSRC, k.trigsrc_len):byte()),
    mode = mode,
    trigger_module = self:_get(REG.TRIGMOD, 1):byte() & 0x07,
  }
end

-- The read-out's format: "cw10", or the Husky's "husky12" / "husky8" (ADC_LOW_RES bit 0).
function Scope:_format()
  if self.kind.format ~= "husky12" then return self.kind.format end
  return self:_get(REG.ADC_LOW_RES, 1):byte() & 0x01 ~= 0 and "husky8" or "husky12"
end

local BITS = { cw10 = 10, husky12 = 12, husky8 = 8 }

--- scope:get() -> { samples, offset, presamples, decimate, gain (dB), gain_raw, gain_mode,
-- trigger, mode, trigger_module (0 = the basic edge/level module), adc_hz, bits, max_samples,
-- board } | nil, msg, code
Scope.get = protect(function(self)
  self:_check()
  local t = self:_current()
  t.adc_hz = self:_clock()
  t.bits = BITS[self:_format()]
  t.max_samples = self.max_samples
  t.board = self.board.kind
  return t
end)

function Scope:_check()
  if getmetatable(self) ~= Scope then error("expected a cwlua.Scope", 3) end
  if not self.board._dev then error("attempt to use a closed board", 3) end
end

---------------------------------------------------------------------------------------------
-- capturing

--- scope:arm() -> true | nil, msg, code: the ADC waits for its trigger
Scope.arm = protect(function(self)
  self:_check()
  local s = self:_settings()
  if s & S_ARM ~= 0 then self:_put_settings(s & ~S_ARM) end -- a new capture needs 0 then 1
  self:_put_settings(s | S_ARM)
  self._armed = true
  self._arm_ns = time.now_ns()
  return true
end)

local function disarm(self)
  self._armed = false
  self:_put_settings(self:_settings() & ~S_ARM)
end

--- scope:disarm() -> true | nil, msg, code: stop waiting for a trigger
Scope.disarm = protect(function(self)
  self:_check()
  disarm(self)
  return true
end)

-- How long the board captures once triggered, until STATUS says done (§4.10): OFFSET ADC
-- clocks, then on a Lite or Pro its whole FIFO, on a Husky SAMPLES (in whole threes), less
-- the presamples, one sample every DECIMATE clocks. 0 when the ADC clock is not known.
function Scope:_duration_ns(c)
  if not self.adc_hz then return 0 end
  local post = self.kind.fifo_post or 3 * ((c.samples + 2) // 3)
  return math.ceil((c.offset + (post - c.presamples) * c.decimate) * 1e9 / self.adc_hz)
end

-- The read-out: its length computed, not read from RETSAMPLES (§4.10), which would cost two
-- more control transfers a trace.
function Scope:_read_out(c)
  local b = self.board
  local fmt = self:_format()
  local len
  if fmt == "cw10" then -- whole words of three samples, the slack, the sync byte
    len = 4 * ((c.samples + 2) // 3) + CW10_SLACK + 1
  elseif fmt == "husky12" then -- 12 bits a sample, in whole groups of 3 bytes
    len = (3 * c.samples + 1) // 2
    len = len + (3 - len % 3) % 3
  else
    len = c.samples + (3 - c.samples % 3) % 3
  end
  local data = b:_fpga_read(REG.ADCREAD, len)
  local t, msg, code = ctrace.unpack(fmt, data, c.samples, c.presamples)
  if not t then fail(code, "%s: %s", b:_where(), msg) end
  if fmt == "cw10" and not t:trigger_index() then
    fail("malformed", "%s: the ADC read-out marks no sample as the capture's first (%d bytes "
      .. "read)", b:_where(), len)
  end
  if #t < c.samples then
    fail("short", "%s: the ADC read-out holds %d of the %d samples asked for", b:_where(), #t,
      c.samples)
  end
  return t
end

--- scope:capture([timeout_ms [, opts]]) -> trace | nil, msg, code. Waits for the armed
-- capture to end (its trigger, then offset + samples ADC clocks), reads it out and disarms.
-- timeout_ms (default 2000, NewAE's): how long the trigger may take; none is nil, msg,
-- "timeout", disarmed. opts.not_before: a time on cw.now()'s clock before which the capture
-- cannot have ended (e.g. when the target can only have begun its work), so the board is not
-- asked before then.
Scope.capture = protect(function(self, timeout_ms, opts)
  self:_check()
  if timeout_ms ~= nil and (type(timeout_ms) ~= "number" or timeout_ms <= 0) then
    error("scope:capture: timeout_ms must be a positive number", 0)
  end
  if opts ~= nil and type(opts) ~= "table" then error("scope:capture: opts must be a table", 0) end
  if not self._armed then error("scope:capture: the scope is not armed (scope:arm() first)", 0) end
  timeout_ms = timeout_ms or CAPTURE_TIMEOUT_MS
  local left = time.deadline(timeout_ms)
  local c = self:_current()
  -- The first look at STATUS: not before the capture can have ended, counted from the arming
  -- or from opts.not_before, plus what the last captures showed the trigger to come later
  -- (_late_ns, learnt below): one look a capture, not a poll.
  local dur = self:_duration_ns(c)
  local from = self._arm_ns
  if opts and opts.not_before then from = math.max(from, math.floor(opts.not_before * 1e9)) end
  local first = from + dur + (self._late_ns or 0)
  local b = self.board
  local gap = math.max(dur // 4, 20000)
  local wait = first - time.now_ns()
  local looks = 0
  while true do
    if wait > 0 then time.sleep_ns(math.min(wait, math.max(left(), 0))) end
    local st = b:_fpga_read(REG.STATUS, 1):byte()
    looks = looks + 1
    if st & ST_ARMED == 0 and st & ST_DONE ~= 0 then break end
    if left() <= 0 then
      disarm(self)
      fail("timeout", "%s: no trigger within %g ms (trigger %s, %s)", b:_where(), timeout_ms,
        c.trigger, c.mode or "?")
    end
    wait = gap
    gap = math.min(gap * 2, POLL_MAX_NS)
  end
  if looks > 1 then -- it ended later than expected: look that much later next time
    self._late_ns = (self._late_ns or 0) + math.max(0, time.now_ns() - first)
  end
  disarm(self)
  return self:_read_out(c)
end)

function Scope:__tostring()
  return ("cwlua.Scope (%s %s)"):format(self.board.kind, self.board.serial_number)
end

M.Scope = Scope
return M
