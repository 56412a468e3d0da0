-- SPDX-License-Identifier: MIT
-- The recipe sandbox from the command line (docs/targets.md "The sandbox", contract.md §3.5):
-- each escape a hostile recipe tried, put at the top of a copy of stm32f1.lua in a -s folder,
-- reaches nothing: `cwlua -s DIR targets` lists the copy with its error, and the same line
-- inside pcall leaves a working recipe with which `program CW308_STM32F1` (an alias: every
-- recipe is loaded) gives exactly the output of a run without it. No file is written.
local cli = require "support.cli"
local images = require "support.images"
local runtime = require "cwlua.core.runtime"

local function builtin(name)
  local f = assert(io.open(cli.BIN:gsub("/bin/[^/]*$", "") .. "/share/cwlua/targets/" .. name
    .. ".lua", "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Each escape: a line of Lua (MARK is replaced by a file it would create) and what the
-- recipe's error says when the line runs bare.
local ESCAPES = {
  { "repl.run with the real globals",
    "require('cwlua.repl').run{ read = function() return 'os.execute(\"touch MARK\")' end, "
      .. "write = function() end, err = function() end }",
    "recipes may not require 'cwlua.repl'" },
  { "a shell through bitstream.locate",
    "require('cwlua.bitstream').locate('cwlite', { pythons = { 'touch MARK;' } })",
    "recipes may not require 'cwlua.bitstream'" },
  { "a module of any name from the search path", "require('cwlua.evil')",
    "recipes may not require 'cwlua.evil'" },
  { "reading any file through image.load",
    "require('cwlua.image').load('/etc/hostname', { format = 'bin', base = 0 })",
    "recipes may not require 'cwlua.image'" },
  { "replacing string.format", "string.format = function() return 'HIJACKED' end",
    "cannot set 'format'" },
  { "changing the string metatable", "getmetatable('').__index = function() end",
    "getmetatable: recipes may read only metatables they set themselves" },
  { "the host's globals", "_G.os.execute('touch MARK')", "undefined global '_G'" },
  { "load with the host's globals", "load('os.execute(\"touch MARK\")')()",
    "undefined global 'load'" },
  { "the package table", "package.loaded['cwlua.errors'].EXIT.input = 0",
    "undefined global 'package'" },
  { "a shared module's table", "require('cwlua.errors').EXIT.input = 0", "cannot set 'input'" },
  { "an error object's metatable",
    "getmetatable(require('cwlua.errors').new('input', 'x')).__tostring = "
      .. "function() return 'HIJACKED' end", "getmetatable: " },
  { "cwlua.params beyond inherit (its --set parsing loads every recipe)",
    "require('cwlua.params').merge({ name = 'x', defaults = { x = 1 } }, { 'x=1' })",
    "attempt to call a nil value (field 'merge')" },
  { "the run's clock", "require('cwlua.time').use({ now_ns = function() return 0 end })",
    "attempt to call a nil value (field 'use')" },
  { "a C module", "require('cwlua.core.runtime').exec('/bin/sh', { 'sh' })",
    "recipes may not require C modules" },
}

describe("the recipe sandbox", function()
  local dir, mark, hex, baseline

  local function program(search)
    local args = { "-d", "sim", "program", "CW308_STM32F1", hex }
    if search then table.insert(args, 1, "-s") table.insert(args, 2, search) end
    return cli.run(args, { XDG_STATE_HOME = cli.tmpdir() })
  end

  setup(function()
    local d = cli.tmpdir()
    hex = cli.write(d .. "/fw.hex", images.hex({ { 0x08000000, images.pattern(600) } }))
    baseline = program()
    assert.are.equal(0, baseline.status, baseline.stderr)
  end)
  teardown(cli.cleanup)

  before_each(function()
    dir = cli.tmpdir()
    mark = dir .. "/pwned"
    -- a module named in an escape, which would write the mark if it were ever loaded
    cli.write(dir .. "/cwlua/evil.lua", ("io.open(%q, 'w'):close() return {}\n"):format(mark))
  end)

  local function hostile(line)
    return cli.write(dir .. "/stm32f1.lua", line:gsub("MARK", mark) .. "\n"
      .. builtin("stm32f1"))
  end

  local function nothing_written()
    assert.is_nil(io.open(mark, "rb"), "the escape wrote " .. mark)
    assert.are.same({ "cwlua", "stm32f1.lua" }, runtime.dir(dir))
  end

  for _, e in ipairs(ESCAPES) do
    it("closes " .. e[1], function()
      local file = hostile(e[2])
      local r = cli.run({ "-s", dir, "targets" })
      assert.are.equal(0, r.status, r.stderr)
      local err = ("\n" .. r.stdout):match("\nstm32f1    %(does not load; see below%)\n"
        .. "           from: search " .. file:gsub("%p", "%%%0")
        .. "\n           error: ([^\n]*)\n")
      assert.is_not_nil(err, r.stdout)
      assert.are.equal("recipe " .. file .. ": " .. file .. ":1: ",
        err:sub(1, #("recipe " .. file .. ": " .. file .. ":1: ")))
      assert.is_not_nil(err:find(e[3], 1, true), err)
      -- the built-in recipes still load, with their own summaries
      assert.matches("\nstm32f0    STM32F0 through the ROM UART bootloader %(AN3155%)\n", r.stdout)
      nothing_written()

      -- tried inside pcall it simply fails, and the recipe works as the built-in one
      hostile("pcall(function() " .. e[2] .. " end)")
      local p = program(dir)
      assert.are.same(baseline, p)
      nothing_written()
    end)
  end

  it("ignores a host module of the same name in the search path", function()
    for _, m in ipairs({ "repl", "bitstream", "image", "cli", "targets", "path", "flash",
                         "errors", "time", "board", "sandbox" }) do
      cli.write(dir .. "/cwlua/" .. m .. ".lua",
        ("io.open(%q, 'w'):close() return {}\n"):format(mark))
    end
    assert.are.same(baseline, program(dir))
    local env_run = cli.run({ "-d", "sim", "program", "CW308_STM32F1", hex },
      { XDG_STATE_HOME = cli.tmpdir(), CWLUA_PATH = dir })
    assert.are.same(baseline, env_run)
    assert.is_nil(io.open(mark, "rb"))
  end)

  it("stops a looping recipe promptly with exit 2, naming the file", function()
    local loop = cli.write(dir .. "/loop.lua", "local n = 0\nwhile true do n = n + 1 end\n")
    local msg = ("recipe %s: did not finish loading within 10000000 instructions (stopped at "
      .. "%s:2); does it loop?"):format(loop, loop)
    local r = cli.run({ "-s", dir, "targets" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("\nloop       %(does not load; see below%)\n           from: search "
      .. loop:gsub("%p", "%%%0") .. "\n           error: " .. msg:gsub("%p", "%%%0") .. "\n",
      "\n" .. r.stdout)
    r = cli.run({ "-s", dir, "info", "loop" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: " .. msg .. "\n", r.stderr)
    -- an alias lookup loads every recipe: the looping one is skipped, the alias still resolves
    assert.are.same(baseline, program(dir))
  end)

  it("lets a plain copy of a built-in recipe and of its modules work from -s", function()
    cli.write(dir .. "/stm32f1.lua", builtin("stm32f1"))
    for _, m in ipairs({ "stm32", "proto.stm32boot", "proto.stm32devices" }) do
      cli.write(dir .. "/cwlua/" .. m:gsub("%.", "/") .. ".lua",
        (runtime.embedded("cwlua." .. m)))
    end
    assert.are.same(baseline, program(dir))
  end)

  it("runs an overriding module in the sandbox, and uses it", function()
    -- a patched part table that also tries to reach the host
    local src = runtime.embedded("cwlua.proto.stm32devices")
    src = src:gsub("STM32F10xxx Medium%-density VL", "PATCHED F100")
    src = ("local tried = { pcall(function() io.open(%q, 'w'):close() end), "
      .. "pcall(require, 'cwlua.repl'), pcall(function() os.execute('touch %s') end) }\n")
      :format(mark, mark) .. src
    cli.write(dir .. "/cwlua/proto/stm32devices.lua", src)
    local r = program(dir)
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal((baseline.stdout:gsub("STM32F10xxx Medium%-density VL", "PATCHED F100")),
      r.stdout)
    assert.is_nil(io.open(mark, "rb"))
  end)
end)
