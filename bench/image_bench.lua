-- SPDX-License-Identifier: MIT
-- bench/image_bench.lua: how fast cwlua.image reads a large Intel HEX file.
--
-- Builds, in memory, an Intel HEX image of 1 MiB of data at 0x08000000 (16-byte data records, as
-- objcopy and arm-none-eabi-gcc write them, with an extended linear address record every
-- 64 KiB), parses it several times with image.parse and prints the best and median times and
-- the data rate. The issue asks for "well under a second" per MiB. Run from the repository root:
--
--   lua5.4 -e 'package.path="scripts/?.lua;scripts/?/init.lua;"..package.path' \
--     bench/image_bench.lua [MIB] [RUNS] [RECORD_BYTES]
local image = require("cwlua.image")

local DATA_MIB = tonumber(arg and arg[1]) or 1
local RUNS = tonumber(arg and arg[2]) or 5
local RECORD_BYTES = tonumber(arg and arg[3]) or 16   -- objcopy's default record size
local BASE = 0x08000000                               -- STM32 flash (target-protocols.md §A.6)
local SEGMENT = 0x10000                               -- one 04 record per 64 KiB (§D)

-- record(rtype, addr16, data) -> one ":LLAAAATT…CC" line
local function record(rtype, addr16, data)
  local bytes = string.char(#data, addr16 >> 8, addr16 & 0xFF, rtype) .. data
  local sum = 0
  for i = 1, #bytes do sum = sum + bytes:byte(i) end
  bytes = bytes .. string.char(-sum & 0xFF)
  return ":" .. bytes:gsub(".", function(c) return string.format("%02X", c:byte()) end)
end

-- make_hex(size) -> Intel HEX text holding size bytes of pseudo-random data at BASE
local function make_hex(size)
  local lines, seed = {}, 12345
  for offset = 0, size - 1, RECORD_BYTES do
    local addr = BASE + offset
    if offset == 0 or addr % SEGMENT == 0 then
      lines[#lines + 1] = record(0x04, 0, string.pack(">I2", addr >> 16))
    end
    local chunk = {}
    for i = 1, math.min(RECORD_BYTES, size - offset) do
      seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
      chunk[i] = string.char(seed >> 16 & 0xFF)
    end
    lines[#lines + 1] = record(0x00, addr & 0xFFFF, table.concat(chunk))
  end
  lines[#lines + 1] = record(0x01, 0, "")
  return table.concat(lines, "\n") .. "\n"
end

local size = math.floor(DATA_MIB * 1024 * 1024)
local text = make_hex(size)
local times = {}
local img
for run = 1, RUNS do
  collectgarbage()
  local t0 = os.clock()
  img = image.parse(text, "bench.hex")
  times[run] = os.clock() - t0
end
assert(img:size() == size and #img.ranges == 1, "bench: parsed image is not what was generated")
table.sort(times)
local best, median = times[1], times[(RUNS + 1) // 2]
print(string.format("image.parse: %.2f MiB of data in %d-byte records (%.2f MiB of text), "
  .. "%d runs: best %.3f s, median %.3f s, %.1f MiB/s (median)",
  size / 1048576, RECORD_BYTES, #text / 1048576, RUNS, best, median, size / 1048576 / median))
