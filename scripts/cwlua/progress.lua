-- SPDX-License-Identifier: MIT
-- cwlua.progress: progress on stderr — a bar with bytes, rate and ETA on a terminal, a plain
-- line every quarter otherwise, nothing with -q (contract.md §3 "Output"). Rates use the runtime
-- clock, so on the simulator they are the simulated (exact) figures.
local time = require "cwlua.time"
local device = require "cwlua.core.device"
local runtime = require "cwlua.core.runtime"
local signal = require "cwlua.core.signal"

local M = {}

local P = {}
P.__index = P

local REDRAW_NS = 100000000 -- redraw a terminal bar at most 10 times a second (real time)

--- progress.new(label, total_bytes, opts) -> p; opts.quiet silences it. Hold it in a <close>
-- variable: a bar cut short by an error or a signal then ends its line, so the message that
-- follows starts on a line of its own.
function M.new(label, total, opts)
  opts = opts or {}
  return setmetatable({ label = label, total = total, done = 0, quiet = opts.quiet,
    tty = runtime.isatty(2), t0 = time.now_ns(), last_draw = 0, next_quarter = 1 }, P)
end

--- progress.format_rate(bytes, seconds) -> "3.9 KiB/s"
function M.format_rate(bytes, seconds)
  if seconds <= 0 then return "-" end
  local r = bytes / seconds
  if r >= 1048576 then return ("%.1f MiB/s"):format(r / 1048576) end
  if r >= 1024 then return ("%.1f KiB/s"):format(r / 1024) end
  return ("%.0f B/s"):format(r)
end

local function kib(n) return ("%.1f"):format(n / 1024) end

function P:update(done)
  self.done = done
  if self.quiet or self.total == 0 then return end
  local elapsed = (time.now_ns() - self.t0) / 1e9
  if self.tty then
    local now = device.monotonic_ns()
    if now - self.last_draw < REDRAW_NS and done < self.total then return end
    self.last_draw = now
    local width = 30
    local fill = math.floor(width * done / self.total)
    local eta = ""
    if done > 0 and done < self.total then
      local s = elapsed * (self.total - done) / done
      eta = (" ETA %d:%02d"):format(s // 60, math.floor(s % 60))
    end
    io.stderr:write(("\r%-7s [%s%s] %s/%s KiB %s%s  "):format(self.label, ("#"):rep(fill),
      (" "):rep(width - fill), kib(done), kib(self.total), M.format_rate(done, elapsed), eta))
    self.open_line = true
  else
    local q = math.min(4, done * 4 // self.total) -- print only the highest quarter crossed
    if q >= self.next_quarter then
      io.stderr:write(("%s: %d%% (%d of %d bytes)\n"):format(self.label, 25 * q,
        math.min(done, self.total), self.total))
      self.next_quarter = q + 1
    end
  end
end

function P:finish()
  if not self.quiet and self.tty and self.total > 0 then io.stderr:write("\n") end
  self.open_line = false
  return (time.now_ns() - self.t0) / 1e9
end

-- An unfinished bar ends its line; in signal.hold, as cleanup that must finish.
local function end_line(self)
  if self.open_line then
    self.open_line = false
    io.stderr:write("\n")
  end
end

function P:__close()
  signal.hold(end_line, self)
end

return M
