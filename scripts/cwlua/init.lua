-- cwlua: the API a lab script sees as the global 'cw' under 'cwlua run' (docs/api.md).
-- Submodules load on first use: cw.image is require "cwlua.image", and so on.
local runtime = require "cwlua.core.runtime"

local SUBMODULES = { errors = true, image = true, targets = true, json = true }

local M = { version = runtime.version }

return setmetatable(M, {
  __index = function(t, k)
    if SUBMODULES[k] then
      local mod = require("cwlua." .. k)
      rawset(t, k, mod)
      return mod
    end
    return nil
  end,
})
