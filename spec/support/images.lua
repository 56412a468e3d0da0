-- SPDX-License-Identifier: MIT
-- spec/support/images.lua: firmware images built in the specs, so no binary fixtures are
-- needed, and what the specs of cwlua.image check of the images it reads. Ranges are
-- { {addr, data}, ... }.
local errors = require "cwlua.errors"
local luassert = require "luassert" -- busted's assert, as the specs have it

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

--- images.record(rtype, addr16, data) -> one Intel HEX record line ":LLAAAATT…CC", with a
-- correct length and checksum (target-protocols.md §D)
function M.record(rtype, addr16, data)
  local bytes = string.char(#data, addr16 >> 8, addr16 & 0xFF, rtype) .. data
  local sum = 0
  for i = 1, #bytes do sum = sum + bytes:byte(i) end
  bytes = bytes .. string.char(-sum & 0xFF)
  return ":" .. bytes:gsub(".", function(c) return ("%02X"):format(c:byte()) end)
end

--- images.covering(n, file_size, step) -> a hostile ELF32 file of file_size bytes whose n
-- PT_LOAD program headers each load the whole file, at 0x08000000 + i * step (step 0: all at
-- the same address): it claims n times its size in data
function M.covering(n, file_size, step)
  local header = "\x7fELF\1\1\1" .. ("\0"):rep(9) .. string.pack("<I2I2I4I4I4I4I4I2I2I2I2I2I2",
    2, 40, 1, 0x08000000, 52, 0, 0, 52, 32, n, 40, 0, 0)
  local phdrs = {}
  for i = 0, n - 1 do
    local addr = 0x08000000 + i * step
    phdrs[#phdrs + 1] = string.pack("<I4I4I4I4I4I4I4I4", 1, 0, addr, addr, file_size, file_size,
      5, 4)
  end
  local head = header .. table.concat(phdrs)
  assert(#head <= file_size)
  return head .. ("\0"):rep(file_size - #head)
end

--- images.fixture(name) -> the path of spec/fixtures/NAME
function M.fixture(name)
  local dir = debug.getinfo(1, "S").source:match("^@(.*)support/[^/]*$") or "spec/"
  return dir .. "fixtures/" .. name
end

--- images.ranges_of(img) -> { {addr, data}, ... } of a cwlua.image image, for comparing with
-- a literal
function M.ranges_of(img)
  local out = {}
  for i, r in ipairs(img.ranges) do out[i] = { r.addr, r.data } end
  return out
end

--- images.fails_with(expected, fn, ...): asserts that fn(...) raises an "input" error whose
-- message is expected
function M.fails_with(expected, fn, ...)
  local ok, e = pcall(fn, ...)
  luassert.is_false(ok, "no error raised")
  luassert.is_true(errors.is(e, "input"), "not an input error: " .. tostring(e))
  luassert.are.equal(expected, e.message)
end

return M
