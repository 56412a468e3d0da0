-- SPDX-License-Identifier: MIT
-- The STM32 family, protection, option bytes, --json and --log-wire on the simulator.
local cli = require "support.cli"
local images = require "support.images"
-- Debian's lua-dkjson (a busted dependency): a JSON decoder we did not write
local json = require "dkjson"

local FLASH = 0x08000000

describe("STM32 family on the simulator", function()
  local dir, env

  local function cw(args) return cli.sim(env, args) end

  local function readback(target, addr, len, extra)
    return cli.read_back(env, target, dir .. "/rb.bin", addr, len, extra)
  end

  before_each(function()
    dir, env = cli.tmpdir(), cli.tmpdir()
  end)
  after_each(cli.cleanup)

  for _, c in ipairs({
    { "stm32f0", "STM32F070xB/F071xx/F72xx", 0x448, "2 KiB pages" },
    { "stm32f1", "STM32F10xxx Medium-density VL", 0x420, "1 KiB pages" },
    { "stm32f2", "STM32F2xxxx", 0x411, "sectors" },
    { "stm32f3", "STM32F302xB(C)/F303xB(C)/F358xx", 0x422, "2 KiB pages" },
    { "stm32f4", "STM32F40xxx/41xxx", 0x413, "sectors" },
    -- the L parts whose geometry target-protocols.md §A.6 gives
    { "stm32l0", "STM32L05xxx/06xxx", 0x417, "128 B pages" },
    { "stm32l1", "STM32L1xxx6(8/B)", 0x416, "256 B pages" },
    { "stm32l4", "STM32L43xxx/44xxx", 0x435, "2 KiB pages" },
  }) do
    it(c[1] .. " programs, verifies and reads back its reference part", function()
      local data = images.pattern(3000, #c[1])
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH + 0x100, data } }))
      local r = cw({ "program", c[1], hex })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^programmed 3000 bytes into " .. c[2]:gsub("%p", "%%%0"), r.stdout)
      assert.are.equal(data, readback(c[1], FLASH + 0x100, 3000))
      r = cw({ "info", c[1] })
      assert.matches(("%%(ID 0x%03X%%)"):format(c[3]), r.stdout)
    end)
  end

  it("CWNANO is the default chip of a simulated Nano, and CWLITEARM an F303", function()
    local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "nano" } }))
    local r = cli.run({ "-d", "sim:nano", "program", "CWNANO", hex }, { XDG_STATE_HOME = env })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("into STM32F03xx4/6 ", r.stdout)
    r = cli.run({ "-d", "sim:nano", "program", "stm32f0", hex }, { XDG_STATE_HOME = env })
    assert.matches("into STM32F03xx4/6 ", r.stdout)
    r = cw({ "program", "CWLITEARM", hex })
    assert.matches("into STM32F302xB%(C%)/F303xB%(C%)/F358xx ", r.stdout)
  end)

  it("refuses the wrong family, naming the recipe that fits", function()
    local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "abcd" } }))
    local r = cw({ "--sim-target", "stm32f205xe", "program", "stm32f4", hex })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: stm32f4: the chip reports product ID 0x411 (STM32F2xxxx), which "
      .. "this recipe does not program; use the recipe 'stm32f2'\n", r.stderr)
  end)

  describe("read protection", function()
    it("is reported by info", function()
      local r = cw({ "--sim-fault", "read-protected", "info", "stm32f1" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("\nread protection: +on\nwrite%-protected sectors: +unknown %(the chip is "
        .. "read%-protected%)\n", r.stdout)
    end)

    it("refuses program without --unprotect, and works with it: erased, then programmed",
      function()
        local old = images.pattern(4096, 1)
        assert.are.equal(0, cw({ "program", "stm32f1", cli.write(dir .. "/old.hex",
          images.hex({ { FLASH, old } })), "-q" }).status)
        local new = cli.write(dir .. "/new.hex", images.hex({ { FLASH, "NEW!" } }))
        local r = cw({ "--sim-fault", "read-protected", "program", "stm32f1", new })
        assert.are.equal(2, r.status)
        assert.are.equal("cwlua: stm32f1: the chip is read-protected and refuses to be read or "
          .. "written; --unprotect removes the protection by erasing the whole flash\n", r.stderr)
        r = cw({ "read", "stm32f1", dir .. "/x.bin" })
        assert.are.equal(2, r.status) -- still protected: the state persists
        r = cw({ "program", "stm32f1", new, "--unprotect", "-q" })
        assert.are.equal(0, r.status, r.stderr)
        local got = readback("stm32f1", FLASH, 4096)
        assert.are.equal("NEW!" .. ("\xFF"):rep(4092), got) -- the rest was mass-erased
        assert.matches("\nread protection: +off\n", cw({ "info", "stm32f1" }).stdout)
      end)
  end)

  describe("write protection", function()
    it("exits 5 naming the sector and --unprotect-write, which then fixes it", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH + 8, "\1\2\3\4" } }))
      local r = cw({ "--sim-fault", "write-protected=0", "program", "stm32f1", hex, "-q" })
      assert.are.equal(5, r.status)
      assert.are.equal("cwlua: stm32f1: verify failed at 0x08000008: the image has 0x01, the chip "
        .. "0xFF; write-protection sector 0 is on, which keeps the old bytes: rerun with "
        .. "--unprotect-write\n", r.stderr)
      assert.matches("\nwrite%-protected sectors: +0\n", cw({ "info", "stm32f1" }).stdout)
      r = cw({ "program", "stm32f1", hex, "--unprotect-write", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("\1\2\3\4", readback("stm32f1", FLASH + 8, 4))
      assert.matches("\nwrite%-protected sectors: +none\n", cw({ "info", "stm32f1" }).stdout)
    end)
  end)

  describe("option bytes", function()
    it("reads them with read --option-bytes (factory values, §A.6 address)", function()
      local r = cw({ "read", "stm32f1", dir .. "/ob.bin", "--option-bytes", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local f = assert(io.open(dir .. "/ob.bin", "rb"))
      local ob = f:read("a")
      f:close()
      assert.are.equal(16, #ob)
      assert.are.equal("\xA5\x5A", ob:sub(1, 2)) -- RDP key and its complement: not protected
    end)

    it("writes option-byte records last with --option-bytes, merged over the chip's", function()
      -- WRP0 = 0xFE (protect sector 0) with its complement 0x01, at 0x1FFFF808 (RM0008)
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "\1\2\3\4" },
        { 0x1FFFF808, "\xFE\x01" } }))
      local r = cw({ "program", "stm32f1", hex, "--option-bytes", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("\nwrite%-protected sectors: +0\n", cw({ "info", "stm32f1" }).stdout)
      local ob = readback("stm32f1", 0x1FFFF800, 16)
      assert.are.equal("\xA5\x5A", ob:sub(1, 2)) -- untouched bytes kept (RDP stays off)
      assert.are.equal("\xFE\x01", ob:sub(9, 10))
    end)
  end)

  describe("L0, L1 and L4 (issue 9)", function()
    local n = 0
    local function hexfile(ranges) -- a new file each time
      n = n + 1
      return cli.write(("%s/l%d.hex"):format(dir, n), images.hex(ranges))
    end

    for _, c in ipairs({ { "stm32l0", "STM32L05xxx/06xxx" }, { "stm32l1", "STM32L1xxx6(8/B)" } }) do
      it(c[1] .. ": an image with gaps reads back 0x00 in them (erased flash is 0x00)", function()
        -- gaps inside a written word, between words, and a whole page untouched
        local hex = hexfile({ { FLASH + 1, "ab" }, { FLASH + 0x10, "cdef" },
          { FLASH + 0x401, "xyz" } })
        local r = cw({ "program", c[1], hex })
        assert.are.equal(0, r.status, r.stderr)
        assert.matches("^programmed 9 bytes into " .. c[2]:gsub("%p", "%%%0") .. " in ", r.stdout)
        local want = "\0ab\0" .. ("\0"):rep(12) .. "cdef" .. ("\0"):rep(0x401 - 0x14) .. "xyz"
          .. ("\0"):rep(0x800 - 0x404)
        assert.are.equal(want, readback(c[1], FLASH, 0x800))
      end)

      it(c[1] .. ": erase --chip erases every page in lists of at most 511, no mass erase",
        function()
          local hex = hexfile({ { FLASH, images.pattern(600) }, { FLASH + 0xFF00, "end!" } })
          assert.are.equal(0, cw({ "program", c[1], hex, "-q" }).status)
          local r = cw({ "--log-wire", "erase", c[1], "--chip" })
          assert.are.equal(0, r.status, r.stderr)
          assert.matches("^erased 512 pages of " .. c[2]:gsub("%p", "%%%0") .. " in ", r.stdout)
          -- Extended Erase of pages 0..510 (N = 0x01FE), then page 511 (N = 0, code 0x01FF)
          assert.matches("\n%+[%d.]+ > 01 FE 00 00 00 01 00 02 ", r.stderr)
          assert.matches("\n%+[%d.]+ > 00 00 01 FF FE\n", r.stderr)
          assert.is_nil(r.stderr:find("> FF FF 00", 1, true))
          assert.are.equal(("\0"):rep(600), readback(c[1], FLASH, 600))
          assert.are.equal(("\0"):rep(4), readback(c[1], FLASH + 0xFF00, 4))
          -- program --chip takes the same way
          r = cw({ "program", c[1], hexfile({ { FLASH, "chip" } }), "--chip", "-q" })
          assert.are.equal(0, r.status, r.stderr)
          assert.are.equal("chip", readback(c[1], FLASH, 4))
        end)
    end

    it("stm32l4: an image whose length is not a multiple of 8 programs and verifies", function()
      -- 13 bytes from an address that is not 8-byte aligned, and 3 bytes further on
      local hex = hexfile({ { FLASH + 0x104, "thirteen byte" }, { FLASH + 0x203, "odd" } })
      local r = cw({ "--log-wire", "program", "stm32l4", hex })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^programmed 16 bytes into STM32L43xxx/44xxx in .*, verified\n", r.stdout)
      -- the blocks went out as double words: 24 bytes at 0x08000100, 8 at 0x08000200
      assert.matches("\n%+[%d.]+ > 08 00 01 00 09\n.-\n%+[%d.]+ > 17 FF FF FF FF 74 68 ",
        r.stderr)
      assert.matches("\n%+[%d.]+ > 08 00 02 00 0A\n.-\n%+[%d.]+ > 07 FF FF FF 6F 64 64 FF ",
        r.stderr)
      assert.are.equal(("\xFF"):rep(4) .. "thirteen byte" .. ("\xFF"):rep(7),
        readback("stm32l4", FLASH + 0x100, 24))
      assert.are.equal("\xFF\xFF\xFFodd\xFF\xFF", readback("stm32l4", FLASH + 0x200, 8))
    end)

    it("refuses the wrong family, naming the L recipe", function()
      local hex = hexfile({ { FLASH, "abcd" } })
      local r = cw({ "--sim-target", "stm32l151xb", "program", "stm32f1", hex })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: stm32f1: the chip reports product ID 0x416 (STM32L1xxx6(8/B)), "
        .. "which this recipe does not program; use the recipe 'stm32l1'\n", r.stderr)
      r = cw({ "--sim-target", "stm32l433xc", "program", "stm32l0", hex })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: stm32l0: the chip reports product ID 0x435 (STM32L43xxx/44xxx), "
        .. "which this recipe does not program; use the recipe 'stm32l4'\n", r.stderr)
      r = cw({ "--sim-target", "stm32l051x8", "info", "stm32l1" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: stm32l1: the chip reports product ID 0x417 (STM32L05xxx/06xxx), "
        .. "which this recipe does not program; use the recipe 'stm32l0'\n", r.stderr)
      r = cw({ "--sim-target", "stm32f100xb", "info", "stm32l4" })
      assert.are.equal("cwlua: stm32l4: the chip reports product ID 0x420 (STM32F10xxx "
        .. "Medium-density VL), which this recipe does not program; use the recipe 'stm32f1'\n",
        r.stderr)
    end)

    it("shows protection in info: L0/L1 WRP bits set = protected, L4 page ranges", function()
      local r = cw({ "--sim-fault", "write-protected=1-2", "info", "stm32l0" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("\nread protection: +off\nwrite%-protected sectors: +1%-2\n", r.stdout)
      r = cw({ "--sim-fault", "write-protected=3-5", "info", "stm32l4" })
      assert.matches("\nwrite%-protected sectors: +3%-5\n", r.stdout)
      r = cw({ "--sim-fault", "read-protected", "info", "stm32l1" })
      assert.matches("\nread protection: +on\nwrite%-protected sectors: +unknown %(the chip is "
        .. "read%-protected%)\n", r.stdout)
      -- a verify failure in a protected sector names it; --unprotect-write clears it
      local hex = hexfile({ { FLASH + 0x1000, "\1\2\3\4" } })
      r = cw({ "program", "stm32l0", hex, "-q" })
      assert.are.equal(5, r.status)
      assert.are.equal("cwlua: stm32l0: verify failed at 0x08001000: the image has 0x01, the chip "
        .. "0x00; write-protection sector 1 is on, which keeps the old bytes: rerun with "
        .. "--unprotect-write\n", r.stderr)
      r = cw({ "program", "stm32l0", hex, "-q", "--unprotect-write" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("\nwrite%-protected sectors: +none\n", cw({ "info", "stm32l0" }).stdout)
    end)

    it("L0 option bytes: 32 of them at 0x1FF80000, WRP written with --option-bytes", function()
      local r = cw({ "read", "stm32l0", dir .. "/ob.bin", "--option-bytes", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local f = assert(io.open(dir .. "/ob.bin", "rb"))
      local ob = f:read("a")
      f:close()
      assert.are.equal(32, #ob)
      assert.are.equal("\xAA\x00\x55\xFF", ob:sub(1, 4)) -- RDP level 0 and its complement
      -- WRP1 = 0x0001 with its complement 0xFFFE: sector 0 protected (a set bit protects)
      local hex = hexfile({ { FLASH, "\1\2\3\4" }, { 0x1FF80008, "\x01\x00\xFE\xFF" } })
      r = cw({ "program", "stm32l0", hex, "--option-bytes", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("\nwrite%-protected sectors: +0\n", cw({ "info", "stm32l0" }).stdout)
    end)

    it("L1: --unprotect erases a read-protected chip to 0x00 and programs it", function()
      local hex = hexfile({ { FLASH, "NEW!" } })
      assert.are.equal(0, cw({ "program", "stm32l1", hexfile({ { FLASH, images.pattern(64) } }),
        "-q" }).status)
      local r = cw({ "--sim-fault", "read-protected", "program", "stm32l1", hex })
      assert.are.equal(2, r.status)
      r = cw({ "program", "stm32l1", hex, "--unprotect", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("NEW!" .. ("\0"):rep(60), readback("stm32l1", FLASH, 64))
      assert.matches("\nread protection: +off\n", cw({ "info", "stm32l1" }).stdout)
    end)
  end)

  describe("--json", function()
    it("prints one object with the schema's fields and the simulator's figures", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, images.pattern(1024) } }))
      local r = cw({ "--json", "program", "stm32f1", hex })
      assert.are.equal(0, r.status, r.stderr)
      local o = assert(json.decode(r.stdout))
      assert.are.same({ 1, 1024, 1, "ok", "ok" }, { o.schema, o.bytes, o.erased, o.verify,
        o.cause })
      assert.is_true(o.seconds > 0 and o.rate > 0)
      assert.is_true(o.sim.wire_s > 0 and o.sim.flash_s > 0 and o.sim.wait_s >= 0)
      assert.is_true(o.sim.usb.ctrl_in > 0 and o.sim.usb.ctrl_out > 0 and o.sim.usb.bulk == 0)
      for _, cmd in ipairs({ { "verify", "stm32f1", hex }, { "read", "stm32f1", dir .. "/r.bin" },
                             { "erase", "stm32f1", "--chip" } }) do
        table.insert(cmd, 1, "--json")
        r = cw(cmd)
        assert.are.equal(0, r.status, r.stderr)
        o = assert(json.decode(r.stdout))
        assert.are.equal(1, o.schema)
        assert.are.equal("ok", o.cause)
      end
      r = cw({ "--json", "info", "stm32f1" })
      o = assert(json.decode(r.stdout))
      assert.are.same({ 1, "off", "none" }, { o.schema, o.read_protection, o.write_protected })
    end)

    it("still prints one object on failure, with the cause and the first mismatch", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH + 4, "\9" } }))
      local r = cw({ "--json", "verify", "stm32f1", hex })
      assert.are.equal(5, r.status)
      local o = assert(json.decode(r.stdout))
      assert.are.same({ 1, "mismatch", FLASH + 4, "verify-mismatch" },
        { o.schema, o.verify, o.first_mismatch, o.cause })
      r = cw({ "--json", "--sim-fault", "uart-rx-open", "info", "stm32f1" })
      assert.are.equal(4, r.status)
      local o2 = json.decode(r.stdout)
      assert.are.same({ 1, "no-reply", 0 }, { o2.schema, o2.cause, o2.retries })
      assert.matches("^stm32f1: no reply to bootloader sync", o2.error)
      assert.matches("^seen: ", o2.details[1])
    end)
  end)

  describe("--log-wire", function()
    it("shows the sync byte and the ACK, one line per burst, with times", function()
      local r = cw({ "--log-wire", "info", "stm32f1" })
      assert.are.equal(0, r.status, r.stderr)
      assert.matches("^%+0%.000000 > 7F\n%+0%.%d%d%d%d%d%d < 79\n%+0%.%d+ > 00 FF\n", r.stderr)
      local log = dir .. "/wire.log"
      r = cw({ "--log-wire=" .. log, "info", "stm32f1" })
      assert.are.equal(0, r.status, r.stderr)
      local f = assert(io.open(log))
      local text = f:read("a")
      f:close()
      assert.matches("^%+0%.000000 > 7F\n", text)
      assert.matches("\n%+[%d.]+ > 02 FD\n%+[%d.]+ < 79 01 04 20 79\n", text) -- Get ID
    end)
  end)

  it("succeeds with slow-erase (erase 10 times slower)", function()
    local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, images.pattern(2048) } }))
    local r = cw({ "--sim-fault", "slow-erase", "program", "stm32f1", hex, "--chip", "-q" })
    assert.are.equal(0, r.status, r.stderr)
    r = cw({ "--sim-fault", "slow-erase", "program", "stm32f4", hex, "--chip", "-q" })
    assert.are.equal(0, r.status, r.stderr)
  end)
end)
