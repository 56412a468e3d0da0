-- SPDX-License-Identifier: MIT
-- packaging/man.lua OUTDIR: the man pages, made at build time by the built binary
--   cwlua run packaging/man.lua OUTDIR
-- cwlua(1) from the tables that make `cwlua --help` and `cwlua COMMAND --help` (cwlua.cli, the
-- command modules, cwlua.devspec, the simulator's fault list, the built-in recipes); one page per
-- simulator helper (cwlua-sim-attach(1), cwlua-sim-serve(1), cwlua-sim-adapter(1)) from the
-- helper's own --help, run from beside cwlua. So a page cannot say other than the help does.
local here = arg[0]:match("^(.*)/[^/]*$") or "."
local roff = dofile(here .. "/roff.lua")
local outdir = assert(arg[1], "usage: cwlua run packaging/man.lua OUTDIR")

local cli = require "cwlua.cli"
local devspec = require "cwlua.devspec"
local runtime = require "cwlua.core.runtime"

local VERSION = "cwlua " .. runtime.version
local MANUAL = "cwlua manual"
local DOCDIR = "/usr/share/doc/cwlua"
local HELPERS = { "attach", "serve", "adapter" }

local function write(name, lines)
  local f = assert(io.open(outdir .. "/" .. name, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

-- A usage or synopsis line in roff: cwlua and the command in bold, options in bold,
-- metavariables (TARGET, FILE, N) in italics; the spaces inside brackets unbreakable, so that
-- the line wraps only between whole options.
local function usage_line(text, command)
  local out, depth = {}, 0
  for pre, word in text:gmatch("([^%w_%-]*)([%w_%-]*)") do
    for ch in pre:gmatch(".") do
      if ch == "[" or ch == "(" then depth = depth + 1 end
      if ch == "]" or ch == ")" then depth = depth - 1 end
      out[#out + 1] = (ch == " " and depth > 0) and "\\ " or roff.escape(ch)
    end
    if word == "cwlua" or word == command or word:match("^%-%-?%a") then
      out[#out + 1] = roff.bold(word)
    elseif word:match("^%u[%u%d_]*$") then
      out[#out + 1] = roff.italic(word)
    else
      out[#out + 1] = roff.escape(word)
    end
  end
  return table.concat(out)
end

-- Each usage of a usage text (a line that starts with "cwlua", and the indented lines that
-- continue it) as a paragraph whose continuation is indented.
local function synopsis(out, usage, command)
  local lines = {}
  for l in usage:gmatch("[^\n]+") do
    l = l:gsub("^%s+", "")
    if #lines == 0 or l:match("^cwlua ") then
      lines[#lines + 1] = l
    else
      lines[#lines] = lines[#lines] .. " " .. l
    end
  end
  for _, l in ipairs(lines) do
    out[#out + 1] = ".PP"
    out[#out + 1] = ".in +4n"
    out[#out + 1] = ".ti -4n"
    out[#out + 1] = usage_line(l, command)
    out[#out + 1] = ".in"
  end
end

local function options(out, specs)
  for _, s in ipairs(specs) do roff.item(out, roff.option(s), s.help) end
end

local function first_sentence(text)
  local s = text:gsub("\n", " "):match("^(.-)%.%s") or text:gsub("\n", " ")
  return s:sub(1, 1):lower() .. s:sub(2)
end

---------------------------------------------------------------------------------------------
-- cwlua(1)

local function builtin_targets()
  local list = {}
  for _, e in ipairs(require("cwlua.targets").list()) do
    if e.origin == "built-in" and e.recipe then
      local aliases = {}
      for a in pairs(e.recipe.aliases or {}) do aliases[#aliases + 1] = a end
      table.sort(aliases)
      list[#list + 1] = { name = e.name, summary = e.recipe.summary, aliases = aliases }
    end
  end
  return list
end

local function cwlua_page()
  local out = roff.header("cwlua", 1, VERSION, MANUAL)
  local add = function(l) out[#out + 1] = l end
  add(".SH NAME")
  add("cwlua \\- " .. roff.escape(first_sentence(cli.DESCRIPTION)))
  add(".SH SYNOPSIS")
  synopsis(out, cli.USAGE)
  add(".SH DESCRIPTION")
  roff.text(cli.DESCRIPTION, out)
  add(".PP")
  roff.text("cwlua is a C runtime with Lua 5.4 inside: C drives the USB boards, pins, power, clock "
    .. "and serial line; a recipe per target family, in Lua, holds the programming sequences. "
    .. "A simulator of the boards and chips (-d sim) runs everything without hardware.", out)
  add(".PP")
  roff.text(cli.CONFIG_HELP:gsub("^d", "D") .. ".", out)
  add(".PP")
  roff.text(cli.SEARCH_HELP:gsub("^r", "R") .. ". A TARGET is a recipe name (stm32f1) or a "
    .. "ChipWhisperer PLATFORM alias (CW308_STM32F1), in any case.", out)
  add(".PP")
  roff.text("Global options may stand anywhere before the command's arguments; each command's "
    .. "own options follow its name. 'cwlua COMMAND --help' (or 'cwlua help COMMAND') shows one "
    .. "command's help, as below.", out)

  add(".SH COMMANDS")
  for _, name in ipairs(cli.COMMANDS) do
    local c = require("cwlua.cmd." .. name)
    add(".SS " .. roff.escape(name))
    synopsis(out, c.usage, name)
    add(".PP")
    roff.text(c.summary:sub(1, 1):upper() .. c.summary:sub(2) .. ".", out)
    if c.help then
      add(".PP")
      roff.text(c.help, out)
    end
    if c.options and #c.options > 0 then
      add(".PP")
      add("Options:")
      add(".RS 2")
      options(out, c.options)
      add(".RE")
    end
  end

  add(".SH OPTIONS")
  options(out, cli.GLOBAL_OPTIONS)

  add(".SH DEVICE SPECS")
  roff.text("-d SPEC (or $CWLUA_DEVICE) names the board or port to use:", out)
  for _, s in ipairs(devspec.SPECS) do
    roff.item(out, usage_line(s[1]), s[2])
  end

  add(".SH TARGETS")
  roff.text("The built-in recipes and their aliases ('cwlua targets' lists those on the search "
    .. "path, with the commands each supports):", out)
  for _, t in ipairs(builtin_targets()) do
    local help = t.summary or ""
    if #t.aliases > 0 then help = help .. "; aliases: " .. table.concat(t.aliases, ", ") end
    roff.item(out, roff.bold(t.name), help)
  end

  add(".SH SIMULATOR FAULTS")
  roff.text("--sim-fault NAME[=VALUE] (repeatable) breaks a link of the simulated set-up on "
    .. "purpose, with -d sim, 'sim attach' and 'sim serve'; 'cwlua sim faults' lists them. "
    .. "[persistent]: the chip keeps the fault in its state folder.", out)
  for _, f in ipairs(require("cwlua.core.device").sim_faults()) do
    local term = roff.bold(f.name) .. (f.arg ~= "" and ("=" .. roff.italic(f.arg)) or "")
    roff.item(out, term, f.summary .. (f.default and (" (default " .. f.default .. ")") or "")
      .. (f.persistent and " [persistent]" or ""))
  end

  add(".SH EXIT STATUS")
  for _, e in ipairs(cli.EXIT_STATUS) do roff.item(out, roff.bold(tostring(e[1])), e[2]) end
  add(".PP")
  roff.text(cli.EXIT_NOTE .. " Some commands say more in their own help (doctor: 3 a "
    .. "board-side cause, 4 a target-side cause).", out)

  add(".SH ENVIRONMENT")
  for _, e in ipairs(cli.ENVIRONMENT) do roff.item(out, roff.bold(e[1]), e[2]) end

  add(".SH FILES")
  for _, f in ipairs(cli.FILES) do roff.item(out, roff.italic(f[1]), f[2]) end

  add(".SH EXAMPLES")
  roff.text(table.concat({
    "  cwlua -d sim program stm32f1 hello.hex",
    "  cwlua program CW308_STM32F1 fw.hex",
    "  cwlua verify stm32f1 fw.hex",
    "  cwlua -d usb:50203120 doctor stm32f1 --rig cw506",
    "  cwlua -d sim --sim-target stm32f1 --sim-app ss1-aes run aes_kat.lua",
  }, "\n"), out)

  add(".SH SEE ALSO")
  local see = {}
  for _, h in ipairs(HELPERS) do see[#see + 1] = roff.bold("cwlua-sim-" .. h) .. "(1)" end
  add(table.concat(see, ", ") .. ", " .. roff.bold("stm32flash") .. "(1)")
  add(".PP")
  roff.text("The README, the documentation (api.md for lab scripts, targets.md for recipes, "
    .. "install.md, troubleshooting.md, simulator.md) and the example lab scripts are in "
    .. DOCDIR .. " for the Debian package, docs/ of the source tree otherwise.", out)
  return out
end

---------------------------------------------------------------------------------------------
-- the helpers' pages, from their --help

local function helper_help(name)
  local bindir = assert(runtime.exe_path()):match("^(.*)/[^/]*$")
  local p = assert(io.popen(("'%s/%s' --help"):format(bindir, name)))
  local text = p:read("a")
  assert(p:close(), name .. " --help failed")
  return text
end

-- A section heading of the help: "options:", "options (...):", "examples:"; or a section on
-- one line, "environment: TEXT", "exit status: TEXT".
local SECTIONS = { options = "OPTIONS", examples = "EXAMPLES", environment = "ENVIRONMENT",
                   ["exit status"] = "EXIT STATUS" }

local function helper_page(sub)
  local name = "cwlua-sim-" .. sub
  local help = helper_help(name)
  local paras = {}
  for p in (help:gsub("\n\n+", "\0") .. "\0"):gmatch("([^%z]*)%z") do
    if p:match("%S") then paras[#paras + 1] = p end
  end
  local usage = assert(table.remove(paras, 1):match("^usage: (.*)$"), name .. ": no usage")
  local description, sections, order = {}, {}, {}
  for _, p in ipairs(paras) do
    local intro
    local head, rest = p:match("^(%l[%l ]-):\n(.*)$")
    if not head then head, intro, rest = p:match("^(%l[%l ]-) (%b()):\n(.*)$") end
    local inline_head, inline = p:match("^(%l[%l ]-): (.*)$")
    if head and SECTIONS[head] then
      sections[head] = { intro = intro and intro:sub(2, -2):gsub("\n", " "), body = rest }
      order[#order + 1] = head
    elseif inline_head and SECTIONS[inline_head] then
      sections[inline_head] = { text = inline }
      order[#order + 1] = inline_head
    else
      description[#description + 1] = p
    end
  end

  local out = roff.header(name, 1, VERSION, MANUAL)
  local add = function(l) out[#out + 1] = l end
  add(".SH NAME")
  add(roff.escape(name) .. " \\- " .. roff.escape(first_sentence(description[1] or "")))
  add(".SH SYNOPSIS")
  synopsis(out, usage, sub)
  add(".SH DESCRIPTION")
  roff.text(("%s is the helper behind 'cwlua sim %s', which runs it from beside the cwlua "
    .. "binary; it is installed by the cwlua-sim package. Its command line is the one "
    .. "'cwlua sim %s' takes."):format(name, sub, sub), out)
  for _, p in ipairs(description) do
    add(".PP")
    roff.text(p, out)
  end
  for _, head in ipairs(order) do
    local s = sections[head]
    add(".SH " .. SECTIONS[head])
    if s.text then
      roff.text(s.text, out)
    elseif head == "options" then
      if s.intro then roff.text(s.intro:sub(1, 1):upper() .. s.intro:sub(2) .. ".", out) end
      -- "  --opt ARG   help" with continuation lines under the help
      local term, text
      local function flush()
        if term then roff.item(out, term, text) end
        term = nil
      end
      for l in (s.body .. "\n"):gmatch("([^\n]*)\n") do
        local opt, h = l:match("^  (%-[^ ].-)%s%s+(.*)$")
        if not opt then opt, h = l:match("^  (%-%S+)$"), "" end
        if opt then
          flush()
          term, text = usage_line(opt), h
        elseif term and l:match("^%s+%S") then
          text = text .. "\n" .. l:gsub("^%s+", "")
        end
      end
      flush()
    else
      roff.text(s.body, out)
    end
  end
  add(".SH SEE ALSO")
  local see = { roff.bold("cwlua") .. "(1)" }
  for _, h in ipairs(HELPERS) do
    if h ~= sub then see[#see + 1] = roff.bold("cwlua-sim-" .. h) .. "(1)" end
  end
  add(table.concat(see, ", "))
  add(".PP")
  roff.text("The simulator and its deviations from real hardware: simulator.md in " .. DOCDIR
    .. " (docs/ of the source tree).", out)
  return out
end

write("cwlua.1", cwlua_page())
for _, sub in ipairs(HELPERS) do write("cwlua-sim-" .. sub .. ".1", helper_page(sub)) end
