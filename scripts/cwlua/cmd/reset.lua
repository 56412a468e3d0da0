-- SPDX-License-Identifier: MIT
-- cwlua reset [TARGET]: pulse the target's reset line.
local time = require "cwlua.time"
local cmdutil = require "cwlua.cmdutil"
local errors = require "cwlua.errors"
local signal = require "cwlua.core.signal"
local targets = require "cwlua.targets"

local function run(ctx)
  if #ctx.args > 1 then errors.raise("usage", "usage: %s", ctx.command.usage) end
  local pin, part = "nrst", nil
  if ctx.args[1] then
    local recipe
    recipe, part = targets.resolve(ctx.args[1])
    pin = recipe.defaults and recipe.defaults.reset_pin or pin
  end
  local low_ms = cmdutil.ms(ctx.opts.ms or "10", "--ms")
  local b <close> = cmdutil.open_board(part)
  -- The mode to put back. A CW-Nano cannot report it (§7.2) and a fresh process has not set
  -- it: then the line is left driven high, as the ChipWhisperer tutorials' reset_target() does.
  local before, msg, code = b:pin(pin)
  if before == nil and code ~= "unsupported" then cmdutil.check(before, msg, code) end
  -- an error or a signal half-way still puts the line back (a chip left held in reset looks
  -- dead); in signal.hold, as cleanup that must finish
  local done = false
  local _ <close> = setmetatable({}, { __close = function()
    if not done then signal.hold(b.pin, b, pin, before or "high") end
  end })
  -- low, then high 25 ms so the chip sees a clean edge, then back to what it was: the
  -- sequence NewAE uses around STM32 bootloader entry (target-protocols.md §A.2)
  cmdutil.check(b:pin(pin, "low"))
  time.sleep(low_ms)
  cmdutil.check(b:pin(pin, "high"))
  time.sleep(25)
  cmdutil.check(b:pin(pin, before or "high"))
  done = true
  if ctx.opts.json then
    ctx.cli.emit({ pin = pin, ms = low_ms })
  elseif not ctx.opts.quiet then
    io.stdout:write(("reset: %s low for %g ms\n"):format(pin, low_ms))
  end
  return 0
end

return {
  name = "reset",
  synopsis = "reset [TARGET]",
  summary = "pulse the target's reset line",
  usage = "cwlua reset [TARGET] [--ms MS]",
  help = [[
Drives the reset line low for MS milliseconds (default 10), high for 25 ms, then puts it back in
the mode it had (on a CW-Nano, which cannot report it, driven high unless cwlua set it earlier
in the same run). The line is the recipe's reset_pin default when TARGET is given, else nrst.]],
  options = { { long = "ms", key = "ms", arg = "MS", help = "how long reset is held low" } },
  many = { target = 1 }, -- on several boards at once: one worker each (cwlua.multi)
  run = run,
}
