-- SPDX-License-Identifier: MIT
-- cwlua.board.pck: the target clock of a CW-Nano, the SAM's PCK2: 240 MHz / div with div one of
-- 1, 2, 4, ..., 64, set and read with request 0x27. Facts: docs/reference/cw-usb-protocol.md
-- §7.2 (cited as §N). One of the clock sources cwlua.board.clock puts behind board:clock().
local M = {}

local REQ_CLKOUT = 0x27   -- OUT [div, 0, 0], IN [div, 0, 0]; div 0 = off (§7.2)
local SOURCE_HZ = 240e6   -- PCK2's source (§7.2)
local DIVS = { 1, 2, 4, 8, 16, 32, 64 }

M.name = "the Nano's clock output (240 MHz / 1, 2, 4, ..., 64)"
M.source = "pck2"
M.min_hz, M.max_hz = SOURCE_HZ / DIVS[#DIVS], SOURCE_HZ / DIVS[1]

--- pck.search(hz) -> div, achieved: NewAE's choice (§7.2): the first divider with the smallest
-- |240 MHz / div - hz|, so a tie goes to the higher frequency
function M.search(hz)
  local best
  for _, d in ipairs(DIVS) do
    if not best or math.abs(SOURCE_HZ / d - hz) < math.abs(SOURCE_HZ / best - hz) then
      best = d
    end
  end
  return best, SOURCE_HZ / best
end

--- pck.set(board, hz): the divider for hz (raising)
function M.set(b, hz)
  b:_ctrl_out(REQ_CLKOUT, 0, string.char(M.search(hz), 0, 0))
end

--- pck.off(board): stop the clock (the pin becomes an input, §7.2)
function M.off(b)
  b:_ctrl_out(REQ_CLKOUT, 0, "\0\0\0")
end

--- pck.read(board) -> hz | false, source, info (dividers { input_hz, div })
function M.read(b)
  local div = b:_ctrl_in(REQ_CLKOUT, 0, 3):byte(1)
  if div == 0 then return false, "off" end
  return SOURCE_HZ / div, M.source, { dividers = { input_hz = SOURCE_HZ, div = div } }
end

--- pck.snapshot(board) -> the 3 bytes 0x27 reports; pck.restore(board, s) writes them back
function M.snapshot(b)
  return b:_ctrl_in(REQ_CLKOUT, 0, 3)
end

function M.restore(b, s)
  b:_ctrl_out(REQ_CLKOUT, 0, s)
end

return M
