-- SPDX-License-Identifier: MIT
-- cwlua shell: an interactive Lua prompt with the cwlua API loaded (docs/api.md "cwlua shell").
-- The board from -d (or $CWLUA_DEVICE) is open as the global 'board'; 'cw' is the cwlua module.
-- Line editing and history through libedit on a terminal (cwlua.core.readline); from a pipe,
-- lines are read plainly and nothing but results and errors is printed.
local board_mod = require "cwlua.board"
local readline = require "cwlua.core.readline"
local repl = require "cwlua.repl"

local HISTORY_LINES = 1000

local function history_path()
  local base = os.getenv("XDG_STATE_HOME")
  if base == nil or base == "" then
    local home = os.getenv("HOME")
    if home == nil or home == "" then return nil end
    base = home .. "/.local/state"
  end
  os.execute("mkdir -p '" .. (base .. "/cwlua"):gsub("'", "'\\''") .. "' 2>/dev/null")
  return base .. "/cwlua/shell_history"
end

local function run(ctx)
  if ctx.args[1] then -- a script is 'cwlua run SCRIPT'
    require("cwlua.errors").raise("usage", "unexpected argument '%s'; usage: %s (a script "
      .. "runs with 'cwlua run SCRIPT')", ctx.args[1], ctx.command.usage)
  end
  local interactive = readline.interactive()
  _G.cw = require "cwlua"
  _G.arg = {}
  local b, msg = board_mod.open_default()
  local _ <close> = b -- closed (and so restored) on every way out of the shell
  _G.board = b
  if not b then
    io.stderr:write("cwlua: shell: no board (", msg, "); 'board' is nil, cw.open() opens one\n")
  end
  if interactive and not ctx.opts.quiet then
    local what = b and ("%s %s"):format(b.kind, b.serial_number) or "none"
    io.stdout:write(("cwlua %s shell, %s; board: %s\n"):format(_G.cw.version, _VERSION, what),
      "'board' and 'cw' are ready; Ctrl-D or exit() leaves, docs/api.md has the API\n")
  end
  local hist = interactive and history_path()
  if hist then readline.load_history(hist) end
  local code = repl.run{
    read = function(prompt)
      io.stdout:flush()
      return readline.read(prompt)
    end,
    write = function(text)
      io.stdout:write(text)
      io.stdout:flush()
    end,
    err = function(text) io.stderr:write(text) end,
    history = function(src) readline.add_history((src:gsub("\n", " "))) end,
    traceback = ctx.opts.verbose,
    env = _G,
    catch = require("cwlua.core.signal").catch,
  }
  if interactive then io.stdout:write("\n") end
  if hist then
    local ok, err = readline.save_history(hist, HISTORY_LINES)
    if not ok then io.stderr:write("cwlua: shell: ", err, "\n") end
  end
  return math.type(code) == "integer" and code or 0
end

return {
  name = "shell",
  synopsis = "shell",
  summary = "interactive Lua prompt with the board open as 'board'",
  usage = "cwlua [-d SPEC] shell",
  help = [[
An interactive Lua 5.4 prompt, like the standalone 'lua': a line that is an expression prints
its values; a statement that is not finished yet continues on the next line (prompt '>>').
The board given with -d (default $CWLUA_DEVICE, else usb) is open as the global 'board', and
'cw' is the cwlua API (docs/api.md). On a terminal, lines can be edited and recalled (history
in $XDG_STATE_HOME/cwlua/shell_history); with standard input from a pipe or a file, lines are
read as they come and only results and errors are printed. Ctrl-C stops what is running (or
drops the line being typed, once Enter is pressed) and the session goes on. Ctrl-D (end of
input) or exit([code]) leaves; the board is closed and restored either way.

  cwlua -d sim --sim-target stm32f1 shell
  > board:clock()
  7384615.3846154	clkgen]],
  text_only = "it is an interactive prompt",
  one = "its prompt drives one board, open as 'board' (cw.open(SPEC) opens more)",
  run = run,
}
