-- SPDX-License-Identifier: MIT
-- Several boards at once (contract.md §3.4, §3.7, §3.8; docs/lab.md): -d usb:* and lists of
-- boards run a command on each in parallel, one worker per board; the others go on when one
-- fails, the exit status is the highest, --json lists every board; Ctrl-C stops all and each
-- board is put back; simulated boards with different serials keep separate chip memories, in
-- process and through `cwlua sim attach`; cw.each does the same for a lab script's function.
local cli = require "support.cli"
local images = require "support.images"
local json = require "cwlua.json"

local SRC = os.getenv("CWLUA_SOURCE_DIR") or "."
local HELLO = SRC .. "/examples/stm32f1-hello/hello.hex"
local BIN = cli.ABS_BIN

-- a file a worker or a killed run never wrote reads as ""
local function slurp(path) return cli.slurp(path, "") end

local function count(s, pattern)
  return select(2, s:gsub(pattern, ""))
end

local LAB = {}
for i = 1, 6 do LAB[i] = ("LAB-%02d"):format(i) end

-- -d naming the six in-process boards LAB-01 .. LAB-06
local function six_sims()
  local items = {}
  for i, s in ipairs(LAB) do items[i] = "sim:cwlite@" .. s end
  return table.concat(items, ",")
end

-- SPECs for `cwlua sim attach`: the six boards with an STM32F1 each
local function six_attached()
  local specs = {}
  for i, s in ipairs(LAB) do specs[i] = "cwlite:stm32f1@" .. s end
  return specs
end

