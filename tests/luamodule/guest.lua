-- SPDX-License-Identifier: MIT
-- tests/luamodule/guest.lua HEX STATE: run by stock lua5.4 with LUA_PATH (and maybe
-- LUA_CPATH) into an installed tree (check.sh). Programs and verifies a simulated STM32F1 on a
-- simulated CW-Lite through require "cwlua", as docs/api.md "Using cwlua from your own Lua"
-- shows, and prints one line per result for check.sh to compare.
local hex, state = assert(arg[1]), assert(arg[2])
local on_cpath = package.searchpath("cwlua.core", package.cpath)
local cw = require "cwlua"
assert(require("cwlua.core").host == "module", "cwlua.core is not the module")
print("core: " .. (on_cpath and "package.cpath" or "beside"))
local b <close> = assert(cw.open("sim", { target = "stm32f100xb", state = state }))
local r = assert(cw.flash.program("stm32f1", hex, { board = b, quiet = true }))
print(("program: %d bytes, verify %s"):format(r.bytes, r.verify))
local v = assert(cw.flash.verify("CW308_STM32F1", hex, { board = b, quiet = true }))
print(("verify: %d bytes, %s"):format(v.bytes, v.verify))
-- a failure the world causes comes back as nil, msg, code, as inside cwlua run
local none, msg, code = cw.flash.program("nosuchchip", hex, { board = b, quiet = true })
print(("unknown target: %s %s %s"):format(tostring(none), code, msg:match("^[^;]*")))
-- the built-in recipes come from the prefix the module was installed into
print("recipes: " .. assert(require("cwlua.path").builtin_dir()))
