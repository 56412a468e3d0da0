-- SPDX-License-Identifier: MIT
-- cwlua.flashcmd: the command-line side of program / verify / read / erase / info — options,
-- output and the summary line; the work is cwlua.flash.
local errors = require "cwlua.errors"
local flash = require "cwlua.flash"
local json = require "cwlua.json"
local progress = require "cwlua.progress"

local M = {}

local OPT = {
  no_reset = { long = "no-reset", key = "no_reset",
    help = "skip the reset and boot-pin entry; the bootloader is already running" },
  set = { long = "set", key = "set", arg = "KEY=VALUE", multi = true,
    help = "override a recipe parameter (e.g. bauds=57600); repeatable" },
  part = { long = "part", key = "part", arg = "NAME",
    help = "the part, where a recipe covers several (the simulator's chip)" },
  base = { long = "base", key = "base", arg = "ADDR",
    help = "load address of a raw binary (default: the flash start)" },
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
  memory = { long = "memory", key = "memory", arg = "NAME",
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

--- flashcmd.args(ctx, n, usage) -> the n positional arguments, or exit 2
function M.args(ctx, n)
  if #ctx.args ~= n then
    errors.raise("usage", "%s needs %d argument%s; usage: %s", ctx.command.name, n,
      n == 1 and "" or "s", ctx.command.usage)
  end
  return table.unpack(ctx.args)
end

-- The contract.md §6 cause of a failure, where the error knows it (JSON "cause"). A timeout
-- is the target's ("no-reply") only when the target was silent: a board that stops answering
-- on USB mid-way is "usb-error" (timeout, stall, I/O error) or "no-board" (unplugged,
-- contract.md §6.4).
local CAUSE_BY_CODE = { timeout = "no-reply", garbled = "garbled-reply", no_device = "no-board",
                        access = "usb-permission", busy = "usb-busy" }
local DEVICE_CAUSE = { timeout = "usb-error", stall = "usb-error", io = "usb-error",
                       overflow = "usb-error" }
local function cause_of(e)
  if not errors.is(e) then return "internal" end
  return e.cause or (e.kind == "device" and DEVICE_CAUSE[e.code]) or CAUSE_BY_CODE[e.code] or
    (e.kind == "mismatch" and "verify-mismatch") or e.code or e.kind
end

--- flashcmd.run(ctx, f) -> f's summary. With --json a failure still prints one object (cause,
-- and verify/first_mismatch for a mismatch) before the error reaches the CLI.
function M.run(ctx, f, ...)
  local ok, res = pcall(f, ...)
  if ok then return res end
  if ctx.opts.json then
    local out = { schema = 1, cause = cause_of(res) }
    if errors.is(res, "mismatch") then
      out.verify, out.first_mismatch = "mismatch", res.first_mismatch
    end
    if errors.is(res) and res.retries then
      out.retries = res.retries
      if res.retries > 0 then out.retry_log = res.retry_log end
    end
    io.stdout:write(json.encode(out), "\n")
  end
  error(res, 0)
end

--- flashcmd.report(ctx, summary, line): the --json object (contract.md §3), or the summary line
-- (which says how many operations were tried again, contract.md §3.11)
function M.report(ctx, summary, line)
  if ctx.opts.json then
    local out = { schema = 1, cause = "ok" }
    for _, k in ipairs({ "bytes", "erased", "seconds", "verify", "first_mismatch", "sim",
                         "eeprom", "retries" }) do
      out[k] = summary[k]
    end
    if (summary.retries or 0) > 0 then out.retry_log = summary.retry_log end
    if summary.bytes and summary.seconds and summary.seconds > 0 then
      out.rate = summary.bytes / summary.seconds
    end
    io.stdout:write(json.encode(out), "\n")
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
