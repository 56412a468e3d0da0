-- SPDX-License-Identifier: MIT
-- cwlua.interrupt: the error values cwlua.core.signal raises (bindings/l_signal.c), as cwlua
-- errors: "interrupted" for SIGINT/SIGTERM, and a spent instruction budget (cwlua.sandbox) as
-- "instruction budget exhausted" with the place it stopped at. Both hosts install it: cwlua.boot
-- in the binary, cwlua.guest in another Lua interpreter.
local M = {}

--- interrupt.install(library): library is the chunk-name prefix of the library's own files
-- ("@scripts/cwlua/" in the binary, "@/usr/share/lua/5.4/cwlua/" from a Lua path), so that a
-- spent budget names the innermost line outside them.
function M.install(library)
  local signal = require "cwlua.core.signal"
  local errors = require "cwlua.errors"
  -- A budget runs out in the hook (detail 0: level 2 is the function that was running), and
  -- signal.budget raises once more when it returns (detail n). The place is kept for that last
  -- error, which names it: "stopped at FILE:LINE", the innermost line outside the library (a
  -- recipe that loops calling a library function is named, not the function), else the
  -- innermost Lua line.
  local where
  local function place()
    local first
    for level = 3, 60 do
      local info = debug.getinfo(level, "Sl")
      if not info then break end
      if info.currentline and info.currentline > 0 then
        local at = info.source:gsub("^@", "") .. ":" .. info.currentline
        first = first or at
        if info.source:sub(1, #library) ~= library then return at end
      end
    end
    return first
  end
  signal.install(function(kind, detail)
    if kind == "interrupted" then
      return errors.new("interrupted", "interrupted", { signo = detail })
    end
    if detail == 0 then where = place() end
    local e = errors.new("failure", "instruction budget exhausted",
      { budget = true, where = where })
    if detail > 0 then where = nil end
    return e
  end)
end

return M
