-- SPDX-License-Identifier: MIT
-- cwlua help [COMMAND]: the same text as --help.
local errors = require "cwlua.errors"

local function run(ctx)
  local name = ctx.args[1]
  if name == nil then
    io.stdout:write(ctx.cli.help())
    return 0
  end
  for _, c in ipairs(ctx.cli.COMMANDS) do
    if c == name then
      io.stdout:write(ctx.cli.command_help(require("cwlua.cmd." .. name)))
      return 0
    end
  end
  errors.raise("usage", "no command '%s'; run 'cwlua --help' for the list of commands", name)
end

return {
  name = "help",
  synopsis = "help [COMMAND]",
  summary = "show this help, or the help of one command",
  usage = "cwlua help [COMMAND]",
  run = run,
}
