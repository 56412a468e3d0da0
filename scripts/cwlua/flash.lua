-- SPDX-License-Identifier: MIT
-- cwlua.flash: the sequencing of program / verify / read / erase / info (contract.md §3), the same
-- for every recipe; recipes fill in the steps (connect, erase, write, read, start, info).
--
-- Order, so that nothing on the chip is touched before the checks (contract.md §3 "Nothing before
-- the checks"): load and check the image → open the board → snapshot (restored on every exit
-- path, contract.md §3 "Leave the board as found") → switch glitch outputs off → connect (entry,
-- sync, chip ID checked against the recipe) → check the image against this chip's flash →
-- erase → write → verify by reading back → start the application.
local board_mod = require "cwlua.board"
local config = require "cwlua.config"
local time = require "cwlua.time"
local errors = require "cwlua.errors"
local image = require "cwlua.image"
local params = require "cwlua.params"
local progress = require "cwlua.progress"
local retry = require "cwlua.retry"
local runtime = require "cwlua.core.runtime"
local signal = require "cwlua.core.signal"
local targets = require "cwlua.targets"

local M = {}

local BLOCK = 256 -- AN3155 moves at most 256 bytes per Write/Read Memory (target-protocols.md §A.4)

--- flash.number(text, what) -> integer: 0x08000000, 134217728, 4K, 64KiB, 1M
function M.number(text, what)
  local s = tostring(text):lower()
  local num, unit = s:match("^(0x%x+)(%a*)$")
  if not num then num, unit = s:match("^(%d+)(%a*)$") end
  local scale = ({ [""] = 1, k = 1024, kib = 1024, m = 1048576, mib = 1048576 })[unit or ""]
  local v = num and math.tointeger(tonumber(num))
  if not v or not scale then
    errors.raise("usage", "%s needs a number like 0x08000000, 4096 or 4K, got '%s'", what,
      tostring(text))
  end
  return v * scale
end

local function require_steps(recipe, command)
  for _, c in ipairs(targets.commands(recipe)) do
    if c == command then return end
  end
  errors.raise("usage", "recipe %s cannot %s yet (it provides: %s)", recipe.name, command,
    table.concat(targets.commands(recipe), ", "))
end

-- Besides flash an image may carry EEPROM, fuse and lock bytes and STM32 option bytes: under
-- 3 KiB on every part cwlua knows, and avr-gcc gives each a 64 KiB window (REGION_WINDOW).
local IMAGE_EXTRA = 0x10000

--- flash.image_limit() -> bytes, text: the most data an image may hold, and what that limit
-- is for the message ("any supported chip's flash (2 MiB)"). The largest flash in the part
-- tables the recipes use (an override of one on the search path counts), plus IMAGE_EXTRA:
-- an image that holds more fits no chip, and is refused before it is copied into memory.
function M.image_limit()
  local largest = 0
  local function consider(n)
    if math.type(n) == "integer" and n > largest then largest = n end
  end
  for _, dev in pairs(require("cwlua.proto.stm32devices").BY_PID) do consider(dev.flash_size) end
  for _, p in ipairs(require("cwlua.proto.avrparts").LIST) do consider(p.flash_size) end
  for _, p in ipairs(require("cwlua.proto.xmegaparts").PARTS) do
    consider((p.app_size or 0) + (p.boot_size or 0))
  end
  return largest + IMAGE_EXTRA,
    ("any supported chip's flash (%s)"):format(image.size_text(largest))
end

-- The names that say Intel HEX or ELF.
local NAMED_FORMAT = { hex = "hex", ihex = "hex", ihx = "hex", elf = "elf" }

