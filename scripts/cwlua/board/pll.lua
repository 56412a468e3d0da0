-- SPDX-License-Identifier: MIT
-- cwlua.board.pll: the target clock of a CW-Husky, an output of the TI CDCI6214 PLL that the
-- SAM reaches over I2C (request 0x29). Facts: docs/reference/cw-usb-protocol.md §4.9 (cited as
-- §N), §6.2. One of the clock sources cwlua.board.clock puts behind board:clock().
--
-- The search is NewAE's (§4.9.6), floors and tie-breaking included, so a Husky cwlua set up
-- runs at the frequency NewAE's Python would have given it; the registers are written in
-- Python's order, each as a read-modify-write (§4.9.4), and what cwlua sends is §4.9.7.
local time = require "cwlua.time"
local common = require "cwlua.board.common"

local M = {}

local fail = common.fail

local REQ_PLL = 0x29                 -- I2C to the CDCI6214 (§4.9.1)
local I2C_READ, I2C_WRITE, I2C_OK = 0, 1, 2

-- CDCI6214 registers and bits (§4.9.2).
local R = { CTRL = 0x00, INPUT = 0x01, GPIO = 0x02, OUTPUTS = 0x04, POWER = 0x05,
            STATUS = 0x07, REF = 0x1A, IN_DIV = 0x1B, FB_MUL = 0x1D, PRESCALE = 0x1E,
            DIV1 = 0x25, CH1 = 0x26, CH1_GL = 0x27, CH2 = 0x2C, DIV3 = 0x31, CH3 = 0x32,
            CH3_GL = 0x33, CH4 = 0x38 }
local RESET_BIT, SYNC_BIT = 1 << 2, 1 << 5 -- register 0x00: commands, only ever set (§4.9.2)
local LOCK_BIT = 1 << 11                   -- register 0x07
local INPUT_FPGA_BIT = 1 << 8              -- register 0x01: 0 = crystal, 1 = the FPGA's clock
local INPUT_BY_REG_BIT = 1 << 9            -- register 0x01: set by NewAE's set-up (§4.9.7)
local DIV_MASK = 0x3FFF                    -- output dividers and the multiplier: bits 13:0
-- bits 15:14 of 0x1D: the feedback prescaler PSFB (0 = 4, 1 = 5, 2 = 6); the search assumes 5
local PSFB_SHIFT, PSFB_5 = 14, 1
-- bits 15:14 of an output divider register: what feeds it (0 = prescaler A, 1 = B, 3 = the
-- reference undivided, "bypass")
local SRC_SHIFT, SRC_A, SRC_B, SRC_BYPASS = 14, 0, 1, 3
local CH3_LVDS = 0x05                      -- register 0x32 bits 7:0 with every ADC divider

local XTAL_HZ = 12e6                       -- the Husky's crystal (§4.9.3)
local VCO_MIN_HZ, VCO_MAX_HZ = 2.4e9, 2.8e9
local PLL_IN_MIN_HZ, PLL_IN_MAX_HZ = 1e6, 100e6
local MUL_MIN, MUL_MAX = 5, 16383
local PRESCALERS = { 4, 5, 6 }             -- encoded as p - 4 (§4.9.2)
-- NewAE's limits on the ADC clock, which lower or raise the multiple (§4.9.6 step 2)
local ADC_MAX_HZ, ADC_MIN_HZ = 300e6, 1e6
local DEFAULT_ADC_MUL = 4                  -- NewAE's adc_mul (§6.2)
local RESET_MS = 100                       -- Python's _reset_time: 0.1 s after a reset (§4.9.3)
local LOCK_RESETS = 10                     -- try_wait_clkgen_locked(10) (§4.9.6)

-- FPGA registers of the Husky's clock (§4.0, §4.9.5).
local EXTFREQ, ADCFREQ, CLKGEN_POWERDOWN, EXTCLK_MONITOR = 5, 8, 48, 82

M.name = "the PLL"
M.source = "pll"
-- clkgen_freq's documented range (§4.9.6)
M.min_hz, M.max_hz = 0.5e6, 350e6

---------------------------------------------------------------------------------------------
-- I2C access (§4.9.1)

