-- SPDX-License-Identifier: MIT
-- cwlua read checks what it can before it reads (contract.md §3.3): OUT before the board is
-- opened (a folder, a device, a name in a folder that does not exist, an ELF name), --addr and
-- --len against the chip's memory before a byte is read; and no OUT.part is left on any way
-- out. An input file that is a folder is refused by name (docs/images.md "Limits").
local cli = require "support.cli"
local images = require "support.images"

local MEDIUM_VL = "STM32F10xxx Medium-density VL"

describe("read checks before it reads", function()
  local dir, env

  local function cw(args) return cli.sim(env, args) end

  -- the folder holds exactly these names
  local function listing(path)
    local p = assert(io.popen("ls -A " .. cli.quote(path)))
    local names = {}
    for l in p:lines() do names[#names + 1] = l end
    p:close()
    return table.concat(names, " ")
  end

  before_each(function()
    dir = cli.tmpdir()
    env = cli.tmpdir()
  end)
  after_each(cli.cleanup)

  describe("OUT, before the board is opened", function()
    local function no_board(args) return cli.no_board(env, args) end

    it("refuses a folder, and leaves nothing beside it", function()
      assert(os.execute("mkdir " .. cli.quote(dir .. "/SOMEDIR")))
      for _, out in ipairs({ dir .. "/SOMEDIR", dir .. "/SOMEDIR/" }) do
        local r = no_board({ "read", "stm32f1", out })
        assert.are.equal(2, r.status, r.stderr)
        assert.are.equal(("cwlua: cannot write %s: Is a directory; give a file name, e.g. "
          .. "%s/SOMEDIR/flash.bin\n"):format(out, dir), r.stderr)
        assert.are.equal("", r.stdout)
      end
      assert.are.equal("SOMEDIR", listing(dir))
      assert.are.equal("", listing(dir .. "/SOMEDIR"))
    end)

    it("refuses a name in a folder that does not exist, or under a file", function()
      cli.write(dir .. "/file", "x")
      local cases = {
        { dir .. "/missing/out.bin", "the folder " .. dir .. "/missing does not exist" },
        { dir .. "/file/out.bin", dir .. "/file is not a folder" },
      }
      for _, c in ipairs(cases) do
        local r = no_board({ "read", "stm32f1", c[1] })
        assert.are.equal(2, r.status, r.stderr)
        assert.are.equal(("cwlua: cannot write %s: %s\n"):format(c[1], c[2]), r.stderr)
      end
      assert.are.equal("file", listing(dir))
    end)

    it("refuses a device or a FIFO: a rename would replace it", function()
      assert(os.execute("mkfifo " .. cli.quote(dir .. "/fifo")))
      for _, c in ipairs({ { "/dev/null", "a character device" }, { dir .. "/fifo", "a FIFO" } }) do
        local r = no_board({ "read", "stm32f1", c[1] })
        assert.are.equal(2, r.status, r.stderr)
        assert.are.equal(("cwlua: %s: not a regular file (%s); read writes OUT as a file\n")
          :format(c[1], c[2]), r.stderr)
      end
      assert.are.equal("fifo", listing(dir))
    end)

    it("refuses an OUT.part that is not a file, and leaves it", function()
      assert(os.execute("mkdir " .. cli.quote(dir .. "/x.bin.part")))
      local r = no_board({ "read", "stm32f1", dir .. "/x.bin" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal(("cwlua: cannot write %s/x.bin: %s/x.bin.part, where read writes first, "
        .. "is a folder\n"):format(dir, dir), r.stderr)
      assert.are.equal("x.bin.part", listing(dir))
    end)

    it("refuses an ELF name: read writes Intel HEX or raw binary", function()
      local r = no_board({ "read", "stm32f1", dir .. "/fw.elf" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: " .. dir .. "/fw.elf: read writes Intel HEX (a name ending in "
        .. ".hex) or raw binary, not ELF; name it .hex or .bin\n", r.stderr)
      assert.are.equal("", listing(dir))
    end)

    it("refuses --option-bytes with --addr or --len, and --len 0", function()
      local r = no_board({ "read", "stm32f1", dir .. "/ob.bin", "--option-bytes", "--len", "4" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --option-bytes reads the option bytes; it takes no --addr or "
        .. "--len\n", r.stderr)
      r = no_board({ "read", "stm32f1", dir .. "/x.bin", "--len", "0" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: --len must be positive\n", r.stderr)
      assert.are.equal("", listing(dir))
    end)
  end)

  describe("--addr and --len, against the chip before a byte is read", function()
    it("refuses a length past the end of the flash, naming the chip's flash", function()
      local out = dir .. "/x.bin"
      local r = cw({ "read", "stm32f1", out, "--len", "256K" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: stm32f1: 0x08000000-0x0803FFFF runs past the end of the flash of "
        .. "this " .. MEDIUM_VL .. " (0x08000000-0x0801FFFF, 128 KiB): at most 131072 bytes "
        .. "from 0x08000000\n", r.stderr)
      assert.are.equal("", r.stdout)
      assert.are.equal("", listing(dir))
    end)

    it("refuses a range that starts before the flash", function()
      local r = cw({ "read", "stm32f1", dir .. "/x.bin", "--addr", "0x07FFFF00", "--len", "512" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: stm32f1: 0x07FFFF00-0x080000FF starts before the flash of this "
        .. MEDIUM_VL .. " (0x08000000-0x0801FFFF, 128 KiB)\n", r.stderr)
      assert.are.equal("", listing(dir))
    end)

    it("reads the rest of the region --addr is in: option bytes, system memory", function()
      local r = cw({ "read", "stm32f1", dir .. "/ob.bin", "--addr", "0x1FFFF800", "-q" })
      assert.are.equal(0, r.status, r.stderr)
      local f = assert(io.open(dir .. "/ob.bin", "rb"))
      assert.are.equal(16, #f:read("a"))
      f:close()
      -- the flash-size register (F1: 0x1FFFF7E0) reads the chip's 128 KiB
      r = cw({ "read", "stm32f1", dir .. "/fsize.bin", "--addr", "0x1FFFF7E0", "--len", "2",
        "-q" })
      assert.are.equal(0, r.status, r.stderr)
      f = assert(io.open(dir .. "/fsize.bin", "rb"))
      assert.are.equal("\128\0", f:read("a"))
      f:close()
      assert.are.equal("fsize.bin ob.bin", listing(dir))
    end)

    it("wants --len where the address is in no memory the table places", function()
      local r = cw({ "read", "stm32f1", dir .. "/x.bin", "--addr", "0x09000000" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: stm32f1: 0x09000000 is in no memory cwlua knows of this "
        .. MEDIUM_VL .. ", so give --len to read there: flash 0x08000000-0x0801FFFF (128 KiB), "
        .. "RAM 0x20000200-0x20001FFF (7.5 KiB), system memory 0x1FFFF000-0x1FFFF7FF (2 KiB), "
        .. "option bytes 0x1FFFF800-0x1FFFF80F (16 bytes)\n", r.stderr)
      assert.are.equal("", listing(dir))
    end)

    it("refuses what lies outside an AVR's or an XMEGA's flash", function()
      local r = cw({ "read", "avr", dir .. "/x.bin", "--addr", "0x8000", "--len", "2" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: avr: 0x00008000 is outside the memory of this ATmega328P: flash "
        .. "0x00000000-0x00007FFF (32 KiB)\n", r.stderr)
      r = cw({ "read", "xmega", dir .. "/x.bin", "--addr", "0x7000", "--len", "800K" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: xmega: 0x00007000-0x000CEFFF runs past the end of the flash of "
        .. "this ATxmega128D4 (0x00000000-0x00021FFF, 136 KiB): at most 110592 bytes from "
        .. "0x00007000\n", r.stderr)
      r = cw({ "read", "avr", dir .. "/ee.bin", "--memory", "eeprom", "--len", "2K" })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: avr: 0x0-0x7FF is outside the EEPROM of this ATmega328P "
        .. "(0x0-0x3FF)\n", r.stderr)
      assert.are.equal("", listing(dir))
    end)

    it("leaves no OUT.part when the rename at the end fails", function()
      -- the wire log is a FIFO this script reads: at the first Read Memory (11 EE, the
      -- flash-size register, after OUT was checked) it makes a folder named OUT, so the read
      -- succeeds and the rename onto OUT fails. Logging the whole flash's bytes fills the
      -- FIFO many times over, so cwlua cannot get to the rename before the folder is made.
      local script = [[
        bin=$(realpath "$2") && cd "$1" && mkfifo wire || exit 99
        timeout 60 "$bin" -d sim --log-wire=wire -q read stm32f1 out.bin 2>err &
        while read -r line; do
          case "$line" in *"> 11 EE"*) [ -d out.bin ] || mkdir out.bin ;; esac
        done <wire
        wait $!
        echo "$?" >rc
        rm wire
      ]]
      cli.run({ "-c", script, "sh", dir, cli.BIN }, { XDG_STATE_HOME = env }, nil, "/bin/sh")
      local f = assert(io.open(dir .. "/rc"))
      local rc, err = f:read("n"), assert(io.open(dir .. "/err")):read("a")
      f:close()
      assert.are.equal(1, rc, err)
      assert.are.equal("cwlua: cannot rename out.bin.part to out.bin: Is a directory\n", err)
      assert.are.equal("err out.bin rc", listing(dir))
    end)

    it("says the same with --json, and leaves no OUT.part", function()
      local r = cw({ "--json", "read", "stm32f1", dir .. "/x.bin", "--len", "256K" })
      assert.are.equal(2, r.status, r.stderr)
      assert.matches("runs past the end of the flash", r.stderr)
      assert.are.equal("", listing(dir))
    end)
  end)

  describe("an input that is a folder", function()
    it("is named as one by program, verify and --eeprom", function()
      assert(os.execute("mkdir " .. cli.quote(dir .. "/D")))
      local hex = cli.write(dir .. "/fw.hex", images.hex({ { 0, "\1\2\3\4" } }))
      for _, args in ipairs({ { "program", "stm32f1", dir .. "/D" },
                              { "verify", "stm32f1", dir .. "/D" },
                              { "program", "avr", hex, "--eeprom", dir .. "/D" } }) do
        local r = cw(args)
        assert.are.equal(2, r.status, r.stderr)
        assert.are.equal("cwlua: cannot read " .. dir .. "/D: Is a directory\n", r.stderr)
      end
    end)
  end)
end)
