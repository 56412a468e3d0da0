-- SPDX-License-Identifier: MIT
-- cwlua doctor on the simulator: every fault of contract.md §5 that concerns an STM32 target gives
-- its cause from contract.md §6.4, with an action, from evidence only (the doctor never reads
-- the simulator's fault settings).
local cli = require "support.cli"
local json = require "dkjson" -- Debian's lua-dkjson: a decoder we did not write

local HELLO = (os.getenv("CWLUA_SOURCE_DIR") or ".") .. "/examples/stm32f1-hello/hello.hex"

describe("cwlua doctor", function()
  local env

  local function doctor(args)
    local a = { "-d", "sim", "--json" }
    for _, x in ipairs(args) do a[#a + 1] = x end
    a[#a + 1] = "doctor"
    a[#a + 1] = "stm32f1"
    local r = cli.run(a, { XDG_STATE_HOME = env })
    local o = json.decode(r.stdout)
    assert.is_table(o, "not JSON: " .. r.stdout .. r.stderr)
    return o, r
  end

  local function program_first()
    local r = cli.run({ "-d", "sim", "program", "stm32f1", HELLO, "-q" }, { XDG_STATE_HOME = env })
    assert.are.equal(0, r.status, r.stderr)
  end

  local function has(list, pattern)
    for _, s in ipairs(list) do
      if tostring(s):find(pattern) then return true end
    end
    return false
  end

  before_each(function() env = cli.tmpdir() end)
  after_each(cli.cleanup)

  local rows = {
    -- fault args, cause, exit, a pattern the actions or candidates must contain
    { {}, "ok", 0, "cwlua program stm32f1" },
    { { "--sim-fault", "uart-tx-open" }, "no-reply", 4, "TIO2" },
    { { "--sim-fault", "uart-swapped" }, "swapped-lines", 4, "swap TIO1 and TIO2" },
    { { "--sim-fault", "bit-flips=0.02" }, "garbled-reply", 4, "cable" },
    { { "--sim-fault", "read-protected" }, "read-protected", 4, "%-%-unprotect" },
    { { "--sim-fault", "glitch-active" }, "glitch-active", 3, "glitch" },
    { { "--sim-fault", "already-synced" }, "ok", 0, "cwlua program" },
    { { "--sim-fault", "slow-erase" }, "ok", 0, "cwlua program" },
    { { "--sim-fault", "write-protected" }, "ok", 0, "cwlua program" },
  }
  for _, row in ipairs(rows) do
    it(("%s gives %s"):format(row[1][2] or "no fault", row[2]), function()
      local o, r = doctor(row[1])
      assert.are.equal(row[2], o.cause, r.stdout)
      assert.are.equal(row[3], r.status)
      assert.is_true(has(o.actions, row[4]) or has(o.candidates, row[4]),
        "no action naming " .. row[4] .. ": " .. r.stdout)
      assert.are.equal(1, o.schema)
      for _, s in ipairs(o.steps) do
        assert.is_truthy(({ ok = 1, failed = 1, unverifiable = 1, skipped = 1 })[s.status])
      end
    end)
  end

  it("boot0-stuck-low with an application that talks: app-running", function()
    program_first() -- a blank chip runs no application
    local o, r = doctor({ "--sim-fault", "boot0-stuck-low", "--sim-app", "banner" })
    assert.are.equal("app-running", o.cause, r.stdout)
    assert.is_true(has(o.actions, "BOOT0"))
  end)

  it("boot0-stuck-low with a SimpleSerial application, silent until asked: app-running",
    function()
      program_first()
      for _, app in ipairs({ "ss1-aes", "ss2-aes" }) do
        local o, r = doctor({ "--sim-fault", "boot0-stuck-low", "--sim-app", app })
        assert.are.equal("app-running", o.cause, app .. ": " .. r.stdout)
        assert.matches("answered SimpleSerial v%d%.1's 'v'", o.steps[#o.steps].observed)
      end
    end)

  it("nrst-open: a power cycle with BOOT0 high reaches the bootloader: reset-ineffective",
    function()
      for _, rig in ipairs({ false, "cw506", "cw308" }) do
        local args = { "--sim-fault", "nrst-open" }
        if rig then args[3], args[4] = "--rig", rig end
        local o, r = doctor(args)
        assert.are.equal("reset-ineffective", o.cause, r.stdout)
        assert.are.equal(4, r.status)
        assert.are.same({ name = "reset", status = "failed", observed = "a reset pulse on nRST "
          .. "with BOOT0 high does not start the bootloader, a power cycle does: nRST does not "
          .. "reach the chip" }, o.steps[#o.steps])
        assert.matches("^nRST does not reach the chip", o.actions[1])
      end
    end)

  -- Ranking by evidence (contract.md §6.5): for each fault that leaves the target silent, with
  -- no --rig (the recipe's default says nothing about the bench), --rig cw506 and --rig cw308:
  -- doctor's first candidate and first action, and what a failing program says is likely and
  -- to do first. Where the wire cannot tell candidates apart, the first action is the quick
  -- look that can (the power LED, the CW506's switches), never a guess.
  describe("ranks by evidence", function()
    local NOPOWER = "^the target has no power %(a CW%-Lite cannot measure"
    local LOOK = "^first look at the target board's power LED %(or 3%.3 V on the CW308's test "
      .. "point%): lit, the target is powered and its TX does not reach the board; dark, it has "
      .. "no power"
    local LOOK_DO = "^do: look at the target board's power LED %(or 3%.3 V on the CW308's test "
      .. "point%): lit, the target is powered and its TX does not reach the board"
    local LOOK506 = "^first look at the CW506's UART routing switches and at the target board's "
      .. "power LED"
    local RX506 = "^the target's TX does not reach the board's RX %(TIO1%): the CW506's UART "
      .. "routing switches$"
    local TX_ROWS = { -- the target is powered and its TX reaches the board (TIO1 high)
      [false] = { c1 = "^a CW506 between board and target: its UART routing switches do not "
                    .. "pass the board's TX %(TIO2%) to the target's RX$",
                  a1 = "^first, if a CW506 sits between board and target, look at its UART "
                    .. "routing switches: the one for TIO2",
                  likely = "^likely: the board's TX %(TIO2%) does not reach the target's RX: a "
                    .. "CW506 between board and target %(its UART routing switches%)",
                  todo = "^do: if a CW506 sits between board and target, look at its UART "
                    .. "routing switches" },
      cw506 = { c1 = "^the board's TX %(TIO2%) does not reach the target's RX: the CW506's UART "
                  .. "routing switches$",
                a1 = "^first look at the CW506's UART routing switches: the one for TIO2",
                likely = "^likely: the board's TX %(TIO2%) does not reach the target's RX: the "
                  .. "CW506's UART routing switches; or nRST or BOOT0",
                todo = "^do: look at the CW506's UART routing switches: the one for TIO2" },
      -- with the CW308 on the cable, TIO1 high says the cable and seating are sound: BOOT0
      cw308 = { c1 = "^BOOT0 %(PDIC%) does not reach the chip",
                a1 = "^first check that BOOT0 reaches the chip",
                likely = "^likely: nRST or BOOT0 %(PDIC%) does not reach the chip",
                todo = "^do: check that nRST and BOOT0 reach the chip" },
    }
    local SILENT_ROWS = { -- nothing drives TIO1: no power or the path, which look alike
      [false] = { c1 = NOPOWER, a1 = LOOK, likely = "^likely: the target has no power .*; or "
                    .. "the target's TX does not reach the board's RX %(TIO1%): a CW506 between "
                    .. "board and target %(its UART routing switches%), or the 20%-pin cable",
                  todo = LOOK_DO },
      cw506 = { c1 = RX506, a1 = LOOK506, likely = "^likely: the target's TX does not reach the "
                  .. "board's RX %(TIO1%): the CW506's UART routing switches; or the target has "
                  .. "no power", todo = "^do: look at the CW506's UART routing switches and at "
                  .. "the target board's power LED" },
      cw308 = { c1 = NOPOWER, a1 = LOOK, likely = "^likely: the target has no power .*: the "
                  .. "20%-pin cable or the target's seating$", todo = LOOK_DO },
    }
    local faults = {
      ["no-power"] = SILENT_ROWS, ["uart-rx-open"] = SILENT_ROWS,
      ["uart-tx-open"] = TX_ROWS, ["boot0-stuck-low"] = TX_ROWS,
    }

    local function explained(stderr)
      local seen = stderr:match("\n  (seen: [^\n]*)")
      local likely = stderr:match("\n  (likely: [^\n]*)")
      local todo = stderr:match("\n  (do: [^\n]*)\n$")
      return seen, likely, todo
    end

    for fault, fault_rows in pairs(faults) do
      for _, rig in ipairs({ false, "cw506", "cw308" }) do
        local want = fault_rows[rig]
        it(("%s, %s"):format(fault, rig and ("--rig " .. rig) or "no --rig"), function()
          program_first() -- the chip has an application, as on a bench
          local args = { "--sim-fault", fault }
          if rig then args[3], args[4] = "--rig", rig end
          local o, r = doctor(args)
          assert.are.equal("no-reply", o.cause, r.stdout)
          assert.are.equal(4, r.status)
          assert.matches(want.c1, o.candidates[1])
          assert.matches(want.a1, o.actions[1])
          assert.are.equal(rig or nil, o.rig) -- JSON null when no --rig was given
          local all = table.concat(o.candidates, "\n") .. "\n" .. table.concat(o.actions, "\n")
          if fault_rows == TX_ROWS then -- TIO1 high: powered, so power is no candidate nor action
            assert.is_nil(all:find("no power", 1, true), all)
            assert.is_nil(all:find("power LED", 1, true), all)
            -- the power cycle restarted it without nRST: nRST is ruled out
            assert.is_nil(all:find("nRST", 1, true), all)
          end
          if rig then
            assert.is_nil(all:find("--rig cw308 (", 1, true), all)
            assert.matches(("then run cwlua doctor stm32f1 %%-%%-rig %s again$"):format(rig),
              o.actions[#o.actions])
          else -- the rig is unknown: the CW506 is a candidate, and --rig is suggested
            assert.is_true(has(o.candidates, "^a CW506 between board and target: its UART "
              .. "routing switches"), all)
            assert.is_true(has(o.actions, "%-%-rig cw506 .* or %-%-rig cw308"), all)
          end
          for _, s in ipairs(o.steps) do -- a step marked ok never reads as a failure
            if s.status == "ok" then
              assert.is_nil(s.observed:find("no answer", 1, true), s.name)
              assert.is_nil(s.observed:find("no reply", 1, true), s.name)
            end
          end
          -- a failing program says the same, first things first
          local pargs = { "-d", "sim", "--sim-fault", fault, "program", "stm32f1", HELLO, "-q" }
          if rig then table.insert(pargs, 3, rig) table.insert(pargs, 3, "--rig") end
          r = cli.run(pargs, { XDG_STATE_HOME = env })
          assert.are.equal(4, r.status)
          local seen, likely, todo = explained(r.stderr)
          assert.matches(fault_rows == TX_ROWS and "driven high" or "is low: nothing drives it",
            seen)
          assert.matches(want.likely, likely)
          assert.matches(want.todo, todo)
          assert.matches(("then run 'cwlua doctor stm32f1%s'"):format(
            rig and (" %-%-rig " .. rig) or ""), todo)
          if fault_rows == TX_ROWS then
            assert.is_nil((likely .. todo):find("no power", 1, true), likely .. todo)
            assert.is_nil((likely .. todo):find("power LED", 1, true), likely .. todo)
          end
        end)
      end
    end

    it("uart-swapped: a failed program sees the target drive TIO2 and names the crossing",
      function()
        local r = cli.run({ "-d", "sim", "--sim-fault", "uart-swapped", "program", "stm32f1",
          HELLO, "-q" }, { XDG_STATE_HOME = env })
        assert.are.equal(4, r.status)
        local seen, likely, todo = explained(r.stderr)
        assert.matches("TIO2 is driven high when the board lets go of it: the target is powered",
          seen)
        assert.matches("^likely: the target's TX and RX are crossed %(TIO1 and TIO2 swapped%)",
          likely)
        assert.matches("^do: run 'cwlua doctor stm32f1': it tries the lines swapped", todo)
      end)
  end)

  it("no-clock: ok, with a warning that the application will not run", function()
    local o = doctor({ "--sim-fault", "no-clock" })
    assert.are.equal("ok", o.cause)
    assert.is_true(has(o.warnings, "application will not run"))
  end)

  it("fpga-unprogrammed without a bitstream: exit 3", function()
    local o, r = doctor({ "--sim-fault", "fpga-unprogrammed" })
    assert.are.equal("fpga-unprogrammed", o.cause)
    assert.are.equal(3, r.status)
    assert.is_true(has(o.actions, "%-%-bitstream"))
  end)

  it("old-firmware: exit 3", function()
    local o, r = doctor({ "--sim-fault", "old-firmware" })
    assert.are.equal("old-firmware", o.cause)
    assert.are.equal(3, r.status)
  end)

  it("a board that fails a USB transfer: usb-error, never no-board; unplugged: no-board",
    function()
      -- a board still attached that stalls or times out must not be told "plug the board in"
      for _, f in ipairs({ "usb-stall-after=50", "usb-timeout-after=50", "usb-stall-after=10",
                           "usb-stall-after=20" }) do
        local o, r = doctor({ "--sim-fault", f })
        assert.are.equal("usb-error", o.cause, f .. ": " .. r.stdout)
        assert.are.equal(3, r.status)
        assert.are.equal("failed", o.steps[#o.steps].status, f)
        assert.are.equal("board", o.steps[#o.steps].name, f)
        assert.is_false(has(o.actions, "plug the board in"), f)
        assert.is_true(has(o.actions, "unplug it and plug it back in"), f)
        for i = 1, #o.steps - 1 do -- a failed transfer is not an observation of a link
          assert.is_nil(tostring(o.steps[i].observed):find("stalled", 1, true),
            f .. ": " .. o.steps[i].name)
        end
      end
      local o, r = doctor({ "--sim-fault", "unplug-after=50" })
      assert.are.equal("no-board", o.cause)
      assert.are.equal(3, r.status)
      -- a failing command says the same in --json
      for _, f in ipairs({ "usb-stall-after=50", "usb-timeout-after=50" }) do
        r = cli.run({ "-d", "sim", "--json", "--sim-fault", f, "program", "stm32f1", HELLO },
          { XDG_STATE_HOME = env })
        assert.are.equal(3, r.status)
        assert.are.equal("usb-error", json.decode((r.stdout:match("^[^\n]+"))).cause, f)
      end
    end)

  it("avr and xmega on a board without their engine: no-engine, exit 3", function()
    for _, t in ipairs({ "avr", "xmega" }) do
      local r = cli.run({ "-d", "sim:nano", "--sim-target", t == "avr" and "atmega328p" or
        "atxmega128d4", "--json", "doctor", t }, { XDG_STATE_HOME = env })
      assert.are.equal(3, r.status, r.stdout .. r.stderr)
      assert.are.equal("no-engine", json.decode(r.stdout).cause, t)
    end
  end)

  it("the wrong recipe for the chip: wrong-chip naming the right recipe", function()
    local o, r = doctor({ "--sim-target", "stm32f303xc" })
    assert.are.equal("wrong-chip", o.cause)
    assert.are.equal(4, r.status)
    assert.is_true(has(o.actions, "cwlua program stm32f3 FILE"))
  end)

  it("prints each step and the cause as text, within 3 s of modeled time on a dead target",
    function()
      local r = cli.run({ "-d", "sim", "--sim-fault", "no-power", "--rig", "cw506", "doctor",
        "stm32f1" }, { XDG_STATE_HOME = env })
      assert.are.equal(4, r.status)
      assert.matches("^cwlua doctor stm32f1 %(rig cw506%)\n", r.stdout)
      assert.matches("^cwlua doctor stm32f1 %(rig not given%)\n", cli.run({ "-d", "sim",
        "--sim-fault", "no-power", "doctor", "stm32f1" }, { XDG_STATE_HOME = env }).stdout)
      assert.matches("\n  ok +board +CW%-Lite ", r.stdout)
      assert.matches("\n  unverifiable +target power +switched on; a CW%-Lite cannot measure",
        r.stdout)
      assert.matches("\n  failed +bootloader sync +no reply", r.stdout)
      assert.matches("\ncause: no%-reply\nlikely, in order:\n  1%. ", r.stdout)
      assert.matches("\nwhat to do:\n  %- ", r.stdout)
      -- modeled time: the simulator's clock, read through a script that runs the same doctor
      local s = cli.write(cli.tmpdir() .. "/t.lua", [[
        local time = require "cwlua.time"
        local board = require "cwlua.board"
        board.defaults.spec = "sim"
        board.defaults.sim = { faults = { "no-power" } }
        local t0, t1
        local open = board.open
        board.open = function(...)
          local b, m, c = open(...)
          t0 = t0 or time.now_ns()
          return b, m, c
        end
        -- the end: just before the board closes (then time is no longer the simulator's)
        local B = board.Board
        local close = B.close
        B.close = function(self)
          if self._dev then t1 = time.now_ns() end
          return close(self)
        end
        B.__close = B.close
        local r = require("cwlua.doctor").run("stm32f1", {})
        print(r.cause, (t1 - t0) / 1e9)
      ]])
      r = cli.run({ "run", s }, { XDG_STATE_HOME = env })
      local cause, secs = r.stdout:match("^(%S+)\t([%d.]+)")
      assert.are.equal("no-reply", cause, r.stderr)
      assert.is_true(tonumber(secs) < 3, "doctor took " .. tostring(secs) .. " s")
    end)

  describe("failed commands explain themselves", function()
    local faults = { "uart-rx-open", "uart-tx-open", "uart-swapped", "no-power", "nrst-open",
                     "bit-flips=0.02" }
    for _, f in ipairs(faults) do
      it(f .. ": what was seen, what is likely, what to do, on one screen", function()
        local r = cli.run({ "-d", "sim", "--sim-fault", f, "program", "stm32f1", HELLO, "-q" },
          { XDG_STATE_HOME = env })
        assert.are.equal(4, r.status)
        local lines = {}
        for l in r.stderr:gmatch("[^\n]+") do lines[#lines + 1] = l end
        assert.is_true(#lines <= 6, r.stderr)
        assert.matches("\n  seen: ", r.stderr)
        assert.matches("\n  likely: ", r.stderr)
        assert.matches("\n  do: [^\n]*run 'cwlua doctor stm32f1'[^\n]*\n$", r.stderr)
      end)
    end
  end)
end)
