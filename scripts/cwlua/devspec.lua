-- SPDX-License-Identifier: MIT
-- cwlua.devspec: the -d/--device SPEC grammar of contract.md §3 (M.SPECS: usb, usb:SERIAL,
-- serial:PATH, sim, sim:BOARD).
local errors = require "cwlua.errors"

local M = {}

M.SIM_BOARDS = { "cwlite", "cw1200", "husky", "nano" }
local SIM_BOARD = {}
for _, b in ipairs(M.SIM_BOARDS) do SIM_BOARD[b] = true end

-- The grammar, { spec, meaning }: -d's help, the man page and the shell completion.
M.SPECS = {
  { "usb", "the only ChipWhisperer board attached (with several, the error lists them)" },
  { "usb:SERIAL", "the board with that USB serial number ('cwlua list' shows them)" },
  { "serial:PATH", "a plain serial port, e.g. serial:/dev/ttyUSB0 (a USB-serial adapter)" },
  { "sim", "the simulated CW-Lite" },
  { "sim:BOARD", "a simulated board: " .. table.concat(M.SIM_BOARDS, ", ") },
}
M.NAMES = {}
for i, s in ipairs(M.SPECS) do M.NAMES[i] = s[1] end

local GRAMMAR = table.concat(M.NAMES, ", ", 1, #M.NAMES - 1) .. " or " .. M.NAMES[#M.NAMES]
  .. " (BOARD: " .. table.concat(M.SIM_BOARDS, ", ") .. ")"

--- devspec.parse(spec [, source]) -> { kind = "usb"|"serial"|"sim", serial=, path=, board= }
-- Raises a usage error naming source (e.g. "CWLUA_DEVICE") for a malformed spec.
function M.parse(spec, source)
  local where = source and (" (from " .. source .. ")") or ""
  local kind, rest = spec:match("^(%a+):(.*)$")
  kind = kind or spec
  if kind == "usb" then
    if rest == "" then
      errors.raise("usage", "device spec '%s'%s has an empty serial number; use usb or usb:SERIAL",
        spec, where)
    end
    return { kind = "usb", serial = rest }
  elseif kind == "serial" then
    if rest == nil or rest == "" then
      errors.raise("usage", "device spec '%s'%s needs a port: serial:/dev/ttyUSB0", spec, where)
    end
    return { kind = "serial", path = rest }
  elseif kind == "sim" then
    local board = rest or "cwlite"
    if not SIM_BOARD[board] then
      errors.raise("usage", "unknown simulated board '%s' in device spec '%s'%s; use sim:%s",
        board, spec, where, table.concat(M.SIM_BOARDS, ", sim:"))
    end
    return { kind = "sim", board = board }
  end
  errors.raise("usage", "bad device spec '%s'%s; use %s", spec, where, GRAMMAR)
end

return M
