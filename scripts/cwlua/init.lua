-- SPDX-License-Identifier: MIT
-- cwlua: the API a lab script sees as the global 'cw' under 'cwlua run' (docs/api.md).
-- Submodules load on first use: cw.image is require "cwlua.image", and so on; cw.flash is
-- cwlua.flashapi, the commands' work with the API's nil, msg, code convention.
local runtime = require "cwlua.core.runtime"

local SUBMODULES = { errors = "errors", image = "image", targets = "targets", json = "json",
                     board = "board", time = "time", flash = "flashapi",
                     simpleserial = "simpleserial", scope = "scope", traceset = "traceset",
                     aes = "aes" }

local M = { version = runtime.version }

--- cw.open([spec [, opts]]) -> board | nil, msg, code (see cwlua.board.open). Without spec:
-- the device given with -d, else $CWLUA_DEVICE, else "usb".
function M.open(spec, opts)
  return require("cwlua.board").open(spec, opts)
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
