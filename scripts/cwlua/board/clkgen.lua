-- SPDX-License-Identifier: MIT
-- cwlua.board.clkgen: the target clock of a CW-Lite or CW1200 Pro, the FPGA's DCM_CLKGEN:
-- 96 MHz × M / D in ADVCLOCK (register 6). Facts: docs/reference/cw-usb-protocol.md §4.8
-- (cited as §N), §6.1. One of the clock sources cwlua.board.clock puts behind board:clock().
local time = require "cwlua.time"
local common = require "cwlua.board.common"

local M = {}

local fail, getbyte, setbyte = common.fail, common.getbyte, common.setbyte

local ADVCLOCK, GLITCH = 6, 51 -- §4.0

M.name = "the clock generator"
M.source = "clkgen"
-- The DCM_CLKGEN range cwlua accepts: Python warns below 3.2 MHz that the DCM may not lock
-- (§4.8); the exact limits are unconfirmed, so the lock bit decides in the end.
M.min_hz, M.max_hz = 96e6 * 2 / 255, 200e6

--- clkgen.search(hz, fin) -> mul, div, achieved: NewAE's exact search (§4.8): mul 2..256
-- outer, div 1..maxdiv-1 inner, the first strict minimum of |hz - fin*mul/div|.
function M.search(hz, fin)
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

local function advclock(b)
  return b:_fpga_read(ADVCLOCK, 4)
end

--- clkgen.pulse(board, adv, i, bit) -> adv: pulse bit `bit` of byte `i` of ADVCLOCK (set,
-- write; clear, write)
function M.pulse(b, adv, i, bit)
  adv = setbyte(adv, i, getbyte(adv, i) | bit)
  b:_fpga_write(ADVCLOCK, adv)
  adv = setbyte(adv, i, getbyte(adv, i) & ~bit)
  b:_fpga_write(ADVCLOCK, adv)
  return adv
end

--- clkgen.glitch_dcm_reset(board): CLOCKGLITCH_SETTINGS (51) byte 5 bit 1 pulse (§4.6, §4.8)
function M.glitch_dcm_reset(b)
  local g = b:_fpga_read(GLITCH, 8)
  b:_fpga_write(GLITCH, setbyte(g, 6, getbyte(g, 6) | 0x02))
  b:_fpga_write(GLITCH, setbyte(g, 6, getbyte(g, 6) & ~0x02))
end

-- Reset the CLKGEN DCM and reload M/D (§4.8 step 4).
local function reset(b, adv)
  adv = setbyte(adv, 4, getbyte(adv, 4) | 0x04)
  b:_fpga_write(ADVCLOCK, adv)
  adv = setbyte(setbyte(adv, 1, getbyte(adv, 1) & ~0x10), 4, getbyte(adv, 4) & ~0x04)
  b:_fpga_write(ADVCLOCK, adv)
  adv = M.pulse(b, adv, 4, 0x01) -- LOAD
  M.glitch_dcm_reset(b)
  return adv
end

--- clkgen.program(board, mul, div): program M and D and wait for the DCM to lock (§4.8 steps
-- 1-4, then NewAE's try_wait_clkgen_locked: up to 5 polls 50 ms apart with a DCM reset
-- between, §6.1 step 13). A DCM that does not lock raises "unlocked".
function M.program(b, mul, div)
  local adv = advclock(b)
  if getbyte(adv, 1) & 0x08 ~= 0 then -- CLKGEN input = EXTCLK: use the system clock (§4.8)
    adv = setbyte(adv, 1, getbyte(adv, 1) & ~0x08)
  end
  adv = setbyte(adv, 2, mul - 1)
  adv = M.pulse(b, adv, 4, 0x01)
  adv = setbyte(adv, 3, div - 1)
  adv = M.pulse(b, adv, 4, 0x01)
  reset(b, adv)
  for _ = 1, 5 do
    adv = advclock(b)
    local done, locked = getbyte(adv, 4) & 0x02 ~= 0, getbyte(adv, 1) & 0x20 ~= 0
    if done and locked then return end
    reset(b, adv)
    time.sleep(50)
  end
  fail("unlocked", "%s: the clock generator did not lock at M=%d D=%d (ADVCLOCK reads %s)",
    b:_where(), mul, div, common.hex(adv))
end

--- clkgen.set(board, hz): NewAE's M and D for hz, programmed and locked (raising)
function M.set(b, hz)
  local mul, div = M.search(hz, b:_systemclk())
  M.program(b, mul, div)
end

--- clkgen.read(board) -> hz | false, source, info: the DCM's output while HS2 carries it.
-- info: dividers { input_hz, mul, div }, locked (ADVCLOCK b0 bit 5), note.
function M.read(b)
  local adv = advclock(b)
  if getbyte(adv, 4) & 0x02 == 0 then return false, "not loaded" end -- DONE clear (§4.8)
  local fin, mul, div = b:_systemclk(), getbyte(adv, 2) + 1, getbyte(adv, 3) + 1
  local locked = getbyte(adv, 1) & 0x20 ~= 0
  return fin * mul / div, M.source, {
    dividers = { input_hz = fin, mul = mul, div = div }, locked = locked,
    note = locked and "DCM locked" or "the DCM reports no lock",
  }
end

--- clkgen.snapshot(board) -> what clkgen.restore needs
function M.snapshot(b)
  return advclock(b)
end

--- clkgen.restore(board, s): program M and D back when they changed
function M.restore(b, adv)
  local now = advclock(b)
  if now:byte(2) ~= adv:byte(2) or now:byte(3) ~= adv:byte(3) then
    M.program(b, adv:byte(2) + 1, adv:byte(3) + 1)
  end
end

return M
