-- SPDX-License-Identifier: MIT
-- each_board.lua: the same work on several boards, chosen by serial number, all at once: each
-- board programmed with the same firmware, and what each is and how it went printed in the
-- order given. For lab staff preparing a room of boards (docs/lab.md).
--
--   cwlua run examples/lab/each_board.lua FIRMWARE SERIAL...
--   cwlua sim attach cwlite:stm32f1@LAB-01 cwlite:stm32f1@LAB-02 -- \
--     cwlua run examples/lab/each_board.lua examples/stm32f1-hello/hello.hex LAB-01 LAB-02
--
-- 'cwlua list' shows the serial numbers. cw.each runs the function on every board in parallel,
-- each in a worker process of its own (docs/api.md): the function sees cw, not this script's
-- locals, so the firmware goes in as an argument. Exit status: 0 when every board was
-- programmed, else the number of boards that failed (each is reported, the others still done).
-- 'cwlua run' sets the global cw (docs/api.md):
-- luacheck: read globals cw
local firmware = arg[1]
if not firmware or not arg[2] then
  io.stderr:write("usage: cwlua run each_board.lua FIRMWARE SERIAL...\n")
  os.exit(2)
end

local boards = {}
for i = 2, #arg do boards[#boards + 1] = "usb:" .. arg[i] end

-- on each board, in its own worker; what it returns comes back in results[i].value
local results = cw.each(table.concat(boards, ","), function(board, fw)
  local r = assert(cw.flash.program("stm32f1", fw, { board = board, quiet = true }))
  local info = board:info()
  return { name = info.name, firmware = info.firmware, bytes = r.bytes, verify = r.verify }
end, { args = { firmware }, quiet = true })

local failed = 0
for _, r in ipairs(results) do
  local v = r.value
  if r.ok then
    print(("%s: %s firmware %s: programmed %d bytes, verify %s"):format(r.serial, v.name,
      v.firmware, v.bytes, v.verify))
  else
    failed = failed + 1
    print(("%s: FAILED: %s"):format(r.serial, r.error))
  end
end
os.exit(failed, true)
