-- SPDX-License-Identifier: MIT
-- cwlua verify TARGET FILE: compare the chip with the image, no writes.
local fc = require "cwlua.flashcmd"

return {
  name = "verify",
  synopsis = "verify TARGET FILE",
  summary = "compare the chip with the image, no writes",
  usage = "cwlua verify TARGET FILE [--format hex|elf|bin] [--base ADDR] [--eeprom FILE] "
    .. "[--eeprom-format hex|elf|bin] [--fuse NAME=0xVV] [--lock 0xVV] [--no-reset] "
    .. "[--set KEY=VALUE] [--baud N] [--part NAME]",
  help = "Reads back every byte of the image from the chip (and its EEPROM section or --eeprom "
    .. "FILE;\n--fuse and --lock compare those). Exit 5 names the first difference. FILE is "
    .. "read as\nprogram reads it: Intel HEX or ELF by content, raw binary for a .bin name, "
    .. "--format bin\nor --base.",
  options = fc.options("format", "base", "eeprom", "eeprom_format", "fuse", "lock", "no_reset",
    "set", "baud", "part"),
  -- on several boards at once (-d usb:*): one worker each (cwlua.multi); TARGET in the table
  many = { target = 1 },
  run = function(ctx)
    local target, file = fc.args(ctx, 2)
    local s = fc.run(ctx, fc.flash.verify, target, file, fc.opts(ctx))
    return fc.report(ctx, s, ("verified %d bytes of %s in %.2f s: identical"):format(s.bytes,
      s.chip.name, s.seconds))
  end,
}
