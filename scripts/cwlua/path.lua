-- SPDX-License-Identifier: MIT
-- cwlua.path: where recipes and overriding library modules are looked up (contract.md §3).
--
-- Order, first match wins: each -s/--search DIR (in the order given), then the folders of
-- CWLUA_PATH (split on ':'), then the user config file's search folders (cwlua.config), then
-- $XDG_CONFIG_HOME/cwlua/targets (default ~/.config/cwlua/targets), then the system config
-- file's search folders, then /etc/cwlua/targets ($CWLUA_SYSCONFDIR/targets), then the
-- built-in recipes in PREFIX/share/cwlua/targets (path.prefix). The built-ins come last so
-- that a user's or the lab's file of the same name overrides them.
local runtime = require "cwlua.core.runtime"

local M = {}

local search_dirs = {}

--- path.set_search(dirs): the -s/--search folders, in order.
function M.set_search(dirs)
  search_dirs = {}
  for i, d in ipairs(dirs) do search_dirs[i] = d end
end

--- path.search() -> the -s/--search folders, in order (a copy)
function M.search()
  local out = {}
  for i, d in ipairs(search_dirs) do out[i] = d end
  return out
end

local function split_colon(s)
  local out = {}
  for part in (s or ""):gmatch("[^:]+") do out[#out + 1] = part end
  return out
end

--- path.user_dir() -> "$XDG_CONFIG_HOME/cwlua/targets" (or under ~/.config), or nil
function M.user_dir()
  local xdg = os.getenv("XDG_CONFIG_HOME")
  if xdg == nil or xdg == "" then
    local home = os.getenv("HOME")
    if home == nil or home == "" then return nil end
    xdg = home .. "/.config"
  end
  return xdg .. "/cwlua/targets"
end

--- path.prefix() -> cwlua's install prefix, and its data folder below it ("share/cwlua")
-- | nil, msg. In the binary: the executable's folder less a last "/bin" (the build tree has the
-- same shape). In another Lua interpreter: the folder of cwlua/core.so less the subfolder the
-- install put it in (runtime/module.c), so the recipes are found from wherever the module is.
function M.prefix()
  local core = require "cwlua.core"
  if core.host == "module" then
    local dir = core.file and core.file:match("^(.*)/[^/]*$")
    local sub = "/" .. core.module_subdir
    if dir and dir:sub(-#sub) == sub then return dir:sub(1, -#sub - 1), core.data_subdir end
    return nil, ("cwlua/core.so (%s) is not in PREFIX/%s, where the install puts it, so its "
      .. "built-in recipes cannot be found"):format(tostring(core.file), core.module_subdir)
  end
  local exe, err = runtime.exe_path()
  if not exe then return nil, err end
  local dir = exe:match("^(.*)/[^/]*$") or "."
  return (dir:gsub("/bin$", "")), "share/cwlua"
end

--- path.builtin_dir() -> "PREFIX/share/cwlua/targets" | nil, msg
function M.builtin_dir()
  local prefix, data = M.prefix()
  if not prefix then return nil, data end
  return prefix .. "/" .. data .. "/targets"
end

--- path.system_dir() -> "$CWLUA_SYSCONFDIR/targets", default "/etc/cwlua/targets"
function M.system_dir()
  return require("cwlua.config").system_dir() .. "/targets"
end

--- path.dirs() -> { {dir=, origin= [, file=, line=]}, ... } in lookup order. origin is
-- "search" (-s), "CWLUA_PATH", "user-config" (the user config file's search, file and line
-- naming it), "user", "system-config", "system" or "built-in". Each level's config folders
-- come before its own folder, so a file can put a lab's folder before the one beside it.
function M.dirs()
  local out = {}
  for _, d in ipairs(search_dirs) do out[#out + 1] = { dir = d, origin = "search" } end
  for _, d in ipairs(split_colon(os.getenv("CWLUA_PATH"))) do
    out[#out + 1] = { dir = d, origin = "CWLUA_PATH" }
  end
  local config = require "cwlua.config"
  for _, d in ipairs(config.search("user")) do
    out[#out + 1] = { dir = d.dir, origin = "user-config", file = d.file, line = d.line }
  end
  local user = M.user_dir()
  if user then out[#out + 1] = { dir = user, origin = "user" } end
  for _, d in ipairs(config.search("system")) do
    out[#out + 1] = { dir = d.dir, origin = "system-config", file = d.file, line = d.line }
  end
  out[#out + 1] = { dir = M.system_dir(), origin = "system" }
  local builtin = M.builtin_dir()
  if builtin then out[#out + 1] = { dir = builtin, origin = "built-in" } end
  return out
end

-- A regular file that can be opened. Asked of stat first: opening a FIFO named NAME.lua would
-- wait for a writer, and no signal budget counts that wait.
local function readable(file)
  local st = runtime.stat(file)
  if not st or st.type ~= "file" then return false end
  local f = io.open(file, "r")
  if f then f:close() return true end
  return false
end

--- path.find_recipe(name) -> file, origin | nil, tried (list of the files looked for)
function M.find_recipe(name)
  local tried = {}
  for _, d in ipairs(M.dirs()) do
    local file = d.dir .. "/" .. name .. ".lua"
    if readable(file) then return file, d.origin end
    tried[#tried + 1] = file
  end
  return nil, tried
end

--- path.find_module(name) -> file | nil: "cwlua.x.y" as DIR/cwlua/x/y.lua or .../y/init.lua
-- in every folder but the built-in recipes (built-in modules are compiled into the binary, or
-- installed under the Lua path).
function M.find_module(name)
  local rel = name:gsub("%.", "/")
  for _, d in ipairs(M.dirs()) do
    if d.origin ~= "built-in" then
      local base = d.dir .. "/" .. rel
      for _, file in ipairs({ base .. ".lua", base .. "/init.lua" }) do
        if readable(file) then return file end
      end
    end
  end
  return nil
end

return M
