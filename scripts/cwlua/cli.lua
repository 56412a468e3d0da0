-- SPDX-License-Identifier: MIT
-- cwlua.cli: the command line of contract.md §3 — global options, commands, help, exit codes.
--
-- The tables here (commands, options, device specs, exit statuses, environment, files) make
-- --help, and at build time the man page and the shell completion (packaging/), so the three
-- cannot drift apart.
--
-- Each command is a module cwlua.cmd.<name> returning
--   { name, summary, usage, help, options = { option specs },
--     args_to_script = bool or function(args) -> bool (for the arguments so far),
--     text_only = why the command refuses --json, subcommand_help = function(word),
--     many = { target = index of the TARGET argument, per_board = function(args, opts, serial),
--              check = function(ctx), done = function(ctx) (after the workers, also when
--              interrupted) } when it runs on several boards at once
--            (cwlua.multi), or one = why it works with one board only,
--     no_config = true when it reads no config file (cwlua.config),
--     run = function(ctx) -> exit status }
-- ctx = { opts = parsed options, args = positional arguments, first_arg = argv index of
--         args[1], argv = the whole argv (argv[0] is the program), command = the command
--         table, cli = this module, device_given = -d's value (opts.device is the device in
--         effect, from wherever it came) }.
-- A command is listed here (and so in --help) only once it works.
local devspec = require "cwlua.devspec"
local errors = require "cwlua.errors"
local path = require "cwlua.path"
local worker = require "cwlua.worker"

local M = {}

M.COMMANDS = { "program", "verify", "read", "erase", "info", "doctor", "capture", "reset",
  "power", "clock", "term", "list", "targets", "config", "run", "shell", "sim", "help" }

-- The words of the usage line and the description that open --help (and the man page).
M.USAGE = "cwlua [-d SPEC] [options] COMMAND [args]"
M.DESCRIPTION = "Program and script microcontroller targets through NewAE ChipWhisperer boards "
  .. "and\nserial adapters, or the built-in simulator."

-- How the target is wired (--rig): the hints of failures and doctor name its switches.
M.RIGS = { "cw308", "cw506", "cw313", "serial" }