--- pll.read_reg(board, reg) -> the 16-bit value (raising "i2c" when the chip does not answer)
function M.read_reg(b, reg)
  b:_ctrl_out(REQ_PLL, 0, string.char(I2C_READ, reg, 0, 0, 0))
  local r = b:_ctrl_in(REQ_PLL, 0, 3, ("PLL read of register 0x%02X"):format(reg))
  if #r ~= 3 or r:byte(1) ~= I2C_OK then
    fail("i2c", "%s: the clock chip (CDCI6214) did not answer the read of its register 0x%02X "
      .. "(I2C status %s); unplug the board and plug it back in", b:_where(), reg,
      tostring(r:byte(1)))
  end
  return string.unpack("<I2", r, 2)
end

--- pll.write_reg(board, reg, value): the write, then its result (2: the chip acknowledged)
function M.write_reg(b, reg, v)
  b:_ctrl_out(REQ_PLL, 0, string.pack("<BBBI2", I2C_WRITE, reg, 0, v))
  local r = b:_ctrl_in(REQ_PLL, 0, 3, ("PLL write of register 0x%02X"):format(reg))
  if #r ~= 3 or r:byte(1) ~= I2C_OK then
    fail("i2c", "%s: the clock chip (CDCI6214) did not take the write of its register 0x%02X "
      .. "(I2C status %s); unplug the board and plug it back in", b:_where(), reg,
      tostring(r:byte(1)))
  end
end

-- Python's update_reg: read, clear `clear`, set `set`, write (§4.9.4); returns the new value.
local function update(b, reg, set, clear)
  local v = (M.read_reg(b, reg) & ~clear & 0xFFFF) | set
  M.write_reg(b, reg, v)
  return v
end

---------------------------------------------------------------------------------------------
-- set-up, reset, sync, lock (§4.9.2-§4.9.4)

-- NewAE's CDCI6214.setup(), in its order: the chip's configuration apart from frequencies
-- (§4.9.4 "When connecting", step 1).
local function setup(b)
  update(b, R.CTRL, (1 << 13) | (1 << 12), 0) -- GPIO1 and GPIO4 as outputs
  update(b, R.OUTPUTS, (1 << 3) | (1 << 4), 0) -- outputs 2 and 4 off
  update(b, R.POWER, 0, 0x7F7)                  -- everything powered
  update(b, R.CH3, 1, 1 << 10)                  -- SYNC on channels 3 and 1
  update(b, R.CH1, 1, 1 << 10)
  update(b, R.CH3_GL, 1, 1)                     -- glitchless output off on channels 3 and 1
  update(b, R.CH1_GL, 1, 1)
  update(b, R.CH2, 1 << 7, 0x7 << 2)            -- channels 2 and 4 muted, buffers off
  update(b, R.CH4, 1 << 7, 0x7 << 2)
  update(b, R.REF, (1 << 15) | (0x0B << 8), (1 << 15) | 0x3 | (0xFF << 8)) -- crystal reference
  update(b, R.INPUT, INPUT_BY_REG_BIT, 0x3 << 8) -- input chosen by bit 8 = crystal
  update(b, R.GPIO, 0, 0xF)                     -- GPIO1 shows PLL lock
end

-- set_pll_input(True): the crystal, divided by 3, PSFB 5 × 125, both prescalers ÷4 (§4.9.4
-- "When connecting", step 2).
local function input_crystal(b)
  update(b, R.INPUT, 0, INPUT_FPGA_BIT)
  update(b, R.IN_DIV, 3, 0xFF)
  update(b, R.FB_MUL, 125 | (1 << 14), 0xFFFF)
  update(b, R.PRESCALE, 0, 0x0F)
end

local function locked(b)
  return M.read_reg(b, R.STATUS) & LOCK_BIT ~= 0
end

-- reset(): relock, then Python's 0.1 s
local function reset(b)
  update(b, R.CTRL, RESET_BIT, 0)
  time.sleep(RESET_MS)
end

-- The front panel's sticky "ADC" (PLL unlocked) LED: masked, then armed again, so a PLL that
-- relocked after a change leaves it off (§4.9.5).
local function clear_adc_led(b)
  b:_fpga_write(ADCFREQ, "\1")
  b:_fpga_write(ADCFREQ, "\0")
end

---------------------------------------------------------------------------------------------
-- frequencies (§4.9.3)

local function fpga_hz(b, reg) -- a frequency counter: Hz = count × SYSTEMCLK / 2^23 (§4.0)
  return string.unpack("<I4", b:_fpga_read(reg, 4)) * b:_systemclk() / 2 ^ 23
