-- SPDX-License-Identifier: MIT
-- cwlua.board.common: what the parts of cwlua.board share — raising a device failure, turning
-- raised failures into the return values nil, msg, code at the API's edge, and byte helpers
-- for register images. docs/api.md describes the failure codes.
local errors = require "cwlua.errors"

local M = {}

--- common.fail(code, fmt, ...): raise a "device" error with a stable code (docs/api.md)
function M.fail(code, fmt, ...)
  error(errors.new("device", fmt:format(...), { code = code }), 0)
end

--- common.protect(f [, stream]) -> a function that returns nil, msg, code where f raised a
-- device failure. stream: on a stream, "timeout" means the target sent nothing in time
-- (docs/api.md); a USB transfer that timed out is the board failing, not the target, so it is
-- returned as "io" (its message still says "timed out"): a protocol engine that waits for its
-- target must never take a board that stopped answering for a silent target (exit 3, not 4;
-- contract.md §3.8).
function M.protect(f, stream)
  return function(...)
    local r = table.pack(pcall(f, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local e = r[2]
    if errors.is(e, "device") and e.code then
      return nil, e.message, (stream and e.code == "timeout") and "io" or e.code
    end
    error(e, 0)
  end
end

--- common.getbyte(s, i) / common.setbyte(s, i, v): byte i (1-based) of a register image
function M.getbyte(s, i) return s:byte(i) end
function M.setbyte(s, i, v) return s:sub(1, i - 1) .. string.char(v) .. s:sub(i + 1) end

--- common.hex(s) -> "E0 01 19 02": a register image for a message
function M.hex(s)
  return (s:gsub(".", function(c) return ("%02X "):format(c:byte()) end):gsub(" $", ""))
end

return M
