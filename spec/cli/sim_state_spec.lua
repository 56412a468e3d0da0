-- SPDX-License-Identifier: MIT
-- The simulator's state folder as a user meets it (contract.md §5.5): its format file is
-- checked before anything in it is used, and a folder in use always names the pid using it.
-- The C side (sim/sim_state.c) has its own checks in tests/sim/test_state.c.
local cli = require "support.cli"

local HELLO = "examples/stm32f1-hello/hello.hex"

local function info(state)
  return cli.run({ "-d", "sim", "--sim-state", state, "info", "stm32f1" })
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

describe("the simulator state folder", function()
  after_each(cli.cleanup)

  it("gets a format file when it is fresh, and opens with it", function()
    local state = cli.tmpdir()
    assert.are.equal(0, info(state).status)
    assert.are.equal("cwlua simulator state 1\n", slurp(state .. "/format"))
    assert.are.equal(0, info(state).status)
  end)

  it("is refused with a newer format: what it found, what it reads, what to do", function()
    local state = cli.tmpdir()
    cli.write(state .. "/format", "cwlua simulator state 2\n")
    cli.write(state .. "/stm32f100xb.flash", "keep me")
    local r = cli.run({ "-d", "sim", "--sim-state", state, "program", "stm32f1", HELLO })
    assert.are.equal(3, r.status)
    assert.are.equal("cwlua: sim: cwsim: state folder " .. state .. " has format 2, from a newer "
      .. "cwlua; this one reads format 1: pass another --sim-state folder, or delete it\n",
      r.stderr)
    assert.are.equal("", r.stdout)
    assert.are.equal("keep me", slurp(state .. "/stm32f100xb.flash")) -- nothing touched
    assert.are.equal("cwlua simulator state 2\n", slurp(state .. "/format"))
  end)

  it("is refused with an unknown format file", function()
    local state = cli.tmpdir()
    cli.write(state .. "/format", "my notes\n")
    local r = info(state)
    assert.are.equal(3, r.status)
    assert.are.equal("cwlua: sim: cwsim: state folder " .. state .. " has an unknown format file "
      .. "('my notes'; expected 'cwlua simulator state 1'): pass another --sim-state folder, or "
      .. "delete it\n", r.stderr)
  end)

  it("is refused when it holds files but no format file", function()
    local state = cli.tmpdir()
    cli.write(state .. "/thesis.tex", "\\documentclass{article}\n")
    local r = info(state)
    assert.are.equal(3, r.status)
    assert.are.equal("cwlua: sim: cwsim: state folder " .. state .. " has files but no format "
      .. "file: it is not a simulator state folder of cwlua; pass another --sim-state folder, or "
      .. "delete it\n", r.stderr)
    assert.is_nil(slurp(state .. "/format"))
  end)

  it("in use: every message of 60 racing pairs names the pid that holds it", function()
    local state, out = cli.tmpdir(), cli.tmpdir()
    local cmd = ("%s -d sim --sim-state %s program stm32f1 %s -q"):format(cli.quote(cli.BIN),
      cli.quote(state), HELLO)
    local script = ("for i in $(seq 60); do %s 2>%s/$i.a & %s 2>%s/$i.b & wait; done"):format(
      cmd, out, cmd, out)
    assert.is_true(os.execute("env -u CWLUA_PATH -u CWLUA_DEVICE sh -c " .. cli.quote(script)))
    local busy = 0
    for i = 1, 60 do
      for _, side in ipairs({ "a", "b" }) do
        local err = slurp(("%s/%d.%s"):format(out, i, side))
        if err:match("in use") then
          busy = busy + 1
          assert.matches("^cwlua: sim: cwsim: state folder .* is in use by another simulator "
            .. "%(pid %d+%); wait for it to finish or pass another %-%-sim%-state folder\n$", err)
        else
          assert.are.equal("", err)
        end
      end
    end
    assert.is_true(busy > 0, "no pair overlapped")
  end)
end)