local function attach(state, specs, command, extra)
  local args = { "sim", "attach", "--sim-state", state }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  for _, s in ipairs(specs) do args[#args + 1] = s end
  args[#args + 1] = "--"
  for _, a in ipairs(command) do args[#args + 1] = a end
  return args
end

local FAILED_SYNC = "stm32f1: no reply to bootloader sync (0x7F), sent twice 100 ms apart "
  .. "(tried 115200, 57600, 38400, 19200 baud)"

describe("several boards at once", function()
  teardown(cli.cleanup)

  describe("the device spec", function()
    it("takes usb:*, lists of usb:SERIAL and sim:BOARD@SERIAL, and says what is wrong", function()
      for _, spec in ipairs({ "usb:*", "usb:A,usb:B", "sim:cwlite@A,usb:B,sim:nano@C",
                              "sim:husky@X", "sim@X" }) do
        local r = cli.run({ "-d", spec, "targets" })
        assert.are.equal(0, r.status, spec .. ": " .. r.stderr)
      end
      local cases = {
        { "sim:cwlite,sim:cwlite@B", "cwlua: 'sim:cwlite' in the device list "
          .. "'sim:cwlite,sim:cwlite@B' (from -d) needs a serial number of its own: "
          .. "sim:cwlite@SERIAL (boards without one would share the simulator's default board)\n" },
        { "usb:A,usb:A", "cwlua: device list 'usb:A,usb:A' (from -d) names the board A twice\n" },
        { "usb:A,,usb:B", "cwlua: device list 'usb:A,,usb:B' (from -d) has an empty entry; "
          .. "separate the boards with single commas\n" },
        { "usb:*,usb:A", "cwlua: usb:* in the device list 'usb:*,usb:A' (from -d): usb:* stands "
          .. "alone (every board); or list the boards as usb:SERIAL,...\n" },
        { "usb,usb:A", "cwlua: 'usb' in the device list 'usb,usb:A' (from -d) names no board; "
          .. "give each as usb:SERIAL (cwlua list shows the serial numbers), or use usb:* for "
          .. "every board\n" },
        { "sim:*", "cwlua: device spec 'sim:*' (from -d): the in-process simulator has no "
          .. "boards to look for; name each with its own serial, e.g. -d "
          .. "sim:cwlite@A,sim:cwlite@B (or run cwlua under 'cwlua sim attach BOARD@SERIAL ...' "
          .. "and use usb:*)\n" },
        { "sim:cwlite@A b", "cwlua: device spec 'sim:cwlite@A b' (from -d): bad serial number "
          .. "'A b' (1 to 126 printable characters, no spaces)\n" },
      }
      for _, c in ipairs(cases) do
        local r = cli.run({ "-d", c[1], "targets" })
        assert.are.equal(2, r.status, c[1])
        assert.are.equal(c[2], r.stderr)
      end
    end)

    it("refuses shell and term on several boards, and --sim-fault for a board not listed",
      function()
        local r = cli.run({ "-d", "usb:A,usb:B", "shell" })
        assert.are.equal(2, r.status)
        assert.are.equal("cwlua: 'shell' works with one board: its prompt drives one board, "
          .. "open as 'board' (cw.open(SPEC) opens more); choose one with -d usb:SERIAL\n",
          r.stderr)
        r = cli.run({ "-d", "usb:*", "term" })
        assert.are.equal(2, r.status)
        assert.are.equal("cwlua: 'term' works with one board: a console is one board's serial "
          .. "line; choose one with -d usb:SERIAL\n", r.stderr)
        r = cli.run({ "shell" }, { CWLUA_DEVICE = "usb:A,usb:B" })
        assert.are.equal(2, r.status)
        assert.matches("; choose one with %-d usb:SERIAL %(the device is 'usb:A,usb:B', from "
          .. "CWLUA_DEVICE%)\n$",
          r.stderr)
        r = cli.run({ "-d", "usb:A,usb:B", "run", "-" }, nil, "print(1)\n")
        assert.are.equal(2, r.status)
        assert.are.equal("cwlua: run - reads the script from standard input, which the workers "
          .. "of several boards do not get; give the script as a file\n", r.stderr)
        r = cli.run({ "-d", "sim:cwlite@A,sim:cwlite@B", "--sim-fault", "no-power@C", "power",
          "on" })
        assert.are.equal(2, r.status)
        assert.are.equal("cwlua: --sim-fault no-power@C names the board C, which is not a "
          .. "simulated board of -d (give it as sim:BOARD@C)\n", r.stderr)
        r = cli.run({ "-d", "sim", "--sim-fault", "no-power@C", "power", "on" })
        assert.are.equal(2, r.status)
        assert.are.equal("cwlua: --sim-fault no-power@C names the board C; -d sim has the "
          .. "simulator's default serial: give the board that one with -d sim:cwlite@C\n",
          r.stderr)
        r = cli.run({ "-d", "usb:*", "--sim-fault", "no-power", "power", "on" })
        assert.are.equal(2, r.status)
        assert.matches("^cwlua: %-%-sim%-fault applies to the simulator only", r.stderr)
      end)

    it("is refused by cw.open, which opens one board", function()
      local s = cli.write(cli.tmpdir() .. "/open.lua", 'print(cw.open("usb:*"))\n')
      local r = cli.run({ "run", s })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal('nil\tusb:* names several boards; open each (cw.open("usb:SERIAL")), or '
        .. 'run a function on each with cw.each("usb:*", fn) (docs/api.md)\tinvalid\n', r.stdout)
    end)
  end)

  describe("the command line's own error", function()
    it("is said once, as for one board, when every board finds it before opening", function()
      local d = cli.tmpdir()
      local three = "sim:cwlite@A,sim:cwlite@B,sim:husky@C"
      local r = cli.run({ "-d", three, "--sim-state", d .. "/state", "program", "stm32f1",
        d .. "/none.hex" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: cannot open " .. d .. "/none.hex: No such file or directory\n",
        r.stderr)
      assert.are.equal("", r.stdout)
      r = cli.run({ "-d", three, "--sim-state", d .. "/state", "--json", "power" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal('{"cause":"usage","error":"power needs one of on, off, cycle; usage: '
        .. 'cwlua power on|off|cycle [--delay-ms MS]","schema":1}\n', r.stdout)
      -- capture's folder, made before the workers start, does not stay behind empty
      r = cli.run({ "-d", three, "--sim-state", d .. "/state", "capture", "stm32f1", "--out",
        d .. "/set", "--traces", "0" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --traces needs a whole number from 1, got '0'\n", r.stderr)
      assert.is_nil(require("cwlua.core.runtime").stat(d .. "/set"))
      -- what depends on the board is each board's: a Lite cannot make 300 MHz, a Husky can
      r = cli.run({ "-d", three, "--sim-state", d .. "/state", "clock", "300e6" })
      assert.are.equal(2, r.status, r.stderr)
      assert.matches("\nA: cwlua: cwlite A: 3e%+08 Hz is outside", "\n" .. r.stderr)
      assert.matches("\nB: cwlua: cwlite B: 3e%+08 Hz is outside", "\n" .. r.stderr)
      assert.matches("\nC       husky   %-       ok ", r.stdout)
    end)
  end)

  describe("six simulated boards in process, one with a fault", function()
    local dir, state

    setup(function()
      dir = cli.tmpdir()
      state = dir .. "/state"
    end)

    it("verifies the others, names that board's cause and exits with the worst status",
      function()
        local r = cli.run({ "-d", six_sims(), "--sim-state", state, "--sim-fault",
          "uart-rx-open@LAB-03", "program", "stm32f1", HELLO })
        assert.are.equal(4, r.status, r.stderr)
        -- each board's summary line as it finishes (in any order), then the table
        -- what the single-board command says, on the simulator's virtual clock: the same on
        -- every board (the times are exact; their figures are programs_spec's business)
        local summary = r.stdout:match("LAB%-01: (programmed 368 bytes into STM32F10xxx "
          .. "Medium%-density VL in %d%.%d%d s %([%d.]+ KiB/s%), 1 page erased, verified)\n")
        assert.is_truthy(summary, r.stdout)
        local board_time = r.stdout:match("\nLAB%-01  cwlite  stm32f1  ok      (%d%.%d%d) s  ok\n")
        assert.is_truthy(board_time, r.stdout)
        for i, s in ipairs(LAB) do
          local line = s .. ": " .. summary .. "\n"
          assert.are.equal(i == 3 and 0 or 1, count(r.stdout, line:gsub("%p", "%%%0")), s)
        end
        local t = board_time:gsub("%.", "%%.")
        assert.matches("\nserial  board   target   result  time    cause\n"
          .. "LAB%-01  cwlite  stm32f1  ok      " .. t .. " s  ok\n"
          .. "LAB%-02  cwlite  stm32f1  ok      " .. t .. " s  ok\n"
          .. "LAB%-03  cwlite  stm32f1  exit 4  0%.92 s  no%-reply\n"
          .. "LAB%-04  cwlite  stm32f1  ok      " .. t .. " s  ok\n"
          .. "LAB%-05  cwlite  stm32f1  ok      " .. t .. " s  ok\n"
          .. "LAB%-06  cwlite  stm32f1  ok      " .. t .. " s  ok\n"
          .. "6 boards: 5 ok, 1 failed\n$", r.stdout)
        -- that board's own message, marked with it; nothing from the others on stderr
        assert.matches("^LAB%-03: cwlua: " .. FAILED_SYNC:gsub("%p", "%%%0") .. "\n"
          .. "LAB%-03:   seen: nothing came back;", r.stderr)
        for line in r.stderr:gmatch("[^\n]+") do assert.matches("^LAB%-03: ", line) end
      end)

    it("gives one JSON object listing every board", function()
      local r = cli.run({ "-d", six_sims(), "--sim-state", state, "--sim-fault",
        "uart-rx-open@LAB-03", "--json", "verify", "stm32f1", HELLO })
      assert.are.equal(4, r.status, r.stderr)
      assert.matches("^{[^\n]*}\n$", r.stdout)
      local o = json.decode(r.stdout)
      assert.are.equal(1, o.schema)
      assert.are.equal("no-reply", o.cause)
      assert.are.equal("LAB-03: " .. FAILED_SYNC, o.error)
      assert.are.equal(6, #o.boards)
      for i, b in ipairs(o.boards) do
        assert.are.equal(LAB[i], b.serial)
        assert.are.equal("cwlite", b.board)
        assert.are.equal("stm32f1", b.target)
        assert.is_nil(b.schema)
        assert.are.equal("number", type(b.time))
        if i == 3 then
          assert.are.equal(4, b.exit)
          assert.are.equal("no-reply", b.cause)
          assert.are.equal(FAILED_SYNC, b.error)
          assert.matches("^seen: nothing came back", b.details[1])
        else
          -- the single-board command's fields (contract.md §3.7)
          assert.are.equal(0, b.exit)
          assert.are.equal("ok", b.cause)
          assert.are.equal("ok", b.verify)
          assert.are.equal(368, b.bytes)
          assert.are.equal(0, b.retries)
          assert.is_nil(b.error)
        end
      end
    end)

    it("exits with the highest status: a mismatch (5) over a silent target (4)", function()
      local other = cli.write(dir .. "/other.hex", images.hex({ { 0x08000000,
        images.pattern(368, 9) } }))
      local r = cli.run({ "-d", six_sims(), "--sim-state", state, "program", "stm32f1", HELLO,
        "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = cli.run({ "-d", "sim:cwlite@LAB-05", "--sim-state", state, "program", "stm32f1",
        other, "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = cli.run({ "-d", six_sims(), "--sim-state", state, "--sim-fault",
        "uart-rx-open@LAB-02", "--json", "verify", "stm32f1", HELLO })
      assert.are.equal(5, r.status, r.stderr)
      local o = json.decode(r.stdout)
      assert.are.equal("verify-mismatch", o.cause)
      assert.matches("^LAB%-05: ", o.error)
      local exits = {}
      for i, b in ipairs(o.boards) do exits[i] = b.exit end
      assert.are.same({ 0, 4, 0, 0, 5, 0 }, exits)
      assert.are.equal("mismatch", o.boards[5].verify)
    end)
  end)

  describe("separate chip memories", function()
    it("keeps each serial's chips in a state folder of its own, in process and through sim "
      .. "attach alike", function()
      local dir = cli.tmpdir()
      local state = dir .. "/state"
      local a = cli.write(dir .. "/a.hex", images.hex({ { 0x08000000, images.pattern(512, 1) } }))
      local b = cli.write(dir .. "/b.hex", images.hex({ { 0x08000000, images.pattern(512, 2) } }))
      -- A and B programmed through sim attach, each with its own image
      local r = cli.run(attach(state, { "cwlite:stm32f1@A", "cwlite:stm32f1@B" }, { "sh", "-c",
        ("%s -d usb:A program stm32f1 %s -q && %s -d usb:B program stm32f1 %s -q"):format(
          cli.quote(BIN), cli.quote(a), cli.quote(BIN), cli.quote(b)) }))
      assert.are.equal(0, r.status, r.stderr)
      -- in process, the same boards have the same chips: each holds its own image
      r = cli.run({ "-d", "sim:cwlite@A,sim:cwlite@B", "--sim-state", state, "--json", "verify",
        "stm32f1", a })
      assert.are.equal(5, r.status, r.stderr)
      local o = json.decode(r.stdout)
      assert.are.equal(0, o.boards[1].exit)
      assert.are.equal(5, o.boards[2].exit)
      r = cli.run({ "-d", "sim:cwlite@B", "--sim-state", state, "verify", "stm32f1", b, "-q" })
      assert.are.equal(0, r.status, r.stderr)
      -- the default board (-d sim, a board without a serial of its own) is another one still
      r = cli.run({ "-d", "sim", "--sim-state", state, "verify", "stm32f1", a, "-q" })
      assert.are.equal(5, r.status, r.stderr)
      for _, f in ipairs({ "boards/A/format", "boards/A/stm32f100xb.flash",
                           "boards/B/stm32f100xb.flash" }) do
        assert.is_truthy(io.open(state .. "/" .. f), f)
      end
      -- a serial that is no file name is written %XX
      r = cli.run({ "-d", "sim:cwlite@x/y", "--sim-state", state, "info", "stm32f1", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.is_truthy(io.open(state .. "/boards/x%2Fy/format"))
    end)

    it("lets workers of different boards use one state folder at once; one board twice waits "
      .. "for nobody and says who has it", function()
      local dir = cli.tmpdir()
      local r = cli.run({ "sim", "attach", "--sim-state", dir .. "/state", "cwlite@A", "--",
        BIN, "-d", "sim:cwlite@A", "--sim-state", dir .. "/state", "info", "stm32f1" })
      assert.are.equal(3, r.status)
      assert.matches("^cwlua: sim: cwsim: state folder .*/state/boards/A is in use by another "
        .. "simulator %(pid %d+%)", r.stderr)
    end)
  end)

  describe("through cwlua sim attach", function()
    it("programs six boards with usb:*, one under a fault of its own", function()
      local dir = cli.tmpdir()
      local r = cli.run(attach(dir .. "/state", six_attached(),
        { BIN, "-d", "usb:*", "--json", "program", "stm32f1", HELLO },
        { "--sim-fault", "uart-rx-open@LAB-03" }))
      assert.are.equal(4, r.status, r.stderr)
      local o = json.decode(r.stdout)
      assert.are.equal("no-reply", o.cause)
      assert.are.equal(6, #o.boards)
      for i, b in ipairs(o.boards) do
        assert.are.equal(LAB[i], b.serial)
        assert.are.equal("cwlite", b.board)
        if i == 3 then
          assert.are.equal("no-reply", b.cause)
          assert.are.equal(4, b.exit)
        else
          assert.are.equal("ok", b.verify, LAB[i])
          assert.are.equal(0, b.exit)
        end
      end
      -- the fault was that board's alone: programmed now, it verifies as the others
      r = cli.run(attach(dir .. "/state", six_attached(),
        { BIN, "-d", "usb:*", "-q", "program", "stm32f1", HELLO }))
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("", r.stdout)
    end)

    it("refuses a --sim-fault for a serial no board has", function()
      local r = cli.run({ "sim", "attach", "--sim-fault", "no-power@Z", "cwlite@A", "--",
        "true" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua sim attach: --sim-fault no-power@Z: no board has the serial 'Z' "
        .. "(give one BOARD@Z); run 'cwlua sim attach --help' for usage\n", r.stderr)
    end)
  end)

  describe("Ctrl-C", function()
    -- The STM32F1 recipe as loopw, whose write step loops: every worker is caught mid-command.
    local function loop_recipe(dir)
      local text = slurp(SRC .. "/targets/stm32f1.lua"):gsub('name = "stm32f1"',
        'name = "loopw"', 1):gsub("aliases = {[^}]*},\n", "", 1):gsub(
        "return stm32%.recipe {", "local r = stm32.recipe {", 1)
      cli.write(dir .. "/steps/loopw.lua", text
        .. 'r.write = function(ctx) ctx.log("writing") while true do end end\nreturn r\n')
    end
    local PROBE = [[
local function hex(s) return (s:gsub(".", function(c) return ("%02X"):format(c:byte()) end)) end
local b = assert(cw.open())
print(table.concat({ hex(assert(b:fpga_read(55, 8))), hex(assert(b:fpga_read(38, 1))),
  tostring(b:clock()), tostring(b:pin("nrst")), tostring(b:pin("pdic")) }, " "))
]]

    for _, sig in ipairs({ "INT", "TERM" }) do
      it(("stops every worker, each board put back as found (SIG%s)"):format(sig), function()
        local d = cli.tmpdir()
        loop_recipe(d)
        cli.write(d .. "/probe.lua", PROBE)
        cli.write(d .. "/fw.bin", images.pattern(600, 3))
        local q = cli.quote
        local script = cli.write(d .. "/session.sh", table.concat({
          "cd " .. q(d) .. " || exit 1",
          ("%s -d 'usb:*' -q run probe.lua >before"):format(q(BIN)),
          ("%s -s steps -d 'usb:*' -v program loopw fw.bin >out 2>err </dev/null &"):format(
            q(BIN)),
          "pid=$!",
          -- every worker in its write step (and so cwlua's signal handling set up everywhere)
          'i=0; while [ $i -lt 400 ] && [ "$(grep -c "loopw: writing" err 2>/dev/null)" != 3 ]; '
            .. "do sleep 0.05; i=$((i+1)); done",
          "t0=$(date +%s%N)", "kill -" .. sig .. " $pid", "wait $pid; st=$?",
          "t1=$(date +%s%N)", 'echo "$st $(( (t1 - t0) / 1000000 ))" >result',
          ("%s -d 'usb:*' -q run probe.lua >after"):format(q(BIN)),
        }, "\n") .. "\n")
        local r = cli.run(attach(d .. "/state", { "cwlite:stm32f1@A", "cwlite:stm32f1@B",
          "cwlite:stm32f1@C" }, { "timeout", "--foreground", "-k", "5", "60", "sh", script }))
        assert.are.equal(0, r.status, r.stderr)
        local st, ms = slurp(d .. "/result"):match("^(%d+) (%d+)")
        local err = slurp(d .. "/err")
        assert.are.equal(sig == "INT" and 130 or 143, tonumber(st), err)
        assert.is_true(tonumber(ms) < 3000, ("ended %s ms after the signal"):format(ms))
        for _, s in ipairs({ "A", "B", "C" }) do
          assert.are.equal(1, count(err, "\n" .. s .. ": cwlua: interrupted\n"), err)
        end
        assert.matches("\ncwlua: interrupted\n$", err)
        -- the table still says where each board got to
        assert.matches("A +cwlite +loopw +exit 1%d%d +%- +interrupted\n", slurp(d .. "/out"))
        -- what each board's probe says, in board order (the workers end in any order)
        local function sorted(text)
          local lines = {}
          for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
          table.sort(lines)
          return table.concat(lines, "\n")
        end
        local before, after = sorted(slurp(d .. "/before")), sorted(slurp(d .. "/after"))
        assert.matches("^A: %x+ %x+ [^\n]+\nB: [^\n]+\nC: [^\n]+$", before)
        assert.are.equal(before, after)
      end)
    end
  end)

  describe("many boards", function()
    -- -d naming n in-process boards
    local function sims(n)
      local items = {}
      for i = 1, n do items[i] = ("sim:cwlite@M%03d"):format(i) end
      return table.concat(items, ",")
    end

    it("refuses more boards than it can wait on, before starting any", function()
      local r = cli.run({ "-d", sims(257), "power", "on" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: the device list names 257 boards; cwlua runs at most 256 at "
        .. "once: give them in several commands\n", r.stderr)
      assert.are.equal("", r.stdout)
    end)

    it("runs thirty under a low soft limit on open files, and says which limit a hard one is",
      function()
        local d = cli.tmpdir()
        local q = cli.quote
        -- the soft limit alone: raised to the hard one (unless that is low too), every board
        -- runs
        local p = assert(io.popen("ulimit -Hn"))
        local hard = p:read("a")
        p:close()
        local r
        if hard:match("unlimited") or (tonumber(hard) or 0) >= 200 then
          r = cli.run({ "-c", ("ulimit -Sn 40 && exec %s -d %s --sim-state %s -q power on")
            :format(q(BIN), sims(30), q(d .. "/state")) }, nil, nil, "sh")
          assert.are.equal(0, r.status, r.stderr)
        end
        -- the hard limit too: the boards that get no worker say why and what to do
        r = cli.run({ "-c", ("ulimit -n 40 && exec %s -d %s --sim-state %s power on"):format(
          q(BIN), sims(30), q(d .. "/state")) }, nil, nil, "sh")
        assert.are.equal(1, r.status, r.stderr)
        assert.matches("\nM030: cwlua: cannot start its worker: pipe: Too many open files; each "
          .. "board takes three of cwlua's open files and a process: raise the limits %(ulimit "
          .. "%-n, ulimit %-u%), or give fewer boards at once\n", "\n" .. r.stderr)
        assert.matches("\nM030 +cwlite +%- +exit 1 +%- +failure\n", r.stdout)
      end)
  end)

  describe("a worker that dies", function()
    it("is that board's failure, exit 1, with a cause and a message; the others go on",
      function()
        local d = cli.tmpdir()
        -- B's worker crashes and C's is killed, each once its board is open
        local s = cli.write(d .. "/die.lua", [[
local b = assert(cw.open())
if b.serial_number == "B" then os.execute("kill -SEGV $PPID") end
if b.serial_number == "C" then os.execute("kill -KILL $PPID") end
print("alive")
]])
        local r = cli.run({ "-d", "sim:cwlite@A,sim:cwlite@B,sim:cwlite@C", "--sim-state",
          d .. "/state", "run", s })
        assert.are.equal(1, r.status, r.stderr)
        -- Under AddressSanitizer the SIGSEGV is caught by the sanitizer, which prints its report
        -- and exits 1: the worker then ends without a result, not by a signal
        local sanitized = os.getenv("CWLUA_SANITIZED") == "1"
        assert.matches("\nA  +cwlite  %-  +ok  +[%d.]+ s  ok\n"
          .. "B  +cwlite  %-  +exit 1  %-  +" .. (sanitized and "failure" or "internal") .. "\n"
          .. "C  +cwlite  %-  +exit 1  %-  +failure\n3 boards: 1 ok, 2 failed\n$", r.stdout)
        assert.are.equal(1, count(r.stdout, "A: alive\n"))
        if sanitized then
          assert.are.equal(1, count(r.stderr, "B: cwlua: its worker ended with exit status 1 "
            .. "and said nothing\n"), r.stderr)
          assert.matches("B: [^\n]*AddressSanitizer: SEGV", r.stderr)
        else
          assert.are.equal(1, count(r.stderr, "B: cwlua: its worker crashed %(SIGSEGV%): this "
            .. "is a bug in cwlua; the board may not have been put back: power%-cycle it, then "
            .. "try it alone with %-d sim:cwlite@B %-v\n"), r.stderr)
        end
        assert.are.equal(1, count(r.stderr, "C: cwlua: its worker was killed %(SIGKILL%) before "
          .. "it ended: the board may not have been put back; power%-cycle it, or run the "
          .. "command again\n"), r.stderr)
      end)

    it("has no time when it never opened its board", function()
      local r = cli.run({ "-d", "sim:cwlite@A,usb:NOPE", "--json", "power", "on" })
      assert.are.equal(3, r.status, r.stderr)
      local o = json.decode(r.stdout)
      assert.are.equal("number", type(o.boards[1].time))
      assert.are.equal(json.null, o.boards[2].time)
      assert.are.equal("no-board", o.boards[2].cause)
      r = cli.run({ "-d", "sim:cwlite@A,usb:NOPE", "power", "on" })
      assert.matches("\nNOPE    %?       %-       exit 3  %-       no%-board\n", r.stdout)
    end)
  end)

  describe("each board its own output", function()
    it("read: OUT with the board's serial, --log-wire=FILE likewise", function()
      local d = cli.tmpdir()
      local r = cli.run({ "-d", "sim:cwlite@A,sim:husky@B", "--sim-state", d .. "/state", "-q",
        "--log-wire=" .. d .. "/wire.log", "read", "stm32f1", d .. "/dump.bin", "--len", "64" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(("\255"):rep(64), slurp(d .. "/dump-A.bin"))
      assert.are.equal(("\255"):rep(64), slurp(d .. "/dump-B.bin"))
      assert.is_nil(io.open(d .. "/dump.bin"))
      assert.matches("^%+0%.000000 > 7F\n", slurp(d .. "/wire-A.log"))
      assert.matches("^%+0%.000000 > 7F\n", slurp(d .. "/wire-B.log"))
      assert.is_nil(io.open(d .. "/wire.log"))
    end)

    it("run: the script once per board, cw.open() that board", function()
      local d = cli.tmpdir()
      local s = cli.write(d .. "/who.lua", "local b = assert(cw.open()) print(b.kind, ...)\n")
      local r = cli.run({ "-d", "sim:cwlite@A,sim:nano@B", "--sim-state", d .. "/state", "run",
        s, "x" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(1, count(r.stdout, "\nA: cwlite\tx\n") + count(r.stdout, "^A: cwlite\tx\n"))
      assert.are.equal(1, count(r.stdout, "B: nano\tx\n"))
    end)
  end)

  describe("cw.each", function()
    it("runs a function on every board at once and collects results and errors", function()
      local d = cli.tmpdir()
      local s = cli.write(d .. "/each.lua", ([[
local results, status = cw.each("sim:cwlite@A,sim:cwlite@B,sim:husky@C", function(board, fw)
  local r = assert(cw.flash.program("stm32f1", fw, { board = board, quiet = true }))
  print("programmed " .. r.bytes)
  return { bytes = r.bytes, kind = board.kind }
end, { args = { %q }, sim = { target = "stm32f1", state = %q,
  faults = { "uart-rx-open@B" } } })
for _, r in ipairs(results) do
  print(r.serial, r.board, r.ok, r.exit, r.cause, r.value and r.value.bytes,
    r.value and r.value.kind)
end
print("status", status)
print(pcall(cw.each, "sim:cwlite@A", function() return status end))
]]):format(HELLO, d .. "/state"))
      local r = cli.run({ "run", s })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("A\tcwlite\ttrue\t0\tok\t368\tcwlite\n"
        .. "B\tcwlite\tfalse\t1\tfailure\tnil\tnil\n"
        .. "C\thusky\ttrue\t0\tok\t368\thusky\n"
        .. "status\t1\n"
        .. "false\tcw%.each: the function uses 'status', a local variable of the script; it "
        .. "runs in a worker process that cannot see it: pass it in opts%.args "
        .. "%(fn%(board, %.%.%.%)%)\n$", r.stdout)
      assert.are.equal(1, count(r.stdout, "A: programmed 368\n"))
      assert.are.equal(1, count(r.stdout, "C: programmed 368\n"))
      assert.matches("B: cwlua: .*each%.lua:2: " .. FAILED_SYNC:gsub("%p", "%%%0"), r.stderr)
    end)
  end)

  describe("cw.each and what the function may use", function()
    it("names the script's globals and local functions the worker cannot see, C functions and "
      .. "arguments that cannot be sent", function()
      local d = cli.tmpdir()
      local s = cli.write(d .. "/uses.lua", [[
local D = "sim:cwlite@A,sim:cwlite@B"
FW = "lab1.hex"
function label(b) return b.serial_number end
local function show(results)
  for _, r in ipairs(results) do print(r.serial, r.ok, r.exit, r.cause, r.value, r.error) end
end
show(cw.each(D, function() return FW end, { quiet = true }))
show(cw.each(D, function(b) return label(b) end, { quiet = true }))
-- what the worker has itself is there; a global it sets is its own; an unset one is nil
show(cw.each(D, function(b) NEW = b.serial_number return NEW .. tostring(UNSET) end))
local function lf() end
print(pcall(cw.each, D, function() return lf() end))
print(pcall(cw.each, D, print))
print(pcall(cw.each, D, function(_, x) return x end, { args = { print } }))
]])
      local r = cli.run({ "run", s }, { XDG_STATE_HOME = d .. "/state" })
      assert.are.equal(0, r.status, r.stderr)
      local function reads(serial, line, name, kind, advice)
        return ("%s\tfalse\t1\tfailure\tnil\t%s:%d: cw.each: the function reads '%s', a "
          .. "global %s the script set; the function runs in a worker process without the "
          .. "script: %s\n"):format(serial, s, line, name, kind, advice)
      end
      local pass = "pass it in opts.args (fn(board, ...))"
      local define = "define it inside the function, or in a module the function requires"
      assert.are.equal(reads("A", 7, "FW", "variable", pass) .. reads("B", 7, "FW", "variable",
        pass) .. reads("A", 8, "label", "function", define) .. reads("B", 8, "label", "function",
        define)
        .. "A\ttrue\t0\tok\tAnil\tnil\nB\ttrue\t0\tok\tBnil\tnil\n"
        .. "false\tcw.each: the function uses 'lf', a local function of the script; it runs in "
        .. "a worker process that cannot see it: " .. define .. "\n"
        .. "false\tcw.each: fn is a C function (such as print), which cannot be sent to a "
        .. "worker; wrap it in a Lua function\n"
        .. "false\tcw.each: opts.args cannot be sent to the workers (json.encode: cannot "
        .. "encode a function); pass strings, numbers, booleans and tables of them\n", r.stdout)
    end)
  end)

  describe("cw.each's arguments", function()
    it("passes a nil among them as nil and keeps the ones after it", function()
      local d = cli.tmpdir()
      local s = cli.write(d .. "/args.lua", [[
local D = "sim:cwlite@A,sim:cwlite@B"
local function show(results)
  for _, r in ipairs(results) do print(r.serial, r.ok, r.value) end
end
local function f(_, ...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
  return select("#", ...) .. ":" .. table.concat(t, ",")
end
show(cw.each(D, f, { quiet = true, args = { nil, 3, nil, "x" } }))
show(cw.each(D, f, { quiet = true, args = table.pack(1, nil, nil) }))
print(pcall(cw.each, D, f, { args = "lab1.hex" }))
]])
      local r = cli.run({ "run", s }, { XDG_STATE_HOME = d .. "/state" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("A\ttrue\t4:nil,3,nil,x\nB\ttrue\t4:nil,3,nil,x\n"
        .. "A\ttrue\t3:1,nil,nil\nB\ttrue\t3:1,nil,nil\n"
        .. "false\tcw.each: opts.args must be a list of the values passed after the board\n",
        r.stdout)
    end)
  end)

  describe("on a terminal", function()
    it("draws one line per board while they work, then the table", function()
      local d = cli.tmpdir()
      cli.write(d .. "/fw.bin", images.pattern(3000, 5))
      local r = cli.run({ "100", "30", BIN, "-d", "sim:cwlite@A,sim:cwlite@B", "--sim-state",
        d .. "/state", "--sim-fault", "no-power@B", "program", "stm32f1", d .. "/fw.bin" }, nil,
        nil, SRC .. "/spec/support/pty_run.py")
      assert.are.equal(4, r.status, r.stdout)
      local out = r.stdout:gsub("\r\n", "\n")
      assert.matches("^A  cwlite  starting\27%[K\nB  cwlite  starting\27%[K\n", out)
      assert.matches("\27%[2A\r\27%[JA  cwlite  done in %d+%.%d+ s\27%[K\n"
        .. "B  cwlite  failed: no%-reply %(exit 4%)\27%[K\n\27%[2A\r\27%[Jserial  board", out)
      assert.matches("\nA       cwlite  stm32f1  ok      %d+%.%d+ s  ok\n", out)
    end)

    it("counts the boards on one line when there are more than rows, each line relayed once",
      function()
        local d = cli.tmpdir()
        local r = cli.run({ "100", "5", BIN, "-d", six_sims(), "--sim-state", d .. "/state",
          "--sim-fault", "no-power@LAB-04", "program", "stm32f1", HELLO }, nil, nil,
          SRC .. "/spec/support/pty_run.py")
        assert.are.equal(4, r.status, r.stdout)
        local out = r.stdout:gsub("\r\n", "\n")
        assert.matches("^6 boards: 0 ok, 0 failed, 6 working\27%[K\n", out)
        assert.matches("\27%[J6 boards: 5 ok, 1 failed, 0 working\27%[K\n\27%[1A\r\27%[J"
          .. "serial  board", out)
        -- no line per board: each board's summary line once, not redrawn
        assert.is_nil(out:find("LAB%-01  cwlite  done"))
        assert.are.equal(1, count(out, "LAB%-01: programmed 368 bytes"))
        assert.are.equal(1, count(out, "LAB%-04: cwlua: " .. FAILED_SYNC:gsub("%p", "%%%0")))
      end)
  end)
end)
