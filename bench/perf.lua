-- SPDX-License-Identifier: MIT
-- bench/perf.lua: programming speed on the simulator, against the bound and against NewAE's
-- library (bench/README.md, "perf.lua").
--
-- Part 1 (modeled time: exact, the same on any machine): `cwlua --json -d sim program` of
-- STM32F1 images of 4, 16, 64 and 128 KiB into an STM32F100xB, 64 KiB into the XMEGA recipe's
-- ATxmega128D4 and 16 KiB into the AVR recipe's ATmega328P, behind a simulated CW-Lite, at
-- 0.5 and 1.0 ms per control transfer (--sim-usb-latency). Each row: the modeled `seconds`,
-- the bound, their ratio, USB transfers per 256 bytes (sim.usb.ctrl_in + ctrl_out + bulk),
-- the goal, and the figures measured for NewAE's Python library under the same model.
--   STM32 bound: the AN3155 bytes of 256-byte Write and Read Memory blocks at the board's real
--   115107.9 baud, 11 bits each, 52.5 µs per half-word, 20 ms per page the image touches, and
--   2 control-transfer latencies for each of the 6 acknowledgement turnarounds of a block.
--   XMEGA and AVR: no bound is derived; the goals stand in its place (5.0 s, 2 900 transfers;
--   2.22 s, 982 transfers).
-- Part 2 (wall time: varies with the machine's load): `cwlua sim adapter`, a simulated FT232R
-- whose wire leads to a simulated STM32F100xB in real time, programs and verifies 16 and
-- 64 KiB with cwlua (-d serial) and with Debian's stm32flash, alternately, RUNS times each;
-- the medians, less the adapter's own start-up, and their ratio (goal at most 1.00).
--
-- Run from the repository root after a build:
--   build/bin/cwlua run bench/perf.lua [--runs N] [--no-serial] [--cwlua PATH]
local time = require "cwlua.time"
local usart_baud = require("cwlua.board").usart_baud

local RUNS, SERIAL, BIN = 3, true, "build/bin/cwlua"
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--runs" then
      RUNS, i = assert(math.tointeger(tonumber(arg[i + 1])), "--runs N"), i + 1
    elseif a == "--no-serial" then
      SERIAL = false
    elseif a == "--cwlua" then
      BIN, i = assert(arg[i + 1], "--cwlua PATH"), i + 1
    else
      error("usage: cwlua run bench/perf.lua [--runs N] [--no-serial] [--cwlua PATH]", 0)
    end
    i = i + 1
  end
end

local BYTE_NS = 11 * 1e9 / usart_baud(115200, 96e6) -- 8E1 at what the CW-Lite really makes
local HALFWORD_NS, PAGE_ERASE_NS, PAGE = 52500, 20e6, 1024 -- STM32F100xB, §A.7b typical
local LATENCIES = { 0.5, 1.0 }

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, status = p:close()
  return out, ok and 0 or status
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. quote(dir)))

-- the same pseudo-random bytes for every tool and size
local function image(kib)
  local path = ("%s/img%d.bin"):format(dir, kib)
  local t = {}
  for i = 1, kib * 1024 do t[i] = string.char((i * 31 + 7) % 251) end
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(t))
  f:close()
  return path
end

