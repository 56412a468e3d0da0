-- SPDX-License-Identifier: MIT
-- cwlua.gpioseq: reset and boot lines of a plain serial adapter, written as stm32flash 0.7's
-- `-i` GPIO sequences (docs/reference/target-protocols.md §A.10), for --gpio-seq ENTRY[:EXIT]
-- (contract.md §3). The facts are stm32flash's; the code is ours.
--
--   SEQUENCES := ENTRY [":" EXIT]      ENTRY may be empty when EXIT is given
--   SEQUENCE  := STEP { SEP { SEP } STEP } { SEP }
--   STEP      := ["-"] SIGNAL          "-": the line low (not asserted), else high (asserted)
--   SIGNAL    := "rts" | "dtr" | "brk"
--   SEP       := "," (then 100 ms) | "&" (no delay); each further "," adds 100 ms
--
-- rts/dtr high means the modem-control bit is set (asserted): on the usual USB-TTL adapters
-- the RTS#/DTR# pins are active low, so the pin then goes low. brk sends a break (TX held
-- low for 100 ms, what stm32flash's tcsendbreak(fd, 1) gives on Linux); -brk does nothing, as in
-- stm32flash. stm32flash's numeric (sysfs GPIO) signals are not supported. Nothing is added
-- after a sequence (0.7); trailing separators add their delay.
--
--   local seq = assert(gpioseq.parse("-rts&dtr,-dtr:rts&dtr,-dtr"))
--   seq.entry --> { {signal="rts", high=false, delay_ms=0}, {signal="dtr", high=true,
--                   delay_ms=100}, {signal="dtr", high=false, delay_ms=0} }
local M = {}

M.STEP_MS = 100  -- each ',' (§A.10, 0.7)
M.BREAK_MS = 100 -- brk: stm32flash calls tcsendbreak(fd, 1): TCSBRKP 1 = 100 ms on Linux

local SIGNALS = { rts = true, dtr = true, brk = true }
local HINT = "use rts, dtr or brk, '-' before one for low, ',' (100 ms) or '&' between"

-- Parse one sequence of text (columns counted from `base` for messages).
local function parse_one(text, whole, base, what)
  local steps, pos, n = {}, 1, #text
  local function fail(fmt, ...)
    return nil, ("--gpio-seq '%s': " .. fmt):format(whole, ...)
  end
  if n == 0 then return fail("the %s sequence is empty", what) end
  while pos <= n do
    local col = base + pos - 1
    local high = true
    if text:sub(pos, pos) == "-" then
      high = false
      pos = pos + 1
    end
    local name = text:match("^%a+", pos)
    if not name then
      local num = text:match("^%d+", pos)
      local c = text:sub(pos, pos)
      if num then
        return fail("GPIO %s (column %d) is a sysfs GPIO number, which cwlua does not support; "
          .. "use the adapter's lines rts, dtr or brk", num, base + pos - 1)
      elseif c == "" then
        return fail("a signal must follow '-' at column %d; %s", col, HINT)
      elseif c == "-" then
        return fail("'--' at column %d; %s", col, HINT)
      elseif c == "," or c == "&" then
        return fail("'%s' at column %d must follow a signal; %s", c, base + pos - 1, HINT)
      end
      return fail("unexpected '%s' at column %d; %s", c, base + pos - 1, HINT)
    end
    local signal = name:lower()
    if not SIGNALS[signal] then
      return fail("unknown signal '%s' at column %d; %s", name, base + pos - 1, HINT)
    end
    pos = pos + #name
    local delay, seps = 0, 0
    while true do
      local c = text:sub(pos, pos)
      if c == "," then
        delay = delay + M.STEP_MS
      elseif c ~= "&" then
        break
      end
      seps = seps + 1
      pos = pos + 1
    end
    steps[#steps + 1] = { signal = signal, high = high, delay_ms = delay }
    if pos <= n and seps == 0 then
      return fail("'%s' at column %d must be followed by ',' or '&', not '%s'; %s", name,
        col, text:sub(pos, pos), HINT)
    end
  end
  return steps
end

--- gpioseq.parse(text) -> { text=, entry=steps|nil, exit=steps|nil } | nil, message
-- steps = { { signal = "rts"|"dtr"|"brk", high = boolean, delay_ms = integer }, ... }
function M.parse(text)
  if type(text) ~= "string" then error("gpioseq.parse: text must be a string", 2) end
  if text == "" then
    return nil, "--gpio-seq: the sequence is empty; give ENTRY[:EXIT], e.g. "
      .. "'-rts&dtr,-dtr:rts&dtr,-dtr'"
  end
  local colon = text:find(":", 1, true)
  local entry_text, exit_text = text, nil
  if colon then
    if text:find(":", colon + 1, true) then
      return nil, ("--gpio-seq '%s': more than one ':' (the form is ENTRY[:EXIT])"):format(text)
    end
    entry_text, exit_text = text:sub(1, colon - 1), text:sub(colon + 1)
  end
  local seq = { text = text }
  if entry_text ~= "" or not colon then
    local steps, msg = parse_one(entry_text, text, 1, "entry")
    if not steps then return nil, msg end
    seq.entry = steps
  end
  if colon then
    if exit_text == "" then
      return nil, ("--gpio-seq '%s': the exit sequence after ':' is empty"):format(text)
    end
    local steps, msg = parse_one(exit_text, text, colon + 1, "exit")
    if not steps then return nil, msg end
    seq.exit = steps
  end
  return seq
end

--- gpioseq.describe(steps) -> "RTS low & DTR high, 100 ms, DTR low": for logs and messages
function M.describe(steps)
  local out = {}
  for i, s in ipairs(steps) do
    local word
    if s.signal == "brk" then
      word = s.high and ("break %d ms"):format(M.BREAK_MS) or "(no break)"
    else
      word = s.signal:upper() .. (s.high and " high" or " low")
    end
    out[#out + 1] = word
    if s.delay_ms > 0 then
      out[#out + 1] = (", %d ms"):format(s.delay_ms)
      if i < #steps then out[#out + 1] = ", " end
    elseif i < #steps then
      out[#out + 1] = " & "
    end
  end
  return table.concat(out)
end

--- gpioseq.run(steps, set_line, sleep_ms) -> true | nil, msg, code
-- set_line(signal, on) -> true | nil, msg, code, with signal "rts", "dtr" or "break";
-- sleep_ms(ms) waits (the runtime clock). A failing step stops the sequence.
function M.run(steps, set_line, sleep_ms)
  for _, s in ipairs(steps) do
    if s.signal == "brk" then
      if s.high then
        local ok, msg, code = set_line("break", true)
        if not ok then return nil, msg, code end
        sleep_ms(M.BREAK_MS)
        ok, msg, code = set_line("break", false)
        if not ok then return nil, msg, code end
      end
    else
      local ok, msg, code = set_line(s.signal, s.high)
      if not ok then return nil, msg, code end
    end
    if s.delay_ms > 0 then sleep_ms(s.delay_ms) end
  end
  return true
end

return M
