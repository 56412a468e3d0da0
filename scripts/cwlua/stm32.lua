-- SPDX-License-Identifier: MIT
-- cwlua.stm32: what every STM32 recipe shares — bootloader entry through the board's pins,
-- sync over the recipe's baud candidates, identification against the recipe's chip IDs, and
-- the erase/write/read/start steps over the AN3155 engine (cwlua.proto.stm32boot).
-- A recipe states its facts and calls stm32.recipe{...} (docs/targets.md, targets/stm32f1.lua).
-- Facts: docs/reference/target-protocols.md §A.
local time = require "cwlua.time"
local devices = require "cwlua.proto.stm32devices"
local errors = require "cwlua.errors"
local retry = require "cwlua.retry"
local stm32boot = require "cwlua.proto.stm32boot"

local M = {}

-- From releasing nRST to a bootloader that listens: not in the documents (§A.2 only says the
-- CW waits 25 ms, then a fixed second). A 0x7F sent too early is simply not answered, and sync
-- sends it twice, so a short wait is safe.
local BOOT_START_MS = 2

local function check(ctx, value, msg, code)
  if value == nil then
    error(errors.new(code == "invalid" and "usage" or "device", ctx.where .. ": " .. msg,
      { code = code }), 0)
  end
  return value
end

-- A board: cwlua drives BOOT0 and nRST itself. A plain serial port has lines too (rts, dtr),
-- but they are driven by its --gpio-seq entry and exit sequences (cwlua.port).
local function has_lines(dev)
  return dev.pin ~= nil and dev.enter_bootloader == nil
end

-- BOOT0 high and a reset pulse: the ROM bootloader starts (§A.2, without its fixed waits).
local function enter_bootloader(ctx, d)
  local dev = ctx.dev
  if dev.enter_bootloader then return check(ctx, dev:enter_bootloader()) end
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
        -- mid-reply depends on the host keeping up; 128-byte reads never depend on it
        local cap = stream.rx_capacity
        ctx.read_block = 256
        while cap and ctx.read_block + 1 > cap do ctx.read_block = ctx.read_block // 2 end
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

-- The target's TX line (TIO1 on a CW308) where the board can read it: 1 driven high (the
-- target is powered and its TX reaches the board), 0 not driven, nil unknown.
local function tx_level(dev)
  if not dev.level then return nil end
  local ok, v = pcall(dev.level, dev, "tio1")
  return ok and v or nil
end

local function rig_path(rig)
  return ({ cw506 = "the CW506's UART routing switches", cw313 = "the CW313's UART jumpers",
            serial = "the adapter's RX wire", cw308 = "the 20-pin cable or the target's seating" })
    [rig] or "the wiring"
end

-- Candidates for a target that never answered, in order of likelihood, from the TX line.
local function silent_candidates(ctx, level)
  local board = ctx.dev.info and ctx.dev:info().name or "board"
  if level == 1 then
    return {
      "the board's TX (TIO2) does not reach the target's RX: " .. rig_path(ctx.rig),
      "nRST does not reach the chip, so it never restarts into its bootloader",
      "BOOT0 (PDIC) does not reach the chip and its application ignores 0x7F",
    }
  end
  return {
    ("the target has no power (a %s cannot measure the target's supply)"):format(board),
    "the target's TX does not reach the board's RX (TIO1): " .. rig_path(ctx.rig),
    "the chip is held in reset (nRST)",
  }
end

local function printable(s)
  local n = 0
  for i = 1, #s do
    local b = s:byte(i)
    if (b >= 32 and b < 127) or b == 10 or b == 13 then n = n + 1 end
  end
  return #s > 0 and n >= #s * 0.8
end

-- Reset with BOOT0 as given and listen at the application's baud: what does the chip say?
local function listen_app(ctx, boot0)
  local dev, d = ctx.dev, ctx.defaults
  if not has_lines(dev) then return nil end
  local hz = dev.clock and dev:clock() or APP_CLOCK_REF
  local baud = math.floor(APP_BAUD * (hz or APP_CLOCK_REF) / APP_CLOCK_REF + 0.5)
  local stream = dev:serial({ baud = baud, parity = "none" })
  if not stream then return nil end
  dev:pin(d.boot_pin, boot0)
  dev:pin(d.reset_pin, "low")
  time.sleep(d.reset_ms)
  dev:pin(d.reset_pin, "high_z")
  local got = stream:read(64, 60) or ""
  return got, baud
end

--- step explain(ctx, err) -> { seen, likely } for a failed connect: two lines a failed
-- command adds to its message (no active probes: only what is already known).
local function explain(ctx, err)
  local level = tx_level(ctx.dev)
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
  local c = silent_candidates(ctx, level)
  return { "seen: nothing came back" .. (level == 1 and "; the target's TX line (TIO1) is "
             .. "driven high, so it is powered and connected that way" or (level == 0 and
             "; the target's TX line (TIO1) is low: nothing drives it" or "")),
           "likely: " .. c[1] .. "; or " .. c[2] }
end

local function doctor(recipe)
  return function(ctx, report)
    local dev, d = ctx.dev, ctx.defaults
    local board = has_lines(dev)
    if board and dev.clock then
      local hz, src = dev:clock()
      local clk = hz and dev.clock_info and dev:clock_info()
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
    local level
    if board then
      report:step("pin routing", "ok", "TIO1 = board RX, TIO2 = board TX (cwlua sets them)")
      dev:pin("tio1", "serial_rx")
      dev:pin("tio2", "serial_tx")
      level = tx_level(dev)
      if level == 1 then
        report:step("target TX line", "ok", "TIO1 driven high: the target is powered and its "
          .. "TX reaches the board")
      elseif level == 0 then
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
      -- read the same block three times: a noisy line shows as differences or bad replies
      local first, rok, rerr
      for _ = 1, 3 do
        rok, rerr = pcall(ctx.boot.read, ctx.boot, chip.flash_start, 256)
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
      if heard and printable(heard) then
        report:step("boot pin", "failed", ("after a reset with BOOT0 high the chip printed "
          .. "%q at %d baud: its application runs"):format(heard:gsub("%s+$", ""), baud))
        report:conclude("app-running")
        return
      end
      report:conclude("garbled-reply")
      return
    end
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
      report:step("swapped lines", "ok", "no answer with TIO1 and TIO2 swapped either")
      -- an application that runs although BOOT0 is driven high ignores 0x7F; it may say so
      local heard, baud = listen_app(ctx, "high")
      if heard and printable(heard) then
        report:step("boot pin", "failed", ("after a reset with BOOT0 high the chip printed "
          .. "%q at %d baud: its application runs"):format(heard:gsub("%s+$", ""), baud))
        report:conclude("app-running")
        return
      end
      report:step("boot pin", "unverifiable", "nothing heard at the application's baud after a "
        .. "reset with BOOT0 high")
      report:step("reset", "unverifiable", "the board cannot see whether nRST reaches the chip")
    end
    report:conclude("no-reply", silent_candidates(ctx, level))
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
  t.params = t.params or {}
  for k, spec in pairs(M.PARAMS) do
    if t.defaults and t.defaults[k] ~= nil and t.params[k] == nil then
      -- a copy: a recipe that changed its params would otherwise change every other one's
      local c = {}
      for f, v in pairs(spec) do
        if type(v) == "table" then
          local list = {}
          for i, x in ipairs(v) do list[i] = x end
          v = list
        end
        c[f] = v
      end
      t.params[k] = c
    end
  end
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
