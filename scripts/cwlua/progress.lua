-- SPDX-License-Identifier: MIT
-- cwlua.progress: progress on stderr (contract.md §3.6 "Output"). On a terminal, one line
-- redrawn in place — a bar, what is done of the total, rate and ETA — fitted to the width the
-- terminal reports; otherwise a plain line at each quarter crossed; nothing with -q.
--
-- A frame is "\r" .. text .. "\27[K" (erase to the end of the line): a frame shorter than the
-- one before leaves nothing of it behind. Its text is at most one column narrower than the
-- terminal, because a terminal that wraps on its last column would scroll a full-width line.
-- The width is asked again at every frame (TIOCGWINSZ on stderr, cwlua.core.tty; $COLUMNS when
-- the terminal reports none, else 80), so a resized window gets fitted frames from the next one
-- on. Frames are drawn at most 10 times a second of the runtime clock (contract.md §4): real
-- time on hardware; on the simulator the frames the same run would show on hardware, drawn as
-- fast as it runs. Rates and times are on that clock too.
local time = require "cwlua.time"
local runtime = require "cwlua.core.runtime"
local signal = require "cwlua.core.signal"
local tty = require "cwlua.core.tty"

local M = {}

local P = {}
P.__index = P

local REDRAW_NS = 100000000 -- at most 10 frames a second
local BAR_MAX, BAR_MIN = 30, 10 -- a bar narrower than 10 columns says too little to keep
local LABEL = 7 -- labels ("write", "verify", "erase", "eeprom") padded to one column

local live -- the bar whose line is open, for progress.interrupt

