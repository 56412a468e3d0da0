-- cwlua list: the boards on USB (and the simulated one with -d sim) and the serial ports.
local board = require "cwlua.board"
local device = require "cwlua.core.device"
local devspec = require "cwlua.devspec"
local json = require "cwlua.json"

local KIND_BY_PID = { [0xACE0] = "nano", [0xACE2] = "cwlite", [0xACE3] = "cw1200",
                      [0xACE5] = "husky", [0xACE6] = "husky" } -- cw-usb-protocol §1.1

local function run(ctx)
  local boards, ports = json.array(), json.array()
  local spec = board.defaults.spec and devspec.parse(board.defaults.spec)
  if spec and spec.kind == "sim" then
    local b <close> = assert(board.open(board.defaults.spec, board.defaults.sim))
    local i = b:info()
    boards[#boards + 1] = { kind = i.kind, serial = i.serial, product = i.product,
                            firmware = i.firmware, fpga = i.fpga, backend = "sim" }
  end
  for _, e in ipairs(device.usb_list() or {}) do
    boards[#boards + 1] = { kind = KIND_BY_PID[e.pid] or ("unknown %04x"):format(e.pid),
      serial = e.serial, product = e.product, firmware = e.firmware, fpga = e.fpga,
      problem = e.problem, backend = "usb", bus = e.bus, address = e.address,
      pid = ("%04x"):format(e.pid) }
  end
  for _, p in ipairs(device.serial_list() or {}) do
    ports[#ports + 1] = { path = p.path, description = p.description,
      vid = p.vid and ("%04x"):format(p.vid), pid = p.pid and ("%04x"):format(p.pid),
      serial = p.serial ~= "" and p.serial or nil }
  end
  if ctx.opts.json then
    io.stdout:write(json.encode({ schema = 1, boards = boards, ports = ports }), "\n")
    return 0
  end
  local out = {}
  out[#out + 1] = #boards == 0 and "boards: none found" or "boards:"
  for _, b in ipairs(boards) do
    out[#out + 1] = ("  %-7s %s  firmware %s  FPGA %s%s"):format(b.kind, b.serial ~= "" and
      b.serial or "?", b.firmware or "?", b.fpga or "n/a",
      b.problem and ("  (" .. b.problem .. ")") or (b.backend == "sim" and "  (simulated)" or ""))
  end
  out[#out + 1] = #ports == 0 and "serial ports: none found" or "serial ports:"
  for _, p in ipairs(ports) do
    out[#out + 1] = ("  %-16s %s%s"):format(p.path, p.description,
      p.vid and (" [" .. p.vid .. ":" .. p.pid .. "]") or "")
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
version and FPGA state, and the serial ports. With -d sim, the simulated board is listed too.]],
  run = run,
}
