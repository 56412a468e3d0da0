-- SPDX-License-Identifier: MIT
-- SIGINT and SIGTERM end any run within a second (contract.md §3.8): before the Lua state
-- exists, while recipes load (a recipe that loops, anywhere on the search path, with or
-- without pcall), inside a recipe's step, in lab scripts (pcall, xpcall, coroutines, loops
-- spent in C), with exit 130 or 143, the one line "cwlua: interrupted", no traceback, and the
-- board put back as found (on the in-process simulator and through `cwlua sim attach`).
-- Each case starts the binary in the background, waits for it to be where the case wants it,
-- sends the signal and times how long the process takes to end.
local cli = require "support.cli"
local images = require "support.images"

local SRC = os.getenv("CWLUA_SOURCE_DIR") or "."
local STOP_MS = 1000 -- the most a run may take to end after the signal
local BIN = cli.ABS_BIN

-- a file a worker or a killed run never wrote reads as ""
local function slurp(path) return cli.slurp(path, "") end

-- The shell lines that wait for marker in the file err (at most 20 s), then delay seconds.
local function wait_lines(marker, delay, err)
  local lines = {}
  if marker then
    lines[#lines + 1] = ("i=0; while [ $i -lt 400 ] && ! grep -qF %s %s; do sleep 0.05; "
      .. "i=$((i+1)); done"):format(cli.quote(marker), err)
  end
  lines[#lines + 1] = ("sleep %g"):format(delay or 0)
  return lines
end

--- interrupt(o) -> { status, ms, stdout, stderr }: runs cwlua o.args in the background (env
-- o.env, working folder o.dir), waits until its stderr holds o.marker (if given) and o.delay
-- more seconds, sends SIG<o.sig>, and times how long the process takes to end (killed after
-- 30 s: a hang fails instead of stopping the suite).
local function interrupt(o)
  local dir = o.dir or cli.tmpdir()
  local words = { "env", "-u CWLUA_PATH -u CWLUA_DEVICE",
    "XDG_CONFIG_HOME=" .. cli.quote(dir .. "/config") }
  for k, v in pairs(o.env or {}) do words[#words + 1] = k .. "=" .. cli.quote(v) end
  -- --foreground: the signal goes to cwlua once (timeout otherwise sends it to its process
  -- group as well, and a second signal ends any program at once, as in lua.c)
  words[#words + 1] = "timeout --foreground -k 5 30"
  words[#words + 1] = cli.quote(BIN)
  for _, a in ipairs(o.args) do words[#words + 1] = cli.quote(a) end
  local lines = { "cd " .. cli.quote(dir) .. " || exit 1",
    table.concat(words, " ") .. " >sig.out 2>sig.err </dev/null &", "pid=$!" }
  for _, l in ipairs(wait_lines(o.marker, o.delay, "sig.err")) do lines[#lines + 1] = l end
  lines[#lines + 1] = "t0=$(date +%s%N)"
  lines[#lines + 1] = "kill -" .. o.sig .. " $pid"
  lines[#lines + 1] = "wait $pid; st=$?"
  lines[#lines + 1] = "t1=$(date +%s%N)"
  lines[#lines + 1] = 'echo "$st $(( (t1 - t0) / 1000000 ))" >sig.result'
  local script = cli.write(dir .. "/sig.sh", table.concat(lines, "\n") .. "\n")
  assert(os.execute("sh " .. cli.quote(script)))
  local st, ms = slurp(dir .. "/sig.result"):match("^(%d+) (%d+)")
  return { status = tonumber(st), ms = tonumber(ms), stdout = slurp(dir .. "/sig.out"),
           stderr = slurp(dir .. "/sig.err") }
end

local CODE = { INT = 130, TERM = 143 }

-- 130 or 143, ended in time, the one line (after what the run printed before), no traceback
local function stopped(r, sig, what)
  local label = ("%s, SIG%s: "):format(what, sig)
  assert.are.equal(CODE[sig], r.status, label .. r.stderr)
  assert.is_true(r.ms < STOP_MS, ("%sended %d ms after the signal"):format(label, r.ms))
  assert.matches("cwlua: interrupted\n$", r.stderr, label)
  assert.are.equal(1, select(2, r.stderr:gsub("cwlua: interrupted\n", "")), label .. r.stderr)
  assert.is_nil(r.stderr:find("traceback", 1, true), label .. r.stderr)
  assert.is_nil(r.stderr:find("this is a bug", 1, true), label .. r.stderr)
end

-- The built-in STM32F1 recipe as a file named name, with text before it (a loop at load
-- time) or steps replaced (steps = { write = "function ... end" }: a loop inside the recipe).
local function stm32f1_copy(path, name, before, steps)
  local text = slurp(SRC .. "/targets/stm32f1.lua")
  text = text:gsub('name = "stm32f1"', ('name = "%s"'):format(name), 1)
    :gsub("aliases = {[^}]*},\n", "", 1)
  if steps then
    text = text:gsub("return stm32%.recipe {", "local r = stm32.recipe {", 1)
    for step, fn in pairs(steps) do text = text .. "r." .. step .. " = " .. fn .. "\n" end
    text = text .. "return r\n"
  end
  return cli.write(path, (before or "") .. text)
end

-- What a probe sees of the board: IOROUTE, HS2 routing, the clock, nRST and BOOT0.
local PROBE = [[
local function hex(s) return (s:gsub(".", function(c) return ("%02X"):format(c:byte()) end)) end
local function state(b)
  return table.concat({ hex(assert(b:fpga_read(55, 8))), hex(assert(b:fpga_read(38, 1))),
    tostring(b:clock()), tostring(b:pin("nrst")), tostring(b:pin("pdic")) }, " ")
end
]]

describe("SIGINT and SIGTERM", function()
  local dir, fw, loading, loading_pcall, steps

  setup(function()
    dir = cli.tmpdir()
    fw = cli.write(dir .. "/fw.bin", images.pattern(600, 3))
    -- loops while it loads: each turn spends a millisecond in C, so an instruction budget on
    -- loading (if any) would take minutes to run out, and only the signal stops it
    loading = dir .. "/loading"
    stm32f1_copy(loading .. "/aaloop.lua", "aaloop",
      'while true do local _ = ("x"):rep(1e6) end\n')
    loading_pcall = dir .. "/loading_pcall"
    stm32f1_copy(loading_pcall .. "/aaloop.lua", "aaloop",
      'while true do pcall(function() local _ = ("x"):rep(1e6) end) end\n')
    -- loads, connects, erases, then loops in its write step
    steps = dir .. "/steps"
    stm32f1_copy(steps .. "/loopw.lua", "loopw", nil, {
      write = 'function(ctx) ctx.log("writing") while true do end end',
      read = 'function(ctx) ctx.log("reading") while true do end end' })
  end)
  teardown(cli.cleanup)

  it("before the Lua state exists: a signal already pending at exec", function()
    for sig, code in pairs(CODE) do
      -- the parent blocks the signal and sends it, so it is pending when cwlua starts
      local r = cli.run({ "-c", ([[
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIG%s})
os.kill(os.getpid(), signal.SIG%s)
os.execv(sys.argv[1], sys.argv[1:])
]]):format(sig, sig), BIN, "-d", "sim", "program", "stm32f1", fw },
        { XDG_STATE_HOME = cli.tmpdir() }, nil, "/usr/bin/python3")
      assert.are.equal(code, r.status, r.stderr)
      assert.are.equal("cwlua: interrupted\n", r.stderr)
      assert.are.equal("", r.stdout)
    end
  end)

  for sig in pairs(CODE) do
    it(("while every recipe loads (an alias): a recipe that loops, with and without pcall, "
      .. "SIG%s"):format(sig), function()
      for _, d in ipairs({ loading, loading_pcall }) do
        local r = interrupt({ args = { "-s", d, "-d", "sim", "program", "CW308_STM32F1", fw },
          env = { XDG_STATE_HOME = cli.tmpdir() }, sig = sig, delay = 0.3 })
        stopped(r, sig, "program CW308_STM32F1 with " .. d)
        assert.are.equal("cwlua: interrupted\n", r.stderr)
      end
    end)

    it(("prints the one JSON object with --json, SIG%s"):format(sig), function()
      local r = interrupt({ args = { "-s", loading, "--json", "-d", "sim", "program",
        "CW308_STM32F1", fw }, env = { XDG_STATE_HOME = cli.tmpdir() }, sig = sig, delay = 0.3 })
      stopped(r, sig, "--json program")
      assert.are.equal('{"cause":"interrupted","error":"interrupted","schema":1}\n', r.stdout)
    end)

    it(("inside a recipe's step, SIG%s"):format(sig), function()
      local r = interrupt({ args = { "-s", steps, "-v", "-d", "sim", "program", "loopw", fw },
        env = { XDG_STATE_HOME = cli.tmpdir() }, sig = sig, marker = "loopw: writing" })
      stopped(r, sig, "program loopw")
    end)

    it(("removes read's OUT.part, SIG%s"):format(sig), function()
      local d = cli.tmpdir()
      local r = interrupt({ dir = d, args = { "-s", steps, "-v", "-d", "sim", "read", "loopw",
        "out.bin" }, env = { XDG_STATE_HOME = cli.tmpdir() }, sig = sig,
        marker = "loopw: reading" })
      stopped(r, sig, "read loopw")
      assert.is_nil(io.open(d .. "/out.bin.part"))
      assert.is_nil(io.open(d .. "/out.bin"))
    end)
  end

  describe("in lab scripts", function()
    local SCRIPTS = {
      pcall = "while true do pcall(function() while true do end end) end",
      xpcall = "while true do xpcall(function() while true do end end, "
        .. "function(e) while true do end end) end",
      ["xpcall handler that loops"] = "while true do xpcall(function() error('x') end, "
        .. "function(e) while true do end end) end",
      coroutine = "coroutine.wrap(function() while true do pcall(function() while true do end "
        .. "end) end end)()",
      resume = "local co = coroutine.create(function() while true do end end)\n"
        .. "while true do coroutine.resume(co) end",
      ["C calls"] = 'while true do local _ = ("x"):rep(5e7) end',
      ["<close> that loops"] = "local _ <close> = setmetatable({}, { __close = function() "
        .. "while true do end end })\nwhile true do end",
    }
    for name, body in pairs(SCRIPTS) do
      for sig in pairs(CODE) do
        it(("%s, SIG%s"):format(name, sig), function()
          local s = cli.write(dir .. "/script.lua", 'io.stderr:write("looping\\n")\n' .. body
            .. "\n")
          local r = interrupt({ args = { "run", s }, env = { XDG_STATE_HOME = cli.tmpdir() },
            sig = sig, marker = "looping", delay = 0.1 })
          stopped(r, sig, name)
          assert.are.equal("looping\ncwlua: interrupted\n", r.stderr)
        end)
      end
    end
  end)

  it("put the board back as found: cw.flash.program in a lab script on -d sim", function()
    local out = dir .. "/probe.txt"
    local s = cli.write(dir .. "/flash.lua", PROBE .. ([[
      local b = assert(cw.open())
      local before = state(b)
      local probe <close> = setmetatable({}, { __close = function()
        -- after cw.flash's own guard restored the board: what is there now
        local f = assert(io.open(%q, "w"))
        f:write(before, "\n", state(b), "\n")
        f:close()
      end })
      cw.flash.program("loopw", %q, { board = b, verbose = true, quiet = true })
    ]]):format(out, fw))
    for sig in pairs(CODE) do
      os.remove(out)
      local r = interrupt({ args = { "-s", steps, "-d", "sim", "--sim-target", "stm32f100xb",
        "run", s },
        env = { XDG_STATE_HOME = cli.tmpdir() }, sig = sig, marker = "loopw: writing" })
      stopped(r, sig, "cw.flash.program")
      local before, after = slurp(out):match("^([^\n]+)\n([^\n]+)\n$")
      assert.is_truthy(before, "the probe wrote nothing")
      assert.are.equal(before, after)
    end
  end)

  it("put the board back as found: program through cwlua sim attach", function()
    local probe = cli.write(dir .. "/probe.lua", PROBE .. [[
      local b = assert(cw.open())
      print(state(b))
    ]])
    -- the same session three times: probe, program until SIGnal, probe; SIGKILL (no cleanup
    -- at all) shows that the probe sees what program changes
    local function session(sig)
      local d = cli.tmpdir()
      local q = cli.quote
      local lines = { ("%s -d usb run %s >before"):format(q(BIN), q(probe)),
        ("%s -s %s -d usb -v program loopw %s >out 2>err </dev/null &"):format(q(BIN),
          q(steps), q(fw)), "pid=$!" }
      for _, l in ipairs(wait_lines("loopw: writing", 0, "err")) do lines[#lines + 1] = l end
      for _, l in ipairs({ "t0=$(date +%s%N)", "kill -" .. sig .. " $pid", "wait $pid; st=$?",
        "t1=$(date +%s%N)", 'echo "$st $(( (t1 - t0) / 1000000 ))" >result',
        ("%s -d usb run %s >after"):format(q(BIN), q(probe)) }) do
        lines[#lines + 1] = l
      end
      local script = cli.write(d .. "/session.sh", "cd " .. q(d) .. " || exit 1\n"
        .. table.concat(lines, "\n") .. "\n")
      local r = cli.run({ "sim", "attach", "--sim-state", d .. "/state", "cwlite:stm32f1", "--",
        "timeout", "--foreground", "-k", "5", "60", "sh", script },
        { XDG_STATE_HOME = d .. "/xdg" })
      assert.are.equal(0, r.status, r.stderr)
      local st, ms = slurp(d .. "/result"):match("^(%d+) (%d+)")
      return { status = tonumber(st), ms = tonumber(ms), stderr = slurp(d .. "/err"),
               before = slurp(d .. "/before"), after = slurp(d .. "/after") }
    end
    for sig in pairs(CODE) do
      local r = session(sig)
      stopped(r, sig, "program through sim attach")
      assert.matches("^%x+ %x+ ", r.before)
      assert.are.equal(r.before, r.after)
    end
    local killed = session("KILL")
    assert.are.equal(137, killed.status)
    assert.are_not.equal(killed.before, killed.after)
  end)
end)
