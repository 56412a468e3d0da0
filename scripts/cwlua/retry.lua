-- SPDX-License-Identifier: MIT
-- cwlua.retry: the record of what a session tried again because the line to the target may have
-- lost or damaged bytes, and a bounded retry of operations that may be repeated (contract.md
-- §3.11). flash.session keeps one record per command (ctx.retries); --json reports its count and
-- its first messages, -v prints one line per retry.
--
--   local rec = retry.new(ctx.log)
--   rec:note("Read Memory at 0x%08X: no reply; sending it again", addr)
--   local data = rec:run("READ_MEM at 0x0800000", 2, engine.read, engine, addr, 256)
local errors = require "cwlua.errors"

local M = {}

M.MAX_LIST = 20 -- messages kept for --json; the count goes on

local Rec = {}
Rec.__index = Rec

--- retry.new([log]) -> record. log(fmt, ...) receives one line per retry (ctx.log: -v only).
function M.new(log)
  return setmetatable({ count = 0, list = {}, log = log }, Rec)
end

--- retry.of(ctx) -> ctx.retries, made on first use (a context built by hand, e.g. a bench)
function M.of(ctx)
  ctx.retries = ctx.retries or M.new(ctx.log)
  return ctx.retries
end

--- rec:note(fmt, ...): one retry, with what failed and what happens next
function Rec:note(fmt, ...)
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  self.count = self.count + 1
  if #self.list < M.MAX_LIST then self.list[#self.list + 1] = msg end
  if self.log then self.log("retry %d: %s", self.count, msg) end
end

--- retry.message(err) -> an error's message without its "where: " prefix
function M.message(err)
  local msg = errors.is(err) and err.message or tostring(err)
  return (msg:gsub("^[%w_%-]+: ", "", 1))
end

--- rec:run(what, attempts, fn, ...) -> fn's results. A target error (kind "target": the target
-- failed or did not answer) is retried until attempts calls were made; any other error (USB,
-- bad input, a bug) goes straight through. Only for operations that may be repeated as they are.
function Rec:run(what, attempts, fn, ...)
  for attempt = 1, attempts do
    local r = table.pack(pcall(fn, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local e = r[2]
    if not errors.is(e, "target") then error(e, 0) end
    if attempt == attempts then
      if attempts > 1 then e.message = e.message .. (" (%d attempts)"):format(attempts) end
      error(e, 0)
    end
    self:note("%s: %s; trying again (%d of %d)", what, M.message(e), attempt + 1, attempts)
  end
end

--- retry.wrap(step, what, attempts) -> a recipe step (ctx, ...) that runs step through
-- ctx.retries:run: for steps that may be repeated as they are
function M.wrap(step, what, attempts)
  return function(ctx, ...) return M.of(ctx):run(what, attempts, step, ctx, ...) end
end

return M
