-- SPDX-License-Identifier: MIT
-- The outputs the documentation shows are cwlua's real outputs. Every fenced block of the
-- Markdown files (README.md, bench/, docs/, examples/) that shows what cwlua prints carries a
-- marker on the line just before its fence, and this spec runs what the marker says on the
-- simulator and compares, line for line:
--   <!-- example: KEY=VALUE ... -->       run it (the keys: OPTION_KEYS below, and
--                                         docs/testing.md, "Examples in the documentation")
--   <!-- illustrative: REASON -->         shown, not run: REASON says why it cannot be
-- A block that looks like cwlua's output (LOOKS_LIKE below: a "$ cwlua" line, a "cwlua: "
-- message, a wire log or trace line, a progress frame, a doctor report, JSON) without a marker
-- fails here, naming its file and line, so a new example cannot go unchecked. The
-- normalisations are the few listed in `unfold` and MASKS, nothing else.
--
-- DOC_EXAMPLES_UPDATE=1 in the environment rewrites the blocks that differ with the real
-- output (blocks compared whole only: not excerpt, annotated, shell or frames), for review
-- with `git diff`; the run still fails, so nothing changes unseen.
local cli = require "support.cli"
local slurp = cli.slurp

-- The source tree, by an absolute path: the runs happen in folders of their own, which lead
-- back to it through symbolic links.
local SRC = (function()
  local p = assert(io.popen("cd " .. cli.quote(os.getenv("CWLUA_SOURCE_DIR") or ".") .. " && pwd"))
  local dir = p:read("l")
  p:close()
  return assert(dir, "no source folder")
end)()

-- This cwlua binary, by an absolute path (cli.BIN may be relative to the source tree), and
-- the build tree it is in.
local BIN = assert(require("cwlua.core.runtime").exe_path())
local BUILD = BIN:match("^(.*)/bin/cwlua$")

local UPDATE = os.getenv("DOC_EXAMPLES_UPDATE") == "1"

--------------------------------------------------------------------------------------------
-- Finding the blocks

-- The Markdown files that are documentation, relative to SRC, in a stable order.
local function doc_files()
  local list = {}
  local p = assert(io.popen("cd " .. cli.quote(SRC) .. " && find README.md bench docs examples"
    .. " -name '*.md' -type f | LC_ALL=C sort"))
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

local MARKER_START = "^%s*<!%-%-%s*(%a+):"

