-- SPDX-License-Identifier: MIT
-- The fault matrix: every simulator fault (contract.md §5.7, the list the binary itself gives,
-- so a new fault is covered without a change here) × every built-in recipe × a few seeds.
-- Each cell is `program` of a small random image on `-d sim` with a fresh state folder, then a
-- fault-free `verify` of that image on the same folder, which says whether the flash is right.
-- Whatever the fault, the exit status tells the truth (contract.md §3.8):
--   - 0 ⇒ the verify passes; 5 ⇒ the verify fails (the flash really differs);
--   - the status is 0, 2, 3, 4 or 5: never 1 (an internal error), and 2 (bad input; the image
--     is good) only under a persistent fault, whose chip state refuses the run;
--   - nothing says "this is a bug" or prints a traceback; every run ends within TIMEOUT_S.
-- Persistent faults (read- and write-protection, kept in the state folder) also run with the
-- option that removes them. The verify then meets the protection too: a read-protected chip
-- cannot be verified (exit 2, cause read-protected), which is accepted only when `program`
-- claimed nothing about the flash (neither 0 nor 5).
--
-- Its own ctest test, `fault_matrix` (spec/CMakeLists.txt): .busted keeps it out of `specs`.
-- Under the sanitizer build (CWLUA_SANITIZED=1) a reduced matrix runs, and says so.
local cli = require "support.cli"
local json = require "dkjson" -- Debian's lua-dkjson: a decoder we did not write
local time = require "cwlua.time"

local SANITIZED = os.getenv("CWLUA_SANITIZED") == "1"
local TIMEOUT_S = 20
-- FAULT_MATRIX_SEEDS=N runs seeds 1..N (a longer search; random faults get two more)
local SEEDS = tonumber(os.getenv("FAULT_MATRIX_SEEDS") or "") or (SANITIZED and 1 or 3)
-- Random faults (a probability P: line noise) differ with every seed, so they get more.
local RANDOM_SEEDS = SEEDS + 2
-- The reduced matrix: one STM32 of each kind (pages, sectors, an L part), XMEGA and AVR.
local REDUCED = { stm32f1 = true, stm32f4 = true, stm32l0 = true, xmega = true, avr = true }

-- Values for each kind of fault argument (contract.md §5.7). N (a USB transfer count) is made
-- per recipe and image by n_values. A fault whose kind is not here runs with its default.
local VALUES = {
  [""] = { false }, -- a flag
  -- a line that retries absorb, ones that strain them (some runs fail), a hopeless one
  P = { "1e-4", "3e-4", "1e-3", "3e-3", "1e-2" },
  PCT = { "-50", "7" },
  F = { "10", "1000" }, -- the default, and erases that outlast most engines' timeouts
  VER = { "0.20.0", "0.30.0", "0.52.0" }, -- below cwlua's minimum, the minimum, a later one
  -- every sector, the image's first, the next three (which only the larger images reach, on
  -- parts with small sectors); XMEGA ignores the list
  SECTORS = { "all", "0", "1-3" },
}
-- The option that removes a persistent fault's protection (contract.md §3.1).
local REMOVED_BY = { ["read-protected"] = "--unprotect", ["write-protected"] = "--unprotect-write" }

-- USB transfer counts for the usb-*-after and unplug-after faults: early ones (opening the
-- board, the snapshot, entry), ones in the middle of the flash work, and the last ones (the end
-- of verify, putting the board back). T is the number of transfers a fault-free program of the
-- same recipe and image makes: the least N for which unplug-after=N still exits 0.
local N_EARLY = SANITIZED and { 2 } or { 0, 3, 12, 30 }
local N_LATE = SANITIZED and { "T/2", "T-1" } or { "T/3", "2T/3", "T-8", "T-1" }

