-- SPDX-License-Identifier: MIT
-- bench/multi_bench.lua: six boards at once against one (bench/README.md, "multi_bench.lua").
-- Times, on the wall clock, the whole command a lab runs for a room of boards
--   cwlua sim attach cwlite:stm32f1@LAB-01 ... @LAB-06 -- cwlua -d 'usb:*' --json program \
--     stm32f1 examples/stm32f1-hello/hello.hex
-- against the same with one board (the same path: the helper, the mock bus, usb:*, a worker),
-- RUNS times each, alternating, a fresh state folder each run; prints best and median of
-- each and the ratio of the medians. Then the same for the in-process simulator
-- (-d sim:cwlite@LAB-01,...), where the simulator's work is all CPU; there one board is the
-- single-board command (-d sim:cwlite@LAB-01), with no worker.
-- Run: build/bin/cwlua run bench/multi_bench.lua [RUNS] [BOARDS] [FIRMWARE]
local device = require "cwlua.core.device"
local json = require "cwlua.json"

local RUNS = tonumber(arg[1]) or 9
local BOARDS = tonumber(arg[2]) or 6
local FIRMWARE = arg[3] or "examples/stm32f1-hello/hello.hex"
local BIN = assert(require("cwlua.core.runtime").exe_path())

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local scratch = os.tmpname()
os.remove(scratch)
assert(os.execute("mkdir -p " .. q(scratch)))

local function serials(n)
  local t = {}
  for i = 1, n do t[i] = ("LAB-%02d"):format(i) end
  return t
end

-- the shell command for n boards; kind: "attach" or "inproc"
local function command(kind, n, state)
  local s = serials(n)
  if kind == "attach" then
    local specs = {}
    for i, x in ipairs(s) do specs[i] = "cwlite:stm32f1@" .. x end
    return ("%s sim attach --sim-state %s %s -- %s -d 'usb:*' --json program stm32f1 %s")
      :format(q(BIN), q(state), table.concat(specs, " "), q(BIN), q(FIRMWARE))
  end
  local items = {}
  for i, x in ipairs(s) do items[i] = "sim:cwlite@" .. x end
  return ("%s -d %s --sim-state %s --json program stm32f1 %s"):format(q(BIN),
    table.concat(items, ","), q(state), q(FIRMWARE))
end

-- one run: seconds on the wall clock; checks that every board was programmed and verified
local run_no = 0
local function once(kind, n)
  run_no = run_no + 1
  local state = ("%s/state-%d"):format(scratch, run_no)
  local out = ("%s/out-%d"):format(scratch, run_no)
  local t0 = device.monotonic_ns()
  local ok = os.execute(command(kind, n, state) .. " >" .. q(out) .. " 2>&1")
  local s = (device.monotonic_ns() - t0) / 1e9
  local f = assert(io.open(out))
  local text = f:read("a")
  f:close()
  local o = ok and json.decode(text:match("[^\n]*\n?$"))
  -- one simulated board in process is the single-board command (a list needs two)
  local boards = o and (o.boards or { o })
  assert(o and o.cause == "ok" and #boards == n, kind .. " with " .. n .. ": " .. text)
  for _, b in ipairs(boards) do assert(b.verify == "ok", text) end
  os.execute("rm -rf " .. q(state) .. " " .. q(out))
  return s
end

local function stats(t)
  table.sort(t)
  return t[1], t[(#t + 1) // 2]
end

local function measure(kind, label, goal)
  local one, many = {}, {}
  once(kind, 1) -- warm the page cache: the first run of a fresh binary reads it from disk
  for _ = 1, RUNS do
    one[#one + 1] = once(kind, 1)
    many[#many + 1] = once(kind, BOARDS)
  end
  local b1, m1 = stats(one)
  local bn, mn = stats(many)
  print(("%s, %d runs each:"):format(label, RUNS))
  print(("  1 board    best %.3f s  median %.3f s"):format(b1, m1))
  print(("  %d boards   best %.3f s  median %.3f s"):format(BOARDS, bn, mn))
  print(("  ratio of the medians: %.2f (%s)"):format(mn / m1, goal))
end

measure("attach", ("cwlua sim attach ... -- cwlua -d 'usb:*' --json program stm32f1 %s")
  :format(FIRMWARE), "goal: at most 2.5")
measure("inproc", "in process, -d sim:cwlite@LAB-01,...",
  "no goal: the simulator's CPU is all the work, six boards share the cores")
os.execute("rm -rf " .. q(scratch))
