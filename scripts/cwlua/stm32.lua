-- cwlua.stm32: what every STM32 recipe shares — bootloader entry through the board's pins,
-- sync over the recipe's baud candidates, identification against the recipe's chip IDs, and
-- the erase/write/read/start steps over the AN3155 engine (cwlua.proto.stm32boot).
-- A recipe states its facts and calls stm32.recipe{...} (docs/targets.md, targets/stm32f1.lua).
-- Facts: ../shared/docs/target-protocols.md §A.
local clock = require "cwlua.clock"
local devices = require "cwlua.proto.stm32devices"
local errors = require "cwlua.errors"
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

local function has_lines(dev)
  return dev.pin ~= nil
end

-- BOOT0 high and a reset pulse: the ROM bootloader starts (§A.2, without its fixed waits).
local function enter_bootloader(ctx, d)
  local dev = ctx.dev
  if dev.enter_bootloader then return check(ctx, dev:enter_bootloader()) end
  check(ctx, dev:pin(d.boot_pin, "high"))
  check(ctx, dev:pin(d.reset_pin, "low"))
  clock.sleep(d.reset_ms)
  check(ctx, dev:pin(d.reset_pin, "high_z"))
  clock.sleep(BOOT_START_MS)
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

local function connect(recipe)
  return function(ctx)
    local d = ctx.defaults
    local dev = ctx.dev
    if has_lines(dev) then -- a board: route the USART to the CW308 pins (§6.1 roles)
      check(ctx, dev:pin("tio1", "serial_rx"))
      check(ctx, dev:pin("tio2", "serial_tx"))
      if d.program_clock_hz and dev.clock then check(ctx, dev:clock(d.program_clock_hz)) end
    end
    local bauds = d.bauds
    if type(bauds) ~= "table" then bauds = { bauds } end
    local boot, state, last
    local tried = {}
    for _, baud in ipairs(bauds) do
      local stream = check(ctx, dev:serial({ baud = baud, parity = "even" })) -- 8E1 (§A.3)
      boot = stm32boot.new(stream, { where = ctx.where, timeout = d.timeout })
      if not ctx.opts.no_reset then enter_bootloader(ctx, d) end
      local ok, r = pcall(boot.sync, boot)
      tried[#tried + 1] = baud
      if ok then
        state = r
        ctx.stream, ctx.baud = stream, baud
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
    local info = boot:get()
    local pid = boot:get_id()
    local known = devices.BY_PID[pid]
    local accepted = false
    for _, id in ipairs(recipe.chips) do accepted = accepted or id == pid end
    if not accepted then
      local other = recipe_for(pid)
      errors.raise("input", "%s: the chip reports product ID 0x%03X (%s), which this recipe does "
        .. "not program%s", ctx.where, pid, known and known.name or "unknown to cwlua",
        other and ("; use the recipe '" .. other .. "'") or "")
    end
    -- the flash-size register gives this chip's size (the table holds the largest part)
    local ok, raw = pcall(boot.read, boot, known.fsize_addr, 2)
    if not ok then
      if errors.is(raw, "target") and raw.code == "nack" then
        errors.raise("input", "%s: the chip refuses to be read (NACK to Read Memory): it is "
          .. "read-protected; removing the protection mass-erases the whole flash", ctx.where)
      end
      error(raw, 0)
    end
    local kib = string.unpack("<I2", raw)
    if kib == 0 or kib == 0xFFFF or kib * 1024 > known.flash_size then
      ctx.log("flash-size register reads %d KiB; using the table's %d KiB", kib,
        known.flash_size // 1024)
      kib = known.flash_size // 1024
    end
    local chip = {
      pid = pid, name = known.name, family = known.family, bootloader = info.version,
      erase_command = info.erase, flash_start = known.flash_start, flash_size = kib * 1024,
      ob_start = known.ob_start, ob_end = known.ob_end,
    }
    chip.units = devices.layout(known, chip.flash_size)
    chip.unit_name = known.sectors and "sector" or "page"
    return chip
  end
end

-- Erase units: "all" (mass erase) or a list of unit numbers, in commands of at most 255
-- (Erase 0x43's 1-byte count, §A.4) or 511 (stm32flash 0.7's split for Extended Erase, §A.10).
local function erase(ctx, chip, units)
  if units == "all" then return ctx.boot:erase("all") end
  local per = chip.erase_command == stm32boot.CMD.ERASE and 255 or 511
  for i = 1, #units, per do
    ctx.boot:erase(table.move(units, i, math.min(i + per - 1, #units), 1, {}))
  end
end

local function write(ctx, _, addr, data)
  ctx.boot:write(addr, data)
end

local function read(ctx, _, addr, len)
  return ctx.boot:read(addr, len)
end

-- Leave the bootloader so the new firmware runs: BOOT0 low and a reset (§A.2 "Exit"); where
-- there are no lines to do that (a plain port without a sequence, or --no-reset), Go.
local function start(ctx, chip)
  local d, dev = ctx.defaults, ctx.dev
  if ctx.opts.no_reset or not has_lines(dev) then
    if dev.exit_bootloader and not ctx.opts.no_reset then
      return check(ctx, dev:exit_bootloader())
    end
    return ctx.boot:go(chip.flash_start)
  end
  check(ctx, dev:pin(d.boot_pin, "low"))
  check(ctx, dev:pin(d.reset_pin, "low"))
  clock.sleep(d.reset_ms)
  check(ctx, dev:pin(d.reset_pin, "high_z"))
end

local function info(ctx, chip)
  local version, ob1, ob2 = ctx.boot:get_version()
  return {
    { "chip", ("%s (ID 0x%03X)"):format(chip.name, chip.pid), "chip" },
    { "bootloader", ("v%d.%d"):format(version >> 4, version & 15), "bootloader" },
    { "flash", ("%d KiB at 0x%08X, %d %ss"):format(chip.flash_size // 1024, chip.flash_start,
      #chip.units, chip.unit_name), "flash" },
    { "erase command", ("0x%02X"):format(chip.erase_command or 0), "erase_command" },
    { "option bytes (Get Version)", ("0x%02X 0x%02X"):format(ob1, ob2), "option_bytes" },
    { "baud", ctx.baud, "baud" },
  }
end

--- stm32.recipe(t) -> t with the shared STM32 steps filled in (a recipe's own steps win).
function M.recipe(t)
  local base = { connect = connect(t), erase = erase, write = write, read = read,
                 start = start, info = info }
  for k, v in pairs(base) do
    if t[k] == nil then t[k] = v end
  end
  return t
end

return M
