-- SPDX-License-Identifier: MIT
-- The avr recipe on the simulator: program/verify/read/erase/info for both reference
-- parts, EEPROM and fuses from avr-gcc's layout, --fuse/--lock checks, the slow clock, the
-- XMEGA timeout trap, and diagnosis of the faults that apply (no-clock, isp-open, no-power,
-- nrst-open).
local cli = require "support.cli"
local images = require "support.images"
-- Debian's lua-dkjson (a busted dependency): a JSON decoder we did not write
local json = require "dkjson"

local EEPROM = 0x810000

describe("avr recipe on the simulator", function()
  local dir, env

  local function cw(args) return cli.sim(env, args) end
  local slurp = cli.slurp

  local function hex(ranges)
    return cli.write(dir .. "/fw.hex", images.hex(ranges))
  end

  before_each(function()
    dir, env = cli.tmpdir(), cli.tmpdir()
  end)
  after_each(cli.cleanup)

  for _, c in ipairs({
    { {}, "avr", "ATmega328P", "1E 95 0F", 32768 },
    { { "--sim-target", "atmega168pa" }, "avr", "ATmega168PA", "1E 94 0B", 16384 },
    { {}, "CW308_MEGA328P", "ATmega328P", "1E 95 0F", 32768 },
  }) do
    it(("%s programs, verifies and reads back an %s"):format(c[2], c[3]), function()
      local data = images.pattern(1000, 3)
      local file = hex({ { 0x100, data } })
      local function run(args)
        local a = {}
        for _, x in ipairs(c[1]) do a[#a + 1] = x end
        for _, x in ipairs(args) do a[#a + 1] = x end
        return cw(a)
      end
      local r = run({ "program", c[2], file })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^programmed 1000 bytes into " .. c[3] .. " in [%d.]+ s %(.*%), 1 chip "
        .. "erased, verified\n$", r.stdout)
      r = run({ "verify", c[2], file, "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = run({ "read", c[2], dir .. "/all.bin", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local all = slurp(dir .. "/all.bin")
      assert.are.equal(c[5], #all)
      assert.are.equal(data, all:sub(0x101, 0x100 + 1000))
      assert.are.equal(("\xFF"):rep(0x100), all:sub(1, 0x100))
      r = run({ "info", c[2], "--json" })
      assert.are.equal(0, r.status, r.stderr)
      local o = json.decode(r.stdout)
      assert.are.equal(c[3], o.chip)
      assert.are.equal(c[4], o.signature)
    end)
  end

  describe("USB transfers", function()
    -- The engine advances its address through every PROGRAM and READ (target-protocols.md
    -- §C.3), so a contiguous image needs one LOAD_ADDRESS to write and one to verify; the RAM
    -- buffer goes out 128 bytes a request and comes back in one (§1, §C.1).
    local function loads(stderr)
      local n = 0
      for _ in stderr:gmatch("> 21 06 ") do n = n + 1 end
      return n
    end

    it("16 KiB into the ATmega328P: 587 transfers, one LOAD_ADDRESS each way", function()
      local data = images.pattern(16384, 11)
      local r = cw({ "--json", "--log-wire", "program", "avr", hex({ { 0, data } }) })
      assert.are.equal(0, r.status, r.stderr)
      local o = json.decode(r.stdout)
      -- per 256 bytes: two pages of SET_RAMBUF, PROGRAM_FLASH_ISP and its status, then
      -- READ_FLASH_ISP, its status and GET_RAMBUF; besides: the chip erase, the two
      -- LOAD_ADDRESS, LEAVE (each with its status), and the FPGA register read (two requests)
      -- and write that take the ISP routing off
      assert.are.equal(64 * 9 + 11, o.sim.usb.ctrl_in + o.sim.usb.ctrl_out)
      assert.are.equal(2, loads(r.stderr))
      r = cw({ "read", "avr", dir .. "/back.bin", "--len", "16384", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(data, slurp(dir .. "/back.bin"))
    end)

    it("an image in two pieces: a LOAD_ADDRESS where each piece starts, both ways", function()
      local a, b = images.pattern(300, 12), images.pattern(200, 13)
      local r = cw({ "--log-wire", "program", "avr", hex({ { 0, a }, { 0x1000, b } }) })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(4, loads(r.stderr))
      r = cw({ "read", "avr", dir .. "/back.bin", "--len", "0x10C8", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local back = slurp(dir .. "/back.bin")
      assert.are.equal(a, back:sub(1, 300))
      assert.are.equal(("\xFF"):rep(0x1000 - 300), back:sub(301, 0x1000))
      assert.are.equal(b, back:sub(0x1001))
    end)
  end)

  it("info shows the signature, fuses and lock bits", function()
    local r = cw({ "info", "avr" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal(table.concat({
      "chip:                        ATmega328P",
      "signature:                   1E 95 0F",
      "flash:                       32 KiB, 128-byte pages",
      "EEPROM:                      1024 bytes",
      "low fuse:                    0xE0",
      "high fuse:                   0xD9",
      "extended fuse:               0xFF",
      "lock bits:                   0xFF (no lock)",
      "clock source:                external clock on XTAL1 (the board's HS2): 7.38 MHz",
      "ISP clock:                   1 MHz SCK",
      "" }, "\n"), r.stdout)
  end)

  it("refuses a signature that is not the --part asked for, before erasing", function()
    local first = hex({ { 0, "first image" } })
    local r = cw({ "--sim-target", "atmega168pa", "program", "avr", first, "-q" })
    assert.are.equal(0, r.status, r.stderr)
    local second = cli.write(dir .. "/b.hex", images.hex({ { 0, "SECOND IMAGE" } }))
    r = cw({ "--sim-target", "atmega168pa", "program", "avr", second, "--part", "atmega328p" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: avr: the chip's signature 1E 94 0B is an ATmega168PA, not the "
      .. "atmega328p asked for with --part; nothing was written\n", r.stderr)
    r = cw({ "--sim-target", "atmega168pa", "verify", "avr", first, "-q" })
    assert.are.equal(0, r.status, r.stderr)
  end)

  it("refuses an image larger than the flash, naming the range", function()
    local file = hex({ { 0x4000, "x" } })
    local r = cw({ "--sim-target", "atmega168pa", "program", "avr", file })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: fw.hex: 0x00004000 is outside the flash of this ATmega168PA "
      .. "(0x00000000-0x00003FFF, 16 KiB); the image spans 0x00004000-0x00004000; build it "
      .. "for this chip or pick the right target\n", r.stderr:gsub(dir .. "/", ""))
  end)

  it("writes EEPROM from avr-gcc's .eeprom section and reads it back", function()
    local ee = "calibration table"
    local file = hex({ { 0, "code" }, { EEPROM + 0x20, ee } })
    local r = cw({ "program", "avr", file, "--json" })
    assert.are.equal(0, r.status, r.stderr)
    local o = json.decode(r.stdout)
    assert.are.equal(#ee, o.eeprom)
    assert.are.equal(4 + #ee, o.bytes)
    r = cw({ "read", "avr", dir .. "/ee.bin", "--memory", "eeprom", "-q" })
    assert.are.equal(0, r.status, r.stderr)
    local back = slurp(dir .. "/ee.bin")
    assert.are.equal(1024, #back)
    assert.are.equal(ee, back:sub(0x21, 0x20 + #ee))
    r = cw({ "verify", "avr", file, "-q" })
    assert.are.equal(0, r.status, r.stderr)
  end)

  it("takes flash and EEPROM from an avr-gcc ELF (LMA 0x810000 for .eeprom)", function()
    local code, ee = images.pattern(300, 9), "\x01\x02\x03\x04\x05"
    local file = cli.write(dir .. "/fw.elf", images.elf({ { 0, code }, { EEPROM, ee } }))
    local r = cw({ "program", "avr", file, "-q" })
    assert.are.equal(0, r.status, r.stderr)
    r = cw({ "read", "avr", dir .. "/ee.bin", "--memory", "eeprom", "--len", "8", "-q" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal(ee .. "\xFF\xFF\xFF", slurp(dir .. "/ee.bin"))
    r = cw({ "verify", "avr", file, "-q" })
    assert.are.equal(0, r.status, r.stderr)
  end)

  it("reports fuse bytes in the image and writes them only with --fuse", function()
    local file = hex({ { 0, "code" }, { 0x820000, "\xE2\xD9\xFF" } })
    local r = cw({ "program", "avr", file })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("avr: the image sets fuse or lock bytes; they are written only when asked: "
      .. "--fuse low=0xE2 --fuse high=0xD9 --fuse ext=0xFF\n", r.stderr, 1, true)
    r = cw({ "info", "avr", "--json" })
    assert.are.equal("0xE0", json.decode(r.stdout).fuse_low)
    r = cw({ "program", "avr", file, "-q", "--fuse", "low=0xE2" })
    assert.are.equal(0, r.status, r.stderr)
    r = cw({ "info", "avr", "--json" })
    assert.are.equal("0xE2", json.decode(r.stdout).fuse_low)
  end)

  describe("--fuse and --lock checks", function()
    local function refused(args, msg)
      local file = hex({ { 0, "code" } })
      local a = { "program", "avr", file }
      for _, x in ipairs(args) do a[#a + 1] = x end
      local r = cw(a)
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: avr: " .. msg .. "\n", r.stderr)
    end

    it("refuses unknown names and bits the part does not have", function()
      refused({ "--fuse", "efuse=0xFD" }, "unknown fuse 'efuse'; the ATmega328P has low, high, "
        .. "ext (--fuse low=0xE0)")
      refused({ "--fuse", "ext=0x05" }, "ext fuse 0x05 clears bits the ATmega328P does not "
        .. "have (it uses 0x07; the others read 1): write 0xFD")
      refused({ "--lock", "0x3C" }, "lock 0x3C clears bits the ATmega328P does not have (it "
        .. "uses 0x3F): write 0xFC")
      refused({ "--lock", "0xFD" }, "lock 0xFD programs LB2 without LB1, which is not a lock "
        .. "mode (LB2..1 = 11 none, 10 no writing, 00 no writing or reading)")
    end)

    it("refuses settings that disable ISP or need a clock the rig lacks, unless --force", function()
      refused({ "--fuse", "high=0x59" }, "high fuse 0x59 programs RSTDISBL: the reset pin "
        .. "becomes an I/O pin and ISP stops working (only a high-voltage programmer undoes it); "
        .. "add --force if you mean it")
      refused({ "--fuse", "high=0x99" }, "high fuse 0x99 programs DWEN: debugWIRE takes the "
        .. "reset pin and ISP stops working; add --force if you mean it")
      refused({ "--fuse", "high=0xF9" }, "high fuse 0xF9 leaves SPIEN unprogrammed, which "
        .. "disables serial programming; add --force if you mean it")
      refused({ "--fuse", "low=0xFF" }, "low fuse 0xFF selects a low-power crystal, which this "
        .. "rig does not have: the chip would stop answering ISP; add --force if you mean it")
      refused({ "--fuse", "low=0x63" }, "low fuse 0x63 runs the chip at 16 kHz (internal "
        .. "128 kHz RC oscillator, divided by 8): ISP needs SCK below a quarter of that, and "
        .. "the board cannot go below 23.5 kHz; add --force if you mean it")
      -- with --force it is written, and the chip then no longer answers
      local file = hex({ { 0, "code" } })
      local r = cw({ "program", "avr", file, "-q", "--fuse", "low=0xFF", "--force" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "info", "avr" })
      assert.are.equal(4, r.status)
      assert.matches("seen: MISO stayed low", r.stderr)
    end)
  end)

  it("uses the board's slow clock for a chip on a slow clock (CKDIV8)", function()
    local file = hex({ { 0, "slow" } })
    local r = cw({ "program", "avr", file, "-q", "--fuse", "low=0x60" })
    assert.are.equal(0, r.status, r.stderr)
    r = cw({ "info", "avr", "--json" })
    assert.are.equal(0, r.status, r.stderr)
    local o = json.decode(r.stdout)
    assert.are.equal("23.5 kHz SCK (slow clock)", o.isp_clock)
    assert.are.equal("external clock on XTAL1 (the board's HS2), divided by 8: 923 kHz",
      o.clock_source)
    r = cw({ "verify", "avr", file, "-q", "--set", "slow_clock=false" })
    assert.are.equal(4, r.status)
    assert.matches("^cwlua: avr: no answer to ISP Programming Enable %(AC 53 00 00; "
      .. "ENTER_PROGMODE_ISP status 0xC0%) at 1 MHz SCK\n  seen: bytes without the echo", r.stderr)
  end)

  describe("lock bits", function()
    it("protect reads until a chip erase (--unprotect)", function()
      local file = hex({ { 0, "locked" } })
      local r = cw({ "program", "avr", file, "-q", "--lock", "0xFC" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "verify", "avr", file })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: avr: the chip is read-protected and refuses to be read or "
        .. "written; nothing on it can be read (cwlua program --unprotect erases it and removes "
        .. "the protection)\n", r.stderr)
      r = cw({ "program", "avr", file, "-q", "--unprotect" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "info", "avr", "--json" })
      assert.are.equal("0xFF (no lock)", json.decode(r.stdout).lock)
    end)
  end)

  it("erases the whole chip only", function()
    local r = cw({ "erase", "avr", "--chip" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^erased 1 chip of ATmega328P in ", r.stdout)
    r = cw({ "erase", "avr", "--addr", "0", "--len", "128" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: avr: an ATmega328P erases only as a whole (Chip Erase: flash, "
      .. "EEPROM unless EESAVE is programmed, lock bits); use erase --chip\n", r.stderr)
  end)

  describe("a target that does not answer", function()
    local function program_fails(fault, seen)
      local file = hex({ { 0, "x" } })
      local r = cw({ "--sim-fault", fault, "program", "avr", file, "--json" })
      assert.are.equal(4, r.status)
      local first = r.stderr:match("^[^\n]*")
      assert.are.equal("cwlua: avr: no answer to ISP Programming Enable (AC 53 00 00; "
        .. "ENTER_PROGMODE_ISP status 0xC0) at 1 MHz SCK or 23.5 kHz SCK (slow clock)", first)
      assert.matches("\n  seen: " .. seen, r.stderr, 1, true)
      return json.decode(r.stdout:match("^[^\n]*")), r
    end

    local function doctor(fault)
      local r = cw({ "--sim-fault", fault, "doctor", "avr", "--json" })
      assert.are.equal(4, r.status, r.stderr)
      return json.decode(r.stdout)
    end

    it("no-clock: MISO held low, diagnosis no-clock", function()
      local o = program_fails("no-clock", "MISO stayed low (00 00 where AC 53 echoes): the "
        .. "chip sits in reset but does not shift")
      assert.are.equal("no-clock", o.cause)
      local d = doctor("no-clock")
      assert.are.equal("no-clock", d.cause)
      assert.matches("^no clock reaches the chip", d.candidates[1])
    end)

    it("isp-open: nothing back, diagnosis no-reply naming the ISP lines", function()
      local o = program_fails("isp-open", "nothing came back: MISO stayed high (FF FF where "
        .. "AC 53 echoes)")
      assert.are.equal("no-reply", o.cause)
      local d = doctor("isp-open")
      assert.are.equal("no-reply", d.cause)
      assert.are.equal("the ISP lines (MOSI, MISO, SCK) do not reach the chip: the 20-pin cable "
        .. "or the target's seating on the CW308", d.candidates[1])
    end)

    for _, fault in ipairs({ "no-power", "nrst-open" }) do
      it(fault .. ": diagnosis no-reply", function()
        local _, r = program_fails(fault, "nothing came back")
        assert.matches("\n  do: look at the target board's power LED [^\n]*; then run 'cwlua "
          .. "doctor avr' to test each link\n$", r.stderr)
        local d = doctor(fault)
        assert.are.equal("no-reply", d.cause)
        assert.are.equal(4, #d.candidates)
        -- the board cannot tell cut lines from no power: the look that can comes first, and
        -- the hints are the ISP lines', never the UART's
        assert.matches("^first look at the target board's power LED", d.actions[1])
        assert.matches("^powered: check that MOSI, MISO, SCK and nRST reach the chip",
          d.actions[2])
        assert.is_nil(table.concat(d.actions, "\n"):find("UART", 1, true))
      end)
    end

    it("leaves the board as found (clock, routing, reset, slow clock)", function()
      local script = cli.write(dir .. "/s.lua", [[
        local b = assert(cw.open("sim", { target = "atmega328p", faults = { "no-clock" } }))
        b:clock(7.37e6)
        local before = b:sim_view()
        local ok = cw.flash.program("avr", arg[1], { board = b, quiet = true }) ~= nil
        local after = b:sim_view()
        print(ok, before.pins.nrst, after.pins.nrst, before.pins.mosi, after.pins.mosi,
          b:clock() > 7e6)
      ]])
      local r = cli.run({ "run", script, hex({ { 0, "x" } }) }, { XDG_STATE_HOME = env })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("false\tz\tz\tz\tz\ttrue\n", r.stdout)
    end)
  end)

  it("doctor passes a healthy target", function()
    local r = cw({ "doctor", "avr", "--json" })
    assert.are.equal(0, r.status, r.stderr)
    local d = json.decode(r.stdout)
    assert.are.equal("ok", d.cause)
    local names = {}
    for _, s in ipairs(d.steps) do names[#names + 1] = s.name .. "=" .. s.status end
    assert.are.same({ "board=ok", "FPGA=ok", "glitch outputs=ok", "target power=unverifiable",
      "ISP engine=ok", "clock=unverifiable", "ISP routing=ok", "ISP entry=ok", "identify=ok",
      "fuses=ok" }, names)
  end)

  it("a CW-Nano has no ISP engine: exit 3", function()
    local r = cli.run({ "-d", "sim:nano", "--sim-target", "atmega328p", "info", "avr" },
      { XDG_STATE_HOME = env })
    assert.are.equal(3, r.status)
    assert.are.equal("cwlua: avr: this board (CW-Nano) cannot program AVR: its firmware has no "
      .. "V2/ISP engine; use a CW-Lite, CW1200 or CW-Husky\n", r.stderr)
  end)

  it("programs after an XMEGA session left the shared engine timeout at 100 ms", function()
    local script = cli.write(dir .. "/x.lua", [[
      local b = assert(cw.open("sim", { target = "atmega328p" }))
      -- what NewAE's XMEGA find() sends first (target-protocols.md §B.3): TIMEOUT = 250 ticks
      local ok = b:ctrl_out(0x20, 0x0007, string.pack("<BI4", 0x08, 250))
      if not ok then print("no XPROG engine") return end
      -- NewAE's own AVR entry now fails (§C.3 "Timing trap")
      b:fpga_write(55, (function(io) return io:sub(1, 5) .. string.char(io:byte(6) | 1)
        .. io:sub(7) end)(b:fpga_read(55, 8)))
      b:clock(7.37e6)
      b:ctrl_out(0x21, 0x10, "\xC8\x64\x19\x20\x00\x53\x03\xAC\x53\x00\x00")
      local st = b:ctrl_in(0x21, 0x20, 32)
      b:ctrl_out(0x21, 0x11, "\x01\x01")
      b:ctrl_in(0x21, 0x20, 32)
      local r = cw.flash.program("avr", arg[1], { board = b, quiet = true })
      print(("%02X"):format(st:byte(2)), r.verify)
    ]])
    local r = cli.run({ "run", script, hex({ { 0, "after xmega" } }) }, { XDG_STATE_HOME = env })
    assert.are.equal(0, r.status, r.stderr)
    if r.stdout == "no XPROG engine\n" then
      pending("the simulated board has no XPROG engine yet (issue 11)")
      return
    end
    assert.are.equal("C0\tok\n", r.stdout)
  end)
end)
