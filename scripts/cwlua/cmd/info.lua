-- SPDX-License-Identifier: MIT
-- cwlua info TARGET: what the chip says about itself.
local fc = require "cwlua.flashcmd"

return {
  name = "info",
  synopsis = "info TARGET",
  summary = "chip ID, name, bootloader version, flash size, protection",
  usage = "cwlua info TARGET [--no-reset] [--set KEY=VALUE] [--baud N] [--part NAME]",
  options = fc.options("no_reset", "set", "baud", "part"),
  -- on several boards at once (-d usb:*): one worker each (cwlua.multi); TARGET in the table
  many = { target = 1 },
  run = function(ctx)
    local target = fc.args(ctx, 1)
    local s = fc.run(ctx, fc.flash.info, target, fc.opts(ctx))
    if ctx.opts.json then
      local o = {}
      for _, r in ipairs(s.rows) do o[r[3] or r[1]] = r[2] end
      ctx.cli.emit(o)
      return 0
    end
    for _, r in ipairs(s.rows) do
      io.stdout:write(("%-28s %s\n"):format(r[1] .. ":", tostring(r[2])))
    end
    return 0
  end,
}
