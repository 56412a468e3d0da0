-- SPDX-License-Identifier: MIT
-- Programming through a noisy line (contract.md §3.11): a random 12 000-byte image at 0x08000000
-- into the simulated STM32F1, over --sim-seed 1..20 with a fresh state folder each, under the
-- simulator's line faults (contract.md §5.7). A run counts as a success when it exits 0 and a
-- fault-free verify then passes. Whatever happens, a run never exits 0 with a wrong flash, and
-- never exits 5 (or 2) when the flash is right: those are lies, not failures. Prints the counts.
local cli = require "support.cli"
local json = require "dkjson" -- Debian's lua-dkjson: a decoder we did not write

local SEEDS = 20
local GOALS = { -- fault, successes required out of SEEDS
  { "bit-flips=1e-5", 19 }, { "bit-flips=1e-4", 16 },
  { "drop-bytes=1e-5", 19 }, { "drop-bytes=1e-4", 16 },
}

describe("program over a noisy line", function()
  local dir, img

  setup(function()
    dir = cli.tmpdir()
    math.randomseed(12000)
    local t = {}
    for i = 1, 12000 do t[i] = string.char(math.random(0, 255)) end
    img = cli.write(dir .. "/img.bin", table.concat(t))
  end)
  teardown(cli.cleanup)

  for _, goal in ipairs(GOALS) do
    local fault, need = goal[1], goal[2]
    it(("%s: at least %d of %d seeds program, and no run lies"):format(fault, need, SEEDS),
      function()
        local ok, retries, exits = 0, 0, {}
        for seed = 1, SEEDS do
          local state = ("%s/%s-%d"):format(dir, fault, seed)
          local r = cli.run({ "-d", "sim", "--sim-state", state, "--sim-seed", tostring(seed),
            "--sim-fault", fault, "--json", "-q", "program", "stm32f1", img })
          local o = json.decode(r.stdout) or {}
          retries = retries + (o.retries or 0)
          local v = cli.run({ "-d", "sim", "--sim-state", state, "-q", "verify", "stm32f1", img })
          local right = v.status == 0
          assert.is_true(r.status ~= 0 or right,
            ("seed %d exited 0 but the flash differs: %s"):format(seed, v.stderr))
          assert.is_true(right or v.status == 5, v.stderr)
          assert.is_false(right and (r.status == 5 or r.status == 2),
            ("seed %d exited %d but the flash is right: %s"):format(seed, r.status, r.stderr))
          if r.status == 0 then ok = ok + 1 end
          exits[#exits + 1] = r.status
        end
        io.stderr:write(("\n%s: %d of %d programmed, %d retries in all (exits %s)\n"):format(fault,
          ok, SEEDS, retries, table.concat(exits, " ")))
        assert.is_true(ok >= need, ("%s: %d of %d succeeded"):format(fault, ok, SEEDS))
      end)
  end
end)
