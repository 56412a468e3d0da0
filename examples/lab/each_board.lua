-- SPDX-License-Identifier: MIT
-- each_board.lua: the same work on several boards, chosen by serial number: open each, print
-- what it is, program the same firmware into its target, and say how it went. For lab staff
-- preparing a room of boards.
--
--   cwlua run examples/lab/each_board.lua FIRMWARE SERIAL...
--   cwlua sim attach cwlite:stm32f1@LAB-01 cwlite:stm32f1@LAB-02 -- \
--     cwlua run examples/lab/each_board.lua examples/stm32f1-hello/hello.hex LAB-01 LAB-02
--
-- 'cwlua list' shows the serial numbers. Exit status: 0 when every board was programmed, else
-- the number of boards that failed (each is reported, the others still done).
-- 'cwlua run' sets the global cw (docs/api.md):
-- luacheck: read globals cw
local firmware = arg[1]
if not firmware or not arg[2] then
  io.stderr:write("usage: cwlua run each_board.lua FIRMWARE SERIAL...\n")
  os.exit(2)
end

local failed = 0
for i = 2, #arg do
  local serial = arg[i]
  -- each call returns nil and a message when it fails (docs/api.md); the board is closed at
  -- the end of each turn of the loop
  local board <close>, msg = cw.open("usb:" .. serial)
  local r
  if board then r, msg = cw.flash.program("stm32f1", firmware, { board = board, quiet = true }) end
  if r then
    local info = board:info()
    print(("%s: %s firmware %s: programmed %d bytes, verify %s"):format(serial, info.name,
      info.firmware, r.bytes, r.verify))
  else
    failed = failed + 1
    print(("%s: FAILED: %s"):format(serial, msg))
  end
end
os.exit(failed, true)
