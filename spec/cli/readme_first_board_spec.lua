-- SPDX-License-Identifier: MIT
-- The README's way to a first real board and its simulator section, checked against what cwlua
-- does: the steps are there, and the claims about Python and the boards are true. The outputs
-- it shows (a freshly powered CW-Lite, simulated through `cwlua sim attach`) are run and
-- compared by doc_examples_spec.lua, as every example of the documentation is.
local cli = require "support.cli"
local slurp = cli.slurp

local README = slurp("README.md")

-- The text of the README section under heading (up to the next "## ").
local function section(heading)
  local s = README:match("\n## " .. heading:gsub("%p", "%%%0") .. "\n(.-)\n## ")
  assert.is_truthy(s, "README has no section '" .. heading .. "'")
  return s
end

describe("README", function()
  after_each(cli.cleanup)

  it("claims no Python-free use where a bitstream needs NewAE's Python package", function()
    assert.is_nil(README:find("no Python or Jupyter needed", 1, true))
    assert.matches("Python only as the place NewAE ships the FPGA bitstream", README, 1, true)
  end)

  it("'Your first real board' covers the udev rule, list, the bitstream and doctor", function()
    local s = section("Your first real board")
    for _, want in ipairs({ "60-cwlua.rules", "udevadm", "usermod -aG plugdev,dialout",
                            "$ cwlua list", "--bitstream FILE", "$CWLUA_BITSTREAM",
                            "pip install chipwhisperer", "$ cwlua doctor stm32f1" }) do
      assert.is_truthy(s:find(want, 1, true), want)
    end
  end)

  it("tells the Husky's status as it is: programs the F1 and AVR on its PLL's clock", function()
    local row = README:match("\n| CW%-Husky |([^\n]*)")
    assert.is_truthy(row)
    assert.matches("CDCI6214 PLL (7.37e6 → 7370130 Hz", row, 1, true)
    local r = cli.run({ "-d", "sim:husky", "clock", "7.37e6" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^7370130 Hz", r.stdout)
    r = cli.run({ "-d", "sim:husky", "--sim-state", cli.tmpdir(), "-q", "program", "stm32f1",
                  "examples/stm32f1-hello/hello.hex" })
    assert.are.equal(0, r.status, r.stderr)
  end)

  it("names the simulator's state folder and --sim-state", function()
    local s = section("The simulator")
    assert.matches("$XDG_STATE_HOME/cwlua/sim", s, 1, true)
    assert.matches("~/.local/state/cwlua/sim", s, 1, true)
    assert.matches("--sim-state DIR", s, 1, true)
  end)
end)
