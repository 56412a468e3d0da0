-- SPDX-License-Identifier: MIT
-- cwlua.sandbox: what a recipe (and a module loaded for it) sees, read-only views of the shared
-- modules, the metatable rules and the instruction budget (docs/targets.md "The sandbox").
local cli = require "support.cli"
local errors = require "cwlua.errors"
local path = require "cwlua.path"
local sandbox = require "cwlua.sandbox"
local targets = require "cwlua.targets"

local HEAD = "return { api = 1, name = 'x', summary = 's', _v = (function()\n"
local TAIL = "\nend)() }\n"

describe("cwlua.sandbox", function()
  local dir
  before_each(function()
    dir = cli.tmpdir()
    path.set_search({ dir })
  end)
  after_each(function()
    path.set_search({})
    for name in pairs(package.loaded) do
      if name:match("^cwlua%.proto%.sbx_") then package.loaded[name] = nil end
    end
    cli.cleanup()
  end)

  -- Loads a recipe whose private field _v is what body returns; returns it.
  local function run(body)
    return targets.load(cli.write(dir .. "/x.lua", HEAD .. body .. TAIL))._v
  end

  -- Loads a recipe whose body must raise; returns the message after "FILE:LINE: ".
  local function refused(body)
    local f = cli.write(dir .. "/x.lua", HEAD .. body .. TAIL)
    local ok, e = pcall(targets.load, f)
    assert.is_false(ok, "expected the recipe to fail")
    assert.is_true(errors.is(e, "input"), tostring(e))
    local prefix = "recipe " .. f .. ": " .. f .. ":%d+: "
    assert.matches("^" .. prefix:gsub("[%.%-/]", "%%%0"), e.message)
    return (e.message:gsub("^" .. prefix:gsub("[%.%-/]", "%%%0"), ""))
  end

  describe("globals", function()
    it("offers exactly the allow-list", function()
      assert.are.same({ "assert", "error", "ipairs", "next", "pairs", "pcall", "select",
        "tonumber", "tostring", "type", "xpcall", "setmetatable", "getmetatable", "rawequal",
        "rawget", "rawlen", "rawset", "string", "table", "math", "utf8", "_VERSION", "require" },
        sandbox.ALLOWED)
      for _, g in ipairs(sandbox.ALLOWED) do
        assert.is_not_nil(run("return " .. g), g)
      end
    end)

    it("has no io, os, load, debug, package or other host globals", function()
      for _, g in ipairs({ "io", "os", "print", "load", "loadfile", "dofile", "debug", "package",
                           "collectgarbage", "coroutine", "_G", "require_host", "arg", "cw" }) do
        assert.matches("^undefined global '" .. g .. "' %(recipes see only: assert, ",
          refused("return " .. g))
      end
    end)

    it("hides the parts of the standard library that reach the host's state", function()
      assert.are.same({ true, true, true }, run("return { string.dump == nil, "
        .. "math.random == nil, math.randomseed == nil }"))
      assert.are.equal("0A 1", run("return string.format('%02X %d', 10, 1)"))
      assert.are.equal(3, run("return math.max(1, 3)"))
    end)

    it("gives each recipe an environment of its own that it cannot change", function()
      assert.matches("^rawset: ", refused("rawset(_ENV, 'leak', 7)"))
      assert.matches("^assignment to global 'leak'; declare it local", refused("leak = 7"))
      assert.matches("^getmetatable: ", refused("return getmetatable(_ENV)"))
      assert.matches("^setmetatable: ", refused("setmetatable(_ENV, nil)"))
    end)
  end)

  describe("read-only views", function()
    it("refuse every change to the standard library, also inside pcall", function()
      assert.matches("^cannot set 'format': the library modules and the standard library are "
        .. "shared, so recipes see them read%-only$",
        refused("string.format = function() return 'HIJACKED' end"))
      assert.is_false(run("return (pcall(function() string.format = nil end))"))
      assert.is_false(run("return (pcall(table.insert, math, 1))"))
      assert.are.equal("1", string.format("%d", 1))
      assert.are.equal("function", type(math.random))
    end)

    it("are deep, for modules too, and reading works as usual", function()
      assert.matches("^cannot set 'input'", refused("require('cwlua.errors').EXIT.input = 0"))
      assert.matches("^cannot set 'name'",
        refused("require('cwlua.proto.stm32devices').BY_PID[0x410].name = 'x'"))
      assert.are.same({ 2, "STM32F10xxx Medium-density VL", 2 }, run([[
        local d = require('cwlua.proto.stm32devices')
        local n = 0
        for k, v in pairs(require('cwlua.errors').EXIT) do
          if k == 'input' then n = v end
        end
        return { n, d.BY_PID[0x420].name, #require('cwlua.proto.xmegaparts').PARTS }]]))
      assert.are.equal(2, errors.EXIT.input)
    end)

    it("give back a module's own tables read-only from its functions", function()
      -- avr.cpu_hz returns the shared table that describes the clock source
      assert.matches("^cannot set 'rig'", refused([[
        local hz, src = require('cwlua.avr').cpu_hz(0x62, 7.3728e6)
        src.rig = false]]))
      assert.is_true(require("cwlua.proto.avrparts").CLOCK_SOURCES[2].rig)
      -- what a function makes afresh is the recipe's own
      assert.are.equal("mine", run([[
        local r = require('cwlua.stm32').recipe({ api = 1 })
        r.name = 'mine'
        return r.name]]))
    end)

    it("cannot be changed with rawset or setmetatable", function()
      assert.matches("^rawset: recipes may rawset their own tables only",
        refused("rawset(string, 'format', tostring)"))
      assert.matches("^setmetatable: recipes may set the metatable of their own tables only",
        refused("setmetatable(require('cwlua.errors'), {})"))
    end)

    it("show only inherit of cwlua.params, which gives a recipe copies of its own", function()
      -- a family's ranges, as the builders fill them in: copies for the defaults the recipe
      -- has and no entry of its own, each a table the recipe may change
      assert.are.same({ { min = 1200, max = 115200,
                          why = "the rates the ROM bootloader's autobaud detects, ST AN3155" },
                        { min = 5 }, "nil", false, 9600, "pages", 1200, "section" }, run([[
        local params = require('cwlua.params')
        local stm32, xmega = require('cwlua.stm32'), require('cwlua.xmega')
        local function own() return { defaults = { bauds = { 115200 }, reset_ms = 10,
          app_erase = 'section' }, params = { reset_ms = { min = 5 } } } end
        local r = params.inherit(own(), stm32.PARAMS)
        local again = params.inherit(own(), stm32.PARAMS)
        params.inherit(r, xmega.PARAMS)
        r.params.bauds.min = 9600
        r.params.app_erase.one_of[1] = 'pages'
        return { again.params.bauds, r.params.reset_ms, type(r.params.erased),
                 r.params.bauds == again.params.bauds, r.params.bauds.min,
                 r.params.app_erase.one_of[1], stm32.PARAMS.bauds.min,
                 xmega.PARAMS.app_erase.one_of[1] }]]))
      -- the rest of the module (--set parsing, which loads cwlua.targets) is not there
      assert.are.same({ "function", "nil", "nil", "nil", "nil" }, run([[
        local p = require('cwlua.params')
        return { type(p.inherit), type(p.merge), type(p.parse), type(p.check_spec),
                 type(p.SPEC_FIELDS) }]]))
      -- and it writes only into the recipe's own tables: not into a module through a view
      assert.are.same({ false, "cannot set 'x'", false, "cannot set 'params'" }, run([[
        local params, stm32 = require('cwlua.params'), require('cwlua.stm32')
        local ok1, e1 = pcall(params.inherit, { defaults = { x = 1 }, params = stm32.PARAMS },
          { x = { min = 0 } })
        local ok2, e2 = pcall(params.inherit, stm32, { x = { min = 0 } })
        return { ok1, tostring(e1):match("cannot set '[^']*'"), ok2,
                 tostring(e2):match("cannot set '[^']*'") }]]))
      assert.is_nil(require("cwlua.stm32").PARAMS.x)
      assert.is_nil(require("cwlua.stm32").params)
      assert.are.equal(1200, require("cwlua.stm32").PARAMS.bauds.min)
      assert.are.equal("section", require("cwlua.xmega").PARAMS.app_erase.one_of[1])
    end)

    it("show only the time and wire functions of cwlua.time and cwlua.board", function()
      assert.are.same({ "function", "function", "nil", "nil", "function", "nil" }, run([[
        local t, b = require('cwlua.time'), require('cwlua.board')
        return { type(t.now_ns), type(t.sleep), type(t.use), type(t.release), type(b.wire),
                 type(b.open) }]]))
    end)
  end)

  describe("require", function()
    it("gives the modules recipes are built from, and refuses host modules", function()
      for _, m in ipairs({ "cwlua.stm32", "cwlua.xmega", "cwlua.avr", "cwlua.errors",
                           "cwlua.params", "cwlua.time", "cwlua.board", "cwlua.proto.stm32boot",
                           "cwlua.proto.xprog", "cwlua.proto.v2isp" }) do
        assert.are.equal("table", run("return type(require('" .. m .. "'))"), m)
      end
      for _, m in ipairs({ "cwlua", "cwlua.repl", "cwlua.bitstream", "cwlua.image", "cwlua.cli",
                           "cwlua.cmd.program", "cwlua.path", "cwlua.targets", "cwlua.flash",
                           "cwlua.sandbox", "cwlua.json", "cwlua.evil" }) do
        assert.are.equal("recipes may not require '" .. m .. "': they may require only "
          .. "cwlua.stm32, cwlua.xmega, cwlua.avr, cwlua.proto.*, cwlua.errors, cwlua.retry, "
          .. "cwlua.params, cwlua.time, cwlua.board", refused("require('" .. m .. "')"), m)
      end
      assert.are.equal("recipes may not require C modules ('cwlua.core.device'); use the "
        .. "cwlua.* module that wraps it", refused("require('cwlua.core.device')"))
      assert.are.equal("recipes may only require cwlua library modules, not 'lfs'",
        refused("require('lfs')"))
    end)

    it("gives the same view each time", function()
      assert.is_true(run("return require('cwlua.stm32') == require('cwlua.stm32')"))
    end)
  end)

  describe("metatables", function()
    it("are a recipe's own business on its own tables", function()
      assert.are.equal(42, run([[
        local Class = {}
        Class.__index = Class
        function Class.get(self) return self.v end
        local o = setmetatable({ v = 42 }, Class)
        assert(getmetatable(o) == Class)
        return o:get()]]))
    end)

    it("of strings, views and cwlua's objects cannot be read or set", function()
      assert.are.equal("getmetatable: recipes may read only metatables they set themselves; "
        .. "this string's belongs to cwlua", refused("getmetatable('').__index = {}"))
      assert.matches("^getmetatable: .* this table's belongs to cwlua",
        refused("return getmetatable(require('cwlua.errors').new('input', 'x'))"))
      assert.matches("^setmetatable: ",
        refused("setmetatable(require('cwlua.errors').new('input', 'x'), nil)"))
      assert.matches("^getmetatable: ", refused("return getmetatable(string)"))
    end)

    it("may not have a __gc finalizer", function()
      assert.are.equal("setmetatable: recipes may not set a __gc finalizer (it would run at "
        .. "any time)", refused("setmetatable({}, { __gc = function() end })"))
    end)

    it("of the string metatable is protected for the host too", function()
      assert.is_false(getmetatable(""))
      assert.are.equal("ABC", ("abc"):upper())
    end)

    it("may not be on the table a recipe returns, or in its fields", function()
      local f = cli.write(dir .. "/x.lua", "return setmetatable({}, { __index = function() "
        .. "while true do end end })")
      local ok, e = pcall(targets.load, f)
      assert.is_false(ok)
      assert.are.equal("recipe " .. f .. ": returned a table with a metatable; a recipe returns "
        .. "a plain table", e.message)
      f = cli.write(dir .. "/x.lua", "return { api = 1, name = 'x', summary = 's', defaults = "
        .. "{ t = setmetatable({}, { __pairs = function() while true do end end }) } }")
      ok, e = pcall(targets.load, f)
      assert.is_false(ok)
      assert.are.equal("recipe " .. f .. ": field 'defaults' holds a table with a metatable; "
        .. "recipe fields must be plain data", e.message)
      -- a private field may hold the recipe's own objects
      assert.are.equal(1, targets.load(cli.write(dir .. "/x.lua", "return { api = 1, "
        .. "name = 'x', summary = 's', _o = setmetatable({}, { __index = { v = 1 } }) }"))._o.v)
    end)
  end)

  describe("the instruction budget", function()
    local function stopped(body, line)
      local f = cli.write(dir .. "/x.lua", body)
      local t0 = os.clock()
      local ok, e = pcall(targets.load, f)
      assert.is_false(ok)
      assert.is_true(errors.is(e, "input"), tostring(e))
      assert.are.equal(("recipe %s: did not finish loading within %d instructions (stopped at "
        .. "%s:%d); does it loop?"):format(f, sandbox.BUDGET, f, line), e.message)
      assert.is_true(os.clock() - t0 < 2, "took " .. (os.clock() - t0) .. " s")
    end

    it("stops a recipe that loops, naming the file and line", function()
      stopped("local n = 0\nwhile true do n = n + 1 end\n", 2)
    end)

    it("stops it inside pcall, in a <close> handler and in an xpcall message handler", function()
      stopped("while true do\n  pcall(function() while true do end end)\nend\n", 2)
      stopped("local c <close> = setmetatable({}, { __close = function()\n"
        .. "  while true do end end })\nwhile true do end\n", 3)
      stopped("xpcall(function() while true do end end,\n"
        .. "  function() while true do end end)\n", 1)
    end)

    it("makes time a counting clock while a recipe loads, so waiting costs no time", function()
      local t0 = os.time()
      assert.are.equal(3600e9, run([[
        local time = require('cwlua.time')
        local t = time.now_ns()
        time.sleep(3600e3)
        return time.now_ns() - t]]))
      stopped("local time = require('cwlua.time')\nwhile true do time.sleep(1000) end\n", 2)
      assert.is_true(os.time() - t0 < 5)
      -- and the run's own clock is back afterwards
      local time = require "cwlua.time"
      local a = time.now_ns()
      time.sleep(1)
      assert.is_true(time.now_ns() - a >= 1e6)
    end)

    it("leaves the real recipes far below it", function()
      for _, e in ipairs(targets.list()) do
        if e.origin == "built-in" then assert.is_not_nil(e.recipe, e.error) end
      end
    end)

    it("covers a module loaded for a recipe, naming where it stopped", function()
      local m = cli.write(dir .. "/cwlua/proto/sbx_loop.lua", "\nwhile true do end\n")
      local f = cli.write(dir .. "/x.lua", "require 'cwlua.proto.sbx_loop'")
      local ok, e = pcall(targets.load, f)
      assert.is_false(ok)
      assert.are.equal(("recipe %s: did not finish loading within %d instructions (stopped at "
        .. "%s:2); does it loop?"):format(f, sandbox.BUDGET, m), e.message)
      -- loaded by the host, such a module has a budget of its own
      ok, e = pcall(require, "cwlua.proto.sbx_loop")
      assert.is_false(ok)
      assert.are.equal(("module %s: did not finish loading within %d instructions (stopped at "
        .. "%s:2); does it loop?"):format(m, sandbox.BUDGET, m), e.message)
    end)
  end)

  describe("modules from the search path", function()
    it("run in the sandbox, for a recipe and for the host alike", function()
      cli.write(dir .. "/cwlua/proto/sbx_mod.lua", [[
        local ok = pcall(function() return io.open end)
        return { io_seen = ok, now = type(require('cwlua.time').now_ns) }]])
      assert.are.same({ false, "function" }, run([[
        local m = require('cwlua.proto.sbx_mod')
        return { m.io_seen, m.now }]]))
      assert.is_false(require("cwlua.proto.sbx_mod").io_seen)
    end)

    it("are never taken from Lua's package.path or cpath (./cwlua/x.lua)", function()
      local saved = package.path
      package.path = dir .. "/lib/?.lua;" .. saved
      local mark = dir .. "/pwned"
      for _, m in ipairs({ "cwlua/proto/sbx_cwd.lua", "cwlua/sbx_cwd.lua" }) do
        cli.write(dir .. "/lib/" .. m, ("io.open(%q, 'w'):close() return {}"):format(mark))
      end
      local ok1, e1 = pcall(run, "return (pcall(require, 'cwlua.proto.sbx_cwd'))")
      local ok2, e2 = pcall(require, "cwlua.sbx_cwd")
      package.path = saved
      assert.are.same({ true, false }, { ok1, e1 })
      assert.are.same({ false, "module 'cwlua.sbx_cwd' not found: cwlua has no such module" },
        { ok2, e2 })
      assert.is_nil(io.open(mark, "rb"))
    end)

    it("are looked for only for the modules recipes are built from", function()
      assert.is_true(sandbox.overridable("cwlua.stm32"))
      assert.is_true(sandbox.overridable("cwlua.proto.stm32boot"))
      for _, m in ipairs({ "cwlua.errors", "cwlua.time", "cwlua.board", "cwlua.cli",
                           "cwlua.repl", "cwlua.evil", "cwlua.sandbox", "cwlua.targets" }) do
        assert.is_false(sandbox.overridable(m), m)
      end
      cli.write(dir .. "/cwlua/sbx_evil.lua", "return 'loaded'")
      local ok, e = pcall(require, "cwlua.sbx_evil")
      assert.is_false(ok)
      assert.are.equal("module 'cwlua.sbx_evil' not found: cwlua has no such module", e)
    end)
  end)
end)
