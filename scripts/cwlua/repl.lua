-- SPDX-License-Identifier: MIT
-- cwlua.repl: the read-eval-print loop of 'cwlua shell', as lua.c's doREPL does it: a line is
-- first tried as an expression ("return " .. line) and its values printed; otherwise lines are
-- joined until the chunk is complete (a syntax error "near <eof>" means more is coming).
-- Input comes through a reader, so the loop runs the same on a terminal (cwlua.core.readline)
-- and in a spec.
--
--   repl.run{ read = function(prompt) -> line | nil, write = io.write, err = io.stderr,
--             env = _G, traceback = false }
local M = {}

M.PROMPT, M.PROMPT2 = "> ", ">> " -- lua.c's LUA_PROMPT and LUA_PROMPT2

local EOF_MARK = "<eof>" -- how load() ends the message of an incomplete chunk (lua.c incomplete)

local function incomplete(msg)
  return msg:sub(-#EOF_MARK) == EOF_MARK
end

--- repl.load_line(first, more, env) -> chunk, source | nil, message | nil (end of input)
-- first: the first line; more(): the next line or nil. Returns the compiled chunk and the
-- whole source it was made from (for the history).
function M.load_line(first, more, env)
  local ret = load("return " .. first, "=stdin", "t", env) -- an expression: print its values
  if ret then return ret, first end
  local src = first
  while true do
    local chunk, msg = load(src, "=stdin", "t", env)
    if chunk then return chunk, src end
    if not incomplete(msg) then return nil, msg end
    local line = more()
    if line == nil then return nil, msg end -- input ended inside a chunk: report why
    src = src .. "\n" .. line
  end
end

local function tostring_all(t)
  local out = {}
  for i = 1, t.n do out[i] = tostring(t[i]) end
  return table.concat(out, "\t")
end

--- repl.run(io) -> nothing; returns when read() gives nil (end of input) or exit() is called.
-- io.read(prompt), io.write(text), io.err(text), io.env (globals; gets 'exit'),
-- io.traceback (add a traceback to errors), io.history(source) (optional), io.catch (a pcall
-- that forgets a SIGINT once the line has unwound: cwlua.core.signal.catch)
function M.run(o)
  local env = o.env or _G
  local leaving = false
  local exit_code = 0
  local function exit(code)
    leaving = true
    exit_code = code == nil and 0 or code
    error(setmetatable({}, { __name = "cwlua.repl.exit" }), 0)
  end
  rawset(env, "exit", exit)
  -- one prompt: read a (possibly multi-line) chunk, run it, print what it returns
  local function iteration()
    local line = o.read(M.PROMPT)
    if line == nil then
      leaving = true
      return
    end
    if not line:find("%S") then return end
    local chunk, src = M.load_line(line, function() return o.read(M.PROMPT2) end, env)
    if o.history then o.history(src or line) end
    if not chunk then
      o.err(src .. "\n")
      return
    end
    local r = table.pack(xpcall(chunk, function(e)
      if type(e) == "table" and getmetatable(e) and getmetatable(e).__name == "cwlua.repl.exit"
      then
        return e
      end
      local msg = tostring(e)
      if o.traceback then return debug.traceback(msg, 2) end
      return msg
    end))
    if r[1] then
      if r.n > 1 then o.write(tostring_all(table.pack(table.unpack(r, 2, r.n))) .. "\n") end
    elseif not leaving then
      o.err(tostring(r[2]) .. "\n")
    end
  end
  while not leaving do
    -- Ctrl-C interrupts what runs now, and only that: o.catch (cwlua.core.signal.catch) forgets
    -- the signal once the line has unwound, so the session goes on
    local ok, e, signo = (o.catch or pcall)(iteration)
    if not ok then
      if signo then
        o.err("interrupted\n")
      else
        error(e, 0)
      end
    end
  end
  rawset(env, "exit", nil)
  return exit_code
end

return M
