-- SPDX-License-Identifier: MIT
-- cwlua sim ...: the simulator's own commands (contract.md §5).
--   sim attach SPEC... [--sim-*] -- COMMAND ARGS...
--   sim adapter PART [--nrst W] [--boot0 W] [--sim-*] -- COMMAND ARGS...
--   sim serve PART --pty [--sim-*]
-- 'attach' and 'adapter' run the helper programs cwlua-sim-attach and cwlua-sim-adapter
-- installed beside cwlua: they need GLib and umockdev, which the cwlua binary itself does not
-- link (contract.md §2).
local errors = require "cwlua.errors"
local runtime = require "cwlua.core.runtime"

local SUBCOMMANDS = { "attach", "adapter", "serve", "faults" }
-- The helper programs installed beside cwlua: attach and adapter need GLib and umockdev, which
-- the cwlua binary does not link (contract.md §2); serve is a long-running pty server.
local HELPERS = { attach = "cwlua-sim-attach", adapter = "cwlua-sim-adapter",
                  serve = "cwlua-sim-serve" }

-- Global --sim-* options given before 'sim' go to the helper too (each takes the ones it has).
-- attach takes every one of them: cli.SIM_OPTIONS, made from the table its helper parses.
local FORWARD = {
  serve = { { "sim_fault", "--sim-fault" }, { "sim_seed", "--sim-seed" },
            { "sim_state", "--sim-state" }, { "sim_app", "--sim-app" } },
  adapter = { { "sim_fault", "--sim-fault" }, { "sim_seed", "--sim-seed" },
              { "sim_state", "--sim-state" }, { "sim_app", "--sim-app" } },
}

local function forwarded(ctx, sub)
  if sub == "attach" then return ctx.cli.SIM_OPTIONS end
  return FORWARD[sub] or {}
end

