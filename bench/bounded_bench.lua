-- SPDX-License-Identifier: MIT
-- bench/bounded_bench.lua: how long cwlua takes to refuse hostile image files, and how much
-- memory it uses doing so (contract.md §3.3, docs/images.md "Limits").
--
-- Writes each file into a scratch folder, runs `cwlua -d sim program stm32f1 FILE` on it
-- several times under a 1.5 GB address-space limit (ulimit -v 1500000) and prints the exit
-- status, the best and median wall time and, when /usr/bin/time is installed (Debian's `time`
-- package), the largest resident set size. Run from the repository root after a build:
--
--   build/bin/cwlua run bench/bounded_bench.lua [RUNS] [CWLUA]
local time = require "cwlua.time"

local RUNS = tonumber(arg[1]) or 5
local BIN = arg[2] or "build/bin/cwlua"
local AS_LIMIT_KB = 1500000
local MIB = 1024 * 1024
local GNU_TIME = "/usr/bin/time"

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

-- covering(n, file_size, step) -> an ELF32 file whose n PT_LOAD headers each load the whole file
local function covering(n, file_size, step)
  local header = "\x7fELF\1\1\1" .. ("\0"):rep(9) .. string.pack("<I2I2I4I4I4I4I4I2I2I2I2I2I2",
    2, 40, 1, 0x08000000, 52, 0, 0, 52, 32, n, 40, 0, 0)
  local phdrs = {}
  for i = 0, n - 1 do
    local addr = 0x08000000 + i * step
    phdrs[#phdrs + 1] = string.pack("<I4I4I4I4I4I4I4I4", 1, 0, addr, addr, file_size, file_size,
      5, 4)
  end
  local head = header .. table.concat(phdrs)
  return head .. ("\0"):rep(file_size - #head)
end

-- record(rtype, addr16, data) -> an Intel HEX record line
local function record(rtype, addr16, data)
  local bytes = string.char(#data, addr16 >> 8, addr16 & 0xFF, rtype) .. data
  local sum = 0
  for i = 1, #bytes do sum = sum + bytes:byte(i) end
  bytes = bytes .. string.char(-sum & 0xFF)
  return ":" .. bytes:gsub(".", function(c) return ("%02X"):format(c:byte()) end)
end

-- one_byte_records(size) -> about size bytes of Intel HEX with one data byte per record
local function one_byte_records(size)
  local lines, n, addr = {}, 0, 0x08000000
  while n < size do
    if addr & 0xFFFF == 0 then
      lines[#lines + 1] = record(4, 0, string.pack(">I2", addr >> 16))
    end
    local line = record(0, addr & 0xFFFF, "\xA5")
    lines[#lines + 1] = line
    n, addr = n + #line + 1, addr + 1
  end
  lines[#lines + 1] = ":00000001FF"
  return table.concat(lines, "\n") .. "\n"
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. quote(dir)))
local has_time = io.open(GNU_TIME, "rb")
if has_time then has_time:close() end

local CASES = {
  { "ELF, 524 KiB, 16 000 PT_LOAD headers over the whole file, one address",
    function() return write(dir .. "/overlap.elf", covering(16000, 524 * 1024, 0)) end },
  { "ELF, 524 KiB, 7000 PT_LOAD headers over the whole file, disjoint (3.5 GiB claimed)",
    function() return write(dir .. "/disjoint.elf", covering(7000, 524 * 1024, 524 * 1024)) end },
  { "/dev/zero", function() return "/dev/zero" end },
  { "Intel HEX, 64 MiB of empty lines",
    function()
      return write(dir .. "/blank.hex", ("\n"):rep(64 * MIB - 12) .. ":00000001FF\n")
    end },
  { "Intel HEX, 64 MiB of data records without data",
    function()
      local rec = ":0000000000\n"
      return write(dir .. "/empty-records.hex",
        rec:rep((64 * MIB - 12) // #rec) .. ":00000001FF\n")
    end },
  { "Intel HEX, 60 MiB of 1-byte records (over the cap at 2.1 MiB of data)",
    function() return write(dir .. "/one-byte.hex", one_byte_records(60 * MIB)) end },
}

io.stdout:write(("cwlua -d sim program stm32f1 FILE, ulimit -v %d, %d runs\n\n"):format(AS_LIMIT_KB,
  RUNS))
for _, case in ipairs(CASES) do
  local file = case[2]()
  local times, rss, status, message = {}, 0, nil, nil
  for run = 1, RUNS do
    local out = dir .. "/out"
    local prog = ("env XDG_STATE_HOME=%s %s -d sim program stm32f1 %s"):format(
      quote(dir .. "/state"), quote(BIN), quote(file))
    local cmd = "exec " .. prog
    if has_time then
      cmd = ("exec %s -f 'rss %%M' -o %s %s"):format(GNU_TIME, quote(out .. ".time"), prog)
    end
    local t0 = time.now_ns()
    local _, _, code = os.execute(("sh -c %s 2>%s </dev/null"):format(
      quote(("ulimit -v %d; %s"):format(AS_LIMIT_KB, cmd)), quote(out)))
    times[run] = (time.now_ns() - t0) / 1e9
    status = code
    local f = io.open(out, "rb")
    message = f and f:read("l")
    if f then f:close() end
    local tf = has_time and io.open(out .. ".time", "rb")
    if tf then
      local kb = tonumber((tf:read("a") or ""):match("rss (%d+)"))
      tf:close()
      if kb and kb > rss then rss = kb end
    end
  end
  table.sort(times)
  io.stdout:write(("%s\n  exit %d, best %.3f s, median %.3f s%s\n  %s\n\n"):format(case[1],
    status, times[1], times[(#times + 1) // 2],
    has_time and (", max RSS %.0f MiB"):format(rss / 1024) or "", message or ""))
end
os.execute("rm -rf " .. quote(dir))
