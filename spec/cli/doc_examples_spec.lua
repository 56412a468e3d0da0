-- SPDX-License-Identifier: MIT
-- The outputs the documentation shows are cwlua's real outputs. Every fenced block of the
-- Markdown files (README.md, bench/, docs/, examples/) that shows what cwlua prints carries a
-- marker on the line just before its fence, and this spec runs what the marker says on the
-- simulator and compares, line for line:
--   <!-- example: KEY=VALUE ... -->       run it (the keys: docs/testing.md, "Examples in
--                                         the documentation", and OPTION_KEYS below)
--   <!-- illustrative: REASON -->         shown, not run: REASON says why it cannot be
-- A block that looks like cwlua's output (a "$ cwlua" line, a "cwlua: " message, a wire log or
-- trace line, a progress frame) without a marker fails here, so a new example cannot go
-- unchecked. The normalisations are the few listed in `normalise` and MASKS, nothing else.
local cli = require "support.cli"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The source tree, by an absolute path: the runs happen in folders of their own, which lead
-- back to it through symbolic links.
local SRC = (function()
  local p = assert(io.popen("cd " .. cli.quote(os.getenv("CWLUA_SOURCE_DIR") or ".") .. " && pwd"))
  local dir = p:read("l")
  p:close()
  return assert(dir, "no source folder")
end)()

-- This cwlua binary, by an absolute path (cli.BIN may be relative to the source tree).
local BIN = assert(require("cwlua.core.runtime").exe_path())

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

