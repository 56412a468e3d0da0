-- cwlua program TARGET FILE: check the image, erase what it needs, write, verify, start.
local fc = require "cwlua.flashcmd"

return {
  name = "program",
  synopsis = "program TARGET FILE",
  summary = "check the image, erase what it needs, write, verify, start the target",
  usage = "cwlua program TARGET FILE [--chip] [--no-verify] [--base ADDR] [--unprotect] "
    .. "[--unprotect-write] [--option-bytes] [--no-reset] [--set K=V]",
  help = [[
FILE is Intel HEX, ELF or raw binary (detected from its content; a binary goes to --base, default
the flash start). The image is loaded and checked against the chip (its ID, flash size and
address range) before anything is erased. Only the pages the image touches are erased (--chip:
all), every byte is read back and compared (--no-verify skips it), then the target is reset
into the new firmware. The board's clock, pins, glitch outputs and serial settings are put back
as they were on every exit path. A read-protected chip is refused unless --unprotect (which
erases it); --unprotect-write lifts write protection; option-byte records need --option-bytes
and are written last. Exit 2: bad file, image that does not fit, wrong chip, protected chip
(nothing touched); 4: the target does not answer; 5: verify mismatch (the first differing
address).]],
  options = fc.options("chip", "no_verify", "base", "unprotect", "unprotect_write",
    "option_bytes", "no_reset", "set", "part"),
  run = function(ctx)
    local target, file = fc.args(ctx, 2)
    local s = fc.run(ctx, fc.flash.program, target, file, fc.opts(ctx))
    return fc.report(ctx, s, ("programmed %d bytes into %s in %.2f s (%s), %d %s%s erased, %s"):
      format(s.bytes, s.chip.name, s.seconds, fc.rate(s.bytes, s.seconds), s.erased, s.unit,
        s.erased == 1 and "" or "s", s.verify == "ok" and "verified" or "not verified"))
  end,
}
