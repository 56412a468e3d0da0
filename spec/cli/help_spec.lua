-- SPDX-License-Identifier: MIT
-- Help that is true and the command line a new user types (contract.md §3.1, §3.2): usage
-- lines that name every option the help lists, one spelling of "usage:", help for the sim
-- subcommands, stray arguments refused, TARGET in any case, TARGET and FILE swapped.
local cli = require "support.cli"

local HELLO = "examples/stm32f1-hello/hello.hex"

-- The usage lines of a help text (up to the first blank line) and its options section.
local function parts(text)
  local usage = assert(text:match("^(usage: .-)\n\n"), "starts with 'usage: '")
  local options = text:match("\noptions:\n(.-)\n\n") or ""
  return usage, options
end

describe("help", function()
  after_each(cli.cleanup)

  local commands = require("cwlua.cli").COMMANDS

  for _, name in ipairs(commands) do
    it(("'%s --help': the usage line names every option the help lists"):format(name), function()
      local r = cli.run({ name, "--help" })
      assert.are.equal(0, r.status, r.stderr)
      local usage, options = parts(r.stdout)
      for opt in options:gmatch("%-%-[%w%-]+") do
        local o = opt:gsub("%p", "%%%0")
        assert.is_truthy(usage:find(o .. "[%s%]=|]") or usage:find(o .. "$"),
          ("%s is in the options of '%s' but not in its usage:\n%s"):format(opt, name, usage))
      end
      for line in usage:gmatch("[^\n]+") do assert.is_true(#line <= 100, line) end
      assert.are.equal(r.stdout, cli.run({ "help", name }).stdout)
    end)
  end

  it("lists --part on every flash command and --unprotect on erase", function()
    for _, name in ipairs({ "program", "verify", "read", "erase", "info" }) do
      assert.matches("%[%-%-part NAME%]", (parts(cli.run({ name, "--help" }).stdout)))
    end
    local usage = parts(cli.run({ "erase", "--help" }).stdout)
    assert.matches("%[%-%-unprotect%]", usage)
    assert.matches("%[%-%-unprotect%-write%]", usage)
  end)

  it("'sim faults --help' is its help, not the list", function()
    local r = cli.run({ "sim", "faults", "--help" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^usage: cwlua sim faults %[%-%-json%]\n\n", r.stdout)
    assert.is_nil(r.stdout:find("\nno%-power "))
    assert.are.equal(r.stdout, cli.run({ "help", "sim", "faults" }).stdout)
  end)

  for _, sub in ipairs({ "attach", "serve" }) do
    it(("'help sim %s' is 'sim %s --help'"):format(sub, sub), function()
      local a = cli.run({ "help", "sim", sub })
      local b = cli.run({ "sim", sub, "--help" })
      assert.are.equal(0, a.status, a.stderr)
      assert.matches("^usage: cwlua sim " .. sub .. " ", a.stdout)
      assert.are.equal(b.stdout, a.stdout)
    end)
  end

  it("spells 'usage:' one way, in cwlua and its helpers", function()
    local texts = { cli.run({ "--help" }).stdout, cli.run({ "sim", "attach", "--help" }).stdout,
                    cli.run({ "sim", "serve", "--help" }).stdout,
                    cli.run({ "sim", "adapter", "--help" }).stdout }
    for _, name in ipairs(commands) do texts[#texts + 1] = cli.run({ name, "--help" }).stdout end
    for _, t in ipairs(texts) do
      assert.matches("^usage: cwlua ", t)
      assert.is_nil(t:find("Usage:"), t)
      -- the man pages are made from these texts (packaging/man.lua): one shape of section
      for _, section in ipairs({ "Options:", "Environment:", "Exit status:", "Examples:" }) do
        assert.is_nil(t:find("\n" .. section), t)
      end
    end
  end)

  it("exits 2 for a sim subcommand or command it does not know", function()
    local r = cli.run({ "help", "sim", "atach" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: unknown sim subcommand 'atach' (did you mean 'attach'?); run 'cwlua "
      .. "sim --help'\n", r.stderr)
    r = cli.run({ "help", "targets", "extra" })
    assert.are.equal(2, r.status)
    assert.matches("^cwlua: unexpected argument 'extra'", r.stderr)
  end)
end)

describe("the command line a new user types", function()
  after_each(cli.cleanup)

  local function sim(args) return cli.sim(cli.tmpdir(), args) end

  it("refuses an argument a command does not take (exit 2)", function()
    for _, c in ipairs({ { "targets" }, { "list" }, { "shell" }, { "sim", "faults" } }) do
      local args = { table.unpack(c) }
      args[#args + 1] = "extra"
      local r = sim(args)
      assert.are.equal(2, r.status, table.concat(args, " "))
      assert.matches("^cwlua: unexpected argument 'extra'; usage: cwlua ", r.stderr)
      assert.are.equal("", r.stdout)
    end
  end)

  it("refuses a -s folder that does not exist", function()
    local r = cli.run({ "-s", "/nonexistent", "targets" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: -s /nonexistent: no such directory\n", r.stderr)
  end)

  it("takes a recipe name and an alias in any case", function()
    for _, word in ipairs({ "stm32f1", "STM32F1", "Stm32F1", "CW308_STM32F1", "cw308_stm32f1" }) do
      local r = sim({ "info", word })
      assert.are.equal(0, r.status, word .. ": " .. r.stderr)
      assert.matches("^chip: +STM32F10xxx Medium%-density VL", r.stdout)
    end
    local r = sim({ "--json", "info", "XMEGA" })
    assert.are.equal(0, r.status, r.stderr)
  end)

  it("still suggests the closest name for an unknown TARGET, in any case", function()
    local r = sim({ "info", "STM32F7" })
    assert.are.equal(2, r.status)
    assert.matches("^cwlua: unknown target 'STM32F7' %(did you mean 'stm32f%d'%?%)\n", r.stderr)
    r = sim({ "info", "cw308_stm32f9" })
    assert.matches("^cwlua: unknown target 'cw308_stm32f9' %(did you mean 'CW308_STM32F%d'%?%)\n",
      r.stderr)
  end)

  it("spots TARGET and FILE swapped", function()
    for _, c in ipairs({ "program", "verify" }) do
      local r = sim({ c, HELLO, "stm32f1" })
      assert.are.equal(2, r.status)
      assert.are.equal(("cwlua: unknown target '%s', which is a file (did you mean 'cwlua %s "
        .. "stm32f1 %s'? TARGET comes first)\n"):format(HELLO, c, HELLO), r.stderr)
      assert.are.equal("", r.stdout)
    end
    -- a file that is no target, and a second word that is none either: the plain message
    local r = sim({ "program", HELLO, "nosuchchip" })
    assert.are.equal(2, r.status)
    assert.matches("^cwlua: unknown target '" .. HELLO:gsub("%p", "%%%0") .. "'\n", r.stderr)
  end)
end)
