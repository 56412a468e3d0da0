-- SPDX-License-Identifier: MIT
-- tests/simattach/engine_time.lua: `cwlua sim attach` holds the answer to an engine command for
-- the time the board's engine spends on it (PDI bytes, the chip's erase and write times), in
-- real time, as the in-process simulator charges that time to its clock (docs/simulator-attach.md
-- "Time"). It is measured as a difference, which a busy machine cannot make up: --sim-fault
-- slow-erase=20 makes each XMEGA page erase take 80 ms instead of 4 (contract.md §5), and
-- --set app_erase=pages has the image's 64 pages erased one by one (the default's one section
-- erase would make the difference about 0.1 s, which real-time noise swamps). The
-- in-process simulator gives the modeled difference for a 16 KiB image (about 4.9 s); through
-- attach the same two programs must differ by at least 0.85 times that, and by no more than
-- twice that. Load on the machine slows both runs by about the same amount (the slow one spends
-- its extra time waiting, not computing); the quicker of two plain runs is the baseline, so one
-- run that was held up cannot shrink the difference.
--
--   cwlua run tests/simattach/engine_time.lua WORKDIR
--
-- Environment (tests/simattach/CMakeLists.txt sets it): CWLUA_BIN, the cwlua under test. The
-- last line is "engine_time: N passed, N failed"; the exit status 0 when all pass.
local work = assert(arg[1], "usage: cwlua run engine_time.lua WORKDIR")
local BIN = assert(os.getenv("CWLUA_BIN"), "CWLUA_BIN not set")
local HANG_S = 120     -- a run that takes this long has hung
local FAULT = "slow-erase=20"
local LOW, HIGH = 0.85, 2.0 -- the attach difference against the modeled one

local passed, failed = 0, 0

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function check(name, cond, detail)
  if cond then
    passed = passed + 1
    print("ok   " .. name)
  else
    failed = failed + 1
    print("FAIL " .. name .. (detail and (": " .. detail) or ""))
  end
  io.stdout:flush()
end

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null", "r"))
  local out = p:read("a")
  local ok, how, code = p:close()
  return out, ok and 0 or (how == "exit" and code or 128 + code)
end

local runs = 0
-- One `program` of the image: in process (-d sim) or through attach (-d usb); its "seconds",
-- from the erase to the start of the application (contract.md §3.7).
local function program(through_attach, fault)
  runs = runs + 1
  local dir = ("%s/r%02d"):format(work, runs)
  sh("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir))
  local faults = fault and ("--sim-fault " .. q(fault) .. " ") or ""
  local prog = ("%s --json %%s program xmega %s --set app_erase=pages"):format(q(BIN),
    q(work .. "/fw.bin"))
  local cmd
  if through_attach then
    cmd = ("%s sim attach --sim-state %s %scwlite:atxmega128d4 -- %s"):format(q(BIN),
      q(dir .. "/state"), faults, prog:format("-d usb"))
  else
    cmd = prog:format("-d sim --sim-state " .. q(dir .. "/state") .. " " .. faults)
  end
  local out, status = sh(("cd %s && env XDG_STATE_HOME=%s CWLUA_DEVICE= timeout %d %s"):format(
    q(dir), q(dir .. "/xdg"), HANG_S, cmd))
  local s = tonumber(out:match('"seconds":([%d.e+-]+)'))
  local what = (through_attach and "attach" or "in process") .. (fault and (", " .. fault) or "")
  check(("%s: exit 0, verified"):format(what), status == 0 and out:find('"verify":"ok"', 1,
    true) ~= nil and s ~= nil, ("exit %d, %q"):format(status, out))
  print(("     %s: %.3f s"):format(what, s or -1))
  return s or 0
end

sh("rm -rf " .. q(work) .. " && mkdir -p " .. q(work))
do
  local f = assert(io.open(work .. "/fw.bin", "wb"))
  math.randomseed(21)
  local t = {}
  for i = 1, 16384 do t[i] = string.char(math.random(0, 255)) end
  f:write(table.concat(t))
  f:close()
end

local model = program(false, FAULT) - program(false, nil)
check("the fault costs time in process", model > 1, ("%.3f s"):format(model))
local base = math.min(program(true, nil), program(true, nil))
local diff = program(true, FAULT) - base
print(("     modeled difference %.3f s, through attach %.3f s (%.2f x)"):format(model, diff,
  diff / model))
check(("through attach the fault costs at least %.2f x the modeled time"):format(LOW),
  diff >= LOW * model, ("%.3f s against %.3f s"):format(diff, model))
check(("and at most %.1f x"):format(HIGH), diff <= HIGH * model,
  ("%.3f s against %.3f s"):format(diff, model))

print(("engine_time: %d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
