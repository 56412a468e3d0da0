-- SPDX-License-Identifier: MIT
-- cwlua.cmdutil: what the board commands share — opening the board from -d and the --sim-*
-- options, and turning world failures into the exit codes of contract.md §3.
local board = require "cwlua.board"
local errors = require "cwlua.errors"

local M = {}

--- cmdutil.fail(msg, code): raise the CLI error for a failed board call: 2 for a request the
-- board cannot meet (nothing was changed), 3 for a board, USB or port problem, 1 "out of
-- memory" when an allocation failed (errors.world). The error carries code and, where there is
-- one, its contract.md §6 cause (cwlua.connect.CAUSE).
function M.fail(msg, code)
  error(errors.world(code, msg, { code = code, cause = require("cwlua.connect").CAUSE[code] }),
    0)
end

--- cmdutil.check(value, ...) -> value, ... (all of them), or raises through cmdutil.fail when
-- value is nil (then ... is msg, code)
function M.check(value, ...)
  if value == nil then M.fail(...) end
  return value, ...
end

--- cmdutil.open_board([sim_target]) -> board (raises exit 3 when there is none).
-- sim_target: the part a simulated board carries when --sim-target was not given.
function M.open_board(sim_target)
  return M.check(board.open_default(sim_target))
end

--- cmdutil.hz(text) -> number: "7.37e6", "7370000", "7.37M", "7.37MHz", "32k", "8 MHz"
function M.hz(text)
  local num, unit = tostring(text):lower():gsub("%s", ""):match("^([%d.e+%-]+)(%a*)$")
  local scale = ({ [""] = 1, hz = 1, k = 1e3, khz = 1e3, m = 1e6, mhz = 1e6, g = 1e9,
                    ghz = 1e9 })[unit or ""]
  local v = num and tonumber(num)
  if not v or not scale or v <= 0 then
    errors.raise("usage", "'%s' is not a frequency; give Hz like 7.37e6, 7370000 or 7.37MHz",
      tostring(text))
  end
  return v * scale
end

--- cmdutil.ms(text, what) -> a non-negative number of milliseconds
function M.ms(text, what)
  local v = tonumber(text)
  if not v or v < 0 then
    errors.raise("usage", "%s needs a number of milliseconds, got '%s'", what, tostring(text))
  end
  return v
end

return M
