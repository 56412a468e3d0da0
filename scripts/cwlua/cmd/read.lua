-- SPDX-License-Identifier: MIT
-- cwlua read TARGET OUT: read memory to .bin or .hex.
local fc = require "cwlua.flashcmd"

return {
  name = "read",
  synopsis = "read TARGET OUT",
  summary = "read memory (default all flash) to .bin or .hex",
  usage = "cwlua read TARGET OUT [--addr ADDR] [--len LEN] [--option-bytes] "
    .. "[--memory flash|eeprom] [--no-reset] [--set KEY=VALUE] [--baud N] [--part NAME]",
  help = [[
Reads --len bytes from --addr (default: the whole flash, its size as the chip's flash-size
register reports it; without --len, to the end of the memory --addr is in) into OUT: Intel HEX
when OUT ends in .hex, raw binary otherwise. OUT is checked before the board is opened (not a
folder, a device or a name in a missing folder), the range against the chip's memory before a
byte is read (exit 2 naming the chip's range). OUT is written only when the whole read
succeeded, and nothing else is left behind. --memory eeprom reads the EEPROM instead (offsets
from 0, so that program --eeprom OUT takes it back). On several boards (-d usb:*), each board
reads into OUT with its serial number before the extension: flash.hex -> flash-LAB-01.hex.]],
  options = fc.options("addr", "len", "option_bytes", "memory", "no_reset", "set", "baud",
    "part"),
  -- on several boards at once: one worker each (cwlua.multi), each reading into a file of its
  -- own: OUT with the board's serial before its extension (dump.hex -> dump-LAB-01.hex)
  many = { target = 1, per_board = function(args, _, serial)
    if args[2] then args[2] = require("cwlua.multi").per_board_path(args[2], serial) end
  end },
  run = function(ctx)
    local target, out = fc.args(ctx, 2)
    local s = fc.run(ctx, fc.flash.read, target, out, fc.opts(ctx))
    return fc.report(ctx, s, ("read %d bytes from %s of %s into %s in %.2f s (%s)"):format(
      s.bytes, s.memory == "eeprom" and ("EEPROM 0x%04X"):format(s.addr) or
      ("0x%08X"):format(s.addr), s.chip.name, out, s.seconds, fc.rate(s.bytes, s.seconds)))
  end,
}
