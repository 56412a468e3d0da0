-- SPDX-License-Identifier: MIT
-- cwlua.image.elf: ELF32 little-endian reader for cwlua.image.
--
-- Sources: the System V ABI "ELF" chapter (Elf32_Ehdr and Elf32_Phdr layouts, e_ident values,
-- PT_LOAD), contract.md §3 "FILE" ("ELF errors name the byte offset") and the image-loader issue.
-- Loads the file bytes (p_filesz, not p_memsz) of each PT_LOAD segment at its physical address
-- (p_paddr, the load address: an initialised .data section runs from RAM but is stored in
-- flash). Every error is errors.raise("input", ...) and reads "NAME: byte OFFSET: message".
local errors = require("cwlua.errors")
local spans = require("cwlua.image.spans")

local M = {}

local byte, sub, unpack = string.byte, string.sub, string.unpack

local MAGIC = "\x7fELF"        -- e_ident[0..3] (ELF: "ELF Identification")
local EI_CLASS = 4             -- offset of e_ident[EI_CLASS]
local EI_DATA = 5              -- offset of e_ident[EI_DATA]
local ELFCLASS32 = 1
local ELFCLASS64 = 2
local ELFDATA2LSB = 1
local ELFDATA2MSB = 2
local EHDR_SIZE = 52           -- sizeof(Elf32_Ehdr)
local E_TYPE = 16              -- offset of e_type; the rest of Elf32_Ehdr follows it
local EHDR_FORMAT = "<I2I2I4I4I4I4I4I2I2I2"
                               -- e_type e_machine e_version e_entry e_phoff e_shoff e_flags
                               -- e_ehsize e_phentsize e_phnum
local E_PHENTSIZE = 42         -- offset of e_phentsize
local ET_REL = 1               -- relocatable object (.o)
local PHDR_SIZE = 32           -- sizeof(Elf32_Phdr)
local PHDR_FORMAT = "<I4I4I4I4I4"
                               -- p_type p_offset p_vaddr p_paddr p_filesz
local PT_LOAD = 1
-- Images live in a 32-bit address space.
local ADDR_LIMIT = 0x100000000

--- elf.is_elf(data) -> true when data starts with the ELF magic
function M.is_elf(data)
  return sub(data, 1, #MAGIC) == MAGIC
end

--- elf.parse(data, name [, limit, over]) -> ranges, entry
-- ranges: sorted, merged { {addr=, data=}, ... } (possibly empty); entry: e_entry.
-- limit: the most bytes of data the image may hold (default: no limit beyond the 32-bit address
-- space); over(total) -> the message when it holds more ("8.0 GiB of data, more than ..."),
-- needed with limit.
-- Raises an "input" error "NAME: byte OFFSET: ..." for anything it cannot load.
--
-- Program headers may point any number of segments at the same file bytes, so the data an ELF
-- claims can be thousands of times its size: every header is checked, overlaps are looked for
-- and the total is compared with the limit before a single segment is copied.
function M.parse(data, name, limit, over)
  local size = #data
  local function fail(offset, fmt, ...)
    errors.raise("input", "%s: byte %d: " .. fmt, name, offset, ...)
  end

  if not M.is_elf(data) then
    fail(0, "not an ELF file (it does not start with 7F 45 4C 46)")
  end
  local class, encoding = byte(data, EI_CLASS + 1, EI_DATA + 1)
  if class == ELFCLASS64 then
    fail(EI_CLASS, "64-bit ELF (ELFCLASS64); only 32-bit ELF is supported, convert it with "
      .. "objcopy -O ihex")
  elseif class ~= nil and class ~= ELFCLASS32 then
    fail(EI_CLASS, "unknown ELF class %d (expected 1, 32-bit)", class)
  end
  if encoding == ELFDATA2MSB then
    fail(EI_DATA, "big-endian ELF (ELFDATA2MSB); only little-endian is supported, convert it "
      .. "with objcopy -O ihex")
  elseif encoding ~= nil and encoding ~= ELFDATA2LSB then
    fail(EI_DATA, "unknown ELF data encoding %d (expected 1, little-endian)", encoding)
  end
  if size < EHDR_SIZE then
    fail(0, "ELF header runs past the end of the file (file is %d bytes)", size)
  end

  local e_type, _, _, entry, phoff, _, _, _, phentsize, phnum = unpack(EHDR_FORMAT, data,
    E_TYPE + 1)
  if e_type == ET_REL then
    fail(E_TYPE, "relocatable object (ELF type 1), not a linked executable; pass the linked "
      .. ".elf file")
  end
  if phnum > 0 and phentsize < PHDR_SIZE then
    fail(E_PHENTSIZE, "program header size %d is less than %d", phentsize, PHDR_SIZE)
  end

  -- All program headers first, then the segments they point to: a file cut short is reported
  -- at its first missing piece in the order the loader needs them.
  local loads = {}
  for i = 0, phnum - 1 do
    local at = phoff + i * phentsize
    if at + PHDR_SIZE > size then
      fail(at, "program header %d runs past the end of the file (file is %d bytes)", i, size)
    end
    local p_type, offset, _, paddr, filesz = unpack(PHDR_FORMAT, data, at + 1)
    if p_type == PT_LOAD and filesz > 0 then
      loads[#loads + 1] = { index = i, at = at, offset = offset, paddr = paddr, filesz = filesz }
    end
  end

  local addrs, lens = {}, {}
  for k, seg in ipairs(loads) do
    if seg.offset + seg.filesz > size then
      fail(seg.offset, "segment of program header %d (%d bytes) runs past the end of the file "
        .. "(file is %d bytes)", seg.index, seg.filesz, size)
    end
    if seg.paddr + seg.filesz > ADDR_LIMIT then
      fail(seg.at, "segment of program header %d at 0x%08X (%d bytes) runs past 0xFFFFFFFF",
        seg.index, seg.paddr, seg.filesz)
    end
    addrs[k], lens[k] = seg.paddr, seg.filesz
  end

  local ok, order, addr, earlier = spans.check(addrs, lens)
  if not ok then
    fail(loads[order].at, "program header %d: 0x%08X already set by program header %d",
      loads[order].index, addr, loads[earlier].index)
  end
  -- Disjoint segments in a 32-bit space: the total is at most 4 GiB, and still only a number.
  local total = 0
  for k = 1, #lens do total = total + lens[k] end
  if limit and total > limit then
    fail(phoff, "%s", over(total))
  end

  local datas = {}
  for k, seg in ipairs(loads) do datas[k] = sub(data, seg.offset + 1, seg.offset + seg.filesz) end
  return spans.merge(addrs, datas, order), entry
end

return M