-- sim attach's options in a usage line: the --sim-* table (cwsim_option_table)
local function attach_options()
  local parts = {}
  for _, o in ipairs(require("cwlua.core.device").sim_options()) do
    parts[#parts + 1] = ("[--%s %s]%s"):format(o.name, o.arg, o.multi and "..." or "")
  end
  return table.concat(parts, " ")
end

local function helper_path(name)
  local exe, err = runtime.exe_path()
  if not exe then errors.raise("failure", "cannot find cwlua's own path: %s", err) end
  return (exe:match("^(.*)/[^/]*$") or ".") .. "/" .. name
end

-- A global --sim-* option the subcommand's helper does not take would be dropped: refuse it.
local function check_forwarded(ctx, sub)
  local takes = {}
  for _, f in ipairs(forwarded(ctx, sub)) do takes[f[1]] = true end
  for _, o in ipairs(ctx.cli.SIM_OPTIONS) do
    if ctx.opts[o[1]] ~= nil and not takes[o[1]] then
      errors.raise("usage", "%s does not apply to 'sim %s'; run 'cwlua sim %s --help'", o[2], sub,
        sub)
    end
  end
end

local FAULTS_HELP = [[
usage: cwlua sim faults [--json]

list the faults --sim-fault can inject into the simulator

Each line is NAME[=VALUE], what the fault does, its default value where it takes one, and
[persistent] for a fault the chip keeps in its state folder. '--sim-fault NAME[=VALUE]'
(repeatable) injects one into -d sim, 'sim attach' and 'sim serve'. With --json: one object,
"faults": a list of name, arg, default, summary, live and persistent. See docs/simulator.md.

global options: see 'cwlua --help'
]]

local function unknown(sub)
  local hint = require("cwlua.targets").suggest(sub, SUBCOMMANDS)
  errors.raise("usage", "unknown sim subcommand '%s'%s; run 'cwlua sim --help'", sub,
    hint and (" (did you mean '" .. hint .. "'?)") or "")
end

local function exec_helper(sub, argv)
  local helper = helper_path(HELPERS[sub])
  table.insert(argv, 1, helper)
  local _, err, code = runtime.exec(helper, argv)
  if code == "not_found" then
    errors.raise("device", "%s is missing; it is built with cwlua (tools/sim%s) and "
      .. "installed beside it: reinstall cwlua, or build it with libumockdev-dev installed",
      helper, sub)
  end
  errors.raise("device", "cannot run %s", err)
end

-- 'cwlua sim SUB --help' and 'cwlua help sim SUB': the subcommand's own help. The helpers
-- print theirs.
local function subcommand_help(sub)
  if sub == "faults" then
    io.stdout:write(FAULTS_HELP)
    return 0
  end
  if HELPERS[sub] then exec_helper(sub, { "--help" }) end
  unknown(sub)
end

local function run(ctx)
  local sub = ctx.args[1]
  if sub == nil then
    errors.raise("usage", "sim needs a subcommand: %s; run 'cwlua sim --help'",
      table.concat(SUBCOMMANDS, ", "))
  end
  if HELPERS[sub] or sub == "faults" then check_forwarded(ctx, sub) end
  if HELPERS[sub] and ctx.opts.json then -- contract.md §3.7: one object, or none at all
    errors.raise("usage", "--json does not apply to 'sim %s': %s; run it without --json", sub,
      sub == "attach" and "the output is COMMAND's (give COMMAND its own --json)"
        or "it prints only the pty's path")
  end
  if HELPERS[sub] then
    local argv = {}
    for _, f in ipairs(forwarded(ctx, sub)) do
      local v = ctx.opts[f[1]]
      for _, x in ipairs(type(v) == "table" and v or { v }) do
        argv[#argv + 1] = f[2]
        argv[#argv + 1] = x
      end
    end
    for i = 2, #ctx.args do argv[#argv + 1] = ctx.args[i] end
    exec_helper(sub, argv)
  end
  if sub == "faults" then
    if ctx.args[2] then
      errors.raise("usage", "unexpected argument '%s'; usage: cwlua sim faults [--json]",
        ctx.args[2])
    end
    local list = require("cwlua.core.device").sim_faults()
    if ctx.opts.json then
      ctx.cli.emit({ faults = require("cwlua.json").array(list) })
      return 0
    end
    for _, f in ipairs(list) do
      local name = f.name .. (f.arg ~= "" and ("=" .. f.arg) or "")
      io.stdout:write(("%-24s %s%s%s\n"):format(name, f.summary,
        f.default and (" (default " .. f.default .. ")") or "",
        f.persistent and " [persistent]" or ""))
    end
    return 0
  end
  unknown(sub)
end

return {
  name = "sim",
  synopsis = "sim attach|adapter|serve|faults",
  summary = "the simulator: boards for any libusb program, a serial adapter, a chip on a pty",
  usage = "cwlua sim attach " .. attach_options() .. " SPEC... -- COMMAND [ARGS...]\n"
    .. "       cwlua sim adapter PART [--nrst WIRE] [--boot0 WIRE] [--sim-state DIR] -- COMMAND "
    .. "[ARGS...]\n"
    .. "       cwlua sim serve PART --pty [--sim-state DIR] [--sim-fault NAME[=VALUE]]... "
    .. "[--sim-seed N] [--sim-app APP]\n"
    .. "       cwlua sim faults [--json]",
  help = [[
'sim faults' lists the faults --sim-fault can inject, with their defaults.

'sim adapter': COMMAND runs with a simulated USB-serial adapter at /dev/ttyUSB0 (an FT232R)
whose wire leads to a simulated STM32 (PART) in its ROM bootloader, paced in real time; the
adapter's DTR and RTS drive the chip's nRST and BOOT0 (by default DTR# to nRST, RTS# to BOOT0,
as docs/install.md wires a real one), so 'cwlua -d serial:/dev/ttyUSB0 --gpio-seq ...' and
stm32flash can be tried without hardware. 'cwlua sim adapter --help' shows all options.

'sim serve': the chip's ROM bootloader on a pseudo-terminal, paced in real time, for tools such
as stm32flash; prints only the pty path, serves until killed, keeps the chip's memory in
--sim-state. 'cwlua sim serve --help' shows all options; see docs/simulator-stm32.md.

'sim attach': SPEC is BOARD[:PART][@SERIAL], BOARD one of cwlite, cw1200, husky, nano;
give several SPECs for several boards. COMMAND runs with the simulated boards visible to any
dynamically linked libusb-1.0 program (cwlua itself, pyusb or python-libusb1 scripts, NewAE's
tools), with the real vendor/product IDs and strings, answered by the simulator. It takes every
--sim-* option -d sim takes; --sim-target and --sim-app apply to each board (a SPEC's PART
wins over --sim-target). The exit status is COMMAND's. 'cwlua sim attach --help' shows all
options. See docs/simulator-attach.md.]],
  -- attach and serve pass what follows to their helper; faults takes cwlua's own options
  args_to_script = function(args) return HELPERS[args[1]] ~= nil end,
  no_config = true, -- the simulator's helpers take no device, rig or recipe setting
  subcommand_help = subcommand_help,
  run = run,
}
