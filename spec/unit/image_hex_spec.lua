-- SPDX-License-Identifier: MIT
-- Specs for cwlua.image reading Intel HEX (target-protocols.md §D, contract.md §3 "FILE").
-- Records are built here with their checksums computed, so each case shows what it changes.
local image = require("cwlua.image")
local images = require("support.images")

local record = images.record -- ":LLAAAATT…CC" with a correct length and checksum

local EOF = ":00000001FF"

-- hexfile(line, ...) -> the lines joined with "\n", ending in "\n"
local function hexfile(...)
  return table.concat({ ... }, "\n") .. "\n"
end

local function linear(upper16) return record(0x04, 0, string.pack(">I2", upper16)) end
local function segment(value) return record(0x02, 0, string.pack(">I2", value)) end

-- parse(text) -> image of text read as fw.hex
local function parse(text, opts)
  return image.parse(text, "fw.hex", opts)
end

local fails_with, ranges_of = images.fails_with, images.ranges_of

describe("cwlua.image Intel HEX", function()
  describe("data records (00)", function()
    it("places data at the record address and merges touching records", function()
      local img = parse(hexfile(record(0, 0x0100, "abcd"), record(0, 0x0104, "efgh"), EOF))
      assert.are.same({ { 0x100, "abcdefgh" } }, ranges_of(img))
      assert.are.equal("hex", img.format)
      assert.are.equal("fw.hex", img.source)
      assert.is_nil(img.start)
    end)

    it("allows gaps and records out of address order", function()
      local img = parse(hexfile(record(0, 0x20, "CC"), record(0, 0x00, "AA"), record(0, 0x02, "B"),
        EOF))
      assert.are.same({ { 0x00, "AAB" }, { 0x20, "CC" } }, ranges_of(img))
    end)

    it("accepts lower-case digits", function()
      local img = parse(hexfile(record(0, 0xABCD, "\xfe\xed"):lower(), EOF))
      assert.are.same({ { 0xABCD, "\xFE\xED" } }, ranges_of(img))
    end)

    it("accepts a record with no data", function()
      local img = parse(hexfile(record(0, 0x10, ""), record(0, 0x10, "x"), EOF))
      assert.are.same({ { 0x10, "x" } }, ranges_of(img))
    end)

    it("accepts CR LF line ends, skips blank lines and a UTF-8 byte order mark", function()
      local text = "\xEF\xBB\xBF" .. record(0, 0, "hi") .. "\r\n\r\n  \t\n" .. EOF .. "\r\n"
      assert.are.same({ { 0, "hi" } }, ranges_of(parse(text)))
    end)

    it("accepts a last line without a line end", function()
      assert.are.same({ { 0, "z" } }, ranges_of(parse(record(0, 0, "z") .. "\n" .. EOF)))
    end)
  end)

  describe("extended addresses", function()
    it("02 sets a base of value * 16", function()
      local img = parse(hexfile(segment(0x1234), record(0, 0x0010, "s"), EOF))
      assert.are.same({ { 0x12340 + 0x10, "s" } }, ranges_of(img))
    end)

    it("04 sets a base of value * 65536", function()
      local img = parse(hexfile(linear(0x0800), record(0, 0x0010, "l"), EOF))
      assert.are.same({ { 0x08000010, "l" } }, ranges_of(img))
    end)

    it("a later 02 or 04 replaces the base", function()
      local img = parse(hexfile(linear(0x0800), record(0, 0, "a"), segment(0x1000),
        record(0, 0, "b"), linear(0x2000), record(0, 0, "c"), EOF))
      assert.are.same({ { 0x10000, "b" }, { 0x08000000, "a" }, { 0x20000000, "c" } },
        ranges_of(img))
    end)

    it("keeps two far-apart areas as two small ranges", function()
      local img = parse(hexfile(linear(0x0800), record(0, 0, ("\0"):rep(16)), linear(0x1FFF),
        record(0, 0xF800, "\xA5\x5A"), EOF))
      assert.are.same({ { 0x08000000, ("\0"):rep(16) }, { 0x1FFFF800, "\xA5\x5A" } },
        ranges_of(img))
      assert.are.equal(18, img:size())
    end)
  end)

  describe("no 64 KiB wrap-around", function()
    it("continues a record past 0xFFFF of a linear base into the next 64 KiB", function()
      local img = parse(hexfile(linear(0x0800), record(0, 0xFFF8, "0123456789abcdef"), EOF))
      assert.are.same({ { 0x0800FFF8, "0123456789abcdef" } }, ranges_of(img))
      assert.are.equal(("\xFF"):rep(8), img:read(0x08000000, 8))
    end)

    it("continues a record past 0xFFFF of a segment base", function()
      local img = parse(hexfile(segment(0x1000), record(0, 0xFFF0, ("w"):rep(32)), EOF))
      assert.are.same({ { 0x1FFF0, ("w"):rep(32) } }, ranges_of(img))
    end)

    it("so the spill-over collides with the next 64 KiB", function()
      fails_with("fw.hex:4: 0x08010000 already set at line 2",
        parse, hexfile(linear(0x0800), record(0, 0xFFF8, ("x"):rep(16)), linear(0x0801),
          record(0, 0x0000, "y"), EOF))
    end)

    it("rejects data past 0xFFFFFFFF", function()
      fails_with("fw.hex:2: data record at 0xFFFFFFF8 (16 bytes) runs past 0xFFFFFFFF",
        parse, hexfile(linear(0xFFFF), record(0, 0xFFF8, ("x"):rep(16)), EOF))
    end)
  end)

  describe("start addresses", function()
    it("03 is stored as CS * 16 + IP, with CS and IP", function()
      local img = parse(hexfile(record(3, 0, "\x12\x34\x00\x10"), EOF))
      assert.are.equal(0x12340 + 0x10, img.start)
      assert.are.same({ cs = 0x1234, ip = 0x0010 }, img.start_segment)
      assert.is_true(img:is_empty())
    end)

    it("05 is stored as the 32-bit address", function()
      local img = parse(hexfile(record(5, 0, "\x08\x00\x01\x01"), EOF))
      assert.are.equal(0x08000101, img.start)
      assert.is_nil(img.start_segment)
    end)

    it("a second start record is an error, whatever its type", function()
      fails_with("fw.hex:3: start address already set at line 1",
        parse, hexfile(record(5, 0, "\0\0\0\1"), record(0, 0, "x"), record(5, 0, "\0\0\0\1"), EOF))
      fails_with("fw.hex:2: start address already set at line 1",
        parse, hexfile(record(3, 0, "\0\0\0\1"), record(5, 0, "\0\0\0\2"), EOF))
    end)
  end)

  describe("end of file (01)", function()
    it("ignores everything after it", function()
      local img = parse(hexfile(record(0, 0, "a"), EOF, record(0, 0, "again"), "garbage", ":zz"))
      assert.are.same({ { 0, "a" } }, ranges_of(img))
    end)

    it("must have length 0", function()
      fails_with("fw.hex:2: end-of-file record (01) must have length 0, has 1",
        parse, hexfile(record(0, 0, "a"), record(1, 0, "\0")))
    end)

    it("must be there", function()
      fails_with("fw.hex:2: no end-of-file record (:00000001FF); the file may be truncated",
        parse, hexfile(linear(0x0800), record(0, 0, "a")))
    end)

    it("must be there even in a file with no record", function()
      fails_with("fw.hex:1: no end-of-file record (:00000001FF); the file may be truncated",
        parse, "\n", { format = "hex" })
    end)
  end)

  describe("malformed records", function()
    it("rejects a line that does not start with ':'", function()
      fails_with("fw.hex:2: line does not start with ':' (found '0')",
        parse, hexfile(record(0, 0, "a"), record(0, 1, "b"):sub(2), EOF))
      fails_with("fw.hex:1: line does not start with ':' (found ' ')",
        parse, hexfile("  " .. EOF), { format = "hex" })
      fails_with("fw.hex:1: line does not start with ':' (found 0x00)",
        parse, hexfile("\0" .. EOF), { format = "hex" })
    end)

    it("rejects a character that is not a hex digit, naming its column", function()
      fails_with("fw.hex:1: character 'G' at column 10 is not a hex digit",
        parse, hexfile(":02000000G1", EOF))
      fails_with("fw.hex:1: character ' ' at column 16 is not a hex digit",
        parse, hexfile(record(0, 0, "ab") .. " ", EOF))
      fails_with("fw.hex:1: character 0x09 at column 2 is not a hex digit",
        parse, hexfile(":\t00000001FF"))
    end)

    it("rejects an odd number of hex digits", function()
      fails_with("fw.hex:2: odd number of hex digits (13)",
        parse, hexfile(record(0, 0, "a"), record(0, 0, "ab"):sub(1, -2), EOF))
    end)

    it("rejects a record shorter than 5 bytes", function()
      fails_with("fw.hex:1: record too short (4 bytes, at least 5 needed)",
        parse, hexfile(":00000001", EOF))
      fails_with("fw.hex:1: record too short (0 bytes, at least 5 needed)",
        parse, hexfile(":", EOF))
    end)

    it("rejects a length byte that does not match the record", function()
      -- 03 data bytes announced, 2 present (the length is checked before the checksum).
      fails_with("fw.hex:1: length byte says 3 data bytes, the record has 2",
        parse, hexfile(":030000006162FA", EOF))
      fails_with("fw.hex:1: length byte says 1 data bytes, the record has 2",
        parse, hexfile(":010000006162FC", EOF))
    end)

    it("rejects a bad checksum, giving the right one", function()
      local good = record(0, 0x0010, "0123456789ABCDEF")
      assert.are.equal("3E", good:sub(-2))
      fails_with("fw.hex:2: bad checksum 0x3F (expected 0x3E)",
        parse, hexfile(linear(0), good:sub(1, -3) .. "3F", EOF))
    end)

    it("rejects record types above 05", function()
      fails_with("fw.hex:1: unknown record type 06 (expected 00 to 05)",
        parse, hexfile(record(6, 0, ""), EOF))
    end)

    it("needs address field 0000 and the right length for 02 to 05", function()
      fails_with("fw.hex:1: extended segment address record (02) must have address field 0000, "
        .. "has 0010", parse, hexfile(record(2, 0x10, "\0\0"), EOF))
      fails_with("fw.hex:1: extended segment address record (02) must have 2 data bytes, has 3",
        parse, hexfile(record(2, 0, "\0\0\0"), EOF))
      fails_with("fw.hex:1: start segment address record (03) must have 4 data bytes, has 2",
        parse, hexfile(record(3, 0, "\0\0"), EOF))
      fails_with("fw.hex:1: extended linear address record (04) must have address field 0000, "
        .. "has FFFF", parse, hexfile(record(4, 0xFFFF, "\0\0"), EOF))
      fails_with("fw.hex:1: extended linear address record (04) must have 2 data bytes, has 1",
        parse, hexfile(record(4, 0, "\8"), EOF))
      fails_with("fw.hex:1: start linear address record (05) must have address field 0000, "
        .. "has 0004", parse, hexfile(record(5, 4, "\0\0\0\0"), EOF))
      fails_with("fw.hex:1: start linear address record (05) must have 4 data bytes, has 0",
        parse, hexfile(record(5, 0, ""), EOF))
    end)
  end)

  describe("an address set twice", function()
    it("names both lines", function()
      fails_with("fw.hex:12: 0x08000010 already set at line 5",
        parse, hexfile(linear(0x0800), "", "", "", record(0, 0x0010, "abcd"), "", "", "", "",
          "", "", record(0, 0x000C, "wxyzW"), EOF))
    end)

    it("is found across a change of extended address and back", function()
      fails_with("fw.hex:6: 0x08000002 already set at line 2",
        parse, hexfile(linear(0x0800), record(0, 0, "abcd"), linear(0x0801), record(0, 0, "efgh"),
          linear(0x0800), record(0, 2, "ij"), EOF))
    end)

    it("is found when 02 and 04 reach the same address", function()
      fails_with("fw.hex:4: 0x00010000 already set at line 2",
        parse, hexfile(segment(0x1000), record(0, 0, "a"), linear(0x0001), record(0, 0, "b"), EOF))
    end)

    it("is found within the same record address twice", function()
      fails_with("fw.hex:2: 0x00000000 already set at line 1",
        parse, hexfile(record(0, 0, "a"), record(0, 0, "a"), EOF))
    end)

    it("reports the first conflict in file order, at its lowest address", function()
      -- Line 3 is the first line to set a byte set before; of its bytes, 0x104 (line 1) is the
      -- lowest already set. Line 4 collides with line 2 too, but later in the file.
      fails_with("fw.hex:3: 0x00000104 already set at line 1",
        parse, hexfile(record(0, 0x100, ("a"):rep(16)), record(0, 0x000, ("b"):rep(16)),
          record(0, 0x104, ("c"):rep(16)), record(0, 0x000, "d"), EOF))
      -- Line 3 covers two earlier records; the lower one is named.
      fails_with("fw.hex:3: 0x00000000 already set at line 2",
        parse, hexfile(record(0, 0x10, ("a"):rep(16)), record(0, 0x00, ("b"):rep(8)),
          record(0, 0x00, ("c"):rep(32)), EOF))
    end)

    it("is looked for once the whole file reads without syntax errors", function()
      fails_with("fw.hex:3: bad checksum 0xFE (expected 0x00)",
        parse, hexfile(record(0, 0, "a"), record(0, 0, "a"), ":00000000FE", EOF))
    end)
  end)

  describe("size limit (opts.limit)", function()
    it("stops at the data record that takes the image over it", function()
      fails_with("fw.hex:3: 6 bytes of data, more than the 5 bytes an image may hold",
        parse, hexfile(record(0, 0, "abc"), "", record(0, 3, "def"), record(0, 6, "g"), EOF),
        { limit = 5 })
    end)

    it("counts the bytes as the records give them, before addresses set twice", function()
      fails_with("fw.hex:2: 6 bytes of data, more than the 5 bytes an image may hold",
        parse, hexfile(record(0, 0, "abc"), record(0, 0, "abc"), EOF), { limit = 5 })
    end)

    it("lets an image of exactly the limit through", function()
      assert.are.same({ { 0, "abcdef" } }, ranges_of(parse(hexfile(record(0, 0, "abc"),
        record(0, 3, "def"), EOF), { limit = 6 })))
    end)
  end)

  describe("blank lines", function()
    -- Runs of blank lines are skipped in one step; line numbers must not notice.
    it("keep the line numbers of what follows them", function()
      local text = record(0, 0, "a") .. "\n" .. ("\n"):rep(1000) .. "  \r\n\t\n\r\n" .. "x\n" .. EOF
      fails_with("fw.hex:1005: line does not start with ':' (found 'x')", parse, text)
    end)

    it("do not swallow the spaces in front of a record", function()
      fails_with("fw.hex:4: line does not start with ':' (found ' ')",
        parse, "\n\n\n  " .. hexfile(record(0, 0, "a"), EOF))
    end)

    it("at the end count for the missing end-of-file record's line", function()
      fails_with("fw.hex:5: no end-of-file record (:00000001FF); the file may be truncated",
        parse, hexfile(record(0, 0, "a")) .. "\n\n \n\t")
    end)
  end)

  describe("detection", function()
    it("reads a file whose first non-blank line starts with ':' as Intel HEX", function()
      local img = image.parse("\n \r\n\t\n" .. hexfile(record(0, 0, "x"), EOF), "fw.txt",
        { base = 0 })
      assert.are.equal("hex", img.format)
      assert.are.same({ { 0, "x" } }, ranges_of(img))
    end)
  end)
end)
