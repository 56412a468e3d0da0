-- SPDX-License-Identifier: MIT
-- docs/troubleshooting.md says what doctor really does: it does not stop at the first failed
-- target-side step, and a step marked ok never reads as a failure. (Its examples, like every
-- example of the documentation, are run and compared by doc_examples_spec.lua.)
local cli = require "support.cli"
local json = require "dkjson"

local SRC = os.getenv("CWLUA_SOURCE_DIR") or "."

local slurp = cli.slurp

describe("docs/troubleshooting.md", function()
  after_each(cli.cleanup)

  it("says that doctor goes on past a failed target-side step, as it does", function()
    local text = slurp(SRC .. "/docs/troubleshooting.md")
    assert.is_nil(text:find("stops at the first broken link", 1, true))
    assert.is_truthy(text:find("On the target side it does not stop at the first", 1, true))
    -- and it does: a failed sync is followed by the probes that tell its causes apart
    local r = cli.run({ "-d", "sim", "--sim-fault", "uart-rx-open", "--json", "doctor",
      "stm32f1" }, { XDG_STATE_HOME = cli.tmpdir() })
    local names = {}
    for _, s in ipairs(json.decode(r.stdout).steps) do names[#names + 1] = s.name end
    assert.are.same({ "bootloader sync", "swapped lines", "boot pin", "reset" },
      { table.unpack(names, #names - 3) })
  end)

  it("a step marked ok never reads 'no answer' or 'no reply', whatever the fault", function()
    local faults = { "no-power", "uart-rx-open", "uart-tx-open", "uart-swapped",
                     "boot0-stuck-low", "nrst-open", "bit-flips=0.02", "no-clock" }
    local jobs = {}
    for _, f in ipairs(faults) do
      for _, rig in ipairs({ "cw308", "cw506" }) do
        jobs[#jobs + 1] = { args = { "-d", "sim", "--sim-fault", f, "--rig", rig, "--json",
          "doctor", "stm32f1" }, env = { XDG_STATE_HOME = cli.tmpdir() } }
      end
    end
    for i, r in ipairs(cli.run_all(jobs)) do
      local o = json.decode(r.stdout)
      assert.is_table(o, r.stdout .. r.stderr)
      for _, s in ipairs(o.steps) do
        if s.status == "ok" then
          local label = jobs[i].args[4] .. ": " .. s.name .. ": " .. tostring(s.observed)
          assert.is_nil(tostring(s.observed):find("no answer", 1, true), label)
          assert.is_nil(tostring(s.observed):find("no reply", 1, true), label)
        end
      end
    end
  end)
end)