-- The fenced blocks of a Markdown file: { file, line (of the opening fence), lang, indent,
-- lines (the body, less the fence's indentation), marker = { kind, text, line, raw } or nil }.
-- Body line i is line `line + i` of the file. Also the markers that precede no fence.
local function blocks_of(file)
  local lines = {}
  for l in (slurp(SRC .. "/" .. file) .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  if lines[#lines] == "" then lines[#lines] = nil end
  local out, stray, used, i = {}, {}, {}, 1
  while i <= #lines do
    local indent, fence, lang = lines[i]:match("^( *)(```+)([%w_-]*)%s*$")
    if indent then
      local body, j = {}, i + 1
      while j <= #lines and not lines[j]:match("^ *" .. fence .. "%s*$") do
        body[#body + 1] = lines[j]:sub(1, #indent):match("^ *$") and lines[j]:sub(#indent + 1)
          or lines[j]
        j = j + 1
      end
      local b = { file = file, line = i, lang = lang, indent = indent, lines = body }
      -- the marker: an HTML comment that ends on the line just before the fence
      if i > 1 and lines[i - 1]:match("%-%->%s*$") then
        local k = i - 1
        while k > 1 and not lines[k]:find("<!--", 1, true) do k = k - 1 end
        local text = table.concat(lines, "\n", k, i - 1)
        local kind, rest = text:match("^%s*<!%-%-%s*(%a+):%s*(.-)%s*%-%->%s*$")
        b.marker = { kind = kind, text = rest, line = k, raw = text }
        used[k] = true
      end
      out[#out + 1] = b
      i = j + 1
    else
      i = i + 1
    end
  end
  for k, l in ipairs(lines) do
    local kind = l:match(MARKER_START)
    if (kind == "example" or kind == "illustrative") and not used[k] then
      stray[#stray + 1] = ("%s:%d: a marker must end on the line just before a fence"):format(
        file, k)
    end
  end
  return out, stray
end

-- What makes a block look like cwlua's output: the first line that matches one of these
-- patterns (after the fence's indentation) names the block. Lines of Lua or C code are not
-- looked at (```lua, ```c).
local RECIPES = (function()
  local names = {}
  local p = assert(io.popen("cd " .. cli.quote(SRC) .. "/targets && ls *.lua"))
  for f in p:lines() do names[#names + 1] = f:match("^(.-)%.lua$") end
  p:close()
  return names
end)()

local LOOKS_LIKE = {
  { "^%s*%$ .*cwlua", "a '$ cwlua' command" },
  { "^%s*cwlua: ", "a 'cwlua: ' message" },
  { "^%s*%+%d+%.%d+ [<>] ", "a wire log line" },
  { "^%s*%[sim[ %]]", "a simulator trace line" },
  { "^%s*%[sim %d", "a simulator trace line" },
  { "^%s*%a+%s+%[[# ]+%]", "a progress frame" },
  { "^%s*%a+%s+%d+%% ", "a progress frame" },
  { "^%s*%a+: %d+%% %(", "a progress line" },
  { "^%s*programmed %d+ bytes into ", "a summary line" },
  { "^%s*verified %d+ bytes of ", "a summary line" },
  { "^%s*read %d+ bytes from ", "a summary line" },
  { "^%s*erased %d+ %a+ of ", "a summary line" },
  { "^%s*captured %d+ traces of ", "a summary line" },
  { "^%s*cwlua doctor ", "a doctor report" },
  { "^%s+ok%s%s+%a", "a doctor step" },
  { "^%s+unverifiable%s%s+%a", "a doctor step" },
  { "^cause: ", "a doctor report" },
  { "\"schema\"%s*:%s*1", "cwlua's JSON" },
  { "^%s*term: ", "a 'term: ' note" },
  { "^%s*simpleserial v%d: ", "a cw.simpleserial message" },
}
for _, name in ipairs(RECIPES) do
  LOOKS_LIKE[#LOOKS_LIKE + 1] = { "^%s*" .. name .. ": ", "a recipe's log line" }
end

local function looks_like_output(b)
  if b.lang == "lua" or b.lang == "c" then return nil end
  for _, l in ipairs(b.lines) do
    for _, p in ipairs(LOOKS_LIKE) do
      if l:match(p[1]) then return p[2] .. ": " .. l end
    end
  end
  return nil
end

--------------------------------------------------------------------------------------------
-- Markers

-- What a marker may say. Keys that take a value may repeat where noted.
local OPTION_KEYS = {
  status = "value",  -- the exit status every command must give (default 0)
  env = "list",      -- NAME=VALUE for every command; a leading ~/ is the run's home
  path = "list",     -- a path the block shows that stands for a fresh empty folder
  home = "value",    -- the path the block shows for the run's home folder (HOME)
  under = "value",   -- a command prefix: each command runs as PREFIX sh -c COMMAND
  before = "list",   -- a shell command run first (output not compared; must exit 0)
  run = "list",      -- the command(s) whose output the block shows, when it shows none
  setup = "list",    -- a named set-up (SETUPS below)
  stream = "value",  -- stdout or stderr: compare that stream alone (default both, 2>&1)
  pty = "value",     -- run the following run= commands on a pseudo-terminal COLS wide
  mask = "list",     -- a named normalisation (MASKS below)
  excerpt = "flag",  -- a line "..." in the block stands for any number of lines
  annotated = "flag", -- text after two or more spaces on a line is a note, not output
  shell = "flag",    -- lines starting "> " or ">> " are typed (standard input), not output
  frames = "flag",   -- each line is one progress frame some run= command drew on its pty
}

-- The words of a marker: KEY=VALUE, KEY="VALUE WITH SPACES" (\" for a quote) or FLAG.
local function parse_marker(text)
  local o = { env = {}, path = {}, before = {}, run = {}, setup = {}, mask = {}, runs_pty = {} }
  local pos, pty = 1, nil
  while true do
    local s = text:find("%S", pos)
    if not s then break end
    local key, e = text:match("^([%a_]+)()", s)
    if not key then return nil, "cannot read the marker at '" .. text:sub(s, s + 20) .. "'" end
    local kind = OPTION_KEYS[key]
    if not kind then return nil, "unknown marker key '" .. key .. "'" end
    local value
    if text:sub(e, e) == "=" then
      if text:sub(e + 1, e + 1) == '"' then
        local buf, k = {}, e + 2
        while true do
          local ch = text:sub(k, k)
          if ch == "" then return nil, "unterminated quote after " .. key .. "=" end
          if ch == "\\" and text:sub(k + 1, k + 1) == '"' then
            buf[#buf + 1], k = '"', k + 2
          elseif ch == '"' then
            k = k + 1
            break
          else
            buf[#buf + 1], k = ch, k + 1
          end
        end
        value, pos = table.concat(buf), k
      else
        value, pos = text:match("^(%S*)()", e + 1)
      end
    else
      pos = e
    end
    if kind == "flag" then
      if value then return nil, key .. " takes no value" end
      o[key] = true
    elseif not value or value == "" then
      return nil, key .. " needs a value"
    elseif key == "pty" then
      pty = tonumber(value)
      if not pty then return nil, "pty=COLS takes a number" end
    elseif kind == "list" then
      o[key][#o[key] + 1] = value
      if key == "run" then o.runs_pty[#o.run] = pty end
    else
      o[key] = value
    end
  end
  o.status = tonumber(o.status or "0")
  if not o.status then return nil, "status takes a number" end
  if o.stream and o.stream ~= "stdout" and o.stream ~= "stderr" then
    return nil, "stream is stdout or stderr"
  end
  if #o.run > 1 and not o.frames then return nil, "several run= only with frames" end
  return o
end

--------------------------------------------------------------------------------------------
-- Running

-- A CW-Lite bitstream file the simulated FPGA accepts: the .bit header for its part and the
-- Xilinx sync word, at the size of NewAE's cwlite_interface.bit (cw-usb-protocol.md §3.4).
local function cwlite_bitstream()
  local head = "\0\9\15\240\15\240\15\240\15\240\0\0\1b" .. string.pack(">s2", "6slx9tqg144\0")
  head = head .. ("\xFF"):rep(0x86 - #head) .. "\xAA\x99\x55\x66"
  return head .. ("\0"):rep(340722 - #head)
end

-- Recipes of docs/targets.md's error examples, written to ~/recipes/ by their set-ups.
local RECIPE_HEAD = [[
local stm32 = require "cwlua.stm32"

return stm32.recipe {
  api = 1,
  name = "stm32f1",
  summary = "STM32F1 through the ROM UART bootloader (AN3155)",
  part = "stm32f100xb",
  parts = { "stm32f100xb", "stm32f103xb" },
  aliases = { CW308_STM32F1 = "stm32f100xb" },
  chips = { 0x412, 0x410, 0x414, 0x420, 0x428, 0x418, 0x430 },
]]
local RECIPE_DEFAULTS = [[
  defaults = {
    bauds = { 115200, 57600, 38400, 19200 },
    program_clock_hz = 8e6,
    boot_pin = "pdic", reset_pin = "nrst", reset_ms = 10,
    flash_start = 0x08000000,
  },
}
]]

-- Named set-ups, each run in the block's fresh folders before anything else.
local SETUPS = {
  -- ~/bitstreams/cwlite_interface.bit, for a board whose FPGA is not configured
  bitstream = function(run)
    cli.write(run.home .. "/bitstreams/cwlite_interface.bit", cwlite_bitstream())
  end,
  -- ~/recipes/stm32f1.lua, which reads an undefined global on line 12
  ["recipe-global"] = function(run)
    cli.write(run.home .. "/recipes/stm32f1.lua", "-- the lab's stm32f1, being edited\n"
      .. RECIPE_HEAD .. '  rig = prot and "cw506" or "cw308",\n' .. RECIPE_DEFAULTS)
  end,
  -- ~/recipes/x.lua, which loops while it loads, on one line (7) whatever the count
  ["recipe-loop"] = function(run)
    cli.write(run.home .. "/recipes/x.lua", [[
-- x.lua: a recipe for a new chip, half written
local stm32 = require "cwlua.stm32"

-- the bauds to try: 115200 halved down to 1200
local bauds, rate = {}, 115200
local n = 0
while rate >= 1200 do n = n + 1; bauds[n] = rate end

return stm32.recipe { api = 1, name = "x", summary = "a new chip", defaults = { bauds = bauds } }
]])
  end,
  -- ~/recipes/stm32f1.lua, whose info step raises a table (line 40)
  ["recipe-raise"] = function(run)
    cli.write(run.home .. "/recipes/stm32f1.lua", "-- the lab's stm32f1, with a line of its "
      .. "own in `cwlua info`\n" .. RECIPE_HEAD:gsub("return stm32.recipe", "local recipe = "
      .. "stm32.recipe") .. '  rig = "cw308",\n' .. RECIPE_DEFAULTS .. [[

-- The lab's boards carry their number in the last word of the flash.
local LABEL_OFFSET = 4

local function board_number(ctx, chip)
  local addr = chip.flash_start + chip.flash_size - LABEL_OFFSET
  local word = recipe.read(ctx, chip, addr, 4)
  local n = string.unpack("<I4", word)
  if n == 0xFFFFFFFF then
    return nil
  end
  return n
end

local base_info = recipe.info

function recipe.info(ctx, chip)
  local rows = base_info(ctx, chip)
  local n = board_number(ctx, chip)
  if not n then
    error({ label = "lab board", why = "no number in the last flash word" })
  end
  rows[#rows + 1] = { "lab board", ("%d"):format(n), "lab_board" }
  return rows
end

return recipe
]])
  end,
}

-- Commands on the PATH of every run, for what a simulated board alone cannot show.
local HELPERS = {
  -- deny-usb COMMAND...: COMMAND cannot open USB device nodes (EACCES), as on a machine
  -- without cwlua's udev rule (tests/usb/eacces_shim.c; give it inside `cwlua sim attach`)
  ["deny-usb"] = function()
    return "LD_PRELOAD=" .. cli.quote(BUILD .. "/tests/usb/eacces_shim.so")
      .. '"${LD_PRELOAD:+ $LD_PRELOAD}" exec "$@"\n'
  end,
  -- hold-board SERIAL COMMAND...: COMMAND runs while another program has the board open and
  -- its interface claimed, as a notebook's cw.scope() does (tests/usb/hold.py)
  ["hold-board"] = function()
    return ([[
serial=$1; shift
dir=$(mktemp -d) || exit 125
mkfifo "$dir/in" || exit 125
/usr/bin/python3 %s "$serial" "$dir/ready" <"$dir/in" & pid=$!
exec 9>"$dir/in"
while [ ! -e "$dir/ready" ]; do kill -0 $pid 2>/dev/null || exit 125; sleep 0.05; done
"$@"; rc=$?
exec 9>&-
wait $pid
rm -rf "$dir"
exit $rc
]]):format(cli.quote(SRC .. "/tests/usb/hold.py"))
  end,
}

-- Named normalisations, applied to the block and to the output alike: each replaces what
-- varies from run to run, or machine to machine, with a fixed text.
local function plain_replace(s, from, to)
  local out, i = {}, 1
  while true do
    local a, b = s:find(from, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1) .. to
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

local MASKS = {
  -- the Python interpreter found on PATH, and whether NewAE's package is installed there
  python = function(t)
    return (t:gsub("(the chipwhisperer package of python3 %()[^)]*(%))", "%1…%2"))
  end,
  -- the real-time clock of `cwlua sim adapter`'s trace
  ms = function(t) return (t:gsub("(%[sim adapter )[%d.]+( ms%])", "%1…%2")) end,
  -- the number of a pseudo-terminal the kernel hands out
  pts = function(t) return (t:gsub("/dev/pts/%d+", "/dev/pts/N")) end,
  -- durations and rates on the real-time clock of boards under `cwlua sim attach` (the
  -- table's time column of a command on several boards, a summary line's "in S s (RATE)")
  times = function(t)
    return (t:gsub("%d+%.%d+ s%f[^%w]", "S s"):gsub("%d[%d.]* [KM]?i?B/s", "RATE"))
  end,
  -- where cwlua is installed: the build tree's share/cwlua reads as /usr/local's
  prefix = function(t)
    return BUILD and plain_replace(t, BUILD .. "/share/cwlua/", "/usr/local/share/cwlua/") or t
  end,
}

local function sh_run(script)
  local ok, how, code = os.execute(script)
  if how ~= "exit" then error("sh died of signal " .. tostring(code)) end
  return ok and 0 or code
end

-- A block's own folders: home (HOME), work (the current folder, where examples/ and build/
-- lead to the source and build trees as in a clone), bin (this cwlua and HELPERS, first on
-- PATH), and one empty folder per path= of the marker.
local function new_run(o)
  local root = cli.tmpdir()
  local run = { root = root, home = root .. "/home", work = root .. "/work", n = 0, bg = {},
                paths = {} }
  local cmds = {
    "mkdir -p " .. cli.quote(run.home) .. " " .. cli.quote(run.work) .. " "
      .. cli.quote(root .. "/bin"),
    "ln -s " .. cli.quote(BIN) .. " " .. cli.quote(root .. "/bin/cwlua"),
    "ln -s " .. cli.quote(SRC .. "/examples") .. " " .. cli.quote(run.work .. "/examples"),
  }
  if BUILD then
    cmds[#cmds + 1] = "ln -s " .. cli.quote(BUILD) .. " " .. cli.quote(run.work .. "/build")
  end
  for i, p in ipairs(o.path) do
    run.paths[i] = { doc = p, real = root .. "/p" .. i }
    cmds[#cmds + 1] = "mkdir -p " .. cli.quote(run.paths[i].real)
  end
  if o.home then run.paths[#run.paths + 1] = { doc = o.home, real = run.home } end
  -- /etc/cwlua, the system config folder, is the run's own (empty until a block fills it):
  -- CWLUA_SYSCONFDIR points there, and it reads as /etc/cwlua both ways, as home= does
  run.etc = root .. "/etc/cwlua"
  run.paths[#run.paths + 1] = { doc = "/etc/cwlua", real = run.etc }
  assert(sh_run(table.concat(cmds, " && ")) == 0)
  for name, text in pairs(HELPERS) do
    cli.write(root .. "/bin/" .. name, "#!/bin/sh\n" .. text())
    assert(sh_run("chmod +x " .. cli.quote(root .. "/bin/" .. name)) == 0)
  end
  -- Hermetic, as a new user's shell: HOME is the run's, XDG_* unset (so the defaults under
  -- HOME apply), no CWLUA_* or terminal size from the machine running the tests, and the
  -- run's own /etc/cwlua.
  local env = { "env", "-u XDG_STATE_HOME", "-u XDG_CONFIG_HOME", "-u CWLUA_PATH",
                "-u CWLUA_DEVICE", "-u CWLUA_BITSTREAM", "-u CWLUA_SIM_TRACE",
                "-u CWLUA_SIM_ADAPTER", "-u COLUMNS", "-u LINES", "-u LD_PRELOAD",
                "-u PYTHONPATH", "-u CWLUA_CONFIG",
                "CWLUA_SYSCONFDIR=" .. cli.quote(run.etc),
                "PATH=" .. cli.quote(root .. "/bin:/usr/bin:/bin"),
                "HOME=" .. cli.quote(run.home) }
  for _, kv in ipairs(o.env) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    assert(k, "env=NAME=VALUE: " .. kv)
    env[#env + 1] = k .. "=" .. cli.quote((v:gsub("^~/", run.home .. "/")))
  end
  run.env = table.concat(env, " ")
  return run
end

-- The command the block shows, as this run types it: ./dev/cwlua is the cwlua on PATH (it
-- builds first, which the suite has done), the paths of path= are the run's folders, and a
-- /dev/pts/N the block shows is the pty an earlier command printed (mask=pts).
local function prepare(run, cmd)
  cmd = cmd:gsub("%./dev/cwlua", "cwlua")
  for _, p in ipairs(run.paths) do cmd = plain_replace(cmd, p.doc, p.real) end
  if run.pts then cmd = cmd:gsub("/dev/pts/%d+", run.pts) end
  return cmd
end

local function script_line(run, o, cmd)
  return o.under and (prepare(run, o.under) .. " sh -c " .. cli.quote(prepare(run, cmd)))
    or prepare(run, cmd)
end

-- Runs one command in the run's folders: { status, out } (out: stdout and stderr as one
-- stream, or the one stream= names).
local function exec(run, o, cmd, stdin, pty)
  run.n = run.n + 1
  local base = ("%s/c%d"):format(run.root, run.n)
  cli.write(base .. ".sh", "cd " .. cli.quote(run.work) .. " || exit 125\n"
    .. script_line(run, o, cmd) .. "\n")
  cli.write(base .. ".in", stdin or "")
  local prog = run.env .. " sh " .. cli.quote(base .. ".sh")
  if pty then
    prog = run.env .. " /usr/bin/python3 " .. cli.quote(SRC .. "/spec/support/pty_run.py")
      .. " " .. pty .. " 24 sh " .. cli.quote(base .. ".sh")
  end
  local redirect = " >" .. base .. ".out 2>&1"
  if o.stream == "stdout" then redirect = " >" .. base .. ".out 2>/dev/null" end
  if o.stream == "stderr" then redirect = " 2>" .. base .. ".out >/dev/null" end
  local status = sh_run("timeout -k 5 120 " .. prog .. redirect .. " <" .. base .. ".in")
  return { status = status, out = slurp(base .. ".out") }
end

-- Starts a command that keeps running ("$ COMMAND &"), in a session of its own so that it
-- and its children can be stopped at the end; returns what it printed until its first line.
local function exec_background(run, o, cmd)
  run.n = run.n + 1
  local base = ("%s/c%d"):format(run.root, run.n)
  cli.write(base .. ".sh", "cd " .. cli.quote(run.work) .. " || exit 125\nexec "
    .. script_line(run, o, cmd) .. "\n")
  cli.write(base .. ".out", "")
  assert(sh_run(run.env .. " setsid sh " .. cli.quote(base .. ".sh") .. " >" .. base
    .. ".out 2>&1 </dev/null & echo $! >" .. base .. ".pid") == 0)
  run.bg[#run.bg + 1] = tonumber(slurp(base .. ".pid"))
  for _ = 1, 200 do
    local out = slurp(base .. ".out")
    if out:find("\n") then return { out = out } end
    sh_run("sleep 0.05")
  end
  return { out = slurp(base .. ".out") }
end

-- Stops each background command's process group: SIGTERM, up to 5 s for its leader to end
-- (gone, or a zombie nobody reaps), then SIGKILL for whatever is left. (/bin/sh's kill takes
-- no "--": a negative number right after the signal is the group.)
local function stop_background(run)
  for _, pid in ipairs(run.bg) do
    sh_run(("kill -TERM -%d 2>/dev/null"):format(pid))
    for _ = 1, 100 do
      local f = io.open("/proc/" .. pid .. "/stat", "r")
      local stat = f and f:read("a")
      if f then f:close() end
      if not stat or stat:match("^%d+ %b() (%a)") == "Z" then break end
      sh_run("sleep 0.05")
    end
    sh_run(("kill -KILL -%d 2>/dev/null"):format(pid))
  end
  run.bg = {}
end

--------------------------------------------------------------------------------------------
-- Comparing

-- What both sides get: a terminal shows "\r\n" as a line break; the run's folders read as
-- the paths the block shows; the masks the marker names.
local function unfold(run, text)
  text = text:gsub("\r\n", "\n")
  for _, p in ipairs(run.paths) do text = plain_replace(text, p.real, p.doc) end
  return text
end

local function masked(o, text)
  for _, m in ipairs(o.mask) do text = MASKS[m](text) end
  return text
end

local function split(text)
  local lines = {}
  if text == "" then return lines end
  for l in (text:gsub("\n$", "") .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  return lines
end

local function strip_note(line)
  return (line:gsub("%s%s+%S.*$", ""))
end

-- A line diff of want against got (longest common subsequence): "  " both, "- " shown
-- only, "+ " real output only.
local function line_diff(want, got)
  local n, m = #want, #got
  local L = {}
  for i = n + 1, 1, -1 do
    L[i] = {}
    for j = m + 1, 1, -1 do
      if i > n or j > m then
        L[i][j] = 0
      elseif want[i] == got[j] then
        L[i][j] = L[i + 1][j + 1] + 1
      else
        L[i][j] = math.max(L[i + 1][j], L[i][j + 1])
      end
    end
  end
  local out, i, j = {}, 1, 1
  while i <= n or j <= m do
    if i <= n and j <= m and want[i] == got[j] then
      out[#out + 1] = "    " .. want[i]
      i, j = i + 1, j + 1
    elseif i <= n and (j > m or L[i + 1][j] >= L[i][j + 1]) then
      out[#out + 1] = "  - " .. want[i]
      i = i + 1
    else
      out[#out + 1] = "  + " .. got[j]
      j = j + 1
    end
  end
  return table.concat(out, "\n")
end

-- Does the real output (lines) read as the shown lines say? nil when it does, else
-- { why, at = index of the first shown line in question, text = the report }.
local function compare(want, got, o)
  if not o.excerpt then
    local k = 1
    while k <= math.max(#want, #got) and want[k] == got[k] do k = k + 1 end
    if k > math.max(#want, #got) then return nil end
    return { at = math.min(k, math.max(#want, 1)),
             text = "the output differs (- shown, + real output):\n" .. line_diff(want, got) }
  end
  -- excerpt: runs of shown lines between "..." lines, found in order
  local segs, cur = {}, nil
  local open_start, open_end = want[1] == "...", want[#want] == "..."
  for idx, l in ipairs(want) do
    if l == "..." then
      cur = nil
    else
      if not cur then
        cur = { at = idx }
        segs[#segs + 1] = cur
      end
      cur[#cur + 1] = l
    end
  end
  local from = 1
  for si, seg in ipairs(segs) do
    local function fits(k)
      for j = 1, #seg do if got[k + j - 1] ~= seg[j] then return false end end
      return true
    end
    local found
    if si == 1 and not open_start then
      found = fits(1) and 1 or nil
    elseif si == #segs and not open_end then
      local k = #got - #seg + 1
      found = k >= from and fits(k) and k or nil
    else
      for k = from, #got - #seg + 1 do
        if fits(k) then
          found = k
          break
        end
      end
    end
    if not found then
      local where = (si == 1 and not open_start) and "at the start of"
        or (si == #segs and not open_end) and "at the end of" or "in"
      return { at = seg.at, text = "these shown lines are not " .. where .. " the output"
        .. (si > 1 and " after the lines before them" or "") .. ":\n    "
        .. table.concat(seg, "\n    ") .. "\nthe real output:\n    "
        .. table.concat(got, "\n    ") }
    end
    from = found + #seg
  end
  return nil
end

-- The commands a block shows ("$ " lines, "\" continuing them) and the lines after each,
-- with the index in the block of the first shown line (`from`, where an update writes).
local function transcript(lines)
  local steps, cur = {}, nil
  local i = 1
  while i <= #lines do
    local l = lines[i]
    if l:match("^%$ ") then
      local cmd = l:sub(3)
      while cmd:match("\\$") and i < #lines do
        i = i + 1
        cmd = cmd .. "\n" .. lines[i]
      end
      local continued = select(2, cmd:gsub("\n", ""))
      cur = { cmd = cmd, shown = {}, at = {}, from = i + 1, cmd_at = i - continued }
      steps[#steps + 1] = cur
    elseif cur then
      cur.shown[#cur.shown + 1] = l
      cur.at[#cur.at + 1] = i
    else
      return nil, "output before the first '$ ' line: " .. l
    end
    i = i + 1
  end
  return steps
end

-- The frames a run drew on its pty: what stands between carriage returns and line breaks,
-- without the erase-to-end-of-line that ends each.
local function frames_of(out, set, list)
  for piece in (out:gsub("\r\n", "\n"):gsub("\r", "\n") .. "\n"):gmatch("(.-)\n") do
    piece = piece:gsub("\27%[K", "")
    if piece ~= "" and not set[piece] then
      set[piece] = true
      list[#list + 1] = piece
    end
  end
end

-- Rewrites waiting for the end of the run (DOC_EXAMPLES_UPDATE=1): file -> list of
-- { first, count, lines } in the file's own line numbers.
local EDITS = {}

local function note_edit(b, first, count, lines)
  local list = EDITS[b.file] or {}
  EDITS[b.file] = list
  local out = {}
  for i, l in ipairs(lines) do out[i] = (l == "" and "" or b.indent .. l) end
  list[#list + 1] = { first = b.line + first, count = count, lines = out }
end

local function apply_edits()
  for file, list in pairs(EDITS) do
    local lines = {}
    for l in (slurp(SRC .. "/" .. file) .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
    table.sort(list, function(a, b) return a.first > b.first end)
    for _, e in ipairs(list) do
      for _ = 1, e.count do table.remove(lines, e.first) end
      for k = #e.lines, 1, -1 do table.insert(lines, e.first, e.lines[k]) end
    end
    local f = assert(io.open(SRC .. "/" .. file, "wb"))
    f:write(table.concat(lines, "\n"))
    f:close()
  end
  EDITS = {}
end

local function check_block(b, o)
  local run = new_run(o)
  for _, name in ipairs(o.setup) do
    assert(SETUPS[name], "unknown setup '" .. name .. "'")(run)
  end
  for _, m in ipairs(o.mask) do assert(MASKS[m], "unknown mask '" .. m .. "'") end
  local where = b.file .. ":" .. b.line
  for _, cmd in ipairs(o.before) do
    local r = exec(run, { env = {} }, cmd)
    assert(r.status == 0, where .. ": before=" .. cmd .. " exited " .. r.status .. ":\n" .. r.out)
  end
  local ok, err = pcall(function()
    if o.frames then
      -- as many runs as lines: line i is a frame of run i; else of any run
      local paired = #o.run == #b.lines
      local per, all, all_list = {}, {}, {}
      for i, cmd in ipairs(o.run) do
        local r = exec(run, o, cmd, nil, o.runs_pty[i] or 80)
        assert(r.status == o.status, where .. ": " .. cmd .. " exited " .. r.status .. ", not "
          .. o.status .. ":\n" .. r.out)
        local out = masked(o, unfold(run, r.out))
        per[i] = { set = {}, list = {} }
        frames_of(out, per[i].set, per[i].list)
        frames_of(out, all, all_list)
      end
      for i, l in ipairs(b.lines) do
        local set, seen, by = all, all_list, "no run drew"
        if paired then
          set, seen = per[i].set, per[i].list
          by = ("%s on a %d-column pty did not draw"):format(o.run[i], o.runs_pty[i] or 80)
        end
        if not set[masked(o, l)] then
          error(("%s:%d: %s this frame:\n    %s\nthe frames it drew:\n    %s"):format(
            b.file, b.line + i, by, l, table.concat(seen, "\n    ")), 0)
        end
      end
      return
    end
    local steps
    if #o.run > 0 then
      local at = {}
      for i = 1, #b.lines do at[i] = i end
      steps = { { cmd = o.run[1], shown = b.lines, at = at, from = 1, cmd_at = 0 } }
    else
      local why
      steps, why = transcript(b.lines)
      assert(steps and #steps > 0, where .. ": " .. (why or "shows no '$ ' command"))
    end
    for _, step in ipairs(steps) do
      local want, at, input = {}, {}, {}
      for k, l in ipairs(step.shown) do
        local typed = o.shell and (l:match("^> (.*)$") or l:match("^>> (.*)$"))
        if typed then
          input[#input + 1] = typed .. "\n"
        else
          want[#want + 1] = masked(o, unfold(run, o.annotated and strip_note(l) or l))
          at[#at + 1] = step.at[k]
        end
      end
      local r
      local shown_cmd = "$ " .. step.cmd:gsub("\n", "\n  ")
      if step.cmd:match("%s&$") then
        r = exec_background(run, o, (step.cmd:gsub("%s*&$", "")))
      else
        r = exec(run, o, step.cmd, table.concat(input))
        if r.status ~= o.status then
          error(("%s:%d: %s\nexited %d, not %d; its output:\n%s"):format(b.file,
            b.line + step.cmd_at, shown_cmd, r.status, o.status,
            r.out), 0)
        end
      end
      if not run.pts then run.pts = r.out:match("/dev/pts/%d+") end
      local real = split(unfold(run, r.out))
      local got = {}
      for k, l in ipairs(real) do got[k] = masked(o, l) end
      local why = compare(want, got, o)
      if why then
        local line = b.line + (at[why.at] or step.from)
        local msg = ("%s:%d: %s\n%s"):format(b.file, line, shown_cmd, why.text)
        if UPDATE and not (o.excerpt or o.annotated or o.shell) then
          -- the real lines, keeping the block's own text where only a mask tells them apart
          local new = {}
          for k, l in ipairs(real) do
            new[k] = (step.shown[k] and masked(o, step.shown[k]) == got[k]) and step.shown[k] or l
          end
          note_edit(b, step.from, #step.shown, new)
          msg = msg .. "\n(DOC_EXAMPLES_UPDATE=1: the block now shows the real output)"
        end
        error(msg, 0)
      end
    end
  end)
  stop_background(run)
  if not ok then error(err, 0) end
end

--------------------------------------------------------------------------------------------

local ALL, STRAY = {}, {}
for _, f in ipairs(doc_files()) do
  local blocks, stray = blocks_of(f)
  for _, b in ipairs(blocks) do ALL[#ALL + 1] = b end
  for _, s in ipairs(stray) do STRAY[#STRAY + 1] = s end
end

describe("the documentation's examples", function()
  after_each(cli.cleanup)
  teardown(apply_edits)

  it("have markers that read: known keys, and a reason for each illustrative block", function()
    local bad = {}
    for _, s in ipairs(STRAY) do bad[#bad + 1] = s end
    for _, b in ipairs(ALL) do
      local m = b.marker
      if m then
        local where = ("%s:%d: "):format(b.file, m.line)
        if m.kind == "example" then
          local o, why = parse_marker(m.text)
          if not o then bad[#bad + 1] = where .. why end
        elseif m.kind == "illustrative" then
          if #m.text < 20 then bad[#bad + 1] = where .. "illustrative needs a reason" end
        else
          bad[#bad + 1] = where .. "a comment before a fence must be <!-- example: … --> or"
            .. " <!-- illustrative: REASON -->, not " .. m.raw
        end
      end
    end
    assert.are.same({}, bad)
  end)

  it("are marked wherever a block shows what cwlua prints", function()
    local bad = {}
    for _, b in ipairs(ALL) do
      local why = not b.marker and looks_like_output(b)
      if why then
        bad[#bad + 1] = ("%s:%d: shows %s\n  (mark it <!-- example: … --> or <!-- "
          .. "illustrative: REASON -->; docs/testing.md, \"Examples in the documentation\")")
          :format(b.file, b.line, why)
      end
    end
    if #bad > 0 then error(table.concat(bad, "\n"), 0) end
  end)

  for _, b in ipairs(ALL) do
    if b.marker and b.marker.kind == "example" then
      local o = parse_marker(b.marker.text)
      if o then
        it(("%s:%d shows what cwlua prints"):format(b.file, b.line), function()
          -- Under `sim attach` the simulated board runs in real time: a host descheduled for
          -- longer than the board's 200-byte USART buffer lasts loses bytes and says so (a
          -- retry warning), as on hardware. Such a block gets one more run on a fresh set-up;
          -- the second must match exactly. In-process runs are on the virtual clock: one run.
          local ok, err = pcall(check_block, b, o)
          if not ok and o.under and not UPDATE then ok, err = pcall(check_block, b, o) end
          if not ok then error(err, 0) end
        end)
      end
    end
  end
end)
