-- SPDX-License-Identifier: MIT
-- cwlua power on|off|cycle: the target's 3.3 V supply from the board (IOROUTE byte 5 bit 1).
local time = require "cwlua.time"
local cmdutil = require "cwlua.cmdutil"
local errors = require "cwlua.errors"

local ACTIONS = { on = true, off = true, cycle = true }

local function run(ctx)
  local action = ctx.args[1]
  if not ACTIONS[action] or #ctx.args > 1 then
    errors.raise("usage", "power needs one of on, off, cycle; usage: %s", ctx.command.usage)
  end
  local delay = cmdutil.ms(ctx.opts.delay_ms or "500", "--delay-ms")
  local b <close> = cmdutil.open_board()
  if action == "cycle" then
    cmdutil.check(b:power(false))
    time.sleep(delay)
  end
  local on = cmdutil.check(b:power(action ~= "off"))
  if ctx.opts.json then
    ctx.cli.emit({ power = on and "on" or "off" })
  elseif not ctx.opts.quiet then
    io.stdout:write("target power ", on and "on" or "off", "\n")
  end
  return 0
end

return {
  name = "power",
  synopsis = "power on|off|cycle",
  summary = "switch the target's power",
  usage = "cwlua power on|off|cycle [--delay-ms MS]",
  help = [[
Switches the 3.3 V target supply of a CW-Lite, CW1200 Pro or Husky ('cycle': off, wait, on).
The CW-Nano cannot switch target power (exit 3).]],
  options = {
    { long = "delay-ms", key = "delay_ms", arg = "MS",
      help = "off time for 'cycle' (default 500)" },
  },
  many = {}, -- on several boards at once: one worker each (cwlua.multi)
  run = run,
}
