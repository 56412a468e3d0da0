-- SPDX-License-Identifier: MIT
-- cwlua.flashapi: cw.flash for lab scripts, the work of program / verify / read / erase / info
-- (cwlua.flash) with the API's conventions (style.md §2.3, docs/api.md "Conventions"): misuse
-- raises; a failure the world causes — an image that does not fit, a target that does not
-- answer, a verify mismatch — returns nil, message, code, err. code is the failure's kind,
-- the word behind cwlua's exit status (contract.md §3): usage, input, device, target, mismatch,
-- failure; err is the cwlua error itself (err.exit, err.retries, err.retry_log, and for a
-- mismatch err.first_mismatch), so error(err, 0) ends a script with cwlua's own exit status.
--
--   local r, msg = cw.flash.program("stm32f1", "fw.hex", { board = board, quiet = true })
--   if not r then print("not programmed: " .. msg) end
--
-- The commands themselves use cwlua.flash, which raises (cwlua.cli turns that into the exit
-- status and the message).
local errors = require "cwlua.errors"
local flash = require "cwlua.flash"

local M = {}

-- fn(target, [file|out,] opts): nargs is how many string arguments come before opts.
local function wrap(name, nargs)
  local fn = flash[name]
  return function(...)
    local args = table.pack(...)
    for i = 1, nargs do
      if type(args[i]) ~= "string" then
        error(("cw.flash.%s: argument %d must be a string (%s)"):format(name, i,
          i == 1 and "a recipe name or alias" or "a file name"), 2)
      end
    end
    local opts = args[nargs + 1]
    if opts == nil then
      opts = {}
    elseif type(opts) ~= "table" then
      error(("cw.flash.%s: opts must be a table"):format(name), 2)
    end
    args[nargs + 1] = opts
    -- pcall passes SIGINT/SIGTERM on by itself (cwlua.boot): an interrupt still stops the script
    local r = table.pack(pcall(fn, table.unpack(args, 1, nargs + 1)))
    if r[1] then return table.unpack(r, 2, r.n) end
    local e = r[2]
    if errors.is(e) and e.kind ~= "interrupted" then return nil, e.message, e.kind, e end
    error(e, 0) -- a bug, or out of memory: not a failure to branch on
  end
end

--- cw.flash.program(target, file [, opts]) -> summary | nil, msg, code, err
M.program = wrap("program", 2)
--- cw.flash.verify(target, file [, opts]) -> summary | nil, msg, code, err
M.verify = wrap("verify", 2)
--- cw.flash.read(target, out [, opts]) -> summary | nil, msg, code, err
M.read = wrap("read", 2)
--- cw.flash.erase(target [, opts]) -> summary | nil, msg, code, err
M.erase = wrap("erase", 1)
--- cw.flash.info(target [, opts]) -> { rows, chip } | nil, msg, code, err
M.info = wrap("info", 1)

return M
