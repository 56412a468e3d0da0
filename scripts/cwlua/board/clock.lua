-- SPDX-License-Identifier: MIT
-- cwlua.board.clock: the target clock on HS2 (docs/reference/cw-usb-protocol.md §4.3, cited as
-- §N), whatever makes it: the CW-Lite's and CW1200's DCM (cwlua.board.clkgen), the Husky's
-- CDCI6214 PLL (cwlua.board.pll), the Nano's PCK2 (cwlua.board.pck). This module routes HS2
-- on the boards with an FPGA, checks a request against what the board's source can make, and
-- leaves the arithmetic and registers to the source.
local common = require "cwlua.board.common"

local M = {}

local SOURCES = { dcm = require "cwlua.board.clkgen", pll = require "cwlua.board.pll",
                  pck = require "cwlua.board.pck" }

-- HS2 output, CW_EXTCLK (38) bits 6..5 (§4.3).
local EXTCLK = 38
local HS2_MASK, HS2_OFF, HS2_CLKGEN, HS2_GLITCH = 0x60, 0x00, 0x40, 0x60
M.HS2_CLKGEN = HS2_CLKGEN

--- clock.source(board) -> the module behind the board's target clock
function M.source(b)
  return SOURCES[b._kind.clkgen]
end

--- clock.hs2(board [, value]) -> bits 6..5 of CW_EXTCLK (after writing value there)
function M.hs2(b, value)
  local v = b:_fpga_read(EXTCLK, 1):byte()
  if value ~= nil then
    v = (v & ~HS2_MASK) | value -- read-modify-write of bits 6..5 (§4.3)
    b:_fpga_write(EXTCLK, string.char(v))
  end
  return v & HS2_MASK
end

local function mhz(hz) -- 0.753, 200, 3.75: three decimals at most, no trailing zeros
  return (("%.3f"):format(hz / 1e6):gsub("%.?0+$", ""))
end

--- clock.read(board [, measure]) -> hz | false, source, info (see board:clock)
function M.read(b, measure)
  local src = M.source(b)
  if not b._kind.fpga then return src.read(b, measure) end
  local hs2 = M.hs2(b)
  if hs2 == HS2_OFF then return false, "off" end
  if hs2 == HS2_GLITCH then return false, "glitch" end
  if hs2 ~= HS2_CLKGEN then return false, "invalid" end
  return src.read(b, measure)
end

--- clock.set(board, hz [, opts]) -> hz, source, info: program the source for hz (refused with
-- "invalid" outside its range, before anything is written) and route it to HS2
function M.set(b, hz, opts)
  local src = M.source(b)
  if opts and opts.adc_mul ~= nil and src ~= SOURCES.pll then
    common.fail("invalid", "%s: a %s has no ADC clock made with the target clock (the ADC "
      .. "multiple is a CW-Husky's)", b:_where(), b._kind.name)
  end
  if hz < src.min_hz or hz > src.max_hz then
    common.fail("invalid", "%s: %.6g Hz is outside what %s can make (%s to %s MHz)",
      b:_where(), hz, src.name, mhz(src.min_hz), mhz(src.max_hz))
  end
  src.set(b, hz, opts)
  if b._kind.fpga then M.hs2(b, HS2_CLKGEN) end
  return M.read(b)
end

--- clock.off(board) -> false, "off": HS2 off (the FPGA boards' sources keep running), or the
-- Nano's output stopped
function M.off(b)
  local src = M.source(b)
  if b._kind.fpga then M.hs2(b, HS2_OFF) else src.off(b) end
  return false, "off"
end

--- clock.snapshot(board) / clock.restore(board, s): the source's state, then HS2 (§4.3) is the
-- board's to save with the rest of CW_EXTCLK
function M.snapshot(b)
  return M.source(b).snapshot(b)
end

function M.restore(b, s)
  M.source(b).restore(b, s)
end

return M
