-- SPDX-License-Identifier: MIT
-- cwlua.connect: finding a board on USB and bringing it up — the selection rules of contract.md §3
-- (-d usb, -d usb:SERIAL), the firmware check, loading the FPGA bitstream when the FPGA is not
-- configured, and NewAE's default set-up after that — plus the messages that say what to do
-- when USB fails. Facts are from docs/reference/cw-usb-protocol.md (cited as §N).
--
-- cwlua.board calls these with a Board; they use its raising helpers (_ctrl_in, _fpga_read,
-- ...) and raise cwlua.errors "device" errors with a stable code:
--   access, busy, no_device, timeout, stall, io, overflow (USB, from the transport);
--   ambiguous (several boards and no serial given), old_firmware (below what cwlua needs),
--   fpga_unprogrammed (no bitstream found, or the FPGA did not take it), invalid (a bitstream
--   file that cannot be used: exit 2, nothing was changed).
local bitstream = require "cwlua.bitstream"
local clkgen = require "cwlua.board.clkgen"
local clock = require "cwlua.board.clock"
local pll = require "cwlua.board.pll"
local time = require "cwlua.time"
local device = require "cwlua.core.device"
local errors = require "cwlua.errors"

local M = {}

local RT_IN, RT_OUT = 0xC1, 0x41 -- vendor, interface, device-to-host / host-to-device (§0)
local REQ_FPGA_STATUS, REQ_FPGA_PROGRAM, REQ_FW_VERSION = 0x15, 0x16, 0x17 -- §2.3
local REQ_CDC_SETTINGS = 0x31 -- §2.3: "CDC may change settings" flags
local PROG_ERASE, PROG_START, PROG_END = 0x00A0, 0x00A1, 0x00A2 -- 0x16 sub-commands (§3.4)
local PROG_HZ = 10000000 -- NewAE's default programming speed, prog_speed=10E6 (§3.4)
local SLICE = 65536      -- bitstream bulk slice (§3.2)
-- One 64 KiB slice takes 52 ms at 10 MHz (§3.4); NewAE allows 20 s (§8), 5 s is plenty and
-- still ends a wedged transfer quickly.
local SLICE_TIMEOUT_MS = 5000
local DONE_POLLS = 5     -- 0x15 polls after the stream, 1 ms apart (§3.4 step 6)
local CTRL_TIMEOUT_MS = 2000 -- as cwlua.board's: a board answers in a millisecond
-- `cwlua list` asks each board two short questions; NewAE allows 500 ms before a device is
-- opened (§1.3 item 6): this bounds how long a wedged board holds up the listing
local LIST_TIMEOUT_MS = 500

-- Firmware versions per product ID. shipped: what NewAE's Python package bundles (§1.1).
-- minimum: the newest §2.4 feature cwlua relies on — TX_IN_WAITING (0x1B/0x18, how much of the
-- transmit buffer is free), SERIAL_200_BUFFER (the 199-byte buffers cwlua sizes its writes
-- for) and, with an FPGA, FPGA_LOCK_RESET (0x22/0x11, the recovery after a stalled register
-- request). prog_speed: VARIABLE_FPGA_PROG_SPEED, below which 0x16/0xA0 carries no data.
-- cdc: the CDC feature, below which NewAE skips the 0x31 request of default_setup() (§6.1).
local FIRMWARE = {
  [0xACE0] = { shipped = { 0, 66, 0 }, minimum = { 0, 23, 0 }, cdc = { 0, 30, 0 } },
  [0xACE2] = { shipped = { 0, 65, 0 }, minimum = { 0, 30, 0 }, prog_speed = { 0, 52, 0 },
               cdc = { 0, 30, 0 } },
  [0xACE3] = { shipped = { 1, 62, 0 }, minimum = { 1, 30, 0 }, prog_speed = { 1, 52, 0 },
               cdc = { 1, 30, 0 } },
  [0xACE5] = { shipped = { 1, 5, 0 }, minimum = { 1, 0, 0 }, prog_speed = { 1, 1, 0 },
               cdc = { 1, 0, 0 } },
  -- Husky Plus: Python compares it with the Husky's 1.5 and HUSKYFW says 1.1 (§1.1,
  -- unconfirmed); 1.1 avoids a warning that no update can clear
  [0xACE6] = { shipped = { 1, 1, 0 }, minimum = { 1, 0, 0 }, prog_speed = { 1, 1, 0 },
               cdc = { 1, 0, 0 } },
}

