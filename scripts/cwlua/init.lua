-- SPDX-License-Identifier: MIT
-- cwlua: the API a lab script sees as the global 'cw' under 'cwlua run' (docs/api.md), and what
-- require "cwlua" gives in another Lua 5.4 interpreter (docs/api.md "Using cwlua from your own
-- Lua"). Submodules load on first use: cw.image is require "cwlua.image", and so on; cw.flash
-- is cwlua.flashapi, the commands' work with the API's nil, msg, code convention.
--
-- Until the version check this file must parse and run on Lua 5.1 to 5.3 too, so that their
-- users read why it stops rather than a syntax error.
if _VERSION ~= "Lua 5.4" then
  error("cwlua needs Lua 5.4, and this is " .. tostring(_VERSION) .. ": run the script with "
    .. "lua5.4 (Debian's package lua5.4), or with 'cwlua run'", 0)
end
-- In the binary, main() preloads cwlua.core and cwlua.boot has set everything up; anywhere else
-- cwlua.guest loads the C part and does what a guest may.
if not package.preload["cwlua.core"] then
  require("cwlua.guest").setup(select(2, ...))
end
local runtime = require "cwlua.core.runtime"

local SUBMODULES = { errors = "errors", image = "image", targets = "targets", json = "json",
                     board = "board", time = "time", flash = "flashapi",
                     simpleserial = "simpleserial", scope = "scope", traceset = "traceset",
                     aes = "aes" }

local M = { version = runtime.version }

--- cw.open([spec [, opts]]) -> board | nil, msg, code (see cwlua.board.open). Without spec:
-- the device given with -d, else $CWLUA_DEVICE, else the config files' device, else "usb".
function M.open(spec, opts)
  return require("cwlua.board").open(spec, opts)
end

--- cw.each(spec, fn [, opts]) -> results, status: fn(board, ...) on every board of spec (e.g.
-- "usb:*"), all at once, each in a worker process of its own (cwlua.multi, docs/api.md)
function M.each(spec, fn, opts)
  return require("cwlua.multi").each(spec, fn, opts)
end

--- cw.sleep(ms), cw.now() -> seconds: the runtime clock (virtual while a simulator is open)
function M.sleep(ms) return require("cwlua.time").sleep(ms) end
function M.now() return require("cwlua.time").now() end

--- cw.sim.faults() -> the simulator's faults: { {name, arg, default, summary, live, ...} }
M.sim = {
  faults = function() return require("cwlua.core.device").sim_faults() end,
}

return setmetatable(M, {
  __index = function(t, k)
    if SUBMODULES[k] then
      local mod = require("cwlua." .. SUBMODULES[k])
      rawset(t, k, mod)
      return mod
    end
    return nil
  end,
})
