-- SPDX-License-Identifier: MIT
-- cwlua.boot: run by main() with the argv table; returns the exit status.
--
-- Installs the module searcher that gives cwlua.* modules their search path (contract.md §3.5:
-- a module recipes are built from, cwlua.x, is overridden by DIR/cwlua/x.lua on the recipe
-- search path and then runs in the recipe sandbox; every module comes from the copy compiled
-- into the binary otherwise), the signal handling and the sandbox, then runs the CLI.
local runtime = require "cwlua.core.runtime"
local argv = ...

local function load_embedded(name)
  local source, chunkname = runtime.embedded(name)
  if source == nil then return nil end
  return assert(load(source, chunkname, "t")), chunkname
end

local path = load_embedded("cwlua.path")("cwlua.path")
package.loaded["cwlua.path"] = path

local sandbox -- cwlua.sandbox, loaded below through this searcher

-- Searcher for "cwlua" and "cwlua.*". The modules recipes are built from (sandbox.overridable:
-- the family builders and cwlua.proto.*) are looked for on the search path first, and such a
-- file runs in the recipe sandbox; every other module comes from the binary, and a file of its
-- name on the search path is ignored (contract.md §3.5). It decides alone: a name it does not
-- find raises instead of falling through to Lua's own searchers, which would load
-- ./cwlua/x.lua or a cwlua/x.so from package.path and cpath with the host's globals. The C
-- modules cwlua.core.* come from package.preload, the searcher before this one. Other names
-- go to Lua's own searchers, so Debian's Lua modules (busted, penlight) load as usual.
local function cwlua_searcher(name)
  if name ~= "cwlua" and name:sub(1, 6) ~= "cwlua." then return nil end
  if name:sub(1, 11) ~= "cwlua.core." then
    if sandbox and sandbox.overridable(name) then
      local file = path.find_module(name)
      if file then return sandbox.loader(file), file end
    end
    local chunk, chunkname = load_embedded(name)
    if chunk then return chunk, chunkname end
  end
  error(("module '%s' not found: cwlua has no such module%s"):format(name,
    sandbox and sandbox.overridable(name) and " (and no cwlua/ folder on the search path has it)"
    or ""), 0)
end
table.insert(package.searchers, 2, cwlua_searcher)

-- SIGINT and SIGTERM stop any run (cwlua.core.signal, bindings/l_signal.c): the hook raises
-- the interrupt once, and no pcall can swallow it: while a signal is pending, every caught
-- error is thrown on, so the run unwinds through every <close> handler to main(), which exits
-- 128 + the signal number. The same holds for a spent instruction budget.
do
  local signal = require "cwlua.core.signal"
  require("cwlua.interrupt").install("@scripts/cwlua/")
  local raw_pcall, raw_xpcall, raw_resume = pcall, xpcall, coroutine.resume
  local stopping = signal.stopping
  local function pass(ok, ...)
    if not ok and stopping() then error((...), 0) end
    return ok, ...
  end
  _G.pcall = function(f, ...) return pass(raw_pcall(f, ...)) end
  -- An interrupt (or a spent budget) does not run the message handler: raised from the hook,
  -- it would run with hooks off (ldo.c calls it before unwinding), and one that loops could
  -- never be stopped.
  _G.xpcall = function(f, handler, ...)
    local h = handler
    if type(handler) == "function" then
      h = function(e)
        if stopping() then return e end
        return handler(e)
      end
    end
    return pass(raw_xpcall(f, h, ...))
  end
  -- luacheck: ignore 122 (the runtime replaces resume on purpose, see above)
  coroutine.resume = function(co, ...) return pass(raw_resume(co, ...)) end
end

-- The recipe sandbox (after the pcall above: recipes get that one). The string metatable is
-- shared by every string in the process; recipes cannot reach it (their getmetatable refuses
-- strings), and a protected metatable makes sure no code depends on reaching it.
sandbox = require "cwlua.sandbox"
getmetatable("").__metatable = false

return require("cwlua.cli").main(argv)
