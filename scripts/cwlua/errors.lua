-- SPDX-License-Identifier: MIT
-- cwlua.errors: user-facing failures and the exit codes of contract.md §3.
--
-- A recipe step or library function that fails for a reason the user must act on raises an
-- error object made here; the CLI prints its message as "cwlua: <message>" and exits with its
-- code. Any other error (a plain string, a bug) exits 1, with a traceback under -v.
--
--   errors.raise("input", "%s:%d: bad checksum", path, line)   -- never returns
--   local ok, e = pcall(f); if errors.is(e, "input") then ... end
local M = {}

-- Exit status per kind (contract.md §3 "Exit status").
M.EXIT = {
  failure = 1,   -- anything else
  usage = 2,     -- bad command line
  input = 2,     -- bad input file, image that does not fit, wrong chip, protected chip:
                 -- nothing on the chip was touched
  device = 3,    -- no board, USB or port error, board lacks the needed engine
  target = 4,    -- target does not answer
  mismatch = 5,  -- verify mismatch
  interrupted = 130, -- SIGINT (SIGTERM: 143); main() sets the status from the signal itself
}

local Error = {}
Error.__index = Error
Error.__name = "cwlua.Error"
function Error.__tostring(e) return e.message end

--- errors.new(kind, message [, fields]) -> error object (not raised)
function M.new(kind, message, fields)
  local exit = M.EXIT[kind]
  if exit == nil then
    error(("errors.new: unknown kind '%s'"):format(tostring(kind)), 2)
  end
  local e = setmetatable({}, Error)
  if fields then
    for k, v in pairs(fields) do e[k] = v end
  end
  e.kind, e.message, e.exit = kind, message, exit
  return e
end

--- errors.raise(kind, fmt, ...) raises errors.new(kind, fmt:format(...))
function M.raise(kind, fmt, ...)
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  error(M.new(kind, msg), 0)
end

--- errors.is(value [, kind]) -> true when value is a cwlua error (of that kind)
function M.is(value, kind)
  return getmetatable(value) == Error and (kind == nil or value.kind == kind)
end

-- Lua's message for a failed allocation; assert and error may put a position in front of it
-- ("boot.lua:14: not enough memory").
local NO_MEMORY = "not enough memory"
local find = string.find

--- errors.out_of_memory(value) -> true when value is Lua's out-of-memory error. Allocates
-- nothing (string.find returns numbers), so it is safe to call with no memory left; code that
-- catches errors passes this one on rather than reporting it as something else.
function M.out_of_memory(value)
  return type(value) == "string" and find(value, NO_MEMORY, -#NO_MEMORY, true) ~= nil
end

--- errors.world(code, msg [, fields]) -> the cwlua error for a board, port or simulator call
-- that failed with this stable code (cw_err_code_name): "invalid", a request the board cannot
-- meet with nothing changed, is a usage error (exit 2); the others are the device's (exit 3).
-- "no_memory" (an allocation failed in C: libusb, libcwsim) raises Lua's own out-of-memory
-- error instead, so that it is reported as running out of memory wherever it happened: one
-- line "cwlua: out of memory", exit 1 (contract.md §3.8).
function M.world(code, msg, fields)
  if code == "no_memory" then error(NO_MEMORY, 0) end
  return M.new(code == "invalid" and "usage" or "device", msg, fields)
end

--- errors.exit_code(value) -> the process exit status for an error value
function M.exit_code(value)
  if M.is(value) then return value.exit end
  return M.EXIT.failure
end

--- errors.not_message(value) -> nil for a message (a string, a number or a cwlua error), else
-- what the value is ("a table value"): error({}) or error(nil) would otherwise print as
-- "table: 0x55…" or "nil", which tells nobody anything.
function M.not_message(value)
  if type(value) == "string" or type(value) == "number" or M.is(value) then return nil end
  return ("a %s value"):format(type(value))
end

--- errors.position(level) -> "FILE:LINE" of the first Lua function at or above level (1 = the
-- caller of position), or nil. The whole file name, not Lua's 60-character short_src.
function M.position(level)
  level = level + 1
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then return nil end
    if info.what ~= "C" and (info.currentline or 0) > 0 then
      local src = info.source:sub(1, 1) == "@" and info.source:sub(2) or info.short_src
      return ("%s:%d"):format(src, info.currentline)
    end
    level = level + 1
  end
end

return M
