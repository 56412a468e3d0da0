-- SPDX-License-Identifier: MIT
-- cwlua.avr: the AVR (ATmega) recipe steps — ISP through the board's V2 engine
-- (cwlua.proto.v2isp), parts by signature (cwlua.proto.avrparts), flash, EEPROM, fuses and lock
-- bits, diagnosis. targets/avr.lua states the facts and calls avr.recipe{...}
-- (docs/targets.md). Facts: docs/reference/target-protocols.md §1, §C; the ATmega48A/PA/88A/PA/
-- 168A/PA/328/P datasheet for fuses, clock sources and write times.
local avrparts = require "cwlua.proto.avrparts"
local time = require "cwlua.time"
local errors = require "cwlua.errors"
local params = require "cwlua.params"
local retry = require "cwlua.retry"
local v2isp = require "cwlua.proto.v2isp"

local M = {}

local IOROUTE = 55     -- FPGA register; byte 5 bit 0 routes the SAM SPI to the ISP pins
-- cw-usb-protocol.md §4.1 byte 5 (setAVRISPMode); target-protocols.md §C.2
local ISP_ROUTE_BIT = 0x01
local HS2_GLITCH_SRC = "glitch"

local function where(ctx) return ctx.where end

local function fail(ctx, kind, fields, fmt, ...)
  error(errors.new(kind, where(ctx) .. ": " .. fmt:format(...), fields), 0)
end

local function check(ctx, value, msg, code)
  if value == nil then
    error(errors.world(code, where(ctx) .. ": " .. msg, { code = code }), 0)
  end
  return value
end

local function khz(hz)
  if hz >= 1e6 then return ("%.3g MHz"):format(hz / 1e6) end
  return ("%.3g kHz"):format(hz / 1e3)
end

---------------------------------------------------------------------------------------------
-- the board side: engine, clock, ISP routing

-- The V2 engine answers SIGN_ON; a board without it (the CW-Nano) stalls (§1). Such a board,
-- or a serial port, has no engine for AVR: the cause xmega.lua gives for XMEGA there too.
local NO_ENGINE = { code = "no_engine", cause = "no-engine" }
local function engine(ctx)
  local dev = ctx.dev
  if not dev.ctrl_in or not dev.fpga_read then
    fail(ctx, "device", NO_ENGINE, "AVR programming needs a ChipWhisperer capture "
      .. "board with the V2/ISP engine (CW-Lite, CW1200, Husky), not %s", tostring(dev))
  end
  local ok, info = pcall(dev.info, dev)
  if ok and info and info.kind == "nano" then -- known without asking (cw-usb-protocol.md §2.3)
    fail(ctx, "device", NO_ENGINE, "this board (%s) cannot program AVR: its firmware has no "
      .. "V2/ISP engine; use a CW-Lite, CW1200 or CW-Husky", info.name)
  end
  local isp = v2isp.new(dev, { where = where(ctx) })
  local name, msg, code = isp:sign_on()
  if not name and code ~= "stall" then check(ctx, nil, msg, code) end -- a USB failure
  if not name then
    fail(ctx, "device", NO_ENGINE, "the board has no AVR ISP engine (SIGN_ON: "
      .. "%s); AVR programming needs a CW-Lite, CW1200 or Husky (the CW-Nano has none)",
      tostring(msg))
  end
  ctx.log("ISP engine %s", name)
  return isp
end

-- The target's clock: a CW308 AVR runs from HS2 (its fuses select an external clock). HS2 off
-- means no ISP at all: switch the recipe's clock on; the snapshot puts HS2 back afterwards.
local function ensure_clock(ctx)
  local dev, d = ctx.dev, ctx.defaults
  local hz, src = dev:clock()
  if hz then return hz, false end
  if src == HS2_GLITCH_SRC then return nil, false end
  ctx.log("HS2 was %s: %s on it while programming", tostring(src), khz(d.clock_hz))
  local got = check(ctx, dev:clock(d.clock_hz))
  return got, true
end

local function route_isp(ctx, on)
  local dev = ctx.dev
  local io = check(ctx, dev:fpga_read(IOROUTE, 8))
  local b5 = io:byte(6)
  local want = on and (b5 | ISP_ROUTE_BIT) or (b5 & ~ISP_ROUTE_BIT)
  if want ~= b5 then
    check(ctx, dev:fpga_write(IOROUTE, io:sub(1, 5) .. string.char(want) .. io:sub(7)))
  end
