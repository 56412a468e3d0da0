-- SPDX-License-Identifier: MIT
-- cwlua.image.hex: Intel HEX reader for cwlua.image.
--
-- Sources: target-protocols.md §D (the record types, checks and behaviour of IntelHex 1.5.1,
-- which ChipWhisperer uses), contract.md §3 "FILE" (any address given twice is an error, no 64 KiB
-- wrap-around) and the image-loader issue. Every error is errors.raise("input", ...) and reads
-- "NAME:LINE: message".
--
-- Data addresses are base + record address + i with no masking: a record at 0xFFF8 under
-- extended linear address 0x0800 covers 0x0800FFF8..0x08010007 (§D: "no 16-bit wrap within a
-- record"). Data past 0xFFFFFFFF is an error. Syntax is checked while reading, line by line;
-- addresses given twice are found once the whole file is read (cwlua.image.spans).
local errors = require("cwlua.errors")
local spans = require("cwlua.image.spans")

local M = {}

local byte, char, find, format, gsub, sub, unpack =
  string.byte, string.char, string.find, string.format, string.gsub, string.sub, string.unpack

-- Record types (target-protocols.md §D).
local DATA = 0x00
local EOF = 0x01
local EXT_SEGMENT = 0x02     -- base = value * 16
local START_SEGMENT = 0x03   -- CS:IP, stored, never used by a programmer
local EXT_LINEAR = 0x04      -- base = value * 65536
local START_LINEAR = 0x05    -- EIP, stored, never used by a programmer

-- Scale of the 02 and 04 base values (§D: "offset = value × 16", "offset = value × 65536").
local SEGMENT_SCALE = 16
local LINEAR_SCALE = 65536

-- Data bytes of records 02..05 (§D: "the right length (2/4/2/4)") and their names.
local TYPE_LEN = { [EXT_SEGMENT] = 2, [START_SEGMENT] = 4, [EXT_LINEAR] = 2, [START_LINEAR] = 4 }
local TYPE_NAME = {
  [EXT_SEGMENT] = "extended segment address",
  [START_SEGMENT] = "start segment address",
  [EXT_LINEAR] = "extended linear address",
  [START_LINEAR] = "start linear address",
}

-- A record is length, address (2), type, data, checksum: at least 5 bytes (Intel HEX format).
local MIN_RECORD = 5
-- Images live in a 32-bit address space (contract.md §3: addresses print as 0x%08X).
local ADDR_LIMIT = 0x100000000
local COLON = byte(":")
local CR = byte("\r")
-- Editors on Windows may put a UTF-8 byte order mark in front of the first line; it is skipped
-- (otherwise the file would be taken for a raw binary, see docs/images.md).
local UTF8_BOM = "\xEF\xBB\xBF"

-- Two hex digits, in either case -> the byte they spell: decoding is one gsub per line.
local PAIR = {}
do
  local function spellings(d)
    local lower = format("%x", d)
    local upper = lower:upper()
    return lower == upper and { lower } or { lower, upper }
  end
  for v = 0, 255 do
    for _, hi in ipairs(spellings(v >> 4)) do
      for _, lo in ipairs(spellings(v & 0xF)) do PAIR[hi .. lo] = char(v) end
    end
  end
end

-- show(c) -> "'G'" for a printable character, "0x09" otherwise
local function show(c)
  if find(c, "^[%g ]$") then return "'" .. c .. "'" end
  return format("0x%02X", byte(c))
end

-- Checksums add eight bytes at a time: the even and the odd bytes of a little-endian 64-bit word
-- each go to four 16-bit lanes, and one multiplication adds the lanes up into the top one. A
-- record has at most 260 bytes (255 data + 5), so a lane holds at most 32 * 2 * 255 + 7 * 255
-- and three lanes together stay below 65536: no carry crosses into the top lane.
local EVEN_BYTES = 0x00FF00FF00FF00FF
local ADD_LANES = 0x0001000100010001

-- byte_sum(s) -> sum of the bytes of s, modulo 65536
local function byte_sum(s)
  local n, at, acc = #s, 1, 0
  while at + 7 <= n do
    local word = unpack("<I8", s, at)
    acc = acc + (word & EVEN_BYTES) + ((word >> 8) & EVEN_BYTES)
    at = at + 8
  end
  for i = at, n do acc = acc + byte(s, i) end
  return (acc * ADD_LANES) >> 48
end

--- hex.parse(text, name [, limit, over]) -> ranges, start, start_segment
-- ranges: sorted, merged { {addr=, data=}, ... }; start: the 03/05 start address as an integer
-- (03: CS * 16 + IP) or nil; start_segment: { cs=, ip= } for a 03 record, else nil.
-- limit: the most bytes of data the image may hold; over(total) -> the message when the data
-- records read so far hold more (needed with limit). The check is made record by record, so a
-- file with too much data stops at the line that goes over.
-- Raises an "input" error "NAME:LINE: ..." for anything malformed.
--
-- Memory: the text, and per data record its bytes and three numbers (no table per byte, and
-- nothing for blank lines or address records); a run of blank lines is skipped in one step.
function M.parse(text, name, limit, over)
  local line_no = 0
  local function fail(fmt, ...)
    errors.raise("input", "%s:%d: " .. fmt, name, line_no, ...)
  end

  local n = #text
  local pos = 1
  if sub(text, 1, #UTF8_BOM) == UTF8_BOM then pos = #UTF8_BOM + 1 end
  local base = 0
  local addrs, datas, lines, count, total = {}, {}, {}, 0, 0
  local start, start_segment, start_line
  local seen_eof = false

  while pos <= n do
    local nl = find(text, "\n", pos, true)
    local stop = nl and nl - 1 or n
    line_no = line_no + 1
    if stop >= pos and byte(text, stop) == CR then stop = stop - 1 end
    local first = pos
    pos = nl and nl + 1 or n + 1

    if first > stop or byte(text, first) ~= COLON then
      -- Empty (and blank) lines are skipped (§D).
      if find(sub(text, first, stop), "%S") then
        fail("line does not start with ':' (found %s)", show(sub(text, first, first)))
      end
      -- So are the blank lines that follow, in one search: a file of millions of empty lines
      -- then costs no more than its size in memory and a scan in time.
      local _, run_end = find(text, "^%s*\n", pos)
      if run_end then
        local run = sub(text, pos, run_end)
        line_no = line_no + #run - #gsub(run, "\n+", "") -- its line ends, a run at a time
        pos = run_end + 1
      end
    else
      local body = sub(text, first + 1, stop)
      local digits = #body
      -- A pair that is not two hex digits is left as it is, so the result is then too long.
      local rec = gsub(body, "..", PAIR)
      local size = #rec
      if size * 2 ~= digits then
        local bad = find(body, "[^%x]")
        if bad then
          fail("character %s at column %d is not a hex digit", show(sub(body, bad, bad)), bad + 1)
        end
        fail("odd number of hex digits (%d)", digits)
      end
      if size < MIN_RECORD then
        fail("record too short (%d bytes, at least %d needed)", size, MIN_RECORD)
      end
      local len, addr_hi, addr_lo, rtype = byte(rec, 1, 4)
      if len ~= size - MIN_RECORD then
        fail("length byte says %d data bytes, the record has %d", len, size - MIN_RECORD)
      end
      local sum = byte_sum(rec)
      if sum & 0xFF ~= 0 then
        local given = byte(rec, size)
        fail("bad checksum 0x%02X (expected 0x%02X)", given, (given - sum) & 0xFF)
      end
      local field = addr_hi * 256 + addr_lo

      if rtype == DATA then
        if len > 0 then
          local addr = base + field
          if addr + len > ADDR_LIMIT then
            fail("data record at 0x%08X (%d bytes) runs past 0xFFFFFFFF", addr, len)
          end
          total = total + len
          if limit and total > limit then fail("%s", over(total)) end
          count = count + 1
          addrs[count], datas[count], lines[count] = addr, sub(rec, 5, size - 1), line_no
        end
      elseif rtype == EOF then
        if len ~= 0 then fail("end-of-file record (01) must have length 0, has %d", len) end
        seen_eof = true
        break -- everything after the EOF record is ignored (§D)
      elseif rtype <= START_LINEAR then
        if field ~= 0 then
          fail("%s record (%02X) must have address field 0000, has %04X",
            TYPE_NAME[rtype], rtype, field)
        end
        if len ~= TYPE_LEN[rtype] then
          fail("%s record (%02X) must have %d data bytes, has %d",
            TYPE_NAME[rtype], rtype, TYPE_LEN[rtype], len)
        end
        if rtype == EXT_SEGMENT then
          base = unpack(">I2", rec, 5) * SEGMENT_SCALE
        elseif rtype == EXT_LINEAR then
          base = unpack(">I2", rec, 5) * LINEAR_SCALE
        else
          if start_line then fail("start address already set at line %d", start_line) end
          start_line = line_no
          if rtype == START_SEGMENT then
            local cs, ip = unpack(">I2I2", rec, 5)
            start, start_segment = cs * SEGMENT_SCALE + ip, { cs = cs, ip = ip }
          else
            start = unpack(">I4", rec, 5)
          end
        end
      else
        fail("unknown record type %02X (expected 00 to 05)", rtype)
      end
    end
  end

  if not seen_eof then
    if line_no == 0 then line_no = 1 end
    fail("no end-of-file record (:00000001FF); the file may be truncated")
  end

  local ranges, later, addr, earlier = spans.assemble(addrs, datas)
  if not ranges then
    line_no = lines[later]
    fail("0x%08X already set at line %d", addr, lines[earlier])
  end
  return ranges, start, start_segment
end

return M
