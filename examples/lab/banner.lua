-- SPDX-License-Identifier: MIT
-- banner.lua: reset the target and print what it says first (its banner).
--
--   cwlua -d sim --sim-target stm32f1 --sim-app banner run examples/lab/banner.lua
--   cwlua run examples/lab/banner.lua          # a CW-Lite + CW308 running stm32f1-hello
--
-- Arguments: [BAUD] (default 38400). Opens the board's serial line, pulses the reset line
-- (nRST low 10 ms), and prints the first line the target sends within a second. The simulated
-- chip needs a programmed flash to start its application: 'cwlua -d sim program stm32f1
-- examples/stm32f1-hello/hello.hex' once (the state folder keeps it).
-- 'cwlua run' sets the global cw (docs/api.md):
-- luacheck: read globals cw
local baud = math.tointeger(tonumber(arg[1] or "38400")) or error("BAUD must be an integer")

local board <close> = assert(cw.open())
local s = assert(board:serial{ baud = baud })
assert(board:pin("nrst", "low"))
cw.sleep(10)
s:flush() -- what came before the reset is not the banner
assert(board:pin("nrst", "high_z")) -- released: the target's pull-up takes it high
local line, msg = s:read_until("\n", 1000)
if not line then
  io.stderr:write("no banner: ", msg, "\n")
  os.exit(4, true)
end
print((line:gsub("[\r\n]+$", "")))
