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

return require("cwlua.cli").main(argv)
