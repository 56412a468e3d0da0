-- SPDX-License-Identifier: MIT
-- Specs for cwlua.image: detection, raw binaries, loading files, and the methods of a sparse
-- image. Intel HEX and ELF have their own files (image_hex_spec.lua, image_elf_spec.lua).
local image = require("cwlua.image")
local errors = require("cwlua.errors")
local images = require("support.images")

local EOF = ":00000001FF"

local fails_with, ranges_of, fixture = images.fails_with, images.ranges_of, images.fixture

-- sparse(list) -> image with { {addr, data}, ... } added
local function sparse(list)
  local img = image.new()
  for _, r in ipairs(list) do img:add(r[1], r[2]) end
  return img
end

describe("cwlua.image", function()
  describe("detect()", function()
    it("finds ELF by its magic", function()
      assert.are.equal("elf", image.detect("\x7fELF\1\1\1"))
    end)

    it("finds Intel HEX when the first non-blank line starts with ':'", function()
      assert.are.equal("hex", image.detect(EOF))
      assert.are.equal("hex", image.detect("\r\n\n  \t" .. EOF))
      assert.are.equal("hex", image.detect("\xEF\xBB\xBF" .. EOF))
    end)

    it("takes anything else for a raw binary", function()
      assert.are.equal("bin", image.detect("\0\0\0\x20\x09\x01\0\x08"))
      assert.are.equal("bin", image.detect("x:00000001FF"))
      assert.are.equal("bin", image.detect("\x7fEL"))
      assert.are.equal("bin", image.detect(""))
    end)

    it("looks at the content, not the name", function()
      assert.are.equal("hex", image.parse(EOF, "fw.bin").format)
      assert.are.equal("bin", image.parse("\1\2", "fw.hex", { base = 0 }).format)
    end)
  end)

  describe("raw binaries", function()
    it("are placed at the base address", function()
      local img = image.parse("\0\1\2\3", "fw.bin", { base = 0x08000000 })
      assert.are.same({ { 0x08000000, "\0\1\2\3" } }, ranges_of(img))
      assert.are.equal("bin", img.format)
      assert.are.equal("fw.bin", img.source)
    end)

    it("need a base address, detected or forced", function()
      fails_with("fw.bin: raw binary (no ELF header, no ':' record) needs a load address; pass "
        .. "--base ADDR", image.parse, "\0\1\2\3", "fw.bin")
      fails_with("FW.BIN: raw binary (no ELF header, no ':' record) needs a load address; pass "
        .. "--base ADDR", image.parse, "\0\1\2\3", "FW.BIN")
      fails_with("fw.hex: raw binary needs a load address; pass --base ADDR",
        image.parse, EOF, "fw.hex", { format = "bin" })
      fails_with("fw.bin: raw binary needs a load address; pass --base ADDR",
        image.from_binary, "\0", nil, "fw.bin")
    end)

    it("are not guessed: neither HEX nor ELF, without a .bin name or a base, is refused",
      function()
      for _, name in ipairs({ "hello.c", "notes.txt", "firmware", "fw.bin.txt" }) do
        fails_with(name .. ": not an Intel HEX or ELF file, and not named .bin: to program it as "
          .. "a raw binary, use --format bin (and --base ADDR)", image.parse, "int x;\n", name)
      end
      fails_with("ee: not an Intel HEX or ELF file, and not named .bin: use X", image.parse,
        "\1", "ee", { bin_hint = "use X" })
      assert.are.equal("bin", image.parse("int x;\n", "hello.c", { base = 0 }).format)
      assert.are.equal("bin", image.parse("int x;\n", "hello.c", { format = "bin", base = 0 })
        .format)
      assert.is_true(image.binary_name("a/FW.Bin"))
      assert.is_false(image.binary_name("fw.bin.txt"))
    end)

    it("can be forced on a file that looks like Intel HEX", function()
      local img = image.parse(EOF, "fw.hex", { format = "bin", base = 0x100 })
      assert.are.same({ { 0x100, EOF } }, ranges_of(img))
    end)

    it("come from image.from_binary too", function()
      local img = image.from_binary("abc", 0x20, "ram.bin")
      assert.are.same({ { 0x20, "abc" } }, ranges_of(img))
      assert.are.equal("ram.bin", img.source)
      assert.is_true(image.from_binary("", 0x20, "empty.bin"):is_empty())
    end)

    it("must fit below 4 GiB, from a base that is not negative", function()
      fails_with("fw.bin: 4 bytes at base 0xFFFFFFFE run past 0xFFFFFFFF",
        image.parse, "abcd", "fw.bin", { base = 0xFFFFFFFE })
      fails_with("fw.bin: base address -1 is negative", image.from_binary, "abcd", -1, "fw.bin")
    end)
  end)

  describe("parse()", function()
    it("rejects an empty file", function()
      fails_with("fw.hex: file is empty", image.parse, "", "fw.hex", { base = 0 })
    end)

    it("rejects an unknown forced format as a usage error", function()
      local ok, e = pcall(image.parse, EOF, "fw.hex", { format = "srec" })
      assert.is_false(ok)
      assert.is_true(errors.is(e, "usage"))
      assert.are.equal("unknown image format 'srec' (expected hex, bin or elf)", e.message)
    end)

    it("reads a forced format as that format", function()
      fails_with("fw.bin:1: line does not start with ':' (found 0x00)",
        image.parse, "\0\1\2", "fw.bin", { format = "hex" })
    end)

    it("ignores the base address for Intel HEX and ELF", function()
      local img = image.parse(":0100100041AE\n" .. EOF, "fw.hex", { base = 0x08000000 })
      assert.are.same({ { 0x10, "A" } }, ranges_of(img))
    end)
  end)

  describe("load()", function()
    it("reads a file and names it in the image", function()
      local path = fixture("sparse.hex")
      local img = image.load(path)
      assert.are.equal(path, img.source)
      assert.are.equal("hex", img.format)
      assert.are.equal(0x08000000, img.start)
      local data = {}
      for i = 0, 47 do data[#data + 1] = string.char(i) end
      assert.are.same({ { 0x08000000, table.concat(data) }, { 0x1FFFF800, "\xA5\x5A\xFF\0" } },
        ranges_of(img))
    end)

    it("names the file and line of a bad record", function()
      local path = fixture("bad_checksum.hex")
      fails_with(path .. ":3: bad checksum 0x00 (expected 0xF8)", image.load, path)
    end)

    it("names both lines of an address set twice", function()
      local path = fixture("overlap.hex")
      fails_with(path .. ":4: 0x08000008 already set at line 2", image.load, path)
    end)

    it("reads raw binaries with opts.base", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write("\0\1\2\3\xFF")
      f:close()
      local ok, img = pcall(image.load, path, { base = 0x08000000 })
      local ok2, e = pcall(image.load, path)
      os.remove(path)
      assert.is_true(ok, tostring(img))
      assert.are.same({ { 0x08000000, "\0\1\2\3\xFF" } }, ranges_of(img))
      assert.is_false(ok2)
      assert.are.equal(path .. ": not an Intel HEX or ELF file, and not named .bin: to program "
        .. "it as a raw binary, use --format bin (and --base ADDR)", e.message)
    end)

    it("says when a file cannot be opened or read", function()
      fails_with("cannot open spec/fixtures/no-such.hex: No such file or directory",
        image.load, "spec/fixtures/no-such.hex")
      fails_with("cannot read /: Is a directory", image.load, "/")
    end)
  end)

  describe("read_file()", function()
    -- Only the cwlua binary has cwlua.core.runtime (stat); plain lua5.4 checks sizes only.
    local in_binary = pcall(require, "cwlua.core.runtime")

    local function temp_file(bytes)
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      f:write(bytes)
      f:close()
      return path
    end

    it("reads a regular file of at most max bytes", function()
      local path = temp_file("0123456789")
      local ok, data = pcall(image.read_file, path, 10)
      local ok2, e = pcall(image.read_file, path, 9)
      os.remove(path)
      assert.is_true(ok, tostring(data))
      assert.are.equal("0123456789", data)
      assert.is_false(ok2)
      assert.are.equal(path .. ": file is larger than 9 bytes, the largest image file cwlua "
        .. "reads", e.message)
    end)

    it("reads a file whose size the system does not know, still only up to max", function()
      -- /proc files say 0 bytes and have content
      local data = image.read_file("/proc/self/status")
      assert.matches("^Name:", data)
      fails_with("/proc/self/status: file is larger than 5 bytes, the largest image file "
        .. "cwlua reads", image.read_file, "/proc/self/status", 5)
    end)

    it("caps files at image.MAX_FILE (64 MiB) by default", function()
      assert.are.equal(64 * 1024 * 1024, image.MAX_FILE)
    end)

    it("refuses a device without reading it", function()
      if not in_binary then pending("needs the cwlua binary (runtime.stat)") return end
      fails_with("/dev/zero: not a regular file (a character device)", image.read_file,
        "/dev/zero")
      fails_with("/dev/null: not a regular file (a character device)", image.load, "/dev/null")
    end)

    it("says a directory is one", function()
      fails_with("cannot read /: Is a directory", image.read_file, "/")
    end)
  end)

  describe("size_text()", function()
    it("gives bytes, KiB, MiB and GiB, with one decimal when not whole", function()
      assert.are.equal("0 bytes", image.size_text(0))
      assert.are.equal("1023 bytes", image.size_text(1023))
      assert.are.equal("1 KiB", image.size_text(1024))
      assert.are.equal("1.5 KiB", image.size_text(1536))
      assert.are.equal("2 MiB", image.size_text(2 * 1024 * 1024))
      assert.are.equal("2.1 MiB", image.size_text(2 * 1024 * 1024 + 64 * 1024))
      assert.are.equal("8.0 GiB", image.size_text(16000 * 536576))
    end)
  end)

  describe("opts.limit", function()
    it("refuses a raw binary that holds more", function()
      fails_with("fw.bin: 10 bytes of data, more than the 9 bytes an image may hold",
        image.parse, ("x"):rep(10), "fw.bin", { base = 0, limit = 9 })
      assert.are.equal(10, image.parse(("x"):rep(10), "fw.bin", { base = 0, limit = 10 }):size())
    end)

    it("names what the limit is when the caller says", function()
      fails_with("fw.bin: 3 bytes of data, more than any supported chip's flash (2 bytes)",
        image.parse, "abc", "fw.bin", { base = 0, limit = 2,
          limit_what = "any supported chip's flash (2 bytes)" })
    end)

    it("is image.MAX_FILE unless given", function()
      local saved = image.MAX_FILE
      image.MAX_FILE = 3 -- rather than build 64 MiB of data
      local ok, e = pcall(image.parse, "abcd", "fw.bin", { base = 0 })
      image.MAX_FILE = saved
      assert.is_false(ok)
      assert.are.equal("fw.bin: 4 bytes of data, more than the 3 bytes an image may hold",
        e.message)
    end)

    it("must be a non-negative integer", function()
      assert.has_error(function() image.parse("ab", "fw.bin", { base = 0, limit = -1 }) end,
        "image.parse: opts.limit must be an integer of at least 0, got -1")
    end)
  end)

  describe("new() and add()", function()
    it("starts empty", function()
      local img = image.new()
      assert.is_true(img:is_empty())
      assert.are.equal(0, img:size())
      assert.is_nil(img:bounds())
      assert.are.same({}, img.ranges)
    end)

    it("keeps ranges sorted and merges the ones that touch", function()
      local img = sparse({ { 0x30, "DD" }, { 0x10, "BB" }, { 0x00, "AA" } })
      assert.are.same({ { 0x00, "AA" }, { 0x10, "BB" }, { 0x30, "DD" } }, ranges_of(img))
      img:add(0x12, "bb")               -- after a range
      img:add(0x0E, "bb")               -- before a range
      img:add(0x02, ("-"):rep(12))      -- between two ranges: all three become one
      assert.are.same({ { 0x00, "AA------------bbBBbb" }, { 0x30, "DD" } }, ranges_of(img))
      assert.are.equal(22, img:size())
      assert.are.same({ 0x00, 0x32 }, { img:bounds() })
    end)

    it("ignores empty data and returns the image", function()
      local img = image.new()
      assert.are.equal(img, img:add(5, ""))
      assert.is_true(img:is_empty())
    end)

    it("raises on a byte already set, naming where and the first such address", function()
      local img = sparse({ { 0x100, "abcd" }, { 0x200, "efgh" } })
      fails_with("patch.bin: 0x00000102 already set", img.add, img, 0x102, "xyz", "patch.bin")
      fails_with("patch.bin: 0x00000200 already set", img.add, img, 0x1F0, ("x"):rep(32),
        "patch.bin")
      fails_with("image: 0x00000103 already set", img.add, img, 0x103, "x")
      img.source = "fw.hex"
      fails_with("fw.hex: 0x00000100 already set", img.add, img, 0xF0, ("x"):rep(0x200))
      assert.are.same({ { 0x100, "abcd" }, { 0x200, "efgh" } }, ranges_of(img))
    end)

    it("raises for data past 0xFFFFFFFF", function()
      fails_with("patch.bin: 2 bytes at 0xFFFFFFFF run past 0xFFFFFFFF",
        image.new().add, image.new(), 0xFFFFFFFF, "ab", "patch.bin")
    end)
  end)

  describe("blocks()", function()
    it("yields chunks that never cross a multiple of the size", function()
      local img = sparse({ { 0x0F0, ("a"):rep(0x220) }, { 0x400, ("b"):rep(3) },
        { 0x4FF, "cd" } })
      local got = {}
      for addr, data in img:blocks(0x100) do got[#got + 1] = { addr, #data } end
      assert.are.same({ { 0x0F0, 0x10 }, { 0x100, 0x100 }, { 0x200, 0x100 }, { 0x300, 0x10 },
        { 0x400, 3 }, { 0x4FF, 1 }, { 0x500, 1 } }, got)
    end)

    it("covers every byte exactly once, in order", function()
      local img = sparse({ { 3, "0123456789" }, { 40, "abcdefghijklmnopq" } })
      local seen, last = {}, -1
      for addr, data in img:blocks(8) do
        assert.is_true(addr > last)
        assert.is_true(#data >= 1 and #data <= 8)
        assert.are.equal(addr // 8, (addr + #data - 1) // 8)
        assert.are.equal(img:read(addr, #data), data)
        seen[#seen + 1] = data
        last = addr
      end
      assert.are.equal("0123456789abcdefghijklmnopq", table.concat(seen))
    end)

    it("yields nothing for an empty image", function()
      for _ in image.new():blocks(256) do error("a block from an empty image") end
    end)
  end)

  describe("pad()", function()
    it("extends ranges to the alignment with 0xFF, leaving the image as it was", function()
      local img = sparse({ { 0x102, "ab" } })
      local padded = img:pad(4)
      assert.are.same({ { 0x100, "\xFF\xFFab" } }, ranges_of(padded))
      assert.are.same({ { 0x102, "ab" } }, ranges_of(img))
      assert.are.same({ { 0x100, "\0\0ab\0\0\0\0" } }, ranges_of(img:pad(8, 0)))
    end)

    it("merges ranges that then meet or share a block", function()
      local img = sparse({ { 0x01, "a" }, { 0x06, "b" }, { 0x09, "c" }, { 0x20, "d" } })
      assert.are.same({ { 0x00, "\xFFa\xFF\xFF\xFF\xFFb\xFF\xFFc\xFF\xFF" },
        { 0x20, "d\xFF\xFF\xFF" } }, ranges_of(img:pad(4)))
    end)

    it("keeps aligned ranges, format, source and start", function()
      local img = image.parse(":0400000508000000EF\n:0400100001020304E2\n" .. EOF, "fw.hex")
      local padded = img:pad(4)
      assert.are.same(ranges_of(img), ranges_of(padded))
      assert.are.same({ "hex", "fw.hex", 0x08000000 }, { padded.format, padded.source,
        padded.start })
    end)
  end)

  describe("pages()", function()
    it("lists the start of every page touched, once", function()
      local img = sparse({ { 0x08000010, "x" }, { 0x080003FF, "yz" }, { 0x08000500, "w" },
        { 0x08002000, ("v"):rep(0x801) } })
      assert.are.same({ 0x08000000, 0x08000400, 0x08002000, 0x08002400, 0x08002800 },
        img:pages(0x400))
      assert.are.same({}, image.new():pages(0x400))
    end)

    it("takes a list of sector boundaries for unequal sectors", function()
      -- STM32F4 bank 1 (RM0090): 4 x 16 KiB, 64 KiB, then 128 KiB sectors.
      local sectors = { 0x08000000, 0x08004000, 0x08008000, 0x0800C000, 0x08010000, 0x08020000,
        0x08040000, 0x08060000 }
      local img = sparse({ { 0x08000000, "vectors" }, { 0x08003FFF, "ab" },
        { 0x08010004, "c" }, { 0x0801FFFF, "de" } })
      local pages, outside = img:pages(sectors)
      assert.are.same({ 0x08000000, 0x08004000, 0x08010000, 0x08020000 }, pages)
      assert.is_nil(outside)
    end)

    it("returns the lowest address outside the sectors as a second result", function()
      local sectors = { 0x08000000, 0x08004000, 0x08008000 }
      local pages, outside = sparse({ { 0x08007FFF, "ab" }, { 0x1FFFF800, "ob" } })
        :pages(sectors)
      assert.are.same({ 0x08004000 }, pages)
      assert.are.equal(0x08008000, outside)
      pages, outside = sparse({ { 0x07FFFFFF, "ab" } }):pages(sectors)
      assert.are.same({ 0x08000000 }, pages)
      assert.are.equal(0x07FFFFFF, outside)
    end)

    it("rejects a sector list that does not increase", function()
      assert.has_error(function() image.new():pages({ 0x100, 0x100 }) end,
        "img:pages: sector boundary 2 (256) is not an integer above the one before")
      assert.has_error(function() image.new():pages({ 0x100 }) end,
        "img:pages: a sector list needs at least 2 boundaries (start of the first sector, "
        .. "end of the last)")
    end)
  end)

  describe("split()", function()
    it("cuts ranges at both ends of [lo, hi)", function()
      local img = sparse({ { 0x00, "0123" }, { 0x10, "abcdefgh" }, { 0x20, "xyz" } })
      local inside, outside = img:split(0x02, 0x14)
      assert.are.same({ { 0x02, "23" }, { 0x10, "abcd" } }, ranges_of(inside))
      assert.are.same({ { 0x00, "01" }, { 0x14, "efgh" }, { 0x20, "xyz" } }, ranges_of(outside))
    end)

    it("separates option bytes from flash", function()
      local img = image.load(fixture("sparse.hex"))
      local flash, rest = img:split(0x08000000, 0x08000000 + 64 * 1024)
      assert.are.equal(48, flash:size())
      assert.are.same({ { 0x1FFFF800, "\xA5\x5A\xFF\0" } }, ranges_of(rest))
      assert.are.equal(img.source, rest.source)
    end)

    it("gives an empty image for a side with nothing", function()
      local inside, outside = sparse({ { 0x10, "ab" } }):split(0, 0x100)
      assert.are.equal(2, inside:size())
      assert.is_true(outside:is_empty())
    end)
  end)

  describe("read()", function()
    local img = sparse({ { 0x10, "abcd" }, { 0x18, "ef" } })

    it("fills gaps with 0xFF", function()
      assert.are.equal("\xFF\xFFabcd\xFF\xFF\xFF\xFFef\xFF", img:read(0x0E, 13))
    end)

    it("starts and ends inside ranges", function()
      assert.are.equal("cd\xFF\xFF\xFF\xFFe", img:read(0x12, 7))
      assert.are.equal("bc", img:read(0x11, 2))
    end)

    it("uses the fill byte given", function()
      assert.are.equal("d\0\0\0\0", img:read(0x13, 5, 0))
      assert.are.equal("", img:read(0x13, 0))
      assert.are.equal("\xFF\xFF", image.new():read(0, 2))
    end)
  end)

  describe("fits()", function()
    local img = sparse({ { 0x08000000, "abcd" }, { 0x08000100, "ef" } })

    it("is true when every byte is inside [lo, hi)", function()
      assert.is_true(img:fits(0x08000000, 0x08000102))
      assert.is_true(image.new():fits(0, 0))
    end)

    it("is false with the lowest address outside", function()
      assert.are.same({ false, 0x08000000 }, { img:fits(0x08000001, 0x08010000) })
      assert.are.same({ false, 0x08000101 }, { img:fits(0x08000000, 0x08000101) })
      assert.are.same({ false, 0x08000100 }, { img:fits(0x08000000, 0x08000004) })
      assert.are.same({ false, 0x08000002 }, { img:fits(0x07000000, 0x08000002) })
    end)
  end)

  describe("wrong arguments", function()
    it("are bugs in the caller, raised as plain errors", function()
      local img = image.new()
      assert.has_error(function() img:blocks(0) end,
        "img:blocks: size must be an integer of at least 1, got 0")
      assert.has_error(function() img:pad(4, 256) end,
        "img:pad: fill must be an integer from 0 to 255, got 256")
      assert.has_error(function() img:read("0x10", 4) end,
        "img:read: addr must be an integer of at least 0, got 0x10")
      assert.has_error(function() img:split(0x20, 0x10) end,
        "img:split: hi must be an integer of at least 32, got 16")
      assert.has_error(function() image.from_binary("x", 1.5) end,
        "image.from_binary: base must be an integer, got 1.5")
      local ok, e = pcall(img.add, img, 0, 42)
      assert.is_false(ok)
      assert.is_false(errors.is(e))
    end)
  end)

  describe("tostring()", function()
    it("summarises the image", function()
      local path = fixture("sparse.hex")
      assert.are.equal(path .. " (hex): 2 ranges, 52 bytes, 0x08000000..0x1FFFF804",
        tostring(image.load(path)))
      assert.are.equal("image (new): 0 ranges, 0 bytes", tostring(image.new()))
    end)
  end)
end)
