-- SPDX-License-Identifier: MIT
-- A USB failure at any transfer is exit 3 with one line naming it (contract.md §3.8): the
-- board failing while its state is saved or put back, mid-transfer, by timeout, stall or
-- unplugging is never "a bug" (1), bad input (2), a silent target (4) or a mismatch (5).
-- `program` with a small image on every recipe family, on the in-process simulator, with
-- unplug-after, usb-timeout-after and usb-stall-after (contract.md §5.7) at transfer N for
-- N = 0..40 (connecting, the snapshot, glitch check, bootloader or engine entry) and 200 (in
-- the middle of writing or verifying, or after the end for the shorter runs), each on a fresh
-- state folder; the runs go in parallel.
local cli = require "support.cli"
local images = require "support.images"

local FAULTS = {
  -- the fault, and what its one line must say
  { "unplug-after", "the board is gone" },
  { "usb-timeout-after", "timed out" },
  { "usb-stall-after", "stall" },
}
local RECIPES = { "stm32f1", "xmega", "avr" }

local function transfers()
  local list = {}
  for n = 0, 40 do list[#list + 1] = n end
  list[#list + 1] = 200
  return list
end

describe("USB failures", function()
  local dir, image

  setup(function()
    dir = cli.tmpdir()
    -- raw binary at the recipe's flash start: 600 bytes are three AN3155 blocks, several
    -- XPROG and V2 pages
    image = cli.write(dir .. "/fw.bin", images.pattern(600, 7))
  end)
  teardown(cli.cleanup)

  for _, recipe in ipairs(RECIPES) do
    it(("exit 0 or 3 with one USB line, never 1, 2, 4 or 5: program %s"):format(recipe),
      function()
        local jobs, what = {}, {}
        for _, f in ipairs(FAULTS) do
          for _, n in ipairs(transfers()) do
            local state = ("%s/%s-%s-%d"):format(dir, recipe, f[1], n)
            jobs[#jobs + 1] = { args = { "-d", "sim", "--sim-state", state, "--sim-fault",
              ("%s=%d"):format(f[1], n), "-q", "program", recipe, image },
              env = { XDG_STATE_HOME = state, XDG_CONFIG_HOME = dir .. "/config" } }
            what[#jobs] = { fault = ("%s=%d"):format(f[1], n), says = f[2] }
          end
        end
        local results = cli.run_all(jobs)
        local exits = {}
        for i, r in ipairs(results) do
          local label = ("program %s --sim-fault %s: "):format(recipe, what[i].fault)
          exits[r.status] = (exits[r.status] or 0) + 1
          if r.status == 0 then
            assert.are.equal("", r.stderr, label .. "a successful run prints nothing with -q")
          else
            assert.are.equal(3, r.status, label .. r.stderr)
            assert.matches("^cwlua: [^\n]+\n$", r.stderr, label .. "one line")
            assert.is_truthy(r.stderr:find(what[i].says, 1, true), label .. r.stderr)
          end
          assert.are.equal("", r.stdout, label .. "nothing on stdout")
        end
        -- the walk reaches the transfers that matter: failures early and, at 200 on the
        -- longest run, during the flash work
        assert.is_true((exits[3] or 0) >= 3 * 41, recipe .. ": too few failed runs")
      end)
  end
end)
