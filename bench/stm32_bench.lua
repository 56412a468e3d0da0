-- SPDX-License-Identifier: MIT
-- bench/stm32_bench.lua: STM32F1 program + verify speed on the simulated CW-Lite against the
-- AN3155 lower bound (bench/README.md, "The AN3155 bound"):
--   bound = wire time of every AN3155 byte at the board's real baud (11 bits a byte, 8E1)
--         + the simulator's erase and program time
--         + 2 control-transfer latencies per acknowledgement turnaround
-- Run: build/bin/cwlua run bench/stm32_bench.lua   (modeled time: the simulator's virtual clock)
local board = require "cwlua.board"
local time = require "cwlua.time"
local flash = require "cwlua.flash"
local stm32boot = require "cwlua.proto.stm32boot"

local LATENCY_MS = 0.5 -- the simulator's default control-transfer latency (contract.md §5)
local BAUD = board.usart_baud(115200, 96e6) -- 115107.9: what the CW-Lite really produces
local BYTE_NS = 11 * 1e9 / BAUD

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. p))
  return p
end

-- count acknowledgements the engine waits for
local acks = 0
local ack = stm32boot.Boot._ack
stm32boot.Boot._ack = function(self, ...)
  acks = acks + 1
  return ack(self, ...)
end

local function image_file(dir, kib)
  local t = {}
  for i = 1, kib * 1024 do t[i] = string.char((i * 31 + 7) % 251) end
  local path = dir .. "/img.bin"
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(t))
  f:close()
  return path
end

io.write(("%-6s %10s %10s %7s %12s %10s\n"):format("image", "modeled", "bound", "ratio",
  "USB/256 B", "entry"))
for _, kib in ipairs({ 4, 16, 64 }) do
  local dir = tmpdir()
  local file = image_file(dir, kib)
  local b <close> = assert(board.open("sim", { target = "stm32f100xb", state = dir }))
  -- entry: everything up to and including Get ID, measured on a separate connect
  local t0 = time.now_ns()
  local recipe = require("cwlua.targets").resolve("stm32f1")
  local ctx = { where = "bench", dev = b, opts = {}, defaults = recipe.defaults,
                log = function() end }
  recipe.connect(ctx)
  local entry_ms = (time.now_ns() - t0) / 1e6
  -- program + verify, from a fresh snapshot of the counters
  local c0 = b:sim_counters()
  acks = 0
  local s = flash.program("stm32f1", file, { board = b, quiet = true })
  local c1 = b:sim_counters()
  local modeled = (c1.now_ns - c0.now_ns) / 1e9
  local wire = ((c1.uart_to_target - c0.uart_to_target) + (c1.uart_to_board - c0.uart_to_board))
    * BYTE_NS
  local bound = (wire + (c1.flash_ns - c0.flash_ns) + acks * 2 * LATENCY_MS * 1e6) / 1e9
  local transfers = (c1.ctrl_in - c0.ctrl_in) + (c1.ctrl_out - c0.ctrl_out)
    + (c1.bulk_in - c0.bulk_in) + (c1.bulk_out - c0.bulk_out)
  assert(s.verify == "ok")
  io.write(("%-6s %9.3fs %9.3fs %7.3f %12.1f %8.1fms\n"):format(kib .. " KiB", modeled, bound,
    modeled / bound, transfers / (kib * 4), entry_ms))
  os.execute("rm -rf " .. dir)
end
