-- SPDX-License-Identifier: MIT
-- cwlua.stm32: what every STM32 recipe shares — bootloader entry through the board's pins,
-- sync over the recipe's baud candidates, identification against the recipe's chip IDs, and
-- the erase/write/read/start steps over the AN3155 engine (cwlua.proto.stm32boot).
-- A recipe states its facts and calls stm32.recipe{...} (docs/targets.md, targets/stm32f1.lua).
-- Facts: docs/reference/target-protocols.md §A.
local time = require "cwlua.time"
local devices = require "cwlua.proto.stm32devices"
local errors = require "cwlua.errors"
local params = require "cwlua.params"
local retry = require "cwlua.retry"
local stm32boot = require "cwlua.proto.stm32boot"

local M = {}

-- From releasing nRST to a bootloader that listens: not in the documents (§A.2 only says the
-- CW waits 25 ms, then a fixed second). A 0x7F sent too early is simply not answered, and sync
-- sends it twice, so a short wait is safe.
local BOOT_START_MS = 2

local function check(ctx, value, msg, code)
  if value == nil then
    error(errors.world(code, ctx.where .. ": " .. msg, { code = code }), 0)
  end
  return value
end

-- A board: cwlua drives BOOT0 and nRST itself. A plain serial port has lines too (rts, dtr),
-- but they are driven by its --gpio-seq entry and exit sequences (cwlua.port).
local function has_lines(dev)
  return dev.pin ~= nil and dev.enter_bootloader == nil
end

-- BOOT0 high and a reset pulse: the ROM bootloader starts (§A.2, without its fixed waits).
-- A serial port's --gpio-seq ends with the reset released too, so the same short wait follows
-- it: a 0x7F sent at once would be lost and found out only by sync's 100 ms timeout.
local function enter_bootloader(ctx, d)
  local dev = ctx.dev
  if dev.enter_bootloader then
    local how = check(ctx, dev:enter_bootloader())
    if how == "sequence" then time.sleep(BOOT_START_MS) end
    return how
  end
  check(ctx, dev:pin(d.boot_pin, "high"))
  check(ctx, dev:pin(d.reset_pin, "low"))
  time.sleep(d.reset_ms)
  check(ctx, dev:pin(d.reset_pin, "high_z"))
  time.sleep(BOOT_START_MS)
end

-- Which recipe accepts a product ID (for the wrong-chip message).
local function recipe_for(pid)
  local ok, list = pcall(function() return require("cwlua.targets").list() end)
  if not ok then return nil end
  for _, e in ipairs(list) do
    if e.recipe and not e.overridden_by then
      for _, id in ipairs(e.recipe.chips or {}) do
        if id == pid then return e.name end
      end
    end
  end
end

-- A value read over the line that the caller did not expect is believed only when a second
-- read agrees: a bit flipped on its way back makes another chip ID or flash size, which would
-- end the command with exit 2, or makes a block look written over (contract.md §3.11). read()
-- is asked up to reads - 1 more times; a value good(v) accepts at once, else the first one that
-- comes twice. say(v) tells what was read, what names the value in the final error.
local function agreed(ctx, first, read, good, say, what, reads)
  if good(first) then return first end
  reads = reads or 4
  local seen = { [first] = true }
  local last = first
  for i = 2, reads do
    retry.of(ctx):note("%s; reading it again (%d of %d)", say(last), i, reads)
    last = read()
    if good(last) or seen[last] then return last end
    seen[last] = true
  end
  error(errors.new("target", ("%s: %s read %d different values: the serial line damages bytes")
    :format(ctx.where, what, reads), { code = "garbled" }), 0)
end