-- A file as an image (contract.md §3.3): Intel HEX and ELF by content; a raw binary only when
-- something says so, its .bin name, `how.format == "bin"` or an explicit `how.base`, else exit 2
-- saying how to force it (how.hint, the end of image.parse's message). A file whose name says
-- HEX or ELF must be one: a damaged .hex is never programmed as raw bytes. Only a regular file
-- of at most image.MAX_FILE bytes is read, and an image bigger than any chip is refused before
-- its data is copied (image.read_file, M.image_limit).
--   how = { format = forced | nil, base = explicit base | nil, default_base = where a raw
--           binary goes without one, hint = image.parse's opts.bin_hint }
local function load_file(file, how)
  local forced = how.format
  if forced ~= nil and not ({ hex = true, elf = true, bin = true })[forced] then
    errors.raise("usage", "unknown image format '%s' (expected hex, bin or elf)",
      tostring(forced))
  end
  local data = image.read_file(file)
  local fmt = forced or (#data > 0 and image.detect(data) or nil)
  local expect = NAMED_FORMAT[file:lower():match("%.(%w+)$") or ""]
  if not forced and fmt and expect and fmt ~= expect then
    errors.raise("input", "%s: the name says %s but the content is not (%s); check the file",
      file, expect == "hex" and "Intel HEX" or "ELF", expect == "hex"
        and "its first line does not start with ':'" or "it does not start with 7F 45 4C 46")
  end
  local base = how.base
  if base == nil and (forced == "bin" or image.binary_name(file)) then base = how.default_base end
  local limit, what = M.image_limit()
  -- the format found above, so a big file is not scanned twice (a raw binary is still left to
  -- image.parse, whose message then says why the file was taken for one, or how to force it)
  return image.parse(data, file, { base = base, limit = limit, limit_what = what,
    format = (forced or fmt ~= "bin") and fmt or nil, bin_hint = how.hint })
end

-- What to do with a file that is neither HEX nor ELF, per command.
local BIN_HINT = {
  program = "to program it as a raw binary, use --format bin (and --base ADDR)",
  verify = "to compare the chip with it as a raw binary, use --format bin (and --base ADDR)",
}

--- flash.load_image(file, recipe, opts [, command]) -> img. opts.format forces the format;
-- a raw binary goes to --base, or the recipe's flash start.
function M.load_image(file, recipe, opts, command)
  local img = load_file(file, { format = opts.format,
    base = opts.base and M.number(opts.base, "--base"),
    default_base = recipe.defaults and recipe.defaults.flash_start,
    hint = BIN_HINT[command or "program"] })
  if img:is_empty() then errors.raise("input", "%s: the image holds no data to program", file) end
  return img
end

---------------------------------------------------------------------------------------------
-- Memories other than flash (docs/targets.md "Memories other than flash"): a recipe declares
-- where each memory sits in an image's address space (`regions`, e.g. avr-gcc's layout: EEPROM
-- at 0x810000, fuses at 0x820000, lock bits at 0x830000, contract.md §3) and the steps that reach
-- it; cwlua splits the image, checks every part against the chip before anything is erased,
-- and writes flash, then EEPROM, then fuses, then lock bits (last: they may stop the rest).

M.REGIONS = { "eeprom", "fuses", "lock" } -- the memories cwlua knows, in writing order
local REGION_WINDOW = 0x10000 -- default window size: avr-gcc's sections are 64 KiB apart

local function region_size(r)
  return r.size or REGION_WINDOW
end

-- img moved down by base (memory offsets from 0)
local function rebase(img, base)
  local out = image.new()
  for _, r in ipairs(img.ranges) do out:add(r.addr - base, r.data) end
  out.source = img.source
  return out
end

--- flash.byte_value(text, what) -> integer 0..255 from 0xVV or a decimal number
function M.byte_value(text, what)
  local v = math.tointeger(tonumber(tostring(text)))
  if not v or v < 0 or v > 255 or not tostring(text):match("^%s*%w+%s*$") then
    errors.raise("usage", "%s needs a byte value like 0xBF, got '%s'", what, tostring(text))
  end
  return v
end

local function need_steps(recipe, what, option, ...)
  for _, step in ipairs({ ... }) do
    if not recipe[step] then
      errors.raise("usage", "recipe %s cannot %s (%s needs its step '%s')", recipe.name, what,
        option, step)
    end
  end
end

-- The EEPROM file of --eeprom: HEX/ELF/raw at offset 0 (avr-objcopy -j .eeprom with
-- --change-section-lma .eeprom=0, or cwlua read --memory eeprom); data inside the region's
-- window (a whole avr-gcc ELF or HEX) is moved down to offsets.
local function load_eeprom_file(recipe, file, format)
  local r = recipe.regions.eeprom
  local img = load_file(file, { format = format, default_base = 0,
    hint = "to take it as raw EEPROM bytes, use --eeprom-format bin" })
  local win, rest = img:split(r.addr, r.addr + region_size(r))
  local lo, hi = rest:bounds()
  if lo and not win:is_empty() then
    errors.raise("input", "%s: has data at 0x%X besides its EEPROM section (0x%X); --eeprom takes "
      .. "EEPROM data only", file, lo, r.addr)
  end
  if lo and hi > region_size(r) then
    errors.raise("input", "%s: 0x%X is not an EEPROM address (offsets 0x0-0x%X, or the image "
      .. "window 0x%X-0x%X)", file, select(2, rest:fits(0, region_size(r))), region_size(r) - 1,
      r.addr, r.addr + region_size(r) - 1)
  end
  for _, range in ipairs(win.ranges) do rest:add(range.addr - r.addr, range.data, file) end
  if rest:is_empty() then errors.raise("input", "%s: the file holds no EEPROM data", file) end
  rest.source = file
  return rest
end

--- flash.memories(recipe, img, file, opts [, command]) -> mem
-- Splits img by the recipe's regions and adds the command line's --eeprom, --fuse and --lock:
-- mem = { flash = image, eeprom = image at offsets | nil, fuses = { {name, value}, ... },
--         lock = byte | nil, image_fuses = { {name, value} }, image_lock = byte | nil }.
-- Raises usage/input errors (exit 2) before any board is opened. command "verify" compares
-- fuses and lock instead of writing them.
function M.memories(recipe, img, file, opts, command)
  local regions = recipe.regions or {}
  local mem = { fuses = {}, image_fuses = {} }
  local parts = {}
  for _, name in ipairs(M.REGIONS) do
    local r = regions[name]
    if r then
      local inside
      inside, img = img:split(r.addr, r.addr + region_size(r))
      if not inside:is_empty() then parts[name] = rebase(inside, r.addr) end
    end
  end
  mem.flash = img
  local writing = command ~= "verify"
  mem.eeprom = parts.eeprom
  if opts.eeprom_format and not opts.eeprom then
    errors.raise("usage", "--eeprom-format is the format of --eeprom FILE, which is not given")
  end
  if opts.eeprom then
    if not regions.eeprom then
      errors.raise("usage", "recipe %s has no EEPROM (--eeprom)", recipe.name)
    end
    if mem.eeprom then
      errors.raise("input", "%s has an EEPROM section (at 0x%X) and --eeprom %s gives EEPROM "
        .. "data too; drop one", file, regions.eeprom.addr, opts.eeprom)
    end
    mem.eeprom = load_eeprom_file(recipe, opts.eeprom, opts.eeprom_format)
  end
  if mem.eeprom then
    if writing then
      need_steps(recipe, "write EEPROM", "EEPROM data", "write_eeprom", "read_eeprom")
    else
      need_steps(recipe, "read EEPROM", "EEPROM data", "read_eeprom")
    end
  end
  -- fuse and lock bytes in the image are reported, and written only when asked: a wrong fuse
  -- can lock a chip out of its programming interface, so it takes --fuse/--lock
  -- A section longer than the chip's fuse or lock bytes is a broken image (a wrong -mmcu, a
  -- hand-made HEX): refused, rather than its extra bytes shown as fuses no option can write.
  if parts.fuses then
    local names = regions.fuses.names
    local _, hi = parts.fuses:bounds()
    if names and #names > 0 and hi > #names then
      errors.raise("input", "%s: the image's fuse section at 0x%X reaches 0x%X (%d bytes), but "
        .. "the parts of recipe %s have %d fuse bytes (%s)", file, regions.fuses.addr,
        regions.fuses.addr + hi - 1, hi, recipe.name, #names, table.concat(names, ", "))
    end
    for _, range in ipairs(parts.fuses.ranges) do
      for i = 1, #range.data do
        local off = range.addr + i - 1
        mem.image_fuses[#mem.image_fuses + 1] = { name = names and names[off + 1], offset = off,
                                                  value = range.data:byte(i) }
      end
    end
  end
  if parts.lock then
    local _, hi = parts.lock:bounds()
    if hi > 1 then
      errors.raise("input", "%s: the image's lock section at 0x%X reaches 0x%X (%d bytes), but "
        .. "the parts of recipe %s have 1 lock byte", file, regions.lock.addr,
        regions.lock.addr + hi - 1, hi, recipe.name)
    end
    mem.image_lock = parts.lock:read(0, 1):byte()
  end
  local seen = {}
  for _, kv in ipairs(opts.fuse or {}) do
    local name, value = kv:match("^%s*([%w_]+)%s*=%s*(%S+)%s*$")
    if not name then
      errors.raise("usage", "--fuse needs NAME=0xVV (e.g. fuse2=0xBF), got '%s'", kv)
    end
    name = name:lower()
    if seen[name] then errors.raise("usage", "--fuse %s is given twice", name) end
    seen[name] = true
    mem.fuses[#mem.fuses + 1] = { name = name, value = M.byte_value(value, "--fuse " .. name) }
  end
  if opts.lock then mem.lock = M.byte_value(opts.lock, "--lock") end
  if #mem.fuses > 0 or mem.lock then
    if writing then
      need_steps(recipe, "write fuses or lock bits", "--fuse/--lock", "check_fuses", "fuses",
        #mem.fuses > 0 and "write_fuse" or "fuses", mem.lock and "write_lock" or "fuses")
    else
      need_steps(recipe, "read fuses or lock bits", "--fuse/--lock", "check_fuses", "fuses")
    end
  end
  if mem.flash:is_empty() and not mem.eeprom and #mem.fuses == 0 and not mem.lock then
    errors.raise("input", "%s: the image holds no data to program%s", file,
      (#mem.image_fuses > 0 or mem.image_lock) and " (only fuse or lock bytes, which are written "
      .. "only with --fuse/--lock)" or "")
  end
  return mem
end

-- Fuse and lock bytes the image sets but the command line does not: said, not written. The
-- options named are ones this chip takes: a byte of the section the part has no fuse for
-- (FUSEBYTE0 on an ATxmega128D4; connect's chip.fuse_names) is left out when it is 0xFF,
-- avr-gcc's filler, and otherwise said to be ignored.
local function note_image_fuses(ctx, chip, mem)
  local given, opts, ignored = {}, {}, {}
  local has
  if chip.fuse_names then
    has = {}
    for _, n in ipairs(chip.fuse_names) do has[n] = true end
  end
  for _, f in ipairs(mem.fuses) do given[f.name] = true end
  for _, f in ipairs(mem.image_fuses) do
    if not f.name then -- the recipe names no fuse bytes: no option can write it
      opts[#opts + 1] = ("(fuse byte %d = 0x%02X)"):format(f.offset, f.value)
    elseif has and not has[f.name] then
      if f.value ~= 0xFF then ignored[#ignored + 1] = ("%s=0x%02X"):format(f.name, f.value) end
    elseif not given[f.name] then
      opts[#opts + 1] = ("--fuse %s=0x%02X"):format(f.name, f.value)
    end
  end
  if mem.image_lock and not mem.lock then
    opts[#opts + 1] = ("--lock 0x%02X"):format(mem.image_lock)
  end
  if ctx.opts.quiet then return end
  if #opts > 0 then
    io.stderr:write(("%s: the image sets fuse or lock bytes; they are written only when asked: "
      .. "%s\n"):format(ctx.where, table.concat(opts, " ")))
  end
  if #ignored > 0 then
    io.stderr:write(("%s: the image sets %s, which the %s does not have; ignored\n"):format(
      ctx.where, table.concat(ignored, " "), chip.name))
  end
end

-- Everything but the flash checked against this chip: EEPROM size, fuse names, valid bits and
-- lock-out settings (the recipe's check_fuses, which honours --force).
local function check_memories(ctx, chip, mem, file)
  if mem.eeprom then
    local size = chip.eeprom_size or 0
    local ok, bad = mem.eeprom:fits(0, size)
    if not ok then
      local lo, hi = mem.eeprom:bounds()
      errors.raise("input", "%s: EEPROM offset 0x%X is outside the EEPROM of this %s (%d "
        .. "bytes); the EEPROM data spans 0x%X-0x%X", mem.eeprom.source or file, bad, chip.name,
        size, lo, hi - 1)
    end
  end
  if #mem.fuses > 0 or mem.lock then ctx.recipe.check_fuses(ctx, chip, mem.fuses, mem.lock) end
end

-- A block that reads back different is read again before anything is reported: data read back
-- carries no checksum (AN3155 Read Memory, target-protocols.md §A.4) and the board keeps a byte
-- that arrived damaged (target-protocols.md §A.1), so one read proves nothing. A read that
-- equals the image settles it; exit 5 only when AGREE reads agree and differ from the image
-- (contract.md §3.11). Two are not enough: a block is a thousand bits, and on a line that flips
-- one in a few thousand the same bit comes back flipped twice now and then. A block that never
-- reads the same AGREE times in VERIFY_READS reads is a line problem (exit 4).
local VERIFY_READS, AGREE = 8, 3
local function settle(ctx, addr, want, got, read)
  local seen = { [got] = 1 }
  local at = (addr > 0xFFFF and "0x%08X" or "0x%04X"):format(addr)
  for i = 2, VERIFY_READS do
    retry.of(ctx):note("verify: the %d bytes at %s read back different; reading them again (%d "
      .. "of %d)", #want, at, i, VERIFY_READS)
    local again = read(addr, #want)
    if again == want then return again end
    seen[again] = (seen[again] or 0) + 1
    if seen[again] >= AGREE then return again end
  end
  error(errors.new("target", ("%s: verify: the %d bytes at %s read back differently %d times; "
    .. "the line to the target damages bytes"):format(ctx.where, #want, at, VERIFY_READS),
    { code = "garbled" }), 0)
end

-- Read back every block of img with read(addr, len) and compare; the first differing byte goes
-- to mismatch(addr, want, got), which raises (exit 5, contract.md §3).
local function compare(ctx, img, block, read, mismatch, prog)
  local done = 0
  for addr, want in img:blocks(block) do
    local got = read(addr, #want)
    if got ~= want then got = settle(ctx, addr, want, got, read) end
    if got ~= want then
      for i = 1, #want do
        if got:byte(i) ~= want:byte(i) then
          mismatch(addr + i - 1, want:byte(i), got:byte(i) or 0)
        end
      end
    end
    done = done + #want
    if prog then prog:update(done) end
  end
end

-- Read back and compare EEPROM; a difference exits 5 at its image address (region + offset).
local function verify_eeprom(ctx, chip, ee, base, prog)
  compare(ctx, ee, BLOCK,
    function(off, len) return ctx.recipe.read_eeprom(ctx, chip, off, len) end,
    function(o, want, got)
      error(errors.new("mismatch", ("%s: verify failed at EEPROM 0x%04X: the image has 0x%02X, "
        .. "the chip 0x%02X"):format(ctx.where, o, want, got), { first_mismatch = base + o }), 0)
    end, prog)
end

local function write_eeprom(ctx, chip, mem, opts)
  local ee = mem.eeprom
  local total = ee:size()
  local prog <close> = progress.new("eeprom", total, { quiet = opts.quiet })
  local done = 0
  for off, data in ee:blocks(BLOCK) do
    ctx.recipe.write_eeprom(ctx, chip, off, data)
    done = done + #data
    prog:update(done)
  end
  prog:finish()
  if not opts.no_verify then
    verify_eeprom(ctx, chip, ee, ctx.recipe.regions.eeprom.addr, nil)
  end
  return total
end

-- Compare the fuses and lock byte asked for with the chip's; exit 5 on a difference that AGREE
-- reads agree on (as settle does for blocks).
local function compare_fuses(ctx, chip, mem, what)
  local function key(c)
    local t = {}
    for _, f in ipairs(mem.fuses) do t[#t + 1] = tostring(c[f.name]) end
    return table.concat(t, ",") .. ";" .. tostring(c.lock)
  end
  local function same(c)
    for _, f in ipairs(mem.fuses) do
      if c[f.name] ~= f.value then return false end
    end
    return not mem.lock or c.lock == mem.lock
  end
  local cur = ctx.recipe.fuses(ctx, chip)
  local seen = { [key(cur)] = 1 }
  for i = 2, VERIFY_READS + 1 do
    if same(cur) or seen[key(cur)] >= AGREE then break end
    if i > VERIFY_READS then
      error(errors.new("target", ("%s: the fuses and lock bits read back differently %d times; "
        .. "the line to the target damages bytes"):format(ctx.where, VERIFY_READS),
        { code = "garbled" }), 0)
    end
    retry.of(ctx):note("the fuses and lock bits read back different; reading them again (%d of "
      .. "%d)", i, VERIFY_READS)
    cur = ctx.recipe.fuses(ctx, chip)
    seen[key(cur)] = (seen[key(cur)] or 0) + 1
  end
  for _, f in ipairs(mem.fuses) do
    if cur[f.name] ~= f.value then
      error(errors.new("mismatch", ("%s: %s %s 0x%02X, the chip has 0x%02X"):format(ctx.where,
        f.name, what, f.value, cur[f.name] or 0)), 0)
    end
  end
  if mem.lock and cur.lock ~= mem.lock then
    error(errors.new("mismatch", ("%s: lock bits %s 0x%02X, the chip has 0x%02X"):format(
      ctx.where, what, mem.lock, cur.lock or 0)), 0)
  end
end

-- Fuses in the order given, then the lock byte last; each read back unless --no-verify.
local function write_fuses(ctx, chip, mem, opts)
  for _, f in ipairs(mem.fuses) do
    ctx.log("fuse %s = 0x%02X", f.name, f.value)
    ctx.recipe.write_fuse(ctx, chip, f.name, f.value)
  end
  if mem.lock then
    ctx.log("lock bits = 0x%02X", mem.lock)
    ctx.recipe.write_lock(ctx, chip, mem.lock)
  end
  if not opts.no_verify then compare_fuses(ctx, chip, mem, "written as") end
end

-- The board, opened from -d with the recipe's part as the simulated chip.
local function open_device(part)
  local dev, msg, code = board_mod.open_default(part)
  if not dev then -- the code stays with the error: it names the cause (contract.md §6.4)
    error(errors.world(code, msg, { code = code }), 0)
  end
  return dev
end

-- The board's state, saved before anything changes it (contract.md §3.9).
local function snapshot(ctx, dev)
  local snap, msg, code = dev:snapshot()
  if not snap then
    error(errors.new("device", ctx.where .. ": " .. msg, { code = code }), 0)
  end
  return snap
end

-- Glitch outputs a notebook left on (crowbar MOSFETs, HS2 = glitch clock) are switched off
-- for the operation (contract.md §3); the snapshot puts them back afterwards.
local function glitch_off(ctx)
  local b = ctx.dev
  if not b.fpga_read or not b:info().fpga or b:info().fpga ~= "configured" then return end
  local io = b:fpga_read(55, 8) -- IOROUTE byte 4: glitch MOSFET enables (cw-usb-protocol.md §4.1)
  if io and io:byte(5) ~= 0 then
    ctx.log("glitch MOSFETs were on; off while programming")
    b:fpga_write(55, io:sub(1, 4) .. "\0" .. io:sub(6))
  end
  local _, src = b:clock()
  if src == "glitch" then -- HS2 = glitch output (§4.3): give the target its plain clock
    ctx.log("HS2 carried the glitch output; CLKGEN while programming")
    local ext = b:fpga_read(38, 1):byte()
    b:fpga_write(38, string.char((ext & ~0x60) | 0x40))
  end
end

-- fn() erases n of the chip's units, with a bar on a terminal (none elsewhere: the summary
-- line reports the erase): the recipe's step may report through ctx.progress, the units done
-- or the wait for one long command (docs/targets.md). -> what fn returns
local function erasing(ctx, chip, n, opts, fn)
  local prog <close> = progress.new("erase", n, { quiet = opts.quiet, unit = chip.unit_name,
    terminal_only = true })
  prog:update(0)
  ctx.progress = prog
  local r = fn()
  ctx.progress = nil
  prog:update(n)
  prog:finish()
  return r
end

-- Erase units: "all" or a list of unit numbers. -> how many
local function erase(ctx, chip, units, opts)
  local n = units == "all" and #chip.units or #units
  erasing(ctx, chip, n, opts, function() ctx.recipe.erase(ctx, chip, units) end)
  return n
end

--- flash.session(command, word, opts, body) -> whatever body returns.
-- Resolves the recipe, opens (or takes opts.board) and snapshots the board, connects, and runs
-- body(ctx, chip); every exit path restores the board.
function M.session(command, word, opts, body)
  local recipe, part = targets.resolve(word)
  require_steps(recipe, command)
  local ctx = {
    where = recipe.name, recipe = recipe, part = opts.part or part, opts = opts,
    -- --set and --baud over the config files' values, typed and range-checked (cwlua.params):
    -- exit 2 before the board opens
    defaults = params.merge(recipe, opts.set, opts.baud, config.sets(recipe.name)),
    log = function(fmt, ...)
      if opts.verbose then
        progress.interrupt() -- on a terminal, the line of a bar under way
        io.stderr:write(recipe.name, ": ", fmt:format(...), "\n")
      end
    end,
  }
  -- what was tried again (contract.md §3.11: --json reports it, -v names each) goes with the
  -- result, or with the error that ends the command
  ctx.retries = retry.new(ctx.log)
  local _ <close> = setmetatable({}, { __close = function(_, err)
    if errors.is(err) then err.retries, err.retry_log = ctx.retries.count, ctx.retries.list end
  end })
  -- a board the caller holds open (a lab script: cw.flash.program(t, f, { board = b })) is
  -- used as is and left open; otherwise the session opens and closes its own
  local dev = opts.board
  local owned <close> = not dev and open_device(ctx.part) or nil
  dev = dev or owned
  ctx.dev = dev
  -- restored on every exit path; a board that fails while its state is saved or put back
  -- is a USB failure like any other (exit 3, contract.md §3.8)
  local _ <close> = dev.snapshot and snapshot(ctx, dev):guard() or nil
  -- ctx.defer(fn): fn() runs on every exit path, last deferred first, before the board is
  -- restored (e.g. leave the programming mode that holds the target in reset); its errors
  -- are logged with -v and otherwise ignored. They run to the end even while SIGINT/SIGTERM
  -- stops the run (signal.hold).
  local deferred = {}
  ctx.defer = function(fn) deferred[#deferred + 1] = fn end
  local _ <close> = setmetatable({}, { __close = function()
    signal.hold(function()
      for i = #deferred, 1, -1 do
        local ok, err = pcall(deferred[i])
        if not ok then ctx.log("while leaving: %s", tostring(err)) end
      end
    end)
  end })
  glitch_off(ctx)
  -- a plain serial port is the serial rig, whatever the recipe's default, and that is known;
  -- so is a rig the config file states (--rig over it)
  local rig = config.value("rig", opts.rig, "--rig")
  ctx.rig = rig or (dev.enter_bootloader and "serial") or recipe.rig or "cw308"
  ctx.rig_known = rig ~= nil or dev.enter_bootloader ~= nil
  local cok, chip = pcall(recipe.connect, ctx)
  if not cok then
    -- a target that does not answer: say what was seen and what is likely, then point to
    -- cwlua doctor (contract.md §6), never a fixed checklist
    if errors.is(chip, "target") and recipe.explain then
      ctx.doctor_cmd = ("cwlua doctor %s%s"):format(word, opts.rig and (" --rig " .. opts.rig)
        or "")
      local lines = recipe.explain(ctx, chip)
      -- the recipe's own first step where it knows one (the check that tells its candidates
      -- apart), else the generic advice
      lines[#lines + 1] = lines.todo or ("do: check those, then run '%s' to test each link")
        :format(ctx.doctor_cmd)
      chip.message = chip.message .. "\n  " .. table.concat(lines, "\n  ")
    end
    error(chip, 0)
  end
  if chip.read_protected and command ~= "info" then
    if opts.unprotect and recipe.unprotect and (command == "program" or command == "erase") then
      local protected = chip -- removing read protection erases the whole flash
      chip = erasing(ctx, protected, #(protected.units or {}), opts,
        function() return recipe.unprotect(ctx, protected, "read") end)
    else
      error(errors.new("input", ("%s: the chip is read-protected and refuses to be read or "
        .. "written%s"):format(ctx.where, (command == "program" or command == "erase") and
        "; --unprotect removes the protection by erasing the whole flash" or "; nothing on it "
        .. "can be read (cwlua program --unprotect erases it and removes the protection)"),
        { cause = "read-protected" }), 0)
    end
  end
  if opts.unprotect_write and recipe.unprotect then chip = recipe.unprotect(ctx, chip, "write") end
  ctx.chip = chip
  ctx.sim0 = dev.sim_counters and dev:sim_counters() or nil
  local result = body(ctx, chip)
  if type(result) == "table" then
    result.retries, result.retry_log = ctx.retries.count, ctx.retries.list
  end
  if ctx.sim0 and type(result) == "table" then
    local c1 = dev:sim_counters()
    result.sim = { wire_s = (c1.wire_ns - ctx.sim0.wire_ns) / 1e9,
      flash_s = (c1.flash_ns - ctx.sim0.flash_ns) / 1e9,
      wait_s = (c1.wait_ns - ctx.sim0.wait_ns) / 1e9,
      usb = { ctrl_in = c1.ctrl_in - ctx.sim0.ctrl_in, ctrl_out = c1.ctrl_out - ctx.sim0.ctrl_out,
              bulk = (c1.bulk_in + c1.bulk_out) - (ctx.sim0.bulk_in + ctx.sim0.bulk_out) } }
  end
  return result
end

-- The erase units an image touches: their numbers (the codes Erase takes).
local function units_touched(chip, img)
  local list = {}
  for i, u in ipairs(chip.units) do
    local inside = img:split(u.start, u.start + u.size)
    if not inside:is_empty() then list[#list + 1] = i - 1 end
  end
  return list
end

local function check_fits(chip, img, file)
  local lo, hi = chip.flash_start, chip.flash_start + chip.flash_size
  local ok, bad = img:fits(lo, hi)
  if ok then return end
  if chip.ob_start and bad >= chip.ob_start and bad <= chip.ob_end then
    errors.raise("input", "%s: the image has option-byte data at 0x%08X; writing option bytes "
      .. "needs --option-bytes", file, bad)
  end
  local ilo, ihi = img:bounds()
  errors.raise("input", "%s: 0x%08X is outside the flash of this %s (0x%08X-0x%08X, %d KiB%s); "
    .. "the image spans 0x%08X-0x%08X; build it for this chip or pick the right target", file,
    bad, chip.name, lo, hi - 1, chip.flash_size // 1024, chip.layout and (": " .. chip.layout)
    or "", ilo, ihi - 1)
end

-- Why a byte may differ: a write-protected sector keeps its bytes silently (§A.8).
local function mismatch_hint(ctx, chip, addr)
  if not ctx.recipe.protection then return "" end
  local ok, p = pcall(ctx.recipe.protection, ctx, chip)
  if not ok or not p.write then return "" end
  for i, u in ipairs(chip.units) do
    if addr >= u.start and addr < u.start + u.size then
      local sector = (i - 1) // (chip.pps or 1)
      for _, s in ipairs(p.write) do
        if s == sector then
          return ("; write-protection sector %d is on, which keeps the old bytes: rerun with "
            .. "--unprotect-write"):format(sector)
        end
      end
    end
  end
  return ""
end

-- Read back and compare; the first differing byte exits 5 (contract.md §3).
local function verify(ctx, chip, img, prog)
  compare(ctx, img, ctx.read_block or BLOCK,
    function(addr, len) return ctx.recipe.read(ctx, chip, addr, len) end,
    function(a, want, got)
      error(errors.new("mismatch", ("%s: verify failed at 0x%08X: the image has 0x%02X, the "
        .. "chip 0x%02X%s"):format(ctx.where, a, want, got, mismatch_hint(ctx, chip, a)),
        { first_mismatch = a }), 0)
    end, prog)
end

--- flash.program(word, file, opts) -> summary table
function M.program(word, file, opts)
  local recipe = targets.resolve(word)
  require_steps(recipe, "program")
  local img = M.load_image(file, recipe, opts)
  local mem = M.memories(recipe, img, file, opts)
  img = mem.flash
  return M.session("program", word, opts, function(ctx, chip)
    local ob
    if opts.option_bytes and chip.ob_start then
      ob, img = img:split(chip.ob_start, chip.ob_end + 1)
      if ob:is_empty() then ob = nil end
      if img:is_empty() and not ob then
        errors.raise("input", "%s: the image holds no data to program", file)
      end
    end
    check_fits(chip, img, file)
    check_memories(ctx, chip, mem, file)
    note_image_fuses(ctx, chip, mem)
    local t0 = time.now_ns()
    local erased = 0
    if opts.chip then
      erased = erase(ctx, chip, "all", opts)
    elseif not img:is_empty() then
      local units = units_touched(chip, img)
      -- a recipe may erase more than the image touches where one command does what would take
      -- one per unit (XMEGA: the application section, docs/targets.md "Steps")
      if ctx.recipe.plan_erase then units = ctx.recipe.plan_erase(ctx, chip, units) end
      erased = erase(ctx, chip, units, opts)
    end
    ctx.log("erased %d %s%s", erased, chip.unit_name, erased == 1 and "" or "s")
    local total = img:size()
    local verified = "skipped"
    if total > 0 then
      local prog <close> = progress.new("write", total, { quiet = opts.quiet })
      local done = 0
      -- blocks padded to the chip's write unit with its erased value: 4 bytes and 0xFF, or the
      -- recipe's write_unit/erased (L4 writes double words, L0/L1 erase to 0x00)
      local d = ctx.defaults
      -- the image as written, for a write step that must write part of it again (an erase
      -- unit it had to erase again after a block the line broke, cwlua.stm32)
      ctx.image = img:pad(d.write_unit or 4, d.erased or 0xFF)
      for addr, data in ctx.image:blocks(BLOCK) do
        ctx.recipe.write(ctx, chip, addr, data)
        done = math.min(total, done + #data)
        prog:update(done)
      end
      prog:finish()
      if not opts.no_verify then
        local vprog <close> = progress.new("verify", total, { quiet = opts.quiet })
        verify(ctx, chip, img, vprog)
        vprog:finish()
      end
    end
    local eeprom = mem.eeprom and write_eeprom(ctx, chip, mem, opts) or nil
    if #mem.fuses > 0 or mem.lock then write_fuses(ctx, chip, mem, opts) end
    if not opts.no_verify then verified = "ok" end
    if ob then chip = M.write_option_bytes(ctx, chip, ob, opts) end
    ctx.recipe.start(ctx, chip)
    local seconds = (time.now_ns() - t0) / 1e9
    return { bytes = total + (eeprom or 0), flash_bytes = total, eeprom = eeprom,
             fuses = #mem.fuses > 0 and mem.fuses or nil, lock = mem.lock, erased = erased,
             unit = chip.unit_name, seconds = seconds, verify = verified, chip = chip,
             option_bytes = ob and ob:size() or nil }
  end)
end

--- flash.write_option_bytes(ctx, chip, ob_img, opts) -> chip: the image's option-byte records
-- merged over the chip's current option bytes (a byte the image does not set keeps its value:
-- an 0xFF read-protection byte would turn read protection on), written last, then read back
-- after the chip's reset (contract.md §3).
function M.write_option_bytes(ctx, chip, ob, opts)
  if not ctx.recipe.write_option_bytes then
    errors.raise("usage", "recipe %s cannot write option bytes", ctx.where)
  end
  local len = chip.ob_end - chip.ob_start + 1
  local current = ctx.recipe.read(ctx, chip, chip.ob_start, len)
  local bytes = {}
  for i = 1, len do bytes[i] = current:sub(i, i) end
  for _, r in ipairs(ob.ranges) do
    for i = 1, #r.data do bytes[r.addr - chip.ob_start + i] = r.data:sub(i, i) end
  end
  local merged = table.concat(bytes)
  ctx.log("option bytes: %s", (merged:gsub(".", function(c) return ("%02X "):format(c:byte()) end)))
  chip = ctx.recipe.write_option_bytes(ctx, chip, merged)
  if chip.read_protected then
    ctx.log("the option bytes turned read protection on: they cannot be read back")
    return chip
  end
  if not opts.no_verify then
    local function read(a, n) return ctx.recipe.read(ctx, chip, a, n) end
    local back = read(chip.ob_start, len)
    if back ~= merged then back = settle(ctx, chip.ob_start, merged, back, read) end
    for i = 1, len do
      if back:byte(i) ~= merged:byte(i) then
        error(errors.new("mismatch", ("%s: option bytes differ after writing at 0x%08X: wrote "
          .. "0x%02X, the chip has 0x%02X"):format(ctx.where, chip.ob_start + i - 1,
          merged:byte(i), back:byte(i)), { first_mismatch = chip.ob_start + i - 1 }), 0)
      end
    end
  end
  return chip
end

--- flash.verify(word, file, opts) -> summary
function M.verify(word, file, opts)
  local recipe = targets.resolve(word)
  require_steps(recipe, "verify")
  local img = M.load_image(file, recipe, opts, "verify")
  local mem = M.memories(recipe, img, file, opts, "verify")
  img = mem.flash
  return M.session("verify", word, opts, function(ctx, chip)
    check_fits(chip, img, file)
    check_memories(ctx, chip, mem, file)
    local t0 = time.now_ns()
    local total = img:size() + (mem.eeprom and mem.eeprom:size() or 0)
    local prog <close> = progress.new("verify", total, { quiet = opts.quiet })
    verify(ctx, chip, img, prog)
    if mem.eeprom then
      local base = img:size()
      verify_eeprom(ctx, chip, mem.eeprom, recipe.regions.eeprom.addr, {
        update = function(_, n) prog:update(base + n) end })
    end
    prog:finish()
    if #mem.fuses > 0 or mem.lock then compare_fuses(ctx, chip, mem, "should be") end
    return { bytes = total, flash_bytes = img:size(), eeprom = mem.eeprom and mem.eeprom:size(),
             seconds = (time.now_ns() - t0) / 1e9, verify = "ok", chip = chip }
  end)
end

-- read's OUT, checked before the board is opened (contract.md §3.3): a folder, a device or a
-- FIFO, or a name in a folder that does not exist would fail only after the whole read, when
-- OUT.part is renamed (and as root a rename onto /dev/null would replace the device node).
local function check_out(out)
  local st = runtime.stat(out)
  if st and st.type == "directory" then
    errors.raise("input", "cannot write %s: Is a directory; give a file name, e.g. %s/flash.bin",
      out, (out:gsub("/+$", "")))
  end
  if st and st.type ~= "file" then
    errors.raise("input", "%s: not a regular file (%s); read writes OUT as a file", out,
      image.FILE_KINDS[st.type] or st.type)
  end
  local dir = out:match("^(.*)/[^/]*$")
  if dir == "" then dir = "/" end
  if dir then
    local dst = runtime.stat(dir)
    if not dst then
      errors.raise("input", "cannot write %s: the folder %s does not exist", out, dir)
    elseif dst.type ~= "directory" then
      errors.raise("input", "cannot write %s: %s is not a folder", out, dir)
    end
  end
  -- OUT.part is where the data goes first, and it is removed on every way out: it must be a
  -- file, so that nothing but a stale OUT.part is ever removed
  local pst = runtime.stat(out .. ".part")
  if pst and pst.type ~= "file" then
    errors.raise("input", "cannot write %s: %s.part, where read writes first, is %s", out, out,
      pst.type == "directory" and "a folder" or image.FILE_KINDS[pst.type] or pst.type)
  end
  if out:lower():match("%.elf$") then
    errors.raise("usage", "%s: read writes Intel HEX (a name ending in .hex) or raw binary, not "
      .. "ELF; name it .hex or .bin", out)
  end
end

-- The memory a read may cover: chip.memory, a connect step's list of { name =, start =,
-- size = } (an STM32's flash, RAM, system memory and option bytes, target-protocols.md §A.6),
-- else the chip's flash and option bytes. chip.memory_partial says the chip has readable
-- memory besides (an STM32's device information: flash-size register, unique ID), so a range
-- that touches no listed region is left to the chip.
local function memory_map(chip)
  if chip.memory then return chip.memory end
  local map = { { name = "flash", start = chip.flash_start, size = chip.flash_size } }
  if chip.ob_start then
    map[2] = { name = "option bytes", start = chip.ob_start,
               size = chip.ob_end - chip.ob_start + 1 }
  end
  return map
end

-- "flash 0x08000000-0x0801FFFF (128 KiB), option bytes 0x1FFFF800-0x1FFFF80F (16 bytes)"
local function map_text(map)
  local list = {}
  for _, r in ipairs(map) do
    list[#list + 1] = ("%s 0x%08X-0x%08X (%s)"):format(r.name, r.start, r.start + r.size - 1,
      image.size_text(r.size))
  end
  return table.concat(list, ", ")
end

-- read_range(ctx, chip, addr, len) -> addr, len: the range --addr/--len give, checked against
-- the chip's memory before anything is read (exit 2, naming the region); without --len, to
-- the end of the region that holds addr (the whole flash by default).
local function read_range(ctx, chip, addr, len)
  local map = memory_map(chip)
  for _, r in ipairs(map) do
    local stop = r.start + r.size
    if addr >= r.start and addr < stop then
      len = len or stop - addr
      if addr + len > stop then
        errors.raise("usage", "%s: 0x%08X-0x%08X runs past the end of the %s of this %s "
          .. "(0x%08X-0x%08X, %s): at most %d bytes from 0x%08X", ctx.where, addr,
          addr + len - 1, r.name, chip.name, r.start, stop - 1, image.size_text(r.size),
          stop - addr, addr)
      end
      return addr, len
    end
  end
  for _, r in ipairs(map) do
    if len and addr < r.start and addr + len > r.start then
      errors.raise("usage", "%s: 0x%08X-0x%08X starts before the %s of this %s (0x%08X-0x%08X, "
        .. "%s)", ctx.where, addr, addr + len - 1, r.name, chip.name, r.start,
        r.start + r.size - 1, image.size_text(r.size))
    end
  end
  if not chip.memory_partial then
    errors.raise("usage", "%s: 0x%08X is outside the memory of this %s: %s", ctx.where, addr,
      chip.name, map_text(map))
  end
  if not len then
    errors.raise("usage", "%s: 0x%08X is in no memory cwlua knows of this %s, so give --len to "
      .. "read there: %s", ctx.where, addr, chip.name, map_text(map))
  end
  return addr, len
end

-- write_out(tmp, out, bytes, kind): bytes into tmp, or an error of kind naming OUT (a folder
-- that cannot be written to, a full disk)
local function write_out(tmp, out, bytes, kind)
  local w, err = io.open(tmp, "wb")
  if w then
    local ok, werr = w:write(bytes)
    local closed, cerr = w:close()
    if ok and closed then return end
    err = werr or cerr
  end
  err = tostring(err)
  if err:sub(1, #tmp + 2) == tmp .. ": " then err = err:sub(#tmp + 3) end
  errors.raise(kind, "cannot write %s: %s", out, err)
end

--- flash.read(word, out, opts) -> summary. OUT is checked first (a folder, a device, a missing
-- folder: exit 2 before the board is opened), the range against the chip before a byte is
-- read. The output is written to OUT.part and renamed at the end, so a failed read never
-- leaves a truncated file under the real name; OUT.part is removed on every other way out, a
-- failed rename and a signal included (signal.hold).
function M.read(word, out, opts)
  local recipe = targets.resolve(word)
  require_steps(recipe, "read")
  local as_hex = out:lower():match("%.i?hex$") ~= nil or out:lower():match("%.ihx$") ~= nil
  local memory = opts.memory or "flash"
  if memory ~= "flash" and memory ~= "eeprom" then
    errors.raise("usage", "--memory must be flash or eeprom, got '%s'", memory)
  end
  if memory == "eeprom" then
    need_steps(recipe, "read EEPROM", "--memory eeprom", "read_eeprom")
    if opts.option_bytes then errors.raise("usage", "--memory eeprom and --option-bytes "
      .. "exclude each other") end
  end
  if opts.option_bytes and (opts.addr or opts.len) then
    errors.raise("usage", "--option-bytes reads the option bytes; it takes no --addr or --len")
  end
  local want_addr = opts.addr and M.number(opts.addr, "--addr")
  local want_len = opts.len and M.number(opts.len, "--len")
  if want_len and want_len <= 0 then errors.raise("usage", "--len must be positive") end
  check_out(out)
  local tmp = out .. ".part"
  local keep = false
  local _ <close> = setmetatable({}, { __close = function()
    if not keep then signal.hold(os.remove, tmp) end
  end })
  -- OUT.part made now: a folder that cannot be written to stops the command before the read
  write_out(tmp, out, "", "input")
  local res = M.session("read", word, opts, function(ctx, chip)
    local addr, len, read = want_addr, want_len, ctx.recipe.read
    if memory == "eeprom" then -- offsets from 0, as --eeprom FILE takes them back
      local size = chip.eeprom_size or 0
      addr = addr or 0
      len = len or size - addr
      if addr + len > size or len <= 0 then
        errors.raise("usage", "%s: 0x%X-0x%X is outside the EEPROM of this %s (0x0-0x%X)",
          ctx.where, addr, addr + math.max(len, 1) - 1, chip.name, size - 1)
      end
      read = ctx.recipe.read_eeprom
    elseif opts.option_bytes then
      if not chip.ob_start then errors.raise("usage", "%s has no option bytes", ctx.where) end
      addr, len = chip.ob_start, chip.ob_end - chip.ob_start + 1
    else
      addr, len = read_range(ctx, chip, addr or chip.flash_start, len)
    end
    local t0 = time.now_ns()
    local parts, done = {}, 0
    local prog <close> = progress.new("read", len, { quiet = opts.quiet })
    while done < len do
      local a = addr + done
      local rb = ctx.read_block or BLOCK -- what the line can take whole (the recipe says)
      local n = math.min(rb - (a % rb), len - done) -- aligned blocks
      parts[#parts + 1] = read(ctx, chip, a, n)
      done = done + n
      prog:update(done)
    end
    prog:finish()
    local data = table.concat(parts)
    write_out(tmp, out, as_hex and image.to_hex(image.new():add(addr, data)) or data, "failure")
    return { bytes = len, addr = addr, memory = memory, seconds = (time.now_ns() - t0) / 1e9,
             chip = chip }
  end)
  local renamed, rerr = os.rename(tmp, out)
  if not renamed then errors.raise("failure", "cannot rename %s to %s: %s", tmp, out, rerr) end
  keep = true
  return res
end

--- flash.erase(word, opts) -> summary: --chip, or the units covering --addr/--len
function M.erase(word, opts)
  local recipe = targets.resolve(word)
  require_steps(recipe, "erase")
  if not opts.chip and not (opts.addr and opts.len) then
    errors.raise("usage", "erase needs --chip (everything) or --addr and --len (the pages or "
      .. "sectors they touch)")
  end
  local addr = opts.addr and M.number(opts.addr, "--addr")
  local len = opts.len and M.number(opts.len, "--len")
  return M.session("erase", word, opts, function(ctx, chip)
    local t0 = time.now_ns()
    local units = "all"
    if not opts.chip then
      local lo, hi = chip.flash_start, chip.flash_start + chip.flash_size
      if addr < lo or addr + len > hi then
        errors.raise("usage", "%s: 0x%08X-0x%08X is outside the flash (0x%08X-0x%08X)",
          ctx.where, addr, addr + len - 1, lo, hi - 1)
      end
      units = units_touched(chip, image.new():add(addr, ("\xFF"):rep(len)))
    end
    local n = erase(ctx, chip, units, opts)
    ctx.recipe.start(ctx, chip)
    return { erased = n, unit = chip.unit_name, seconds = (time.now_ns() - t0) / 1e9,
             chip = chip }
  end)
end

--- flash.info(word, opts) -> { rows = { {key, value}, ... }, chip = chip }
function M.info(word, opts)
  return M.session("info", word, opts, function(ctx, chip)
    local rows = ctx.recipe.info and ctx.recipe.info(ctx, chip) or {}
    ctx.recipe.start(ctx, chip)
    return { rows = rows, chip = chip }
  end)
end

return M
