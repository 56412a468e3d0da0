-- SPDX-License-Identifier: MIT
-- tests/usb/usb_test.lua: cwlua's libusb backend against simulated boards on a mock USB bus
-- (`cwlua sim attach`, docs/simulator-attach.md): the real libusb, the real usbfs ioctls,
-- the simulator answering. Every case is one attach session with `timeout` around it, so a
-- hang fails the case instead of the run.
--
--   cwlua run tests/usb/usb_test.lua WORKDIR
--
-- Environment (tests/usb/CMakeLists.txt sets it): CWLUA_BIN (the cwlua under test),
-- CWLUA_USB_SHIM (eacces_shim.so), CWLUA_SOURCE_DIR, CWLUA_PYTHON (/usr/bin/python3 with
-- python3-usb1). The last line is "usb: N passed, N failed"; the exit status 0 when all pass.
local work = assert(arg[1], "usage: cwlua run usb_test.lua WORKDIR")
local BIN = assert(os.getenv("CWLUA_BIN"), "CWLUA_BIN not set")
local SHIM = assert(os.getenv("CWLUA_USB_SHIM"), "CWLUA_USB_SHIM not set")
local SRC = assert(os.getenv("CWLUA_SOURCE_DIR"), "CWLUA_SOURCE_DIR not set")
local PYTHON = os.getenv("CWLUA_PYTHON") or "/usr/bin/python3"
local HERE = SRC .. "/tests/usb"
local HANG_S = 60 -- a case that takes this long has hung

