-- SPDX-License-Identifier: MIT
-- cwlua targets and the search path of contract.md §3: -s, CWLUA_PATH, the user folder, built-in.
local cli = require "support.cli"

local RECIPE = [[
return { api = 1, name = "%s", summary = "%s", part = "p1", parts = { "p1" },
         aliases = { %s = "p1" } }
]]

describe("cwlua targets", function()
  after_each(cli.cleanup)

  it("lists the built-in recipes with their aliases and origin", function()
    local r = cli.run({ "targets" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("\nstm32f1    STM32F1 through the ROM UART bootloader %(AN3155%)\n"
      .. "           part: stm32f100xb\n"
      .. "           aliases: CW308_STM32F1 %(stm32f100xb%)\n", r.stdout)
    assert.matches("\n           from: built%-in [^\n]*/share/cwlua/targets/stm32f1%.lua\n",
      r.stdout)
    assert.matches("aliases: CW308_STM32F3 %(stm32f303xc%), CWLITEARM %(stm32f303xc%)", r.stdout)
    assert.matches("aliases: CW303 %(atxmega128d4%), CW308_XMEGA %(atxmega128d4%), "
      .. "CWLITEXMEGA %(atxmega128d4%)", r.stdout)
    assert.matches("aliases: CW308_STM32F0 %(stm32f071xb%), CWNANO %(stm32f030x6%)", r.stdout)
    assert.matches("aliases: CW308_MEGA328P %(atmega328p%)", r.stdout)
  end)

  it("lets a recipe in a -s folder override the built-in one, and says so", function()
    local dir = cli.tmpdir()
    local mine = cli.write(dir .. "/stm32f1.lua", RECIPE:format("stm32f1", "my F1", "MY_F1"))
    local r = cli.run({ "-s", dir, "targets" })
    assert.are.equal(0, r.status, r.stderr)
    -- the user's file comes first, in lookup order, and wins
    local first = r.stdout:find("stm32f1    my F1\n", 1, true)
    assert.is_not_nil(first)
    assert.matches("from: search " .. mine:gsub("%p", "%%%0") .. "\n", r.stdout)
    -- the built-in one is still listed, marked as overridden by the user's file
    assert.matches("from: built%-in [^\n]*/stm32f1%.lua\n           overridden by: "
      .. mine:gsub("%p", "%%%0") .. "\n", r.stdout)
  end)

  it("reports origin and overridden_by in --json", function()
    local dir = cli.tmpdir()
    local mine = cli.write(dir .. "/stm32f1.lua", RECIPE:format("stm32f1", "my F1", "MY_F1"))
    local r = cli.run({ "targets", "--json", "--search", dir })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches('^{"cause":"ok","schema":1,"targets":%[', r.stdout)
    assert.matches('{"alias_parts":{"MY_F1":"p1"},"aliases":%["MY_F1"%],"commands":%[%],'
      .. '"name":"stm32f1","origin":"search","overridden_by":null,"part":"p1","path":"'
      .. mine:gsub("%p", "%%%0") .. '","summary":"my F1"}', r.stdout)
    assert.matches('"name":"stm32f1","origin":"built%-in","overridden_by":"'
      .. mine:gsub("%p", "%%%0") .. '","part":"stm32f100xb","path":"[^"]*/stm32f1%.lua"',
      r.stdout)
  end)

  it("searches -s folders in order, then CWLUA_PATH, then the user folder", function()
    local s1, s2, env1, env2, xdg = cli.tmpdir(), cli.tmpdir(), cli.tmpdir(), cli.tmpdir(),
      cli.tmpdir()
    cli.write(s2 .. "/t.lua", RECIPE:format("t", "from s2", "A2"))
    cli.write(env1 .. "/t.lua", RECIPE:format("t", "from env1", "A3"))
    cli.write(env2 .. "/u.lua", RECIPE:format("u", "from env2", "A4"))
    cli.write(xdg .. "/cwlua/targets/u.lua", RECIPE:format("u", "from user", "A5"))
    cli.write(xdg .. "/cwlua/targets/v.lua", RECIPE:format("v", "from user", "A6"))
    cli.write(s1 .. "/v.lua", RECIPE:format("v", "from s1", "A1"))
    local r = cli.run({ "targets", "-s", s1, "-s", s2 },
      { CWLUA_PATH = env1 .. "::" .. env2, XDG_CONFIG_HOME = xdg })
    assert.are.equal(0, r.status, r.stderr)
    local function origin_of(name, summary)
      return r.stdout:match(name .. " +" .. summary .. "\n.-from: (%S+) ")
    end
    assert.are.equal("search", origin_of("v", "from s1"))
    assert.are.equal("search", origin_of("t", "from s2"))
    assert.are.equal("CWLUA_PATH", origin_of("t", "from env1"))
    assert.are.equal("CWLUA_PATH", origin_of("u", "from env2"))
    assert.are.equal("user", origin_of("u", "from user"))
    assert.matches("from env1\n.-overridden by: " .. (s2 .. "/t.lua"):gsub("%p", "%%%0"),
      r.stdout)
    assert.matches("v +from user\n.-overridden by: " .. (s1 .. "/v.lua"):gsub("%p", "%%%0"),
      r.stdout)
  end)

  it("lists a recipe that does not load with its error instead of failing", function()
    local dir = cli.tmpdir()
    local bad = cli.write(dir .. "/bad.lua", "return { api = 1, name = 'bad' }\n")
    local r = cli.run({ "-s", dir, "targets" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("bad        %(does not load; see below%)\n           from: search "
      .. bad:gsub("%p", "%%%0") .. "\n           error: recipe " .. bad:gsub("%p", "%%%0")
      .. ": field 'summary' must be a non%-empty string\n", r.stdout)
  end)

  it("lists a FIFO named NAME.lua as not a regular file, without waiting for a writer",
    function()
      local dir = cli.tmpdir()
      assert(os.execute("mkfifo " .. cli.quote(dir .. "/stm32f1.lua")))
      assert(os.execute("mkdir -p " .. cli.quote(dir .. "/cwlua") .. " && mkfifo "
        .. cli.quote(dir .. "/cwlua/stm32.lua")))
      local r = cli.run({ "-s", dir, "targets" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("error: recipe " .. (dir .. "/stm32f1.lua"):gsub("%p", "%%%0")
        .. ": not a regular file %(a FIFO%)\n", r.stdout)
      -- the alias still resolves to the built-in recipe
      r = cli.run({ "-s", dir, "-d", "sim", "info", "CW308_STM32F1" })
      assert.are.equal(0, r.status, r.stderr)
    end)

  it("loads an overriding module recipes are built from, in the sandbox", function()
    local dir = cli.tmpdir()
    cli.write(dir .. "/cwlua/stm32.lua", "return { recipe = function(t) t.summary = "
      .. "'OVERRIDDEN' .. (pcall(function() return io end) and ' with io' or '') return t end }\n")
    local r = cli.run({ "targets" }, { CWLUA_PATH = dir })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("\nstm32f1    OVERRIDDEN\n", r.stdout)
  end)

  it("ignores a host module of the same name on the search path", function()
    local dir = cli.tmpdir()
    for _, m in ipairs({ "json", "cli", "targets", "path" }) do
      cli.write(dir .. "/cwlua/" .. m .. ".lua", "error('loaded " .. m .. "')\n")
    end
    for _, r in ipairs({ cli.run({ "targets", "--json" }, { CWLUA_PATH = dir }),
                         cli.run({ "-s", dir, "targets", "--json" }) }) do
      assert.are.equal(0, r.status, r.stderr)
      assert.matches('^{"cause":"ok","schema":1,"targets":%[', r.stdout)
      assert.are.equal("", r.stderr)
    end
  end)
end)