end

---------------------------------------------------------------------------------------------
-- entering ISP

-- What came back when Programming Enable failed: MISO bytes 2 and 3 of AC 53 00 00 (the chip
-- echoes AC and 53 when in sync, §C.5), read through READ_SIGNATURE_ISP after the failed
-- ENTER (which leaves /RESET asserted and the SPI on, §C.4).
local function probe(isp)
  local ok, b2 = pcall(isp.transfer, isp, v2isp.CMD.READ_SIGNATURE, 2, "\xAC\x53\x00\x00")
  local ok3, b3 = pcall(isp.transfer, isp, v2isp.CMD.READ_SIGNATURE, 3, "\xAC\x53\x00\x00")
  if not ok or not ok3 then return nil end
  local kind = "garbled"
  if b2 == 0xFF and b3 == 0xFF then
    kind = "silent"
  elseif b2 == 0x00 and b3 == 0x00 then
    kind = "zeros"
  elseif b2 == 0xAC and b3 == 0x53 then
    kind = "echo"
  end
  return { kind = kind, bytes = string.char(b2, b3) }
end

local CAUSE_OF = { silent = "no-reply", zeros = "no-clock", garbled = "garbled-reply",
                   echo = "no-reply" }

-- ENTER at the recipe's SCK; if the chip does not answer, again with the slow clock (NewAE's
-- slow variant, §C.4) for a chip on a slow clock (CKDIV8, the 128 kHz oscillator).
local function enter(ctx, isp)
  local d = ctx.defaults
  local tried = {}
  local attempts = {}
  if d.slow_clock ~= true then attempts[#attempts + 1] = false end
  if d.slow_clock ~= false then attempts[#attempts + 1] = true end
  local evidence
  for _, slow in ipairs(attempts) do
    if slow then
      isp:slow_clock(true)
      ctx.slow_clock = true
    end
    local duration = slow and 6 or v2isp.duration_for(d.isp_hz)
    isp:set_sck(duration)
    local sck = v2isp.sck_hz(duration, slow)
    tried[#tried + 1] = khz(sck) .. " SCK" .. (slow and " (slow clock)" or "")
    local ok = isp:enter(slow and v2isp.ENTER_SLOW or v2isp.ENTER_DEFAULTS)
    if ok then
      ctx.sck_hz = sck
      ctx.log("ISP at %s%s", khz(sck), slow and " with the board's slow clock" or "")
      return
    end
    evidence = probe(isp) or evidence
    ctx.isp_evidence = evidence
  end
  local kind = evidence and evidence.kind or "silent"
  error(errors.new("target", ("%s: no answer to ISP Programming Enable (AC 53 00 00; "
    .. "ENTER_PROGMODE_ISP status 0xC0) at %s"):format(where(ctx), table.concat(tried, " or ")),
    { code = "timeout", cause = CAUSE_OF[kind], evidence = evidence }), 0)
end

-- Read the fuses and lock byte: { low, high, ext, lock }
local function read_fuses(isp)
  return { low = isp:read_fuse("low"), high = isp:read_fuse("high"), ext = isp:read_fuse("ext"),
           lock = isp:read_lock() }
end

local function lock_mode(lock)
  local lb = lock & 0x03
  if lb == 0x03 then return 1 end
  if lb == 0x02 then return 2 end
  if lb == 0x00 then return 3 end
  return nil -- 01: not a mode the datasheet lists
end

local function known_parts()
  local names = {}
  for _, p in ipairs(avrparts.LIST) do names[#names + 1] = p.name end
  return table.concat(names, ", ")
end

-- The chip from its signature, against --part when given.
local function identify(ctx, isp)
  local sig = isp:signature()
  local part = avrparts.BY_SIGNATURE[sig]
  local want = ctx.opts.part and ctx.opts.part:lower()
  if want and not avrparts.BY_NAME[want] then
    fail(ctx, "usage", nil, "unknown part '%s'; this recipe knows %s", ctx.opts.part,
      known_parts())
  end
  if not part then
    local hint = (sig == "\0\0\0" or sig == "\xFF\xFF\xFF") and "; the chip answered "
      .. "Programming Enable but not with a signature: check MISO" or
      "; it is not an ATmega48/88/168/328 this recipe programs"
    fail(ctx, "input", { cause = "wrong-chip" }, "the chip's signature is %s, unknown to "
      .. "cwlua%s", avrparts.hex(sig), hint)
  end
  if want and part.name ~= want then
    fail(ctx, "input", { cause = "wrong-chip" }, "the chip's signature %s is an %s, not the %s "
      .. "asked for with --part; nothing was written", avrparts.hex(sig), part.device, want)
  end
  local fuses = read_fuses(isp)
  local chip = {
    name = part.device, part = part, signature = sig, flash_start = 0,
    flash_size = part.flash_size, eeprom_size = part.eeprom_size,
    units = { { start = 0, size = part.flash_size } }, unit_name = "chip",
    fuses = fuses, sck_hz = ctx.sck_hz, slow_clock = ctx.slow_clock,
    fuse_names = avrparts.FUSE_NAMES, -- every part of the family has all three
  }
  -- lock mode 3 hides flash and EEPROM (reads come back 0xFF); only a chip erase lifts it
  chip.read_protected = lock_mode(fuses.lock) == 3
  return chip
end

local function connect(ctx)
  local isp = engine(ctx)
  ctx.isp = isp
  local d = ctx.defaults
  -- leave on every exit path: a failed ENTER leaves /RESET asserted (§C.4); the slow clock
  -- changes the board's USART baud
  ctx.defer(function()
    if isp.in_progmode then isp:leave() end
    if isp.slow then isp:slow_clock(false) end
  end)
  local hz, switched = ensure_clock(ctx)
  ctx.clock_hz, ctx.clock_switched = hz, switched
  route_isp(ctx, true)
  time.sleep(d.isp_settle_ms)
  -- the counter shared with XPROG: an XMEGA session's 100 ms would starve ENTER (§1, §C.3)
  local ok, msg = isp:set_shared_timeout(d.engine_timeout_ticks)
  if not ok then ctx.log("shared engine timeout not set (%s)", tostring(msg)) end
  if ctx.opts.no_reset then
    ctx.log("--no-reset: ISP entry always pulls /RESET low; entering as usual")
  end
  enter(ctx, isp)
  return identify(ctx, isp)
end

---------------------------------------------------------------------------------------------
-- flash, EEPROM, fuses

-- Datasheet "Minimum Wait Delay Before Writing the Next Flash or EEPROM Location"
local T_WD_FUSE_MS = 5  -- tWD_FUSE 4.5 ms
local T_WD_FLASH_MS = 5 -- tWD_FLASH 4.5 ms (the engine waits on RDY/BSY; delay is its fallback)
local T_WD_EEPROM_MS = 4 -- tWD_EEPROM 3.6 ms

local function erase(ctx, chip, units)
  if units ~= "all" and ctx.opts.addr then
    fail(ctx, "usage", nil, "an %s erases only as a whole (Chip Erase: flash, EEPROM unless "
      .. "EESAVE is programmed, lock bits); use erase --chip", chip.name)
  end
  ctx.isp:chip_erase()
  chip.fuses.lock = 0xFF
  chip.read_protected = false
end

-- Flash: one PROGRAM per page piece at the engine's word address, which the engine advances
-- (§C.3, §C.4): a LOAD_ADDRESS only where the address wanted is not the engine's (isp:seek),
-- i.e. once for a contiguous image and once more for its verify.
local function write(ctx, chip, addr, data)
  local isp, page = ctx.isp, chip.part.flash_page
  isp:seek(addr // 2)
  local off = 0
  while off < #data do
    local a = addr + off
    local n = math.min(page - a % page, #data - off)
    isp:program("flash", data:sub(off + 1, off + n), { mode = v2isp.MODE_PAGED_RDYBSY,
      delay_ms = T_WD_FLASH_MS, load = 0x40, write = 0x4C, read = 0x20 })
    off = off + n
  end
end

local function read(ctx, _, addr, len)
  local isp = ctx.isp
  local a0 = addr - addr % 2
  local n = len + (addr - a0)
  n = n + n % 2
  isp:seek(a0 // 2)
  local parts, done = {}, 0
  while done < n do
    local k = math.min(256, n - done)
    parts[#parts + 1] = isp:read("flash", k)
    done = done + k
  end
  return table.concat(parts):sub(addr - a0 + 1, addr - a0 + len)
end

-- EEPROM: byte addresses; one PROGRAM_EEPROM per EEPROM page (Load EEPROM Memory Page C1,
-- Write EEPROM Memory Page C2, §C.5)
local function write_eeprom(ctx, chip, offset, data)
  local isp, page = ctx.isp, chip.part.eeprom_page
  isp:seek(offset)
  local off = 0
  while off < #data do
    local a = offset + off
    local n = math.min(page - a % page, #data - off)
    isp:program("eeprom", data:sub(off + 1, off + n), { mode = v2isp.MODE_PAGED_RDYBSY,
      delay_ms = T_WD_EEPROM_MS, load = 0xC1, write = 0xC2, read = 0xA0 })
    off = off + n
  end
end

local function read_eeprom(ctx, _, offset, len)
  local isp = ctx.isp
  isp:seek(offset)
  local parts, done = {}, 0
  while done < len do
    local k = math.min(256, len - done)
    parts[#parts + 1] = isp:read("eeprom", k)
    done = done + k
  end
  return table.concat(parts)
end

local function fuses(ctx, chip)
  local f = read_fuses(ctx.isp)
  chip.fuses = f
  return { low = f.low, high = f.high, ext = f.ext, lock = f.lock }
end

local function write_fuse(ctx, _, name, value)
  ctx.isp:write_fuse(name, value)
  time.sleep(T_WD_FUSE_MS) -- the engine does not wait (§C.1); the chip ignores writes meanwhile
end

local function write_lock(ctx, _, value)
  ctx.isp:write_lock(value)
  time.sleep(T_WD_FUSE_MS)
end

-- The CPU clock a low fuse gives, on this rig: nil when the source is not on the rig.
local function cpu_hz(low, board_hz)
  local src = avrparts.CLOCK_SOURCES[low & avrparts.LOW_CKSEL]
  if not src.rig then return nil, src end
  local f = ({ [0x0] = board_hz or 0, [0x2] = 8e6, [0x3] = 128e3 })[low & avrparts.LOW_CKSEL]
  if low & avrparts.LOW_CKDIV8 == 0 then f = f / 8 end
  return f, src
end
M.cpu_hz = cpu_hz

-- The slowest SCK the board makes: divider 255 with the slow clock (§C.1, §C.2)
local SLOWEST_SCK = v2isp.SLOW_MCK_HZ / v2isp.SPI_DIV_MAX

--- step check_fuses(ctx, chip, fuses, lock): names, valid bits, lock-outs (docs/targets.md)
local function check_fuses(ctx, chip, list, lock)
  local part = chip.part
  local force = ctx.opts.force
  local function refuse(fmt, ...)
    fail(ctx, "input", nil, fmt .. "; add --force if you mean it", ...)
  end
  for _, f in ipairs(list) do
    local mask = part.masks[f.name]
    if not mask then
      fail(ctx, "input", nil, "unknown fuse '%s'; the %s has %s (--fuse low=0xE0)", f.name,
        chip.name, table.concat(avrparts.FUSE_NAMES, ", "))
    end
    local unused = ~mask & 0xFF
    if f.value & unused ~= unused then
      fail(ctx, "input", nil, "%s fuse 0x%02X clears bits the %s does not have (it uses 0x%02X; "
        .. "the others read 1): write 0x%02X", f.name, f.value, chip.name, mask,
        f.value | unused)
    end
    if f.name == "high" and not force then
      local h = f.value
      if h & avrparts.HIGH_RSTDISBL == 0 then
        refuse("high fuse 0x%02X programs RSTDISBL: the reset pin becomes an I/O pin and ISP "
          .. "stops working (only a high-voltage programmer undoes it)", h)
      end
      if h & avrparts.HIGH_DWEN == 0 then
        refuse("high fuse 0x%02X programs DWEN: debugWIRE takes the reset pin and ISP stops "
          .. "working", h)
      end
      if h & avrparts.HIGH_SPIEN ~= 0 then
        refuse("high fuse 0x%02X leaves SPIEN unprogrammed, which disables serial programming",
          h)
      end
    end
    if f.name == "low" and not force then
      local hz, src = cpu_hz(f.value, ctx.clock_hz)
      if not hz then
        refuse("low fuse 0x%02X selects a %s, which this rig does not have: the chip would "
          .. "stop answering ISP", f.value, src.name)
      end
      if hz / 4 < SLOWEST_SCK then
        refuse("low fuse 0x%02X runs the chip at %s (%s%s): ISP needs SCK below a quarter of "
          .. "that, and the board cannot go below %s", f.value, khz(hz), src.name,
          f.value & avrparts.LOW_CKDIV8 == 0 and ", divided by 8" or "", khz(SLOWEST_SCK))
      end
    end
  end
  if lock then
    local mask = part.masks.lock
    local unused = ~mask & 0xFF
    if lock & unused ~= unused then
      fail(ctx, "input", nil, "lock 0x%02X clears bits the %s does not have (it uses 0x%02X): "
        .. "write 0x%02X", lock, chip.name, mask, lock | unused)
    end
    if not lock_mode(lock) then
      fail(ctx, "input", nil, "lock 0x%02X programs LB2 without LB1, which is not a lock mode "
        .. "(LB2..1 = 11 none, 10 no writing, 00 no writing or reading)", lock)
    end
  end
end

---------------------------------------------------------------------------------------------
-- start, info, protection

local function start(ctx, _)
  local isp = ctx.isp
  if isp.in_progmode then isp:leave() end -- /RESET released: the firmware runs
  route_isp(ctx, false)
end

local function clock_text(low, board_hz)
  local hz, src = cpu_hz(low, board_hz)
  local div = low & avrparts.LOW_CKDIV8 == 0 and ", divided by 8" or ""
  if not hz then return src.name .. div .. " (not on this rig)" end
  return ("%s%s: %s"):format(src.name, div, khz(hz))
end

local LOCK_TEXT = { "no lock", "no further writing (LB1)", "no writing or reading (LB2, LB1)" }

local function info(ctx, chip)
  local f = chip.fuses
  local mode = lock_mode(f.lock)
  return {
    { "chip", chip.name, "chip" },
    { "signature", avrparts.hex(chip.signature), "signature" },
    { "flash", ("%d KiB, %d-byte pages"):format(chip.flash_size // 1024, chip.part.flash_page),
      "flash" },
    { "EEPROM", ("%d bytes"):format(chip.eeprom_size), "eeprom" },
    { "low fuse", ("0x%02X"):format(f.low), "fuse_low" },
    { "high fuse", ("0x%02X"):format(f.high), "fuse_high" },
    { "extended fuse", ("0x%02X"):format(f.ext), "fuse_ext" },
    { "lock bits", ("0x%02X (%s)"):format(f.lock, mode and LOCK_TEXT[mode] or "invalid mode"),
      "lock" },
    { "clock source", clock_text(f.low, ctx.clock_hz), "clock_source" },
    { "ISP clock", khz(chip.sck_hz) .. " SCK" .. (chip.slow_clock and " (slow clock)" or ""),
      "isp_clock" },
  }
end

--- step protection(ctx, chip) -> { read = lock mode 3, write = { 0 } in modes 2 and 3 }
local function protection(_, chip)
  local mode = lock_mode(chip.fuses.lock) or 1
  return { read = mode == 3, write = mode >= 2 and { 0 } or {} }
end

--- step unprotect(ctx, chip, what) -> chip: only a Chip Erase lifts lock bits (flash, EEPROM
-- unless EESAVE, lock bits)
local function unprotect(ctx, chip)
  ctx.log("Chip Erase: the only way to clear the lock bits")
  ctx.isp:chip_erase()
  chip.fuses = read_fuses(ctx.isp)
  chip.read_protected = lock_mode(chip.fuses.lock) == 3
  return chip
end

---------------------------------------------------------------------------------------------
-- diagnosis (contract.md §6): evidence only — HS2 as the board reports it, what MISO gave back

local function rig_path(rig)
  return ({ cw506 = "the CW506 routing (its ISP lines)", cw313 = "the CW313's ISP header",
            serial = "the programmer's wiring", cw308 = "the 20-pin cable or the target's "
            .. "seating on the CW308" })[rig] or "the wiring"
end

local function candidates(ctx, kind)
  local board = ctx.dev.info and ctx.dev:info().name or "board"
  if kind == "zeros" then
    return {
      "no clock reaches the chip: HS2 is on, but the board cannot see whether it arrives at "
        .. "XTAL1 (" .. rig_path(ctx.rig) .. ", the CW308 clock selection)",
      "the chip's fuses select a clock source the rig does not have (a crystal): only a "
        .. "high-voltage programmer can reset them",
      "MISO is held low by something else on the target board",
    }
  end
  if kind == "garbled" then
    return {
      "the chip runs on a slower clock than SCK allows (CKDIV8 or the 128 kHz oscillator "
        .. "in its fuses, or a slower board clock): --set isp_hz=125000 or a faster clock",
      "noise or a poor ground on the ISP lines",
    }
  end
  return {
    "the ISP lines (MOSI, MISO, SCK) do not reach the chip: " .. rig_path(ctx.rig),
    "nRST does not reach the chip: without /RESET held low it ignores ISP",
    ("the target has no power (a %s cannot measure the target's supply)"):format(board),
    "ISP is disabled in the chip's fuses (RSTDISBL or DWEN programmed): only a high-voltage "
      .. "programmer recovers it",
  }
end

-- A silent chip: the board cannot tell cut ISP lines or nRST from a target without power, so
-- the first action is the look that can; disabled ISP is the last resort.
local function silent_actions(ctx)
  local diag = require "cwlua.doctor"
  return {
    ("first look at %s: lit, the target is powered and the ISP lines or nRST do not reach the "
      .. "chip; dark, it has no power (the board cannot tell these apart)"):format(
      diag.power_look(ctx)),
    "powered: check that MOSI, MISO, SCK and nRST reach the chip: " .. rig_path(ctx.rig),
    diag.unpowered(ctx),
    "if all of them reach a powered chip, ISP may be disabled in its fuses (RSTDISBL or DWEN): "
      .. "only a high-voltage programmer recovers it",
    "then run cwlua doctor " .. ctx.where .. (ctx.rig_known and (" --rig " .. ctx.rig) or "")
      .. " again",
  }
end

--- step explain(ctx, err) -> the seen/likely lines for a failed connect
local function explain(ctx, err)
  local ev = err.evidence or ctx.isp_evidence
  local kind = ev and ev.kind or "silent"
  local c = candidates(ctx, kind)
  local seen = ({
    silent = "seen: nothing came back: MISO stayed high (FF FF where AC 53 echoes)",
    zeros = "seen: MISO stayed low (00 00 where AC 53 echoes): the chip sits in reset but does "
      .. "not shift",
    garbled = ("seen: bytes without the echo (%s where AC 53 echoes)"):format(
      ev and avrparts.hex(ev.bytes) or "?"),
    echo = "seen: the echo came back only when read on its own",
  })[kind]
  local likely = "likely: " .. c[1] .. (c[2] and ("; or " .. c[2]) or "")
  if kind ~= "silent" then return { seen, likely } end
  return { seen, likely, todo = ("do: %s; then run '%s' to test each link"):format(
    silent_actions(ctx)[1]:gsub("^first ", ""), ctx.doctor_cmd or ("cwlua doctor " .. ctx.where)) }
end

local function doctor(ctx, report)
  local dev, d = ctx.dev, ctx.defaults
  local ok, isp = pcall(engine, ctx)
  if not ok then
    if not (errors.is(isp, "device") and (isp.code == "no_engine" or isp.cause == "no-engine"))
    then
      error(isp, 0)
    end
    report:step("ISP engine", "failed", (isp.message:gsub("^[^:]*: ", "")))
    report:conclude("no-engine")
    return
  end
  report:step("ISP engine", "ok", "the board answers SIGN_ON (V2/ISP)")
  ctx.isp = isp
  local hz, src = dev:clock()
  local clk = hz and dev.clock_info and dev:clock_info()
  local hs2_off = not hz
  if hz then
    report:step("clock", "unverifiable", ("%s on HS2 (%s)%s; the board cannot see whether it "
      .. "reaches the target"):format(khz(hz), src, clk and clk.note and ("; " .. clk.note)
      or ""))
  else
    report:step("clock", "failed", ("HS2 carries no clock (%s): a CW308 AVR runs from it "
      .. "(cwlua program switches %s on while it works)"):format(tostring(src), khz(d.clock_hz)))
    if src == HS2_GLITCH_SRC then
      report:conclude("glitch-active")
      return
    end
    dev:clock(d.clock_hz)
  end
  ctx.clock_hz = hz or d.clock_hz
  route_isp(ctx, true)
  report:step("ISP routing", "ok", "IOROUTE ISP bit set: MOSI, MISO, SCK to the 20-pin connector")
  local done = function()
    if isp.in_progmode then pcall(isp.leave, isp) end
    if isp.slow then pcall(isp.slow_clock, isp, false) end
    pcall(route_isp, ctx, false)
  end
  time.sleep(d.isp_settle_ms)
  isp:set_shared_timeout(d.engine_timeout_ticks)
  local eok, err = pcall(enter, ctx, isp)
  if not eok then
    done()
    if not errors.is(err, "target") then error(err, 0) end
    local ev = err.evidence or { kind = "silent" }
    local observed = explain(ctx, err)[1]:gsub("^seen: ", "")
    report:step("ISP entry", "failed", observed)
    report:step("reset", "unverifiable", "the board cannot see whether nRST reaches the chip")
    if ev.kind == "zeros" then
      report:conclude("no-clock", candidates(ctx, "zeros"))
    elseif ev.kind == "garbled" then
      report:conclude("garbled-reply", candidates(ctx, "garbled"))
    else
      report:conclude("no-reply", candidates(ctx, "silent"), silent_actions(ctx))
    end
    return
  end
  report:step("ISP entry", "ok", ("Programming Enable answered at %s SCK%s"):format(
    khz(ctx.sck_hz), ctx.slow_clock and " (slow clock)" or ""))
  local iok, chip = pcall(identify, ctx, isp)
  if not iok then
    done()
    if errors.is(chip, "input") then
      report:step("identify", "failed", chip.message:gsub("^[^:]*: ", ""))
      report:conclude("wrong-chip")
      return
    end
    error(chip, 0)
  end
  report:step("identify", "ok", ("%s, signature %s"):format(chip.name,
    avrparts.hex(chip.signature)))
  report:step("fuses", "ok", ("low 0x%02X (%s), high 0x%02X, ext 0x%02X, lock 0x%02X"):format(
    chip.fuses.low, clock_text(chip.fuses.low, ctx.clock_hz), chip.fuses.high, chip.fuses.ext,
    chip.fuses.lock))
  done()
  if hs2_off then
    report:conclude("no-clock", { "HS2 is off: the chip answers ISP with the clock cwlua "
      .. "switched on, but its firmware gets no clock without it" })
    return
  end
  report:conclude("ok")
end

-- A step whose V2 command reported a failure (a target error: a RDY/BSY or command timeout)
-- runs once more (contract.md §3.11) when running it twice leaves the chip as running it once.
-- A command that failed leaves the engine's advancing address unknown to cwlua (§C.3), so the
-- step run again starts with a LOAD_ADDRESS (v2isp's seek). Reads have no side effect; a flash
-- page written again with the same bytes stays them (flash takes the AND of old and new bits);
-- an EEPROM page write erases the page first; a fuse, the lock byte or a chip erase done twice
-- is done once (§C.5).
local ENGINE_ATTEMPTS = 2
local function again(step, what) return retry.wrap(step, what, ENGINE_ATTEMPTS) end

-- What --set accepts for the AVR parameters (cwlua.params, docs/targets.md "Parameters"); a
-- recipe's own params entry wins.
M.PARAMS = {
  flash_start = { min = 0, max = 0xFFFFFFFF },
  -- the CW-Lite/Pro clock generator (cw-usb-protocol.md §4.8, as cwlua.board checks it)
  clock_hz = { min = 753e3, max = 200e6, why = "what the board's clock generator makes" },
  -- the fastest SCK of the engine's table not above it is used (target-protocols.md §C.1)
  isp_hz = { above = 0 },
  slow_clock = { one_of = { "auto", true, false } },
  -- the shared TIMEOUT counter, 2.5 ticks a millisecond (§1): at most a minute
  engine_timeout_ticks = { min = 1, max = 150000 },
  isp_settle_ms = { type = "number", min = 0, max = 10000 },
}

--- avr.recipe(t) -> t with the AVR steps filled in (a recipe's own steps win), and the
-- parameters' ranges (M.PARAMS) for the defaults it has
function M.recipe(t)
  params.inherit(t, M.PARAMS)
  local base = { connect = connect, erase = again(erase, "chip erase"),
                 write = again(write, "flash write"), read = again(read, "flash read"),
                 start = start, info = info, protection = protection, unprotect = unprotect,
                 write_eeprom = again(write_eeprom, "EEPROM write"),
                 read_eeprom = again(read_eeprom, "EEPROM read"),
                 fuses = again(fuses, "fuse read"), write_fuse = again(write_fuse, "fuse write"),
                 write_lock = again(write_lock, "lock-bit write"), check_fuses = check_fuses,
                 explain = explain, doctor = doctor }
  for k, v in pairs(base) do
    if t[k] == nil then t[k] = v end
  end
  return t
end

return M
