-- SPDX-License-Identifier: MIT
-- cwlua term: a serial console to the target through the board's USART bridge, or through a
-- plain serial port with -d serial:PATH (docs/api.md "cwlua term"). The terminal is put in raw
-- mode (cwlua.core.tty) and restored on every way out: the escape key, end of input, Ctrl-C
-- from outside (SIGINT/SIGTERM raise through the runtime's hook), an error.
--
-- The escape key is Ctrl-] (0x1D, as telnet's): then 'q' (or Ctrl-Q, '.') quits, Ctrl-] sends
-- one Ctrl-] to the target, 'r' pulses the target's reset line, anything else is dropped.
local time = require "cwlua.time"
local cmdutil = require "cwlua.cmdutil"
local errors = require "cwlua.errors"
local tty = require "cwlua.core.tty"

local ESC = "\29"              -- Ctrl-]
local QUIT = { q = true, Q = true, ["."] = true, ["\17"] = true }
local POLL_MS = 10             -- how long one look at the keyboard may wait
local CHUNK = 4096
local EOF_DRAIN_MS = 200       -- input from a pipe ended: show what the target still says
local QUIT_DRAIN_MS = 50       -- quitting: what the target answers to the last keys still shows

local PARITY_NAMES = { "none", "odd", "even", "mark", "space" } -- --parity's values
local PARITIES = {}
for _, p in ipairs(PARITY_NAMES) do PARITIES[p] = true end

-- Pulse the reset line as 'cwlua reset' does: low 10 ms, high 25 ms, then its mode before.
-- What the target said before the reset is dropped, so its start-up output shows alone.
local function pulse_reset(dev, s)
  if dev.exit_bootloader then
    local how, msg, code = dev:exit_bootloader()
    if not how then return nil, msg, code end
    return how ~= "go" or nil, "this port has no reset sequence (--gpio-seq ENTRY:EXIT)",
      "unsupported"
  end
  local before = cmdutil.check(dev:pin("nrst"))
  cmdutil.check(dev:pin("nrst", "low"))
  time.sleep(10)
  cmdutil.check(s:flush())
  cmdutil.check(dev:pin("nrst", "high"))
  time.sleep(25)
  cmdutil.check(dev:pin("nrst", before))
  return true
end

local function run(ctx)
  if #ctx.args > 0 then errors.raise("usage", "usage: %s", ctx.command.usage) end
  local o = ctx.opts
  local baud = 38400
  if o.baud then
    baud = math.tointeger(tonumber(o.baud))
    if not baud or baud < 1 then
      errors.raise("usage", "--baud needs a positive integer, got '%s'", o.baud)
    end
  end
  local parity = o.parity or "none"
  if not PARITIES[parity] then
    errors.raise("usage", "--parity must be none, odd, even, mark or space, got '%s'", parity)
  end
  local log
  if o.log then
    local f, err = io.open(o.log, "ab")
    if not f then errors.raise("usage", "--log: cannot write %s", err) end
    log = f
  end
  local _ <close> = log
  local dev <close> = cmdutil.open_board()
  -- serial put back; a restore that fails is exit 3 (Snapshot:guard)
  local _ <close> = dev.snapshot and cmdutil.check(dev:snapshot()):guard() or nil
  local s = cmdutil.check(dev:serial{ baud = baud, parity = parity })
  local sim = dev.backend == "sim"
  local is_tty = tty.isatty(0)
  local raw <close> = is_tty and cmdutil.check(tty.raw(0)) or nil
  local quiet = o.quiet
  local function note(text)
    if not quiet then io.stderr:write("term: ", text, is_tty and "\r\n" or "\n") end
  end
  note(("%s at %d baud (%s parity); Ctrl-] then q quits, Ctrl-] r resets the target"):format(
    dev.kind or "port", s.actual_baud and math.floor(s.actual_baud + 0.5) or baud, parity))
  if o.reset then cmdutil.check(pulse_reset(dev, s)) end

  local function show(data)
    io.stdout:write(data)
    io.stdout:flush()
    if log then
      log:write(data)
      log:flush()
    end
  end
  local function pump()
    local n = cmdutil.check(s:available())
    if n > 0 then show(cmdutil.check(s:read(n, 1))) end
  end

  local function drain(ms)
    local left = time.deadline(ms)
    while left() > 0 do
      time.sleep(5)
      pump()
    end
  end

  local escaped = false
  local last = require("cwlua.core.device").monotonic_ns()
  while true do
    local keys, _, code = tty.read(0, CHUNK, POLL_MS)
    if keys == nil and code == "eof" then -- a pipe ended: let the target finish, then leave
      drain(EOF_DRAIN_MS)
      break
    elseif keys == nil and code ~= "timeout" then
      errors.raise("failure", "term: reading the keyboard failed")
    end
    local out, quit = {}, false
    for c in (keys or ""):gmatch(".") do
      if escaped then
        escaped = false
        if QUIT[c] then
          quit = true
          break
        elseif c == ESC then
          out[#out + 1] = ESC
        elseif c == "r" or c == "R" then
          cmdutil.check(pulse_reset(dev, s))
          note("reset")
        end
      elseif c == ESC then
        escaped = true
      else
        out[#out + 1] = c
      end
    end
    if #out > 0 then cmdutil.check(s:write(table.concat(out))) end
    if quit then
      drain(QUIT_DRAIN_MS)
      break
    end
    if sim then -- virtual time keeps pace with the real time the keyboard wait took
      local now = require("cwlua.core.device").monotonic_ns()
      time.sleep_ns(math.min(now - last, 100000000))
      last = now
    end
    pump()
  end
  if raw then raw:restore() end
  note("bye")
  return 0
end

return {
  name = "term",
  synopsis = "term [--baud N]",
  summary = "serial console to the target (board USART bridge or port)",
  usage = "cwlua [-d SPEC] term [--baud N] [--parity P] [--log FILE] [--reset]",
  help = [[
Connects the terminal to the target's serial line: what you type goes to the target, what it
sends is shown (and appended to FILE with --log). The line is 8 data bits, 1 stop bit, at
--baud N (default 38400, NewAE's target default) and --parity (default none); on a board it
goes through the USART bridge, with -d serial:PATH through that port. The terminal is in raw
mode: Ctrl-C and the like go to the target.

Escape key Ctrl-] (as in telnet), followed by:
  q (or . or Ctrl-Q)  quit
  r                   pulse the target's reset line (nRST low 10 ms; a port: its --gpio-seq)
  Ctrl-]              send one Ctrl-] to the target
With standard input from a pipe, term sends it, shows the replies for 0.2 s after the input
ends, and exits. The board's serial settings are put back on exit.]],
  text_only = "it is a console",
  options = {
    { long = "baud", key = "baud", arg = "N", help = "baud rate (default 38400)" },
    { long = "parity", key = "parity", arg = "P", values = PARITY_NAMES,
      help = "none (default), odd, even, mark or space" },
    { long = "log", key = "log", arg = "FILE", help = "also append the target's output to FILE" },
    { long = "reset", key = "reset", help = "pulse the target's reset line after connecting" },
  },
  one = "a console is one board's serial line",
  run = run,
}
