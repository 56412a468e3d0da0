-- SPDX-License-Identifier: MIT
-- An error value that is not a message (error({}), error(nil), assert(false, {})) raised by a
-- recipe: one line naming the recipe and the file and line, a bug in the recipe (exit 1),
-- never "table: 0x55…" (docs/targets.md "The sandbox"; contract.md §3.8).
local cli = require "support.cli"

local HELLO = "examples/stm32f1-hello/hello.hex"

-- A copy of the built-in stm32f1 recipe in a fresh -s folder, with `top` put before it and
-- its connect step replaced by `connect` (when given). Returns the folder and the file.
local function recipe(top, connect)
  local f = assert(io.open("targets/stm32f1.lua", "rb"))
  local src = f:read("a")
  f:close()
  if connect then
    src = src:gsub("\nreturn stm32%.recipe {", "\nlocal r = stm32.recipe {", 1)
      .. "r.connect = function(ctx)\n  " .. connect .. "\nend\nreturn r\n"
  end
  local dir = cli.tmpdir()
  local file = cli.write(dir .. "/stm32f1.lua", (top and (top .. "\n") or "") .. src)
  return dir, file
end

local function lines(text)
  local n = 0
  for _ in text:gmatch("\n") do n = n + 1 end
  return n
end

describe("a recipe raising something that is not a message", function()
  after_each(cli.cleanup)

  local function program(dir)
    return cli.run({ "-s", dir, "-d", "sim", "--sim-state", cli.tmpdir(), "program", "stm32f1",
      HELLO })
  end

  local BUG = "; this is a bug in the recipe: raise a string, or an error made with cwlua.errors\n"

  it("in a step: names the recipe, the value's type, the file and the line; exit 1", function()
    local dir, file = recipe(nil, "error({})")
    local last = lines(io.open(file):read("a")) - 2 -- the line of error({})
    local r = program(dir)
    assert.are.equal(1, r.status)
    assert.are.equal(("cwlua: recipe stm32f1 raised a table value (not a message) at %s:%d")
      :format(file, last) .. BUG, r.stderr)
    assert.not_matches("0x%x%x%x", r.stderr)
  end)

  it("while it loads: the same line, exit 1, and 'targets' lists it", function()
    for _, c in ipairs({ { "error({})", "a table value" }, { "error(nil)", "a nil value" },
      { "assert(false, {})", "a table value" }, { "error(true, 2)", "a boolean value" },
      { "error(setmetatable({}, { __index = {} }))", "a table value" } }) do
      local dir, file = recipe(c[1])
      local r = program(dir)
      assert.are.equal(1, r.status, c[1])
      assert.are.equal(("cwlua: recipe stm32f1 raised %s (not a message) at %s:1"):format(c[2],
        file) .. BUG, r.stderr)
      r = cli.run({ "-s", dir, "targets" })
      assert.are.equal(0, r.status)
      assert.matches("error: recipe stm32f1 raised " .. c[2], r.stdout, 1, true)
    end
  end)

  it("leaves messages as they were: a string keeps the recipe's file and line", function()
    local dir, file = recipe(nil, "error('boom')")
    local r = program(dir)
    assert.are.equal(1, r.status)
    assert.matches("^cwlua: " .. file:gsub("%p", "%%%0") .. ":%d+: boom\n", r.stderr)
    dir, file = recipe("assert(false, 'no')")
    r = program(dir)
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: recipe " .. file .. ": " .. file .. ":1: no\n", r.stderr)
    -- a cwlua error keeps its kind and exit status
    dir = recipe(nil, "require('cwlua.errors').raise('target', 'quiet chip')")
    r = program(dir)
    assert.are.equal(4, r.status)
    assert.matches("^cwlua: quiet chip\n", r.stderr)
  end)

  it("can still be caught by the recipe's own pcall", function()
    local dir = recipe(nil, "local ok, e = pcall(error, {}) "
      .. "error(('caught %s %s'):format(tostring(ok), tostring(e.recipe_bug)))")
    local r = program(dir)
    assert.are.equal(1, r.status)
    assert.matches(": caught false true\n", r.stderr, 1, true)
  end)

  it("in a lab script: says where, not 'table: 0x…'", function()
    local script = cli.write(cli.tmpdir() .. "/lab.lua", "local x = 1\nerror({ x })\n")
    local r = cli.run({ "run", script })
    assert.are.equal(1, r.status)
    assert.are.equal("cwlua: " .. script .. ":2: raised a table value (not a message)\n", r.stderr)
  end)
end)
