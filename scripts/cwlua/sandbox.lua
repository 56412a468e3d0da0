-- SPDX-License-Identifier: MIT
-- cwlua.sandbox: the environment a recipe, and every module loaded for it from the search path,
-- runs in (docs/targets.md "The sandbox", contract.md §3.5).
--
-- Recipes come from any folder on the search path, and an alias lookup loads every one of them,
-- so loading a recipe must not be able to reach the host: no io, os, load, debug or package, no
-- way to change the host's globals, the string metatable, a library module or another recipe.
-- What a recipe sees:
--   * an allow-list of pure functions (ALLOWED below), with getmetatable, setmetatable and
--     rawset limited to the recipe's own tables;
--   * read-only views of string, table, math and utf8 (without string.dump, math.random and
--     math.randomseed, which reach the host's state);
--   * a require that gives read-only views of the library modules recipes are built from
--     (MODULES): the family builders, the protocol engines and part tables under cwlua.proto,
--     cwlua.errors, cwlua.retry, and a few functions of cwlua.params, cwlua.time and
--     cwlua.board;
-- and loading runs under an instruction budget, so a recipe that loops is stopped.
--
-- A view is deep: a table reached through it is a view too, and a function reached through it
-- gives back views of any table the module holds (the module's own tables, found by walking it
-- when its view is made), so a recipe cannot change a module through what its functions return.
-- Tables a function makes afresh (stm32.recipe's result, an engine object) belong to the caller.
--
-- Overriding (contract.md §3.5): only the modules a recipe may require and that are marked
-- `override` (the family builders and cwlua.proto.*) are looked for on the search path
-- (DIR/cwlua/x.lua), by the searcher in cwlua.boot, and such a file runs in this sandbox under
-- the same budget. Every other module always comes from the binary.
local errors = require "cwlua.errors"
local signal = require "cwlua.core.signal"
local time = require "cwlua.time"

local M = {}

-- Instructions a recipe may run while it loads (its chunk, its top-level code, the modules it
-- loads for the first time and the walk of their views). Measured with a count hook of 1: the
-- heaviest built-in recipe is avr loaded first in a fresh process, about 42 000 (it loads and
-- walks cwlua.board and what that holds); an stm32 recipe about 24 000 first, 3 000 after.
-- 10 000 000 leaves a margin of 200 for recipes that compute tables, and stops a recipe that
-- loops in some 30 ms.
M.BUDGET = 10000000

-- Modules a recipe may require. fields: only these members are visible (the rest is host
-- plumbing: time.use/release switch the clock of the whole run, board.open opens devices).
-- override: may be replaced by DIR/cwlua/... on the search path, and then runs in the sandbox.
-- errors, time and board are the host's own infrastructure (its exit codes, its clock, its
-- wire log), so they always come from the binary.
local MODULES = {
  ["cwlua.stm32"] = { override = true },
  ["cwlua.xmega"] = { override = true },
  ["cwlua.avr"] = { override = true },
  ["cwlua.errors"] = {},
  ["cwlua.retry"] = {}, -- the retry record the family builders keep (pure: needs only errors)
  -- the family builders' ranges for their recipes' parameters (params.inherit: pure, it only
  -- copies tables it is given); the rest is the host's --set parsing, which loads cwlua.targets
  ["cwlua.params"] = { fields = { "inherit" } },
  ["cwlua.time"] = { fields = { "now", "now_ns", "sleep", "sleep_ns", "deadline" } },
  ["cwlua.board"] = { fields = { "wire" } }, -- the --log-wire log, for cwlua.proto.v2isp
}
local PROTO = { override = true } -- every cwlua.proto.NAME

--- sandbox.MODULE_NAMES: what a recipe may require, for messages and docs
M.MODULE_NAMES = { "cwlua.stm32", "cwlua.xmega", "cwlua.avr", "cwlua.proto.*", "cwlua.errors",
                   "cwlua.retry", "cwlua.params", "cwlua.time", "cwlua.board" }

local function module_spec(name)
  if type(name) ~= "string" then return nil end
  return MODULES[name] or (name:match("^cwlua%.proto%.[%w_]+$") and PROTO) or nil
end

--- sandbox.overridable(name) -> true when DIR/cwlua/... on the search path may replace module
-- name (then it is loaded with sandbox.loader)
function M.overridable(name)
  local s = module_spec(name)
  return s ~= nil and s.override == true
end

---------------------------------------------------------------------------------------------
-- read-only views

local weak = { __mode = "k" }
local REAL = setmetatable({}, weak)   -- view -> the table it shows
local VIEW = setmetatable({}, weak)   -- table -> its view
local SHARED = setmetatable({}, weak) -- tables a module holds (walked when its view is made)
local WALKED = setmetatable({}, weak) -- functions whose upvalues were walked
local CALL = setmetatable({}, weak)   -- Lua function -> the wrapper that views its results

local view, call

local function readonly(_, k)
  error(("cannot set '%s': the library modules and the standard library are shared, so recipes "
    .. "see them read-only"):format(tostring(k)), 2)
end

-- A function's results as a recipe gets them: a table the module holds becomes its view.
local function out(x)
  local t = type(x)
  if t == "table" then return SHARED[x] and view(x) or x end
  if t == "function" then return call(x) end
  return x
end

local function results(...)
  local n = select("#", ...)
  if n == 0 then return end
  if n == 1 then return out((...)) end
  local r = table.pack(...)
  for i = 1, n do r[i] = out(r[i]) end
  return table.unpack(r, 1, n)
end

-- C functions here are the standard library's (string.format, ...): they never hand out a
-- module's tables, so they are shown as they are.
function call(f)
  local g = CALL[f]
  if g then return g end
  if debug.getinfo(f, "S").what == "C" then return f end
  g = function(...) return results(f(...)) end
  CALL[f] = g
  return g
end

local function wrap(v)
  local t = type(v)
  if t == "table" then return view(v) end
  if t == "function" then return call(v) end
  return v
end

function view(t)
  if REAL[t] then return t end
  local v = VIEW[t]
  if v then return v end
  v = setmetatable({}, {
    __index = function(_, k) return wrap(t[k]) end,
    __newindex = readonly,
    __len = function() return #t end,
    __pairs = function(self)
      return function(_, k)
        local nk, nv = next(t, REAL[k] or k)
        return wrap(nk), wrap(nv)
      end, self, nil
    end,
    __call = function(_, ...) return results(t(...)) end,
    __metatable = false,
  })
  REAL[v], VIEW[t] = t, v
  return v
end

-- Marks every table module m holds: its fields, nested tables, metatables, and the upvalues of
-- its functions (a module's locals), but not the globals (_ENV) or the package tables.
local function walk(m)
  local stop = { [_G] = true, [package] = true, [package.loaded] = true, [REAL] = true,
                 [VIEW] = true, [SHARED] = true, [WALKED] = true, [CALL] = true }
  local stack, n = { m }, 1
  local function push(x)
    local t = type(x)
    if (t == "table" and not SHARED[x] and not stop[x] and not REAL[x])
      or (t == "function" and not WALKED[x]) then
      n = n + 1
      stack[n] = x
    end
  end
  while n > 0 do
    local x = stack[n]
    stack[n], n = nil, n - 1
    if type(x) == "table" then
      if not SHARED[x] then
        SHARED[x] = true
        push(debug.getmetatable(x))
        for k, v in next, x do
          push(k)
          push(v)
        end
      end
    elseif not WALKED[x] then
      WALKED[x] = true
      for i = 1, 255 do
        local name, v = debug.getupvalue(x, i)
        if name == nil then break end
        if name ~= "_ENV" then push(v) end
      end
    end
  end
end

local MODVIEW = setmetatable({}, weak) -- module table -> the view recipes get

local function module_view(name, m)
  local v = MODVIEW[m]
  if v then return v end
  local s = module_spec(name)
  if type(m) == "table" then
    walk(m)
    if s.fields then
      local some = {}
      for _, k in ipairs(s.fields) do some[k] = m[k] end
      SHARED[some] = true
      v = view(some)
    else
      v = view(m)
    end
  else
    v = out(m)
  end
  if type(m) == "table" then MODVIEW[m] = v end
  return v
end

---------------------------------------------------------------------------------------------
-- the environment

local OWN = setmetatable({}, weak) -- tables whose metatable sandboxed code set

-- A table sandboxed code may give a metatable or rawset: one without a metatable or one it gave
-- its metatable itself. Anything else is a view or the host's object (an error object, a board),
-- whose metatable is the host's behaviour.
local function own(t)
  return type(t) == "table" and not REAL[t] and (OWN[t] or debug.getmetatable(t) == nil)
end

local function s_getmetatable(v)
  if debug.getmetatable(v) == nil then return nil end
  if type(v) == "table" and OWN[v] then return getmetatable(v) end
  error(("getmetatable: recipes may read only metatables they set themselves; this %s's "
    .. "belongs to cwlua"):format(type(v)), 2)
end

local function s_setmetatable(t, mt)
  if type(t) ~= "table" then
    error(("bad argument #1 to 'setmetatable' (table expected, got %s)"):format(type(t)), 2)
  end
  if mt ~= nil and type(mt) ~= "table" then
    error("bad argument #2 to 'setmetatable' (nil or table expected)", 2)
  end
  if not own(t) then
    error("setmetatable: recipes may set the metatable of their own tables only; this table's "
      .. "belongs to cwlua", 2)
  end
  if mt ~= nil and rawget(mt, "__gc") ~= nil then
    error("setmetatable: recipes may not set a __gc finalizer (it would run at any time)", 2)
  end
  setmetatable(t, mt)
  OWN[t] = mt ~= nil or nil
  return t
end

local function s_rawset(t, k, v)
  if not own(t) then
    error("rawset: recipes may rawset their own tables only; this one is read-only or belongs "
      .. "to cwlua", 2)
  end
  return rawset(t, k, v)
end

local function s_require(name)
  if type(name) ~= "string" or (name ~= "cwlua" and name:sub(1, 6) ~= "cwlua.") then
    error(("recipes may only require cwlua library modules, not '%s'"):format(tostring(name)), 2)
  end
  if name:sub(1, 11) == "cwlua.core." then
    error(("recipes may not require C modules ('%s'); use the cwlua.* module that wraps it")
      :format(name), 2)
  end
  if not module_spec(name) then
    error(("recipes may not require '%s': they may require only %s"):format(name,
      table.concat(M.MODULE_NAMES, ", ")), 2)
  end
  return module_view(name, require(name))
end

local function library(t, without)
  local copy = {}
  for k, v in pairs(t) do
    if not without[k] then copy[k] = v end
  end
  SHARED[copy] = true
  return view(copy)
end

-- The globals of a recipe, in the order messages list them.
local ALLOWED = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
  "type", "xpcall", "setmetatable", "getmetatable", "rawequal", "rawget", "rawlen", "rawset",
  "string", "table", "math", "utf8", "_VERSION", "require",
}
M.ALLOWED = ALLOWED

local globals -- name -> value, made on first use (after cwlua.boot replaced pcall and xpcall)

local function make_globals()
  return {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring, type = type,
    xpcall = xpcall, rawequal = rawequal, rawget = rawget, rawlen = rawlen,
    getmetatable = s_getmetatable, setmetatable = s_setmetatable, rawset = s_rawset,
    string = library(string, { dump = true }),
    table = library(table, {}),
    math = library(math, { random = true, randomseed = true }),
    utf8 = library(utf8, {}),
    _VERSION = _VERSION,
    require = s_require,
  }
end

-- error() and assert() as a recipe sees them. A value that is not a message (error({}),
-- error(nil), assert(false, {})) would reach the user as "table: 0x55…": it becomes one line
-- naming the recipe and where it was raised, a bug in the recipe (exit 1). Messages and cwlua
-- errors pass through as the built-ins raise them.
local function raisers(name)
  local function bug(value, where)
    error(errors.new("failure", ("recipe %s raised %s (not a message)%s; this is a bug in the "
      .. "recipe: raise a string, or an error made with cwlua.errors"):format(name,
      errors.not_message(value), where and (" at " .. where) or ""), { recipe_bug = true }), 0)
  end
  local function recipe_error(value, level)
    if errors.not_message(value) then bug(value, errors.position(2)) end
    level = level or 1
    -- one more level for this function, so "file:line:" still names the recipe's line
    if type(value) == "string" and math.type(level) == "integer" and level > 0 then
      level = level + 1
    end
    error(value, level)
  end
  local function recipe_assert(v, message, ...)
    if v then return v, message, ... end
    if message == nil then message = "assertion failed!" end
    if errors.not_message(message) then bug(message, errors.position(2)) end
    error(message, 2) -- as assert does: a string gets the recipe's "file:line: "
  end
  return recipe_error, recipe_assert
end

--- sandbox.env([name [, assign]]) -> a fresh environment for one recipe or module chunk (name:
-- the recipe's or module's, for messages). Reading a global that is not allowed, or assigning
-- any global, raises naming the line. With assign (a config file, cwlua.config), assigning a
-- global calls assign(name, value, line) instead, and the chunk reads back what it assigned;
-- assign returns nil, or a message raised as the assignment's error.
function M.env(name, assign)
  globals = globals or make_globals()
  local own_globals, assigned = {}, {}
  own_globals.error, own_globals.assert = raisers(name or "?")
  return setmetatable({}, {
    __index = function(_, k)
      local v = assigned[k]
      if v == nil then v = own_globals[k] or globals[k] end
      if v ~= nil then return v end
      error(("undefined global '%s' (%s see only: %s)"):format(tostring(k),
        assign and "config files" or "recipes", table.concat(ALLOWED, ", ")), 2)
    end,
    __newindex = function(_, k, v)
      if not assign then
        error(("assignment to global '%s'; declare it local"):format(tostring(k)), 2)
      end
      local refused = assign(k, v, debug.getinfo(2, "l").currentline)
      if refused then error(refused, 2) end
      assigned[k] = v
    end,
    __metatable = false,
  })
end

---------------------------------------------------------------------------------------------
-- the budget

-- While a recipe loads, cwlua.time is a clock of its own that only counts: a sleep costs no
-- real time, so a recipe (or an engine it drives with a stream of its own) that waits or polls
-- the clock while it loads spends instructions, not seconds, and the budget stops it.
local LOAD_CLOCK = { t = 0 }
function LOAD_CLOCK.now_ns(self) return self.t end
function LOAD_CLOCK.sleep_ns(self, ns) self.t = self.t + ns end

local running = false -- a budget is running: a module loaded inside a recipe shares it
local STOP = setmetatable({}, { __close = function()
  running = false
  time.release(LOAD_CLOCK)
end })

--- sandbox.run(what, fn, ...) -> fn's results; fn runs under the instruction budget (unless one
-- is already running: a module loaded while a recipe loads counts against the recipe's).
-- When the budget is spent it raises an "input" error (exit 2) with field budget = true:
-- "<what>: did not finish loading within N instructions (stopped at FILE:LINE); does it loop?"
-- what names the file ("recipe /path/x.lua").
function M.run(what, fn, ...)
  if running then return fn(...) end
  running = true
  local _ <close> = STOP
  time.use(LOAD_CLOCK)
  local res = table.pack(pcall(signal.budget, M.BUDGET, fn, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local e = res[2]
  if errors.is(e) and e.budget then
    error(errors.new("input", ("%s: did not finish loading within %d instructions%s; does it "
      .. "loop?"):format(what, M.BUDGET, e.where and (" (stopped at " .. e.where .. ")") or ""),
      { budget = true }), 0)
  end
  error(e, 0)
end

--- sandbox.loader(file) -> the loader require calls for a module found on the search path:
-- the file's chunk in a fresh sandbox environment, run under the budget.
-- A syntax error raises at once (as Lua's own file searcher does).
function M.loader(file)
  local chunk, err = loadfile(file, "t", M.env(file:match("([^/]+)%.lua$")))
  if not chunk then error(err, 0) end
  return function(...) return M.run("module " .. file, chunk, ...) end
end

return M
