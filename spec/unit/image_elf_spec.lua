-- SPDX-License-Identifier: MIT
-- Specs for cwlua.image reading ELF32 little-endian files (contract.md §3 "FILE": ELF errors
-- name the byte offset). The ELF files are built here with string.pack, so no binary fixture
-- is needed.
local image = require("cwlua.image")
local images = require("support.images")

local EHDR_SIZE, PHDR_SIZE = 52, 32
local PT_LOAD, PT_NOTE = 1, 4

-- elf32(opts) -> the bytes of an ELF32 file
-- opts.segments: { {paddr=, data=, vaddr=, type=, filesz=, memsz=}, ... }; their data follows
-- the program headers in order. opts.class, opts.encoding, opts.e_type, opts.entry,
-- opts.phentsize override the header fields.
local function elf32(opts)
  local segments = opts.segments or {}
  local at = EHDR_SIZE + PHDR_SIZE * #segments
  local phdrs, blobs = {}, {}
  for i, s in ipairs(segments) do
    phdrs[i] = string.pack("<I4I4I4I4I4I4I4I4", s.type or PT_LOAD, at, s.vaddr or s.paddr,
      s.paddr, s.filesz or #s.data, s.memsz or #s.data, 5, 4)
    blobs[i] = s.data
    at = at + #s.data
  end
  local ident = "\x7fELF" .. string.char(opts.class or 1, opts.encoding or 1, 1) .. ("\0"):rep(9)
  local header = ident .. string.pack("<I2I2I4I4I4I4I4I2I2I2I2I2I2", opts.e_type or 2, 40, 1,
    opts.entry or 0, #segments > 0 and EHDR_SIZE or 0, 0, 0, EHDR_SIZE,
    opts.phentsize or PHDR_SIZE, #segments, 40, 0, 0)
  return header .. table.concat(phdrs) .. table.concat(blobs)
end

local function parse(data, opts)
  return image.parse(data, "fw.elf", opts)
end

local fails_with, ranges_of, fixture = images.fails_with, images.ranges_of, images.fixture
local covering = images.covering

describe("cwlua.image ELF", function()
  describe("PT_LOAD segments", function()
    it("are loaded at their physical address, and e_entry becomes img.start", function()
      local img = parse(elf32({ entry = 0x08000101, segments = {
        { paddr = 0x08000000, vaddr = 0x00000000, data = "vector+code" },
      } }))
      assert.are.equal("elf", img.format)
      assert.are.equal("fw.elf", img.source)
      assert.are.equal(0x08000101, img.start)
      assert.are.same({ { 0x08000000, "vector+code" } }, ranges_of(img))
    end)

    it("contribute their file bytes only, not p_memsz", function()
      -- .data: runs at 0x20000000, stored in flash after the code, 8 bytes in the file of 72.
      local img = parse(elf32({ segments = {
        { paddr = 0x08000000, data = "code" },
        { paddr = 0x08000004, vaddr = 0x20000000, data = "initdata", memsz = 72 },
      } }))
      assert.are.same({ { 0x08000000, "codeinitdata" } }, ranges_of(img))
    end)

    it("skip segments without file bytes and other segment types", function()
      local img = parse(elf32({ segments = {
        { paddr = 0x20000000, data = "", memsz = 64 },      -- .bss
        { type = PT_NOTE, paddr = 0, data = "note" },
        { paddr = 0x08000000, data = "x" },
      } }))
      assert.are.same({ { 0x08000000, "x" } }, ranges_of(img))
    end)

    it("that all load the same file bytes at one address are found before any is copied",
      function()
        -- 524 KiB, 16 000 headers over the whole file: 8.0 GiB if each were copied
        local t0 = os.clock()
        fails_with("fw.elf: byte 84: program header 1: 0x08000000 already set by program "
          .. "header 0", parse, covering(16000, 524 * 1024, 0))
        assert.is_true(os.clock() - t0 < 5, "took " .. (os.clock() - t0) .. " s")
      end)

    it("that all load the same file bytes at different addresses are refused over the limit",
      function()
        -- 7000 x 524 KiB = 3.5 GiB at disjoint addresses: refused from the headers alone
        fails_with("fw.elf: byte 52: 3.5 GiB of data, more than the 64 MiB an image may hold",
          parse, covering(7000, 524 * 1024, 524 * 1024))
        fails_with("fw.elf: byte 52: 16 KiB of data, more than any supported chip's flash "
          .. "(15 KiB)", parse, covering(16, 1024, 0x10000),
          { limit = 15 * 1024, limit_what = "any supported chip's flash (15 KiB)" })
      end)

    it("load when they hold no more than the limit", function()
      local img = parse(covering(16, 1024, 0x10000), { limit = 16 * 1024 })
      assert.are.equal(16, #img.ranges)
      assert.are.equal(16 * 1024, img:size())
    end)

    it("keep far-apart areas as separate small ranges, in address order", function()
      local img = parse(elf32({ segments = {
        { paddr = 0x1FFFF800, data = "\xA5\x5A" },
        { paddr = 0x08000000, data = "code" },
      } }))
      assert.are.same({ { 0x08000000, "code" }, { 0x1FFFF800, "\xA5\x5A" } }, ranges_of(img))
    end)

    it("give an empty image when there is none", function()
      assert.is_true(parse(elf32({})):is_empty())
    end)

    it("give what objcopy -O ihex writes for the same ELF", function()
      -- spec/fixtures/objcopy.hex came from an ELF with these program headers (readelf -l).
      local elf = elf32({ entry = 0x08000000, segments = {
        { paddr = 0x08000000, data = "\xB8\x01\0\0\0\xCD\x80hello, cwlua\n" },
        { paddr = 0x08000014, vaddr = 0x20000000, data = "\x44\x33\x22\x11\x88\x77\x66\x55",
          memsz = 0x48 },
      } })
      local from_hex = image.load(fixture("objcopy.hex"))
      assert.are.same(ranges_of(from_hex), ranges_of(parse(elf)))
      assert.are.equal(from_hex.start, parse(elf).start)
    end)
  end)

  describe("rejects", function()
    it("64-bit ELF", function()
      fails_with("fw.elf: byte 4: 64-bit ELF (ELFCLASS64); only 32-bit ELF is supported, "
        .. "convert it with objcopy -O ihex", parse, elf32({ class = 2 }))
    end)

    it("big-endian ELF", function()
      fails_with("fw.elf: byte 5: big-endian ELF (ELFDATA2MSB); only little-endian is "
        .. "supported, convert it with objcopy -O ihex", parse, elf32({ encoding = 2 }))
    end)

    it("unknown class and data encoding", function()
      fails_with("fw.elf: byte 4: unknown ELF class 0 (expected 1, 32-bit)",
        parse, elf32({ class = 0 }))
      fails_with("fw.elf: byte 5: unknown ELF data encoding 3 (expected 1, little-endian)",
        parse, elf32({ encoding = 3 }))
    end)

    it("a relocatable object", function()
      fails_with("fw.elf: byte 16: relocatable object (ELF type 1), not a linked executable; "
        .. "pass the linked .elf file", parse, elf32({ e_type = 1 }))
    end)

    it("a file that is not ELF when the format is forced", function()
      fails_with("fw.elf: byte 0: not an ELF file (it does not start with 7F 45 4C 46)",
        parse, ":00000001FF\n", { format = "elf" })
    end)

    it("program headers smaller than Elf32_Phdr", function()
      fails_with("fw.elf: byte 42: program header size 16 is less than 32",
        parse, elf32({ phentsize = 16, segments = { { paddr = 0, data = "x" } } }))
    end)

    it("data past 0xFFFFFFFF", function()
      fails_with("fw.elf: byte 52: segment of program header 0 at 0xFFFFFFFE (4 bytes) runs "
        .. "past 0xFFFFFFFF",
        parse, elf32({ segments = { { paddr = 0xFFFFFFFE, data = "abcd" } } }))
    end)

    it("overlapping segments, naming both program headers", function()
      fails_with("fw.elf: byte 116: program header 2: 0x08000102 already set by program header 0",
        parse, elf32({ segments = {
          { paddr = 0x08000100, data = "abcd" },
          { paddr = 0x20000000, data = "", memsz = 16 },
          { paddr = 0x08000102, data = "efgh" },
        } }))
    end)
  end)

  describe("truncated files", function()
    local good = elf32({ segments = {
      { paddr = 0x08000000, data = "0123456789" },
      { paddr = 0x08001000, data = "abcdefghij" },
    } })
    assert(#good == 52 + 2 * 32 + 20)

    it("in e_ident", function()
      fails_with("fw.elf: byte 0: ELF header runs past the end of the file (file is 4 bytes)",
        parse, good:sub(1, 4))
      fails_with("fw.elf: byte 0: ELF header runs past the end of the file (file is 6 bytes)",
        parse, good:sub(1, 6))
    end)

    it("in the ELF header", function()
      fails_with("fw.elf: byte 0: ELF header runs past the end of the file (file is 51 bytes)",
        parse, good:sub(1, 51))
    end)

    it("in the first program header", function()
      fails_with("fw.elf: byte 52: program header 0 runs past the end of the file "
        .. "(file is 60 bytes)", parse, good:sub(1, 60))
    end)

    it("in the second program header", function()
      fails_with("fw.elf: byte 84: program header 1 runs past the end of the file "
        .. "(file is 115 bytes)", parse, good:sub(1, 115))
    end)

    it("in the data of the first segment", function()
      fails_with("fw.elf: byte 116: segment of program header 0 (10 bytes) runs past the end "
        .. "of the file (file is 116 bytes)", parse, good:sub(1, 116))
    end)

    it("in the data of the last segment", function()
      fails_with("fw.elf: byte 126: segment of program header 1 (10 bytes) runs past the end "
        .. "of the file (file is 135 bytes)", parse, good:sub(1, -2))
    end)

    it("but whole, it loads", function()
      assert.are.same({ { 0x08000000, "0123456789" }, { 0x08001000, "abcdefghij" } },
        ranges_of(parse(good)))
    end)
  end)
end)
