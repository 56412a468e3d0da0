-- SPDX-License-Identifier: MIT
-- cwlua program / verify / read / erase / info stm32f1 on the simulator. Every check
-- of the chip's memory is made by reading it back with a second cwlua command, as a user would.
local cli = require "support.cli"
local images = require "support.images"

local FLASH = 0x08000000
local PAGE = 1024 -- STM32F100xB: 1 KiB pages (target-protocols.md §A.6)

describe("programming an STM32F1 on the simulator", function()
  local dir, env

  -- run cwlua -d sim with this spec's own state folder (the simulated flash persists there)
  local function cw(args, extra_env) return cli.sim(env, args, extra_env) end

  local function flash_bytes(addr, len)
    return cli.read_back(env, "stm32f1", dir .. "/readback.bin", addr, len)
  end

  before_each(function()
    dir = cli.tmpdir()
    env = cli.tmpdir()
  end)
  after_each(cli.cleanup)

  describe("program", function()
    it("writes a hex image, verifies it and says so", function()
      local data = images.pattern(4096)
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, data } }))
      local r = cw({ "program", "stm32f1", hex })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^programmed 4096 bytes into STM32F10xxx Medium%-density VL in [%d.]+ s "
        .. "%([%d.]+ [KM]?i?B/s%), 4 pages erased, verified\n$", r.stdout)
      assert.are.equal(data, flash_bytes(FLASH, 4096))
    end)

    it("writes raw binary at the flash start, and at --base", function()
      local data = images.pattern(1000, 3)
      local bin = cli.write(dir .. "/fw.bin", data)
      assert.are.equal(0, cw({ "program", "stm32f1", bin, "-q" }).status)
      assert.are.equal(data, flash_bytes(FLASH, 1000))
      local r = cw({ "program", "stm32f1", bin, "--base", "0x08004000", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(data, flash_bytes(0x08004000, 1000))
    end)

    it("writes an ELF at its physical addresses", function()
      local a, b = images.pattern(300, 5), images.pattern(200, 6)
      local elf = cli.write(dir .. "/fw.elf", images.elf({ { FLASH, a }, { FLASH + 0x800, b } }))
      local r = cw({ "program", "stm32f1", elf, "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(a, flash_bytes(FLASH, 300))
      assert.are.equal(b, flash_bytes(FLASH + 0x800, 200))
    end)

    it("writes an image with gaps and leaves the gaps erased", function()
      local a, b = images.pattern(10, 1), images.pattern(7, 2)
      local hex = cli.write(dir .. "/gaps.hex", images.hex({ { FLASH + 2, a }, { FLASH + 40, b } }))
      assert.are.equal(0, cw({ "program", "stm32f1", hex, "-q" }).status)
      assert.are.equal("\xFF\xFF" .. a .. ("\xFF"):rep(28) .. b .. ("\xFF"):rep(17),
        flash_bytes(FLASH, 64))
    end)

    it("erases exactly the pages the image touches", function()
      local old = images.pattern(4 * PAGE, 9)
      assert.are.equal(0, cw({ "program", "stm32f1",
        cli.write(dir .. "/old.hex", images.hex({ { FLASH, old } })), "-q" }).status)
      -- 100 bytes across the boundary of pages 1 and 2
      local new = images.pattern(100, 4)
      local r = cw({ "program", "stm32f1", cli.write(dir .. "/new.hex",
        images.hex({ { FLASH + 2 * PAGE - 50, new } })) })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches(", 2 pages erased, verified\n$", r.stdout)
      local got = flash_bytes(FLASH, 4 * PAGE)
      assert.are.equal(old:sub(1, PAGE), got:sub(1, PAGE))                      -- page 0 kept
      assert.are.equal(("\xFF"):rep(PAGE - 50), got:sub(PAGE + 1, 2 * PAGE - 50)) -- page 1 erased
      assert.are.equal(new, got:sub(2 * PAGE - 49, 2 * PAGE + 50))
      assert.are.equal(old:sub(3 * PAGE + 1), got:sub(3 * PAGE + 1))            -- page 3 kept
    end)

    it("erases everything with --chip", function()
      assert.are.equal(0, cw({ "program", "stm32f1", cli.write(dir .. "/a.hex",
        images.hex({ { FLASH + 0x10000, "\1\2\3\4" } })), "-q" }).status)
      local r = cw({ "program", "stm32f1", "--chip", cli.write(dir .. "/b.hex",
        images.hex({ { FLASH, "\5\6\7\8" } })) })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches(", 128 pages erased, verified\n$", r.stdout)
      assert.are.equal(("\xFF"):rep(4), flash_bytes(FLASH + 0x10000, 4))
    end)

    it("accepts the ChipWhisperer alias CW308_STM32F1", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "cwlua" } }))
      local r = cw({ "program", "CW308_STM32F1", hex })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("cwlua", flash_bytes(FLASH, 5))
    end)

    it("skips the read-back with --no-verify and says so", function()
      local r = cw({ "program", "stm32f1", "--no-verify",
        cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "abcd" } })) })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches(", not verified\n$", r.stdout)
    end)

    it("programs a bootloader that is already synced with --no-reset", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, images.pattern(512) } }))
      local r = cw({ "--sim-fault", "already-synced", "program", "stm32f1", hex, "--no-reset" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(images.pattern(512), flash_bytes(FLASH, 512))
    end)

    it("prints one JSON object with --json", function()
      local r = cw({ "--json", "program", "stm32f1",
        cli.write(dir .. "/fw.hex", images.hex({ { FLASH, images.pattern(256) } })) })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches('^{"bytes":256,"cause":"ok","erased":1,"rate":[%d.e+]+,"retries":0,'
        .. '"schema":1,'
        .. '"seconds":[%d.e%-]+,"sim":{"flash_s":[%d.e%-]+,"usb":{"bulk":0,"ctrl_in":%d+,'
        .. '"ctrl_out":%d+},"wait_s":[%d.e%-]+,"wire_s":[%d.e%-]+},"verify":"ok"}\n$', r.stdout)
    end)
  end)

  describe("bad input: exit 2, nothing on the chip touched", function()
    local before
    before_each(function()
      assert.are.equal(0, cw({ "program", "stm32f1", cli.write(dir .. "/base.hex",
        images.hex({ { FLASH, images.pattern(2048, 7) } })), "-q" }).status)
      before = flash_bytes(FLASH, 2048)
    end)

    local function unchanged()
      assert.are.equal(before, flash_bytes(FLASH, 2048))
    end

    it("a missing file", function()
      local r = cw({ "program", "stm32f1", dir .. "/nope.hex" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: cannot open " .. dir .. "/nope.hex: No such file or directory\n",
        r.stderr)
      unchanged()
    end)

    it("a malformed hex", function()
      local hex = cli.write(dir .. "/bad.hex", ":10000000000102030405060708090A0B0C0D0E0F00\n")
      local r = cw({ "program", "stm32f1", hex })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. hex .. ":1: bad checksum 0x00 (expected 0x78)\n", r.stderr)
      unchanged()
    end)

    it("a .hex that is not Intel HEX", function()
      local hex = cli.write(dir .. "/text.hex", "this is not a hex file\n")
      local r = cw({ "program", "stm32f1", hex })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. hex .. ": the name says Intel HEX but the content is not (its "
        .. "first line does not start with ':'); check the file\n", r.stderr)
      unchanged()
    end)

    it("an image too large for the chip", function()
      local bin = cli.write(dir .. "/big.bin", images.pattern(200 * 1024))
      local r = cw({ "program", "stm32f1", bin })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. bin .. ": 0x08020000 is outside the flash of this STM32F10xxx "
        .. "Medium-density VL (0x08000000-0x0801FFFF, 128 KiB); the image spans "
        .. "0x08000000-0x08031FFF; build it for this chip or pick the right target\n", r.stderr)
      unchanged()
    end)

    it("option-byte records without --option-bytes", function()
      local hex = cli.write(dir .. "/ob.hex", images.hex({ { FLASH, "\1\2\3\4" },
        { 0x1FFFF800, "\xA5\x5A" } }))
      local r = cw({ "program", "stm32f1", hex })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. hex .. ": the image has option-byte data at 0x1FFFF800; "
        .. "writing option bytes needs --option-bytes\n", r.stderr)
      unchanged()
    end)

    it("the wrong chip for the recipe, naming the recipe that fits", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "\1\2\3\4" } }))
      local r = cw({ "--sim-target", "stm32f303xc", "program", "stm32f1", hex })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: stm32f1: the chip reports product ID 0x422 "
        .. "(STM32F302xB(C)/F303xB(C)/F358xx), which this recipe does not program; use the "
        .. "recipe 'stm32f3'\n", r.stderr)
      unchanged()
    end)

    it("an unknown recipe parameter", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "\1\2\3\4" } }))
      local r = cw({ "program", "stm32f1", hex, "--set", "baud=9600" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: recipe stm32f1 has no parameter 'baud' (did you mean 'bauds'?); "
        .. "its parameters: bauds, boot_pin, flash_start, program_clock_hz, reset_ms, "
        .. "reset_pin, timing\n", r.stderr)
    end)
  end)

  describe("verify", function()
    it("exits 5 naming the first difference", function()
      local a = images.pattern(64, 1)
      assert.are.equal(0, cw({ "program", "stm32f1",
        cli.write(dir .. "/a.hex", images.hex({ { FLASH, a } })), "-q" }).status)
      local b = a:sub(1, 40) .. "X" .. a:sub(42)
      local r = cw({ "verify", "stm32f1",
        cli.write(dir .. "/b.hex", images.hex({ { FLASH, b } })) })
      assert.are.equal(5, r.status)
      assert.are.equal(("cwlua: stm32f1: verify failed at 0x08000028: the image has 0x58, the "
        .. "chip 0x%02X\n"):format(a:byte(41)), r.stderr)
      r = cw({ "verify", "stm32f1", cli.write(dir .. "/a2.hex", images.hex({ { FLASH, a } })) })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^verified 64 bytes of STM32F10xxx Medium%-density VL in [%d.]+ s: "
        .. "identical\n$", r.stdout)
    end)

    it("exits 5 with the address when a write-protected page kept its bytes", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, images.pattern(256) } }))
      local r = cw({ "--sim-fault", "write-protected=0", "program", "stm32f1", hex, "-q" })
      assert.are.equal(5, r.status)
      assert.matches("^cwlua: stm32f1: verify failed at 0x08000000: the image has 0x%x%x, the chip "
        .. "0xFF; write%-protection sector 0 is on, which keeps the old bytes: rerun with "
        .. "%-%-unprotect%-write\n$", r.stderr)
    end)
  end)

  describe("read", function()
    it("reads the whole flash by default, as the flash-size register says", function()
      local r = cw({ "read", "stm32f1", dir .. "/all.bin" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^read 131072 bytes from 0x08000000 of STM32F10xxx Medium%-density VL into ",
        r.stdout)
      local f = assert(io.open(dir .. "/all.bin", "rb"))
      assert.are.equal(131072, #f:read("a"))
      f:close()
    end)

    it("writes Intel HEX for a .hex name, which programs back identically", function()
      local data = images.pattern(300, 8)
      assert.are.equal(0, cw({ "program", "stm32f1",
        cli.write(dir .. "/a.hex", images.hex({ { FLASH + 16, data } })), "-q" }).status)
      local r = cw({ "read", "stm32f1", dir .. "/back.hex", "--addr", "0x08000010", "--len",
        "300", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "verify", "stm32f1", dir .. "/back.hex", "-q" })
      assert.are.equal(0, r.status, r.stderr)
    end)

    it("leaves no output file when the read fails", function()
      local r = cw({ "--sim-fault", "uart-rx-open", "read", "stm32f1", dir .. "/x.bin" })
      assert.are.equal(4, r.status)
      assert.is_nil(io.open(dir .. "/x.bin", "rb"))
      assert.is_nil(io.open(dir .. "/x.bin.part", "rb"))
    end)
  end)

  describe("erase", function()
    it("erases the pages touched by --addr/--len", function()
      assert.are.equal(0, cw({ "program", "stm32f1", cli.write(dir .. "/a.hex",
        images.hex({ { FLASH, images.pattern(3 * PAGE) } })), "-q" }).status)
      local r = cw({ "erase", "stm32f1", "--addr", "0x08000400", "--len", "1" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^erased 1 page of STM32F10xxx Medium%-density VL", r.stdout)
      local got = flash_bytes(FLASH, 3 * PAGE)
      assert.are.equal(("\xFF"):rep(PAGE), got:sub(PAGE + 1, 2 * PAGE))
      assert.are.equal(images.pattern(3 * PAGE):sub(1, PAGE), got:sub(1, PAGE))
    end)

    it("needs --chip or --addr and --len", function()
      local r = cw({ "erase", "stm32f1" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: erase needs --chip (everything) or --addr and --len (the pages or "
        .. "sectors they touch)\n", r.stderr)
    end)
  end)

  describe("info", function()
    it("names the chip, bootloader and flash", function()
      local r = cw({ "info", "stm32f1" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^chip: +STM32F10xxx Medium%-density VL %(ID 0x420%)\nbootloader: +v2%.2\n"
        .. "flash: +128 KiB at 0x08000000, 128 pages\n", r.stdout)
    end)
  end)

  describe("a target that does not answer", function()
    it("exits 4 and says what it tried", function()
      local r = cw({ "--sim-fault", "uart-rx-open", "info", "stm32f1" })
      assert.are.equal(4, r.status)
      assert.are.equal("cwlua: stm32f1: no reply to bootloader sync (0x7F), sent twice 100 ms "
        .. "apart (tried 115200, 57600, 38400, 19200 baud)\n"
        .. "  seen: nothing came back; the target's TX line (TIO1) is low: nothing drives it\n"
        .. "  likely: the target has no power (a CW-Lite cannot measure the target's supply); or "
        .. "the target's TX does not reach the board's RX (TIO1): a CW506 between board and "
        .. "target (its UART routing switches), or the 20-pin cable or the target's seating\n"
        .. "  do: look at the target board's power LED (or 3.3 V on the CW308's test point): lit, "
        .. "the target is powered and its TX does not reach the board; dark, it has no power (the "
        .. "board cannot tell these apart); then run 'cwlua doctor stm32f1' to test each link\n",
        r.stderr)
    end)
  end)
end)
