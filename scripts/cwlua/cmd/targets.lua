-- SPDX-License-Identifier: MIT
-- cwlua targets: the recipes on the search path, their aliases and where each came from.
local json = require "cwlua.json"
local targets = require "cwlua.targets"

local function sorted_aliases(recipe)
  local names = {}
  for alias in pairs(recipe and recipe.aliases or {}) do names[#names + 1] = alias end
  table.sort(names)
  return names
end

local function run(ctx)
  if ctx.args[1] then
    require("cwlua.errors").raise("usage", "unexpected argument '%s'; usage: %s", ctx.args[1],
      ctx.command.usage)
  end
  local entries = targets.list()
  if ctx.opts.json then
    local list = json.array()
    for _, e in ipairs(entries) do
      local aliases = sorted_aliases(e.recipe)
      local parts = {}
      for _, a in ipairs(aliases) do parts[a] = e.recipe.aliases[a] end
      list[#list + 1] = {
        name = e.name,
        summary = e.recipe and e.recipe.summary or nil,
        part = e.recipe and e.recipe.part or nil,
        aliases = json.array(aliases),
        alias_parts = next(parts) and parts or nil,
        commands = json.array(e.recipe and targets.commands(e.recipe) or {}),
        origin = e.origin,
        path = e.file,
        overridden_by = e.overridden_by or json.null,
        error = e.error,
      }
    end
    ctx.cli.emit({ targets = list })
    return 0
  end
  if #entries == 0 then
    io.stderr:write("cwlua: no recipes found; looked in:\n")
    for _, d in ipairs(require("cwlua.path").dirs()) do
      io.stderr:write("\t", d.dir, " (", d.origin, ")\n")
    end
    return 0
  end
  local out = {}
  for _, e in ipairs(entries) do
    local r = e.recipe
    out[#out + 1] = ("%-10s %s"):format(e.name, r and r.summary or "(does not load; see below)")
    local pad = (" "):rep(11)
    if r and r.part then out[#out + 1] = pad .. "part: " .. r.part end
    local aliases = sorted_aliases(r)
    if #aliases > 0 then
      local shown = {}
      for _, a in ipairs(aliases) do shown[#shown + 1] = a .. " (" .. r.aliases[a] .. ")" end
      out[#out + 1] = pad .. "aliases: " .. table.concat(shown, ", ")
    end
    if r then
      local cmds = targets.commands(r)
      out[#out + 1] = pad .. "commands: "
        .. (#cmds > 0 and table.concat(cmds, " ") or "none yet (metadata only)")
    end
    out[#out + 1] = pad .. "from: " .. e.origin .. " " .. e.file
    if e.overridden_by then out[#out + 1] = pad .. "overridden by: " .. e.overridden_by end
    if e.error then out[#out + 1] = pad .. "error: " .. e.error end
  end
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

return {
  name = "targets",
  synopsis = "targets",
  summary = "list the recipes, their aliases, and where each was loaded from",
  usage = "cwlua targets [--json]",
  help = [[
Lists every recipe file on the search path in lookup order, the first match winning:
  search         the -s folders, in the order given
  CWLUA_PATH     the folders of $CWLUA_PATH
  user-config    the user config file's search folders
  user           $XDG_CONFIG_HOME/cwlua/targets (~/.config/cwlua/targets)
  system-config  the system config file's search folders
  system         /etc/cwlua/targets
  built-in       the recipes installed with cwlua (PREFIX/share/cwlua/targets)
Each recipe says which of these it came from; one shadowed by a recipe of the same name
earlier on the path says which file overrides it. A recipe that does not load is listed with
its error. 'cwlua config' lists the folders themselves.]],
  run = run,
}
