-- SPDX-License-Identifier: MIT
-- bench/bitstream_bench.lua: how long cwlua.bitstream takes to load a Husky-sized bitstream.
--
-- Makes a synthetic bitstream with tests/usb/mkbitstream.py (the size and sync-word offset of
-- the one NewAE ships for the board, content that compresses like a real one) in the three
-- forms load() accepts: the .bit, NewAE's firmware zip (deflated) and NewAE's Python module
-- (that zip as base64). Then it times bitstream.load on each several times with os.clock (CPU
-- time) and prints the best and median. Run from the repository root:
--
--   build/bin/cwlua run bench/bitstream_bench.lua [BOARD] [RUNS]     # BOARD: husky (default),
--                                                                    # cw1200 or cwlite
local bitstream = require("cwlua.bitstream")

local BOARD = arg and arg[1] or "husky"
local RUNS = tonumber(arg and arg[2]) or 7
local PYTHON = "/usr/bin/python3" -- Debian's, as the tests use it

local dir = os.tmpname()
os.remove(dir)
assert(os.execute(("mkdir -p %q && %s tests/usb/mkbitstream.py %s %q"):format(dir, PYTHON,
  BOARD, dir)), "bench: mkbitstream.py failed (run from the repository root)")
local want = bitstream.BOARDS[BOARD]
local forms = {
  { "the .bit", dir .. "/" .. BOARD .. ".bit" },
  { "the firmware zip", dir .. "/" .. want.zip },
  { "the Python module", dir .. "/" .. want.module },
}

local function size_of(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

local reference
for _, form in ipairs(forms) do
  local name, path = form[1], form[2]
  local times, bit = {}, nil
  for run = 1, RUNS do
    collectgarbage()
    local t0 = os.clock()
    bit = assert(bitstream.load(path, BOARD))
    times[run] = os.clock() - t0
  end
  reference = reference or bit
  assert(bit == reference, "bench: " .. name .. " gives another bitstream")
  table.sort(times)
  print(("bitstream.load(%s, %d bytes) -> %d bytes, %d runs: best %.1f ms, median %.1f ms"):format(
    name, size_of(path), #bit, RUNS, times[1] * 1e3, times[(RUNS + 1) // 2] * 1e3))
end
os.execute(("rm -rf %q"):format(dir))
