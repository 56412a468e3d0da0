-- SPDX-License-Identifier: MIT
-- cwlua run SCRIPT [ARGS]: lua.c-style arguments, the cwlua API, error reporting.
local cli = require "support.cli"

describe("cwlua run", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(cli.cleanup)

  it("passes arguments as arg[1..n] and as ..., with the script at arg[0]", function()
    local s = cli.write(dir .. "/args.lua", [[
      local n = select("#", ...)
      print(arg[0], #arg, n, arg[1], arg[2], arg[3], ...)
    ]])
    local r = cli.run({ "run", s, "a b", "--json", "-v" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal(s .. "\t3\t3\ta b\t--json\t-v\ta b\t--json\t-v\n", r.stdout)
  end)

  it("puts the words before the script at negative indices", function()
    local s = cli.write(dir .. "/neg.lua", "print(arg[-1], arg[-2], arg[-3] ~= nil, arg[-4])\n")
    local r = cli.run({ "-q", "run", s })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("run\t-q\ttrue\tnil\n", r.stdout)
  end)

  it("loads the cwlua API as the global cw", function()
    local s = cli.write(dir .. "/api.lua", [[
      print(type(cw), cw.version == require("cwlua").version, type(cw.image.parse))
    ]])
    local r = cli.run({ "run", s })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("table\ttrue\tfunction\n", r.stdout)
  end)

  it("reports a runtime error as script:line: message and exits 1", function()
    local s = cli.write(dir .. "/boom.lua", "local x = 1\nerror('boom at two')\n")
    local r = cli.run({ "run", s })
    assert.are.equal(1, r.status)
    assert.are.equal("cwlua: " .. s .. ":2: boom at two\n", r.stderr)
  end)

  it("adds a traceback with -v", function()
    local s = cli.write(dir .. "/boom.lua", "local function f() error('deep') end\nf()\n")
    local r = cli.run({ "-v", "run", s })
    assert.are.equal(1, r.status)
    assert.matches("^cwlua: " .. s:gsub("%p", "%%%0") .. ":1: deep\nstack traceback:\n", r.stderr)
  end)

  it("reports a syntax error with file and line and exits 1", function()
    local s = cli.write(dir .. "/syntax.lua", "local a =\n\n= 3\n")
    local r = cli.run({ "run", s })
    assert.are.equal(1, r.status)
    assert.are.equal("cwlua: " .. s .. ":3: unexpected symbol near '='\n", r.stderr)
  end)

  it("exits with a cwlua error's own status", function()
    local s = cli.write(dir .. "/input.lua", [[cw.errors.raise("input", "fw.hex:3: bad")]])
    local r = cli.run({ "run", s })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: fw.hex:3: bad\n", r.stderr)
  end)

  it("exits 2 for a missing script", function()
    local r = cli.run({ "run", dir .. "/nope.lua" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: cannot open " .. dir .. "/nope.lua: No such file or directory; "
      .. "check the script's path\n",
      r.stderr)
    r = cli.run({ "run" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: run needs a SCRIPT; usage: cwlua run SCRIPT [ARGS...]\n", r.stderr)
  end)

  it("reads the script from standard input for '-'", function()
    local r = cli.run({ "run", "-", "x" }, nil, "print('stdin', ...)\n")
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("stdin\tx\n", r.stdout)
  end)

  it("on Ctrl-C unwinds through every <close> guard, restoring the board, and exits 130",
    function()
      local out = dir .. "/after.txt"
      local s = cli.write(dir .. "/hold.lua", ([[
        local b = assert(cw.open())
        local probe <close> = setmetatable({}, { __close = function()
          local f = assert(io.open(%q .. ".tmp", "w"))
          f:write(b:sim_view().pins.nrst) -- closed after the snapshot below: restored by then
          f:close()
          assert(os.rename(%q .. ".tmp", %q)) -- whole, or not there yet
        end })
        local snap <close> = assert(b:snapshot())
        b:pin("nrst", "low")
        io.stderr:write("holding\n")
        local d = require("cwlua.core.device")
        local t = d.monotonic_ns()
        while d.monotonic_ns() - t < 20e9 do end
      ]]):format(out, out, out))
      local cmd = ("env XDG_STATE_HOME=%s %s -d sim run %s 2>%s & echo $!"):format(
        cli.quote(cli.tmpdir()), cli.quote(cli.BIN), cli.quote(s), cli.quote(dir .. "/err"))
      local pid = io.popen(cmd):read("l")
      for _ = 1, 400 do -- wait until the script holds the pin low
        local f = io.open(dir .. "/err")
        local t = f and f:read("a") or ""
        if f then f:close() end
        if t:find("holding") then break end
        os.execute("sleep 0.05")
      end
      os.execute("kill -INT " .. pid)
      local status
      for _ = 1, 400 do -- up to 20 s: a sanitizer build is slow to unwind
        local f = io.open(out)
        if f then
          status = f:read("a")
          f:close()
          break
        end
        os.execute("sleep 0.05")
      end
      assert.are.equal("z", status)
      local err = ""
      for _ = 1, 400 do -- the message comes after the unwinding
        local f = assert(io.open(dir .. "/err"))
        err = f:read("a")
        f:close()
        if err:find("interrupted") then break end
        os.execute("sleep 0.05")
      end
      assert.are.equal("holding\ncwlua: interrupted\n", err)
    end)

  it("passes the script's os.exit status through", function()
    local s = cli.write(dir .. "/exit.lua", "os.exit(7)\n")
    assert.are.equal(7, cli.run({ "run", s }).status)
  end)
end)