end

-- The registers that decide the frequencies, and what they give (§4.9.2, §4.9.3).
local function state(b)
  local s = { input = M.read_reg(b, R.INPUT), in_div = M.read_reg(b, R.IN_DIV) & 0xFF,
              r1D = M.read_reg(b, R.FB_MUL), r1E = M.read_reg(b, R.PRESCALE),
              r25 = M.read_reg(b, R.DIV1), r31 = M.read_reg(b, R.DIV3) }
  s.mul, s.psfb = s.r1D & DIV_MASK, PRESCALERS[(s.r1D >> PSFB_SHIFT) + 1]
  s.prescale = PRESCALERS[(s.r1E & 0x3) + 1] -- prescaler A, what the search sets
  s.div1, s.div3 = s.r25 & DIV_MASK, s.r31 & DIV_MASK
  s.bypass = s.r31 >> SRC_SHIFT == SRC_BYPASS
  s.fpga_input = s.input & INPUT_FPGA_BIT ~= 0
  s.fin = s.fpga_input and fpga_hz(b, EXTFREQ) or XTAL_HZ
  s.pll_in = s.in_div == 0 and s.fin * 2 or s.fin / s.in_div -- 0: the doubler
  s.vco = s.psfb and s.pll_in * s.psfb * s.mul
  return s
end

-- What an output divider register gives: the VCO through the prescaler its bits 15:14 choose
-- and its divider, in Python's order of operations ((f_in / d) × m / div) / p × PSFB (§4.9.6
-- step 4); 0 when off, nil when it cannot be known (bypass, a reserved code).
local function out_hz(s, reg)
  local div, src = reg & DIV_MASK, reg >> SRC_SHIFT
  if src == SRC_BYPASS or not s.psfb then return nil end
  if div == 0 then return 0 end
  local p = src == SRC_A and s.prescale or
    (src == SRC_B and PRESCALERS[((s.r1E >> 2) & 0x3) + 1])
  if not p then return nil end
  return s.pll_in * s.mul / div / p * s.psfb
end

--- pll.adc_multiple(hz, k) -> k as NewAE adjusts it (§4.9.6 step 2): the ADC clock k × hz kept
-- within 1 MHz and 300 MHz; 0 stays 0 (ADC clock off)
function M.adc_multiple(hz, k)
  if k == 0 then return 0 end
  while k * hz > ADC_MAX_HZ do k = k - 1 end
  while k * hz < ADC_MIN_HZ do k = k + 1 end
  return k
end

