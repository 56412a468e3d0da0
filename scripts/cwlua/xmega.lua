-- SPDX-License-Identifier: MIT
-- cwlua.xmega: what every XMEGA recipe shares — programming over PDI through the board's XPROG
-- engine (cwlua.proto.xprog): the board check (a Nano has no engine), entry, identification by
-- signature (or --part), flash in application and boot sections, EEPROM, fuses and lock bits,
-- the chip-erase fallback, info, and diagnosis. A recipe states its facts and calls
-- xmega.recipe{...} (targets/xmega.lua, docs/targets.md "XMEGA").
-- Facts: docs/reference/target-protocols.md §B (§B.3 NewAE's flow, §B.4 parts, §B.5 target).
local errors = require "cwlua.errors"
local params = require "cwlua.params"
local parts = require "cwlua.proto.xmegaparts"
local retry = require "cwlua.retry"
local xprog = require "cwlua.proto.xprog"

local M = {}

local ADDR, ERASE, MEM = xprog.ADDR, xprog.ERASE, xprog.MEM
-- After a chip erase outlasts the engine's timeout, re-enter until NVMEN is back (each ENTER
-- waits up to the timeout; §B.2 B): this many times.
local REENTER_TRIES = 10

local function input(ctx, fmt, ...)
  error(errors.new("input", ctx.where .. ": " .. fmt:format(...)), 0)
end

local function board_name(dev)
  local ok, i = pcall(dev.info, dev)
  return ok and i and (i.name or i.kind) or "this board"
end

-- The board must have the XPROG engine: a plain serial port has none, nor has the CW-Nano's
-- firmware (cw-usb-protocol.md §2.3: request 0x20 is not compiled in; it stalls).
local function check_board(ctx)
  local dev = ctx.dev
  if not dev.ctrl_out then
    error(errors.new("device", ("%s: a serial port cannot program XMEGA: PDI needs the XPROG "
      .. "engine of a CW-Lite, CW1200 or CW-Husky (-d usb or -d sim)"):format(ctx.where),
      { code = "no_engine", cause = "no-engine" }), 0)
  end
  local ok, info = pcall(dev.info, dev)
  if ok and info and info.kind == "nano" then
    error(errors.new("device", ("%s: this board (%s) cannot program XMEGA: its firmware has no "
      .. "XPROG (PDI) engine; use a CW-Lite, CW1200 or CW-Husky"):format(ctx.where, info.name),
      { code = "no_engine", cause = "no-engine" }), 0)
  end
end

