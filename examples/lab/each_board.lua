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
  local ok, err = pcall(function()
    local board <close> = assert(cw.open("usb:" .. serial))
    local info = board:info()
    local r = cw.flash.program("stm32f1", firmware, { board = board, quiet = true })
    print(("%s: %s firmware %s: programmed %d bytes, verify %s"):format(serial, info.name,
      info.firmware, r.bytes, r.verify))
  end)
  if not ok then
    failed = failed + 1
    print(("%s: FAILED: %s"):format(serial, tostring(err)))
  end
end
os.exit(failed, true)
