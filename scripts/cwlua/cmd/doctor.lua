-- SPDX-License-Identifier: MIT
-- cwlua doctor TARGET: find out why a target does not answer, and say what to do (contract.md §6).
local doctor = require "cwlua.doctor"

return {
  name = "doctor",
  synopsis = "doctor TARGET",
  summary = "find out why a target does not answer, and say what to do",
  usage = "cwlua doctor TARGET [--rig cw308|cw506|cw313|serial] [--json]",
  help = [[
Walks the chain from the board to the chip — board present and permitted, firmware and FPGA,
glitch outputs, target power, clock, pin routing, reset, boot pin, the programming interface
both ways — prints each step (ok, failed, unverifiable, skipped) with what it observed, and
stops at the first broken link: its cause and what to do for this board and rig. It probes
actively: sync at each baud candidate, TIO1 and TIO2 swapped, a reset with BOOT0 high while
listening for an application. It uses only what a real board can observe. Where several
causes fit what was seen, they are listed in order of likelihood.
exit status: 0 ok; 3 a board-side cause; 4 a target-side cause.]],
  -- on several boards at once (-d usb:*): one worker each (cwlua.multi); TARGET in the table
  many = { target = 1 },
  run = function(ctx)
    local word = ctx.args[1]
    if not word or #ctx.args > 1 then
      require("cwlua.errors").raise("usage", "doctor needs one TARGET; usage: %s",
        ctx.command.usage)
    end
    local report, dctx = doctor.run(word, ctx.opts)
    if ctx.opts.json then
      ctx.cli.emit(report:object(dctx))
    else
      io.stdout:write(report:text(dctx))
      ctx.cli.note_cause(report.cause) -- for a parent running doctor on several boards
    end
    return report:exit_code()
  end,
}