-- The PDI lines belong to the SAM's PDI master while it programs: the FPGA must not drive
-- PDIC/PDID as GPIOs (NewAE's save_and_restore_pins sets them high-Z, target-protocols.md §1.2).
-- The board's snapshot puts them back afterwards.
local function release_pins(ctx)
  for _, pin in ipairs({ "pdic", "pdid" }) do
    local ok, msg, code = ctx.dev:pin(pin, "high_z")
    if not ok and code ~= "unsupported" then
      error(errors.new("device", ctx.where .. ": " .. msg, { code = code }), 0)
    end
  end
end

-- The part a --part names, or nil.
local function wanted_part(ctx)
  if not ctx.opts.part then return nil end
  local p = parts.BY_NAME[ctx.opts.part:lower()]
  if not p then
    local names = {}
    for _, q in ipairs(parts.PARTS) do names[#names + 1] = q.name end
    error(errors.new("usage", ("%s: unknown part '%s' (known: %s)"):format(ctx.where,
      ctx.opts.part, table.concat(names, ", "))), 0)
  end
  return p
end

-- Fuse bytes and lock bits as they are now: chip.fuse[name], chip.lock.
local function read_fuses(ctx, chip)
  local raw = ctx.xprog:read(ADDR.FUSES, 8) -- FUSEBYTE0..5, reserved, LOCKBITS (§B.4)
  chip.fuse = {}
  for i, name in ipairs(parts.FUSE_ORDER) do
    if chip.part.fuses[name] then chip.fuse[name] = raw:byte(i) end
  end
  chip.lock = raw:byte(8)
  local lb = chip.lock & 3
  chip.read_protected = lb == 0 or lb == 1 or nil
  chip.write_protected = lb ~= 3 or nil
  return chip
end

-- Signature -> part, checked against --part; the chip table cwlua and flash.lua use.
local function identify(ctx)
  local x = ctx.xprog
  local sig = x:read(ADDR.SIGNATURE, 3) -- MCU.DEVID0..2 (§B.3)
  ctx.signature = sig
  local p = parts.BY_SIGNATURE[sig]
  local want = wanted_part(ctx)
  if not p then
    if sig:byte(1) ~= 0x1E then -- every Atmel signature starts 1E (§B.4)
      error(errors.new("target", ("%s: the signature read back as %s, which is no Atmel "
        .. "signature: the PDI link corrupts or loses bytes"):format(ctx.where, xprog.hex(sig)),
        { code = "garbled", observed = sig }), 0)
    end
    input(ctx, "the chip's signature %s (%s) is not a part cwlua knows (known: %s)",
      xprog.hex(sig), parts.OTHER[sig] or "unknown", "atxmega128d4, atxmega16a4")
  end
  if want and want ~= p then
    error(errors.new("input", ("%s: the chip's signature %s is %s, not --part %s (%s); nothing "
      .. "was changed"):format(ctx.where, xprog.hex(sig), p.name, want.name,
      xprog.hex(want.signature)), { cause = "wrong-chip" }), 0)
  end
  local units = {}
  for a = 0, p.app_size + p.boot_size - 1, p.flash_page do
    units[#units + 1] = { start = a, size = p.flash_page }
  end
  local chip = {
    name = p.device, part = p, signature = sig, flash_start = 0,
    flash_size = p.app_size + p.boot_size, app_size = p.app_size, boot_size = p.boot_size,
    units = units, unit_name = "page", eeprom_size = p.eeprom_size,
    layout = ("application %d KiB + boot %d KiB"):format(p.app_size // 1024, p.boot_size // 1024),
    fuse_names = parts.fuse_names(p), -- the fuse bytes this part has (no fuse0 on a D4)
  }
  return read_fuses(ctx, chip)
end

--- step connect(ctx) -> chip: the board's engine, PDI entry, signature, fuses and lock bits
local function connect(ctx)
  check_board(ctx)
  release_pins(ctx)
  local x = xprog.new(ctx.dev, { where = ctx.where })
  ctx.xprog = x
  -- the first request tells a board without the engine (it stalls)
  x:set_timeout(ctx.defaults.engine_timeout_ms)
  if ctx.defer then
    ctx.defer(function() if x.entered then x:leave() end end) -- release PDI on every path
  end
  local ok, st, to = x:enter()
  if not ok then
    error(errors.new("target", ("%s: no reply over PDI: the chip did not enable its NVM "
      .. "interface within %d ms (ENTER: status %d%s)"):format(ctx.where, x.timeout_ms, st,
      to and ", timed out" or ""), { code = "timeout", status = st, timed_out = to }), 0)
  end
  ctx.pdi_up = true
  local chip = identify(ctx)
  ctx.log("%s, signature %s, lock bits 0x%02X", chip.name, xprog.hex(chip.signature), chip.lock)
  return chip
end

local function pdi_flash(addr)
  return ADDR.FLASH + addr
end

-- Writing under a write lock does nothing and the board says OK (§B.5): refuse first.
local function writable(ctx, chip)
  if chip.write_protected then
    input(ctx, "the chip's lock bits (0x%02X, LB = %s) refuse writes over PDI; "
      .. "--unprotect-write removes them with a chip erase (flash and EEPROM are erased)",
      chip.lock, parts.LB[chip.lock & 3])
  end
end

-- Chip erase, and what to do when it outlasts the engine's timeout (§B.2: ERASE waits only for
-- NVMEN, which the chip drops while a chip erase runs, §B.5). NewAE re-enters and erases the
-- application section (§B.3); cwlua re-enters until NVMEN is back — the erase has ended — and
-- then erases both sections, which also covers a chip erase that never started.
local function chip_erase(ctx, chip)
  local x = ctx.xprog
  local st, to = x:erase_status(ERASE.CHIP, 0)
  if st == 0 then return read_fuses(ctx, chip) end
  if st ~= 3 then x:_check("chip erase", st, to) end
  ctx.log("chip erase outlasted the engine's %d ms timeout; re-entering until it ends",
    x.timeout_ms)
  local ok
  for _ = 1, REENTER_TRIES do
    x:leave()
    ok = x:enter()
    if ok then break end
  end
  if not ok then
    error(errors.new("target", ("%s: the chip erase did not end within %d ms (the chip kept its "
      .. "NVM disabled); power-cycle the target and retry"):format(ctx.where,
      x.timeout_ms * (REENTER_TRIES + 1)), { code = "timeout" }), 0)
  end
  x:erase(ERASE.APP, ADDR.FLASH, "application-section erase")
  x:erase(ERASE.BOOT, pdi_flash(chip.app_size), "boot-section erase")
  read_fuses(ctx, chip)
  if chip.write_protected then
    error(errors.new("target", ("%s: after the chip erase the lock bits still read 0x%02X")
      :format(ctx.where, chip.lock), { code = "timeout" }), 0)
  end
  return chip
end

--- step plan_erase(ctx, chip, units) -> units: what `program` erases for an image touching these
-- pages. With app_erase = "section" (the default) an image with bytes in the application
-- section has the whole section erased — erase() then sends one section erase (§B.1 type 2)
-- instead of one page erase per page: the engine cannot erase and write a flash page in one
-- command (§B.2: the NVM's 0x25/0x2F are never sent), so a page erase costs an ERASE and its
-- status on the wire besides the chip's 4 ms (§B.5), while the section erase waits about 6 ms
-- once. The boot section and EEPROM keep only what the image touches, and so does the
-- application section with app_erase = "pages". `erase --addr/--len` does not come here: it
-- erases exactly the pages asked for.
local function plan_erase(ctx, chip, units)
  if (ctx.defaults.app_erase or "section") ~= "section" then return units end
  local app_pages = chip.app_size // chip.part.flash_page
  local list, any = {}, false
  for i = 0, app_pages - 1 do list[#list + 1] = i end
  for _, i in ipairs(units) do
    if i < app_pages then any = true else list[#list + 1] = i end
  end
  return any and list or units
end

--- step erase(ctx, chip, units): "all" = chip erase (flash, EEPROM unless EESAVE, lock bits);
-- else the pages listed: a section whose every page is listed with one section erase (§B.1
-- erase types 2 and 3: one command and one wait of about 6 ms instead of one page erase of 4 ms
-- each, §B.5), the others with application-page or boot-page erases (types 5 and 6). Only the
-- pages listed are erased either way; EEPROM and the fuses are never touched.
local function erase(ctx, chip, units)
  if units == "all" then return chip_erase(ctx, chip) end
  writable(ctx, chip)
  local x, page = ctx.xprog, chip.part.flash_page
  local listed = { app = 0, boot = 0 }
  for _, i in ipairs(units) do
    local sec = chip.units[i + 1].start >= chip.app_size and "boot" or "app"
    listed[sec] = listed[sec] + 1
  end
  local whole = { app = listed.app == chip.app_size // page,
                  boot = chip.boot_size > 0 and listed.boot == chip.boot_size // page }
  local done = 0
  local function progress(n)
    done = done + n
    if ctx.progress then ctx.progress:update(done) end -- a bar on a terminal: pages done
  end
  if whole.app then
    ctx.log("erasing the application section (%d KiB)", chip.app_size // 1024)
    x:erase(ERASE.APP, pdi_flash(0), "application-section erase")
    progress(listed.app)
  end
  if whole.boot then
    ctx.log("erasing the boot section (%d KiB)", chip.boot_size // 1024)
    x:erase(ERASE.BOOT, pdi_flash(chip.app_size), "boot-section erase")
    progress(listed.boot)
  end
  for sec, n in pairs(listed) do
    if n > 0 and not whole[sec] then
      ctx.log("erasing %d %s page%s", n, sec == "app" and "application" or "boot",
        n == 1 and "" or "s")
    end
  end
  for _, i in ipairs(units) do
    local u = chip.units[i + 1]
    local boot = u.start >= chip.app_size
    if not whole[boot and "boot" or "app"] then
      x:erase(boot and ERASE.BOOT_PAGE or ERASE.APP_PAGE, pdi_flash(u.start),
        boot and "boot page erase" or "application page erase")
      progress(1)
    end
  end
end

--- step write(ctx, chip, addr, data): one page (flash.lua's 256-byte aligned blocks): loaded
-- into the page buffer and written with the section's own command (§B.2 WRITE_MEM types 1 and
-- 2). The buffer must hold nothing but the page (a byte not loaded stays 0xFF, so a short page
-- leaves the rest of the page as the erase left it): the chip empties it with every page write
-- (§B.5), so the engine erases it (mode bit 0) only before the first write of a session and
-- after a write that failed, when what it holds is not known.
local function write(ctx, chip, addr, data)
  writable(ctx, chip)
  local x, page = ctx.xprog, chip.part.flash_page
  local pos = 1
  while pos <= #data do
    local a = addr + pos - 1
    local n = math.min(#data - pos + 1, page - a % page)
    local mode = xprog.PAGE_WRITE | (x.fbuf_empty and 0 or xprog.PAGE_ERASE_BUFFER)
    x.fbuf_empty = false
    x:write(a >= chip.app_size and MEM.BOOT or MEM.APPL, mode, pdi_flash(a),
      data:sub(pos, pos + n - 1))
    x.fbuf_empty = true
    pos = pos + n
  end
end

local function read(ctx, _, addr, len)
  return ctx.xprog:read(pdi_flash(addr), len)
end

--- step write_eeprom(ctx, chip, offset, data): EEPROM page by page (erase and write only the
-- loaded bytes, §B.2 WRITE_MEM type 3)
local function write_eeprom(ctx, chip, off, data)
  writable(ctx, chip)
  local page = chip.part.eeprom_page
  local pos = 1
  while pos <= #data do
    local a = off + pos - 1
    local n = math.min(#data - pos + 1, page - a % page)
    ctx.xprog:write(MEM.EEPROM, xprog.PAGE_ERASE_BUFFER | xprog.PAGE_WRITE, ADDR.EEPROM + a,
      data:sub(pos, pos + n - 1))
    pos = pos + n
  end
end

local function read_eeprom(ctx, _, off, len)
  return ctx.xprog:read(ADDR.EEPROM + off, len)
end

--- step fuses(ctx, chip) -> { fuseN = byte, ..., lock = byte }
local function fuses(ctx, chip)
  read_fuses(ctx, chip)
  local out = { lock = chip.lock }
  for k, v in pairs(chip.fuse) do out[k] = v end
  return out
end

local function fuse_index(name)
  for i, n in ipairs(parts.FUSE_ORDER) do
    if n == name then return i - 1 end
  end
end

local function write_fuse(ctx, chip, name, value)
  writable(ctx, chip)
  ctx.xprog:write(MEM.FUSE, 0, ADDR.FUSES + fuse_index(name), string.char(value))
end

local function write_lock(ctx, _, value)
  ctx.xprog:write(MEM.LOCKBITS, 0, ADDR.LOCK, string.char(value))
end

--- step check_fuses(ctx, chip, fuses, lock): names and bits the part has; settings that lock
-- the user out need --force
local function check_fuses(ctx, chip, list, lock)
  local p = chip.part
  for _, f in ipairs(list) do
    local valid = p.fuses[f.name]
    if not valid then
      input(ctx, "%s has no fuse '%s' (its fuses: %s)", p.name, f.name,
        table.concat(parts.fuse_names(p), ", "))
    end
    local bad = ~f.value & ~valid & 0xFF
    if bad ~= 0 then
      input(ctx, "%s=0x%02X clears bits 0x%02X, which %s does not have (its bits: 0x%02X; "
        .. "the others must stay 1)", f.name, f.value, bad, p.name, valid)
    end
    if f.name == "fuse4" and f.value & 0x10 == 0 and not ctx.opts.force then
      input(ctx, "fuse4=0x%02X programs RSTDISBL: the reset pin (PDIC, also PDI_CLK) no longer "
        .. "resets the chip, so 'cwlua reset xmega' and NewAE's reset stop working; add --force "
        .. "to write it anyway", f.value)
    end
  end
  if #list > 0 then writable(ctx, chip) end
  if lock then
    local lb = lock & 3
    if lb == 1 then
      input(ctx, "lock 0x%02X sets LB = 01, which is reserved; use 0xFF (no lock), 0xFE (write "
        .. "lock) or 0xFC (read and write lock)", lock)
    end
    local back = lock & ~chip.lock & 0xFF
    if back ~= 0 then
      input(ctx, "lock 0x%02X would set bits 0x%02X back to 1 (the chip has 0x%02X); only a "
        .. "chip erase does that: cwlua erase xmega --chip", lock, back, chip.lock)
    end
    if lb ~= 3 and not ctx.opts.force then
      input(ctx, "lock 0x%02X sets LB = %s (%s): the chip's flash, EEPROM and fuses can then "
        .. "no longer be %s over PDI until a chip erase, which erases everything; add --force "
        .. "to do it anyway", lock, lb == 2 and "10" or "00", parts.LB[lb],
        lb == 2 and "written" or "read or written")
    end
  end
end

--- step start(ctx, chip): LEAVE — the RESET key released, the PDI lines tri-stated: the
-- firmware runs (§B.2)
local function start(ctx)
  if ctx.xprog.entered then ctx.xprog:leave() end
end

--- step protection(ctx, chip) -> { read = bool }
local function protection(ctx, chip)
  read_fuses(ctx, chip)
  return { read = chip.read_protected == true, lock = chip.lock }
end

--- step unprotect(ctx, chip, what) -> chip: only a chip erase clears XMEGA lock bits (§B.5)
local function unprotect(ctx, chip, what)
  if what == "write" and not chip.write_protected then return chip end
  ctx.log("chip erase: the only way to clear the lock bits (flash and EEPROM are erased)")
  return chip_erase(ctx, chip)
end

local function info(ctx, chip)
  local p = chip.part
  local rows = {
    { "chip", ("%s (signature %s)"):format(chip.name, xprog.hex(chip.signature)), "chip" },
    { "flash", ("%d KiB: %s at 0x%05X, %d-byte pages"):format(chip.flash_size // 1024,
      chip.layout, chip.app_size, p.flash_page), "flash" },
    { "EEPROM", ("%d bytes, %d-byte pages"):format(p.eeprom_size, p.eeprom_page), "eeprom" },
  }
  for _, name in ipairs(parts.fuse_names(p)) do
    local v = chip.fuse[name]
    rows[#rows + 1] = { name, ("0x%02X (%s)"):format(v, parts.describe(name, v, p.fuses[name])),
      name }
  end
  rows[#rows + 1] = { "lock bits", ("0x%02X (%s; LB: %s)"):format(chip.lock,
    parts.describe("lock", chip.lock), parts.LB[chip.lock & 3]), "lock" }
  rows[#rows + 1] = { "interface", ("PDI through the %s's XPROG engine, timeout %d ms"):format(
    board_name(ctx.dev), ctx.xprog.timeout_ms), "interface" }
  return rows
end

---------------------------------------------------------------------------------------------
-- diagnosis (contract.md §6): evidence only — what the engine's status says, the signature and
-- reads that came back

local function rig_path(rig)
  return ({ cw506 = "on a CW506, its routing of PDIC and PDID (or plug the target straight into "
              .. "the capture board's 20-pin cable)",
            cw313 = "the CW313's PDI jumpers and the target's seating",
            serial = "a serial adapter has no PDI lines",
            cw308 = "the 20-pin cable or the target's seating on the CW308" })[rig]
    or "the wiring"
end

local function silent_candidates(ctx)
  return {
    "PDIC (PDI_CLK, also the XMEGA's /RESET) or PDID (PDI_DATA) does not reach the chip: "
      .. rig_path(ctx.rig),
    ("the target has no power (a %s cannot measure the target's supply)"):format(
      board_name(ctx.dev)),
    "the chip on the connector is not an XMEGA (an AVR or STM32 does not answer PDI)",
  }
end

-- doctor's generic garbled-reply advice is the UART's (--set bauds); PDI has no baud to change
local GARBLED_ACTIONS = { "the PDI link corrupts bytes: shorten or reseat the 20-pin cable, check "
  .. "the ground and noise sources (a glitch output, a motor)" }

-- The board cannot tell a cut PDI line from a target without power: the first action is the
-- look that can.
local function power_first(ctx)
  return ("first look at %s: lit, the target is powered and PDIC or PDID does not reach the "
    .. "XMEGA; dark, it has no power (the board cannot tell these apart)"):format(
    require("cwlua.doctor").power_look(ctx))
end

local function silent_actions(ctx)
  return { power_first(ctx),
           "powered: check that PDIC and PDID reach the XMEGA: " .. rig_path(ctx.rig),
           require("cwlua.doctor").unpowered(ctx),
           "then run cwlua doctor " .. ctx.where .. (ctx.rig_known and (" --rig " .. ctx.rig)
             or "") .. " again" }
end

--- step explain(ctx, err) -> { seen, likely } for a failed connect
local function explain(ctx, err)
  if err.code == "garbled" then
    return { ("seen: the signature read back as %s"):format(xprog.hex(err.observed or "")),
             "likely: a poor PDI connection (cable, ground) that corrupts bytes on PDID" }
  end
  if ctx.pdi_up then
    return { "seen: the chip entered programming over PDI, then a command "
               .. "reported " .. (xprog.STATUS[err.status or 3] or "an error"),
             "likely: an unreliable PDI connection, or the chip losing power" }
  end
  local c = silent_candidates(ctx)
  return { "seen: nothing came back on PDI: the engine's ENTER timed out waiting for the chip "
             .. "to enable its NVM interface",
           "likely: " .. c[1] .. "; or " .. c[2]:gsub(" %(.*", ""),
           todo = ("do: %s; then run '%s' to test each link"):format(
             power_first(ctx):gsub("^first ", ""),
             ctx.doctor_cmd or ("cwlua doctor " .. ctx.where)) }
end

local function doctor(ctx, report)
  local dev = ctx.dev
  local ok, err = pcall(check_board, ctx)
  if ok then
    release_pins(ctx)
    ctx.xprog = xprog.new(dev, { where = ctx.where })
    ok, err = pcall(ctx.xprog.set_timeout, ctx.xprog, ctx.defaults.engine_timeout_ms)
  end
  if not ok then
    if not (errors.is(err, "device") and err.code == "no_engine") then error(err, 0) end
    report:step("XPROG engine", "failed", (err.message:gsub("^[^:]*: ", "")))
    report:conclude("no-engine")
    return
  end
  local x = ctx.xprog
  report:step("XPROG engine", "ok", ("answers (SET_PARAM TIMEOUT %d ms)"):format(x.timeout_ms))
  report:step("PDI lines", "ok", "PDIC and PDID released by the FPGA for the SAM's PDI master")
  local entered, st, to = x:enter()
  local _ <close> = setmetatable({}, { __close = function() pcall(x.leave, x) end })
  if not entered then
    report:step("PDI entry", "failed", ("no reply: ENTER status %d%s after %d ms; the chip "
      .. "never enabled its NVM interface"):format(st, to and ", timed out" or "", x.timeout_ms))
    report:conclude("no-reply", silent_candidates(ctx), silent_actions(ctx))
    return
  end
  report:step("PDI entry", "ok", "the chip enabled its NVM interface (NVMEN)")
  local sigs = {}
  for i = 1, 3 do sigs[i] = x:read(ADDR.SIGNATURE, 3) end
  local sig = sigs[1]
  if sigs[2] ~= sig or sigs[3] ~= sig or sig:byte(1) ~= 0x1E then
    report:step("signature", "failed", ("read three times: %s / %s / %s"):format(
      xprog.hex(sigs[1]), xprog.hex(sigs[2]), xprog.hex(sigs[3])))
    report:conclude("garbled-reply", {}, GARBLED_ACTIONS)
    return
  end
  local p = parts.BY_SIGNATURE[sig]
  if not p then
    report:step("signature", "failed", ("%s (%s): not a part cwlua knows"):format(xprog.hex(sig),
      parts.OTHER[sig] or "unknown"))
    report:conclude("wrong-chip")
    return
  end
  report:step("signature", "ok", ("%s, %s (read three times, identical)"):format(xprog.hex(sig),
    p.device))
  ctx.signature = sig
  local chip = read_fuses(ctx, { part = p })
  if chip.read_protected then
    report:step("read access", "failed", ("lock bits 0x%02X: LB = 00, flash and EEPROM read as "
      .. "0 over PDI"):format(chip.lock))
    report:conclude("read-protected", {}, { ("cwlua program %s FILE --unprotect (a chip erase: "
      .. "flash and EEPROM are erased)"):format(ctx.where) })
    return
  end
  local first = x:read(ADDR.FLASH, 256)
  for _ = 1, 2 do
    if x:read(ADDR.FLASH, 256) ~= first then
      report:step("read check", "failed", "256 bytes of flash read three times came back "
        .. "different")
      report:conclude("garbled-reply", {}, GARBLED_ACTIONS)
      return
    end
  end
  report:step("read check", "ok", "256 bytes read three times, identical")
  report:step("lock bits", "ok", ("0x%02X (LB: %s)"):format(chip.lock, parts.LB[chip.lock & 3]))
  report:conclude("ok")
end

-- A step whose engine command reported FAILED or TIMEOUT (a target error) runs once more
-- (contract.md §3.11) when running it twice leaves the chip as running it once: READ_MEM reads;
-- a flash page is written again from an erased page buffer (a failed write leaves its state
-- unknown, so the next one erases it), and flash takes the AND of old and new bits, so the same
-- bytes again change nothing; an EEPROM page is erased and written in one
-- command; a fuse or the lock byte written again with the same value stays it (§B.2). The chip
-- erase keeps its own fallback (re-entering until NVMEN is back).
local ENGINE_ATTEMPTS = 2
local function again(step, what) return retry.wrap(step, what, ENGINE_ATTEMPTS) end

-- What --set accepts for the XMEGA parameters (cwlua.params, docs/targets.md "Parameters"); a
-- recipe's own params entry wins.
M.PARAMS = {
  flash_start = { min = 0, max = 0xFFFFFFFF },
  -- the engine's TIMEOUT parameter counts 2.5 ticks a millisecond in 32 bits (§B.2); a command
  -- that waits a minute is no longer waiting for a chip
  engine_timeout_ms = { type = "number", above = 0, max = 60000 },
  reset_pin = { pin = true },
  -- what program erases in the application section (plan_erase): all of it, in one command,
  -- or only the pages the image touches, one command each
  app_erase = { one_of = { "section", "pages" },
                why = "section: the whole application section; pages: only the pages the image "
                  .. "touches" },
}

--- xmega.recipe(t) -> t with the shared XMEGA steps filled in (a recipe's own steps win), and
-- the parameters' ranges (M.PARAMS) for the defaults it has
function M.recipe(t)
  params.inherit(t, M.PARAMS)
  local base = { connect = connect, plan_erase = plan_erase, erase = erase,
                 write = again(write, "flash write"),
                 read = again(read, "flash read"), start = start, info = info,
                 protection = protection, unprotect = unprotect,
                 write_eeprom = again(write_eeprom, "EEPROM write"),
                 read_eeprom = again(read_eeprom, "EEPROM read"),
                 fuses = again(fuses, "fuse read"), write_fuse = again(write_fuse, "fuse write"),
                 write_lock = again(write_lock, "lock-bit write"), check_fuses = check_fuses,
                 doctor = doctor, explain = explain }
  for k, v in pairs(base) do
    if t[k] == nil then t[k] = v end
  end
  return t
end

return M
