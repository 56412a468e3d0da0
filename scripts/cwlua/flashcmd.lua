-- SPDX-License-Identifier: MIT
-- cwlua.flashcmd: the command-line side of program / verify / read / erase / info — options,
-- output and the summary line; the work is cwlua.flash.
local errors = require "cwlua.errors"
local flash = require "cwlua.flash"
local progress = require "cwlua.progress"

local M = {}

local OPT = {
  no_reset = { long = "no-reset", key = "no_reset",
    help = "skip the reset and boot-pin entry; the bootloader is already running" },
  set = { long = "set", key = "set", arg = "KEY=VALUE", multi = true,
    help = "override a recipe parameter (e.g. bauds=57600); repeatable" },
  baud = { long = "baud", key = "baud", arg = "N",
    help = "the serial rate(s) to try, e.g. 57600 or 57600,19200: --set bauds=N\n"
      .. "(recipes that program over a serial line: STM32)" },
  part = { long = "part", key = "part", arg = "NAME",
    help = "the part, where a recipe covers several (the simulator's chip)" },
  base = { long = "base", key = "base", arg = "ADDR",
    help = "load address of a raw binary (default: the flash start); FILE is\n"
      .. "then a raw binary unless its content is Intel HEX or ELF" },
  format = { long = "format", key = "format", arg = "FMT", values = { "hex", "elf", "bin" },
    help = "FILE's format: hex, elf or bin (default: HEX and ELF from the\n"
      .. "content, raw binary for a .bin name or with --base)" },
  eeprom_format = { long = "eeprom-format", key = "eeprom_format", arg = "FMT",
    values = { "hex", "elf", "bin" },
    help = "the --eeprom FILE's format: hex, elf or bin (default as for FILE)" },
  no_verify = { long = "no-verify", key = "no_verify", help = "skip reading back" },
  chip = { long = "chip", key = "chip", help = "the whole chip (erase everything)" },
  unprotect = { long = "unprotect", key = "unprotect",
    help = "remove read protection first (the chip erases its whole flash)" },
  unprotect_write = { long = "unprotect-write", key = "unprotect_write",
    help = "remove write protection first (Write Unprotect)" },
  option_bytes = { long = "option-bytes", key = "option_bytes",
    help = "include the option bytes (program: written last; read: read them)" },
  -- memories other than flash (docs/targets.md "Memories other than flash")
  eeprom = { long = "eeprom", key = "eeprom", arg = "FILE",
    help = "EEPROM contents (HEX, ELF or binary; offsets from 0, or avr-gcc's 0x810000)" },
  fuse = { long = "fuse", key = "fuse", arg = "NAME=0xVV", multi = true,
    help = "fuse NAME (e.g. fuse2=0xBF): program writes it, verify compares; repeatable" },
  lock = { long = "lock", key = "lock", arg = "0xVV",
    help = "the lock bits: program writes them last, verify compares" },
  force = { long = "force", key = "force",
    help = "allow fuse or lock settings that would lock you out of the chip" },
  memory = { long = "memory", key = "memory", arg = "NAME", values = { "flash", "eeprom" },
    help = "what to read: flash (default) or eeprom (offsets from 0)" },
  addr = { long = "addr", key = "addr", arg = "ADDR", help = "start address" },
  len = { long = "len", key = "len", arg = "LEN", help = "length in bytes (4K, 0x1000, ...)" },
}

--- flashcmd.options(names...) -> the option specs for a command
function M.options(...)
  local list = {}
  for _, n in ipairs({ ... }) do list[#list + 1] = OPT[n] end
  return list
end

--- flashcmd.opts(ctx) -> options for cwlua.flash (command options + -q/-v)
function M.opts(ctx)
  local o = {}
  for k, v in pairs(ctx.opts) do o[k] = v end
  return o
end

-- TARGET and FILE the wrong way round ('program hello.hex stm32f1'): the first is a file that
-- is no target and the second a target, so say which order was meant instead of "unknown
-- target 'hello.hex'".
local function check_order(ctx)
  local first, second = ctx.args[1], ctx.args[2]
  local st = require("cwlua.core.runtime").stat(first)
  if not (st and st.type == "file") then return end
  local targets = require "cwlua.targets"
  if pcall(targets.resolve, first) or not pcall(targets.resolve, second) then return end
  errors.raise("usage", "unknown target '%s', which is a file (did you mean 'cwlua %s %s %s'? "
    .. "TARGET comes first)", first, ctx.command.name, second, first)
end

--- flashcmd.args(ctx, n, usage) -> the n positional arguments, or exit 2
function M.args(ctx, n)
  if #ctx.args ~= n then
    errors.raise("usage", "%s needs %d argument%s; usage: %s", ctx.command.name, n,
      n == 1 and "" or "s", ctx.command.usage)
  end
  if n == 2 then check_order(ctx) end
  return table.unpack(ctx.args)
end

--- flashcmd.run(ctx, f) -> f's summary. A failure goes on to the CLI, which prints it; with
-- --json its object (contract.md §3.7) also carries what the command learnt on the way: the
-- retries on a noisy line, and for a mismatch the first differing address.
function M.run(_, f, ...) -- ctx: the same call shape as flashcmd.report
  local ok, res = pcall(f, ...)
  if ok then return res end
  if errors.is(res) then
    local extra = {}
    if res.kind == "mismatch" then
      extra.verify, extra.first_mismatch = "mismatch", res.first_mismatch
    end
    if res.retries then
      extra.retries = res.retries
      if res.retries > 0 then extra.retry_log = res.retry_log end
    end
    res.json = extra
  end
  error(res, 0)
end

--- flashcmd.report(ctx, summary, line): the --json object (contract.md §3), or the summary line
-- (which says how many operations were tried again, contract.md §3.11)
function M.report(ctx, summary, line)
  if ctx.opts.json then
    local out = {}
    for _, k in ipairs({ "bytes", "erased", "seconds", "verify", "first_mismatch", "sim",
                         "eeprom", "retries" }) do
      out[k] = summary[k]
    end
    if (summary.retries or 0) > 0 then out.retry_log = summary.retry_log end
    if summary.bytes and summary.seconds and summary.seconds > 0 then
      out.rate = summary.bytes / summary.seconds
    end
    ctx.cli.emit(out)
  elseif not ctx.opts.quiet then
    local n = summary.retries or 0
    if n > 0 then
      line = line .. ("; %d retr%s on a noisy line (-v names each)"):format(n,
        n == 1 and "y" or "ies")
    end
    io.stdout:write(line, "\n")
  end
  return 0
end

M.rate = progress.format_rate
M.flash = flash
return M
