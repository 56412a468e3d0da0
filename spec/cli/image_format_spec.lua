-- SPDX-License-Identifier: MIT
-- Which format a firmware file is (contract.md §3.3, docs/images.md "Which format"): Intel HEX
-- and ELF by content, whatever the name; a raw binary only for a .bin name, --format bin or
-- --base; anything else (a C source, a text file) exit 2 before the board is opened, saying
-- how to force a format. The same for verify, for --eeprom FILE (--eeprom-format) and for
-- cw.flash in lab scripts.
local cli = require "support.cli"
local images = require "support.images"

local FLASH = 0x08000000
local C_SOURCE = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n"
local HINT = "not an Intel HEX or ELF file, and not named .bin: to program it as a raw binary, "
  .. "use --format bin (and --base ADDR)"

describe("the format of a firmware file", function()
  local dir, env

  local function cw(args) return cli.sim(env, args) end
  local function no_board(args) return cli.no_board(env, args) end

  -- len bytes of the simulated STM32F1's flash from addr, read back by cwlua read
  local function flash_bytes(addr, len)
    return cli.read_back(env, "stm32f1", dir .. "/back.bin", addr, len)
  end

  before_each(function()
    dir = cli.tmpdir()
    env = cli.tmpdir()
  end)
  after_each(cli.cleanup)

  describe("a file that is neither Intel HEX nor ELF, nor named .bin", function()
    it("is refused before the board is opened, saying how to force it", function()
      local files = {
        cli.write(dir .. "/hello.c", C_SOURCE),
        cli.write(dir .. "/notes.txt", "flash me\n"),
        cli.write(dir .. "/firmware", "plain text without an extension\n"),
        cli.write(dir .. "/fw.dat", images.pattern(64)),
        cli.write(dir .. "/fw.bin.txt", images.pattern(64)),
      }
      for _, file in ipairs(files) do
        local r = no_board({ "program", "stm32f1", file })
        assert.are.equal(2, r.status, r.stderr)
        assert.are.equal("cwlua: " .. file .. ": " .. HINT .. "\n", r.stderr)
        assert.are.equal("", r.stdout)
      end
    end)

    it("leaves the chip as it was", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, images.pattern(64, 3) } }))
      assert.are.equal(0, cw({ "program", "stm32f1", hex, "-q" }).status)
      local r = cw({ "program", "stm32f1", cli.write(dir .. "/hello.c", C_SOURCE) })
      assert.are.equal(2, r.status)
      assert.are.equal(images.pattern(64, 3), flash_bytes(FLASH, 64))
    end)

    it("is refused by verify, and as --eeprom FILE", function()
      local c = cli.write(dir .. "/hello.c", C_SOURCE)
      local r = no_board({ "verify", "stm32f1", c })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: " .. c .. ": not an Intel HEX or ELF file, and not named .bin: to "
        .. "compare the chip with it as a raw binary, use --format bin (and --base ADDR)\n",
        r.stderr)
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { 0, "\1\2\3\4" } }))
      local ee = cli.write(dir .. "/ee.raw", "\1\2\3")
      for _, cmd in ipairs({ "program", "verify" }) do
        r = no_board({ cmd, "avr", hex, "--eeprom", ee })
        assert.are.equal(2, r.status, r.stderr)
        assert.are.equal("cwlua: " .. ee .. ": not an Intel HEX or ELF file, and not named .bin: "
          .. "to take it as raw EEPROM bytes, use --eeprom-format bin\n", r.stderr)
      end
    end)

    it("is refused by cw.flash.program in a lab script", function()
      local script = cli.write(dir .. "/lab.lua", [[
        local ok, a, b = pcall(cw.flash.program, "stm32f1", arg[1], { quiet = true })
        if ok and a then print("programmed") else print(ok and b or tostring(a)) end
      ]])
      local c = cli.write(dir .. "/hello.c", C_SOURCE)
      local r = cw({ "run", script, c })
      assert.are.equal(c .. ": " .. HINT .. "\n", r.stdout)
    end)
  end)

  describe("a raw binary", function()
    it("is a .bin file, in any case, programmed at the flash start", function()
      for i, name in ipairs({ "fw.bin", "FW.BIN" }) do
        local data = images.pattern(100, i)
        local r = cw({ "program", "stm32f1", cli.write(dir .. "/" .. name, data), "-q" })
        assert.are.equal(0, r.status, r.stderr)
        assert.are.equal(data, flash_bytes(FLASH, 100))
      end
    end)

    it("is any file with --format bin (at the flash start) or --base", function()
      local data = images.pattern(100, 5)
      local img = cli.write(dir .. "/fw.img", data)
      local r = cw({ "program", "stm32f1", img, "--format", "bin", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(data, flash_bytes(FLASH, 100))
      r = cw({ "program", "stm32f1", img, "--base", "0x08004000", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(data, flash_bytes(FLASH + 0x4000, 100))
      r = cw({ "verify", "stm32f1", img, "--format=bin", "-q" })
      assert.are.equal(0, r.status, r.stderr)
    end)

    it("may be named .hex when --format bin says so", function()
      local data = images.pattern(32, 6)
      local file = cli.write(dir .. "/dump.hex", data)
      local r = cw({ "program", "stm32f1", file, "-q" })
      assert.are.equal(2, r.status)
      assert.are.equal("cwlua: " .. file .. ": the name says Intel HEX but the content is not "
        .. "(its first line does not start with ':'); check the file\n", r.stderr)
      r = cw({ "program", "stm32f1", file, "--format", "bin", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(data, flash_bytes(FLASH, 32))
    end)

    it("goes to EEPROM offset 0 with --eeprom-format bin", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { 0, "\1\2\3\4" } }))
      local ee = cli.write(dir .. "/ee.raw", "EEPROM!")
      local r = cw({ "program", "avr", hex, "--eeprom", ee, "--eeprom-format", "bin", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      r = cw({ "read", "avr", dir .. "/back.bin", "--memory", "eeprom", "--len", "7", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local f = assert(io.open(dir .. "/back.bin", "rb"))
      assert.are.equal("EEPROM!", f:read("a"))
      f:close()
    end)
  end)

  describe("content wins over the name", function()
    it("reads Intel HEX named .bin and ELF without an extension", function()
      local a, b = images.pattern(48, 7), images.pattern(48, 8)
      local r = cw({ "program", "stm32f1",
        cli.write(dir .. "/really-hex.bin", images.hex({ { FLASH + 0x100, a } })), "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(a, flash_bytes(FLASH + 0x100, 48))
      r = cw({ "program", "stm32f1", cli.write(dir .. "/firmware", images.elf({ { FLASH + 0x200,
        b } })), "-q" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(b, flash_bytes(FLASH + 0x200, 48))
    end)
  end)

  describe("--format", function()
    it("forces HEX or ELF, whose own errors then say what is wrong", function()
      local bin = cli.write(dir .. "/fw.bin", "\0\1\2\3")
      local r = no_board({ "program", "stm32f1", bin, "--format", "hex" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: " .. bin .. ":1: line does not start with ':' (found 0x00)\n",
        r.stderr)
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "\1\2\3\4" } }))
      r = no_board({ "verify", "stm32f1", hex, "--format", "elf" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: " .. hex .. ": byte 0: not an ELF file (it does not start with 7F "
        .. "45 4C 46)\n", r.stderr)
    end)

    it("refuses a format it does not know, and --eeprom-format without --eeprom", function()
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { FLASH, "\1\2\3\4" } }))
      local r = no_board({ "program", "stm32f1", hex, "--format", "srec" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: unknown image format 'srec' (expected hex, bin or elf)\n", r.stderr)
      r = no_board({ "program", "avr", hex, "--eeprom-format", "bin" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --eeprom-format is the format of --eeprom FILE, which is not "
        .. "given\n", r.stderr)
    end)
  end)
end)
