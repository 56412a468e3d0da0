-- SPDX-License-Identifier: MIT
-- cwlua.lines: "enter the bootloader" and "leave it" for a recipe, the same call on a board
-- and on a plain serial adapter.
--
-- On a board the recipe's boot pin (default pdic, BOOT0 on a CW308) and reset pin (default
-- nrst) are driven as NewAE's STM32 programmer does (target-protocols.md §A.2, without its fixed
-- one-second waits). On a port (cwlua.port) the adapter's --gpio-seq sequences run instead:
-- the recipe need not know how DTR and RTS are wired.
--
--   local how = assert(lines.enter_bootloader(dev))   -- "pins", "sequence" or "assumed"
--   ...
--   if assert(lines.exit_bootloader(dev)) == "go" then boot:go(flash_start) end
local time = require "cwlua.time"

local M = {}

-- §A.2: nRST low 10 ms, then released; the CW then waits 25 ms before talking.
M.DEFAULTS = { boot = "pdic", reset = "nrst", reset_ms = 10, start_ms = 25 }

local function options(opts)
  local o = {}
  for k, v in pairs(M.DEFAULTS) do o[k] = v end
  for k, v in pairs(opts or {}) do
    if M.DEFAULTS[k] == nil then error(("lines: unknown option '%s'"):format(k), 3) end
    o[k] = v
  end
  return o
end

local function is_port(dev)
  return type(dev) == "table" and dev.enter_bootloader ~= nil
end

-- BOOT0 to `level`, a reset pulse, the start-up wait.
local function pins(dev, o, level)
  local ok, msg, code = dev:pin(o.boot, level)
  if not ok then return nil, msg, code end
  ok, msg, code = dev:pin(o.reset, "low")
  if not ok then return nil, msg, code end
  time.sleep(o.reset_ms)
  ok, msg, code = dev:pin(o.reset, "high_z") -- released: the target's pull-up takes it high
  if not ok then return nil, msg, code end
  time.sleep(o.start_ms)
  return "pins"
end

--- lines.enter_bootloader(dev [, opts]) -> "pins" | "sequence" | "assumed" | nil, msg, code
-- A board: boot pin high, reset pulse. A port: port:enter_bootloader() ("assumed" without an
-- entry sequence). opts (boards): boot, reset (pin names), reset_ms, start_ms.
function M.enter_bootloader(dev, opts)
  local o = options(opts)
  if is_port(dev) then return dev:enter_bootloader() end
  return pins(dev, o, "high")
end

--- lines.exit_bootloader(dev [, opts]) -> "pins" | "sequence" | "go" | nil, msg, code
-- A board: boot pin low, reset pulse: the application starts. A port: port:exit_bootloader();
-- "go" means no lines could do it and the caller must start the application with Go.
function M.exit_bootloader(dev, opts)
  local o = options(opts)
  if is_port(dev) then return dev:exit_bootloader() end
  return pins(dev, o, "low")
end

return M