-- Get, Get ID, the chip ID against the recipe, the flash-size register: the chip as cwlua
-- sees it. A read-protected chip NACKs the register read: reported in chip.read_protected
-- (flash size from the table), and the command decides (contract.md §3: exit 2 unless --unprotect).
local function identify(ctx, recipe)
  local boot = ctx.boot
  local info = boot:get()
  local function accepted(id)
    for _, c in ipairs(recipe.chips) do
      if c == id then return true end
    end
    return false
  end
  local pid = agreed(ctx, boot:get_id(), function() return boot:get_id() end, accepted,
    function(v) return ("Get ID answered 0x%03X, which this recipe does not take"):format(v) end,
    "the product ID")
  local known = devices.BY_PID[pid]
  if not known then
    -- an ID outside the table (every product ID of target-protocols.md §A.6): a bit damaged
    -- on the line is far likelier than an unknown chip behind an STM32 recipe, so it is the
    -- target's reply that failed (exit 4), not the user's input (contract.md §3.8)
    error(errors.new("target", ("%s: the chip reports product ID 0x%03X, which is no STM32 "
      .. "cwlua knows: the reply was probably damaged on the line (noise, a poor cable or "
      .. "ground), or the chip is not one cwlua supports"):format(ctx.where, pid),
      { code = "garbled", observed = string.pack(">I2", pid) }), 0)
  end
  if not accepted(pid) then
    local other = recipe_for(pid)
    error(errors.new("input", ("%s: the chip reports product ID 0x%03X (%s), which this recipe "
      .. "does not program%s"):format(ctx.where, pid, known.name,
      other and ("; use the recipe '" .. other .. "'") or ""),
      { cause = "wrong-chip", recipe = other }), 0)
  end
  local chip = {
    pid = pid, name = known.name, family = known.family, bootloader = info.version,
    erase_command = info.erase, flash_start = known.flash_start, flash_size = known.flash_size,
    ob_start = known.ob_start, ob_end = known.ob_end, pps = known.pps, device = known,
    unit_name = known.sectors and "sector" or "page",
  }
  -- the flash-size register gives this chip's size (the table holds the largest part); a size
  -- other than the table's is read twice
  local ok, raw = pcall(boot.read, boot, known.fsize_addr, 2)
  if ok then
    local function kib_of(r) return devices.flash_kib(known, string.unpack("<I2", r)) end
    local kib = agreed(ctx, kib_of(raw),
      function() return kib_of(boot:read(known.fsize_addr, 2)) end,
      function(k) return k * 1024 == known.flash_size end,
      function(k) return ("the flash-size register reads %d KiB, not the table's %d KiB"):format(
        k, known.flash_size // 1024) end, "the flash-size register")
    if kib == 0 or kib == 0xFFFF or kib * 1024 > known.flash_size then
      ctx.log("flash-size register reads %d KiB; using the table's %d KiB", kib,
        known.flash_size // 1024)
    else
      chip.flash_size = kib * 1024
    end
  elseif errors.is(raw, "target") and raw.code == "nack" then
    chip.read_protected = true -- every read is refused (target-protocols.md §A.8)
  else
    error(raw, 0)
  end
  chip.units = devices.layout(known, chip.flash_size)
  -- what Read Memory may read (§A.6), for read's range check; the bootloader reads device
  -- information besides (flash-size register, unique ID), which the table does not place
  chip.memory, chip.memory_partial = {}, true
  for _, r in ipairs({ { "flash", known.flash_start, known.flash_start + chip.flash_size },
                       { "RAM", known.ram_start, known.ram_end },
                       { "system memory", known.sys_start, known.sys_end },
                       { "option bytes", known.ob_start, known.ob_end + 1 } }) do
    if r[2] and r[3] > r[2] then
      chip.memory[#chip.memory + 1] = { name = r[1], start = r[2], size = r[3] - r[2] }
    end
  end
  return chip
end

-- After a command that resets the chip (Readout/Write Unprotect, an option-byte write), the
-- bootloader starts afresh with BOOT0 still high: wait for it, sync, identify (§A.4).
local SELF_RESET_MS = 10 -- reset pulse of the chip's own reset plus its start-up (UNCONFIRMED)
local function resync(ctx, recipe)
  time.sleep(SELF_RESET_MS)
  local state = ctx.boot:sync()
  ctx.log("bootloader %s again after the chip's reset", state)
  return identify(ctx, recipe)
end

local function connect(recipe)
  return function(ctx)
    local d = ctx.defaults
    local dev = ctx.dev
    if has_lines(dev) then -- a board: route the USART to the CW308 pins (§6.1 roles)
      for pin, role in pairs({ tio1 = "serial_rx", tio2 = "serial_tx" }) do
        local ok, msg, code = dev:pin(pin, role)
        -- the CW-Nano's USART pins are fixed (cw-usb-protocol.md §7.2): nothing to route
        if not ok and code ~= "unsupported" then check(ctx, ok, msg, code) end
      end
      if d.program_clock_hz and dev.clock then check(ctx, dev:clock(d.program_clock_hz)) end
    end
    local bauds = d.bauds
    if type(bauds) ~= "table" then bauds = { bauds } end
    local boot, state, last
    local tried = {}
    for _, baud in ipairs(bauds) do
      local stream = check(ctx, dev:serial({ baud = baud, parity = "even" })) -- 8E1 (§A.3)
      boot = stm32boot.new(stream, { where = ctx.where, timeout = d.timeout, timing = d.timing,
        on_retry = function(msg) retry.of(ctx):note("%s", msg) end })
      if not ctx.opts.no_reset then enter_bootloader(ctx, d) end
      local ok, r = pcall(boot.sync, boot)
      tried[#tried + 1] = baud
      if ok then
        state = r
        ctx.stream, ctx.baud, ctx.synced = stream, baud, true
        -- a Read Memory reply (ACK + data) must fit the line's receive buffer whole: the
        -- board's holds 199 bytes (cw-usb-protocol.md §5.4) and drops the rest, and draining it
        -- mid-reply depends on the host keeping up, which a loaded machine does not always
        -- do. So reads are the largest multiple of 64 bytes whose reply fits: 192 on a board
        -- (193 of 199 bytes), 256 on a serial port, whose kernel buffer is large. The longer
        -- the read, the fewer commands and acknowledgement waits (bench/README.md).
        local cap = stream.rx_capacity
        ctx.read_block = cap and math.min(256, (cap - 1) // 64 * 64) or 256
        break
      end
      if not errors.is(r, "target") then error(r, 0) end
      last = r
    end
    if not state then
      last.message = last.message .. (" (tried %s baud)"):format(table.concat(tried, ", "))
      error(last, 0)
    end
    ctx.boot = boot
    ctx.log("bootloader %s at %d baud", state, ctx.baud)
    return identify(ctx, recipe)
  end
end

-- Erase units: "all" (mass erase) or a list of unit numbers, in commands of at most 255
-- (Erase 0x43's 1-byte count, §A.4) or 511 (stm32flash 0.7's split for Extended Erase, §A.10).
-- A recipe whose chips have no mass erase (defaults.mass_erase = false: L0/L1, §A.6 notes)
-- gets "all" as a list of every page, as stm32flash 0.7 does (§A.10).
-- The chip answers a command only when it has erased all it names, so ctx.progress (a bar on a
-- terminal, during erase and program) shows each command's time against the time the chip's
-- timing data expects (a mass erase of an F4 is 16 s), and the units done after each command.
local function erase(ctx, chip, units)
  if units == "all" and ctx.defaults.mass_erase == false then
    units = {}
    for i = 1, #chip.units do units[i] = i - 1 end
  end
  local prog, timing = ctx.progress, ctx.boot.timing or {}
  local function tick(n, ns)
    return prog and prog:waiting(n, ns)
  end
  if units == "all" then return ctx.boot:erase("all", tick(#chip.units, timing.mass_erase_ns)) end
  local per = chip.erase_command == stm32boot.CMD.ERASE and 255 or 511
  for i = 1, #units, per do
    local batch = table.move(units, i, math.min(i + per - 1, #units), 1, {})
    ctx.boot:erase(batch, tick(#batch, timing.page_erase_ns and timing.page_erase_ns * #batch))
    if prog then prog:update(i - 1 + #batch) end
  end
end

local function read(ctx, _, addr, len)
  return ctx.boot:read(addr, len)
end

-- A block as the flash holds it now, in reads the line can take whole (ctx.read_block). A read
-- may come back damaged (nothing checks Read Memory data): each read that is neither of the two
-- expected contents (the bytes written, or erased) is believed only when two reads agree.
local function read_back(ctx, addr, data, erased)
  local parts, done, rb = {}, 0, ctx.read_block or 256
  while done < #data do
    local n = math.min(rb, #data - done)
    local a, w, e = addr + done, data:sub(done + 1, done + n), erased:sub(done + 1, done + n)
    local function once() return ctx.boot:read(a, n) end
    parts[#parts + 1] = agreed(ctx, once(), once, function(v) return v == w or v == e end,
      function() return ("the %d bytes at 0x%08X read back neither as written nor erased"):format(
        n, a) end, ("the %d bytes at 0x%08X"):format(n, a), 8)
    done = done + n
  end
  return table.concat(parts)
end

local write

-- The erase units a block lies in are erased again, and what the image being programmed
-- (ctx.image, set by cwlua.flash) has in them before the block is written again, then the
-- block. Once per block: a block that cannot be written after that ends the command.
local function rewrite_units(ctx, chip, addr, data, why)
  if not ctx.image or ctx.rewriting then
    error(errors.new("target", ("%s: %s; the block at 0x%08X now holds bytes that are neither "
      .. "erased nor the image's, and its %s must be erased again: run the command again")
      :format(ctx.where, why, addr, chip.unit_name), { code = "garbled" }), 0)
  end
  local units, lo = {}, nil
  for i, u in ipairs(chip.units) do
    if u.start < addr + #data and u.start + u.size > addr then
      units[#units + 1] = i - 1
      lo = lo or u.start
    end
  end
  retry.of(ctx):note("%s; the block at 0x%08X reads back neither erased nor written: erasing "
    .. "its %s again and writing the image there again", why, addr, chip.unit_name)
  ctx.rewriting = true
  local ok, err = pcall(function()
    ctx.recipe.erase(ctx, chip, units)
    if lo < addr then
      for a, d in ctx.image:split(lo, addr):blocks(256) do write(ctx, chip, a, d) end
    end
    write(ctx, chip, addr, data)
  end)
  ctx.rewriting = false
  if not ok then error(err, 0) end
end

-- After a block that failed it goes again in pieces of this size (NewAE's fallback block size,
-- target-protocols.md §A.5): on a line that damages a byte in every few thousand bits a
-- 265-byte frame fails often, a 73-byte one seldom.
local PIECE = 64

-- Write Memory of data at addr, sent again only when the flash says it may (contract.md §3.11):
-- after a failure the engine gets back in step and the bytes are read back. The image's bytes:
-- only the reply was lost, done. Erased: sent again, up to attempts in all. Anything else (a
-- write cut short, a frame the resync filler completed) cannot be written over — flash takes a
-- write only where it is erased (target-protocols.md §A.9). Returns true, or false, the last
-- error and whether the bytes are "dirty" (neither erased nor written).
local function put(ctx, addr, data, attempts, what)
  local boot = ctx.boot
  local erased = string.char(ctx.defaults.erased or 0xFF):rep(#data)
  local err
  for attempt = 1, attempts do
    local ok
    ok, err = pcall(boot.write, boot, addr, data)
    if ok then return true end
    if not stm32boot.retryable(err) then error(err, 0) end
    boot:recover(err)
    local now = read_back(ctx, addr, data, erased)
    local why = retry.message(err)
    if now == data then
      retry.of(ctx):note("%s; the %s reads back as written (only the reply was lost)", why, what)
      return true
    end
    if now ~= erased then return false, err, true end
    if attempt < attempts then
      retry.of(ctx):note("%s; the %s reads back erased: writing it again (%d of %d)", why, what,
        attempt + 1, attempts)
    end
  end
  return false, err, false
end

write = function(ctx, chip, addr, data)
  local boot = ctx.boot
  local ok, err, dirty = put(ctx, addr, data, 1, "block")
  if ok then return end
  if not dirty and boot.data_attempts > 1 then
    retry.of(ctx):note("%s; the block reads back erased: writing it again in %d-byte pieces",
      retry.message(err), PIECE)
    for off = 0, #data - 1, PIECE do
      ok, err, dirty = put(ctx, addr + off, data:sub(off + 1, off + PIECE), boot.data_attempts,
        ("piece at 0x%08X"):format(addr + off))
      if not ok then break end
    end
    if ok then return end
  end
  if dirty then return rewrite_units(ctx, chip, addr, data, retry.message(err)) end
  if errors.is(err) and boot.data_attempts > 1 then
    err.message = err.message .. (" (%d attempts)"):format(boot.data_attempts)
  end
  error(err, 0)
end

-- Leave the bootloader so the new firmware runs: BOOT0 low and a reset (§A.2 "Exit"); where
-- there are no lines to do that (a plain port without a sequence, or --no-reset), Go.
local function start(ctx, chip)
  local d, dev = ctx.defaults, ctx.dev
  if ctx.opts.no_reset or not has_lines(dev) then
    -- a port's exit sequence resets the chip into its firmware; "go" means it has none
    if dev.exit_bootloader and not ctx.opts.no_reset and
        check(ctx, dev:exit_bootloader()) ~= "go" then
      return
    end
    return ctx.boot:go(chip.flash_start)
  end
  check(ctx, dev:pin(d.boot_pin, "low"))
  check(ctx, dev:pin(d.reset_pin, "low"))
  time.sleep(d.reset_ms)
  check(ctx, dev:pin(d.reset_pin, "high_z"))
end

-- The option bytes (protection lives there; 16 on the F-series, 32 on L0/L1, 40 on the L4), or
-- nil on a read-protected chip.
local function option_bytes(ctx, chip)
  local ok, ob = pcall(ctx.boot.read, ctx.boot, chip.ob_start, chip.ob_end - chip.ob_start + 1)
  if ok then return ob end
  if errors.is(ob, "target") and ob.code == "nack" then return nil end
  error(ob, 0)
end

--- step protection(ctx, chip) -> { read = bool, write = { sector numbers } | nil (unknown) }
local function protection(ctx, chip)
  if chip.read_protected then return { read = true } end
  local ob = option_bytes(ctx, chip)
  if not ob then return { read = true } end
  return { read = devices.read_protected(chip.device, ob),
           write = devices.protection(chip.device, ob) }
end

--- step unprotect(ctx, chip, what) -> chip (identified again): what = "read" runs Readout
-- Unprotect (mass-erases the flash), "write" runs Write Unprotect; the chip resets itself after
-- either and is synced again (§A.4). The mass erase shows on ctx.progress as erase's does.
local function unprotect(recipe)
  return function(ctx, chip, what)
    if what == "read" then
      ctx.log("Readout Unprotect: the chip erases its whole flash")
      local prog = ctx.progress
      ctx.boot:readout_unprotect(prog and prog:waiting(#(chip.units or {}),
        (ctx.boot.timing or {}).mass_erase_ns))
    else
      ctx.log("Write Unprotect")
      ctx.boot:write_unprotect()
    end
    return resync(ctx, recipe)
  end
end

--- step write_option_bytes(ctx, chip, data) -> chip: Write Memory into the option bytes; the
-- chip applies them at the reset that follows and is synced again (§A.4 "Self-reset").
local function write_option_bytes(recipe)
  return function(ctx, chip, data)
    ctx.boot:write(chip.ob_start, data)
    return resync(ctx, recipe)
  end
end

local function sector_list(list)
  if #list == 0 then return "none" end
  local parts, i = {}, 1
  while i <= #list do
    local j = i
    while j < #list and list[j + 1] == list[j] + 1 do j = j + 1 end
    parts[#parts + 1] = i == j and tostring(list[i]) or (list[i] .. "-" .. list[j])
    i = j + 1
  end
  return table.concat(parts, ",")
end
M.sector_list = sector_list

local function info(ctx, chip)
  local version, ob1, ob2 = ctx.boot:get_version()
  local p = protection(ctx, chip)
  local wp = p.write and sector_list(p.write) or "unknown (the chip is read-protected)"
  return {
    { "chip", ("%s (ID 0x%03X)"):format(chip.name, chip.pid), "chip" },
    { "bootloader", ("v%d.%d"):format(version >> 4, version & 15), "bootloader" },
    { "flash", ("%d KiB at 0x%08X, %d %ss"):format(chip.flash_size // 1024, chip.flash_start,
      #chip.units, chip.unit_name), "flash" },
    { "read protection", p.read and "on" or "off", "read_protection" },
    { "write-protected sectors", wp, "write_protected" },
    { "erase command", ("0x%02X"):format(chip.erase_command or 0), "erase_command" },
    { "Get Version option bytes", ("0x%02X 0x%02X"):format(ob1, ob2), "get_version_options" },
    { "baud", ctx.baud, "baud" },
  }
end

---------------------------------------------------------------------------------------------
-- diagnosis (contract.md §6): evidence only — bytes that came back, the target TX line's level
-- where the board can read it, what a probe changes

-- The application's UART as NewAE's CW308 firmware sets it up: 38400 baud at the board's
-- 7.3846 MHz clock, scaled by the clock it really gets (target-protocols.md §A.7; contract.md §5).
local APP_BAUD, APP_CLOCK_REF = 38400, 7384600

-- cwlua.doctor's helpers, looked up when used: doctor loads the recipes, which load this module
local diag = setmetatable({}, { __index = function(_, k) return require("cwlua.doctor")[k] end })

-- The level of a TIO line where the board can read it: 1 driven high, 0 not driven, nil
-- unknown (the board cannot read it, or the read failed).
local function level(dev, pin)
  if not dev.level then return nil end
  local ok, v = pcall(dev.level, dev, pin)
  return ok and v or nil
end

-- What the board sees of the UART lines while the target is silent. tio1, the target's TX: high
-- means the target is powered and its TX reaches the board. tio2, read only when TIO1 is low:
-- the board lets go of its TX line for a moment, and high then means the target side drives it
-- (the target's TX when the lines are crossed, or a pull-up on its RX): the target is powered.
-- strict (doctor): a failed board call raises its USB error; else it only costs the evidence.
local function line_levels(ctx, strict)
  local dev = ctx.dev
  local ev = { tio1 = level(dev, "tio1") }
  if ev.tio1 == 0 and has_lines(dev) then
    local ok, msg, code = dev:pin("tio2", "high_z")
    if ok then
      time.sleep(1)
      ev.tio2 = level(dev, "tio2")
      ok, msg, code = dev:pin("tio2", "serial_tx")
    end
    if not ok and strict then diag.check(ok, msg, code) end
  end
  return ev
end

-- The --gpio-seq of a plain serial port, or nil (none given, or a board).
local function gpio_seq(dev)
  local ok, i = pcall(function() return dev.enter_bootloader and dev:info() end)
  return ok and type(i) == "table" and i.gpio_seq or nil
end

-- Through a plain serial adapter (rig "serial") the reset and boot pins hang on the adapter's
-- own lines, DTR and RTS, which only --gpio-seq drives (docs/install.md "Serial adapters");
-- nothing can see the target's TX line or its supply.
local function serial_candidates(ctx)
  local seq = gpio_seq(ctx.dev)
  return {
    seq and ("the --gpio-seq '%s' does not start the bootloader: the adapter's DTR and RTS do "
      .. "not reach nRST and BOOT0 as it assumes (an inverting transistor swaps the signs)")
      :format(seq)
      or "the chip is not in its bootloader: without --gpio-seq cwlua does not drive the "
      .. "adapter's DTR and RTS (Linux asserts both when the port opens, which holds nRST low "
      .. "where DTR# drives it)",
    "the target's TX does not reach the adapter's RX (cross TX and RX, and share the ground)",
    "the target has no power",
  }
end

-- Where a UART line may be cut, per rig (--rig; contract.md §6.5).
local PATH = { cw506 = "the CW506's UART routing switches", cw313 = "the CW313's UART jumpers",
               cw308 = "the 20-pin cable or the target's seating" }
local TO_BOARD = "the target's TX does not reach the board's RX (TIO1)"
local TO_TARGET = "the board's TX (TIO2) does not reach the target's RX"

-- The candidate(s) for a cut line: to_board, the target's TX to TIO1, else TIO2 to the target.
-- A rig that is not known (no --rig: the recipe's default says nothing about the bench) names
-- the CW506, whose UART routing switches are the usual trap, beside the cable; short: as one.
local function path_candidates(ctx, to_board, short)
  local what = to_board and TO_BOARD or TO_TARGET
  if ctx.rig == "serial" then
    return { what .. (to_board and ": the adapter's RX wire" or ": the adapter's TX wire") }
  end
  if ctx.rig_known then return { what .. ": " .. (PATH[ctx.rig] or "the wiring") } end
  if short then
    return { what .. ": a CW506 between board and target (its UART routing switches), or the "
      .. "20-pin cable or the target's seating" }
  end
  return { ("a CW506 between board and target: its UART routing switches do not pass %s")
             :format(to_board and "the target's TX to the board's RX (TIO1)"
               or "the board's TX (TIO2) to the target's RX"),
           what .. ": the 20-pin cable or the target's seating" }
end

-- What to do about a cut line, per rig.
local function path_action(ctx)
  if not ctx.rig_known then
    return "on a CW506, set its UART routing switches so TIO1 and TIO2 reach the target; with "
      .. "the CW308 straight on the board's cable, reseat the cable at both ends and the target "
      .. "board"
  end
  return ({
    cw506 = "set the CW506's UART routing switches so TIO1 and TIO2 reach the target (or plug "
      .. "the CW308 straight into the capture board's 20-pin cable)",
    cw308 = "reseat the 20-pin cable at both ends and the target board on the CW308",
    cw313 = "check the CW313's UART jumpers and that the target board is seated",
    serial = "check the adapter's TX to the target's RX and RX to TX, a common ground, and the "
      .. "voltage level (3.3 V)",
  })[ctx.rig] or "check the wiring of TIO1 and TIO2"
end

local RIG_HINT = "tell cwlua how the target is wired, for hints that fit: --rig cw506 (a CW506 "
  .. "between board and target) or --rig cw308 (the CW308 on the board's 20-pin cable)"
local NRST = "nRST does not reach the chip, so it never restarts into its bootloader"
local BOOT0 = "BOOT0 (PDIC) does not reach the chip, so it starts its application (or nothing, "
  .. "on a blank flash) instead of the bootloader"
local HELD = "the chip is held in reset (nRST)"
local SWAPPED = "the target's TX and RX are crossed (TIO1 and TIO2 swapped)"

local function append(list, more)
  for _, v in ipairs(more) do list[#list + 1] = v end
  return list
end

-- A target that never answered: the candidates in order of likelihood from what was seen, and
-- what to do, first the quick check that tells apart what the wire cannot. ev: line_levels().
-- restarted (doctor): a power cycle with BOOT0 high restarted the chip (TIO1 fell and rose)
-- and it stayed silent, so nRST is not the cause. swap_tried (doctor): crossed lines are ruled
-- out. short (explain): a cut path as one candidate. -> candidates, actions
local function silent(ctx, ev, o)
  if ctx.rig == "serial" then
    local seq = gpio_seq(ctx.dev)
    return serial_candidates(ctx), {
      seq and ("first check that the adapter's DTR and RTS reach nRST and BOOT0 as --gpio-seq "
        .. "'%s' assumes (an inverting transistor swaps the signs; docs/install.md, Serial "
        .. "adapters)"):format(seq)
        or "put the chip into its bootloader with the adapter's lines: --gpio-seq ENTRY:EXIT for "
        .. "your wiring, e.g. --gpio-seq '-rts&dtr,-dtr:rts&dtr,-dtr' for DTR# to nRST and RTS# "
        .. "to BOOT0 (docs/install.md, Serial adapters); or set BOOT0 high with a jumper and "
        .. "reset the chip before you start",
      path_action(ctx) }
  end
  local board = ctx.dev.info and ctx.dev:info().name or "board"
  local nopower = ("the target has no power (a %s cannot measure the target's supply)")
    :format(board)
  local cw506 = ctx.rig_known and ctx.rig == "cw506"
  local c, a = {}, {}
  if ev.tio1 == 1 then -- powered, and its TX reaches the board: the other direction, or entry
    local entry = o.restarted and { BOOT0 } or (o.short and { "nRST or BOOT0 (PDIC) does not "
      .. "reach the chip, so it does not restart into its bootloader" } or { NRST, BOOT0 })
    local to_target = path_candidates(ctx, false, o.short)
    if ctx.rig_known and ctx.rig == "cw308" then
      -- TIO1 comes through the same cable and seating: they work
      append(append(c, entry), to_target)
    else
      append(c, { to_target[1] })
      append(append(c, entry), { table.unpack(to_target, 2) })
    end
    local pins = o.restarted and "BOOT0 does not reach the chip: check the BOOT0 jumper or "
      .. "wiring (PDIC on the CW308)" or "nRST or BOOT0 does not reach the chip: check the reset "
      .. "and BOOT0 wiring (nRST and PDIC on the CW308)"
    if ctx.rig_known and ctx.rig == "cw308" then
      a[1] = o.restarted and "first check that BOOT0 reaches the chip (the BOOT0 jumper or "
        .. "wiring, PDIC on the CW308)" or "first check that nRST and BOOT0 reach the chip (the "
        .. "reset and BOOT0 wiring, nRST and PDIC on the CW308)"
      a[1] = a[1] .. ": TIO1 works, so the 20-pin cable and the target's seating are likely sound"
      a[2] = "if " .. (o.restarted and "it reaches" or "they reach") .. " the chip, reseat the "
        .. "target board on the CW308: the board's TX (TIO2) does not reach the target's RX"
    elseif cw506 or not ctx.rig_known then
      a[1] = (cw506 and "first look at the CW506's" or "first, if a CW506 sits between board and "
        .. "target, look at its") .. " UART routing switches: the one for TIO2 (the board's TX) "
        .. "must pass to the target's RX (TIO1 already works)"
      a[2] = "if they are right" .. (cw506 and "" or " or there is no CW506") .. ", " .. pins
      if not cw506 then
        a[3] = "with the CW308 straight on the board's cable: TIO1 works, so the cable is seated; "
          .. "if BOOT0 is right too, reseat the target board on the CW308"
      end
    else
      a[1] = "first check the path of the board's TX (TIO2) to the target's RX: "
        .. path_action(ctx)
      a[2] = "if it is right, " .. pins
    end
  elseif ev.tio2 == 1 then -- powered: it drives TIO2
    if not o.swap_tried then c[1] = SWAPPED end
    append(c, path_candidates(ctx, true, o.short))
    c[#c + 1] = HELD
    a[1] = "the target is powered (it drives TIO2 when the board lets go of it), but its TX "
      .. "does not reach TIO1" .. (o.swap_tried and "" or " or is crossed with its RX") .. ": "
      .. path_action(ctx)
  else -- nothing drives TIO1 (or the board cannot read it): power or the path, which look alike
    local path = path_candidates(ctx, true, o.short)
    if cw506 then
      append(c, path)
      c[#c + 1] = nopower
      a[1] = "first look at the CW506's UART routing switches and at " .. diag.power_look(ctx)
        .. ": that tells the switches from the power, which the board cannot measure"
    else
      c[1] = nopower
      append(c, path)
      a[1] = "first look at " .. diag.power_look(ctx) .. ": lit, the target is powered and its TX "
        .. "does not reach the board; dark, it has no power (the board cannot tell these apart)"
    end
    c[#c + 1] = HELD
    a[#a + 1] = "powered: " .. path_action(ctx)
    a[#a + 1] = diag.unpowered(ctx)
  end
  if not ctx.rig_known and ctx.rig ~= "serial" then a[#a + 1] = RIG_HINT end
  return c, a
end

local function printable(s)
  local n = 0
  for i = 1, #s do
    local b = s:byte(i)
    if (b >= 32 and b < 127) or b == 10 or b == 13 then n = n + 1 end
  end
  return #s > 0 and n >= #s * 0.8
end

-- Reset with BOOT0 as given and listen at the application's baud: does the chip run its
-- application? One that says nothing by itself may still answer: NewAE's CW308 firmware speaks
-- SimpleSerial, whose version command ('v') v1.1 acknowledges at 38400 baud and v2.1 answers
-- with a frame at 230400 (cw-usb-protocol.md §5.5), both scaled by the board clock.
-- -> what the chip said (for the step's text) and the baud, or nil when nothing was heard.
local function listen_app(ctx, boot0)
  local dev, d = ctx.dev, ctx.defaults
  if not has_lines(dev) then return nil end
  local hz = dev.clock and dev:clock() or APP_CLOCK_REF
  local function scaled(baud)
    return math.floor(baud * (hz or APP_CLOCK_REF) / APP_CLOCK_REF + 0.5)
  end
  local baud = scaled(APP_BAUD)
  local stream = dev:serial({ baud = baud, parity = "none" })
  if not stream then return nil end
  dev:pin(d.boot_pin, boot0)
  dev:pin(d.reset_pin, "low")
  time.sleep(d.reset_ms)
  dev:pin(d.reset_pin, "high_z")
  local got = stream:read(64, 60) or ""
  if printable(got) then return ("printed %q"):format((got:gsub("%s+$", ""))), baud end
  if got == "" then
    stream:write("v\n")
    got = stream:read(64, 60) or ""
    if printable(got) then
      return ("answered SimpleSerial v1.1's 'v' with %q"):format((got:gsub("%s+$", ""))), baud
    end
  end
  local ss = require "cwlua.simpleserial"
  baud = scaled(ss.BAUD[2])
  stream = dev:serial({ baud = baud, parity = "none" })
  if not stream then return nil end
  stream:write(ss.frame(("v"):byte(), 0, ""))
  got = stream:read(64, 30) or ""
  local frame = got:match("^[^%z]+%z")
  if frame and ss.unstuff(frame) then
    return ("answered SimpleSerial v2.1's 'v' with a frame (%s)"):format(
      stm32boot.hex(frame:sub(1, 8))), baud
  end
  return nil
end

-- How long the target's supply stays off in the power-cycle probe, and how long it takes to
-- come up: the CW308's decoupling holds 3.3 V for a while; a line that has not fallen by then
-- counts as "the target has a supply of its own" (the probe then proves nothing).
local POWER_OFF_MS, POWER_UP_MS = 250, 20

-- A power cycle restarts the chip without nRST: with BOOT0 driven high it comes up in its
-- bootloader. -> "synced" (nRST does not reach the chip), "restarted" (TIO1 fell with the power
-- off and rose again, and the bootloader stayed silent: nRST is not the cause), "own-supply"
-- (TIO1 stayed high: the board does not feed the target) or nil (no switchable power).
local function power_cycle(ctx)
  local dev, d = ctx.dev, ctx.defaults
  local must = diag.check
  if not (has_lines(dev) and dev.power) then return nil end
  local on, msg, code = dev:power()
  if on == nil and code ~= "unsupported" then must(on, msg, code) end
  if on ~= true then return nil end
  must(dev:pin(d.boot_pin, "high"))
  must(dev:pin(d.reset_pin, "high_z"))
  must(dev:power(false))
  time.sleep(POWER_OFF_MS)
  local off = level(dev, "tio1")
  must(dev:power(true))
  time.sleep(POWER_UP_MS + BOOT_START_MS)
  if off ~= 0 then return "own-supply" end
  if level(dev, "tio1") ~= 1 then return nil end -- it did not come back as it was: no evidence
  local stream = must(dev:serial({ baud = d.bauds[1] or d.bauds, parity = "even" }))
  local boot = stm32boot.new(stream, { where = ctx.where })
  if pcall(boot.sync, boot) then return "synced" end
  return "restarted"
end

--- step explain(ctx, err) -> { seen, likely, todo = "do: ..." } for a failed connect: the lines
-- a failed command adds to its message. No active probes, only levels the board reads.
-- ctx.doctor_cmd: the doctor command line that fits the one that failed.
local function explain(ctx, err)
  local doctor_cmd = ctx.doctor_cmd or ("cwlua doctor " .. ctx.where)
  if ctx.synced and err.code == "timeout" then
    return { ("seen: the bootloader answered sync at %d baud, then a request got no "
               .. "complete reply"):format(ctx.baud),
             "likely: bytes lost or corrupted on the line (noise, a poor cable or ground)" }
  end
  if err.code == "garbled" then
    return { ("seen: bytes that are not the bootloader's (%s)"):format(
               stm32boot.hex((err.observed or ""):sub(1, 8))),
             "likely: a baud or clock mismatch, noise on the line, or the chip running its "
               .. "application instead of the bootloader (BOOT0)" }
  end
  local ev = line_levels(ctx)
  local c, a = silent(ctx, ev, { short = true })
  local seen = "seen: nothing came back"
  if ev.tio1 == 1 then
    seen = seen .. "; the target's TX line (TIO1) is driven high, so it is powered and its TX "
      .. "reaches the board"
  elseif ev.tio2 == 1 then
    seen = seen .. "; TIO1 is low, but TIO2 is driven high when the board lets go of it: the "
      .. "target is powered"
  elseif ev.tio1 == 0 then
    seen = seen .. "; the target's TX line (TIO1) is low: nothing drives it"
  end
  local todo
  if ev.tio1 == 1 then
    todo = ("do: %s; then run '%s': its power cycle tells a reset that does not reach the chip "
      .. "from the rest"):format(a[1]:gsub("^first,? ", ""), doctor_cmd)
  elseif ev.tio2 == 1 then
    todo = ("do: run '%s': it tries the lines swapped; if they are not crossed, %s"):format(
      doctor_cmd, path_action(ctx))
  else
    todo = ("do: %s; then run '%s' to test each link"):format(a[1]:gsub("^first,? ", ""),
      doctor_cmd)
  end
  return { seen, "likely: " .. c[1] .. "; or " .. c[2], todo = todo }
end

local function doctor(recipe)
  return function(ctx, report)
    local dev, d = ctx.dev, ctx.defaults
    local board = has_lines(dev)
    if board and dev.clock then
      local hz, src = diag.check(dev:clock())
      local clk = hz and dev.clock_info and diag.check(dev:clock_info())
      if hz then
        -- what the board can confirm of its own clock (a lock bit; a Husky also counts its
        -- PLL's ADC output), before what it cannot: whether the clock reaches the chip
        report:step("clock", "unverifiable", ("%d Hz on HS2 (%s)%s; the board cannot see "
          .. "whether it reaches the target"):format(math.floor(hz + 0.5), src,
          clk and clk.note and ("; " .. clk.note) or ""))
        report:warn("if the clock does not reach the target, its application will not run "
          .. "(the bootloader runs on the chip's own oscillator and does not need it)")
      else
        report:step("clock", "unverifiable", "HS2 carries no clock (" .. tostring(src) .. ")")
        report:warn("the target gets no clock from the board: its application will not run "
          .. "(the bootloader does not need one): cwlua clock 7.37e6")
      end
    end
    local ev = {}
    if board then
      report:step("pin routing", "ok", "TIO1 = board RX, TIO2 = board TX (cwlua sets them)")
      dev:pin("tio1", "serial_rx")
      dev:pin("tio2", "serial_tx")
      ev = line_levels(ctx, true)
      if ev.tio1 == 1 then
        report:step("target TX line", "ok", "TIO1 driven high: the target is powered and its "
          .. "TX reaches the board")
      elseif ev.tio2 == 1 then
        report:step("target TX line", "unverifiable", "TIO1 low, but TIO2 is driven high when "
          .. "the board lets go of it: the target is powered; its TX may be on TIO2")
      elseif ev.tio1 == 0 then
        report:step("target TX line", "unverifiable", "TIO1 low: nothing drives it (no power, "
          .. "the path open, or the chip in reset)")
      end
    end
    -- the programming interface both ways: entry and sync, as program does it
    local ok, chip = pcall(connect(recipe), ctx)
    if ok then
      report:step("bootloader sync", "ok", ("at %d baud"):format(ctx.baud))
      report:step("identify", "ok", ("%s, ID 0x%03X, bootloader v%d.%d"):format(chip.name,
        chip.pid, chip.bootloader >> 4, chip.bootloader & 15))
      if chip.read_protected then
        report:step("read access", "failed", "Read Memory refused (NACK): read protection is on")
        report:conclude("read-protected")
        return
      end
      -- read the same block three times: a noisy line shows as differences or bad replies.
      -- In reads the line takes whole (ctx.read_block): a 256-byte reply would overflow a
      -- board's receive buffer whenever the host is slow to empty it
      local function block()
        local rb, parts = ctx.read_block or 256, {}
        for off = 0, 255, rb do
          parts[#parts + 1] = ctx.boot:read(chip.flash_start + off, math.min(rb, 256 - off))
        end
        return table.concat(parts)
      end
      local first, rok, rerr
      for _ = 1, 3 do
        rok, rerr = pcall(block)
        if not rok then break end
        first = first or rerr
        if rerr ~= first then rok, rerr = false, { code = "garbled", message = "a block read "
          .. "three times came back different" } break end
      end
      if not rok then
        report:step("read check", "failed", rerr.message)
        report:conclude("garbled-reply")
        return
      end
      report:step("read check", "ok", "256 bytes read three times, identical")
      local n = retry.of(ctx).count
      if n > 0 then -- it works, but only because exchanges were sent again (contract.md §3.11)
        report:warn(("the line lost or damaged bytes: %d exchange%s had to be sent again; "
          .. "programming copes, but check the cable, its length and the ground"):format(n,
          n == 1 and "" or "s"))
      end
      local p = ctx.recipe.protection(ctx, chip)
      report:step("protection", "ok", ("read %s; write-protected sectors: %s"):format(
        p.read and "on" or "off", p.write and sector_list(p.write) or "unknown"))
      start(ctx, chip)
      report:conclude("ok")
      return
    end
    local err = chip
    if errors.is(err, "input") and err.cause == "wrong-chip" then
      report:step("identify", "failed", err.message:gsub("^[^:]*: ", ""))
      ctx.right_recipe = err.recipe
      report:conclude("wrong-chip")
      return
    end
    if not errors.is(err, "target") then error(err, 0) end
    if ctx.synced then -- sync worked, a later exchange did not: the line loses or breaks bytes
      report:step("bootloader sync", "ok", ("at %d baud"):format(ctx.baud))
      report:step("identify", "failed", err.message:gsub("^[^:]*: ", ""))
      report:conclude("garbled-reply")
      return
    end
    report:step("bootloader sync", "failed", err.message:gsub("^[^:]*: ", ""))
    if err.code == "garbled" then
      -- does the chip run its application although BOOT0 was driven high?
      local heard, baud = listen_app(ctx, "high")
      if heard then
        report:step("boot pin", "failed", ("after a reset with BOOT0 high the chip %s at %d "
          .. "baud: its application runs"):format(heard, baud))
        report:conclude("app-running")
        return
      end
      report:conclude("garbled-reply")
      return
    end
    local again = ("then run cwlua doctor %s%s again"):format(ctx.where,
      ctx.rig_known and (" --rig " .. ctx.rig) or "")
    local restarted
    if board then
      -- swap TIO1/TIO2 and try once more: crossed lines answer then
      dev:pin("tio1", "serial_tx")
      dev:pin("tio2", "serial_rx")
      local stream = dev:serial({ baud = d.bauds[1] or d.bauds, parity = "even" })
      enter_bootloader(ctx, d)
      local sok = pcall(stm32boot.new(stream, { where = ctx.where }).sync,
        stm32boot.new(stream, { where = ctx.where }))
      dev:pin("tio1", "serial_rx")
      dev:pin("tio2", "serial_tx")
      if sok then
        report:step("swapped lines", "failed", "with TIO1 and TIO2 swapped the bootloader "
          .. "answers: the target's TX and RX are crossed")
        report:conclude("swapped-lines")
        return
      end
      if ev.tio1 == 1 or ev.tio2 == 1 then
        report:step("swapped lines", "ok", ev.tio1 == 1 and "not crossed: the target's TX is on "
          .. "TIO1 (it idles high there)" or "not crossed: swapping TIO1 and TIO2 does not help")
      else
        report:step("swapped lines", "unverifiable", "swapped, TIO1 and TIO2 brought no answer "
          .. "either, which proves nothing while the target drives neither line")
      end
      -- an application that runs although BOOT0 is driven high ignores 0x7F; it may say so
      local heard, baud = listen_app(ctx, "high")
      if heard then
        report:step("boot pin", "failed", ("after a reset with BOOT0 high the chip %s at %d "
          .. "baud: its application runs"):format(heard, baud))
        report:conclude("app-running")
        return
      end
      report:step("boot pin", "unverifiable", "after a reset with BOOT0 high nothing was heard "
        .. "at the application's bauds, nor an answer to SimpleSerial's 'v'")
      -- the target is powered and its TX reaches the board: a power cycle restarts the chip
      -- without nRST, which tells a reset that does not reach it from the rest
      local pc = ev.tio1 == 1 and power_cycle(ctx) or nil
      if pc == "synced" then
        report:step("power cycle", "ok", "TIO1 fell with the target's power off: the board "
          .. "feeds the target; with BOOT0 high it restarted into its bootloader, which answered")
        report:step("reset", "failed", "a reset pulse on nRST with BOOT0 high does not start "
          .. "the bootloader, a power cycle does: nRST does not reach the chip")
        report:conclude("reset-ineffective")
        return
      elseif pc == "restarted" then
        restarted = true
        report:step("power cycle", "ok", "TIO1 fell with the target's power off and rose with "
          .. "it on: the board feeds the target, and restarts it without nRST")
        report:step("reset", "ok", "not the cause: restarted by its power with BOOT0 high, the "
          .. "chip stays as silent as after a reset")
      else
        if pc == "own-supply" then
          report:step("power cycle", "unverifiable", "TIO1 stayed high with the board's target "
            .. "power off: the target has a supply of its own, so a power cycle cannot stand in "
            .. "for a reset")
        end
        report:step("reset", "unverifiable", "the board cannot see whether nRST reaches the "
          .. "chip")
      end
    end
    local c, a = silent(ctx, ev, { restarted = restarted, swap_tried = board })
    a[#a + 1] = again
    report:conclude("no-reply", c, a)
  end
end

-- What --set accepts for the parameters STM32 recipes share (cwlua.params, docs/targets.md
-- "Parameters"); a recipe's own params entry wins.
M.PARAMS = {
  -- the bootloader's autobaud range (target-protocols.md §A.3): a rate outside it is never
  -- answered, which would look like a broken wire
  bauds = { min = 1200, max = 115200,
            why = "the rates the ROM bootloader's autobaud detects, ST AN3155" },
  -- the CW-Lite/Pro clock generator (cw-usb-protocol.md §4.8; cwlua.board refuses less than
  -- 96 MHz × 2 / 255 and more than 200 MHz)
  program_clock_hz = { min = 753e3, max = 200e6, why = "what the board's clock generator makes" },
  boot_pin = { pin = true },
  reset_pin = { pin = true },
  reset_ms = { type = "number", min = 0, max = 10000 },
  flash_start = { min = 0, max = 0xFFFFFFFF },
  erased = { one_of = { 0x00, 0xFF } },     -- what erased flash reads (0x00 on L0/L1)
  write_unit = { one_of = { 4, 8 } },       -- Write Memory takes words (§A.4); the L4 double words
}

--- stm32.recipe(t) -> t with the shared STM32 steps filled in (a recipe's own steps win), and
-- the shared parameters' ranges (M.PARAMS) for the defaults it has.
function M.recipe(t)
  params.inherit(t, M.PARAMS)
  local base = { connect = connect(t), erase = erase, write = write, read = read,
                 start = start, info = info, protection = protection,
                 unprotect = unprotect(t), write_option_bytes = write_option_bytes(t),
                 doctor = doctor(t), explain = explain }
  for k, v in pairs(base) do
    if t[k] == nil then t[k] = v end
  end
  return t
end

return M
