-- SPDX-License-Identifier: MIT
-- cwlua list: the boards on USB (and the simulated one with -d sim) and the serial ports.
local board = require "cwlua.board"
local connect = require "cwlua.connect"
local device = require "cwlua.core.device"
local devspec = require "cwlua.devspec"
local json = require "cwlua.json"

local NEWAE_VID = 0x2B3E -- cw-usb-protocol.md §1.1

-- Why a board could not be opened or asked, and what to do, in a few words.
local function problem(e)
  if e.code == "access" then
    return "permission denied: install cwlua's udev rule, see docs/install.md"
  elseif e.code == "busy" then
    return "busy: another program has it open"
  end
  return e.error
end

local function run(ctx)
  if ctx.args[1] then
    require("cwlua.errors").raise("usage", "unexpected argument '%s'; usage: %s", ctx.args[1],
      ctx.command.usage)
  end
  local boards, ports = json.array(), json.array()
  local spec = board.defaults.spec and devspec.parse(board.defaults.spec)
  -- the simulated boards -d names (one, or each of a list)
  local sims = {}
  for _, s in ipairs(spec and (spec.kind == "many" and spec.items or { spec }) or {}) do
    if s.kind == "sim" then sims[#sims + 1] = s end
  end
  for _, s in ipairs(sims) do
    -- asked as a USB board is (connect.ask), not opened for a command: old firmware or an
    -- unconfigured FPGA is shown, not an error (docs/install.md)
    local faults = require("cwlua.cli").board_faults((board.defaults.sim or {}).faults, s.spec)
    local o = {}
    for k, v in pairs(board.defaults.sim or {}) do o[k] = v end
    o.faults = faults
    local dev, msg, code = board.open_device(s, o)
    if not dev then require("cwlua.cmdutil").fail(msg, code) end
    local i = dev:info()
    local ok, found = pcall(connect.ask, dev, i.kind)
    dev:close()
    if not ok then error(found, 0) end
    boards[#boards + 1] = { kind = i.kind, serial = i.serial, product = i.product,
      firmware = found.firmware, fpga = found.fpga or (i.kind == "nano" and "none" or nil),
      firmware_note = connect.firmware_note(i.pid, found.firmware), backend = "sim" }
  end
  local usb = device.usb_list() or {}
  table.sort(usb, function(a, b)
    return a.bus < b.bus or (a.bus == b.bus and a.address < b.address)
  end)
  for _, e in ipairs(usb) do
    local found = {}
    if e.kind ~= "" and not e.code then -- a capture board: its firmware and FPGA state
      local msg, code
      found, msg, code = connect.probe(e)
      if not found then found, e.code, e.error = {}, code, msg end
    end
    boards[#boards + 1] = { kind = e.kind ~= "" and e.kind or ("unknown %04x"):format(e.pid),
      serial = e.serial, product = e.product, firmware = found.firmware, fpga = found.fpga,
      firmware_note = connect.firmware_note(e.pid, found.firmware),
      problem = e.code and problem(e), code = e.code, backend = "usb", bus = e.bus,
      address = e.address, pid = ("%04x"):format(e.pid) }
  end
  for _, p in ipairs(device.serial_list() or {}) do
    ports[#ports + 1] = { path = p.path, description = p.description,
      vid = p.vid and ("%04x"):format(p.vid), pid = p.pid and ("%04x"):format(p.pid),
      serial = p.serial ~= "" and p.serial or nil,
      -- a board's own CDC port: baud rate only, always 8N1 (cw-usb-protocol.md §5.6)
      chipwhisperer = p.vid == NEWAE_VID or nil }
  end
  if ctx.opts.json then
    ctx.cli.emit({ boards = boards, ports = ports })
    return 0
  end
  local out = {}
  out[#out + 1] = #boards == 0 and "boards: none found" or "boards:"
  for _, b in ipairs(boards) do
    local serial = b.serial ~= "" and b.serial
      or (b.bus and ("usb %03d/%03d"):format(b.bus, b.address) or "?")
    out[#out + 1] = ("  %-7s %s  firmware %s%s  FPGA %s%s"):format(b.kind, serial,
      b.firmware or "?", b.firmware_note and (" (" .. b.firmware_note .. ")") or "",
      b.fpga or "n/a",
      b.problem and ("  (" .. b.problem .. ")") or (b.backend == "sim" and "  (simulated)" or ""))
  end
  out[#out + 1] = #ports == 0 and "serial ports: none found" or "serial ports:"
  for _, p in ipairs(ports) do
    out[#out + 1] = ("  %-16s %s%s%s"):format(p.path, p.description,
      p.vid and (" [" .. p.vid .. ":" .. p.pid .. "]") or "", p.chipwhisperer and
      " (a ChipWhisperer's own serial port: 8N1 only; program through -d usb)" or "")
  end
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

return {
  name = "list",
  synopsis = "list",
  summary = "attached boards (kind, serial, firmware, FPGA) and serial ports",
  usage = "cwlua list [--json]",
  help = [[
Lists the ChipWhisperer boards on USB (vendor 2b3e), opening each briefly to read its firmware
version and FPGA state, and the serial ports with their description and USB VID:PID; a
ChipWhisperer's own serial port (vendor 2b3e) is marked: it runs 8N1 only. A board that
cannot be opened is listed with the reason (permission denied: the udev rule is missing;
busy: another program has it open). Firmware older than what NewAE ships is marked. With
-d sim, the simulated board is listed too.]],
  run = run,
}
