-- SPDX-License-Identifier: MIT
-- cwlua.multi: a command on several boards at once (-d usb:*, -d usb:A,usb:B, -d
-- sim:cwlite@A,sim:cwlite@B; contract.md §3.4), and cw.each for scripts.
--
-- One worker per board: a child cwlua with -d naming that board and the rest of the command
-- line as given, so each board gets exactly what the single-board command does — its checks,
-- its retries, its snapshot and restore, its exit status and cause. The workers run at the
-- same time (real parallelism: separate processes, on as many cores as there are), and this
-- process listens to them (cwlua.core.proc): their stderr is relayed line by line marked with
-- the board, their progress (cwlua.worker) drawn as one line per board on a terminal, their
-- results gathered into a table or one JSON object. A board that fails never stops the
-- others; the exit status is the highest of the boards'. SIGINT or SIGTERM is passed on to
-- every worker, once; each puts its board back and ends, and then this process ends too.
-- docs/architecture.md "Several boards at once" has the whole design.
local connect = require "cwlua.connect"
local device = require "cwlua.core.device"
local errors = require "cwlua.errors"
local json = require "cwlua.json"
local proc = require "cwlua.core.proc"
local progress = require "cwlua.progress"
local runtime = require "cwlua.core.runtime"
local signal = require "cwlua.core.signal"
local tty = require "cwlua.core.tty"

local M = {}

local REDRAW_NS = 100000000 -- the live lines at most 10 times a second, as a progress bar
local POLL_MS = 100
-- A worker told to stop puts its board back within a second or two (contract.md §3.8); one
-- that has not ended by then is stuck, and is killed so that this process can end.
local STOP_GRACE_NS = 30 * 1000000000

---------------------------------------------------------------------------------------------
-- the boards of a spec

--- multi.safe_name(serial) -> the serial as a file name part: letters, digits, '.', '_' and
-- '-' kept, anything else (a '/' of a made-up serial) as '_'
function M.safe_name(serial)
  return (serial:gsub("[^%w._-]", "_"))
end

--- multi.per_board_path(path, serial) -> PATH with -SERIAL before its extension:
-- flash.hex -> flash-LAB-01.hex, out/dump -> out/dump-LAB-01 (read's OUT on several boards)
function M.per_board_path(path, serial)
  local dir, base = path:match("^(.-)([^/]*)$")
  local stem, ext = base:match("^(.+)(%.[^.]*)$")
  if not stem then stem, ext = base, "" end
  return dir .. stem .. "-" .. M.safe_name(serial) .. ext
end

--- multi.per_board_dir(dir, serial) -> DIR/SERIAL: a folder of each board's own (for a
-- command whose output is a folder, e.g. a capture)
function M.per_board_dir(dir, serial)
  return dir:gsub("/+$", "") .. "/" .. M.safe_name(serial)
end

local function bus_label(e)
  return ("usb %03d/%03d"):format(e.bus, e.address)
end

