-- SPDX-License-Identifier: MIT
-- Every board x every target family it can program, as a user runs them (contract.md §3):
-- program, then verify in a second run against the same simulated chip; doctor on each; and
-- what a board cannot do exits 3 naming the board and the reason. The CW-Lite, CW1200 and
-- Husky program STM32 (the F1 at NewAE's 8 MHz, which a Husky's PLL now makes), XMEGA (PDI
-- through the XPROG engine) and AVR (ISP through the V2 engine, clocked from HS2); the Nano
-- programs its own STM32F030 (CWNANO) and has neither engine.
local cli = require "support.cli"
local images = require "support.images"
-- Debian's lua-dkjson (a busted dependency): a JSON decoder we did not write
local json = require "dkjson"

local HELLO = "examples/stm32f1-hello/hello.hex"

describe("every board with every target family", function()
  local dir, results, jobs
  local cases = {}
  for _, board in ipairs({ "cwlite", "cw1200", "husky" }) do
    for _, family in ipairs({ "stm32f1", "xmega", "avr" }) do
      cases[#cases + 1] = { board = board, target = family }
    end
  end
  cases[#cases + 1] = { board = "nano", target = "CWNANO" }

  setup(function()
    dir = cli.tmpdir()
    local avr = cli.write(dir .. "/avr.hex", images.hex({ { 0, images.pattern(300, 7) } }))
    local xmega = cli.write(dir .. "/xmega.hex", images.hex({ { 0, images.pattern(300, 9) } }))
    local file = { stm32f1 = HELLO, CWNANO = HELLO, xmega = xmega, avr = avr }
    jobs = {}
    for i, c in ipairs(cases) do
      local env = { XDG_STATE_HOME = ("%s/state%d"):format(dir, i) }
      local d = "sim:" .. c.board
      jobs[#jobs + 1] = { args = { "-d", d, "-q", "program", c.target, file[c.target] },
        env = env, next = { args = { "-d", d, "--json", "verify", c.target, file[c.target] },
        env = env } }
      c.program = #jobs
      local denv = { XDG_STATE_HOME = ("%s/doctor%d"):format(dir, i) }
      jobs[#jobs + 1] = { args = { "-d", d, "--json", "doctor", c.target }, env = denv }
      c.doctor = #jobs
    end
    for _, t in ipairs({ "xmega", "avr" }) do -- the Nano has neither engine
      jobs[#jobs + 1] = { args = { "-d", "sim:nano", "program", t, file[t] },
        env = { XDG_STATE_HOME = ("%s/nano-%s"):format(dir, t) } }
      jobs[#jobs + 1] = { args = { "-d", "sim:nano", "--json", "doctor", t },
        env = { XDG_STATE_HOME = ("%s/nano-doctor-%s"):format(dir, t) } }
    end
    results = cli.run_all(jobs, { timeout_s = 120 })
  end)
  teardown(cli.cleanup)

  for _, c in ipairs(cases) do
    it(("%s: program %s, then verify"):format(c.board, c.target), function()
      local r = results[c.program]
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("", r.stdout) -- -q
      local v = r.next
      assert.are.equal(0, v.status, v.stderr)
      assert.are.equal("ok", json.decode(v.stdout).verify)
    end)

    it(("%s: doctor %s finds nothing wrong"):format(c.board, c.target), function()
      local r = results[c.doctor]
      assert.are.equal(0, r.status, r.stdout .. r.stderr)
      local o = json.decode(r.stdout)
      assert.are.equal("ok", o.cause, r.stdout)
    end)
  end

  it("husky: doctor's clock step shows what the PLL confirms (lock, the ADC count)", function()
    for _, c in ipairs(cases) do
      if c.board == "husky" and c.target ~= "xmega" then -- the XMEGA needs no clock
        local o = json.decode(results[c.doctor].stdout)
        local clock
        for _, s in ipairs(o.steps) do
          if s.name == "clock" then clock = s end
        end
        assert.is_not_nil(clock, c.target)
        assert.matches("on HS2 %(pll%); PLL locked, its ADC output counted at 29%.48 MHz by the "
          .. "FPGA as set; the board cannot see whether it reaches the target", clock.observed)
      end
    end
  end)

  it("nano: XMEGA and AVR exit 3 naming the board and the missing engine", function()
    local n = #cases * 2
    local px, dx, pa, da = results[n + 1], results[n + 2], results[n + 3], results[n + 4]
    assert.are.equal(3, px.status)
    assert.are.equal("cwlua: xmega: this board (CW-Nano) cannot program XMEGA: its firmware has "
      .. "no XPROG (PDI) engine; use a CW-Lite, CW1200 or CW-Husky\n", px.stderr)
    assert.are.equal(3, pa.status)
    assert.are.equal("cwlua: avr: this board (CW-Nano) cannot program AVR: its firmware has no "
      .. "V2/ISP engine; use a CW-Lite, CW1200 or CW-Husky\n", pa.stderr)
    for _, r in ipairs({ dx, da }) do
      assert.are.equal(3, r.status)
      assert.are.equal("no-engine", json.decode(r.stdout).cause)
    end
  end)
end)
