-- SPDX-License-Identifier: MIT
-- cwlua run SCRIPT [ARGS...]: run a Lua script with the cwlua API loaded, like lua.c runs one.
local errors = require "cwlua.errors"

local function run(ctx)
  local script = ctx.args[1]
  if script == nil then
    errors.raise("usage", "run needs a SCRIPT; usage: cwlua run SCRIPT [ARGS...]")
  end
  -- the script's cw.open() takes the command line's board: refuse an application model with
  -- no chip before the script starts, rather than when it opens the board
  require("cwlua.board").check_sim_app()
  -- arg as lua.c's createargtable builds it: the script at 0, its arguments at 1..n, and the
  -- words before the script (program, options, "run") at negative indices.
  local argv, pos = ctx.argv, ctx.first_arg
  local arg = {}
  for i = 0, #argv do arg[i - pos] = argv[i] end
  _G.arg = arg

  local chunk, err = loadfile(script ~= "-" and script or nil, "t")
  if not chunk then
    if errors.out_of_memory(err) then error(err, 0) end
    if err:find("^cannot open ") then
      errors.raise("usage", "%s; check the script's path", err)
    end
    errors.raise("failure", "%s", err) -- syntax error: "script:line: message"
  end
  _G.cw = require "cwlua"
  -- SIGINT/SIGTERM are thrown on by the xpcall itself (cwlua.boot): main() exits 130/143
  local ok, e = xpcall(chunk, function(m)
    if errors.is(m) or errors.out_of_memory(m) then return m end
    local what = errors.not_message(m) -- error({}) in the script: where, not "table: 0x55…"
    if what then m = ("%s: raised %s (not a message)"):format(errors.position(2) or "?", what) end
    return { message = tostring(m), traceback = debug.traceback(tostring(m), 2) }
  end, table.unpack(ctx.args, 2))
  if ok then return 0 end
  -- Not a table: out of memory (for which Lua calls no handler); the CLI reports it.
  if errors.is(e) or type(e) ~= "table" then error(e, 0) end
  if ctx.opts.verbose then errors.raise("failure", "%s", e.traceback) end
  errors.raise("failure", "%s", e.message)
end

return {
  name = "run",
  synopsis = "run SCRIPT [ARGS]",
  summary = "run a Lua script with the cwlua API loaded",
  usage = "cwlua run SCRIPT [ARGS...]",
  help = [[
Runs SCRIPT ('-' reads standard input) with the global 'cw' set to the cwlua module and the
global 'arg' set as the standalone Lua interpreter sets it: arg[0] is the script, arg[1..n] its
arguments; they are also passed as '...'. Everything after SCRIPT goes to the script.
A script error prints "script:line: message" (a traceback with -v) and exits 1; a cwlua error
raised by the script exits with its own status.

The API ('cw.open', pins, clock, serial streams, 'cw.simpleserial', 'cw.flash', ...) is described
in docs/api.md; examples/lab/ has lab scripts to start from (an AES known-answer test through
SimpleSerial, a target's banner, several boards by serial number). 'cwlua shell' tries the API
interactively.]],
  args_to_script = true,
  -- on several boards at once: the script runs once per board, each in a worker whose
  -- cw.open() is its board (cwlua.multi); the workers' standard input is empty
  many = { check = function(ctx)
    if ctx.args[1] == "-" then
      errors.raise("usage", "run - reads the script from standard input, which the workers of "
        .. "several boards do not get; give the script as a file")
    end
  end },
  text_only = "the script writes its own output (cw.json.encode makes JSON there)",
  run = run,
}
