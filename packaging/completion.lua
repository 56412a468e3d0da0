-- SPDX-License-Identifier: MIT
-- packaging/completion.lua BASH_FILE ZSH_FILE: bash and zsh completion for cwlua, made at build
-- time by the built binary from the tables that make its --help:
--   cwlua run packaging/completion.lua share/bash-completion/completions/cwlua share/zsh/_cwlua
-- Commands and their options come from cwlua.cli and the command modules, each command's
-- arguments from its usage line (TARGET, FILE, on|off|cycle, ...), device specs from
-- cwlua.devspec, fault names from the simulator. What depends on the machine is asked of cwlua
-- when completing: targets and aliases from `cwlua targets` (with the command line's -s
-- folders, so a user's own recipe completes too), boards and ports from `cwlua list`.
local cli = require "cwlua.cli"
local devspec = require "cwlua.devspec"

local bash_file = assert(arg[1], "usage: cwlua run packaging/completion.lua BASH_FILE ZSH_FILE")
local zsh_file = assert(arg[2], "usage: cwlua run packaging/completion.lua BASH_FILE ZSH_FILE")

---------------------------------------------------------------------------------------------
-- the model: for each command its options and the kind of each argument
--
-- A kind says how a word completes: "target", "device", "fault", "dir", "file", "command"
-- (cwlua's commands), "program" (a program and its arguments, after sim attach's '--'),
-- "simspec" (BOARD[:PART] of sim attach), { "files", ext... }, { "words", word... }, "none"
-- (a value nothing can guess: a number, an address).

-- Split a usage line at its top-level spaces, brackets kept whole (as cwlua.cli wraps it).
local function tokens(text)
  local out, word, depth = {}, "", 0
  for ch in (text .. " "):gmatch(".") do
    if ch == " " and depth == 0 then
      if word ~= "" then out[#out + 1] = word end
      word = ""
    else
      if ch == "[" or ch == "(" then depth = depth + 1 end
      if ch == "]" or ch == ")" then depth = depth - 1 end
      word = word .. ch
    end
  end
  return out
end

-- The usages of a usage text: a line that starts with "cwlua" and its continuation lines.
local function usages(text)
  local list = {}
  for l in text:gmatch("[^\n]+") do
    l = l:gsub("^%s+", "")
    if #list == 0 or l:match("^cwlua ") then
      list[#list + 1] = l
    else
      list[#list] = list[#list] .. " " .. l
    end
  end
  return list
end

local function find_option(specs, long)
  for _, s in ipairs(specs or {}) do
    if s.long == long then return s end
  end
end

-- How an option's value completes.
local function option_kind(spec, command_options)
  if spec.values then return { "words", table.unpack(spec.values) } end
  if spec.long == "device" then return "device" end
  if spec.long == "sim-fault" then return "fault" end
  if spec.arg == "PART" or spec.arg == "TARGET" then return "target" end
  if spec.arg == "DIR" then return "dir" end
  if spec.arg == "FILE" then
    -- --eeprom FILE: the extensions of --eeprom-format's values; --bitstream: its files
    local fmt = find_option(command_options, spec.long .. "-format")
    if fmt and fmt.values then return { "files", table.unpack(fmt.values) } end
    if spec.files then return { "files", table.unpack(spec.files) } end
    return "file"
  end
  return "none"
end

-- How a positional argument of a usage line completes: TARGET, FILE (an image: the extensions
-- of the command's --format values), SCRIPT (Lua), on|off|cycle (the lower-case words).
local function argument_kind(word, options)
  word = word:gsub("%.%.%.$", "")
  if word:find("|", 1, true) then
    local words = { "words" }
    for w in word:gmatch("[^|]+") do
      if w:match("^%l") then words[#words + 1] = w end
    end
    return words
  end
  if word == "TARGET" or word == "PART" then return "target" end
  if word == "FILE" then
    local fmt = find_option(options, "format")
    if fmt and fmt.values then return { "files", table.unpack(fmt.values) } end
    return "file"
  end
  if word == "SCRIPT" then return { "files", "lua" } end
  if word == "OUT" or word == "ARGS" then return "file" end
  if word == "COMMAND" then return "command" end
  if word == "SPEC" then return "simspec" end
  return "none"
end

-- The positional arguments of a usage line after "cwlua [-d SPEC] NAME [SUB]": a list of
-- kinds, .rest for the kind of any further one, .program when '--' starts a command line;
-- and the options the line names ("[--nrst WIRE]", "--pty") that are not cwlua's own.
local function parse_usage(usage, skip, options)
  local args, extra = { names = {} }, {}
  local toks = tokens(usage)
  local i = 1
  while toks[i] and (toks[i] == "cwlua" or toks[i]:match("^%[%-d ") or skip[toks[i]]) do
    i = i + 1
  end
  local function positional(t)
    local inner = t:match("^%[(.*)%]$")
    if inner then -- [TARGET], [COMMAND [SUBCOMMAND]], [ARGS...]
      for _, x in ipairs(tokens(inner)) do positional(x) end
      return
    end
    local kind = argument_kind(t, options)
    if t:match("%.%.%.$") then
      args.rest = kind
    else
      args[#args + 1] = kind
      args.names[#args] = t:lower() -- the message zsh shows: target, file, on|off|cycle
    end
  end
  while toks[i] do
    local t = toks[i]
    if t == "--" then
      args.program = true
      break
    end
    local opt = t:match("^%[?(%-%-[%w%-]+)")
    if opt then
      local arg = t:match("^%[?%-%-[%w%-]+[ =]([^%]]+)")
      extra[#extra + 1] = { long = opt:sub(3), arg = arg and arg:gsub("%]%.%.%.$", "") }
    elseif not t:match("^[%[(]%-") then
      positional(t)
    end
    i = i + 1
  end
  return args, extra
end

local function option_entry(s, command_options)
  return { short = s.short, long = s.long, help = (s.help or ""):gsub("\n", " "), arg = s.arg,
           takes = s.arg ~= nil and not s.optional, optional = s.optional,
           kind = s.arg and option_kind(s, command_options) or nil, multi = s.multi }
end

local model = { global = {}, commands = {} }
for _, s in ipairs(cli.GLOBAL_OPTIONS) do model.global[#model.global + 1] = option_entry(s) end

for _, name in ipairs(cli.COMMANDS) do
  local c = require("cwlua.cmd." .. name)
  local entry = { name = name, summary = c.summary, options = {} }
  for _, s in ipairs(c.options or {}) do
    entry.options[#entry.options + 1] = option_entry(s, c.options)
  end
  local list = usages(c.usage)
  if name == "sim" then
    -- the subcommands: their names from the synopsis ("sim attach|adapter|serve|faults"), their
    -- arguments and options from their usage lines
    entry.subcommands = {}
    for _, u in ipairs(list) do
      local sub = u:match("^cwlua sim (%l+)")
      local args, extra = parse_usage(u, { sim = true, [sub] = true }, {})
      local options = {}
      for _, o in ipairs(extra) do
        local global = find_option(cli.GLOBAL_OPTIONS, o.long)
        options[#options + 1] = global and option_entry(global)
          or option_entry({ long = o.long, arg = o.arg, help = "" })
      end
      -- a subcommand whose words go to its helper as they are takes no option of cwlua's
      local own = type(c.args_to_script) == "function" and c.args_to_script({ sub }) or false
      entry.subcommands[#entry.subcommands + 1] = { name = sub, args = args, options = options,
                                                    own = own }
    end
    entry.args = { { "words" }, names = { "subcommand" } }
    for _, s in ipairs(entry.subcommands) do table.insert(entry.args[1], s.name) end
  else
    entry.args = parse_usage(list[1], { [name] = true }, c.options)
    if c.args_to_script == true then entry.args.script = true end -- run SCRIPT ARGS...
  end
  if name == "help" then -- help COMMAND SUBCOMMAND: sim's subcommands
    entry.args[2] = { "words" }
    entry.args.names[2] = "subcommand"
    for _, u in ipairs(usages(require("cwlua.cmd.sim").usage)) do
      table.insert(entry.args[2], u:match("^cwlua sim (%l+)"))
    end
  end
  model.commands[#model.commands + 1] = entry
end

local faults = {}
for _, f in ipairs(require("cwlua.core.device").sim_faults()) do
  faults[#faults + 1] = { word = f.name .. (f.arg ~= "" and "=" or ""), help = f.summary }
end

local boards = devspec.SIM_BOARDS
local device_words = {}
for _, s in ipairs(devspec.SPECS) do
  -- usb, sim; not usb:*, which the shell would expand unquoted
  if not s[1]:find("%u") and not s.many then device_words[#device_words + 1] = s[1] end
end
for _, b in ipairs(boards) do device_words[#device_words + 1] = "sim:" .. b end

---------------------------------------------------------------------------------------------
-- bash

local function shell_words(list)
  local out = {}
  for _, w in ipairs(list) do
    assert(w:match("^[%w%-_:=.!]+$"), "a word that would need quoting: " .. w)
    out[#out + 1] = w
  end
  return table.concat(out, " ")
end

local function bash_kind(kind)
  if type(kind) == "table" then return shell_words(kind) end
  return kind
end

local function option_words(options)
  local w = {}
  for _, o in ipairs(options) do
    if o.short then w[#w + 1] = "-" .. o.short end
    w[#w + 1] = "--" .. o.long .. (o.optional and "=" or "")
  end
  return w
end

-- case branches: "-d|--device) echo device ;;" for every option that takes a value
local function bash_option_cases(options, indent)
  local out = {}
  for _, o in ipairs(options) do
    local pats = { "--" .. o.long }
    if o.short then table.insert(pats, 1, "-" .. o.short) end
    local what = "flag"
    if o.takes then
      what = bash_kind(o.kind)
    elseif o.optional then
      what = "optional " .. bash_kind(o.kind)
    end
    out[#out + 1] = indent .. table.concat(pats, "|") .. ") echo " .. what .. "; return ;;"
  end
  return table.concat(out, "\n")
end

local function bash_args_cases(key, args, indent, out)
  for i, k in ipairs(args) do
    out[#out + 1] = ("%s%s:%d) echo %s ;;"):format(indent, key, i, bash_kind(k))
  end
  if args.program then
    out[#out + 1] = ("%s%s:--) echo program ;;"):format(indent, key)
  end
  if args.script then
    out[#out + 1] = ("%s%s:*) echo script-args ;;"):format(indent, key)
  elseif args.rest then
    out[#out + 1] = ("%s%s:*) echo %s ;;"):format(indent, key, bash_kind(args.rest))
  end
end

local function bash()
  local command_names, option_cases, options_lists, args_cases, own = {}, {}, {}, {}, {}
  for _, c in ipairs(model.commands) do
    command_names[#command_names + 1] = c.name
    local groups = { { key = c.name, options = c.options, args = c.args } }
    for _, s in ipairs(c.subcommands or {}) do
      groups[#groups + 1] = { key = c.name .. "-" .. s.name, options = s.options, args = s.args }
      if s.own then own[#own + 1] = c.name .. "-" .. s.name end
    end
    for _, g in ipairs(groups) do
      if #g.options > 0 then
        option_cases[#option_cases + 1] = ("        %s)\n            case $2 in\n%s\n"
          .. "            esac ;;"):format(g.key, bash_option_cases(g.options, "                "))
        options_lists[#options_lists + 1] = ("        %s) echo %s ;;"):format(g.key,
          shell_words(option_words(g.options)))
      end
      bash_args_cases(g.key, g.args, "        ", args_cases)
    end
  end
  local fault_words = {}
  for _, f in ipairs(faults) do fault_words[#fault_words + 1] = f.word end

  local template = [==[
# bash completion for cwlua                                  -*- shell-script -*-
# SPDX-License-Identifier: MIT
# Generated by packaging/completion.lua from the tables of cwlua's --help: do not edit.
# Targets and aliases come from `cwlua targets` (with the -s folders of the command line),
# boards and serial ports from `cwlua list`, when completing.

_cwlua_commands="@COMMANDS@"
_cwlua_faults="@FAULTS@"
_cwlua_devices_fixed="@DEVICES@"
_cwlua_boards="@BOARDS@"
# what passes its words to a helper, which takes only its own options
_cwlua_own_options="@OWN@"

# _cwlua_option COMMAND OPTION: how OPTION's value completes ("flag": it takes none,
# "optional KIND": only as --option=VALUE); nothing for an option cwlua does not know
_cwlua_option() {
    case $1 in
@OPTION_CASES@
    esac
    [[ " $_cwlua_own_options " == *" $1 "* ]] && return
    case $2 in
@GLOBAL_OPTION_CASES@
    esac
}

# _cwlua_options COMMAND: the option words to offer after COMMAND
_cwlua_options() {
    [[ " $_cwlua_own_options " == *" $1 "* ]] || echo @GLOBAL_OPTIONS@
    case $1 in
@OPTIONS_LISTS@
    esac
}

# _cwlua_argument COMMAND N: how COMMAND's Nth argument completes; COMMAND:-- for the words
# after a '--' that starts a command line
_cwlua_argument() {
    case $1:$2 in
@ARGS_CASES@
    esac
}

# _cwlua_targets CWLUA [-s DIR]...: the recipes and aliases on the search path
_cwlua_targets() {
    local line IFS=$' \t\n'
    local -a words
    while IFS= read -r line; do
        case $line in
            ' '*'aliases: '*)
                IFS=', ' read -ra words <<<"${line#*aliases: }"
                for line in "${words[@]}"; do
                    [[ $line == '('* ]] || printf '%s\n' "$line"
                done ;;
            ' '* | '') ;;
            *) printf '%s\n' "${line%% *}" ;;
        esac
    done < <("$@" targets 2>/dev/null)
}

# _cwlua_devices CWLUA: usb, sim, sim:BOARD, and usb:SERIAL and serial:PATH of what is attached
_cwlua_devices() {
    local line section= IFS=$' \t\n'
    printf '%s\n' $_cwlua_devices_fixed
    while IFS= read -r line; do
        case $line in
            boards:*) section=boards ;;
            'serial ports:'*) section=ports ;;
            ' '*)
                read -ra line <<<"$line"
                if [[ $section == boards ]]; then
                    printf 'usb:%s\n' "${line[1]}"
                else
                    printf 'serial:%s\n' "${line[0]}"
                fi ;;
        esac
    done < <("$1" list 2>/dev/null)
}

# _cwlua_reply KIND... : COMPREPLY for the current word $cur (one candidate a line, so that a
# file name with spaces stays one)
_cwlua_reply() {
    local kind=$1 w
    shift
    local IFS=$'\n'
    case $kind in
        words) COMPREPLY=($(IFS=' '; compgen -W "$*" -- "$cur")) ;;
        command) COMPREPLY=($(IFS=' '; compgen -W "$_cwlua_commands" -- "$cur")) ;;
        target) COMPREPLY=($(compgen -W "$(_cwlua_targets "$prog" "${search[@]}")" -- "$cur")) ;;
        device)
            if [[ $cur == serial:* ]]; then
                COMPREPLY=($(compgen -P serial: -f -- "${cur#serial:}"))
            fi
            COMPREPLY+=($(compgen -W "$(_cwlua_devices "$prog")" -- "$cur")) ;;
        fault)
            COMPREPLY=($(IFS=' '; compgen -W "$_cwlua_faults" -- "$cur"))
            [[ ${COMPREPLY[*]} == *= ]] && compopt -o nospace 2>/dev/null ;;
        simspec)
            if [[ $cur == *:* ]]; then
                COMPREPLY=($(compgen -P "${cur%%:*}:" -W "$(_cwlua_targets "$prog")" \
                    -- "${cur#*:}"))
            else
                COMPREPLY=($(IFS=' '; compgen -W "$_cwlua_boards" -- "$cur"))
            fi ;;
        dir)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -d -- "$cur")) ;;
        file | script-args)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur")) ;;
        files)
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -d -- "$cur"))
            for w; do
                COMPREPLY+=($(compgen -f -X "!*.$w" -- "$cur"))
            done ;;
    esac
}

_cwlua() {
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words search=()
    read -ra words <<<"$line"
    local cur=
    if [[ $line != *[[:space:]] && ${#words[@]} -gt 0 ]]; then
        cur=${words[${#words[@]} - 1]}
        unset 'words[${#words[@]}-1]'
    fi
    local prog=${words[0]:-cwlua} cmd= key= n=0 i w kind want= program=
    COMPREPLY=()
    for ((i = 1; i < ${#words[@]}; i++)); do
        w=${words[i]}
        if [[ -n $program ]]; then
            continue
        elif [[ $w == -- ]]; then
            [[ $(_cwlua_argument "$key" --) == program ]] && program=$((i + 1))
            continue
        elif [[ $w == --*=* ]]; then
            continue
        elif [[ $w == -?* ]]; then
            kind=$(_cwlua_option "$key" "${w:0:2}")
            [[ $w == --* ]] && kind=$(_cwlua_option "$key" "$w")
            case $kind in
                flag | optional* | '') ;;
                *)
                    # the value is the next word, unless it is joined (-dsim)
                    if [[ $w == --* || ${#w} -eq 2 ]]; then
                        ((i++))
                        if ((i == ${#words[@]})); then want=$kind; fi
                        [[ $w == -s || $w == --search ]] && search+=(-s "${words[i]}")
                    fi ;;
            esac
        elif [[ -z $cmd ]]; then
            cmd=$w key=$w
        else
            n=$((n + 1))
            # sim's subcommand picks the arguments and options of the rest
            if [[ $key == sim && $n -eq 1 ]]; then key=sim-$w n=0; fi
            [[ $(_cwlua_argument "$key" '*') == script-args ]] && program=script
        fi
    done
    if [[ $program == script ]]; then
        _cwlua_reply file
    elif [[ -n $program ]]; then
        # a command line of its own: complete it as that command would
        if [[ ${words[program]##*/} == cwlua ]]; then
            local COMP_LINE=${line#*' -- '}
            local COMP_POINT=${#COMP_LINE}
            _cwlua
        elif declare -F _command_offset >/dev/null; then
            local j
            for ((j = 1; j < COMP_CWORD; j++)); do
                [[ ${COMP_WORDS[j]} == -- ]] && break
            done
            _command_offset $((j + 1))
        elif ((program == ${#words[@]})); then
            local IFS=$'\n'
            COMPREPLY=($(compgen -c -- "$cur"))
        else
            _cwlua_reply file
        fi
        return
    elif [[ -n $want ]]; then
        _cwlua_reply $want
    elif [[ $cur == --*=* ]]; then
        kind=$(_cwlua_option "$key" "${cur%%=*}")
        kind=${kind#optional }
        local prefix=${cur%%=*}=
        cur=${cur#*=}
        [[ $kind == flag || -z $kind ]] || _cwlua_reply $kind
        COMPREPLY=("${COMPREPLY[@]/#/$prefix}")
        cur=$prefix$cur
    elif [[ $cur == -* ]]; then
        local IFS=$' \n'
        COMPREPLY=($(compgen -W "$(_cwlua_options "$key")" -- "$cur"))
        [[ ${COMPREPLY[*]} == *= ]] && compopt -o nospace 2>/dev/null
    elif [[ -z $cmd ]]; then
        _cwlua_reply command
    else
        kind=$(_cwlua_argument "$key" $((n + 1)))
        [[ -z $kind ]] && kind=$(_cwlua_argument "$key" '*')
        [[ -n $kind ]] && _cwlua_reply $kind
    fi
    # bash splits the word at ':' and '=' (COMP_WORDBREAKS): give back only what follows the
    # last of them in the word, as bash-completion's __ltrim_colon_completions does
    local c part trim=
    for c in : =; do
        if [[ $COMP_WORDBREAKS == *"$c"* && $cur == *"$c"* ]]; then
            part=${cur%"$c"*}$c
            ((${#part} > ${#trim})) && trim=$part
        fi
    done
    if [[ -n $trim ]]; then
        COMPREPLY=("${COMPREPLY[@]#"$trim"}")
    fi
}

complete -F _cwlua cwlua
]==]
  local global_cases = bash_option_cases(model.global, "        ")
  local replacements = {
    COMMANDS = table.concat(command_names, " "),
    FAULTS = shell_words(fault_words),
    DEVICES = shell_words(device_words),
    BOARDS = shell_words(boards),
    GLOBAL_OPTION_CASES = global_cases,
    OPTION_CASES = table.concat(option_cases, "\n"),
    GLOBAL_OPTIONS = shell_words(option_words(model.global)),
    OPTIONS_LISTS = table.concat(options_lists, "\n"),
    OWN = table.concat(own, " "),
    ARGS_CASES = table.concat(args_cases, "\n"),
  }
  return (template:gsub("@([%u_]+)@", function(k) return assert(replacements[k], k) end))
end

---------------------------------------------------------------------------------------------
-- zsh

-- Text inside a single-quoted _arguments spec: [description] and :message: need their
-- brackets and colons escaped.
local function zq(text)
  return (text:gsub("\\", "\\\\"):gsub("[%[%]:]", "\\%0"):gsub("'", "'\\''"))
end

local function zsh_action(kind)
  if type(kind) == "table" and kind[1] == "words" then
    return "(" .. table.concat(kind, " ", 2) .. ")"
  elseif type(kind) == "table" and kind[1] == "files" then
    return "_files -g '\\''*.(" .. table.concat(kind, "|", 2) .. ")(-.)'\\''"
  end
  return ({ target = "_cwlua_targets", device = "_cwlua_devices", fault = "_cwlua_faults",
            dir = "_files -/", file = "_files", command = "_cwlua_commands",
            simspec = "_cwlua_simspecs", none = " " })[kind] or " "
end

local function zsh_option_specs(options)
  local out = {}
  for _, o in ipairs(options) do
    local help = "[" .. zq(o.help) .. "]"
    local names = { "--" .. o.long }
    if o.short then table.insert(names, 1, "-" .. o.short) end
    local value = ""
    local suffix = { "", "" }
    local message = zq((o.arg or "value"):lower())
    if o.takes then
      suffix = { "+", "=" }
      value = ":" .. message .. ":" .. zsh_action(o.kind)
    elseif o.optional then
      suffix = { "", "=-" }
      value = "::" .. message .. ":" .. zsh_action(o.kind)
    end
    local excl = o.multi and "*" or ("(" .. table.concat(names, " ") .. ")")
    if #names == 2 then
      out[#out + 1] = ("'%s'{%s%s,%s%s}'%s%s'"):format(excl, names[1], suffix[1], names[2],
        suffix[2], help, value)
    else
      out[#out + 1] = ("'%s%s%s%s%s'"):format(excl, names[1], suffix[2], help, value)
    end
  end
  return out
end

local function zsh_args_specs(args)
  local out = {}
  for i, k in ipairs(args) do
    out[#out + 1] = ("'%d:%s:%s'"):format(i, args.names[i] or "argument", zsh_action(k))
  end
  if args.script then
    out[#out + 1] = "'*::script argument:_files'"
  elseif args.rest then
    out[#out + 1] = ("'*:%s:%s'"):format(type(args.rest) == "string" and args.rest or "argument",
      zsh_action(args.rest))
  end
  return out
end

local function zsh()
  local out = {}
  local function add(l) out[#out + 1] = l end
  add("#compdef cwlua")
  add("# SPDX-License-Identifier: MIT")
  add("# zsh completion for cwlua. Generated by packaging/completion.lua from the tables of")
  add("# cwlua's --help: do not edit. Targets and aliases come from `cwlua targets` (with the")
  add("# -s folders of the command line), boards and serial ports from `cwlua list`.")
  add("")
  add("_cwlua_commands() {")
  add("  local -a commands=(")
  for _, c in ipairs(model.commands) do add(("    '%s:%s'"):format(c.name, zq(c.summary))) end
  add("  )")
  add("  _describe -t commands 'cwlua command' commands")
  add("}")
  add("")
  add("_cwlua_faults() {")
  add("  local -a faults=(")
  for _, f in ipairs(faults) do add(("    '%s:%s'"):format(zq(f.word), zq(f.help))) end
  add("  )")
  add("  _describe -t faults 'simulator fault' faults -S ''")
  add("}")
  add("")
  add([==[
# the -s folders of the command line, for `cwlua targets`
_cwlua_search() {
  local i
  reply=()
  for (( i = 2; i < CURRENT; i++ )); do
    case $words[i] in
      (-s|--search) reply+=(-s "$words[i+1]") ;;
      (--search=*) reply+=(-s "${words[i]#--search=}") ;;
    esac
  done
}

_cwlua_targets() {
  local line
  local -a targets search
  _cwlua_search
  search=($reply)
  for line in ${(f)"$(_call_program targets ${(q)_cwlua_prog} $search targets 2>/dev/null)"}; do
    case $line in
      (' '*'aliases: '*)
        for line in ${(s:, :)${line#*aliases: }}; do targets+=(${line%% *}); done ;;
      (' '*|'') ;;
      (*) targets+=(${line%% *}) ;;
    esac
  done
  _wanted targets expl 'target' compadd -a targets
}

_cwlua_devices() {
  local line section
  local -a devices=(@DEVICES@)
  for line in ${(f)"$(_call_program devices ${(q)_cwlua_prog} list 2>/dev/null)"}; do
    case $line in
      (boards:*) section=boards ;;
      ('serial ports:'*) section=ports ;;
      (' '*)
        line=(${=line})
        if [[ $section == boards ]]; then
          devices+=(usb:$line[2])
        else
          devices+=(serial:$line[1])
        fi ;;
    esac
  done
  _wanted devices expl 'device' compadd -a devices
}

_cwlua_simspecs() {
  if compset -P '*:'; then
    _cwlua_targets
  else
    _wanted boards expl 'board' compadd -S : -r ': ' @BOARDS@
  fi
}
]==])
  local boards_words = table.concat(boards, " ")
  out[#out] = out[#out]:gsub("@DEVICES@", table.concat(device_words, " ")):gsub("@BOARDS@",
    boards_words)
  add("_cwlua() {")
  add("  local curcontext=$curcontext state state_descr line ret=1 _cwlua_prog=$words[1]")
  add("  typeset -A opt_args")
  add("  local -a global=(")
  for _, s in ipairs(zsh_option_specs(model.global)) do add("    " .. s) end
  add("  )")
  add("  _arguments -C -s $global '1:command:_cwlua_commands' '*::argument:->command' && ret=0")
  add("  [[ $state == command ]] || return ret")
  add("  curcontext=${curcontext%:*:*}:cwlua-$words[1]:")
  add("  case $words[1] in")
  for _, c in ipairs(model.commands) do
    add(("    (%s)"):format(c.name))
    if c.subcommands then
      add("      _arguments -C -s $global '1:subcommand:->sub' '*::argument:->subargs' && ret=0")
      add("      case $state in")
      add("        (sub)")
      add("          local -a subs=(")
      local help_of = {}
      for _, u in ipairs(usages(require("cwlua.cmd.sim").usage)) do
        help_of[u:match("^cwlua sim (%l+)")] = u:gsub("^cwlua sim %l+%s*", "")
      end
      for _, s in ipairs(c.subcommands) do
        add(("            '%s:%s'"):format(s.name, zq(help_of[s.name] or "")))
      end
      add("          )")
      add("          _describe -t subcommands 'sim subcommand' subs && ret=0 ;;")
      add("        (subargs)")
      add("          case $words[1] in")
      for _, s in ipairs(c.subcommands) do
        add(("            (%s)"):format(s.name))
        if s.args.program then
          add("              local i=${words[(i)--]}")
          add("              if (( i < CURRENT )); then")
          add("                shift i words")
          add("                (( CURRENT -= i ))")
          add("                _normal && ret=0")
          add("                return ret")
          add("              fi")
        end
        local specs = zsh_option_specs(s.options)
        for _, a in ipairs(zsh_args_specs(s.args)) do specs[#specs + 1] = a end
        add("              _arguments -s " .. (s.own and "" or "$global ")
          .. table.concat(specs, " \\\n                ") .. " && ret=0 ;;")
      end
      add("          esac ;;")
      add("      esac ;;")
    else
      local specs = zsh_option_specs(c.options)
      for _, a in ipairs(zsh_args_specs(c.args)) do specs[#specs + 1] = a end
      add("      _arguments -s $global " .. table.concat(specs, " \\\n        ") .. " && ret=0 ;;")
    end
  end
  add("  esac")
  add("  return ret")
  add("}")
  add("")
  add('_cwlua "$@"')
  return table.concat(out, "\n") .. "\n"
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

write(bash_file, bash())
write(zsh_file, zsh())
