-- SPDX-License-Identifier: MIT
-- bench/capture_bench.lua: `cwlua capture` on the simulated boards against the serial line's
-- bound (bench/README.md, "The capture bench"). Per board and SimpleSerial version it runs the
-- capture loop of the command (cwlua.capture) for TRACES traces of SAMPLES samples and prints
-- the modeled traces/s (the simulator's virtual clock, as `capture --json` reports `rate`),
-- the wire bound, USB control and bulk transfers per trace, and the transfers of the set-up
-- before the first trace. Goals: >= 40 traces/s with v1.1 (CW-Lite, Husky), >= 100 with v2.1
-- (CW-Lite), at most 8 control transfers a trace.
-- Run: build/bin/cwlua run bench/capture_bench.lua [TRACES] [SAMPLES]
local board = require "cwlua.board"
local capture = require "cwlua.capture"
local flash = require "cwlua.flashapi"

local TRACES = math.tointeger(tonumber(arg[1] or "")) or 300
local SAMPLES = math.tointeger(tonumber(arg[2] or "")) or 3000
local HELLO = "examples/stm32f1-hello/hello.hex"

-- Characters on the line per trace (cw-usb-protocol.md §5.5, cwlua.simpleserial), 8N1: 10
-- bits a character at the firmware's rate.
--   v1.1: "p" + 32 hex + "\n", "r" + 32 hex + "\n", "z00\n"                  = 72 at 38400
--   v2.1: the command frame 22 (pointer, cmd, scmd, len, 16 bytes, CRC, 0x00), the reply 21,
--         the 'e' acknowledgement 6                                        = 49 at 230400
local LINE = { [1] = { chars = 72, baud = 38400 }, [2] = { chars = 49, baud = 230400 } }
local GOAL = { [1] = 40, [2] = 100 }

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. p))
  return p
end

io.write(("%d traces of %d samples each\n"):format(TRACES, SAMPLES))
io.write(("%-7s %-5s %10s %10s %6s %10s %10s %10s  %s\n"):format("board", "ss", "traces/s",
  "bound", "ratio", "ctrl/trace", "bulk/trace", "set-up", "goal"))
for _, kind in ipairs({ "cwlite", "cw1200", "husky" }) do
  for _, version in ipairs({ 1, 2 }) do
    local dir = tmpdir()
    board.defaults.spec = "sim:" .. kind
    board.defaults.quiet = true
    board.defaults.sim = { state = dir, app = ("ss%d-aes"):format(version) }
    assert(flash.program("stm32f1", HELLO, { quiet = true }))
    local line = LINE[version]
    local bound = line.baud / 10 / line.chars
    local s = capture.run("stm32f1", { traces = TRACES, samples = SAMPLES, offset = 0,
      gain = 25, key = "random", text = "random", version = version, out = dir .. "/set",
      seed = 1, quiet = true })
    local n = s.traces
    local ctrl = (s.sim.usb.ctrl_in + s.sim.usb.ctrl_out) / n
    local setup = s.sim.setup_usb.ctrl_in + s.sim.setup_usb.ctrl_out + s.sim.setup_usb.bulk
    local goal_rate = (kind ~= "cw1200") and (version == 1 or kind == "cwlite") and
      GOAL[version] or nil
    local met = ctrl <= 8 and (not goal_rate or s.rate >= goal_rate)
    io.write(("%-7s v%d.1 %10.1f %10.1f %6.3f %10.2f %10.2f %10d  %s\n"):format(kind, version,
      s.rate, bound, s.rate / bound, ctrl, s.sim.usb.bulk / n, setup,
      (goal_rate and (">= %d/s, " .. "<= 8 ctrl"):format(goal_rate) or "<= 8 ctrl")
      .. (met and ": met" or ": NOT MET")))
    os.execute("rm -rf " .. dir)
  end
end
