-- SPDX-License-Identifier: MIT
-- cwlua.guest: cwlua as a module of another Lua 5.4 interpreter (Debian's lua5.4): what
-- runtime/main.c and cwlua.boot do in the binary, as far as a guest may (docs/api.md "Using
-- cwlua from your own Lua"). cwlua/init.lua calls guest.setup once, before anything else.
--
-- It loads the C part, cwlua/core.so, and installs the error values of cwlua.core.signal and a
-- searcher that lets the modules recipes are built from be overridden from the search path, as
-- in the binary (contract.md §3.5). It leaves the host's globals alone: no signal handler, no
-- replaced pcall, xpcall or coroutine.resume, and the string metatable as it is.
local M = {}

local function dir_of(file)
  return file and file:match("^(.*)/[^/]*$")
end

-- cwlua/core.so from beside the Lua files, through the layout the install wrote
-- (runtime/layout.lua.in): for a prefix whose Lua C folder is not on package.cpath (Debian's
-- lua5.4 looks in /usr/local/lib/lua/5.4, not /usr/local/lib/<arch>/lua/5.4). Returns the
-- module's table, or nil and the file it looked for.
local function load_beside(init_file)
  local ok, layout = pcall(require, "cwlua.layout")
  if not ok or type(layout) ~= "table" or not init_file then return nil end
  if init_file:sub(1, 1) ~= "/" then init_file = "./" .. init_file end -- LUA_PATH 'build/...'
  local tail = "/" .. layout.lua_subdir .. "/cwlua/init.lua"
  if init_file:sub(-#tail) ~= tail then return nil end
  local file = init_file:sub(1, -#tail - 1) .. "/" .. layout.module_subdir .. "/core.so"
  local f = io.open(file, "rb")
  if not f then return nil, file end
  f:close()
  local open, err = package.loadlib(file, "luaopen_cwlua_core")
  if not open then
    error(("cwlua: cannot load its C part %s: %s"):format(file, err), 0)
  end
  local core = open("cwlua.core", file)
  package.loaded["cwlua.core"] = core
  return core
end

local function load_core(init_file)
  if package.loaded["cwlua.core"] then return package.loaded["cwlua.core"] end
  if package.searchpath("cwlua.core", package.cpath) then
    return require("cwlua.core") -- a load error says what is wrong with the file
  end
  local core, looked = load_beside(init_file)
  if core then return core end
  error("cwlua: its C part, cwlua/core.so, is not on package.cpath (LUA_CPATH)"
    .. (looked and (" nor at " .. looked .. " beside its Lua files") or "")
    .. "; install the two together (cmake --install, or Debian's package cwlua), or add "
    .. "the folder that holds cwlua/core.so to LUA_CPATH as DIR/?.so", 0)
end

--- guest.setup(init_file): init_file is the file require found for "cwlua" (its Lua files'
-- place), or nil. Returns cwlua.core's table.
function M.setup(init_file)
  local core = load_core(init_file)
  if type(core) ~= "table" or core.host ~= "module" then
    error("cwlua: cwlua.core is not cwlua's C module (" .. tostring(core) .. ")", 0)
  end
  -- A spent budget names the innermost line outside these files.
  local lib = dir_of(init_file)
  require("cwlua.interrupt").install(lib and ("@" .. lib .. "/") or "@?")
  -- The modules recipes are built from come from the search path first, and run there in the
  -- recipe sandbox (the binary's cwlua.boot does the same); every other name, and one the
  -- search path does not have, goes on to Lua's own searchers and so to the installed copy.
  local sandbox = require "cwlua.sandbox"
  local path = require "cwlua.path"
  table.insert(package.searchers, 2, function(name)
    if not sandbox.overridable(name) then return nil end
    local file = path.find_module(name)
    if file then return sandbox.loader(file), file end
    return nil
  end)
  return core
end

return M
