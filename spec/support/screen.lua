-- SPDX-License-Identifier: MIT
-- spec/support/screen.lua: a tiny terminal for what cwlua writes to one — enough of a VT100 to
-- check progress frames: printable ASCII, "\r", "\n" (line feed; a tty sends "\r\n" for the
-- program's "\n"), "\27[K" (erase to the end of the line) and xterm's deferred wrap at the last
-- column. Anything else is recorded in `unknown`.
--   local s = screen.run(bytes, 60)
--   s.lines          the screen's lines, top to bottom, without trailing blanks
--   s.text(i [, j])  lines i to j (default: the last) as one string, each as wide as it was
--                    written (so a line the terminal wrapped reads as the program wrote it)
--   s.wrapped        how many times a character went past the last column
--   s.frames         how many "\r" came that were not the tty's "\r\n"
--   s.stale          lines that show other than what was written since their last "\r" (the
--                    characters a longer frame left behind): { row = n, shown = ..., frame = ... }
--   s.unknown        escape sequences and control bytes it does not know
local M = {}

function M.run(bytes, cols)
  local rows = { {} }
  local r, c, pending = 1, 0, false -- pending: the last column was written, the next wraps
  local since_cr = { [1] = "" } -- what each line got since its last "\r"
  local s = { wrapped = 0, frames = 0, unknown = {}, stale = {}, lines = {} }
  local function down()
    r = r + 1
    rows[r] = rows[r] or {}
    since_cr[r] = since_cr[r] or ""
  end
  local i = 1
  while i <= #bytes do
    local ch = bytes:sub(i, i)
    if ch == "\r" then
      c, pending = 0, false
      if bytes:sub(i + 1, i + 1) ~= "\n" then -- not the tty's "\r\n" for a program's "\n"
        since_cr[r] = ""
        s.frames = s.frames + 1
      end
    elseif ch == "\n" then
      pending = false
      down()
    elseif bytes:sub(i, i + 2) == "\27[K" then
      for k = c + 1, #rows[r] do rows[r][k] = nil end
      i = i + 2
    elseif ch:byte() >= 32 and ch:byte() < 127 then
      if pending then
        s.wrapped = s.wrapped + 1
        down()
        c, pending = 0, false
      end
      rows[r][c + 1] = ch
      since_cr[r] = since_cr[r] .. ch
      for k = 1, c do rows[r][k] = rows[r][k] or " " end
      if c + 1 == cols then pending = true else c = c + 1 end
    else
      local seq = ch == "\27" and bytes:match("^\27%[[%d;]*%a", i) or ch
      s.unknown[#s.unknown + 1] = seq
      i = i + #seq - 1
    end
    i = i + 1
  end
  function s.text(from, to)
    local t = {}
    for n = from, to or #rows do t[#t + 1] = table.concat(rows[n] or {}) end
    return table.concat(t)
  end
  for n = 1, #rows do
    local shown = table.concat(rows[n]):gsub(" +$", "")
    s.lines[n] = shown
    local frame = since_cr[n]:gsub(" +$", "")
    -- a line rewritten in place ("\r" then text) must show exactly its last text
    if shown ~= frame then
      s.stale[#s.stale + 1] = { row = n, shown = shown, frame = frame }
    end
  end
  while #s.lines > 0 and s.lines[#s.lines] == "" do s.lines[#s.lines] = nil end
  return s
end

return M
