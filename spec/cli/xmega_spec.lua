-- SPDX-License-Identifier: MIT
-- The xmega recipe on the simulator: program, verify, read and info for both parts,
-- in-process and through `cwlua sim attach` (the real libusb path); EEPROM, fuses and lock
-- bits; checks before anything is erased; the chip-erase fallback; faults and diagnosis.
local cli = require "support.cli"
local images = require "support.images"
-- Debian's lua-dkjson (a busted dependency): a JSON decoder we did not write
local json = require "dkjson"

local EE, FUSE, LOCK = 0x810000, 0x820000, 0x830000 -- avr-gcc's layout (contract.md §3)

describe("xmega on the simulator", function()
  local dir, env

  local function cw(args, extra_env) return cli.sim(env, args, extra_env) end

  local function hex(ranges, name)
    return cli.write(dir .. "/" .. (name or "fw.hex"), images.hex(ranges))
  end

  local slurp = cli.slurp

  local function readback(args)
    return cli.read_back(env, "xmega", dir .. "/rb.bin", nil, nil, args)
  end

  before_each(function()
    dir, env = cli.tmpdir(), cli.tmpdir()
  end)
  after_each(cli.cleanup)

  -- part, name, signature, info's flash row, pages erased for the image below (the whole
  -- application section and the image's two boot pages)
  for _, c in ipairs({
    { "atxmega128d4", "ATxmega128D4", "1E 97 47", "136 KiB: application 128 KiB + boot 8 KiB "
      .. "at 0x20000, 256-byte pages", 512 + 2 },
    { "atxmega16a4", "ATxmega16A4", "1E 94 41", "20 KiB: application 16 KiB + boot 4 KiB at "
      .. "0x04000, 256-byte pages", 64 + 2 },
  }) do
    it(c[1] .. ": program, verify, read back, info", function()
      local data = images.pattern(1000, #c[1])
      local boot = images.pattern(300, 3)
      local app = tonumber(c[4]:match("at (0x%x+)"))
      local file = hex({ { 0x100, data }, { app, boot } })
      local r = cw({ "--sim-target", c[1], "program", "xmega", file })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(("programmed 1300 bytes into %s in "):format(c[2]),
        r.stdout:match("^programmed 1300 bytes into %S+ in "))
      assert.matches(", " .. c[5] .. " pages erased, verified\n$", r.stdout)
      r = cw({ "--sim-target", c[1], "verify", "xmega", file })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^verified 1300 bytes of " .. c[2] .. " in ", r.stdout)
      assert.are.equal(data, readback({ "--sim-target", c[1], "--addr", "0x100", "--len",
        "1000" }))
      assert.are.equal(boot, readback({ "--sim-target", c[1], "--addr", tostring(app), "--len",
        "300" }))
      r = cw({ "--sim-target", c[1], "info", "xmega" })
      assert.are.equal(0, r.status, r.stderr)
      local want = ("chip:                        %s (signature %s)\n"
        .. "flash:                       %s\n"):format(c[2], c[3], c[4])
      assert.are.equal(want, r.stdout:sub(1, #want))
      assert.matches("\nlock bits: +0xFF %(BLBB=3 BLBA=3 BLBAT=3 LB=3; LB: no lock%)\n", r.stdout)
    end)
  end

  it("the part comes from the signature; aliases mean the ATxmega128D4", function()
    local file = hex({ { 0, "abcd" } })
    local r = cw({ "--sim-target", "atxmega16a4", "program", "CWLITEXMEGA", file, "-q" })
    assert.are.equal(0, r.status, r.stderr)
    for _, alias in ipairs({ "CWLITEXMEGA", "cw303", "CW308_XMEGA" }) do
      r = cw({ "info", alias, "--json" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("ATxmega128D4 (signature 1E 97 47)", json.decode(r.stdout).chip)
    end
  end)

  it("info shows the fuses and lock bits the part has", function()
    local r = cw({ "--sim-target", "atxmega16a4", "info", "xmega" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("\nEEPROM: +1024 bytes, 32%-byte pages\n"
      .. "fuse0: +0xFF %(JTAGUSERID=255%)\n"
      .. "fuse1: +0x00 %(WDWP=0 WDP=0%)\n"
      .. "fuse2: +0xFF %(BOOTRST=1 BODPD=3%)\n"
      .. "fuse4: +0xFE %(RSTDISBL=1 STARTUPTIME=3 WDLOCK=1 JTAGEN=0%)\n"
      .. "fuse5: +0xFF %(BODACT=3 EESAVE=1 BODLEVEL=7%)\n", r.stdout)
  end)

  describe("checks before anything is erased", function()
    local function program_old()
      local r = cw({ "program", "xmega", hex({ { 0, "old image" } }, "old.hex"), "-q" })
      assert.are.equal(0, r.status, r.stderr)
    end

    it("a signature that is not --part: exit 2, the chip untouched", function()
      program_old()
      local r = cw({ "--sim-target", "atxmega128d4", "program", "xmega", hex({ { 0, "new" } }),
        "--part", "atxmega16a4" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: xmega: the chip's signature 1E 97 47 is atxmega128d4, not --part "
        .. "atxmega16a4 (1E 94 41); nothing was changed\n", r.stderr)
      assert.are.equal("old image", readback({ "--len", "9" }))
    end)

    it("an image too large for the part: exit 2, the chip untouched", function()
      local r = cw({ "--sim-target", "atxmega16a4", "program", "xmega", hex({ { 0, "old" } }),
        "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local file = hex({ { 0, "new" }, { 0x5000, "x" } }, "big.hex")
      r = cw({ "--sim-target", "atxmega16a4", "program", "xmega", file })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. file .. ": 0x00005000 is outside the flash of this "
        .. "ATxmega16A4 (0x00000000-0x00004FFF, 20 KiB: application 16 KiB + boot 4 KiB); the "
        .. "image spans 0x00000000-0x00005000; build it for this chip or pick the right target\n",
        r.stderr)
      assert.are.equal("old", readback({ "--sim-target", "atxmega16a4", "--len", "3" }))
    end)

    it("EEPROM data beyond the part's EEPROM: exit 2", function()
      program_old()
      local r = cw({ "--sim-target", "atxmega16a4", "program", "xmega",
        hex({ { 0, "new" }, { EE + 0x3FE, "abc" } }) })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. dir .. "/fw.hex: EEPROM offset 0x400 is outside the EEPROM "
        .. "of this ATxmega16A4 (1024 bytes); the EEPROM data spans 0x3FE-0x400\n", r.stderr)
    end)

    it("the Nano has no XPROG engine: exit 3", function()
      local r = cli.run({ "-d", "sim:nano", "program", "xmega", hex({ { 0, "x" } }) },
        { XDG_STATE_HOME = env })
      assert.are.equal(3, r.status)
      assert.are.equal("cwlua: xmega: this board (CW-Nano) cannot program XMEGA: its firmware has "
        .. "no XPROG (PDI) engine; use a CW-Lite, CW1200 or CW-Husky\n", r.stderr)
      r = cli.run({ "-d", "sim:nano", "--json", "info", "xmega" }, { XDG_STATE_HOME = env })
      assert.are.equal(3, r.status)
      assert.are.equal("no-engine", json.decode(r.stdout).cause)
    end)
  end)

  describe("USB transfers and what is erased", function()
    -- Exact counts on the simulated CW-Lite, from the erase to the LEAVE: a section erase and
    -- its status, or per page a page erase and its status; per 256-byte page two SET_RAMBUF of
    -- 128 bytes, WRITE_MEM and its status, and to verify READ_MEM, its status and one
    -- GET_RAMBUF of 256 bytes (target-protocols.md §1, §B.1); then LEAVE and its status.
    local function program(args)
      local r = cw(args)
      assert.are.equal(0, r.status, r.stderr)
      local o = json.decode(r.stdout)
      return o.sim.usb.ctrl_in + o.sim.usb.ctrl_out + o.sim.usb.bulk, o, r
    end

    -- an ATxmega128D4 holding bytes past a 64 KiB image: in the application section at
    -- 0x18000, in the boot section and in EEPROM
    local OLD_APP, OLD_BOOT = images.pattern(300, 22), images.pattern(300, 23)
    local function old_data()
      local r = cw({ "program", "xmega", hex({ { 0x18000, OLD_APP }, { 0x20000, OLD_BOOT },
        { EE, "kept" } }, "old.hex"), "-q" })
      assert.are.equal(0, r.status, r.stderr)
    end

    it("64 KiB into the ATxmega128D4: one application-section erase, 1 796 transfers; the rest "
      .. "of the section is erased, the boot section and EEPROM keep their bytes", function()
      old_data()
      local data = images.pattern(65536, 21)
      local file = hex({ { 0, data } })
      local n, o, r = program({ "--json", "-v", "program", "xmega", file })
      assert.are.equal(512, o.erased) -- the whole 128 KiB section, in pages
      assert.are.equal(2 + 256 * 7 + 2, n)
      -- said before it happens
      assert.matches("\nxmega: erasing the application section %(128 KiB%)\nxmega: erased 512 "
        .. "pages\n", r.stderr)
      assert.are.equal(data, readback({ "--len", "65536" }))
      assert.are.equal(("\xFF"):rep(65536), readback({ "--addr", "0x10000", "--len", "65536" }))
      assert.are.equal(OLD_BOOT, readback({ "--addr", "0x20000", "--len", "300" }))
      assert.are.equal("kept", readback({ "--memory", "eeprom", "--len", "4" }))
      r = cw({ "verify", "xmega", file, "-q" })
      assert.are.equal(0, r.status, r.stderr)
    end)

    it("--set app_erase=pages erases only the pages the image touches: 2 306 transfers, the "
      .. "rest of the section keeps its bytes", function()
      old_data()
      local data = images.pattern(65536, 21)
      local file = hex({ { 0, data } })
      local n, o, r = program({ "--json", "-v", "program", "xmega", file, "--set",
        "app_erase=pages" })
      assert.are.equal(256, o.erased)
      assert.are.equal(256 * 9 + 2, n)
      assert.matches("\nxmega: erasing 256 application pages\n", r.stderr)
      assert.are.equal(data, readback({ "--len", "65536" }))
      assert.are.equal(OLD_APP, readback({ "--addr", "0x18000", "--len", "300" }))
      assert.are.equal(OLD_BOOT, readback({ "--addr", "0x20000", "--len", "300" }))
      assert.are.equal("kept", readback({ "--memory", "eeprom", "--len", "4" }))
      r = cw({ "verify", "xmega", file, "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "program", "xmega", file, "--set", "app_erase=some" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --set app_erase=some: app_erase takes one of section, pages "
        .. "(section: the whole application section; pages: only the pages the image touches)\n",
        r.stderr)
    end)

    it("an image only in the boot section leaves the application section alone; one covering "
      .. "the boot section erases it with one command", function()
      local t = { "--sim-target", "atxmega16a4" }
      local boot, app = images.pattern(512, 5), images.pattern(16384, 6)
      local r = cw({ t[1], t[2], "program", "xmega", hex({ { 0, app }, { EE, "kept" } }), "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local n, o = program({ t[1], t[2], "--json", "program", "xmega",
        hex({ { 0x4000, boot } }) })
      assert.are.equal(2, o.erased) -- two boot page erases
      assert.are.equal(2 * 2 + 2 * 7 + 2, n)
      assert.are.equal(app, readback({ t[1], t[2], "--len", "16384" }))
      local all = images.pattern(4096, 7)
      n, o = program({ t[1], t[2], "--json", "program", "xmega", hex({ { 0x4000, all } }) })
      assert.are.equal(16, o.erased)
      assert.are.equal(2 + 16 * 7 + 2, n) -- one boot-section erase, no page erases
      assert.are.equal(app .. all, readback({ t[1], t[2], "--len", "20480" }))
      assert.are.equal("kept", readback({ t[1], t[2], "--memory", "eeprom", "--len", "4" }))
    end)

    it("with app_erase=pages, an image covering the section still erases it with one command; "
      .. "one page short, page erases, and that page keeps its bytes", function()
      local t = { "--sim-target", "atxmega16a4", "--set", "app_erase=pages" }
      local last, app = images.pattern(256, 8), images.pattern(16384 - 256, 9)
      local r = cw({ t[1], t[2], "program", "xmega", hex({ { 0x3F00, last } }), "-q", t[3], t[4] })
      assert.are.equal(0, r.status, r.stderr)
      local n, o = program({ t[1], t[2], "--json", "program", "xmega", hex({ { 0, app } }), t[3],
        t[4] })
      assert.are.equal(63, o.erased)
      assert.are.equal(63 * 9 + 2, n)
      assert.are.equal(app .. last, readback({ t[1], t[2], "--len", "16384" }))
      local full = images.pattern(16384, 10)
      n, o = program({ t[1], t[2], "--json", "program", "xmega", hex({ { 0, full } }), t[3],
        t[4] })
      assert.are.equal(64, o.erased)
      assert.are.equal(2 + 64 * 7 + 2, n)
      assert.are.equal(full, readback({ t[1], t[2], "--len", "16384" }))
    end)

    it("erase --addr/--len erases only the pages asked for, whatever app_erase says",
      function()
        local app = images.pattern(1024, 11)
        local r = cw({ "program", "xmega", hex({ { 0, app } }), "-q" })
        assert.are.equal(0, r.status, r.stderr)
        r = cw({ "erase", "xmega", "--addr", "0x100", "--len", "256", "--json" })
        assert.are.equal(0, r.status, r.stderr)
        assert.are.equal(1, json.decode(r.stdout).erased)
        assert.are.equal(app:sub(1, 256) .. ("\xFF"):rep(256) .. app:sub(513),
          readback({ "--len", "1024" }))
      end)
  end)

  describe("EEPROM", function()
    it("comes from the image's EEPROM section and reads back with --memory eeprom", function()
      local file = hex({ { 0, "flash" }, { EE + 0x1E, "spans two pages" } })
      local r = cw({ "program", "xmega", file })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches(", 512 pages erased, verified; 15 bytes of EEPROM\n$", r.stdout)
      local ee = readback({ "--memory", "eeprom" })
      assert.are.equal(2048, #ee)
      assert.are.equal(("\xFF"):rep(0x1E) .. "spans two pages" .. ("\xFF"):rep(2048 - 0x2D), ee)
      r = cw({ "verify", "xmega", file, "--json" })
      assert.are.equal(0, r.status, r.stderr)
      local j = json.decode(r.stdout)
      assert.are.equal(20, j.bytes)
      assert.are.equal(15, j.eeprom)
    end)

    it("comes from --eeprom FILE, which read --memory eeprom makes", function()
      local eefile = cli.write(dir .. "/ee.bin", "raw eeprom bytes")
      local r = cw({ "program", "xmega", hex({ { 0, "x" } }), "--eeprom", eefile, "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local out = dir .. "/ee.hex"
      r = cw({ "read", "xmega", out, "--memory", "eeprom", "--len", "16" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("read 16 bytes from EEPROM 0x0000 of ATxmega128D4 into " .. out
        .. " in 0.00 s", r.stdout:match("^(.-) %("))
      r = cw({ "program", "xmega", hex({ { 0, "y" } }), "--eeprom", out, "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("raw eeprom bytes", readback({ "--memory", "eeprom", "--len", "16" }))
    end)

    it("an EEPROM section and --eeprom together, or an --eeprom with more: exit 2", function()
      local file = hex({ { 0, "x" }, { EE, "e" } })
      local r = cw({ "program", "xmega", file, "--eeprom", file })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. file .. " has an EEPROM section (at 0x810000) and --eeprom "
        .. file .. " gives EEPROM data too; drop one\n", r.stderr)
      r = cw({ "program", "xmega", hex({ { 0, "x" } }, "f.hex"), "--eeprom", file })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. file .. ": has data at 0x0 besides its EEPROM section "
        .. "(0x810000); --eeprom takes EEPROM data only\n", r.stderr)
      r = cw({ "program", "stm32f1", file, "--eeprom", file })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: recipe stm32f1 has no EEPROM (--eeprom)\n", r.stderr)
    end)

    it("a verify mismatch in EEPROM names its address: exit 5", function()
      local r = cw({ "program", "xmega", hex({ { 0, "x" }, { EE + 4, "abc" } }), "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "verify", "xmega", hex({ { 0, "x" }, { EE + 4, "abd" } }), "--json", "-q" })
      assert.are.equal(5, r.status)
      assert.are.equal("cwlua: xmega: verify failed at EEPROM 0x0006: the image has 0x64, the "
        .. "chip 0x63\n", r.stderr)
      assert.are.equal(EE + 6, json.decode(r.stdout).first_mismatch)
    end)
  end)

  describe("fuses and lock bits", function()
    it("are written only with --fuse/--lock; the image's are reported", function()
      local file = hex({ { 0, "x" }, { FUSE + 2, "\xBF" }, { LOCK, "\xFC" } })
      local r = cw({ "program", "xmega", file, "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "program", "xmega", file })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^xmega: the image sets fuse or lock bytes; they are written only when "
        .. "asked: %-%-fuse fuse2=0xBF %-%-lock 0xFC\n", r.stderr)
      r = cw({ "info", "xmega", "--json" })
      assert.are.equal("0xFF (BOOTRST=1 BODPD=3)", json.decode(r.stdout).fuse2)
      r = cw({ "program", "xmega", file, "--fuse", "fuse2=0xBF", "--fuse", "FUSE5=0xF7" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("; fuse2=0xBF, fuse5=0xF7\n$", r.stdout)
      local j = json.decode(cw({ "info", "xmega", "--json" }).stdout)
      assert.are.equal("0xBF (BOOTRST=0 BODPD=3)", j.fuse2)
      assert.are.equal("0xF7 (BODACT=3 EESAVE=0 BODLEVEL=7)", j.fuse5)
      r = cw({ "verify", "xmega", file, "--fuse", "fuse2=0xBE", "-q" })
      assert.are.equal(5, r.status)
      assert.are.equal("cwlua: xmega: fuse2 should be 0xBE, the chip has 0xBF\n", r.stderr)
    end)

    for _, c in ipairs({
      { { "--fuse", "fuse3=0xFF" }, "atxmega128d4 has no fuse 'fuse3' (its fuses: fuse1, fuse2, "
        .. "fuse4, fuse5)" },
      { { "--fuse", "fuse2=0x3F" }, "fuse2=0x3F clears bits 0x80, which atxmega128d4 does not "
        .. "have (its bits: 0x43; the others must stay 1)" },
      { { "--fuse", "fuse4=0xEF" }, "fuse4=0xEF programs RSTDISBL: the reset pin (PDIC, also "
        .. "PDI_CLK) no longer resets the chip, so 'cwlua reset xmega' and NewAE's reset stop "
        .. "working; add --force to write it anyway" },
      { { "--lock", "0xFC" }, "lock 0xFC sets LB = 00 (read and write lock): the chip's flash, "
        .. "EEPROM and fuses can then no longer be read or written over PDI until a chip erase, "
        .. "which erases everything; add --force to do it anyway" },
      { { "--lock", "0xFD" }, "lock 0xFD sets LB = 01, which is reserved; use 0xFF (no lock), "
        .. "0xFE (write lock) or 0xFC (read and write lock)" },
    }) do
      it("refuses " .. table.concat(c[1], " ") .. " before erasing: exit 2", function()
        local r = cw({ "program", "xmega", hex({ { 0, "old" } }), "-q" })
        assert.are.equal(0, r.status, r.stderr)
        local args = { "program", "xmega", hex({ { 0, "new" } }, "new.hex") }
        for _, x in ipairs(c[1]) do args[#args + 1] = x end
        r = cw(args)
        assert.are.equal(2, r.status)
        assert.are.equal("cwlua: xmega: " .. c[2] .. "\n", r.stderr)
        assert.are.equal("old", readback({ "--len", "3" }))
      end)
    end

    it("--force writes a lock-out setting; the chip then needs --unprotect", function()
      local r = cw({ "program", "xmega", hex({ { 0, "secret" } }), "--lock", "0xFC", "--force",
        "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "read", "xmega", dir .. "/x.bin" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: xmega: the chip is read-protected and refuses to be read or "
        .. "written; nothing on it can be read (cwlua program --unprotect erases it and removes "
        .. "the protection)\n", r.stderr)
      r = cw({ "program", "xmega", hex({ { 0, "fresh" } }), "--unprotect", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("fresh\xFF", readback({ "--len", "6" }))
    end)

    it("a bad --fuse value is a usage error", function()
      local r = cw({ "program", "xmega", hex({ { 0, "x" } }), "--fuse", "fuse2=0x1FF" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: --fuse fuse2 needs a byte value like 0xBF, got '0x1FF'\n",
        r.stderr)
    end)
  end)

  describe("protection faults", function()
    it("write-protected (LB = 10) refuses before erasing; --unprotect-write erases", function()
      local r = cw({ "--sim-fault", "write-protected", "program", "xmega", hex({ { 0, "x" } }) })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: xmega: the chip's lock bits (0xFE, LB = write lock) refuse writes "
        .. "over PDI; --unprotect-write removes them with a chip erase (flash and EEPROM are "
        .. "erased)\n", r.stderr)
      r = cw({ "--sim-fault", "write-protected", "program", "xmega", hex({ { 0, "x" } }),
        "--unprotect-write", "-q" })
      assert.are.equal(0, r.status, r.stderr)
    end)
  end)

  it("a chip erase that outlasts the engine's timeout is waited for", function()
    local r = cw({ "program", "xmega", hex({ { 0x4000, "old boot data" } }), "-q",
      "--part", "atxmega16a4" })
    assert.are.equal(0, r.status, r.stderr)
    -- slow-erase: 45 ms x 10 against the 200 ms counter (target-protocols.md §B.5)
    r = cw({ "-v", "--sim-fault", "slow-erase", "--sim-target", "atxmega16a4", "program",
      "xmega", hex({ { 0, "new" } }), "--chip" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("xmega: chip erase outlasted the engine's 200 ms timeout; re%-entering until "
      .. "it ends\n", r.stderr)
    assert.are.equal("\xFF\xFF\xFF", readback({ "--sim-target", "atxmega16a4", "--addr",
      "0x4000", "--len", "3" }))
    -- with a short timeout even a normal chip erase (75 ms) outlasts it
    r = cw({ "-v", "program", "xmega", hex({ { 0, "new" } }), "--chip", "--set",
      "engine_timeout_ms=50" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("outlasted the engine's 50 ms timeout", r.stderr)
  end)

  describe("faults and diagnosis", function()
    local function doctor(fault)
      local r = cw({ "--sim-fault", fault, "doctor", "xmega", "--json" })
      return json.decode(r.stdout), r
    end

    it("pdi-open: no reply, naming the PDI lines", function()
      local r = cw({ "--sim-fault", "pdi-open", "program", "xmega", hex({ { 0, "x" } }) })
      assert.are.equal(4, r.status)
      assert.are.equal("cwlua: xmega: no reply over PDI: the chip did not enable its NVM "
        .. "interface within 200 ms (ENTER: status 1, timed out)\n"
        .. "  seen: nothing came back on PDI: the engine's ENTER timed out waiting for the chip "
        .. "to enable its NVM interface\n"
        .. "  likely: PDIC (PDI_CLK, also the XMEGA's /RESET) or PDID (PDI_DATA) does not reach "
        .. "the chip: the 20-pin cable or the target's seating on the CW308; or the target has "
        .. "no power\n"
        .. "  do: look at the target board's power LED (or 3.3 V on the CW308's test point): lit, "
        .. "the target is powered and PDIC or PDID does not reach the XMEGA; dark, it has no "
        .. "power (the board cannot tell these apart); then run 'cwlua doctor xmega' to test "
        .. "each link\n", r.stderr)
      local d, dr = doctor("pdi-open")
      assert.are.equal(4, dr.status)
      assert.are.equal("no-reply", d.cause)
      assert.are.equal("PDIC (PDI_CLK, also the XMEGA's /RESET) or PDID (PDI_DATA) does not "
        .. "reach the chip: the 20-pin cable or the target's seating on the CW308",
        d.candidates[1])
      -- the board cannot tell a cut line from no power: the look that can comes first
      assert.matches("^first look at the target board's power LED", d.actions[1])
      assert.are.equal("powered: check that PDIC and PDID reach the XMEGA: the 20-pin cable or "
        .. "the target's seating on the CW308", d.actions[2])
      assert.are.equal("PDI entry", d.steps[#d.steps].name)
      assert.are.equal("failed", d.steps[#d.steps].status)
    end)

    it("no-power: no reply", function()
      local r = cw({ "--sim-fault", "no-power", "program", "xmega", hex({ { 0, "x" } }) })
      assert.are.equal(4, r.status)
      assert.are.equal("no-reply", doctor("no-power").cause)
    end)

    it("nrst-open changes nothing: the XMEGA's reset is PDIC", function()
      local r = cw({ "--sim-fault", "nrst-open", "program", "xmega", hex({ { 0, "x" } }), "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("ok", doctor("nrst-open").cause)
      r = cw({ "--sim-fault", "nrst-open", "reset", "xmega" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("reset: pdic low for 10 ms\n", r.stdout)
    end)

    it("doctor passes a healthy target", function()
      local d, r = doctor("glitch-active")
      assert.are.equal(3, r.status)
      assert.are.equal("glitch-active", d.cause)
      r = cw({ "doctor", "xmega", "--json" })
      assert.are.equal(0, r.status, r.stderr)
      d = json.decode(r.stdout)
      local names = {}
      for _, s in ipairs(d.steps) do names[#names + 1] = s.name .. "=" .. s.status end
      assert.are.same({ "board=ok", "FPGA=ok", "glitch outputs=ok", "target power=unverifiable",
        "XPROG engine=ok", "PDI lines=ok", "PDI entry=ok", "signature=ok", "read check=ok",
        "lock bits=ok" }, names)
    end)

    it("doctor on a Nano: no-engine, exit 3", function()
      local r = cli.run({ "-d", "sim:nano", "doctor", "xmega", "--json" }, { XDG_STATE_HOME = env })
      assert.are.equal(3, r.status)
      local d = json.decode(r.stdout)
      assert.are.equal("no-engine", d.cause)
      assert.are.equal("this board (CW-Nano) cannot program XMEGA: its firmware has no XPROG "
        .. "(PDI) engine; use a CW-Lite, CW1200 or CW-Husky", d.steps[#d.steps].observed)
    end)
  end)

  it("leaves the board as found: PDIC and PDID back to what they were", function()
    local script = cli.write(dir .. "/s.lua", [[
      local b = assert(cw.open("sim", { target = "atxmega128d4" }))
      b:pin("pdic", "high")
      b:pin("pdid", "low")
      local r = cw.flash.program("xmega", arg[1], { board = b, quiet = true })
      local v = b:sim_view()
      print(r.verify, b:pin("pdic"), b:pin("pdid"), v.pins.pdic, v.pins.pdid)
      -- a failed program (wrong part) leaves them too, and the PDI released
      local ok, msg = cw.flash.program("xmega", arg[1], { board = b, quiet = true,
        part = "atxmega16a4" })
      print(ok, msg)
      print(b:pin("pdic"), b:pin("pdid"))
    ]])
    local r = cli.run({ "run", script, hex({ { 0, "x" } }) }, { XDG_STATE_HOME = env })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("ok\thigh\tlow\thigh\tlow\n"
      .. "nil\txmega: the chip's signature 1E 97 47 is atxmega128d4, not --part atxmega16a4 "
      .. "(1E 94 41); nothing was changed\n"
      .. "high\tlow\n", r.stdout)
  end)

  it("programs through cwlua sim attach (the real libusb path)", function()
    local bin = cli.BIN
    local file = hex({ { 0, "over libusb" }, { EE, "ee" } })
    for _, part in ipairs({ "atxmega128d4", "atxmega16a4" }) do
      local out = dir .. "/" .. part .. ".bin"
      local r = cli.run({ "sim", "attach", "--sim-state", dir .. "/state-" .. part,
        "cwlite:" .. part .. "@S1", "--", "sh", "-c",
        ("%s program xmega %s -q && %s read xmega %s --len 11 -q && %s info xmega --json"):format(
          cli.quote(bin), cli.quote(file), cli.quote(bin), cli.quote(out), cli.quote(bin)) },
        { XDG_STATE_HOME = env })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("over libusb", slurp(out))
      assert.matches("^" .. part:gsub("atx", "ATx"):gsub("d4", "D4"):gsub("a4", "A4")
        .. " %(signature", json.decode(r.stdout).chip)
    end
  end)
end)