-- The fenced blocks of a Markdown file: { file, line (of the opening fence), lines (the body,
-- less the fence's indentation), marker = { kind, text, line } or nil }.
local function blocks_of(file)
  local lines = {}
  for l in (slurp(SRC .. "/" .. file) .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
  local out, i = {}, 1
  while i <= #lines do
    local indent, fence = lines[i]:match("^( *)(```+)[%w_-]*%s*$")
    if indent then
      local body, j = {}, i + 1
      while j <= #lines and not lines[j]:match("^ *" .. fence .. "%s*$") do
        body[#body + 1] = lines[j]:sub(1, #indent):match("^ *$") and lines[j]:sub(#indent + 1)
          or lines[j]
        j = j + 1
      end
      local b = { file = file, line = i, lines = body }
      -- the marker: an HTML comment that ends on the line just before the fence
      if i > 1 and lines[i - 1]:match("%-%->%s*$") then
        local k = i - 1
        while k > 1 and not lines[k]:find("<!--", 1, true) do k = k - 1 end
        local text = table.concat(lines, "\n", k, i - 1)
        local kind, rest = text:match("^%s*<!%-%-%s*(%a+):%s*(.-)%s*%-%->%s*$")
        b.marker = { kind = kind, text = rest, line = k, raw = text }
      end
      out[#out + 1] = b
      i = j + 1
    else
      i = i + 1
    end
  end
  return out
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
      pty = assert(tonumber(value), "pty=COLS")
    elseif kind == "list" then
      o[key][#o[key] + 1] = value
      if key == "run" then o.runs_pty[#o.run] = pty end
    else
      o[key] = value
    end
  end
  o.status = tonumber(o.status or "0")
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

-- Named set-ups, each run in the block's fresh folders before anything else.
local SETUPS = {
  -- ~/bitstreams/cwlite_interface.bit, for a board whose FPGA is not configured
  bitstream = function(run)
    cli.write(run.home .. "/bitstreams/cwlite_interface.bit", cwlite_bitstream())
  end,
}

-- Named normalisations, applied to the block and to the output alike: each replaces what
-- varies from run to run, or machine to machine, with a fixed text.
local MASKS = {
  -- the Python interpreter found on PATH, and whether NewAE's package is installed there
  python = { "(the chipwhisperer package of python3 %()[^)]*(%))", "%1…%2" },
  -- the real-time clock of `cwlua sim adapter`'s trace
  ms = { "(%[sim adapter )[%d.]+( ms%])", "%1…%2" },
  -- the number of a pseudo-terminal the kernel hands out
  pts = { "/dev/pts/%d+", "/dev/pts/N" },
}

local function sh_run(script)
  local ok, how, code = os.execute(script)
  if how ~= "exit" then error("sh died of signal " .. tostring(code)) end
  return ok and 0 or code
end

-- A block's own folders: home (HOME), work (the current folder, where examples/ and build/
-- lead to the source and build trees as in a clone), bin (this cwlua first on PATH), and
-- one empty folder per path= of the marker.
local function new_run(o)
  local root = cli.tmpdir()
  local run = { root = root, home = root .. "/home", work = root .. "/work", n = 0, bg = {},
                paths = {} }
  local build = BIN:match("^(.*)/bin/cwlua$")
  local cmds = {
    "mkdir -p " .. cli.quote(run.home) .. " " .. cli.quote(run.work) .. " "
      .. cli.quote(root .. "/bin"),
    "ln -s " .. cli.quote(BIN) .. " " .. cli.quote(root .. "/bin/cwlua"),
    "ln -s " .. cli.quote(SRC .. "/examples") .. " " .. cli.quote(run.work .. "/examples"),
  }
  if build then
    cmds[#cmds + 1] = "ln -s " .. cli.quote(build) .. " " .. cli.quote(run.work .. "/build")
  end
  for i, p in ipairs(o.path) do
    run.paths[i] = { doc = p, real = root .. "/p" .. i }
    cmds[#cmds + 1] = "mkdir -p " .. cli.quote(run.paths[i].real)
  end
  if o.home then run.paths[#run.paths + 1] = { doc = o.home, real = run.home } end
  assert(sh_run(table.concat(cmds, " && ")) == 0)
  -- Hermetic, as a new user's shell: HOME is the run's, XDG_* unset (so the defaults under
  -- HOME apply), no CWLUA_* or terminal size from the machine running the tests.
  local env = { "env", "-u XDG_STATE_HOME", "-u XDG_CONFIG_HOME", "-u CWLUA_PATH",
                "-u CWLUA_DEVICE", "-u CWLUA_BITSTREAM", "-u CWLUA_SIM_TRACE",
                "-u CWLUA_SIM_ADAPTER", "-u COLUMNS", "-u LINES", "-u LD_PRELOAD",
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

-- The command the block shows, as this run types it: ./dev/cwlua is the cwlua on PATH (it
-- builds first, which the suite has done), the paths of path= are the run's folders, and a
-- /dev/pts/N the block shows is the pty an earlier command printed (mask=pts).
local function prepare(run, cmd)
  cmd = cmd:gsub("%./dev/cwlua", "cwlua")
  for _, p in ipairs(run.paths) do cmd = plain_replace(cmd, p.doc, p.real) end
  if run.pts then cmd = cmd:gsub("/dev/pts/%d+", run.pts) end
  return cmd
end

-- Runs one command in the run's folders: { status, out } (out: stdout and stderr as one
-- stream, or the one stream= names).
local function exec(run, o, cmd, stdin, pty)
  run.n = run.n + 1
  local base = ("%s/c%d"):format(run.root, run.n)
  local line = o.under and (prepare(run, o.under) .. " sh -c " .. cli.quote(prepare(run, cmd)))
    or prepare(run, cmd)
  cli.write(base .. ".sh", "cd " .. cli.quote(run.work) .. " || exit 125\n" .. line .. "\n")
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
  local line = o.under and (prepare(run, o.under) .. " sh -c " .. cli.quote(prepare(run, cmd)))
    or prepare(run, cmd)
  cli.write(base .. ".sh", "cd " .. cli.quote(run.work) .. " || exit 125\nexec " .. line .. "\n")
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

local function stop_background(run)
  for _, pid in ipairs(run.bg) do
    sh_run(("kill -TERM -- -%d 2>/dev/null; i=0; while kill -0 -- -%d 2>/dev/null && "
      .. "[ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; kill -KILL -- -%d 2>/dev/null")
      :format(pid, pid, pid))
  end
  run.bg = {}
end

--------------------------------------------------------------------------------------------
-- Comparing

-- What both sides get: a terminal shows "\r\n" as a line break; the run's folders read as
-- the paths the block shows; the masks the marker names.
local function normalise(run, o, text)
  text = text:gsub("\r\n", "\n")
  for _, p in ipairs(run.paths) do text = plain_replace(text, p.real, p.doc) end
  for _, m in ipairs(o.mask) do text = text:gsub(MASKS[m][1], MASKS[m][2]) end
  return text
end

local function strip_note(line)
  return (line:gsub("%s%s+%S.*$", ""))
end

-- Does output (a string) read as the shown lines say? nil when it does, else why not.
local function compare(shown, output, o)
  local got = {}
  for l in (output:gsub("\n$", "") .. "\n"):gmatch("(.-)\n") do got[#got + 1] = l end
  if output == "" then got = {} end
  local want = {}
  for i, l in ipairs(shown) do want[i] = o.annotated and strip_note(l) or l end
  local function diff(why)
    return why .. "\n--- shown:\n" .. table.concat(want, "\n") .. "\n--- real output:\n"
      .. table.concat(got, "\n")
  end
  if not o.excerpt then
    if table.concat(want, "\n") ~= table.concat(got, "\n") then
      return diff("the output differs")
    end
    return nil
  end
  -- excerpt: runs of shown lines between "..." lines, found in order
  local segs, cur = {}, {}
  local open_start, open_end = want[1] == "...", want[#want] == "..."
  for _, l in ipairs(want) do
    if l == "..." then
      if #cur > 0 then segs[#segs + 1] = cur end
      cur = {}
    else
      cur[#cur + 1] = l
    end
  end
  if #cur > 0 then segs[#segs + 1] = cur end
  local at = 1
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
      found = k >= at and fits(k) and k or nil
    else
      for k = at, #got - #seg + 1 do
        if fits(k) then found = k break end
      end
    end
    if not found then
      return diff("the lines from '" .. seg[1] .. "' are not in the output, in this order")
    end
    at = found + #seg
  end
  return nil
end

-- The commands a block shows ("$ " lines, "\" continuing them) and the lines after each.
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
      cur = { cmd = cmd, shown = {}, input = {} }
      steps[#steps + 1] = cur
    elseif cur then
      cur.shown[#cur.shown + 1] = l
    else
      return nil, "output before the first '$ ' line: " .. l
    end
    i = i + 1
  end
  return steps
end

-- The frames a run drew on its pty: what stands between carriage returns and line breaks,
-- without the erase-to-end-of-line that ends each.
local function frames_of(out)
  local set = {}
  for piece in (out:gsub("\r\n", "\n"):gsub("\r", "\n") .. "\n"):gmatch("(.-)\n") do
    set[(piece:gsub("\27%[K", ""))] = true
  end
  return set
end

local function check_block(b, o)
  local run = new_run(o)
  for _, name in ipairs(o.setup) do
    assert(SETUPS[name], "unknown setup '" .. name .. "'")(run)
  end
  for _, m in ipairs(o.mask) do assert(MASKS[m], "unknown mask '" .. m .. "'") end
  for _, cmd in ipairs(o.before) do
    local r = exec(run, { env = {} }, cmd)
    assert(r.status == 0, "before=" .. cmd .. " exited " .. r.status .. ":\n" .. r.out)
  end
  local where = b.file .. ":" .. b.line
  local ok, err = pcall(function()
    if o.frames then
      local shown = {}
      for _, l in ipairs(b.lines) do shown[#shown + 1] = normalise(run, o, l) end
      local drawn = {}
      for i, cmd in ipairs(o.run) do
        local r = exec(run, o, cmd, nil, o.runs_pty[i] or 80)
        assert(r.status == o.status, where .. ": " .. cmd .. " exited " .. r.status .. "\n"
          .. r.out)
        for f in pairs(frames_of(r.out)) do drawn[f] = true end
      end
      for _, l in ipairs(shown) do
        assert(drawn[l], where .. ": no run drew the frame\n" .. l)
      end
      return
    end
    local steps
    if #o.run > 0 then
      steps = { { cmd = o.run[1], shown = b.lines } }
      assert(#o.run == 1, where .. ": several run= only with frames")
    else
      local why
      steps, why = transcript(b.lines)
      assert(steps and #steps > 0, where .. ": " .. (why or "shows no '$ ' command"))
    end
    for _, step in ipairs(steps) do
      local shown, input = {}, {}
      for _, l in ipairs(step.shown) do
        local typed = o.shell and (l:match("^> (.*)$") or l:match("^>> (.*)$"))
        if typed then input[#input + 1] = typed .. "\n" else shown[#shown + 1] = l end
      end
      local r
      if step.cmd:match("%s&$") then
        r = exec_background(run, o, step.cmd:gsub("%s*&$", ""))
      else
        r = exec(run, o, step.cmd, table.concat(input))
        assert.are.equal(o.status, r.status, where .. ": exit status of " .. step.cmd
          .. "\n" .. r.out)
      end
      if r.out:match("/dev/pts/%d+") and not run.pts then
        run.pts = r.out:match("/dev/pts/%d+")
      end
      local text = normalise(run, o, table.concat(shown, "\n"))
      local lines = {}
      for l in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = l end
      if #shown == 0 then lines = {} end
      local why = compare(lines, normalise(run, o, r.out), o)
      assert(why == nil, where .. ": $ " .. step.cmd .. "\n" .. tostring(why))
    end
  end)
  stop_background(run)
  if not ok then error(err, 0) end
end

--------------------------------------------------------------------------------------------

local ALL = {}
for _, f in ipairs(doc_files()) do
  for _, b in ipairs(blocks_of(f)) do ALL[#ALL + 1] = b end
end

describe("the documentation's examples", function()
  after_each(cli.cleanup)

  it("have markers that read: known keys, and a reason for each illustrative block", function()
    local bad = {}
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

  for _, b in ipairs(ALL) do
    if b.marker and b.marker.kind == "example" then
      local o = parse_marker(b.marker.text)
      if o then
        it(("%s:%d shows what cwlua prints"):format(b.file, b.line), function()
          check_block(b, o)
        end)
      end
    end
  end
end)
