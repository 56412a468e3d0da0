-- SPDX-License-Identifier: MIT
-- cwlua.devspec: the -d/--device SPEC grammar of contract.md §3.4 (M.SPECS):
--   usb                 the only board attached (an error lists them when there are several)
--   usb:SERIAL          the board with that serial number
--   serial:PATH         a plain serial adapter
--   sim                 the simulated CW-Lite
--   sim:BOARD           a simulated cwlite, cw1200, husky or nano
--   sim:BOARD@SERIAL    one with that serial number, and chips of its own (contract.md §5.5)
-- and several boards at once (cwlua.multi runs a command on each, in parallel):
--   usb:*               every ChipWhisperer board attached
--   ITEM,ITEM,...       each a usb:SERIAL or a sim:BOARD@SERIAL
local errors = require "cwlua.errors"

local M = {}

M.SIM_BOARDS = { "cwlite", "cw1200", "husky", "nano" }
local SIM_BOARD = {}
for _, b in ipairs(M.SIM_BOARDS) do SIM_BOARD[b] = true end

-- The grammar, { spec, meaning, many = several boards at once }: -d's help, the man page and
-- the shell completion.
M.SPECS = {
  { "usb", "the only ChipWhisperer board attached (with several, the error lists them)" },
  { "usb:SERIAL", "the board with that USB serial number ('cwlua list' shows them)" },
  { "serial:PATH", "a plain serial port, e.g. serial:/dev/ttyUSB0 (a USB-serial adapter)" },
  { "sim", "the simulated CW-Lite" },
  { "sim:BOARD", "a simulated board: " .. table.concat(M.SIM_BOARDS, ", ") },
  { "sim:BOARD@SERIAL", "a simulated board with that serial number and chips of its own" },
  { "usb:*", "every ChipWhisperer board attached, each at the same time (docs/lab.md)",
    many = true },
  { "usb:SERIAL1,usb:SERIAL2", "the boards listed, each at the same time: a list of "
    .. "usb:SERIAL and sim:BOARD@SERIAL", many = true },
}
M.NAMES = {}
for i, s in ipairs(M.SPECS) do M.NAMES[i] = s[1] end

-- the names of one kind: single boards (many false) or several (many true)
local function names(many)
  local out = {}
  for _, s in ipairs(M.SPECS) do
    if (s.many or false) == many then out[#out + 1] = s[1] end
  end
  return out
end
M.ONE, M.MANY = names(false), names(true)

local GRAMMAR = table.concat(M.ONE, ", ", 1, #M.ONE - 1) .. " or " .. M.ONE[#M.ONE]
  .. " (BOARD: " .. table.concat(M.SIM_BOARDS, ", ") .. "); several boards: "
  .. table.concat(M.MANY, " or ")

-- A serial number as a USB string descriptor carries it: printable ASCII, no spaces, at most
-- 126 characters (cw-usb-protocol.md §1.1; the simulator takes the same, cwsim.h).
local function serial_ok(s)
  return #s >= 1 and #s <= 126 and not s:find("[^\33-\126]")
end

local function parse_one(spec, where, in_list)
  local kind, rest = spec:match("^(%a+):(.*)$")
  kind = kind or (spec:find("^sim@") and "sim") or spec
  if kind == "usb" then
    if rest == "" then
      errors.raise("usage", "device spec '%s'%s has an empty serial number; use usb or usb:SERIAL",
        spec, where)
    end
    if in_list and rest == nil then
      errors.raise("usage", "'usb' in the device list '%s'%s names no board; give each as "
        .. "usb:SERIAL (cwlua list shows the serial numbers), or use usb:* for every board",
        in_list, where)
    end
    if rest == "*" and in_list then
      errors.raise("usage", "usb:* in the device list '%s'%s: usb:* stands alone (every board); "
        .. "or list the boards as usb:SERIAL,...", in_list, where)
    end
    return { kind = "usb", serial = rest }
  elseif kind == "serial" then
    if rest == nil or rest == "" then
      errors.raise("usage", "device spec '%s'%s needs a port: serial:/dev/ttyUSB0", spec, where)
    end
    return { kind = "serial", path = rest }
  elseif kind == "sim" then
    local body = spec:match("^sim:(.*)$") or spec:match("^sim(@.*)$") or ""
    local board, serial = body:match("^([^@]*)@(.*)$")
    board = board or body
    if board == "" then board = "cwlite" end
    if board == "*" then
      errors.raise("usage", "device spec '%s'%s: the in-process simulator has no boards to "
        .. "look for; name each with its own serial, e.g. -d sim:cwlite@A,sim:cwlite@B (or run "
        .. "cwlua under 'cwlua sim attach BOARD@SERIAL ...' and use usb:*)", spec, where)
    end
    if not SIM_BOARD[board] then
      errors.raise("usage", "unknown simulated board '%s' in device spec '%s'%s; use sim:%s",
        board, spec, where, table.concat(M.SIM_BOARDS, ", sim:"))
    end
    if serial ~= nil and not serial_ok(serial) then
      errors.raise("usage", "device spec '%s'%s: bad serial number '%s' (1 to 126 printable "
        .. "characters, no spaces)", spec, where, serial)
    end
    if in_list and serial == nil then
      errors.raise("usage", "'%s' in the device list '%s'%s needs a serial number of its own: "
        .. "sim:%s@SERIAL (boards without one would share the simulator's default board)",
        spec, in_list, where, board)
    end
    return { kind = "sim", board = board, serial = serial }
  end
  errors.raise("usage", "bad device spec '%s'%s; use %s", spec, where, GRAMMAR)
end

--- devspec.parse(spec [, source]) -> { kind = "usb"|"serial"|"sim", serial=, path=, board= },
-- or for several boards { kind = "many", all = true (usb:*) | items = { parsed, ... } }.
-- Raises a usage error naming source (e.g. "CWLUA_DEVICE") for a malformed spec.
function M.parse(spec, source)
  local where = source and (" (from " .. source .. ")") or ""
  if spec == "usb:*" then return { kind = "many", all = true, spec = spec } end
  if spec:find(",", 1, true) and not spec:find("^serial:") then
    local items, seen = {}, {}
    for item in (spec .. ","):gmatch("([^,]*),") do
      if item == "" then
        errors.raise("usage", "device list '%s'%s has an empty entry; separate the boards "
          .. "with single commas", spec, where)
      end
      local p = parse_one(item, where, spec)
      if p.kind == "serial" then
        errors.raise("usage", "device list '%s'%s: serial adapters run one at a time; list "
          .. "boards (usb:SERIAL, sim:BOARD@SERIAL)", spec, where)
      end
      if seen[p.serial] then
        errors.raise("usage", "device list '%s'%s names the board %s twice", spec, where,
          p.serial)
      end
      seen[p.serial] = true
      p.spec = item
      items[#items + 1] = p
    end
    return { kind = "many", items = items, spec = spec }
  end
  local p = parse_one(spec, where, nil)
  p.spec = spec
  return p
end

--- devspec.names_sim(parsed) -> true when the spec names a simulated board (for many: any)
function M.names_sim(p)
  if p.kind == "sim" then return true end
  for _, item in ipairs(p.kind == "many" and p.items or {}) do
    if item.kind == "sim" then return true end
  end
  return false
end

return M