-- The contract.md §6 cause for each failure code, for the CLI (--json) and doctor. A board that
-- is attached but fails a transfer (timeout, stall, I/O error, overflow) is "usb-error": telling
-- its user to plug it in would be wrong.
M.CAUSE = { access = "usb-permission", busy = "usb-busy", no_device = "no-board",
            timeout = "usb-error", stall = "usb-error", io = "usb-error", overflow = "usb-error",
            old_firmware = "old-firmware", fpga_unprogrammed = "fpga-unprogrammed" }

local function fail(code, fmt, ...)
  error(errors.new("device", fmt:format(...), { code = code }), 0)
end

local function version_string(v)
  return ("%d.%d.%d"):format(v[1], v[2], v[3])
end

--- connect.older(a, b) -> true when version a = {major, minor, debug} is older than b,
-- compared numerically (§2.4: NewAE compares the strings, which gets 1.10 < 1.4 wrong)
function M.older(a, b)
  for i = 1, 3 do
    if a[i] ~= b[i] then return a[i] < b[i] end
  end
  return false
end

---------------------------------------------------------------------------------------------
-- messages for USB failures

local RULES = "60-cwlua.rules"
-- Where udev reads rules that a package installed (the Debian package: /lib/udev/rules.d).
local SYSTEM_RULES = { "/lib/udev/rules.d/", "/usr/lib/udev/rules.d/" }

--- connect.rules_path() -> where cwlua's udev rule is: <exe dir>/../share/cwlua/udev/... for
-- the build tree and an install from source
function M.rules_path()
  local exe = require("cwlua.core.runtime").exe_path()
  local dir = exe and exe:match("^(.*)/[^/]*$")
  if not dir then return "share/cwlua/udev/" .. RULES .. " (in cwlua's install folder)" end
  return dir:gsub("/bin$", "") .. "/share/cwlua/udev/" .. RULES
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

--- connect.hint(code) -> "; what to do" for a failed transfer or open, or ""
function M.hint(code)
  if code == "access" then
    local beside = M.rules_path()
    if not exists(beside) then -- a package: the rule is where udev reads it already
      for _, d in ipairs(SYSTEM_RULES) do
        if exists(d .. RULES) then
          return ("; cwlua's udev rule is installed (%s): unplug the board and plug it back "
            .. "in; over SSH or for a service, join the plugdev group: sudo usermod -aG plugdev "
            .. "$USER, then log in again (see docs/install.md)"):format(d .. RULES)
        end
      end
    end
    return ("; install cwlua's udev rule and join the plugdev group: sudo cp %s "
      .. "/etc/udev/rules.d/ && sudo udevadm control --reload-rules && sudo udevadm trigger, "
      .. "then sudo usermod -aG plugdev $USER and log in again (see docs/install.md)"):format(
      beside)
  elseif code == "busy" then
    return "; another program has the board open: close it there (in a notebook using NewAE's "
      .. "chipwhisperer, call scope.dis()), then run cwlua again"
  elseif code == "no_device" then
    return "; plug the board back in and try again"
  elseif code == "timeout" then
    return "; the board stopped answering: unplug it and plug it back in"
  elseif code == "stall" or code == "io" or code == "overflow" then
    return "; unplug the board and plug it back in (straight into the computer, not through a "
      .. "hub); if it keeps happening, check its firmware with cwlua list"
  end
  return ""
end

---------------------------------------------------------------------------------------------
-- selection (contract.md §3 -d usb, usb:SERIAL; cw-usb-protocol.md §1.3)

local function describe(e)
  return ("%s %s"):format(e.kind, e.serial ~= "" and e.serial or ("at usb %03d/%03d"):format(
    e.bus, e.address))
end

local function unopenable(e)
  return ("the %s at usb %03d/%03d"):format(e.kind, e.bus, e.address)
end

-- Where the parent of a worker found this board (cwlua.multi): "BUS:ADDRESS" in
-- $CWLUA_WORKER_USB. Opened there directly, a board is not looked for among all the others: N
-- workers would otherwise each open every one of N boards to read its serial number. The open
-- checks the serial number, and a board that is no longer there is looked for as usual.
local function open_at_hint(serial)
  local bus, address = (os.getenv("CWLUA_WORKER_USB") or ""):match("^(%d+):(%d+)$")
  if not bus or not serial then return nil end
  return device.open({ backend = "libusb", bus = tonumber(bus), address = tonumber(address),
                       serial = serial })
end