--- multi.boards(parsed) -> { {spec, serial, kind, fail = {status, cause, error} | nil}, ... }
-- in the order the spec gives them (usb:*: bus order). usb:* with no board attached raises
-- (exit 3, no-board); a board that cannot be opened or asked its serial number is a row that
-- failed before it started.
function M.boards(parsed)
  if not parsed.all then
    local rows = {}
    for _, item in ipairs(parsed.items) do
      rows[#rows + 1] = { spec = item.spec, serial = item.serial,
        kind = item.kind == "sim" and item.board or nil, sim = item.kind == "sim" }
    end
    return rows
  end
  -- serial numbers as the kernel read them: each worker opens its own board anyway, and would
  -- report one it cannot open; opening them all here first would cost a second per 30 boards
  local list, msg, code = device.usb_list({ open = false })
  if not list then errors.raise("device", "usb:*: %s%s", msg, connect.hint(code)) end
  local found = {}
  for _, e in ipairs(list) do
    if e.kind ~= "" then found[#found + 1] = e end
  end
  table.sort(found, function(a, b)
    return a.bus < b.bus or (a.bus == b.bus and a.address < b.address)
  end)
  if #found == 0 then
    error(errors.new("device", "usb:*: no ChipWhisperer board found; connect them (cwlua list "
      .. "shows what is attached), or try it on simulated ones: cwlua sim attach "
      .. "cwlite:stm32f1@A cwlite:stm32f1@B -- cwlua -d 'usb:*' ...", { code = "no_device" }), 0)
  end
  local rows = {}
  for _, e in ipairs(found) do
    local row = { kind = e.kind }
    if e.code then
      row.serial = bus_label(e)
      row.fail = { status = errors.EXIT.device, cause = connect.CAUSE[e.code] or "board-error",
        error = ("cannot open the %s at %s: %s%s"):format(e.kind, bus_label(e), e.error,
          connect.hint(e.code)) }
    elseif e.serial == "" then
      row.serial = bus_label(e)
      row.fail = { status = errors.EXIT.device, cause = "board-error", error = ("the %s at %s "
        .. "has no serial number, so it cannot be told apart from the others"):format(e.kind,
        bus_label(e)) }
    else
      row.serial, row.spec = e.serial, "usb:" .. e.serial
      row.at = ("%d:%d"):format(e.bus, e.address)
    end
    rows[#rows + 1] = row
  end
  return rows
end

-- Where each usb:SERIAL of a list is on the bus, for its worker (connect.open_usb): one look
-- here instead of one in each worker. A board not found is left to its worker, which says so.
local function find_on_bus(rows)
  local want = {}
  for _, r in ipairs(rows) do
    if not r.sim and not r.at and r.spec then want[r.serial] = r end
  end
  if next(want) == nil then return end
  for _, e in ipairs(device.usb_list({ open = false }) or {}) do
    local r = e.kind ~= "" and not e.code and want[e.serial]
    if r then r.at = ("%d:%d"):format(e.bus, e.address) end
  end
end

-- --sim-fault NAME[=VALUE]@SERIAL acts on the board with that serial only: each must name a
-- simulated board of the spec.
local function check_board_faults(faults, rows)
  local sims = {}
  for _, r in ipairs(rows) do
    if r.sim then sims[r.serial] = true end
  end
  for _, f in ipairs(faults or {}) do
    local serial = f:match("^[^@]*@(.*)$")
    if serial and not sims[serial] then
      errors.raise("usage", "--sim-fault %s names the board %s, which is not a simulated board "
        .. "of -d (give it as sim:BOARD@%s)", f, serial, serial)
    end
  end
end

---------------------------------------------------------------------------------------------
-- the workers' command lines

-- Options as words a command line takes back: --long=VALUE (a value may start with '-').
local function option_words(specs, opts, skip, out)
  for _, s in ipairs(specs or {}) do
    local v = opts[s.key]
    if v ~= nil and not skip[s.key] then
      if s.multi then
        for _, x in ipairs(v) do out[#out + 1] = ("--%s=%s"):format(s.long, x) end
      elseif not s.arg or (s.optional and v == true) then
        out[#out + 1] = "--" .. s.long
      else
        out[#out + 1] = ("--%s=%s"):format(s.long, v)
      end
    end
  end
end

-- The cwlua program each worker runs: this one, or in another Lua interpreter that loaded
-- cwlua/core.so (docs/api.md "Using cwlua from your own Lua"), the cwlua of the same install,
-- PREFIX/bin/cwlua.
local function exe()
  local core = require "cwlua.core"
  if core.host ~= "module" then
    local path, msg = runtime.exe_path()
    if not path then errors.raise("failure", "cannot start the boards' workers: %s", msg) end
    return path
  end
  local prefix, msg = require("cwlua.path").prefix()
  local path = prefix and prefix .. "/bin/cwlua"
  local st = path and runtime.stat(path)
  if not (st and st.type == "file") then
    errors.raise("failure", "several boards run in a cwlua program each, and none was found "
      .. "%s: install cwlua's program too, or run the script with 'cwlua run'",
      path and ("at " .. path) or ("(" .. tostring(msg) .. ")"))
  end
  return path
end

-- The argv of the worker for row: the command line as parsed, -d naming the row's board; a
-- USB board's worker gets no --sim-* option, a simulated one its own and the common faults.
local function worker_argv(ctx, row, exe_path)
  local cli = ctx.cli
  local opts, args = {}, {}
  for k, v in pairs(ctx.opts) do opts[k] = v end
  for i, a in ipairs(ctx.args) do args[i] = a end
  local skip = { device = true }
  if not row.sim then
    for _, o in ipairs(cli.SIM_OPTIONS) do skip[o[1]] = true end
  elseif opts.sim_fault then
    local mine = {}
    for _, f in ipairs(opts.sim_fault) do
      local serial = f:match("^[^@]*@(.*)$")
      if serial == nil or serial == row.serial then mine[#mine + 1] = f end
    end
    opts.sim_fault = #mine > 0 and mine or nil
  end
  -- a log file per board: --log-wire=wire.log -> wire-LAB-01.log (to stderr it is relayed
  -- line by line, marked with the board, as the rest)
  if type(opts.log_wire) == "string" then
    opts.log_wire = M.per_board_path(opts.log_wire, row.serial)
  end
  local many = ctx.command.many
  if type(many) == "table" and many.per_board then many.per_board(args, opts, row.serial) end
  local argv = { exe_path, "-d", row.spec }
  option_words(cli.GLOBAL_OPTIONS, opts, skip, argv)
  argv[#argv + 1] = ctx.command.name
  option_words(ctx.command.options, opts, {}, argv)
  argv[#argv + 1] = "--"
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return argv
end

---------------------------------------------------------------------------------------------
-- what the user sees while they run

local Screen = {}
Screen.__index = Screen

-- mode: "live" (one line per board redrawn on the terminal, stderr), "count" (a terminal with
-- fewer rows than boards: one line counting them redrawn), "plain" (relayed lines only),
-- "quiet" (relayed lines only; the caller prints no table either) or "silent" (nothing)
local function screen_new(rows, mode)
  local self = setmetatable({ rows = rows, mode = mode, drawn = 0, last = nil,
    live = mode == "live" or mode == "count" }, Screen)
  local w = 0
  for _, r in ipairs(rows) do w = math.max(w, #r.serial) end
  self.serial_w = w
  return self
end

--- multi.screen_mode(n) -> "live" when stderr is a terminal with room for n lines, "count"
-- when it is a terminal with less, else "plain"
function M.screen_mode(n)
  if not runtime.isatty(2) then return "plain" end
  local _, rows = tty.size(2)
  return (rows == nil or n < rows - 1) and "live" or "count"
end

-- The one line of "count": how many boards are done, failed and still at work.
function Screen:_count_line(cols)
  local ok, failed = 0, 0
  for _, r in ipairs(self.rows) do
    if r.status == 0 then
      ok = ok + 1
    elseif r.status then
      failed = failed + 1
    end
  end
  local n = #self.rows
  return ("%d boards: %d ok, %d failed, %d working"):format(n, ok, failed, n - ok - failed)
    :sub(1, math.max(1, cols - 1))
end

function Screen:_line(r, cols)
  local head = ("%-" .. self.serial_w .. "s  %-6s  "):format(r.serial, r.kind or "?")
  local text
  if r.status then
    text = r.status == 0 and ("done in %.2f s"):format(r.time or 0)
      or ("failed: %s (exit %d)"):format(r.cause or "failure", r.status)
  elseif r.bar then
    text = progress.fit(r.bar.label, r.bar.stats, r.bar.pct, math.max(12, cols - #head))
  else
    text = r.started and "working" or "starting"
  end
  return (head .. text):sub(1, math.max(1, cols - 1))
end

function Screen:_erase()
  if self.drawn > 0 then
    io.stderr:write(("\27[%dA"):format(self.drawn), "\r\27[J")
    self.drawn = 0
  end
end

function Screen:_draw()
  local cols = progress.columns()
  local out = {}
  if self.mode == "count" then
    out[1] = self:_count_line(cols) .. "\27[K\n"
  else
    for _, r in ipairs(self.rows) do out[#out + 1] = self:_line(r, cols) .. "\27[K\n" end
  end
  local text = table.concat(out)
  self.last = device.monotonic_ns()
  if self.drawn > 0 and text == self.text then return end -- nothing new to show
  self:_erase()
  io.stderr:write(text)
  io.stderr:flush()
  self.drawn, self.text = #out, text
end

--- screen:relay(row, stream, line): a line a worker wrote, marked with its board. The live
-- lines go while it is written, and come back at the next tick: once for all the lines that
-- came together, not thirty lines redrawn for each of them.
function Screen:relay(r, stream, line)
  if self.mode == "silent" then return end
  local f = stream == "stdout" and io.stdout or io.stderr
  if self.live then self:_erase() end
  f:write(r.serial, ": ", line, "\n")
  f:flush()
end

--- screen:tick(force): redraw the live lines when due, or when relayed lines took them away
function Screen:tick(force)
  if not self.live then return end
  if force or self.drawn == 0 or not self.last
    or device.monotonic_ns() - self.last >= REDRAW_NS then
    self:_draw()
  end
end

function Screen:close()
  if self.live then self:_erase() end
end

---------------------------------------------------------------------------------------------
-- running the workers

-- Complete lines of a stream's new data; a partial last line waits for the rest.
local function lines_of(r, stream, data, final)
  local key = "partial_" .. stream
  local text = (r[key] or "") .. data
  local out = {}
  for line in text:gmatch("([^\n]*)\n") do out[#out + 1] = line end
  r[key] = text:match("([^\n]*)$") or ""
  if final and r[key] ~= "" then
    out[#out + 1] = r[key]
    r[key] = ""
  end
  return out
end

local function on_event(r, ev)
  if ev.event == "board" then
    r.kind, r.started, r.opened = ev.kind or r.kind, true, true
  elseif ev.event == "progress" then
    r.bar, r.started = { label = ev.label, stats = ev.stats, pct = ev.pct }, true
  elseif ev.event == "progress_end" then
    r.bar = nil
  elseif ev.event == "value" then
    r.value = ev.value
  elseif ev.event == "result" then
    r.result = ev
  end
end

-- A worker's lines are held until it opens its board: what it says before that (a usage
-- error, an unknown TARGET, a missing FILE) is most often the command line's fault and the
-- same from every worker, and is then said once (run_workers), not once per board.
local function flush_held(r, screen)
  for _, l in ipairs(r.held or {}) do screen:relay(r, l[1], l[2]) end
  r.held = nil
end

-- What a worker's events, stdout and stderr bring; done: it has ended (read the rest).
local function service(r, screen, keep_stdout)
  local p = r.proc
  for _, line in ipairs(lines_of(r, "channel", p:take("channel"), false)) do
    local ok, ev = pcall(json.decode, line)
    if ok and type(ev) == "table" then on_event(r, ev) end
  end
  if r.opened and r.held then flush_held(r, screen) end
  local status = p:status()
  for _, stream in ipairs({ "stderr", "stdout" }) do
    local data = p:take(stream)
    if stream == "stdout" and keep_stdout then
      r.stdout = (r.stdout or "") .. data
    else
      for _, line in ipairs(lines_of(r, stream, data, status ~= nil)) do
        if r.held then
          r.held[#r.held + 1] = { stream, line }
        else
          screen:relay(r, stream, line)
        end
      end
    end
  end
  return status
end

-- Signals that end a process because it went wrong inside: a crash, a bug in cwlua (or in a
-- library it uses), not the board's fault.
local CRASH = { [4] = "SIGILL", [6] = "SIGABRT", [7] = "SIGBUS", [8] = "SIGFPE",
  [11] = "SIGSEGV" }
local SIGNAME = { [1] = "SIGHUP", [9] = "SIGKILL", [13] = "SIGPIPE", [14] = "SIGALRM",
  [24] = "SIGXCPU", [25] = "SIGXFSZ" }

-- The cause and error of a worker that has ended, from its result event, else its status.
-- A worker ended by a signal other than the interrupt cwlua passes on (SIGINT, SIGTERM, which
-- it handles) never got to put its board back or to say why: its row says so, exit 1
-- (contract.md §3.4), not the shell's 128 + N, which no status of contract.md §3.8 is.
local function conclude(r, status, screen)
  r.status, r.proc = status, nil
  local res = r.result or {}
  r.time = res.time
  local signo = status > 128 and status ~= 130 and status ~= 143 and status - 128 or nil
  if signo and status <= 128 + 64 then
    r.status = errors.EXIT.failure
    local name = CRASH[signo] or SIGNAME[signo] or ("signal " .. signo)
    if CRASH[signo] then
      r.cause = "internal"
      r.error = ("its worker crashed (%s): this is a bug in cwlua; the board may not have been "
        .. "put back: power-cycle it, then try it alone with -d %s -v"):format(name,
          r.spec or "usb:SERIAL")
    else
      r.cause = "failure"
      r.error = ("its worker was killed (%s) before it ended: the board may not have been put "
        .. "back; power-cycle it, or run the command again"):format(name)
    end
    r.unsaid = true
  elseif res.cause then
    r.cause, r.error = res.cause, res.error
  elseif status == 130 or status == 143 then
    r.cause, r.error = "interrupted", "interrupted"
  elseif status == 0 then
    r.cause = "ok"
  else
    r.cause = "failure"
    r.error = ("its worker ended with exit status %d and said nothing"):format(status)
    r.unsaid = true
  end
  -- a usage or input error before its board was opened waits for the others' (run_workers)
  if not (r.held and r.status == errors.EXIT.usage and not r.opened) then
    flush_held(r, screen)
  end
  -- what its worker could not say, said for it, as its own messages are
  if r.unsaid then screen:relay(r, "stderr", "cwlua: " .. r.error) end
end

-- Every board failed alike before opening its board (rows whose lines are still held, exit
-- 2, the same words): the command line's fault, said once as for one board -> true. Else
-- the held lines are relayed, each marked with its board.
local function said_once(rows, screen)
  local text
  for _, r in ipairs(rows) do
    local t = {}
    for _, l in ipairs(r.held or {}) do t[#t + 1] = l[1] .. "\0" .. l[2] end
    t = table.concat(t, "\n")
    if not r.held or r.status ~= errors.EXIT.usage or (text and t ~= text) then
      text = nil
      break
    end
    text = t
  end
  if text and screen.mode ~= "silent" then
    screen:close()
    for _, l in ipairs(rows[1].held) do
      local f = l[1] == "stdout" and io.stdout or io.stderr
      f:write(l[2], "\n")
      f:flush()
    end
  end
  for _, r in ipairs(rows) do
    if text then r.held = nil else flush_held(r, screen) end
  end
  return text ~= nil
end

-- Every worker still running is told to stop (the signal that stopped this process, else
-- SIGTERM), once, and waited for: each puts its board back first.
local function stop_all(rows, screen, keep_stdout)
  local signo = signal.pending() or 15
  for _, r in ipairs(rows) do
    if r.proc then r.proc:kill(signo) end
  end
  local deadline = device.monotonic_ns() + STOP_GRACE_NS
  local killed = false
  while true do
    local live = {}
    for _, r in ipairs(rows) do
      if r.proc then live[#live + 1] = r.proc end
    end
    if #live == 0 then break end
    if not killed and device.monotonic_ns() > deadline then
      for _, p in ipairs(live) do p:kill(9) end
      killed = true
    end
    proc.poll(live, POLL_MS)
    for _, r in ipairs(rows) do
      if r.proc then
        local status = service(r, screen, keep_stdout)
        if status then conclude(r, status, screen) end
      end
    end
    screen:tick()
  end
end

-- At most proc.MAX workers at once: more is a usage error before any starts (a lab's boards
-- are far fewer; USB has 127 devices a bus).
local function check_count(rows)
  if #rows > proc.MAX then
    errors.raise("usage", "the device list names %d boards; cwlua runs at most %d at once: "
      .. "give them in several commands", #rows, proc.MAX)
  end
end

--- multi.run_workers(rows, argv_of, opts) -> rows, each with status, cause, error, time, kind,
-- value (cw.each) and stdout (opts.keep_stdout). argv_of(row) -> the worker's argv. opts.mode:
-- "live", "plain" or "quiet" (Screen above). Rows with fail set are not started. Interrupted
-- (SIGINT/SIGTERM), every worker is stopped and waited for, opts.on_stop(rows) runs (in
-- signal.hold), and the interrupt goes on.
function M.run_workers(rows, argv_of, opts)
  local screen = screen_new(rows, opts.mode)
  local keep = opts.keep_stdout
  local finished = false
  local _ <close> = setmetatable({}, { __close = function()
    if finished then return end
    signal.hold(function()
      stop_all(rows, screen, keep)
      for _, r in ipairs(rows) do flush_held(r, screen) end
      screen:close()
      if opts.on_stop then opts.on_stop(rows) end
    end)
  end })
  for _, r in ipairs(rows) do
    if r.fail then
      r.status, r.cause, r.error = r.fail.status, r.fail.cause, r.fail.error
      screen:relay(r, "stderr", "cwlua: " .. r.error)
    else
      local env = { "CWLUA_WORKER_FD=3" }
      if r.at then env[#env + 1] = "CWLUA_WORKER_USB=" .. r.at end
      if opts.mode == "live" then env[#env + 1] = "CWLUA_WORKER_PROGRESS=1" end
      local p, msg, code = proc.spawn(argv_of(r), { channel = true, env = env })
      if p then
        r.proc, r.held = p, {}
      else
        r.status, r.cause, r.error = errors.EXIT.failure, "failure",
          "cannot start its worker: " .. msg .. (code == "limit" and ("; each board takes "
            .. "three of cwlua's open files and a process: raise the limits (ulimit -n, "
            .. "ulimit -u), or give fewer boards at once") or "")
        screen:relay(r, "stderr", "cwlua: " .. r.error)
      end
    end
  end
  screen:tick(true)
  while true do
    local live = {}
    for _, r in ipairs(rows) do
      if r.proc then live[#live + 1] = r.proc end
    end
    if #live == 0 then break end
    proc.poll(live, POLL_MS)
    local ended = false
    for _, r in ipairs(rows) do
      if r.proc then
        local status = service(r, screen, keep)
        if status then
          conclude(r, status, screen)
          ended = true
        end
      end
    end
    screen:tick(ended) -- a board that ended is shown at once, those that end together at once
  end
  finished = true
  rows.said_once = said_once(rows, screen)
  screen:close()
  return rows
end

---------------------------------------------------------------------------------------------
-- the table and the JSON object

--- multi.worst(rows) -> the row with the highest exit status (the first of them), or nil when
-- every board succeeded
function M.worst(rows)
  local w
  for _, r in ipairs(rows) do
    if r.status ~= 0 and (w == nil or r.status > w.status) then w = r end
  end
  return w
end

--- multi.table(rows) -> the text of the table: serial, board, target, result, time, cause;
-- then one line that counts
function M.table(rows)
  local head = { "serial", "board", "target", "result", "time", "cause" }
  local cells = { head }
  local failed = 0
  for _, r in ipairs(rows) do
    if r.status ~= 0 then failed = failed + 1 end
    cells[#cells + 1] = { r.serial, r.kind or "?", r.target or "-",
      r.status == 0 and "ok" or ("exit " .. r.status),
      r.time and ("%.2f s"):format(r.time) or "-", r.cause or "failure" }
  end
  local width = {}
  for _, row in ipairs(cells) do
    for i, c in ipairs(row) do width[i] = math.max(width[i] or 0, #c) end
  end
  local out = {}
  for _, row in ipairs(cells) do
    local parts = {}
    for i, c in ipairs(row) do
      parts[i] = i < #row and (c .. (" "):rep(width[i] - #c)) or c
    end
    out[#out + 1] = table.concat(parts, "  ")
  end
  local n = #rows
  out[#out + 1] = failed == 0 and ("%d board%s: all ok"):format(n, n == 1 and "" or "s")
    or ("%d board%s: %d ok, %d failed"):format(n, n == 1 and "" or "s", n - failed, failed)
  return table.concat(out, "\n") .. "\n"
end

-- A board's entry in the --json object: what its worker printed (contract.md §3.7), without
-- "schema", with serial, board, target, exit and time.
local function json_entry(r)
  local o
  local ok, v = pcall(json.decode, r.stdout or "")
  if ok and type(v) == "table" and not v[1] then
    o = v
  else
    o = { cause = r.cause, error = r.error }
  end
  o.schema = nil
  o.serial, o.board, o.target = r.serial, r.kind or json.null, r.target or json.null
  o.exit, o.time = r.status, r.time or json.null
  if r.status ~= 0 and o.error == nil then o.error = r.error end
  o.cause = o.cause or r.cause
  return o
end

---------------------------------------------------------------------------------------------
-- the command line

--- multi.run(ctx, parsed) -> exit status: ctx.command on every board parsed names
function M.run(ctx, parsed)
  local many = ctx.command.many
  -- what the command checks (or makes) once for all boards, before any is looked for
  if type(many) == "table" and many.check then many.check(ctx) end
  local rows = M.boards(parsed)
  check_count(rows)
  check_board_faults(ctx.opts.sim_fault, rows)
  find_on_bus(rows)
  local target = type(many) == "table" and many.target and ctx.args[many.target] or nil
  local exe_path = exe()
  local json_mode, quiet = ctx.opts.json, ctx.opts.quiet
  for _, r in ipairs(rows) do r.target = target end
  local mode = quiet and "quiet" or M.screen_mode(#rows)
  M.run_workers(rows, function(r) return worker_argv(ctx, r, exe_path) end, {
    mode = mode, keep_stdout = json_mode,
    on_stop = function(done)
      if type(many) == "table" and many.done then many.done(ctx) end
      -- stopped by Ctrl-C: the table still says where each board got to (--json: main()
      -- prints the interrupted object, contract.md §3.7)
      if not json_mode and not quiet then io.stdout:write(M.table(done)) end
    end,
  })
  if type(many) == "table" and many.done then many.done(ctx) end
  local worst = M.worst(rows)
  if rows.said_once then
    -- the command line's own error, the same on every board: as one board says it, no table
    local ok, o = pcall(json.decode, rows[1].stdout or "")
    if json_mode and ok and type(o) == "table" then ctx.cli.emit(o) end
    return worst.status
  end
  if json_mode then
    local boards = json.array()
    for _, r in ipairs(rows) do boards[#boards + 1] = json_entry(r) end
    ctx.cli.emit({ boards = boards, cause = worst and worst.cause or "ok",
      error = worst and ("%s: %s"):format(worst.serial, worst.error or worst.cause) or nil })
  elseif not quiet then
    io.stdout:write(M.table(rows))
  end
  return worst and worst.status or 0
end

---------------------------------------------------------------------------------------------
-- cw.each: a function of a lab script on every board of a spec

-- A number as --sim-usb-latency and --sim-noise take it: plain decimals, no exponent.
local function decimal(x)
  local t = ("%.9f"):format(x):gsub("0+$", ""):gsub("%.$", "")
  return t
end

-- The command-line words that give a worker the options of this run (board.defaults, the -s
-- folders) or those of opts.sim, for the board of row.
local function each_words(row, sim, out)
  local board = require "cwlua.board"
  for _, d in ipairs(require("cwlua.path").search()) do out[#out + 1] = "--search=" .. d end
  if board.defaults.bitstream then out[#out + 1] = "--bitstream=" .. board.defaults.bitstream end
  if board.defaults.quiet then out[#out + 1] = "--quiet" end
  if not row.sim then return end
  local function add(name, v)
    if v ~= nil then out[#out + 1] = ("--%s=%s"):format(name, v) end
  end
  add("sim-target", sim.target)
  add("sim-state", sim.state)
  add("sim-usb-latency", sim.latency_ms and decimal(sim.latency_ms))
  add("sim-seed", sim.seed and math.tointeger(sim.seed))
  add("sim-noise", sim.noise and decimal(sim.noise))
  add("sim-app", sim.app)
  for _, f in ipairs(sim.faults or {}) do
    local serial = f:match("^[^@]*@(.*)$")
    if serial == nil or serial == row.serial then add("sim-fault", f) end
  end
end

-- The script each worker runs: fn, dumped, called with the board its -d names and the
-- arguments; what it returns goes back over the channel (cwlua.worker).
local EACH_SCRIPT = [[
-- made by cw.each (cwlua.multi): the function, on the board -d names
local json = require "cwlua.json"
-- globals the script had set that this state has not: reading one is an error that says why,
-- not a nil
local missing = {}
for name, kind in pairs(json.decode(%q)) do
  if _ENV[name] == nil then missing[name] = kind end
end
local env = setmetatable({}, { __newindex = _ENV, __index = function(_, name)
  local kind = missing[name]
  if kind then
    error(("cw.each: the function reads '%%s', a global %%s the script set; the function runs "
      .. "in a worker process without the script: %%s"):format(name, kind == "function"
      and "function" or "variable", kind == "function" and "define it inside the function, "
      .. "or in a module the function requires" or "pass it in opts.args (fn(board, ...))"), 2)
  end
  return _ENV[name]
end })
local fn = assert(load(%q, %q, "b", env))
local args = json.decode(%q)
local board <close> = require("cwlua.cmdutil").check(cw.open())
-- a nil among the arguments travels as null: it is nil again here, and the ones after it follow
local nargs = #args
for i = 1, nargs do
  if args[i] == json.null then args[i] = nil end
end
local value = fn(board, table.unpack(args, 1, nargs))
if value == nil then value = json.null end
local ok, err = pcall(json.encode, value)
if not ok then
  require("cwlua.errors").raise("failure", "cw.each: the function returned what cannot be "
    .. "passed back (%%s); return strings, numbers, booleans and tables of them", err)
end
require("cwlua.worker").send({ event = "value", value = value })
]]

--- multi.each(spec, fn [, opts]) -> results, status (cw.each, docs/api.md). fn(board, ...)
-- runs once per board of spec, each in a worker process of its own, all at once; opts.args:
-- a list of values passed after the board (strings, numbers, booleans, tables of them);
-- opts.sim: simulator options as cw.open takes them (default: the command line's);
-- opts.quiet: the workers' output is not relayed. results[i] = { serial, board, ok, value,
-- exit, cause, error, time } in the spec's order; status: the highest exit status.
function M.each(spec, fn, opts)
  opts = opts or {}
  if type(spec) ~= "string" then error("cw.each: spec must be a string", 2) end
  if type(fn) ~= "function" then error("cw.each: fn must be a function", 2) end
  -- fn runs in another process, in a Lua state of its own: it can see globals (cw, string,
  -- ...), not the locals of the script around it
  if debug.getinfo(fn, "S").what == "C" then
    error("cw.each: fn is a C function (such as print), which cannot be sent to a worker; "
      .. "wrap it in a Lua function", 2)
  end
  local env
  for i = 1, math.huge do
    local name, value = debug.getupvalue(fn, i)
    if name == nil then break end
    if name == "_ENV" then
      env = value
    elseif type(value) == "function" then
      error(("cw.each: the function uses '%s', a local function of the script; it runs in a "
        .. "worker process that cannot see it: define it inside the function, or in a module "
        .. "the function requires"):format(name), 2)
    else
      error(("cw.each: the function uses '%s', a local variable of the script; it runs in a "
        .. "worker process that cannot see it: pass it in opts.args (fn(board, ...))"):format(
        name), 2)
    end
  end
  local ok, code = pcall(string.dump, fn)
  if not ok then error("cw.each: fn cannot be sent to a worker (" .. code .. ")", 2) end
  -- every argument up to opts.args.n (table.pack's), else the highest index, so that a nil
  -- among them does not drop the ones after it; a nil travels as null
  local given = opts.args or {}
  if type(given) ~= "table" then
    error("cw.each: opts.args must be a list of the values passed after the board", 2)
  end
  local n = math.type(given.n) == "integer" and given.n or 0
  if n == 0 then
    for k in pairs(given) do
      if math.type(k) == "integer" and k > n then n = k end
    end
  end
  local args = json.array()
  for i = 1, n do
    if given[i] == nil then args[i] = json.null else args[i] = given[i] end
  end
  local args_ok, args_text = pcall(json.encode, args)
  if not args_ok then
    error(("cw.each: opts.args cannot be sent to the workers (%s); pass strings, numbers, "
      .. "booleans and tables of them"):format(args_text), 2)
  end
  -- the globals fn's environment holds here (the script's own among them): name -> type
  local globals = {}
  if type(env) == "table" then
    for k, v in next, env do
      if type(k) == "string" then globals[k] = type(v) end
    end
  end
  local parsed = require("cwlua.devspec").parse(spec)
  local rows
  if parsed.kind == "many" then
    rows = M.boards(parsed)
    check_count(rows)
    check_board_faults((opts.sim or require("cwlua.board").defaults.sim or {}).faults, rows)
    find_on_bus(rows)
  else
    rows = { { spec = spec, serial = parsed.serial or parsed.path or spec,
               kind = parsed.kind == "sim" and parsed.board or nil, sim = parsed.kind == "sim" } }
  end
  local info = debug.getinfo(fn, "S")
  local script = EACH_SCRIPT:format(json.encode(globals), code,
    "=" .. (info.short_src or "cw.each"), args_text)
  local file = os.tmpname()
  local _ <close> = setmetatable({}, { __close = function()
    signal.hold(os.remove, file)
  end })
  local f = assert(io.open(file, "wb"))
  f:write(script)
  f:close()
  local exe_path = exe()
  local sim = opts.sim or require("cwlua.board").defaults.sim or {}
  M.run_workers(rows, function(r)
    local argv = { exe_path, "-d", r.spec }
    each_words(r, sim, argv)
    argv[#argv + 1] = "run"
    argv[#argv + 1] = file
    return argv
  end, { mode = opts.quiet and "silent" or "plain" })
  local results, status = {}, 0
  for i, r in ipairs(rows) do
    status = math.max(status, r.status)
    results[i] = { serial = r.serial, board = r.kind, ok = r.status == 0,
      value = r.value ~= json.null and r.value or nil, exit = r.status, cause = r.cause,
      error = r.status ~= 0 and (r.error or r.cause) or nil, time = r.time }
  end
  return results, status
end

return M