--- pll.search(hz, k [, fin]) -> { in_div, mul, prescale, div1, div3, error } | nil: NewAE's
-- set_outfreqs search (§4.9.6) for a target clock hz and an ADC multiple k (0: ADC off, div3
-- 0), from fin (default the 12 MHz crystal): every input divider d in increasing order whose
-- fin // d lies within 1..100 MHz, every multiplier in increasing order that keeps the VCO
-- within 2.4..2.8 GHz, prescalers 4, 5, 6; the output divider rounded and lowered to a
-- multiple of k; the first strictly smallest relative error wins. The floor divisions are
-- NewAE's: they decide which of two near candidates wins.
function M.search(hz, k, fin)
  fin = fin or XTAL_HZ
  local step = k == 0 and 1 or k
  local best, best_err = nil, math.huge
  for d = 1, 255 do
    local pll_in = fin // d
    if pll_in >= PLL_IN_MIN_HZ and pll_in <= PLL_IN_MAX_HZ then
      local lo = math.max(MUL_MIN, math.floor(VCO_MIN_HZ / (pll_in * 5)) - 1)
      local hi = math.min(MUL_MAX, math.ceil(VCO_MAX_HZ / (pll_in * 5)) + 1)
      for m = lo, hi do
        local vco = pll_in * 5 * m
        if vco >= VCO_MIN_HZ and vco <= VCO_MAX_HZ then
          for _, p in ipairs(PRESCALERS) do
            local before_div = (pll_in * m * 5) // p
            local div = math.floor(before_div / hz + 0.5)
            div = div - div % step
            local err = math.abs(hz - before_div / div) / hz -- div 0: infinite, never chosen
            if err < best_err then
              best_err = err
              best = { in_div = d, mul = m, prescale = p, div1 = div,
                       div3 = k == 0 and 0 or div // k, error = err }
            end
          end
        end
      end
    end
  end
  return best
end

--- pll.frequencies(r [, fin]) -> target Hz, ADC Hz: what a search result makes from fin (the
-- crystal by default) with PSFB 5, computed as Python's getters do (§4.9.6 step 4)
function M.frequencies(r, fin)
  local s = { fin = fin or XTAL_HZ, in_div = r.in_div, mul = r.mul, psfb = 5,
              prescale = r.prescale }
  s.pll_in = s.fin / r.in_div
  return out_hz(s, r.div1), out_hz(s, r.div3)
end

---------------------------------------------------------------------------------------------
-- setting the clock (§4.9.7)

local function describe(s)
  return ("reference divider %d, feedback x%s x%d, VCO %s GHz, prescaler /%s, output /%d")
    :format(s.in_div, tostring(s.psfb), s.mul, s.vco and ("%.4f"):format(s.vco / 1e9) or "?",
      tostring(s.prescale), s.div1)
end

-- try_wait_clkgen_locked(10): a reset (with its 0.1 s) and the LED clear before each further
-- look, 10 at most (§4.9.6); a PLL that never locks is a board fault.
local function wait_lock(b, hz)
  local resets = 0
  while not locked(b) do
    if resets == LOCK_RESETS then
      local st = M.read_reg(b, R.STATUS)
      fail("unlocked", "%s: PLL did not lock %s (CDCI6214: %s; register 0x07 reads 0x%04X "
        .. "after %d resets over %.1f s); unplug the board and plug it back in", b:_where(),
        hz and ("at %.0f Hz"):format(hz) or "on the settings it was found with",
        describe(state(b)), st, LOCK_RESETS, LOCK_RESETS * RESET_MS / 1000)
    end
    reset(b)
    clear_adc_led(b)
    resets = resets + 1
  end
end

-- The writes of set_outfreqs step 5 for a search result (§4.9.6), then the LED clear;
-- `relock`: the input changed already. Leaves the ADC output alone in bypass (leave_adc).
local function apply(b, s, r, relock, leave_adc)
  update(b, R.PRESCALE, r.prescale - 4, 0x3)
  if r.in_div ~= s.in_div then
    update(b, R.IN_DIV, r.in_div, 0xFF)
    relock = true
  end
  if r.mul ~= s.mul then
    update(b, R.FB_MUL, r.mul, DIV_MASK)
    relock = true
  end
  update(b, R.DIV1, r.div1, 0xFFFF)
  if not leave_adc then
    update(b, R.DIV3, r.div3, 0xFFFF)
    update(b, R.CH3, CH3_LVDS, 0xFF)
  end
  if relock or not locked(b) then reset(b) end
  update(b, R.CTRL, SYNC_BIT, 0)
  clear_adc_led(b)
end

--- pll.set(board, hz [, opts]) -> the search result: NewAE's dividers for a target clock hz
-- from the crystal, written and locked (raising). opts.adc_mul: the ADC clock's multiple of
-- hz (0 = off); default 4, NewAE's adc_mul for every new connection (the registers cannot
-- tell a multiple someone chose from a chip that was never set up).
function M.set(b, hz, opts)
  local input = M.read_reg(b, R.INPUT)
  if input & INPUT_BY_REG_BIT == 0 then -- never set up since power-up: NewAE's set-up first
    setup(b)
    input = M.read_reg(b, R.INPUT)
  end
  local relock = false
  if input & INPUT_FPGA_BIT ~= 0 then -- the FPGA's clock as input: the crystal instead
    update(b, R.INPUT, 0, INPUT_FPGA_BIT)
    relock = true
  end
  local s = state(b)
  if s.r1D >> PSFB_SHIFT ~= PSFB_5 then -- the search's "× 5" is PSFB = 5 (§4.9.7)
    update(b, R.FB_MUL, PSFB_5 << PSFB_SHIFT, 0x3 << PSFB_SHIFT)
    relock = true
  end
  local k = opts and opts.adc_mul
  if k == nil then k = DEFAULT_ADC_MUL end
  k = M.adc_multiple(hz, k)
  local r = M.search(hz, k, XTAL_HZ)
  if not r then
    fail("invalid", "%s: the PLL cannot make %.6g Hz with the ADC clock at x%d", b:_where(),
      hz, k)
  end
  r.adc_mul = k
  apply(b, s, r, relock, s.bypass)
  wait_lock(b, hz)
  return r