--- connect.open_usb(serial) -> dev | nil, msg, code. serial: nil for "the only board".
function M.open_usb(serial)
  local hinted = open_at_hint(serial)
  if hinted then return hinted end
  local list, msg, code = device.usb_list()
  if not list then return nil, "usb: " .. msg, code end
  local boards = {}
  for _, e in ipairs(list) do
    if e.kind ~= "" then boards[#boards + 1] = e end
  end
  table.sort(boards, function(a, b) -- bus order, for messages that do not change between runs
    return a.bus < b.bus or (a.bus == b.bus and a.address < b.address)
  end)
  local pick
  if serial then
    for _, e in ipairs(boards) do
      if e.serial == serial then pick = e end
    end
    if not pick then
      -- a board that cannot be opened does not tell its serial: it may be the one
      for _, e in ipairs(boards) do
        if e.code then
          return nil, ("usb:%s: cannot read the serial number of %s: %s%s"):format(serial,
            unopenable(e), e.error, M.hint(e.code)), e.code
        end
      end
      local names = {}
      for _, e in ipairs(boards) do names[#names + 1] = describe(e) end
      return nil, ("usb:%s: no board with that serial number is attached (%s)"):format(serial,
        #names > 0 and ("attached: " .. table.concat(names, ", ")) or "none is"), "no_device"
    end
  else
    if #boards == 0 then
      return nil, "usb: no ChipWhisperer board found; connect one (cwlua list shows what is "
        .. "attached), or use -d sim for the simulator", "no_device"
    end
    if #boards > 1 then
      local names = {}
      for _, e in ipairs(boards) do names[#names + 1] = describe(e) end
      return nil, ("usb: %d boards are attached (%s); choose one with -d usb:SERIAL"):format(
        #boards, table.concat(names, ", ")), "ambiguous"
    end
    pick = boards[1]
  end
  if pick.code then
    return nil, ("usb: cannot open %s: %s%s"):format(unopenable(pick), pick.error,
      M.hint(pick.code)), pick.code
  end
  local dev
  dev, msg, code = device.open({ backend = "libusb", bus = pick.bus, address = pick.address,
                                 serial = pick.serial ~= "" and pick.serial or nil })
  if not dev then
    return nil, ("usb: cannot open %s: %s%s"):format(describe(pick), msg, M.hint(code)), code
  end
  return dev
end

--- connect.probe(entry) -> { firmware = "0.65.0" | nil, fpga = "configured" | "unconfigured" |
-- nil } | nil, msg, code: what `cwlua list` shows of a board from device.usb_list(): it is
-- opened (claimed) briefly and asked its firmware version (0x17) and FPGA state (0x15, §3.3).
function M.probe(e)
  local dev, msg, code = device.open({ backend = "libusb", bus = e.bus, address = e.address })
  if not dev then return nil, msg, code end
  local out = M.ask(dev, e.kind)
  dev:close()
  return out
end

--- connect.ask(dev, kind) -> { firmware, fpga }: the two questions of M.probe, to a device
-- opened without M.run's checks (cwlua.core.device). A board whose firmware is too old or
-- whose FPGA is not configured answers them too: `cwlua list` marks it, where opening it
-- for a command stops or loads a bitstream. Changes nothing on the board.
function M.ask(dev, kind)
  local out = {}
  local v = dev:control(RT_IN, REQ_FW_VERSION, 0, 0, 3, LIST_TIMEOUT_MS)
  if v and #v == 3 then out.firmware = version_string({ v:byte(1, 3) }) end
  if kind ~= "nano" then -- the Nano has no FPGA (§7.1)
    local st = dev:control(RT_IN, REQ_FPGA_STATUS, 0, 0, 4, LIST_TIMEOUT_MS)
    if st and #st == 4 then out.fpga = st:byte(1) & 1 == 1 and "configured" or "unconfigured" end
  end
  return out
end

---------------------------------------------------------------------------------------------
-- firmware (§1.1, §2.4)

local function check_firmware(b, notify)
  local fw = FIRMWARE[b.pid]
  if not fw then return end
  local have = b._fw
  if M.older(have, fw.minimum) then
    fail("old_firmware", "%s: firmware %s is too old for cwlua, which needs at least %s "
      .. "(NewAE ships %s); update it with NewAE's chipwhisperer Python package: "
      .. "scope.upgrade_firmware() (see docs/install.md)", b:_where(), b.firmware,
      version_string(fw.minimum), version_string(fw.shipped))
  end
  if M.older(have, fw.shipped) then
    local msg = ("%s: firmware %s is older than %s, the version NewAE ships; update it with "
      .. "NewAE's chipwhisperer Python package: scope.upgrade_firmware() (see docs/install.md)")
      :format(b:_where(), b.firmware, version_string(fw.shipped))
    b._warnings[#b._warnings + 1] = msg
    notify("warning: " .. msg)
  end
end

--- connect.firmware_note(pid, version) -> nil when version ("0.65.0") is fine for that product
-- ID, else a short note: "too old for cwlua, which needs 0.30.0" or "NewAE ships 0.65.0"
function M.firmware_note(pid, version)
  local fw = FIRMWARE[pid]
  local v = { (version or ""):match("^(%d+)%.(%d+)%.(%d+)$") }
  if not fw or #v ~= 3 then return nil end
  for i = 1, 3 do v[i] = tonumber(v[i]) end
  if M.older(v, fw.minimum) then
    return ("too old for cwlua, which needs %s"):format(version_string(fw.minimum))
  elseif M.older(v, fw.shipped) then
    return ("NewAE ships %s"):format(version_string(fw.shipped))
  end
end

local function has(b, feature)
  local v = (FIRMWARE[b.pid] or {})[feature]
  return v ~= nil and not M.older(b._fw, v)
end

---------------------------------------------------------------------------------------------
-- loading the bitstream (§3.4 step 3)

local function load_fpga(b, bit, from)
  local data = has(b, "prog_speed") and string.pack("<I4", PROG_HZ) or ""
  local ok, msg, code = b._dev:control(RT_OUT, REQ_FPGA_PROGRAM, PROG_ERASE, 0, data,
    CTRL_TIMEOUT_MS)
  if not ok and code == "stall" and data ~= "" then -- NewAE retries once without the speed
    b:_ctrl_out(REQ_FPGA_PROGRAM, PROG_ERASE)
  elseif not ok then
    b:_usb_fail(("FPGA erase (request 0x%02X OUT)"):format(REQ_FPGA_PROGRAM), msg, code)
  end
  time.sleep(1)
  b:_ctrl_out(REQ_FPGA_PROGRAM, PROG_START)
  time.sleep(1)
  local s = bitstream.stream(bit)
  for i = 1, #s, SLICE do
    b:_bulk_out(s:sub(i, i + SLICE - 1), SLICE_TIMEOUT_MS, "bitstream")
  end
  local last = (#s - 1) % SLICE + 1
  -- a last packet that leaves the firmware's 1024-byte buffer part-filled is delivered only
  -- by a short packet; end such a stream with a zero-length one (§2.5, inferred)
  if last % 512 == 0 and last % 1024 ~= 0 then b:_bulk_out("", SLICE_TIMEOUT_MS, "bitstream") end
  local done = false
  for _ = 1, DONE_POLLS do
    if b:_ctrl_in(REQ_FPGA_STATUS, 0, 4):byte(1) & 1 == 1 then
      done = true
      break
    end
    time.sleep(1)
  end
  b:_ctrl_out(REQ_FPGA_PROGRAM, PROG_END) -- sent whether or not DONE rose (§3.4 step 7)
  if not done then
    fail("fpga_unprogrammed", "%s: the FPGA did not configure from %s (its DONE pin stayed "
      .. "low); the file may be damaged or for another board: pass a good one with "
      .. "--bitstream FILE", b:_where(), from)
  end
end

---------------------------------------------------------------------------------------------
-- NewAE's default_setup() (§6.1 Lite/Pro; §6.2 Husky: the parts programming depends on)

local REG = { GAIN = 0, SETTINGS = 1, ADVCLOCK = 6, SAMPLES = 16, OFFSET = 26, TRIGSRC = 39,
              IOROUTE = 55 } -- §4.0
local DEFAULT_HZ = 7.37e6    -- clkgen_freq = 7.37e6: 7.3846 MHz on the Lite, 7.3701 on a Husky

local function setbyte(s, i, v) return s:sub(1, i - 1) .. string.char(v) .. s:sub(i + 1) end

local function default_setup(b)
  local husky = b._kind.clkgen == "pll"
  if not husky then
    local s = b:_fpga_read(REG.SETTINGS, 1):byte()
    b:_fpga_write(REG.SETTINGS, string.char(s | 0x02)) -- 1: gain.db = 25: high mode (§4.7)
    b:_fpga_write(REG.GAIN, "\30")                      -- ... and 30
    b:_fpga_write(REG.SAMPLES, string.pack("<I4", 5000)) -- 2: adc.samples = 5000
    b:_fpga_write(REG.OFFSET, string.pack("<I4", 0))     -- 3: adc.offset = 0
    s = b:_fpga_read(REG.SETTINGS, 1):byte()             -- 4: basic_mode = rising_edge
    b:_fpga_write(REG.SETTINGS, string.char((s & ~0x24) | 0x24))
    clkgen.set(b, DEFAULT_HZ)                            -- 5 and 13: clkgen_freq, lock
  end
  -- 6: triggers = "tio4" (Husky: 2 bytes, §6.2)
  b:_fpga_write(REG.TRIGSRC, husky and "\x20\0" or "\x20")
  local io = b:_fpga_read(REG.IOROUTE, 8)                -- 7-9: tio1 RX, tio2 TX, tio4 high-Z
  io = setbyte(setbyte(setbyte(io, 1, 0x02), 2, 0x01), 4, 0x00)
  b:_fpga_write(REG.IOROUTE, io)
  clock.hs2(b, clock.HS2_CLKGEN)                         -- 10: hs2 = "clkgen"
  if not husky then                                      -- 11: adc_src = "clkgen_x4"
    local adv = b:_fpga_read(REG.ADVCLOCK, 4)
    adv = setbyte(adv, 1, adv:byte(1) & ~0x07)
    b:_fpga_write(REG.ADVCLOCK, adv)
    clkgen.pulse(b, adv, 1, 0x10)                        -- ADC DCM reset
    clkgen.glitch_dcm_reset(b)
  end
  if has(b, "cdc") then b:_ctrl_out(REQ_CDC_SETTINGS, 0) end -- 12: cdc_settings = 0
  -- the Husky's clock: its PLL's set-up, 7.37 MHz with the ADC at x4, locked (§6.2)
  if husky then pll.default_setup(b, DEFAULT_HZ) end
end

---------------------------------------------------------------------------------------------
-- the whole sequence

--- connect.run(board, opts): firmware version and check, FPGA state; when the FPGA is not
-- configured, find the bitstream (opts.bitstream, $CWLUA_BITSTREAM, the config files', NewAE's
-- package), load it and apply the default set-up (contract.md §3). opts.notify(msg) reports
-- progress and warnings.
function M.run(b, opts)
  local notify = opts.notify or function() end
  b._warnings = {}
  local v = b:_ctrl_in(REQ_FW_VERSION, 0, 3) -- [major][minor][debug] (§2.3)
  b._fw = { v:byte(1, 3) }
  b.firmware = version_string(b._fw)
  check_firmware(b, notify)
  if not b._kind.fpga then
    b.fpga = "none"
    return
  end
  local st = b:_ctrl_in(REQ_FPGA_STATUS, 0, 4) -- byte0 bit0 = DONE (§3.3)
  if st:byte(1) & 1 == 1 then
    b.fpga = "configured"
    return
  end
  b.fpga = "unconfigured"
  local want = bitstream.BOARDS[b.kind]
  local config = require "cwlua.config"
  local conf_file, conf_origin = config.file_value("bitstream")
  local path, origin = bitstream.locate(b.kind, { file = opts.bitstream,
    env = os.getenv("CWLUA_BITSTREAM"),
    config = conf_file and { file = conf_file, where = config.where(conf_origin) } })
  if not path then
    -- one short line, then the places searched and the ways out one to a line: a list run
    -- together on one line is unreadable (it was 600 characters)
    fail("fpga_unprogrammed", "%s: its FPGA is not configured (as after power-up) and cwlua "
      .. "found no bitstream to load\n  looked at: %s\n"
      .. "  do: pass --bitstream FILE: %s, NewAE's %s, or\n"
      .. "      hardware/firmware/%s of NewAE's chipwhisperer Python package;\n"
      .. "      or set CWLUA_BITSTREAM=FILE; or install the package: pip install chipwhisperer",
      b:_where(), table.concat(origin, "\n             "), want.bit, want.zip, want.module)
  end
  local bit, from, code = bitstream.load(path, b.kind)
  if not bit then
    fail(code == "io" and "invalid" or code, "%s: its FPGA is not configured, and the bitstream "
      .. "from %s cannot be used: %s", b:_where(), origin, from)
  end
  notify(("%s: loading the FPGA bitstream %s"):format(b:_where(), from))
  load_fpga(b, bit, from)
  b.fpga, b.fpga_loaded = "configured", from
  default_setup(b)
  notify(("%s: FPGA configured; applied NewAE's default set-up (TIO1 serial RX, TIO2 serial TX, "
    .. "clock on HS2)"):format(b:_where()))
end

return M
