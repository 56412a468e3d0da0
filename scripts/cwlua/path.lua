-- SPDX-License-Identifier: MIT
-- cwlua.path: where recipes and overriding library modules are looked up (contract.md §3).
--
-- Order, first match wins: each -s/--search DIR (in the order given), then the folders of
-- CWLUA_PATH (split on ':'), then $XDG_CONFIG_HOME/cwlua/targets (default
-- ~/.config/cwlua/targets), then the built-in recipes in <exe dir>/../share/cwlua/targets.
-- The built-ins come last so that a user's file of the same name overrides them.
local runtime = require "cwlua.core.runtime"

local M = {}

local search_dirs = {}

--- path.set_search(dirs): the -s/--search folders, in order.
function M.set_search(dirs)
  search_dirs = {}
  for i, d in ipairs(dirs) do search_dirs[i] = d end
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

--- path.dirs() -> { {dir=, origin=}, ... } in lookup order.
-- origin is "search" (-s), "CWLUA_PATH", "user" or "built-in".
function M.dirs()
  local out = {}
  for _, d in ipairs(search_dirs) do out[#out + 1] = { dir = d, origin = "search" } end
  for _, d in ipairs(split_colon(os.getenv("CWLUA_PATH"))) do
    out[#out + 1] = { dir = d, origin = "CWLUA_PATH" }
  end
  local user = M.user_dir()
  if user then out[#out + 1] = { dir = user, origin = "user" } end
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
-- in every folder but the built-in recipes (built-in modules are compiled into the binary).
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