end

--- pll.default_setup(board): the clock part of NewAE's Husky default_setup() as cwlua sends
-- it after loading the bitstream (§6.2): the chip's set-up, the crystal as input, prescaler B
-- ÷4, 7.37 MHz with the ADC at ×4, locked; the FPGA's own clock generator powered down and
-- the external-clock monitor off.
function M.default_setup(b, hz)
  setup(b)
  input_crystal(b)
  M.set(b, hz, { adc_mul = DEFAULT_ADC_MUL })
  b:_fpga_write(CLKGEN_POWERDOWN, "\3")
  b:_fpga_write(EXTCLK_MONITOR, "\0\0\0\0")
  clear_adc_led(b)
end

---------------------------------------------------------------------------------------------
-- reading, snapshot, restore

--- pll.read(board [, measure]) -> hz | false, source, info: the target clock the PLL gives
-- (false with "pll off" or "pll unlocked"). info: dividers { input, input_hz, input_div,
-- feedback_prescaler, feedback_mul, vco_hz, prescaler, target_div, adc_div }, adc_hz (0: off;
-- nil: bypassed), adc_mul, locked, and with measure the FPGA's count of the ADC clock
-- (measured_adc_hz) and a note on what it confirms.
function M.read(b, measure)
  local s = state(b)
  local is_locked = locked(b)
  local info = {
    dividers = { input = s.fpga_input and "fpga" or "crystal", input_hz = s.fin,
                 input_div = s.in_div, feedback_prescaler = s.psfb, feedback_mul = s.mul,
                 vco_hz = s.vco, prescaler = s.prescale, target_div = s.div1,
                 adc_div = s.div3 },
    adc_hz = out_hz(s, s.r31), locked = is_locked,
  }
  if s.div1 > 0 and s.div3 > 0 and s.div1 % s.div3 == 0 then info.adc_mul = s.div1 // s.div3 end
  if measure then
    info.measured_adc_hz = fpga_hz(b, ADCFREQ)
    if not is_locked then
      info.note = "the PLL reports no lock"
    elseif not info.adc_hz or info.adc_hz == 0 then
      info.note = "PLL locked (its ADC output is not running from it, so the FPGA has nothing "
        .. "to count)"
    elseif math.abs(info.measured_adc_hz - info.adc_hz) <= info.adc_hz * 0.01 then
      info.note = ("PLL locked, its ADC output counted at %.2f MHz by the FPGA as set"):format(
        info.measured_adc_hz / 1e6)
    else
      info.note = ("PLL locked, but the FPGA counts its ADC output at %.2f MHz, not the %.2f "
        .. "MHz set"):format(info.measured_adc_hz / 1e6, info.adc_hz / 1e6)
    end
  end
  local hz = out_hz(s, s.r25)
  if hz == 0 then return false, "pll off", info end
  if not is_locked then return false, "pll unlocked", info end
  if not hz then return false, "invalid", info end
  return hz, M.source, info
end

local SAVED = { R.INPUT, R.PRESCALE, R.IN_DIV, R.FB_MUL, R.DIV1, R.DIV3, R.CH3 }

--- pll.snapshot(board) -> the registers §4.9.7 names, and whether the PLL was locked
function M.snapshot(b)
  local s = { locked = locked(b) }
  for _, reg in ipairs(SAVED) do s[reg] = M.read_reg(b, reg) end
  return s
end

--- pll.restore(board, s): write back what changed, in set_outfreqs' order; relock when the
-- input, divider or multiplier changed (or the lock was lost), and wait for it when the PLL
-- was locked before (raising)
function M.restore(b, s)
  local changed, relock = false, false
  for _, reg in ipairs(SAVED) do
    if M.read_reg(b, reg) ~= s[reg] then
      M.write_reg(b, reg, s[reg])
      changed = true
      if reg == R.INPUT or reg == R.IN_DIV or reg == R.FB_MUL then relock = true end
    end
  end
  if not changed and (locked(b) or not s.locked) then return end
  if relock or (s.locked and not locked(b)) then reset(b) end
  update(b, R.CTRL, SYNC_BIT, 0)
  clear_adc_led(b)
  if s.locked then wait_lock(b) end
end

return M