--- progress.new(label, total, opts) -> p. total counts bytes, or opts.unit (e.g. "page") when
-- given. opts.quiet silences it; opts.terminal_only draws on a terminal and prints no plain
-- lines elsewhere (an erase, whose result the summary line gives); opts.rate shows units a
-- second (a capture's traces/s). Hold p in a <close> variable: a bar cut short by an error or a
-- signal then ends its line, so the message that follows starts on a line of its own.
function M.new(label, total, opts)
  opts = opts or {}
  local on_tty = runtime.isatty(2)
  return setmetatable({ label = label, total = total, done = 0, unit = opts.unit,
    rate = opts.rate,
    quiet = opts.quiet or (opts.terminal_only and not on_tty), tty = on_tty,
    t0 = time.now_ns(), next_quarter = 1 }, P)
end

--- progress.format_rate(bytes, seconds) -> "3.9 KiB/s"
function M.format_rate(bytes, seconds)
  if seconds <= 0 then return "-" end
  local r = bytes / seconds
  if r >= 1048576 then return ("%.1f MiB/s"):format(r / 1048576) end
  if r >= 1024 then return ("%.1f KiB/s"):format(r / 1024) end
  return ("%.0f B/s"):format(r)
end

--- progress.columns() -> the terminal's width in columns: what it reports for stderr, else
-- $COLUMNS (a positive integer), else 80
function M.columns()
  local cols = tty.size(2)
  if cols then return cols end
  local env = tonumber(os.getenv("COLUMNS") or "", 10)
  if env and math.type(env) == "integer" and env > 0 then return env end
  return 80
end

local function kib(n) return ("%.1f"):format(n / 1024) end

local function clock(s) -- "1:05"; seconds rounded down, as an ETA counts
  s = math.max(0, math.floor(s))
  return ("%d:%02d"):format(s // 60, s % 60)
end

local function plural(n, unit) return n == 1 and unit or unit .. "s" end

-- Longest texts some fields can take, so a bar keeps its width while the numbers change.
local RATE_MAX = #"1023.9 KiB/s"
local ETA_MAX = #"ETA 99:59"
local CLOCK_MAX = #"99:59"
local WAIT_MAX = #"99:59 of ~99:59" -- and "99.9 of ~9.9 s"

-- The stats that can follow the bar, richest first: { text, reserve } where reserve is the
-- longest the text can get during this phase; pct is the fraction done (nil: not known).
function P:_stats(now)
  local elapsed = (now - self.t0) / 1e9
  local done, total = self.done, self.total
  local w = self.wait
  if w then -- one command under way: time against the time it is expected to take
    local e = (now - w.t0) / 1e9
    local n = ("%d %s"):format(w.units, plural(w.units, self.unit))
    local t, t_max = clock(e), CLOCK_MAX
    if w.expected and w.expected < 10e9 then -- a short wait: tenths, or it would read 0:00
      t, t_max = ("%.1f of ~%.1f s"):format(e, w.expected / 1e9), WAIT_MAX
    elseif w.expected then
      t, t_max = ("%s of ~%s"):format(clock(e), clock(w.expected / 1e9)), WAIT_MAX
    end
    local pct = w.expected and (done + w.units * math.min(0.99, e * 1e9 / w.expected)) / total
    return { { n .. ", " .. t, #n + 2 + t_max }, { t, t_max } }, pct
  end
  local eta = ""
  if done > 0 and done < total then eta = " ETA " .. clock(elapsed * (total - done) / done) end
  if self.unit and self.rate then -- "120/300 traces 45.3/s ETA 0:04"
    local count = ("%" .. #tostring(total) .. "d/%d %s"):format(done, total,
      plural(total, self.unit))
    local rate = elapsed > 0 and (" %.1f/s"):format(done / elapsed) or " -/s"
    return { { count .. rate .. eta, #count + #" 9999.9/s" + 1 + ETA_MAX },
             { count .. eta, #count + 1 + ETA_MAX }, { count, #count } }, done / total
  end
  if self.unit then
    local count = ("%d/%d %s"):format(done, total, plural(total, self.unit))
    -- as wide as a wait's text can be (p:waiting), so the bar keeps its width through an erase
    local wait_max = #("%d %s, "):format(total, plural(total, self.unit)) + WAIT_MAX
    return { { count .. eta, math.max(#count + 1 + ETA_MAX, wait_max) }, { count, #count } },
      done / total
  end
  local size = ("%" .. #kib(total) .. "s/%s KiB"):format(kib(done), kib(total))
  local rate = " " .. M.format_rate(done, elapsed)
  return { { size .. rate .. eta, #size + 1 + RATE_MAX + 1 + ETA_MAX },
           { size .. eta, #size + 1 + ETA_MAX }, { size, #size } }, done / total
end

--- progress.fit(label, stats, pct, columns) -> the frame's text, at most columns - 1 long: the
-- first stats with a bar of up to 30 columns, or a narrower one down to 10; then no bar, with
-- the percentage, the richest stats that fit; then cut. stats as P:_stats gives them.
function M.fit(label, stats, pct, columns)
  local avail = math.max(1, columns - 1)
  local head = ("%-" .. LABEL .. "s "):format(label)
  local bar = math.min(BAR_MAX, avail - #head - #"[] " - stats[1][2])
  local text
  if bar >= BAR_MIN then
    local fill = pct and math.max(0, math.min(bar, math.floor(bar * pct))) or 0
    text = ("%s[%s%s] %s"):format(head, ("#"):rep(fill), (" "):rep(bar - fill), stats[1][1])
  else
    local p = pct and ("%3d%% "):format(math.floor(100 * math.max(0, math.min(1, pct)))) or ""
    text = head .. p .. stats[#stats][1]
    for _, s in ipairs(stats) do
      if #head + #p + s[2] <= avail then
        text = head .. p .. s[1]
        break
      end
    end
  end
  return text:sub(1, avail)
end

function P:_draw(now, force)
  if not force and self.last_draw and now - self.last_draw < REDRAW_NS then return end
  self.last_draw = now
  local stats, pct = self:_stats(now)
  local text = M.fit(self.label, stats, pct, M.columns())
  if text == self.last_text and self.open_line then return end
  self.last_text = text
  io.stderr:write("\r", text, "\27[K")
  self.open_line = true
  live = self
end

--- p:update(done): bytes (or units) done so far; ends a wait (p:waiting)
function P:update(done)
  self.done, self.wait = done, nil
  if self.quiet or self.total == 0 then return end
  if self.tty then
    self:_draw(time.now_ns(), done >= self.total)
  else
    local q = math.min(4, done * 4 // self.total) -- print only the highest quarter crossed
    if q >= self.next_quarter then
      io.stderr:write(("%s: %d%% (%d of %d %s)\n"):format(self.label, 25 * q,
        math.min(done, self.total), self.total, plural(self.total, self.unit or "byte")))
      self.next_quarter = q + 1
    end
  end
end

--- p:waiting(units, expected_ns) -> tick | nil. One command is under way that does the next
-- `units` and takes about expected_ns (nil: not known), e.g. a mass erase the chip answers only
-- when it has ended. tick(), called while waiting for its answer, redraws the frame with the
-- time spent against the time expected, so a long wait is seen to move. nil when nothing is
-- drawn (not a terminal, -q): the caller need not wait in slices then. p:update ends the wait.
function P:waiting(units, expected_ns)
  if self.quiet or not self.tty or self.total == 0 then return nil end
  self.wait = { units = units, expected = expected_ns, t0 = time.now_ns() }
  return function()
    if self.wait then self:_draw(time.now_ns()) end
  end
end

--- p:finish() -> seconds since p was made. Draws the last frame and ends its line.
function P:finish()
  if not self.quiet and self.tty and self.total > 0 then
    self.wait = nil
    self:_draw(time.now_ns(), true)
    io.stderr:write("\n")
  end
  self.open_line = false
  if live == self then live = nil end
  return (time.now_ns() - self.t0) / 1e9
end

--- progress.interrupt(): an open bar's line is cleared, so a message can take it (the -v log
-- lines); the bar is drawn again, below it, at its next frame
function M.interrupt()
  if live and live.open_line then
    io.stderr:write("\r\27[K")
    live.open_line, live.last_draw = false, nil
  end
end

-- An unfinished bar ends its line; in signal.hold, as cleanup that must finish.
local function end_line(self)
  if live == self then live = nil end
  if self.open_line then
    self.open_line = false
    io.stderr:write("\n")
  end
end

function P:__close()
  signal.hold(end_line, self)
end

return M
