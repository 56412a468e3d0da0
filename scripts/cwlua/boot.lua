-- SPDX-License-Identifier: MIT
-- cwlua.boot: run by main() with the argv table; returns the exit status.
--
-- Installs the module searcher that gives cwlua.* modules their search path (contract.md §3: a
-- library module cwlua.x is overridden by DIR/cwlua/x.lua on the recipe search path, and
-- otherwise comes from the copy compiled into the binary), then runs the CLI.
-- This file and cwlua.path are always taken from the binary: they set the path up.
local runtime = require "cwlua.core.runtime"
local argv = ...

local function load_embedded(name)
  local source, chunkname = runtime.embedded(name)
  if source == nil then return nil end
  return assert(load(source, chunkname, "t")), chunkname
end

local path = load_embedded("cwlua.path")("cwlua.path")
package.loaded["cwlua.path"] = path

-- Searcher for "cwlua" and "cwlua.*" (but not the C modules cwlua.core.*): the search path
-- first, then the embedded copy. Other names fall through to Lua's own searchers, so Debian's
-- Lua modules (busted, penlight) load as usual.
local function cwlua_searcher(name)
  if name ~= "cwlua" and name:sub(1, 6) ~= "cwlua." then return nil end
  if name:sub(1, 11) == "cwlua.core." then return nil end
  local file = path.find_module(name)
  if file then
    local chunk, err = loadfile(file, "t")
    if not chunk then error(err, 0) end
    return chunk, file
  end
  local chunk, chunkname = load_embedded(name)
  if chunk then return chunk, chunkname end
  return "\n\tno embedded module '" .. name .. "'"
end
table.insert(package.searchers, 2, cwlua_searcher)

-- SIGINT and SIGTERM stop any run (cwlua.core.signal, bindings/l_signal.c): the hook raises
-- the interrupt once, and no pcall can swallow it: while a signal is pending, every caught
-- error is thrown on, so the run unwinds through every <close> handler to main(), which exits
-- 128 + the signal number. The same holds for a spent instruction budget.
do
  local signal = require "cwlua.core.signal"
  local errors = require "cwlua.errors"
  signal.install(function(kind, detail)
    if kind == "interrupted" then
      return errors.new("interrupted", "interrupted", { signo = detail })
    end
    return errors.new("failure", "instruction budget exhausted", { budget = true })
  end)
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

return require("cwlua.cli").main(argv)
