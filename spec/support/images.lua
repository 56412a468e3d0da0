-- SPDX-License-Identifier: MIT
-- spec/support/images.lua: firmware images built in the specs, so no binary fixtures are
-- needed. Ranges are { {addr, data}, ... }.
local M = {}

--- images.hex(ranges) -> Intel HEX text (16-byte records, 04 records as needed, EOF)
function M.hex(ranges)
  local img = require("cwlua.image").new()
  for _, r in ipairs(ranges) do img:add(r[1], r[2]) end
  return require("cwlua.image").to_hex(img)
end

--- images.elf(segments) -> an ELF32 little-endian executable with one PT_LOAD per segment
-- at its physical address (segments = { {paddr, data}, ... })
function M.elf(segments)
  local ehsize, phentsize = 52, 32
  local phoff = ehsize
  local data_off = phoff + phentsize * #segments
  local phdrs, blobs, off = {}, {}, data_off
  for _, s in ipairs(segments) do
    -- p_type PT_LOAD, offset, vaddr (deliberately not paddr), paddr, filesz, memsz, flags, align
    phdrs[#phdrs + 1] = string.pack("<I4I4I4I4I4I4I4I4", 1, off, 0x20000000 + off, s[1], #s[2],
      #s[2], 5, 4)
    blobs[#blobs + 1] = s[2]
    off = off + #s[2]
  end
  local ident = "\x7fELF\1\1\1" .. ("\0"):rep(9)
  local header = ident .. string.pack("<I2I2I4I4I4I4I4I2I2I2I2I2I2", 2, 40, 1, segments[1][1],
    phoff, 0, 0, ehsize, phentsize, #segments, 40, 0, 0)
  return header .. table.concat(phdrs) .. table.concat(blobs)
end

--- images.pattern(n, seed) -> n bytes of a repeatable non-0xFF pattern
function M.pattern(n, seed)
  local t = {}
  for i = 1, n do t[i] = string.char(((i * 7 + (seed or 1) * 13) % 255)) end
  return table.concat(t)
end

return M
