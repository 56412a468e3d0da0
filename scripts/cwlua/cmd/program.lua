-- SPDX-License-Identifier: MIT
-- cwlua program TARGET FILE: check the image, erase what it needs, write, verify, start.
local fc = require "cwlua.flashcmd"

return {
  name = "program",
  synopsis = "program TARGET FILE",
  summary = "check the image, erase what it needs, write, verify, start the target",
  usage = "cwlua program TARGET FILE [--chip] [--no-verify] [--format hex|elf|bin] "
    .. "[--base ADDR] [--unprotect] [--unprotect-write] [--option-bytes] [--eeprom FILE] "
    .. "[--eeprom-format hex|elf|bin] [--fuse NAME=0xVV] [--lock 0xVV] [--force] [--no-reset] "
    .. "[--set KEY=VALUE] [--baud N] [--part NAME]",
  help = [[
FILE is Intel HEX or ELF (found from its content), or a raw binary: a file named .bin, or any
file with --format bin or --base ADDR (it goes to --base, default the flash start). Anything
else (a .c file, a text file) is refused; --format hex|elf|bin forces a format. The image is
loaded and checked against the chip (its ID, flash size and address range) before anything is
erased. Only the pages the image touches are erased (--chip: all), every byte is read back and
compared (--no-verify skips it), then the target is reset into the new firmware. XMEGA erases
its whole application section with one command when the image has bytes in it (the engine has no
erase-and-write page command, so page by page costs a command per page); its boot section and
EEPROM lose only what the image touches; --set app_erase=pages erases only the touched
application pages too. The board's clock, pins, glitch outputs and serial settings are put back
as they were on every exit path. A read-protected chip is refused unless --unprotect (which
erases it); --unprotect-write lifts write protection; option-byte records need --option-bytes
and are written last. Where the recipe has EEPROM, fuses and lock bits (AVR, XMEGA): EEPROM data
comes from the image's EEPROM section (avr-gcc: 0x810000) or --eeprom FILE and is written after
the flash; fuses and lock bits are written only with --fuse NAME=0xVV and --lock 0xVV (the
image's fuse and lock sections are reported, not written), checked against the part, and
settings that would lock you out are refused without --force; the lock bits go last. Exit 2: bad
file, image that does not fit, wrong chip, protected chip, refused fuse (nothing touched); 4:
the target does not answer; 5: verify mismatch (the first differing address).]],
  options = fc.options("chip", "no_verify", "format", "base", "unprotect", "unprotect_write",
    "option_bytes", "eeprom", "eeprom_format", "fuse", "lock", "force", "no_reset", "set", "baud",
    "part"),
  run = function(ctx)
    local target, file = fc.args(ctx, 2)
    local s = fc.run(ctx, fc.flash.program, target, file, fc.opts(ctx))
    local extra = {}
    if s.eeprom then extra[#extra + 1] = ("%d bytes of EEPROM"):format(s.eeprom) end
    for _, f in ipairs(s.fuses or {}) do
      extra[#extra + 1] = ("%s=0x%02X"):format(f.name, f.value)
    end
    if s.lock then extra[#extra + 1] = ("lock=0x%02X"):format(s.lock) end
    return fc.report(ctx, s, ("programmed %d bytes into %s in %.2f s (%s), %d %s%s erased, %s%s"):
      format(s.flash_bytes or s.bytes, s.chip.name, s.seconds, fc.rate(s.bytes, s.seconds),
        s.erased, s.unit, s.erased == 1 and "" or "s",
        s.verify == "ok" and "verified" or "not verified",
        #extra > 0 and ("; " .. table.concat(extra, ", ")) or ""))
  end,
}
