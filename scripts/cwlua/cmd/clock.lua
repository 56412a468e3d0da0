-- SPDX-License-Identifier: MIT
-- cwlua clock [HZ|off]: show or set the target clock on HS2 (the board's clock generator).
local cmdutil = require "cwlua.cmdutil"
local errors = require "cwlua.errors"
local json = require "cwlua.json"

local function run(ctx)
  if #ctx.args > 1 then errors.raise("usage", "usage: %s", ctx.command.usage) end
  local want = ctx.args[1]
  local hz
  if want == "off" then
    hz = false
  elseif want ~= nil then
    hz = cmdutil.hz(want)
  end
  local b <close> = cmdutil.open_board()
  local got, source = cmdutil.check(b:clock(hz))
  if ctx.opts.json then
    ctx.cli.emit({ hz = got and math.floor(got + 0.5) or json.null, source = source })
  elseif not ctx.opts.quiet then
    if got then
      io.stdout:write(("%d Hz (%s on HS2)\n"):format(math.floor(got + 0.5), source))
    elseif source == "pll" then
      io.stdout:write("HS2 carries the Husky's PLL clock (cwlua cannot read its frequency yet)\n")
    else
      io.stdout:write(("no clock on HS2 (%s)\n"):format(source))
    end
  end
  return 0
end

return {
  name = "clock",
  synopsis = "clock [HZ|off]",
  summary = "show or set the target clock (prints the achieved frequency)",
  usage = "cwlua clock [HZ|off]",
  help = [[
Without an argument, shows what HS2 (the target clock pin) carries. HZ (7.37e6, 7370000,
7.37MHz) programs the clock generator as NewAE's Python does — the CW-Lite makes 96 MHz × M / D,
so 7.37e6 gives 7384615 Hz, which is what is printed — and routes it to HS2. 'off' stops HS2.
A frequency the board cannot make exits 2 with nothing changed.]],
  run = run,
}
