-- SPDX-License-Identifier: MIT
-- program.lua: program a firmware file into the target and verify it, from your own Lua 5.4
-- (require "cwlua", docs/api.md "Using cwlua from your own Lua") or from 'cwlua run'.
--
--   lua5.4 examples/lab/program.lua examples/stm32f1-hello/hello.hex
--   CWLUA_DEVICE=sim lua5.4 examples/lab/program.lua examples/stm32f1-hello/hello.hex
--   cwlua -d sim run examples/lab/program.lua examples/stm32f1-hello/hello.hex
--
-- Arguments: FILE [TARGET] (default stm32f1, a recipe name or alias). The board is the one
-- 'cwlua program' would use: -d under 'cwlua run', else $CWLUA_DEVICE, else the config file's
-- device (~/.config/cwlua/config.lua), else the only board on USB. Each cw.flash call opens it,
-- and puts it back as it found it.
local cw = require "cwlua"
local file = arg[1] or error("usage: program.lua FILE [TARGET]", 0)
local target = arg[2] or "stm32f1"

local r, msg = cw.flash.program(target, file, { quiet = true })
if not r then error(("%s: not programmed: %s"):format(target, msg), 0) end
local v, vmsg = cw.flash.verify(target, file, { quiet = true })
if not v then error(("%s: programmed, but: %s"):format(target, vmsg), 0) end
print(("%s: programmed %d bytes in %.2f s, verified %d bytes"):format(target, r.bytes,
  r.seconds, v.bytes))