local passed, failed = 0, 0

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function spit(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  return ok and 0 or (how == "exit" and code or 128 + code)
end

local function check(name, cond, detail)
  if cond then
    passed = passed + 1
    print("ok   " .. name)
  else
    failed = failed + 1
    print("FAIL " .. name .. (detail and (": " .. detail) or ""))
  end
  io.stdout:flush()
end

local function eq(name, got, want)
  check(name, got == want, ("got %q, want %q"):format(tostring(got), tostring(want)))
end

local function has(name, text, needle)
  check(name, text:find(needle, 1, true) ~= nil, ("%q not in %q"):format(needle, text))
end

local session = 0
--- attach{ specs = {...}, faults = {...}, cmd = "shell command" } -> { status, out, err, s }
-- cmd runs under sh with $CWLUA = the cwlua under test; s: wall-clock seconds
local function attach(o)
  session = session + 1
  local dir = ("%s/s%02d"):format(work, session)
  sh("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir))
  local words = { "timeout", tostring(HANG_S), q(BIN), "sim", "attach", "--sim-state",
                  q(dir .. "/state") }
  for _, f in ipairs(o.faults or {}) do
    words[#words + 1] = "--sim-fault"
    words[#words + 1] = q(f)
  end
  for _, s in ipairs(o.specs or { "cwlite@S1" }) do words[#words + 1] = q(s) end
  words[#words + 1] = "-- sh -c " .. q(o.cmd)
  local env = ("env -u CWLUA_BITSTREAM -u PYTHONPATH -u CWLUA_DEVICE CWLUA=%s PATH=/usr/bin:/bin "
    .. "XDG_STATE_HOME=%s %s"):format(q(BIN), q(dir .. "/xdg"), o.env or "")
  local t0 = require("cwlua.core.device").monotonic_ns()
  local status = sh(("cd %s && %s %s >%s/out 2>%s/err </dev/null"):format(q(dir), env,
    table.concat(words, " "), q(dir), q(dir)))
  local s = (require("cwlua.core.device").monotonic_ns() - t0) / 1e9
  return { status = status, out = slurp(dir .. "/out"), err = slurp(dir .. "/err"), s = s,
           dir = dir }
end

local function lua_script(name, text)
  return spit(work .. "/" .. name, text)
end

sh("rm -rf " .. q(work) .. " && mkdir -p " .. q(work))
local RULES = BIN:match("^(.*)/[^/]*$"):gsub("/bin$", "") .. "/share/cwlua/udev/60-cwlua.rules"
local ACCESS_HINT = "; install cwlua's udev rule and join the plugdev group: sudo cp " .. RULES
  .. " /etc/udev/rules.d/ && sudo udevadm control --reload-rules && sudo udevadm trigger, then "
  .. "sudo usermod -aG plugdev $USER and log in again (see docs/install.md)"
local BUSY_HINT = "; another program has the board open: close it there (in a notebook using "
  .. "NewAE's chipwhisperer, call scope.dis()), then run cwlua again"

-- synthetic bitstreams in every accepted form (mkbitstream.py)
local BS = work .. "/bitstreams"
assert(sh(("%s %s/mkbitstream.py cwlite %s"):format(PYTHON, HERE, q(BS))) == 0,
  "mkbitstream.py failed")

---------------------------------------------------------------------------------------------
print("# cwlua list")
do
  local r = attach{ specs = { "cwlite@50203120a0b1c2d3" }, cmd = "$CWLUA list" }
  eq("list: exit 0", r.status, 0)
  has("list: the board with kind, serial, firmware and FPGA state", r.out,
    "boards:\n  cwlite  50203120a0b1c2d3  firmware 0.65.0  FPGA configured\n")
  r = attach{ specs = { "cwlite@50203120a0b1c2d3" }, cmd = "$CWLUA list --json" }
  has("list --json: a usb board", r.out, '{"boards":[{"address":2,"backend":"usb","bus":1,'
    .. '"firmware":"0.65.0","fpga":"configured","kind":"cwlite","pid":"ace2",'
    .. '"product":"ChipWhisperer Lite","serial":"50203120a0b1c2d3"}]')
  r = attach{ faults = { "fpga-unprogrammed" }, cmd = "$CWLUA list" }
  has("list: an unconfigured FPGA", r.out, "  cwlite  S1  firmware 0.65.0  FPGA unconfigured\n")
  r = attach{ specs = { "nano@N1" }, cmd = "$CWLUA list" }
  has("list: a CW-Nano has no FPGA", r.out, "  nano    N1  firmware 0.66.0  FPGA n/a\n")
end

---------------------------------------------------------------------------------------------
print("# firmware version, pins and clock through the libusb backend")
do
  local info = lua_script("info.lua", [[
local b <close> = assert(cw.open())
local i = b:info()
print(i.backend, i.kind, i.serial, i.product, i.firmware, i.fpga, #i.warnings)
]])
  local r = attach{ cmd = "$CWLUA run " .. q(info) }
  eq("firmware: exit 0", r.status, 0)
  eq("firmware: read over libusb", r.out, "libusb\tcwlite\tS1\tChipWhisperer Lite\t0.65.0\t"
    .. "configured\t0\n")

  -- a pin change the simulated wiring then shows on CW_IOREAD (§4.2), and a clock change the
  -- simulated FPGA's frequency counter measures (ADCFREQ, §4.0: Hz = count x 96 MHz / 2^23)
  local pins = lua_script("pins.lua", [[
local b <close> = assert(cw.open())
print("reset routing", b:pin("tio1"), b:pin("tio2"), b:clock())
print("tio3 high", b:pin("tio3", "high"), b:level("tio3"))
print("tio3 low", b:pin("tio3", "low"), b:level("tio3"))
print("tio3 high_z", b:pin("tio3", "high_z"))
print("nrst", b:pin("nrst", "low"), b:pin("nrst"))
print("tio1", b:pin("tio1", "serial_rx"), b:pin("tio1"))
print("clock", b:clock(10e6))
print("clock now", b:clock())
local count = string.unpack("<I4", assert(b:fpga_read(8, 4)))
print("measured", math.floor(count * 96e6 / (1 << 23) / 1000 + 0.5), "kHz")
print("clock off", b:clock(false))
]])
  r = attach{ env = "CWLUA_SIM_TRACE=1", cmd = "$CWLUA run " .. q(pins) }
  eq("pins: exit 0", r.status, 0)
  eq("pins and clock: set, read back, and seen by the simulated board", r.out,
    "reset routing\tserial_tx\tserial_rx\tfalse\toff\n"
    .. "tio3 high\thigh\t1\n" .. "tio3 low\tlow\t0\n" .. "tio3 high_z\thigh_z\n"
    .. "nrst\tlow\tlow\n" .. "tio1\tserial_rx\tserial_rx\n"
    .. "clock\t10000000.0\tclkgen\n" .. "clock now\t10000000.0\tclkgen\n"
    .. "measured\t10000\tkHz\n" .. "clock off\tfalse\toff\n")
  -- the helper's trace: the IOROUTE write (register 55) that drives TIO3 high (0xC0, §4.1)
  has("pins: the board received the IOROUTE write", r.err,
    "ctrl 41 13 0000 0000 16 > 08 00 00 00 37 00 00 00 01 02 c0 00 00 00 00 00")

  r = attach{ cmd = "$CWLUA clock 8MHz && $CWLUA clock" }
  eq("cwlua clock: exit 0", r.status, 0)
  eq("cwlua clock: set and shown", r.out, "8000000 Hz (clkgen on HS2)\n"
    .. "8000000 Hz (clkgen on HS2)\n")
end

---------------------------------------------------------------------------------------------
print("# a serial round trip with the simulated STM32 bootloader")
do
  do
    -- AN3155 through the board's USART bridge: sync (0x7F -> ACK 0x79), then Get ID (0x02)
    local boot = lua_script("boot.lua", [[
local b <close> = assert(cw.open())
assert(b:pin("tio1", "serial_rx")); assert(b:pin("tio2", "serial_tx"))
assert(b:pin("pdic", "high"))                      -- BOOT0 on a CW308
assert(b:pin("nrst", "low")); cw.sleep(10); assert(b:pin("nrst", "high_z")); cw.sleep(50)
local s = assert(b:serial{ baud = 115200, parity = "even" })
assert(s:write("\x7F"))
print(("sync %02X"):format(assert(s:read(1, 500)):byte()))
assert(s:write("\x02\xFD"))
print(("get id %s"):format((assert(s:read(5, 500)):gsub(".", function(c)
  return ("%02X "):format(c:byte()) end))))
]])
    local r = attach{ specs = { "cwlite:stm32f100xb@S1" }, cmd = "$CWLUA run " .. q(boot) }
    eq("stm32 bootloader: exit 0", r.status, 0)
    eq("stm32 bootloader: sync and Get ID through the USART bridge", r.out,
      "sync 79\nget id 79 01 04 20 79 \n")
    r = attach{ specs = { "cwlite:stm32f100xb@S1" }, cmd = "$CWLUA info stm32f1" }
    eq("cwlua info stm32f1 over libusb: exit 0", r.status, 0)
    has("cwlua info stm32f1 over libusb: the chip answered", r.out, "(ID 0x420)")
    -- program through the real libusb backend; a second cwlua in the same session
    -- reads the simulated flash back
    local hex = (os.getenv("CWLUA_SOURCE_DIR") or ".") .. "/examples/stm32f1-hello/hello"
    r = attach{ specs = { "cwlite:stm32f1@S1" }, cmd = "$CWLUA program stm32f1 " .. q(hex .. ".hex")
      .. " -q && $CWLUA read stm32f1 back.bin --len 368 -q" }
    eq("cwlua program stm32f1 over libusb: exit 0", r.status, 0)
    eq("cwlua program stm32f1 over libusb: the simulated flash holds the image",
      slurp(r.dir .. "/back.bin"), slurp(hex .. ".bin"))
  end
end

---------------------------------------------------------------------------------------------
print("# a CW-Husky and a CW-Nano: their clocks, programming and doctor over libusb")
do
  -- the Husky's CDCI6214 PLL through request 0x29 (cw-usb-protocol.md §4.9.7): 7.37 MHz as
  -- NewAE's search makes it, the F1 programmed at 8 MHz, the PLL put back, doctor's evidence
  local hex = SRC .. "/examples/stm32f1-hello/hello"
  local pll_line = "7370130 Hz (PLL on HS2, ADC 29480519 Hz)\n"
  local r = attach{ specs = { "husky:stm32f1@H1" }, cmd = "$CWLUA clock 7.37e6 && $CWLUA program "
    .. "stm32f1 " .. q(hex .. ".hex") .. " -q && $CWLUA read stm32f1 back.bin --len 368 -q && "
    .. "$CWLUA clock && $CWLUA --json doctor stm32f1" }
  eq("husky: exit 0", r.status, 0)
  check("husky: clock 7.37e6, then the same clock after program", r.out:sub(1, 2 * #pll_line)
    == pll_line:rep(2), r.out .. r.err)
  eq("husky: the simulated flash holds the image", slurp(r.dir .. "/back.bin"),
    slurp(hex .. ".bin"))
  has("husky: doctor stm32f1 finds nothing wrong", r.out, '"cause":"ok"')
  has("husky: doctor counts the PLL's ADC clock", r.out, "PLL locked, its ADC output counted at "
    .. "29.48 MHz by the FPGA as set")
  -- after power-up: cwlua loads the bitstream and sets the PLL as NewAE's default_setup does
  assert(sh(("%s %s/mkbitstream.py husky %s"):format(PYTHON, HERE, q(BS))) == 0,
    "mkbitstream.py husky failed")
  r = attach{ specs = { "husky@H2" }, faults = { "fpga-unprogrammed" },
              cmd = "$CWLUA --bitstream " .. q(BS .. "/husky.bit") .. " clock" }
  eq("husky after power-up: exit 0", r.status, 0)
  eq("husky after power-up: the default clock", r.out, pll_line)
  -- the Nano's PCK2 (§7.2) and its own STM32F030
  r = attach{ specs = { "nano:stm32f030x6@N1" }, cmd = "$CWLUA clock 7.5e6 && $CWLUA program "
    .. "CWNANO " .. q(hex .. ".hex") .. " -q && $CWLUA clock" }
  eq("nano: exit 0", r.status, 0)
  eq("nano: clock 7.5e6, and the same after program", r.out, ("7500000 Hz (pck2 on HS2)\n"):rep(2))
end

---------------------------------------------------------------------------------------------
print("# two boards")
do
  local specs = { "cwlite@AAA1", "cw1200@BBB2" }
  local r = attach{ specs = specs, cmd = "$CWLUA -d usb:BBB2 list && $CWLUA -d usb:BBB2 clock" }
  eq("two boards: usb:SERIAL picks one: exit 0", r.status, 0)
  has("two boards: both listed", r.out, "boards:\n  cwlite  AAA1  firmware 0.65.0  FPGA "
    .. "configured\n  cw1200  BBB2  firmware 1.62.0  FPGA configured\n")
  has("two boards: usb:SERIAL talks to that one", r.out, "no clock on HS2 (off)\n")
  r = attach{ specs = specs, cmd = "CWLUA_DEVICE=usb:AAA1 $CWLUA run " .. q(work .. "/info.lua") }
  eq("two boards: CWLUA_DEVICE=usb:SERIAL", r.out, "libusb\tcwlite\tAAA1\tChipWhisperer Lite\t"
    .. "0.65.0\tconfigured\t0\n")
  r = attach{ specs = specs, cmd = "$CWLUA clock" }
  eq("two boards, no selection: exit 3", r.status, 3)
  eq("two boards, no selection: both named", r.err, "cwlua: usb: 2 boards are attached (cwlite "
    .. "AAA1, cw1200 BBB2); choose one with -d usb:SERIAL\n")
  r = attach{ specs = specs, cmd = "$CWLUA -d usb:CCC3 clock" }
  eq("two boards, unknown serial: exit 3", r.status, 3)
  eq("two boards, unknown serial: says which are there", r.err, "cwlua: usb:CCC3: no board "
    .. "with that serial number is attached (attached: cwlite AAA1, cw1200 BBB2)\n")
end

---------------------------------------------------------------------------------------------
print("# FPGA not configured: the bitstream in each form, then the default set-up")
do
  local setup = lua_script("setup.lua", [[
local b <close> = assert(cw.open())
local function byte(reg, n) return (assert(b:fpga_read(reg, n or 1))):byte(1, -1) end
print("fpga", b:info().fpga)
print("routing", b:pin("tio1"), b:pin("tio2"), b:pin("tio4"))
print("clock", b:clock())
print("gain", byte(0), "settings", byte(1), "samples", (string.unpack("<I4", b:fpga_read(16, 4))))
print("trigsrc", byte(39), "extclk", byte(38))
]])
  local want = "fpga\tconfigured\nrouting\tserial_rx\tserial_tx\thigh_z\n"
    .. "clock\t7384615.3846154\tclkgen\ngain\t30\tsettings\t38\tsamples\t5000\n"
    .. "trigsrc\t32\textclk\t67\n"
  local forms = {
    { "a .bit file", "--bitstream " .. q(BS .. "/cwlite.bit"), "",
      BS .. "/cwlite.bit" },
    { "NewAE's zip", "--bitstream " .. q(BS .. "/cwlite_firmware.zip"), "",
      "cwlite_interface.bit in " .. BS .. "/cwlite_firmware.zip" },
    { "NewAE's .py", "--bitstream " .. q(BS .. "/cwlite.py"), "",
      "cwlite_interface.bit in cwlite_firmware.zip in " .. BS .. "/cwlite.py" },
    { "CWLUA_BITSTREAM", "", "CWLUA_BITSTREAM=" .. q(BS .. "/cwlite_firmware.zip"),
      "cwlite_interface.bit in " .. BS .. "/cwlite_firmware.zip" },
    { "the chipwhisperer package", "", "PYTHONPATH=" .. q(BS .. "/site"),
      "cwlite_interface.bit in cwlite_firmware.zip in " .. BS
        .. "/site/chipwhisperer/hardware/firmware/cwlite.py" },
  }
  for _, f in ipairs(forms) do
    local name, opt, env, from = f[1], f[2], f[3], f[4]
    local r = attach{ faults = { "fpga-unprogrammed" }, env = env,
                      cmd = "$CWLUA " .. opt .. " clock && $CWLUA run " .. q(setup) }
    eq(name .. ": exit 0", r.status, 0)
    eq(name .. ": loaded, then NewAE's default set-up", r.out,
      "7384615 Hz (clkgen on HS2)\n" .. want)
    eq(name .. ": says what it loaded", r.err, "cwlua: cwlite S1: loading the FPGA bitstream "
      .. from .. "\ncwlua: cwlite S1: FPGA configured; applied NewAE's default set-up (TIO1 "
      .. "serial RX, TIO2 serial TX, clock on HS2)\n")
  end
  local r = attach{ faults = { "fpga-unprogrammed" }, cmd = "$CWLUA -q --bitstream "
                    .. q(BS .. "/cwlite.bit") .. " clock" }
  eq("-q: loads without a word", r.err, "")

  local p = io.popen(PYTHON .. " -c 'import os, sys; print(os.path.realpath(sys.executable))'")
  local exe = p:read("l")
  p:close()
  r = attach{ faults = { "fpga-unprogrammed" }, cmd = "$CWLUA clock" }
  eq("no bitstream: exit 3", r.status, 3)
  eq("no bitstream: names the places searched and what to pass", r.err, "cwlua: cwlite S1: its "
    .. "FPGA is not configured (as after power-up) and cwlua found no bitstream to load\n"
    .. "  looked at: --bitstream (not given)\n"
    .. "             $CWLUA_BITSTREAM (not set)\n"
    .. "             the config files' bitstream (not set)\n"
    .. "             the chipwhisperer package of python3 (" .. exe .. ": not installed)\n"
    .. "  do: pass --bitstream FILE: cwlite_interface.bit, NewAE's cwlite_firmware.zip, or\n"
    .. "      hardware/firmware/cwlite.py of NewAE's chipwhisperer Python package;\n"
    .. "      or set CWLUA_BITSTREAM=FILE; or install the package: pip install chipwhisperer\n")
  r = attach{ faults = { "fpga-unprogrammed" }, cmd = "$CWLUA --bitstream /etc/hostname clock" }
  eq("not a bitstream: exit 2", r.status, 2)
  eq("not a bitstream: says so", r.err, "cwlua: cwlite S1: its FPGA is not configured, and the "
    .. "bitstream from --bitstream cannot be used: /etc/hostname is not a bitstream: expected a "
    .. ".bit file, NewAE's cwlite_firmware.zip or chipwhisperer's hardware/firmware/cwlite.py\n")
end

---------------------------------------------------------------------------------------------
print("# firmware versions (§2.4)")
do
  local r = attach{ faults = { "old-firmware" }, cmd = "$CWLUA clock" }
  eq("below the minimum: exit 3", r.status, 3)
  eq("below the minimum: the version found and needed", r.err, "cwlua: cwlite S1: firmware "
    .. "0.20.0 is too old for cwlua, which needs at least 0.30.0 (NewAE ships 0.65.0); update it "
    .. "with NewAE's chipwhisperer Python package: scope.upgrade_firmware() (see "
    .. "docs/install.md)\n")
  r = attach{ faults = { "old-firmware=0.60.0" }, cmd = "$CWLUA clock" }
  eq("older than shipped: exit 0", r.status, 0)
  eq("older than shipped: works", r.out, "no clock on HS2 (off)\n")
  eq("older than shipped: a warning saying how to update", r.err, "cwlua: warning: cwlite S1: "
    .. "firmware 0.60.0 is older than 0.65.0, the version NewAE ships; update it with NewAE's "
    .. "chipwhisperer Python package: scope.upgrade_firmware() (see docs/install.md)\n")
  r = attach{ faults = { "old-firmware=0.60.0" }, cmd = "$CWLUA list" }
  has("older than shipped: list marks it", r.out,
    "  cwlite  S1  firmware 0.60.0 (NewAE ships 0.65.0)  FPGA configured\n")
end

---------------------------------------------------------------------------------------------
print("# permission denied, busy")
do
  -- the device node cannot be opened for writing (no udev rule): eacces_shim.so
  local pre = "LD_PRELOAD=" .. q(SHIM) .. "\" $LD_PRELOAD\" "
  local r = attach{ cmd = pre .. "$CWLUA clock" }
  eq("permission denied: exit 3", r.status, 3)
  eq("permission denied: the udev rule and the group", r.err,
    "cwlua: usb: cannot open the cwlite at usb 001/002: permission denied" .. ACCESS_HINT .. "\n")
  r = attach{ cmd = pre .. "$CWLUA -d usb:S1 clock" }
  eq("permission denied, usb:SERIAL: exit 3", r.status, 3)
  eq("permission denied, usb:SERIAL: the same hint", r.err, "cwlua: usb:S1: cannot read the "
    .. "serial number of the cwlite at usb 001/002: permission denied" .. ACCESS_HINT .. "\n")
  r = attach{ cmd = pre .. "$CWLUA --json clock" }
  has("permission denied: --json gives the diagnosis cause (contract.md §6)", r.out,
    '"cause":"usb-permission"')
  r = attach{ cmd = pre .. "$CWLUA list" }
  eq("permission denied: list still exits 0", r.status, 0)
  has("permission denied: list says why", r.out, "  cwlite  usb 001/002  firmware ?  FPGA n/a  "
    .. "(permission denied: install cwlua's udev rule, see docs/install.md)\n")

  -- another program (python-libusb1, as NewAE's library) holds interface 0
  local hold = ("(sleep 5 | %s %s/hold.py S1 ready) & while [ ! -e ready ]; do sleep 0.05; "
    .. "done; "):format(PYTHON, HERE)
  r = attach{ cmd = hold .. "$CWLUA clock; rc=$?; $CWLUA list; kill %1 2>/dev/null; exit $rc" }
  eq("busy: exit 3", r.status, 3)
  eq("busy: another program holds the board", r.err, "cwlua: usb: cannot open cwlite S1: usb "
    .. "001/002: cannot claim interface 0: busy" .. BUSY_HINT .. "\n")
  has("busy: list says so", r.out, "  cwlite  S1  firmware ?  FPGA n/a  (busy: another program "
    .. "has it open)\n")
  r = attach{ cmd = hold .. "$CWLUA --json clock; rc=$?; kill %1 2>/dev/null; exit $rc" }
  has("busy: --json gives the diagnosis cause (contract.md §6)", r.out, '"cause":"usb-busy"')
end

---------------------------------------------------------------------------------------------
print("# unplug, stall, timeout: a clean error, never a hang")
do
  -- 8 standard requests (strings, while listing and opening), firmware version, FPGA status;
  -- `clock 8e6` then reads SYSTEMCLK (11-12) and ADVCLOCK (13-14): N = 12 hits ADVCLOCK
  local r = attach{ faults = { "unplug-after=12" }, cmd = "$CWLUA clock 8e6" }
  eq("unplug mid-operation: exit 3", r.status, 3)
  eq("unplug mid-operation: the board is gone", r.err, "cwlua: cwlite S1: FPGA read of "
    .. "register 6 (request 0x12 OUT): control OUT 0x12: the board is gone (unplugged, or "
    .. "resetting); plug the board back in and try again\n")
  -- bitstream load: A0 (11), A1 (12), then the 64 KiB bulk slices: N = 14 ends the third
  r = attach{ faults = { "fpga-unprogrammed", "unplug-after=14" },
              cmd = "$CWLUA -q --bitstream " .. q(BS .. "/cwlite.bit") .. " clock" }
  eq("unplug during the bitstream: exit 3", r.status, 3)
  eq("unplug during the bitstream: says so", r.err, "cwlua: cwlite S1: bitstream (bulk OUT "
    .. "0x02): bulk OUT 0x02: the board is gone (unplugged, or resetting); plug the board back "
    .. "in and try again\n")
  local script = lua_script("gone.lua", [[
local b = assert(cw.open())
print(b:pin("tio3", "high"))
print(b:pin("tio3"))
print(b:clock())
print(b:close())
]])
  r = attach{ faults = { "unplug-after=11" }, cmd = "$CWLUA run " .. q(script) }
  eq("unplug under a script: every call returns nil, msg, 'no_device'", r.out,
    "nil\tcwlite S1: FPGA read of register 55 (request 0x12 IN): control IN 0x12: the board "
    .. "is gone (unplugged, or resetting); plug the board back in and try again\tno_device\n"
    .. "nil\tcwlite S1: FPGA read of register 55 (request 0x12 OUT): control OUT 0x12: the board "
    .. "is gone (unplugged, or resetting); plug the board back in and try again\tno_device\n"
    .. "nil\tcwlite S1: FPGA read of register 38 (request 0x12 OUT): control OUT 0x12: the board "
    .. "is gone (unplugged, or resetting); plug the board back in and try again\tno_device\n"
    .. "true\n")

  -- the recovery NewAE documents for a stalled register request (§2.5, §8): a control read
  -- set up (0x12 OUT) and never collected holds the FPGA bus lock, so the next register
  -- request stalls; cwlua releases the lock (0x22/0x11) and retries once
  local lock = lua_script("lock.lua", [[
local b <close> = assert(cw.open())
assert(b:ctrl_out(0x12, 0, string.pack("<I4I4", 1, 55)))  -- read set up, IN never sent
print(b:ctrl_out(0x13, 0, string.pack("<I4I4", 1, 4) .. "A"))  -- the lock is held: a stall
print(b:pin("tio3", "high"), b:pin("tio3"))
]])
  r = attach{ env = "CWLUA_SIM_TRACE=1", cmd = "$CWLUA run " .. q(lock) }
  eq("stall recovery: the FPGA bus lock is released and the request retried", r.out,
    "nil\tcontrol OUT 0x13: stalled: the board refused the request\tstall\nhigh\thigh\n")
  has("stall recovery: 0x22/0x11 was sent", r.err, "ctrl 41 22 0011 0000 0")

  r = attach{ faults = { "usb-stall-after=12" }, cmd = "$CWLUA clock 8e6" }
  eq("stall: exit 3", r.status, 3)
  eq("stall: names the request the board refused", r.err, "cwlua: cwlite S1: FPGA read of "
    .. "register 6 (request 0x12 OUT): control OUT 0x12: stalled: the board refused the "
    .. "request; unplug the board and plug it back in (straight into the computer, not "
    .. "through a hub); if it keeps happening, check its firmware with cwlua list\n")

  r = attach{ faults = { "usb-timeout-after=12" }, cmd = "$CWLUA clock 8e6" }
  eq("timeout: exit 3", r.status, 3)
  eq("timeout: names the request that timed out", r.err, "cwlua: cwlite S1: FPGA read of "
    .. "register 6 (request 0x12 OUT): control OUT 0x12: no answer within 2000 ms; the board "
    .. "stopped answering: unplug it and plug it back in\n")
  check("timeout: no hang (one 2 s transfer timeout, not more)", r.s < 10,
    ("took %.1f s"):format(r.s))
end

---------------------------------------------------------------------------------------------
print("# the udev rule is installed where the permission hint points")
do
  local build = os.getenv("CWLUA_BUILD_DIR")
  if build then
    local prefix = work .. "/prefix"
    eq("cmake --install: exit 0", sh(("cmake --install %s --prefix %s >/dev/null"):format(
      q(build), q(prefix))), 0)
    local rules = slurp(SRC .. "/udev/60-cwlua.rules")
    check("the rule file is in <prefix>/share/cwlua/udev", rules ~= "" and
      slurp(prefix .. "/share/cwlua/udev/60-cwlua.rules") == rules)
    check("the build tree has it where the hint of a build-tree cwlua points",
      slurp(RULES) == rules)
  end
end

print(("usb: %d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
