-- SPDX-License-Identifier: MIT
-- cwlua config: the settings in effect and where each came from (contract.md §3.12): the
-- command line, the environment, the user or system config file (with its line), or cwlua's
-- default; the recipe search path in lookup order; the config files read.
local config = require "cwlua.config"
local json = require "cwlua.json"
local path = require "cwlua.path"

-- What a setting is when nothing sets it.
local DEFAULTS = {
  device = { value = "usb" },
  rig = { shown = "the recipe's" },
  bitstream = { shown = "NewAE's chipwhisperer package" },
}

-- origin record -> the words `cwlua config` prints after the value
local function origin_text(o)
  if o.origin == "command-line" then return "command line " .. o.option end
  if o.origin == "environment" then return "environment " .. o.variable end
  if o.origin == "user" or o.origin == "system" then
    return ("%s file %s:%d"):format(o.origin, o.file, o.line)
  end
  return "default"
end

local DIR_ORIGINS = {
  search = "command line -s", CWLUA_PATH = "environment CWLUA_PATH", user = "user folder",
  system = "system folder", ["built-in"] = "built-in",
}

local function dir_text(d)
  if d.origin == "user-config" or d.origin == "system-config" then
    return ("%s file %s:%d"):format(d.origin:match("^(%a+)"), d.file, d.line)
  end
  return DIR_ORIGINS[d.origin] or d.origin
end

-- Everything `cwlua config` shows, as --json prints it.
local function gather(ctx)
  local c = config.load()
  local given = { device = ctx.device_given, rig = ctx.opts.rig, bitstream = ctx.opts.bitstream }
  local options = { device = "-d", rig = "--rig", bitstream = "--bitstream" }
  local o = {}
  for _, name in ipairs({ "device", "rig", "bitstream" }) do
    local value, origin = config.value(name, given[name], options[name])
    local s = { value = value, origin = origin.origin, option = origin.option,
                variable = origin.variable, file = origin.file, line = origin.line }
    if value == nil then s.value = DEFAULTS[name].value or json.null end
    o[name] = s
  end
  local sets = json.array()
  local recipes = {}
  for _, level in ipairs({ "system", "user" }) do
    for recipe in pairs(c[level] and c[level].set or {}) do recipes[recipe] = true end
  end
  local names = {}
  for r in pairs(recipes) do names[#names + 1] = r end
  table.sort(names)
  for _, r in ipairs(names) do
    local values = config.sets(r)
    local keys = {}
    for k in pairs(values) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = values[k]
      sets[#sets + 1] = { recipe = r, key = k, value = v.text, origin = v.origin, file = v.file,
                          line = v.line }
    end
  end
  o.set = sets
  o.search = json.array()
  for _, d in ipairs(path.dirs()) do
    o.search[#o.search + 1] = { dir = d.dir, origin = d.origin, file = d.file, line = d.line }
  end
  o.files = json.array()
  for _, f in ipairs(c.files) do
    o.files[#o.files + 1] = { origin = f.origin, path = f.path, present = f.present,
                              variable = f.env and "CWLUA_CONFIG" or nil }
  end
  return o
end

local function run(ctx)
  if ctx.args[1] then
    require("cwlua.errors").raise("usage", "unexpected argument '%s'; usage: %s", ctx.args[1],
      ctx.command.usage)
  end
  local o = gather(ctx)
  if ctx.opts.json then
    ctx.cli.emit(o)
    return 0
  end
  -- NAME VALUE (ORIGIN), one a line: no column depends on a path's length
  local out = {}
  local function row(name, value, origin)
    out[#out + 1] = ("%-10s %s (%s)"):format(name, value, origin)
  end
  for _, name in ipairs({ "device", "rig", "bitstream" }) do
    local s = o[name]
    row(name, s.value ~= json.null and s.value or DEFAULTS[name].shown, origin_text(s))
  end
  if #o.set == 0 then row("set", "none", "default") end
  for i, v in ipairs(o.set) do
    row(i == 1 and "set" or "", ("%s.%s=%s"):format(v.recipe, v.key, v.value), origin_text(v))
  end
  for i, d in ipairs(o.search) do row(i == 1 and "search" or "", d.dir, dir_text(d)) end
  for i, f in ipairs(o.files) do
    row(i == 1 and "files" or "", f.path, f.origin .. " file"
      .. (f.variable and (", " .. f.variable) or "") .. (f.present and "" or ", not present"))
  end
  io.stdout:write(table.concat(out, "\n"), "\n")
  return 0
end

return {
  name = "config",
  synopsis = "config",
  summary = "show the settings in effect and where each came from",
  usage = "cwlua config [--json]",
  help = [[
Shows the device, rig and bitstream in effect, the config files' --set values, the recipe
search path in lookup order and the config files read, each with where it came from: the
command line, the environment, the user or system config file (file and line), or the default.

The config files hold defaults a lab sets once, as Lua assignments run in the recipe sandbox:
  device = "sim:husky"                      -- as -d
  rig = "cw506"                             -- as --rig
  bitstream = "~/newae/cwlite.bit"          -- as --bitstream
  search = { "~/lab/targets" }              -- recipe folders, after -s and $CWLUA_PATH
  set = { stm32f1 = { bauds = 57600 } }     -- as --set, per recipe
A relative path is relative to the file's folder. The user file is $CWLUA_CONFIG, else
$XDG_CONFIG_HOME/cwlua/config.lua (~/.config/cwlua/config.lua); the system file
/etc/cwlua/config.lua ($CWLUA_SYSCONFDIR/config.lua). The command line wins, then the
environment ($CWLUA_DEVICE, $CWLUA_BITSTREAM), then the user file, then the system file.
A mistake in a file is exit 2 naming the file and line.]],
  run = run,
}