local function n_values(t)
  local list = {}
  for _, n in ipairs(N_EARLY) do list[#list + 1] = { tostring(n), tostring(n) } end
  for _, what in ipairs(N_LATE) do
    local a, b = what:match("^(%d*)T/(%d)$")
    local n = a and t * (tonumber(a) or 1) // tonumber(b)
    list[#list + 1] = { tostring(n or t - tonumber(what:match("^T%-(%d+)$"))), what }
  end
  return list
end

local function command_line(args)
  local words = { "cwlua" }
  for _, a in ipairs(args) do
    words[#words + 1] = a:find("^[%w%-%./=,+_]+$") and a or cli.quote(a)
  end
  return table.concat(words, " ")
end

-- seed's image: random bytes, 200 to 4096 of them, the same for every recipe
local function image_bytes(seed)
  math.randomseed(seed)
  local t = {}
  for i = 1, math.random(200, 4096) do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

local function sorted_keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return list
end

describe("the fault matrix", function()
  local dir, config, recipes, rows, cells, violations, count, images

  -- every violation, with the command that shows it
  local function violation(run, what)
    violations[run.recipe] = violations[run.recipe] or {}
    table.insert(violations[run.recipe], ("%s: %s"):format(command_line(run.args), what))
    cells[run.row][run.recipe].bad = true
  end

  -- a run on its own state folder, which is deleted when the run (and its next) is done
  local function job(args, state, next_args)
    local env = { XDG_STATE_HOME = state, XDG_CONFIG_HOME = config }
    return { args = args, env = env, next = next_args and { args = next_args, env = env },
             remove = state }
  end

  local function sim_args(state, seed)
    return { "-d", "sim", "--sim-state", state, "--sim-seed", tostring(seed) }
  end

  local function append(t, more)
    for _, v in ipairs(more) do t[#t + 1] = v end
    return t
  end

  lazy_setup(function()
    local t0 = time.now()
    dir = cli.tmpdir()
    config = dir .. "/config"
    violations, cells, rows, count = {}, {}, {}, { program = 0, baseline = 0 }

    -- the faults and recipes, from the binary
    local r = cli.run({ "--json", "sim", "faults" }, { XDG_CONFIG_HOME = config })
    assert.are.equal(0, r.status, r.stderr)
    local faults = assert(json.decode(r.stdout)).faults
    r = cli.run({ "--json", "targets" }, { XDG_CONFIG_HOME = config })
    assert.are.equal(0, r.status, r.stderr)
    recipes = {}
    for _, t in ipairs(assert(json.decode(r.stdout)).targets) do
      local cmds = {}
      for _, c in ipairs(t.commands) do cmds[c] = true end
      if t.origin == "built-in" and cmds.program and cmds.verify
          and (REDUCED[t.name] or not SANITIZED) then
        recipes[#recipes + 1] = t.name
      end
    end
    table.sort(recipes)
    assert(#faults >= 20 and #recipes >= 5, ("only %d faults and %d built-in recipes listed (%s)")
      :format(#faults, #recipes, table.concat(recipes, " ")))

    images = {}
    for seed = 1, RANDOM_SEEDS do
      images[seed] = cli.write(("%s/img-%d.bin"):format(dir, seed), image_bytes(seed))
    end

    -- Fault-free first: every recipe programs each image (exit 0). Its --json counts the USB
    -- transfers U of the flash work (sim.usb); opening the board, connecting and putting the
    -- board back add a hundred or so, so U <= T < U + 256, and a bisection on unplug-after=N
    -- finds T (exit 0 exactly when N >= T), for all recipes and seeds at once, round by round.
    local keys, jobs, lo, hi = {}, {}, {}, {}
    for _, recipe in ipairs(recipes) do
      for seed = 1, SEEDS do
        local state = ("%s/base-%s-%d"):format(dir, recipe, seed)
        keys[#keys + 1] = { recipe = recipe, seed = seed, key = recipe .. seed }
        jobs[#jobs + 1] = job(append(sim_args(state, seed),
          { "--json", "-q", "program", recipe, images[seed] }), state)
      end
    end
    for i, res in ipairs(cli.run_all(jobs, { timeout_s = TIMEOUT_S })) do
      local o = json.decode(res.stdout) or {}
      assert(res.status == 0 and o.sim, ("fault-free %s exited %d: %s"):format(
        command_line(jobs[i].args), res.status, res.stderr))
      local k = keys[i].key
      local u = o.sim.usb.ctrl_in + o.sim.usb.ctrl_out + o.sim.usb.bulk
      lo[k], hi[k] = u - 1, u + 256
      keys[i].limit = hi[k]
      count.baseline = count.baseline + 1
    end
    repeat
      local open = {}
      jobs = {}
      for _, k in ipairs(keys) do
        if hi[k.key] - lo[k.key] > 1 then
          local state = ("%s/t%d"):format(dir, count.baseline + #jobs + 1)
          k.mid = (lo[k.key] + hi[k.key]) // 2
          open[#open + 1] = k
          jobs[#jobs + 1] = job(append(sim_args(state, k.seed), { "--sim-fault",
            "unplug-after=" .. k.mid, "-q", "program", k.recipe, images[k.seed] }), state)
        end
      end
      for i, res in ipairs(cli.run_all(jobs, { timeout_s = TIMEOUT_S })) do
        local k = open[i]
        if res.status == 0 then hi[k.key] = k.mid else lo[k.key] = k.mid end
      end
      count.baseline = count.baseline + #jobs
    until #jobs == 0
    for _, k in ipairs(keys) do
      assert(hi[k.key] < k.limit, ("%s: unplug-after=N fails for every N below %d"):format(
        k.recipe, k.limit))
    end

    -- The faulted runs.
    local runs = {}
    jobs = {}
    local function add(row, recipe, seed, fault_args, extra, persistent)
      local state = ("%s/s%d"):format(dir, #runs + 1)
      local args = sim_args(state, seed)
      append(args, fault_args)
      -- the three ways of talking (quiet, the default with progress, -v with every retry
      -- named and a traceback for an internal error), one per seed in turn
      append(args, ({ { "-q" }, {}, { "-v" } })[seed % 3 + 1])
      append(args, { "program", recipe, images[seed] })
      append(args, extra)
      runs[#runs + 1] = { row = row, recipe = recipe, seed = seed, args = args,
                          persistent = persistent }
      -- then a fault-free verify of the image on the state folder the run left
      jobs[#jobs + 1] = job(args, state, append(sim_args(state, seed),
        { "--json", "-q", "verify", recipe, images[seed] }))
      cells[row] = cells[row] or {}
      cells[row][recipe] = cells[row][recipe] or { exits = {} }
    end
    local function row_of(label)
      if not cells[label] then rows[#rows + 1] = label end
      return label
    end
    for _, f in ipairs(faults) do
      for _, recipe in ipairs(recipes) do
        for seed = 1, f.arg == "P" and RANDOM_SEEDS or SEEDS do
          local values = VALUES[f.arg]
          if f.arg == "N" then
            values = n_values(hi[recipe .. seed])
          elseif not values then
            assert(f.default, ("fault %s takes %s, for which the matrix has no values and it "
              .. "has no default: add values to VALUES"):format(f.name, f.arg))
            values = { false }
          end
          local extras = { {} }
          if f.persistent and REMOVED_BY[f.name] then extras[2] = { REMOVED_BY[f.name] } end
          for _, v in ipairs(values) do
            local spec, label = f.name, f.name
            if type(v) == "table" then -- N: its value, and the label of the row
              spec, label = f.name .. "=" .. v[1], f.name .. "=" .. v[2]
            elseif v then
              spec, label = f.name .. "=" .. v, f.name .. "=" .. v
            end
            for _, extra in ipairs(extras) do
              local row = row_of(extra[1] and (label .. " " .. extra[1]) or label)
              add(row, recipe, seed, { "--sim-fault", spec }, extra, f.persistent)
            end
          end
        end
      end
    end
    local results = cli.run_all(jobs, { timeout_s = TIMEOUT_S })
    count.program = #runs

    for i, run in ipairs(runs) do
      local r1, v = results[i], results[i].next
      local st = r1.status
      local cell = cells[run.row][run.recipe]
      cell.exits[st] = true
      if st == 124 or st == 137 then
        violation(run, ("did not end within %d s"):format(TIMEOUT_S))
      elseif st == 2 and not run.persistent then
        violation(run, "exit 2 (bad input), though the image is good and the fault leaves no "
          .. "chip state that refuses it: " .. r1.stderr)
      elseif not (st == 0 or st == 2 or st == 3 or st == 4 or st == 5) then
        violation(run, ("exit %d%s: %s"):format(st, st == 1 and " (an internal error)" or "",
          r1.stderr))
      end
      for _, out in ipairs({ r1.stderr, v.stderr }) do
        if out:find("this is a bug", 1, true) or out:find("traceback", 1, true) then
          violation(run, "an internal error: " .. out)
        end
      end
      if st ~= 0 and not (r1.stderr:find("^cwlua: ") or r1.stderr:find("\ncwlua: ")) then
        violation(run, ("exit %d without a cwlua: message: %s"):format(st, r1.stderr))
      end
      local vo = json.decode(v.stdout) or {}
      local verify_says
      if v.status == 0 then
        verify_says = "right"
      elseif v.status == 5 then
        verify_says = "different"
      elseif v.status == 2 and run.persistent and vo.cause == "read-protected" then
        verify_says = "unreadable (read-protected)"
      else
        violation(run, ("the fault-free verify exited %d: %s"):format(v.status, v.stderr))
      end
      if st == 0 and verify_says ~= "right" then
        violation(run, "exit 0, but after it a fault-free verify finds the flash "
          .. tostring(verify_says) .. ": " .. v.stderr)
      elseif st == 5 and verify_says ~= "different" then
        violation(run, "exit 5 (mismatch), but after it a fault-free verify finds the flash "
          .. tostring(verify_says) .. ": " .. r1.stderr)
      end
    end

    -- The table: for each fault (and value) and recipe, the exit statuses seen over the seeds;
    -- "!" marks a cell with a violation.
    local out = { "", ("fault matrix%s: %d rows (each fault with its values) × %d recipes × %d "
      .. "seed%s (%d for random faults) = %d program runs, each followed by a fault-free verify; "
      .. "%d runs first to find T; %.1f s"):format(SANITIZED and " (reduced for the sanitizer "
      .. "build: five recipes, one seed, fewer transfer counts)" or "", #rows, #recipes, SEEDS,
      SEEDS == 1 and "" or "s", RANDOM_SEEDS, count.program, count.baseline, time.now() - t0),
      "exit statuses seen over the seeds; ! = a violation (listed below the failing check); T = "
      .. "the USB transfers of a fault-free program of the same recipe and image" }
    local width = 0
    for _, row in ipairs(rows) do width = math.max(width, #row) end
    local head = { ("%-" .. width .. "s"):format("") }
    for _, recipe in ipairs(recipes) do head[#head + 1] = ("%-8s"):format(recipe) end
    out[#out + 1] = table.concat(head, " ")
    for _, row in ipairs(rows) do
      local line = { ("%-" .. width .. "s"):format(row) }
      for _, recipe in ipairs(recipes) do
        local cell = cells[row][recipe]
        local seen = {}
        for _, st in ipairs(sorted_keys(cell.exits)) do seen[#seen + 1] = tostring(st) end
        line[#line + 1] = ("%-8s"):format(table.concat(seen, "/") .. (cell.bad and "!" or ""))
      end
      out[#out + 1] = table.concat(line, " ")
    end
    io.stdout:write(table.concat(out, "\n"), "\n")
    io.stdout:flush()
  end)
  lazy_teardown(cli.cleanup)

  -- One check per recipe, so a failure names it; each lists every violation it saw.
  for _, name in ipairs({ "stm32f1", "stm32f4", "stm32l0", "xmega", "avr" }) do
    it("holds its invariants on " .. name .. " (and is there)", function()
      local found = false
      for _, r in ipairs(recipes) do found = found or r == name end
      assert.is_true(found, name .. " is not among the recipes")
      assert.are.same({}, violations[name] or {})
    end)
  end
  it("holds its invariants on every other recipe", function()
    local rest = {}
    for _, r in ipairs(recipes) do
      if not REDUCED[r] then append(rest, violations[r] or {}) end
    end
    assert.are.same({}, rest)
  end)
end)