-- text's words in lines of at most width columns (a longer word stands alone), each line
-- after the first starting with indent
local function wrap(text, width, indent)
  local lines, cur = {}, nil
  for word in text:gmatch("%S+") do
    if cur and #cur + 1 + #word > width then
      lines[#lines + 1] = cur
      cur = indent .. word
    else
      cur = cur and (cur .. " " .. word) or word
    end
  end
  lines[#lines + 1] = cur
  return table.concat(lines, "\n")
end

-- Option specs: short, long, key (in ctx.opts), arg (metavariable) or nil for a flag,
-- multi (repeatable, collected in a list), values (the words an arg may be, for the check and
-- for completion), files (the extensions a FILE usually has, for completion), help.
M.GLOBAL_OPTIONS = {
  { short = "d", long = "device", key = "device", arg = "SPEC",
    help = (function() -- the grammar (cwlua.devspec), wrapped to the help's column
      local text = "board or port: " .. table.concat(devspec.ONE, ", ")
        .. "; several boards at once: " .. table.concat(devspec.MANY, " or ")
        .. " (default: $CWLUA_DEVICE, else the config file's device, else usb)"
      return wrap(text, 72, "")
    end)() },
  { long = "gpio-seq", key = "gpio_seq", arg = "ENTRY[:EXIT]",
    help = "serial:PATH only: reset/boot lines, stm32flash -i sequences\n"
      .. "of rts, dtr, brk ('-' low, ',' 100 ms, '&' none), e.g.\n"
      .. "'-rts&dtr,-dtr:rts&dtr,-dtr'; without it no reset is done,\n"
      .. "the bootloader is assumed and the app started with Go" },
  { short = "s", long = "search", key = "search", arg = "DIR", multi = true,
    help = "look for recipes and cwlua modules in DIR first (repeatable)" },
  { short = "q", long = "quiet", key = "quiet", help = "print only errors" },
  { short = "v", long = "verbose", key = "verbose",
    help = "print more, and a traceback for internal errors" },
  { long = "json", key = "json", help = "print one JSON object (\"schema\": 1) instead of text" },
  { long = "rig", key = "rig", arg = "RIG", values = M.RIGS,
    help = "how the target is wired, for hints: cw308, cw506, cw313, serial\n"
      .. "(default: the config file's rig, else the recipe's)" },
  { long = "log-wire", key = "log_wire", arg = "FILE", optional = true,
    help = "log every byte to and from the target, one line per burst:\n"
      .. "'+0.012345 > 7F'; to stderr, or FILE with --log-wire=FILE" },
  { long = "bitstream", key = "bitstream", arg = "FILE", files = { "bit", "zip", "py" },
    help = "FPGA bitstream to load when a board's FPGA is not configured: a .bit,\n"
      .. "NewAE's firmware zip or chipwhisperer's hardware/firmware/BOARD.py\n"
      .. "(default: $CWLUA_BITSTREAM, else the config file's bitstream,\n"
      .. "else NewAE's chipwhisperer package)" },
  { short = "h", long = "help", key = "help",
    help = "show this help; 'cwlua COMMAND --help' for one command" },
  { long = "version", key = "version",
    help = "show the versions of cwlua, Lua, libusb and libserialport" },
}

-- The --sim-* options come from libcwsim's table (cwsim_option_table), which `cwlua sim attach`
-- parses too: the two take the same set. They stand before -h/--help, as "simulator: ...".
-- M.SIM_OPTIONS: { key in opts, option name } of each.
M.SIM_OPTIONS = {}
do
  local at = #M.GLOBAL_OPTIONS - 2 -- before --help and --version
  for i, o in ipairs(require("cwlua.core.device").sim_options()) do
    local key = o.name:gsub("%-", "_")
    table.insert(M.GLOBAL_OPTIONS, at + i, { long = o.name, key = key, arg = o.arg,
      multi = o.multi or nil, help = "simulator: " .. o.help })
    M.SIM_OPTIONS[i] = { key, "--" .. o.name }
  end
end

-- Exit statuses (contract.md §3): { status, meaning }, and what holds for the signals.
M.EXIT_STATUS = {
  { 0, "done" },
  { 1, "any other failure" },
  { 2, "usage error or bad input (nothing on the chip was touched)" },
  { 3, "no board, USB or port error" },
  { 4, "target does not answer" },
  { 5, "verify mismatch" },
  { 130, "interrupted (SIGINT)" },
  { 143, "terminated (SIGTERM)" },
}
M.EXIT_NOTE = "After a signal, the board is restored first. On several boards at once (-d "
  .. "usb:*, a list), the highest of the boards' statuses."

-- The environment variables cwlua and its helpers read (or set), { name, meaning }: the man
-- page's ENVIRONMENT. spec/cli/packaging_tables_spec.lua finds every getenv of the sources here.
M.ENVIRONMENT = {
  { "CWLUA_DEVICE", "the device (a SPEC as -d takes) when -d is not given; else usb" },
  { "CWLUA_PATH", "folders, ':'-separated, searched for recipes after the -s folders" },
  { "CWLUA_BITSTREAM", "the FPGA bitstream when --bitstream is not given; else the config "
    .. "files', else NewAE's chipwhisperer Python package, as python3 on PATH imports it" },
  { "CWLUA_CONFIG", "the user config file to read instead of $XDG_CONFIG_HOME/cwlua/config.lua "
    .. "(one that does not exist is exit 2)" },
  { "CWLUA_SYSCONFDIR", "the folder read instead of /etc/cwlua: its config.lua and targets/" },
  { "XDG_CONFIG_HOME", "the user's config file $XDG_CONFIG_HOME/cwlua/config.lua and recipe "
    .. "folder $XDG_CONFIG_HOME/cwlua/targets (default ~/.config)" },
  { "XDG_STATE_HOME", "the simulator's chip memories ($XDG_STATE_HOME/cwlua/sim) and the "
    .. "shell's history are kept under it (default ~/.local/state)" },
  { "HOME", "the default of XDG_CONFIG_HOME and XDG_STATE_HOME" },
  { "COLUMNS", "the width of progress lines when stderr is not a terminal that reports one" },
  { "CWLUA_SIM_TRACE", "1: 'sim attach' prints every USB request the simulated boards answer, "
    .. "'sim adapter' every line change and chip state, on stderr" },
  { "CWLUA_SIM_ADAPTER", "set by 'sim adapter' for its COMMAND: the simulated adapter's port" },
}

-- The files cwlua reads and writes, { path, meaning }: the man page's FILES.
M.FILES = {
  { "$XDG_CONFIG_HOME/cwlua/config.lua", "the user's config file: device, rig, bitstream, "
    .. "recipe folders and --set values ('cwlua config --help'); it wins over the system's" },
  { "/etc/cwlua/config.lua", "the system's config file, the defaults of the machine or lab" },
  { "$XDG_CONFIG_HOME/cwlua/targets/NAME.lua", "the user's recipes (docs/targets.md), found "
    .. "after the -s folders, $CWLUA_PATH and the config files' folders" },
  { "/etc/cwlua/targets/NAME.lua", "the system's recipes, after the user's" },
  { "share/cwlua/targets/NAME.lua", "the built-in recipes, last on the search path, in the "
    .. "install beside cwlua's bin folder (/usr/share/cwlua/targets for the Debian package)" },
  { "$XDG_STATE_HOME/cwlua/sim/", "the simulated chips' memories: flash, EEPROM, fuses, "
    .. "protection (--sim-state DIR for another folder)" },
  { "$XDG_STATE_HOME/cwlua/shell_history", "the lines typed at 'cwlua shell'" },
  { "/lib/udev/rules.d/60-cwlua.rules", "the udev rule that lets users without root open "
    .. "the boards: TAG+=\"uaccess\" and GROUP=\"plugdev\" (share/cwlua/udev/ for an install "
    .. "from source; docs/install.md)" },
}

-- The config files and the search path, each in one sentence, for --help and the man page.
M.CONFIG_HELP = "defaults a lab sets once (device, rig, bitstream, recipe folders, --set values)\n"
  .. "come from $XDG_CONFIG_HOME/cwlua/config.lua and /etc/cwlua/config.lua; the\n"
  .. "command line wins over both; 'cwlua config' shows what is in effect and why"
M.SEARCH_HELP = "recipes are looked up in -s folders, then $CWLUA_PATH (':'-separated), then\n"
  .. "the config files' folders, $XDG_CONFIG_HOME/cwlua/targets, /etc/cwlua/targets,\n"
  .. "then the built-in ones; see 'cwlua targets'"

-- "exit status: 0 done; 1 ...", wrapped at 92 columns with continuation lines indented by 2
local function exit_help()
  local items = {}
  for _, e in ipairs(M.EXIT_STATUS) do items[#items + 1] = e[1] .. " " .. e[2] end
  local text = "exit status: " .. table.concat(items, "; ") .. ". " .. M.EXIT_NOTE
  return wrap(text, 92, "  ")
end

local verbose = false
-- --json (contract.md §3.7): the run prints exactly one object on stdout, the command's own
-- (M.emit) or, when the run fails, the failure's (M.main); never both, never two.
local json_mode = false
local pending_json -- the object M.emit was given, printed once the command has returned
local noted_cause -- the cause a command concluded without --json (cli.note_cause)

local function usage_error(fmt, ...)
  errors.raise("usage", fmt, ...)
end

local function load_command(name)
  return require("cwlua.cmd." .. name)
end

local function find_option(specs, long, short)
  for _, s in ipairs(specs or {}) do
    if (long and s.long == long) or (short and s.short == short) then return s end
  end
end

local function set_option(opts, spec, value)
  if spec.multi then
    opts[spec.key] = opts[spec.key] or {}
    table.insert(opts[spec.key], value)
  elseif opts[spec.key] ~= nil then
    -- the second value would silently win (--base 0x100 --base 0x200): say so instead
    local old = opts[spec.key]
    usage_error("option '--%s' is given twice%s; give it once", spec.long,
      (type(old) == "string" and type(value) == "string")
        and (" ('" .. old .. "' and '" .. value .. "')") or "")
  else
    opts[spec.key] = value == nil and true or value
  end
end

local function option_names(command)
  local names = {}
  for _, list in ipairs({ M.GLOBAL_OPTIONS, command and command.options or {} }) do
    for _, s in ipairs(list) do names[#names + 1] = "--" .. s.long end
  end
  return names
end

-- True once the rest of the command line belongs to the command's script or helper as it is.
local function passes_on(command, args)
  if not command or #args < 1 then return false end
  local a = command.args_to_script
  if type(a) == "function" then return a(args) end
  return a == true
end

local function help_hint(command)
  return command and ("run 'cwlua " .. command.name .. " --help'") or "run 'cwlua --help'"
end

--- cli.parse(argv) -> opts, command (or nil), args, first_arg (argv index of args[1])
-- Global options may stand anywhere before '--'; a command's own options after its name.
-- For a command with args_to_script, everything after its first argument is passed on as is
-- (for sim, after 'attach' or 'serve').
function M.parse(argv)
  local opts, args = {}, {}
  local command, first_arg
  local i, n = 1, #argv
  local options_done = false
  while i <= n do
    local a = argv[i]
    if options_done or passes_on(command, args) then
      first_arg = first_arg or i
      args[#args + 1] = a
    elseif a == "--" then
      options_done = true
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local spec = find_option(command and command.options, name)
        or find_option(M.GLOBAL_OPTIONS, name)
      if not spec then
        local hint = require("cwlua.targets").suggest("--" .. name, option_names(command))
        usage_error("unknown option '--%s'%s; %s", name,
          hint and (" (did you mean '" .. hint .. "'?)") or "", help_hint(command))
      end
      if spec.arg and spec.optional then
        value = value or true -- only the --name=VALUE form takes the optional value
      elseif spec.arg then
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then
            usage_error("option '--%s' needs a value (%s); %s", name, spec.arg, help_hint(command))
          end
        end
      elseif value ~= nil then
        usage_error("option '--%s' takes no value; %s", name, help_hint(command))
      end
      set_option(opts, spec, value)
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local j = 2
      while j <= #a do
        local c = a:sub(j, j)
        local spec = find_option(command and command.options, nil, c)
          or find_option(M.GLOBAL_OPTIONS, nil, c)
        if not spec then usage_error("unknown option '-%s'; %s", c, help_hint(command)) end
        if spec.arg then
          local value = a:sub(j + 1)
          if value == "" then
            i = i + 1
            value = argv[i]
            if value == nil then
              usage_error("option '-%s' needs a value (%s); %s", c, spec.arg, help_hint(command))
            end
          end
          set_option(opts, spec, value)
          break
        end
        set_option(opts, spec)
        j = j + 1
      end
    elseif command == nil then
      local known = false
      for _, c in ipairs(M.COMMANDS) do known = known or c == a end
      if not known then
        local hint = require("cwlua.targets").suggest(a, M.COMMANDS)
        usage_error("unknown command '%s'%s; run 'cwlua --help' for the list of commands", a,
          hint and (" (did you mean '" .. hint .. "'?)") or "")
      end
      command = load_command(a)
    else
      first_arg = first_arg or i
      args[#args + 1] = a
    end
    i = i + 1
  end
  return opts, command, args, first_arg
end

--- cli.wants_json(argv) -> true when the command line asks for --json. It reads argv as
-- cli.parse does, but never fails: a command line that parse refuses (an unknown option, a
-- missing value) still gets its usage error as a JSON object when it asked for one.
function M.wants_json(argv)
  local command, positional = nil, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" or passes_on(command, positional) then
      return false
    elseif a:sub(1, 2) == "--" then
      local name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      if name == "json" then return true end
      local spec = find_option(command and command.options, name)
        or find_option(M.GLOBAL_OPTIONS, name)
      if spec and spec.arg and not spec.optional and value == nil then i = i + 1 end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      for j = 2, #a do
        local spec = find_option(command and command.options, nil, a:sub(j, j))
          or find_option(M.GLOBAL_OPTIONS, nil, a:sub(j, j))
        if spec and spec.arg then
          if j == #a then i = i + 1 end
          break
        end
      end
    elseif command == nil then
      for _, c in ipairs(M.COMMANDS) do
        if c == a then command = load_command(a) end
      end
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  return false
end

--- cli.emit(object): the command's one --json object (contract.md §3.7). "schema" is set, and
-- "cause" is "ok" unless the command says otherwise (doctor). Printed when the command has
-- returned, so that a failure after it (the board not put back) prints its own object instead.
function M.emit(object)
  if pending_json ~= nil then error("cli.emit: a command gives one JSON object", 2) end
  object.schema = 1
  if object.cause == nil then object.cause = "ok" end
  pending_json = object
end

--- cli.note_cause(cause): the cause a command concluded (doctor), for the parent of a worker
-- when there is no --json object to carry it (cwlua.worker)
function M.note_cause(cause)
  noted_cause = cause
end

-- A usage line longer than 100 columns is broken before an option ("[--x", "(--x"), an
-- argument (SPEC...) or the "--" before a command, the continuation lines indented under the
-- command's first argument. Brackets are never split.
local USAGE_WIDTH = 100
local USAGE = "usage: "

local function wrap_usage(usage, name)
  local indent = (" "):rep(#USAGE + #("cwlua " .. name .. " "))
  local out = {}
  for text in (usage .. "\n"):gmatch("([^\n]*)\n") do
    local words, word, depth = {}, "", 0
    for ch in text:gmatch(".") do -- split at the spaces outside brackets
      if ch == " " and depth == 0 then
        words[#words + 1] = word
        word = ""
      else
        if ch == "[" or ch == "(" then depth = depth + 1 end
        if ch == "]" or ch == ")" then depth = depth - 1 end
        word = word .. ch
      end
    end
    words[#words + 1] = word
    local cur = nil
    for _, w in ipairs(words) do
      if cur == nil then
        cur = w
      elseif #USAGE + #cur + 1 + #w > USAGE_WIDTH and (w:match("^[%[(%u]") or w == "--") then
        out[#out + 1] = cur
        cur = indent .. w
      else
        cur = cur .. " " .. w
      end
    end
    out[#out + 1] = cur
  end
  return table.concat(out, "\n")
end

local function format_options(specs, out)
  for _, s in ipairs(specs) do
    local left = (s.short and ("-" .. s.short .. ", ") or "    ") .. "--" .. s.long
      .. (s.arg and (s.optional and ("[=" .. s.arg .. "]") or (" " .. s.arg)) or "")
    local lines = {}
    for l in s.help:gmatch("[^\n]+") do lines[#lines + 1] = l end
    if #left > 22 then -- too wide for the column: the help starts on the next line
      out[#out + 1] = "  " .. left
      for k = 1, #lines do out[#out + 1] = (" "):rep(25) .. lines[k] end
    else
      out[#out + 1] = ("  %-22s %s"):format(left, lines[1])
      for k = 2, #lines do out[#out + 1] = (" "):rep(25) .. lines[k] end
    end
  end
end

--- cli.help() -> the text of 'cwlua --help'
function M.help()
  local out = { USAGE .. M.USAGE, "", M.DESCRIPTION, "", "commands:" }
  for _, name in ipairs(M.COMMANDS) do
    local c = load_command(name)
    local syn = c.synopsis or c.name
    if #syn > 22 then
      out[#out + 1] = "  " .. syn
      out[#out + 1] = (" "):rep(25) .. c.summary
    else
      out[#out + 1] = ("  %-22s %s"):format(syn, c.summary)
    end
  end
  out[#out + 1] = ""
  out[#out + 1] = "options:"
  format_options(M.GLOBAL_OPTIONS, out)
  out[#out + 1] = ""
  out[#out + 1] = M.CONFIG_HELP
  out[#out + 1] = ""
  out[#out + 1] = M.SEARCH_HELP
  out[#out + 1] = ""
  out[#out + 1] = exit_help()
  return table.concat(out, "\n") .. "\n"
end

--- cli.command_help(command) -> the text of 'cwlua COMMAND --help'
function M.command_help(c)
  local out = { USAGE .. wrap_usage(c.usage, c.name), "", c.summary }
  if c.help then
    out[#out + 1] = ""
    out[#out + 1] = c.help
  end
  if c.options and #c.options > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "options:"
    format_options(c.options, out)
  end
  out[#out + 1] = ""
  out[#out + 1] = "global options: see 'cwlua --help'"
  return table.concat(out, "\n") .. "\n"
end

--- cli.version_info() -> { cwlua=, lua=, lua_linked=, libusb=, libserialport=, ... }
function M.version_info()
  local rt = require "cwlua.core.runtime"
  local sp_pkg, sp_lib = rt.libserialport_version()
  return {
    cwlua = rt.version,
    lua = rt.lua_release:gsub("^Lua ", ""),
    lua_linked = ("%d.%d"):format(rt.lua_version // 100, rt.lua_version % 100),
    libusb = rt.libusb_version(),
    libserialport = sp_pkg,
    libserialport_abi = sp_lib,
  }
end

local function print_version(opts)
  local v = M.version_info()
  if opts.json then
    M.emit(v)
  else
    io.stdout:write(("cwlua %s\nLua %s (linked library: Lua %s)\nlibusb %s\n"
      .. "libserialport %s (library ABI %s)\n"):format(v.cwlua, v.lua, v.lua_linked, v.libusb,
      v.libserialport, v.libserialport_abi))
  end
end


-- -s DIR must name a folder that exists: a typo would otherwise just find no recipe there.
local function check_search_dirs(dirs)
  local runtime = require "cwlua.core.runtime"
  for _, d in ipairs(dirs) do
    local ok, msg, code = runtime.dir(d)
    if not ok then
      if code == "not_found" then
        usage_error("-s %s: no such directory", d)
      elseif code == "not_dir" then
        usage_error("-s %s: not a directory", d)
      end
      usage_error("-s %s: cannot list it (%s)", d, (msg:gsub("^.*: ", "")))
    end
  end
end

-- --sim-* options with a real board or a serial port would be ignored; refuse them instead.
-- 'sim' takes them for its helpers (cwlua.cmd.sim checks which).
local function check_sim_options(opts, command, device_from)
  if command and command.name == "sim" then return end
  if devspec.names_sim(devspec.parse(opts.device)) then return end
  for _, o in ipairs(M.SIM_OPTIONS) do
    if opts[o[1]] ~= nil then
      usage_error("%s applies to the simulator only (-d sim or sim:BOARD); the device is '%s'%s",
        o[2], opts.device, device_from)
    end
  end
end

--- cli.board_faults(faults, device) -> the --sim-fault values for the simulated board -d names:
-- NAME[=VALUE] as given, NAME[=VALUE]@SERIAL only when SERIAL is that board's (without the
-- @SERIAL), and a usage error for one that names another board. For several boards at once
-- the list is returned as it is: cwlua.multi gives each worker its own.
function M.board_faults(faults, device)
  if not faults or not device then return faults end
  local parsed = devspec.parse(device)
  if parsed.kind == "many" then return faults end
  local out = {}
  for _, f in ipairs(faults) do
    local fault, serial = f:match("^([^@]*)@(.*)$")
    if not serial then
      out[#out + 1] = f
    elseif parsed.kind == "sim" and parsed.serial == serial then
      out[#out + 1] = fault
    elseif parsed.kind == "sim" and parsed.serial == nil then
      usage_error("--sim-fault %s names the board %s; -d %s has the simulator's default serial: "
        .. "give the board that one with -d sim:%s@%s", f, serial, device, parsed.board, serial)
    else
      usage_error("--sim-fault %s names the board %s, not the one -d %s names", f, serial,
        device)
    end
  end
  return out
end

--- cli.sim_options(opts) -> the options cwlua.board.open passes to the simulator
function M.sim_options(opts)
  local latency, seed, noise
  if opts.sim_usb_latency then
    -- the rule and the message of sim attach (cwsim_usb_latency_parse): one range for both
    local msg
    latency, msg = require("cwlua.core.device").sim_usb_latency(opts.sim_usb_latency)
    if not latency then usage_error("%s", msg) end
  end
  if opts.sim_seed then
    seed = math.tointeger(tonumber(opts.sim_seed))
    if not seed then usage_error("--sim-seed needs an integer, got '%s'", opts.sim_seed) end
  end
  if opts.sim_noise then
    -- one rule for every front end (cwsim_noise_parse), as for the latency
    local msg
    noise, msg = require("cwlua.core.device").sim_noise(opts.sim_noise)
    if not noise then usage_error("%s", msg) end
  end
  return { target = opts.sim_target, state = opts.sim_state,
           faults = M.board_faults(opts.sim_fault, opts.device),
           latency_ms = latency, seed = seed, noise = noise, app = opts.sim_app }
end

-- The --json object of a run that returned: the command's, or for a command that gave none
-- (a bug) one that still says how it ended. Encoded here, inside the protected call, so that a
-- value JSON cannot carry is an internal error with its own object.
local function json_result(command, status)
  local o = pending_json
  if o == nil then
    o = { schema = 1, cause = status == 0 and "ok" or "failure" }
    if status ~= 0 then
      o.error = ("%s ended with exit status %d"):format(command and command.name or "cwlua",
        status)
    end
  end
  return require("cwlua.json").encode(o)
end

local function dispatch(argv)
  local opts, command, args, first_arg = M.parse(argv)
  verbose = opts.verbose or false
  json_mode = opts.json or false
  -- a run stopped by SIGINT/SIGTERM unwinds to main(), which prints the JSON object then
  require("cwlua.core.signal").set_json(json_mode)
  if opts.quiet and opts.verbose then usage_error("-q and -v contradict each other; pick one") end
  if opts.rig then
    local known = false
    for _, r in ipairs(M.RIGS) do known = known or r == opts.rig end
    if not known then
      usage_error("unknown rig '%s'; use %s or %s", opts.rig,
        table.concat(M.RIGS, ", ", 1, #M.RIGS - 1), M.RIGS[#M.RIGS])
    end
  end
  check_search_dirs(opts.search or {})
  path.set_search(opts.search or {})
  local env_device = os.getenv("CWLUA_DEVICE")
  if opts.device then
    devspec.parse(opts.device, "-d")
  elseif env_device and env_device ~= "" then
    devspec.parse(env_device, "CWLUA_DEVICE")
  end
  if opts.version then
    print_version(opts)
    return 0, json_mode and json_result(command, 0) or nil
  end
  if opts.help then
    if json_mode then
      usage_error("--json does not apply to --help: help is text; run it without --json")
    end
    if command and command.subcommand_help and args[1] then -- cwlua sim faults --help
      return command.subcommand_help(args[1])
    end
    io.stdout:write(command and M.command_help(command) or M.help())
    return 0
  end
  if command == nil then
    usage_error("no command given; run 'cwlua --help' for the list of commands")
  end
  -- A command whose output is not one result (a console, a script's own output, help text)
  -- refuses --json rather than print something that is not the one object (contract.md §3.7).
  if json_mode and command.text_only then
    usage_error("--json does not apply to '%s': %s; run it without --json", command.name,
      command.text_only)
  end
  -- The device: -d, else $CWLUA_DEVICE, else the config files' (contract.md §3.12; a broken
  -- file is exit 2 naming FILE:LINE), else usb. 'help' and 'sim' read no config file.
  local device_from, device_given = "", opts.device
  if not opts.device then
    local config = not command.no_config and require("cwlua.config")
    local spec, origin
    if config then
      spec, origin = config.value("device")
    elseif env_device and env_device ~= "" then
      spec, origin = env_device, { origin = "environment", variable = "CWLUA_DEVICE" }
    end
    opts.device = spec or "usb"
    device_from = spec and (" (from " .. (config and config.where(origin) or "CWLUA_DEVICE")
      .. ")") or " (the default)"
  end
  local board = require "cwlua.board"
  board.defaults.spec = opts.device
  board.defaults.sim = M.sim_options(opts)
  -- several boards: each worker logs its own board (cwlua.multi), not this process
  if opts.log_wire and devspec.parse(opts.device).kind ~= "many" then
    board.set_wire_log(opts.log_wire)
  end
  board.defaults.bitstream = opts.bitstream
  board.defaults.quiet = opts.quiet or false
  if opts.gpio_seq then -- contract.md §3: reset/boot lines of a plain serial adapter
    if devspec.parse(opts.device).kind ~= "serial" then
      usage_error("--gpio-seq drives a serial adapter's lines; it needs -d serial:PATH (the "
        .. "device is '%s')", opts.device)
    end
    local seq, msg = require("cwlua.gpioseq").parse(opts.gpio_seq)
    if not seq then usage_error("%s", msg) end
    require("cwlua.port").defaults.gpio_seq = seq
  end
  check_sim_options(opts, command, device_from)
  local ctx = { opts = opts, args = args, first_arg = first_arg, argv = argv,
    command = command, cli = M, device_given = device_given }
  local status
  local parsed = devspec.parse(opts.device)
  if parsed.kind == "many" and command.many then
    -- one worker per board, in parallel (cwlua.multi): each runs this same command line
    status = require("cwlua.multi").run(ctx, parsed)
  elseif parsed.kind == "many" and command.one then
    usage_error("'%s' works with one board: %s; choose one with -d usb:SERIAL%s", command.name,
      command.one, device_from ~= "" and (" (the device is '%s', %s)"):format(opts.device,
        device_from:match("^ %((.*)%)$") or device_from) or "")
  else
    status = command.run(ctx)
  end
  status = math.type(status) == "integer" and status or 0
  return status, json_mode and json_result(command, status) or nil
end

-- Out of memory. Lua reports a failed allocation with a message it allocated when the state
-- was made, "not enough memory", and calls no message handler for it (the handler would need
-- memory too). Whatever holds the memory may still be alive, so this path allocates nothing:
-- errors.out_of_memory only compares, the line is a constant of this chunk, and file:write of
-- a string copies nothing.
local OUT_OF_MEMORY_LINE = "cwlua: out of memory\n"
local OUT_OF_MEMORY_JSON = '{"cause":"out-of-memory","error":"out of memory","schema":1}\n'
local out_of_memory = errors.out_of_memory

local function handler(e)
  if errors.is(e) or out_of_memory(e) then return e end
  local what = errors.not_message(e) -- error({}): say so, not "table: 0x55…"
  local msg = what and ("%s raised %s (not a message)"):format(errors.position(2) or "?", what)
    or tostring(e)
  return { internal = true, message = msg, traceback = debug.traceback(msg, 2) }
end

-- The --json object of a failure (contract.md §3.7): "error" is the message's first line, the
-- lines after it (a failed connect's seen/likely/do, the files an unknown TARGET was looked for
-- in) are "details"; "cause" is from the one table of causes (contract.md §6.4); an error may
-- add fields of its own (retries, verify, first_mismatch).
local function failure_json(result)
  local json = require "cwlua.json"
  local first, rest = tostring(result.message):match("^([^\n]*)\n?(.*)$")
  local o = { schema = 1, cause = require("cwlua.causes").of(result), error = first }
  if rest ~= "" then
    o.details = json.array()
    for line in rest:gmatch("[^\n]+") do o.details[#o.details + 1] = line:match("^%s*(.-)%s*$") end
  end
  for k, v in pairs(errors.is(result) and result.json or {}) do
    if o[k] == nil then o[k] = v end
  end
  local ok, text = pcall(json.encode, o)
  if not ok then
    text = json.encode({ schema = 1, cause = "internal", error = "the failure's JSON object "
      .. "could not be made: " .. tostring(text) })
  end
  return text
end

--- cli.main(argv) -> exit status. Prints user errors as "cwlua: message" (exit per kind);
-- running out of memory as "cwlua: out of memory" (exit 1); anything else is an internal
-- error: exit 1, with a traceback under -v. With --json, stdout gets exactly one object: the
-- command's, or the failure's. SIGINT and SIGTERM never get here: the xpcall throws them on
-- (cwlua.boot), and main() reports them.
function M.main(argv)
  local scanned, wanted = pcall(M.wants_json, argv)
  json_mode = scanned and wanted or false
  require("cwlua.core.signal").set_json(json_mode)
  local ok, result, out = xpcall(dispatch, handler, argv)
  if not ok and out_of_memory(result) then
    io.stderr:write(OUT_OF_MEMORY_LINE)
    if json_mode then io.stdout:write(OUT_OF_MEMORY_JSON) end
    return errors.EXIT.failure
  end
  if ok then
    if out then io.stdout:write(out, "\n") end
    io.stdout:flush()
    local status = math.type(result) == "integer" and result or 0
    -- a worker of a command on several boards: how it ended, for its parent (cwlua.multi)
    worker.result(status, pending_json and pending_json.cause or noted_cause
      or (status == 0 and "ok" or "failure"))
    return status
  end
  io.stdout:flush()
  if type(result) ~= "table" then -- the handler itself failed ("error in error handling")
    result = { internal = true, message = tostring(result), traceback = tostring(result) }
  end
  if errors.is(result) then
    io.stderr:write("cwlua: ", result.message, "\n")
  elseif verbose then
    io.stderr:write("cwlua: ", result.traceback, "\n")
  else
    io.stderr:write("cwlua: ", result.message, "\n",
      "cwlua: this is a bug in cwlua or a recipe; rerun with -v for a traceback\n")
  end
  if json_mode then io.stdout:write(failure_json(result), "\n") end
  local status = errors.is(result) and result.exit or errors.EXIT.failure
  worker.result(status, require("cwlua.causes").of(result),
    tostring(result.message):match("^[^\n]*"))
  return status
end

return M
