-- SPDX-License-Identifier: MIT
-- cwlua.time: the runtime's time (contract.md §4). Every wait and timeout goes through here:
-- monotonic time on hardware, the simulator's virtual time while a simulated device is open,
-- so a reset delay on the simulator costs no real time and reported figures are repeatable.
local device = require "cwlua.core.device"

local M = {}

local stack = {} -- devices whose time is in use, most recent last

--- time.use(dev): while dev is open, time is dev's (a simulated device's virtual clock).
function M.use(dev)
  stack[#stack + 1] = dev
end

--- time.release(dev): dev is closing; time falls back to the previous device's (or monotonic time).
function M.release(dev)
  for i = #stack, 1, -1 do
    if stack[i] == dev then table.remove(stack, i) end
  end
end

local function current()
  return stack[#stack]
end

--- time.now_ns() -> integer nanoseconds (only differences are meaningful)
function M.now_ns()
  local dev = current()
  if dev then return dev:now_ns() end
  return device.monotonic_ns()
end

--- time.now() -> seconds as a float
function M.now()
  return M.now_ns() / 1e9
end

--- time.sleep_ns(ns)
function M.sleep_ns(ns)
  if ns <= 0 then return end
  local dev = current()
  if dev then return dev:sleep_ns(ns) end
  return device.monotonic_sleep_ns(ns)
end

--- time.sleep(ms): ms may be fractional
function M.sleep(ms)
  if type(ms) ~= "number" or ms < 0 then
    error("sleep: ms must be a non-negative number", 2)
  end
  return M.sleep_ns(math.floor(ms * 1e6 + 0.5))
end

--- time.deadline(timeout_ms) -> function() -> remaining ns (<= 0 when passed)
function M.deadline(timeout_ms)
  local t_end = M.now_ns() + math.floor(timeout_ms * 1e6 + 0.5)
  return function() return t_end - M.now_ns() end
end

return M
