-- SPDX-License-Identifier: MIT
-- cwlua help [COMMAND [SUBCOMMAND]]: the same text as --help.
local errors = require "cwlua.errors"

local function run(ctx)
  local name, sub = ctx.args[1], ctx.args[2]
  if name == nil then
    io.stdout:write(ctx.cli.help())
    return 0
  end
  for _, c in ipairs(ctx.cli.COMMANDS) do
    if c == name then
      local command = require("cwlua.cmd." .. name)
      local extra = ctx.args[command.subcommand_help and 3 or 2]
      if extra then
        errors.raise("usage", "unexpected argument '%s'; usage: %s", extra, ctx.command.usage)
      end
      if sub then return command.subcommand_help(sub) end -- help sim attach
      io.stdout:write(ctx.cli.command_help(command))
      return 0
    end
  end
  local hint = require("cwlua.targets").suggest(name, ctx.cli.COMMANDS)
  errors.raise("usage", "no command '%s'%s; run 'cwlua --help' for the list of commands", name,
    hint and (" (did you mean '" .. hint .. "'?)") or "")
end

return {
  name = "help",
  synopsis = "help [COMMAND]",
  summary = "show this help, or the help of one command",
  usage = "cwlua help [COMMAND [SUBCOMMAND]]",
  help = "'cwlua help COMMAND' is 'cwlua COMMAND --help'; 'cwlua help sim attach' is\n"
    .. "'cwlua sim attach --help'.",
  text_only = "help is text",
  no_config = true, -- help is the same whatever a config file says, also a broken one
  run = run,
}