-- the AN3155 bound of a kib-KiB program + verify at lat_ms per control transfer (bench/README.md)
local function stm32_bound(kib, lat_ms)
  local blocks, pages = kib * 4, -(-kib * 1024 // PAGE)
  local per_block = (265 + 3 + 9 + 3 + 256) * BYTE_NS + 128 * HALFWORD_NS + 6 * 2 * lat_ms * 1e6
  return (blocks * per_block + pages * PAGE_ERASE_NS) / 1e9
end

-- cwlua --json program on the simulator -> seconds, USB transfers, or raise
local function program(recipe, part, kib, lat)
  local cmd = ("%s --json -q -d sim --sim-target %s --sim-usb-latency %g --sim-state %s "
    .. "program %s %s"):format(quote(BIN), part, lat, quote(dir .. "/state-" .. part), recipe,
    quote(image(kib)))
  local out, status = run(cmd)
  local seconds = tonumber(out:match('"seconds":([-%d.e+]+)'))
  if status ~= 0 or not seconds then error(("%s\nexit %s: %s"):format(cmd, status, out), 0) end
  local n = 0
  for _, k in ipairs({ "ctrl_in", "ctrl_out", "bulk" }) do
    n = n + assert(tonumber(out:match('"' .. k .. '":(%d+)')), k)
  end
  return seconds, n
end

-- What NewAE's library (chipwhisperer 5.7, unmodified) measured on the same model at 0.5 ms
-- (bench/README.md, "The AN3155 bound, and what NewAE's library costs"): seconds and USB
-- transfers per 256 bytes. XMEGA: 3 147 transfers in about the time cwlua took before (6.6 s);
-- AVR: 982 transfers in about twice cwlua's 2.22 s of before: those times are rough.
local NEWAE = {
  ["stm32f1 4"] = { 4.21, 183 }, ["stm32f1 16"] = { 10.25, 173 }, ["stm32f1 64"] = { 34.41, 171 },
  ["xmega 64"] = { 6.6, 12.3 }, ["avr 16"] = { 4.4, 15.3 },
}

local rows = {
  { "STM32F1", "stm32f1", "stm32f100xb", 4 }, { "STM32F1", "stm32f1", "stm32f100xb", 16 },
  { "STM32F1", "stm32f1", "stm32f100xb", 64, ratio = { [0.5] = 1.10, [1.0] = 1.20 }, per = 37 },
  { "STM32F1", "stm32f1", "stm32f100xb", 128 },
  { "XMEGA", "xmega", "atxmega128d4", 64, bound = 5.0, total = 2900 },
  { "AVR", "avr", "atmega328p", 16, bound = 2.22, total = 982 },
}

io.write("Modeled (simulated CW-Lite; ratio = modeled / bound; USB = transfers per 256 B)\n\n")
io.write(("%-8s %7s %6s %9s %8s %6s %6s %6s  %-30s %7s %6s %6s\n"):format("target", "image",
  "lat", "modeled", "bound", "ratio", "USB", "total", "goal", "NewAE", "ratio", "USB"))
for _, lat in ipairs(LATENCIES) do
  for _, r in ipairs(rows) do
    local name, recipe, part, kib = r[1], r[2], r[3], r[4]
    local seconds, n = program(recipe, part, kib, lat)
    local per = n / (kib * 4)
    local bound, goal, met = nil, {}, true
    if recipe == "stm32f1" then
      bound = stm32_bound(kib, lat)
      if r.ratio then
        goal[#goal + 1] = ("<=%.2fx"):format(r.ratio[lat])
        met = met and seconds / bound <= r.ratio[lat]
        if lat == 0.5 then
          goal[#goal + 1] = ("<=%d USB"):format(r.per)
          met = met and per <= r.per
        end
      end
    elseif lat == 0.5 then -- the goals are set at the default latency
      bound = r.bound
      goal[#goal + 1] = ("<=%g s, <=%d total"):format(r.bound, r.total)
      met = seconds <= r.bound and n <= r.total
    end
    local newae = lat == 0.5 and NEWAE[recipe .. " " .. kib]
    -- NewAE's time against the same bound (for XMEGA and AVR there is none, only goals)
    local newae_ratio = newae and recipe == "stm32f1" and ("%.2f"):format(newae[1] / bound)
    io.write(("%-8s %3d KiB %4.1fms %8.3fs %8s %6s %6.1f %6d  %-30s %7s %6s %6s\n"):format(name,
      kib, lat, seconds, bound and ("%.3fs"):format(bound) or "-",
      bound and ("%.3f"):format(seconds / bound) or "-", per, n,
      #goal > 0 and (table.concat(goal, ", ") .. (met and " ok" or " MISSED")) or "",
      newae and ("%s%gs"):format(recipe == "stm32f1" and "" or "~", newae[1]) or "-",
      newae_ratio or "-", newae and ("%g"):format(newae[2]) or "-"))
    io.flush()
  end
end

if SERIAL then
  io.write(("\nSerial adapter (cwlua sim adapter, real time; median of %d runs, less the "
    .. "adapter's start-up)\n\n"):format(RUNS))
  local have = run("command -v stm32flash") ~= ""
  if not have then
    io.write("stm32flash is not installed (Debian package stm32flash): skipped\n")
  else
    local state = quote(dir .. "/adapter")
    local adapter = quote(BIN) .. " sim adapter stm32f1 --sim-state " .. state .. " -- "
    -- docs/install.md's wiring: DTR# to nRST, RTS# to BOOT0. stm32flash sends 0x7F the moment
    -- its sequence ends, so it needs the trailing ',' (100 ms) there; cwlua waits 2 ms itself.
    local seq, seq_flash = "-rts&dtr,-dtr:rts&dtr,-dtr", "-rts&dtr,-dtr,:rts&dtr,-dtr"
    local function timed(cmd)
      local t0 = time.now_ns()
      local out, status = run(cmd)
      if status ~= 0 then error(("%s\nexit %s: %s"):format(cmd, status, out), 0) end
      return (time.now_ns() - t0) / 1e9
    end
    local function median(t)
      table.sort(t)
      return t[(#t + 1) // 2]
    end
    local base = {}
    for i = 1, RUNS do base[i] = timed(adapter .. "true") end
    local b = median(base)
    io.write(("%-8s %12s %12s %7s  %s\n"):format("image", "cwlua", "stm32flash", "ratio", "goal"))
    for _, kib in ipairs({ 16, 64 }) do
      local img = quote(image(kib))
      local cw, sf = {}, {}
      for i = 1, RUNS do
        cw[i] = timed(adapter .. quote(BIN) .. " -d serial:/dev/ttyUSB0 --gpio-seq "
          .. quote(seq) .. " -q program stm32f1 " .. img) - b
        sf[i] = timed(adapter .. "stm32flash -b 115200 -i " .. quote(seq_flash) .. " -w " .. img
          .. " -v /dev/ttyUSB0") - b
      end
      local c, s = median(cw), median(sf)
      io.write(("%3d KiB %12.3fs %11.3fs %7.3f  <=1.00 %s\n"):format(kib, c, s, c / s,
        c / s <= 1.0 and "ok" or "MISSED"))
      io.flush()
    end
    io.write(("(adapter start-up: %.3f s, subtracted)\n"):format(b))
  end
end

os.execute("rm -rf " .. quote(dir))
