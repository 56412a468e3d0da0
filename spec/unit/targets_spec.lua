-- SPDX-License-Identifier: MIT
-- cwlua.targets: recipe loading, the sandbox, validation and name/alias resolution.
local cli = require "support.cli"
local errors = require "cwlua.errors"
local path = require "cwlua.path"
local targets = require "cwlua.targets"

-- Call f, which must raise a cwlua error of the given kind; return its message.
local function raised(kind, f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(errors.is(e, kind), "expected a cwlua '" .. kind .. "' error, got: "
    .. tostring(e))
  return e.message
end

describe("cwlua.targets", function()
  local dir
  before_each(function()
    dir = cli.tmpdir()
    path.set_search({ dir })
  end)
  after_each(function()
    path.set_search({})
    cli.cleanup()
  end)

  describe("load()", function()
    it("returns a valid recipe", function()
      local f = cli.write(dir .. "/ok.lua", [[
        local boot = require "cwlua.errors"
        return { api = 1, name = "ok", summary = "fine", part = "a", parts = { "a", "b" },
                 aliases = { OK_B = "b" }, _private = 3, defaults = { baud = 115200 },
                 connect = function() return boot end, read = function() end }
      ]])
      local r = targets.load(f)
      assert.are.equal("ok", r.name)
      assert.are.same({ "verify", "read", "info" }, targets.commands(r))
    end)

    local cases = {
      { "returns nothing", "return", "returned nil instead of a table; a recipe ends with "
        .. "'return { api = 1, ... }'" },
      { "has the wrong api", "return { api = 2, name = 'x', summary = 's' }",
        "field 'api' must be 1 (the recipe API of this cwlua), got 2" },
      { "is misnamed", "return { api = 1, name = 'y', summary = 's' }",
        "field 'name' must be 'x' (the file name), got 'y'" },
      { "has no name", "return { api = 1, summary = 's' }",
        "field 'name' must be 'x' (the file name), got nothing" },
      { "has a misspelt field", "return { api = 1, name = 'x', summary = 's', alaises = {} }",
        "unknown field 'alaises' (did you mean 'aliases'?)" },
      { "has a step that is not a function",
        "return { api = 1, name = 'x', summary = 's', write = true }",
        "step 'write' must be a function" },
      { "has a field of the wrong type", "return { api = 1, name = 'x', summary = 's', part = 3 }",
        "field 'part' must be a string" },
      { "has an alias to an unlisted part", "return { api = 1, name = 'x', summary = 's', "
        .. "parts = { 'a' }, aliases = { X = 'b' } }",
        "alias 'X' names part 'b', which is not in its 'parts' list" },
      { "has a reference part not in parts", "return { api = 1, name = 'x', summary = 's', "
        .. "part = 'c', parts = { 'a' } }", "reference part 'c' is not in its 'parts' list" },
    }
    for _, c in ipairs(cases) do
      it("raises an input error naming the file when the recipe " .. c[1], function()
        local f = cli.write(dir .. "/x.lua", c[2])
        assert.are.equal("recipe " .. f .. ": " .. c[3], raised("input", targets.load, f))
      end)
    end

    it("reports a syntax error with file and line", function()
      local f = cli.write(dir .. "/x.lua", "return {\n  api = 1,\n  name = = 'x' }\n")
      assert.are.equal("recipe " .. f .. ": " .. f .. ":3: unexpected symbol near '='",
        raised("input", targets.load, f))
    end)

    it("refuses to read an undefined global, naming the line", function()
      local f = cli.write(dir .. "/x.lua", "local a = 1\nlocal p = prot\nreturn {}\n")
      assert.are.equal("recipe " .. f .. ": " .. f .. ":2: undefined global 'prot' (recipes see "
        .. "only: assert, error, ipairs, next, pairs, pcall, select, tonumber, tostring, type, "
        .. "xpcall, setmetatable, getmetatable, rawequal, rawget, rawlen, rawset, string, table, "
        .. "math, utf8, _VERSION, require)", raised("input", targets.load, f))
    end)

    it("refuses io, os and print", function()
      for _, g in ipairs({ "io", "os", "print", "load", "dofile" }) do
        local f = cli.write(dir .. "/x.lua", "return " .. g .. "\n")
        assert.matches(":1: undefined global '" .. g .. "'", raised("input", targets.load, f))
      end
    end)

    it("refuses to assign a global", function()
      local f = cli.write(dir .. "/x.lua", "\nleak = 3\nreturn {}\n")
      assert.are.equal("recipe " .. f .. ": " .. f .. ":2: assignment to global 'leak'; declare "
        .. "it local", raised("input", targets.load, f))
    end)

    it("lets a recipe require cwlua modules but not C modules or other libraries", function()
      local f = cli.write(dir .. "/x.lua", "local m = require 'cwlua.core.runtime'\nreturn {}\n")
      assert.are.equal("recipe " .. f .. ": " .. f .. ":1: recipes may not require C modules "
        .. "('cwlua.core.runtime'); use the cwlua.* module that wraps it",
        raised("input", targets.load, f))
      f = cli.write(dir .. "/x.lua", "local m = require 'lfs'\nreturn {}\n")
      assert.are.equal("recipe " .. f .. ": " .. f .. ":1: recipes may only require cwlua "
        .. "library modules, not 'lfs'", raised("input", targets.load, f))
    end)
  end)

  describe("resolve()", function()
    it("finds a recipe by name, first on the search path", function()
      local r, part, file, origin = targets.resolve("stm32f1")
      assert.are.equal("stm32f1", r.name)
      assert.are.equal("stm32f100xb", part)
      assert.matches("/share/cwlua/targets/stm32f1%.lua$", file)
      assert.are.equal("built-in", origin)
      local mine = cli.write(dir .. "/stm32f1.lua", "return { api = 1, name = 'stm32f1', "
        .. "summary = 'mine' }")
      r, part, file, origin = targets.resolve("stm32f1")
      assert.are.equal("mine", r.summary)
      assert.is_nil(part)
      assert.are.equal(mine, file)
      assert.are.equal("search", origin)
    end)

    it("resolves a ChipWhisperer PLATFORM alias, case-insensitively, to its part", function()
      local r, part = targets.resolve("CW308_STM32F0")
      assert.are.equal("stm32f0", r.name)
      assert.are.equal("stm32f071xb", part)
      r, part = targets.resolve("cwnano")
      assert.are.equal("stm32f0", r.name)
      assert.are.equal("stm32f030x6", part)
      r, part = targets.resolve("CWLITEARM")
      assert.are.equal("stm32f3", r.name)
      assert.are.equal("stm32f303xc", part)
      r, part = targets.resolve("CWLITEXMEGA")
      assert.are.equal("xmega", r.name)
      assert.are.equal("atxmega128d4", part)
    end)

    it("lists every file it tried for an unknown target, with a suggestion", function()
      local msg = raised("usage", targets.resolve, "stm32f7")
      local lines = {}
      for l in msg:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.are.equal("unknown target 'stm32f7' (did you mean 'stm32f0'?)", lines[1])
      assert.are.equal("\tno file '" .. dir .. "/stm32f7.lua'", lines[2])
      assert.matches("^\tno file '.*/share/cwlua/targets/stm32f7%.lua'$", lines[#lines - 1])
      assert.are.equal("run 'cwlua targets' to list targets", lines[#lines])
    end)
  end)

  describe("suggest()", function()
    it("returns the closest candidate within two edits, or nil", function()
      assert.are.equal("program", targets.suggest("progrma", { "program", "verify" }))
      assert.is_nil(targets.suggest("xyz", { "program", "verify" }))
    end)
  end)
end)
