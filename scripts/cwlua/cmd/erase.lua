-- SPDX-License-Identifier: MIT
-- cwlua erase TARGET: erase the pages touched by --addr/--len, or everything with --chip.
local fc = require "cwlua.flashcmd"

return {
  name = "erase",
  synopsis = "erase TARGET",
  summary = "erase the pages touched by --addr/--len, or everything with --chip",
  usage = "cwlua erase TARGET (--chip | --addr ADDR --len LEN) [--unprotect] "
    .. "[--unprotect-write] [--no-reset] [--set KEY=VALUE] [--baud N] [--part NAME]",
  options = fc.options("chip", "addr", "len", "unprotect", "unprotect_write", "no_reset", "set",
    "baud", "part"),
  -- on several boards at once (-d usb:*): one worker each (cwlua.multi); TARGET in the table
  many = { target = 1 },
  run = function(ctx)
    local target = fc.args(ctx, 1)
    local s = fc.run(ctx, fc.flash.erase, target, fc.opts(ctx))
    return fc.report(ctx, s, ("erased %d %s%s of %s in %.2f s"):format(s.erased, s.unit,
      s.erased == 1 and "" or "s", s.chip.name, s.seconds))
  end,
}
