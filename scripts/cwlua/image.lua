-- SPDX-License-Identifier: MIT
-- cwlua.image: firmware images. Loads Intel HEX, raw binary or ELF32 into a sparse image (sorted,
-- disjoint, merged address ranges) and gives the programming code what it needs from one:
-- aligned blocks, padding, touched pages, splitting, reading with gaps filled, range checks.
--
-- Sources: contract.md §3 "FILE" (formats, detection from content, "any address given twice is an
-- error", no 64 KiB wrap-around, ELF errors name the byte offset), target-protocols.md §D (Intel
-- HEX) and the image-loader issue. docs/images.md is the user-facing description, with every
-- message this module and cwlua.image.{hex,elf} raise.
--
--   local img = image.load("fw.hex")            -- or image.load(path, { base = 0x08000000 })
--   for addr, data in img:blocks(256) do ... end  -- 256-byte aligned writes
--
-- Bad input raises errors.raise("input", ...) (exit 2, contract.md §3); a wrong argument type from
-- the calling code is a bug and raises a plain error.
--
-- Bounded input (contract.md §3.3): only a regular file is read, at most image.MAX_FILE bytes of
-- it, and an image holds at most opts.limit bytes of data (default image.MAX_FILE). The loaders
-- check sizes and overlaps from the headers before they copy a byte, so a file that claims more
-- data than it has (ELF program headers that all cover the whole file) costs no memory, and
-- memory stays a small multiple of the file's size.
local errors = require("cwlua.errors")
local hex = require("cwlua.image.hex")
local elf = require("cwlua.image.elf")

local M = {}

local byte, char, find, format, rep, sub =
  string.byte, string.char, string.find, string.format, string.rep, string.sub
local concat, insert, remove = table.concat, table.insert, table.remove
local math_type = math.type

local KIB, MIB = 1024, 1024 * 1024
--- image.MAX_FILE: the most bytes image.load and image.read_file read from a file, and the
-- default limit on the data an image holds. The largest flash of any chip cwlua knows is 2 MiB
-- (STM32F42x/43x); a HEX file of it is under 6 MiB, and an ELF with debug information (often
-- ten or more times the code) still fits in 64 MiB. A bigger file is not firmware for these
-- chips, and reading it would only cost memory and time.
M.MAX_FILE = 64 * MIB
-- read_file reads a file of unknown size (a /proc file says 0) this much at a time.
local READ_CHUNK = 64 * KIB

-- Images live in a 32-bit address space: 0 .. 0xFFFFFFFF.
local ADDR_LIMIT = 0x100000000
-- Erased flash reads 0xFF, so gaps read and pad with it (target-protocols.md §D: "gaps filled
-- with 0xFF").
local DEFAULT_FILL = 0xFF
-- opts.format values (issue: "Allow forcing with opts.format").
local FORMATS = { hex = true, bin = true, elf = true }
-- Detection (contract.md §3, "detected from content"): hex when the first non-blank character
-- is ':', after an optional UTF-8 byte order mark.
local COLON = byte(":")
local UTF8_BOM = "\xEF\xBB\xBF"

local Image = {}
Image.__index = Image
Image.__name = "cwlua.image.Image"

-- check_integer(value, what, min [, max]): raise a plain error (a bug in the caller) unless value
-- is an integer in [min, max]
local function check_integer(value, what, min, max)
  if math_type(value) ~= "integer" or value < min or (max and value > max) then
    error(format("%s must be an integer %s, got %s", what,
      max and format("from %d to %d", min, max) or format("of at least %d", min),
      tostring(value)), 3)
  end
end

-- derive(img, ranges) -> a new image with img's format, source and start
local function derive(img, ranges)
  return setmetatable({
    ranges = ranges, format = img.format, source = img.source,
    start = img.start, start_segment = img.start_segment,
  }, Image)
end

-- range_end(r) -> the address after the last byte of range r
local function range_end(r)
  return r.addr + #r.data
end

-- first_ending_after(ranges, addr) -> index of the first range that ends above addr
-- (#ranges + 1 when none does)
local function first_ending_after(ranges, addr)
  local lo, hi = 1, #ranges + 1
  while lo < hi do
    local mid = (lo + hi) // 2
    if range_end(ranges[mid]) <= addr then lo = mid + 1 else hi = mid end
  end
  return lo
end

--- image.size_text(n) -> "512 bytes", "64 KiB", "2.1 MiB", "8.0 GiB": n bytes for a message
function M.size_text(n)
  if n < KIB then return format("%d bytes", n) end
  local units, v, u = { "KiB", "MiB", "GiB", "TiB" }, n / KIB, 1
  while v >= KIB and u < #units do v, u = v / KIB, u + 1 end
  if v == math.floor(v) then return format("%d %s", math.floor(v), units[u]) end
  return format("%.1f %s", v, units[u])
end

-- strip_name(msg, path) -> msg without the "PATH: " that io.open and runtime.stat put in front
local function strip_name(msg, path)
  local prefix = path .. ": "
  if sub(msg, 1, #prefix) == prefix then return sub(msg, #prefix + 1) end
  return msg
end

--- image.FILE_KINDS: what runtime.stat calls each kind of file, as "not a regular file (…)"
-- says it (read's OUT is checked with the same words).
local FILE_KINDS = {
  fifo = "a FIFO", socket = "a socket", char = "a character device", block = "a block device",
  other = "an unknown kind of file",
}
M.FILE_KINDS = FILE_KINDS

-- stat(path) -> runtime.stat's result; nil, nil outside the cwlua binary (plain lua5.4 running
-- the pure-Lua specs), where only the size cap below applies
local function stat(path)
  local ok, runtime = pcall(require, "cwlua.core.runtime")
  if not ok then return nil end
  return runtime.stat(path)
end

--- image.read_file(path [, max [, what]]) -> the bytes of a regular file of at most max bytes
-- (default image.MAX_FILE). Raises an "input" error otherwise: "cannot open PATH: REASON",
-- "cannot read PATH: Is a directory", "PATH: not a regular file (a FIFO)", "PATH: file is larger
-- than 64 MiB, the largest image file cwlua reads" (what, when given, names the file there
-- instead of "image file": cwlua.bitstream says "bitstream file"). A FIFO, socket or device is
-- refused before it is opened: opening a FIFO waits for a writer, /dev/zero never ends, and
-- opening a serial port moves its control lines.
function M.read_file(path, max, what)
  if type(path) ~= "string" then
    error(format("image.read_file: path must be a string, got %s", type(path)), 2)
  end
  max = max or M.MAX_FILE
  check_integer(max, "image.read_file: max", 0)
  local function too_big()
    errors.raise("input", "%s: file is larger than %s, the largest %s cwlua reads", path,
      M.size_text(max), what or "image file")
  end
  local st, msg = stat(path)
  if st == nil and msg then
    errors.raise("input", "cannot open %s: %s", path, strip_name(msg, path))
  end
  if st and st.type == "directory" then
    errors.raise("input", "cannot read %s: Is a directory", path)
  end
  if st and st.type ~= "file" then
    errors.raise("input", "%s: not a regular file (%s)", path, FILE_KINDS[st.type] or st.type)
  end
  if st and st.size > max then too_big() end

  local f, open_msg = io.open(path, "rb")
  if not f then errors.raise("input", "cannot open %s: %s", path, strip_name(open_msg, path)) end
  -- The size stat gave, and one byte more to see the end; then chunks, in case the file grew
  -- or says 0 (/proc). Never more than max + 1 bytes in all.
  local parts, total = {}, 0
  local want = (st and st.size or READ_CHUNK) + 1
  while true do
    if want > max + 1 - total then want = max + 1 - total end
    local chunk, read_msg = f:read(want)
    if chunk == nil then
      f:close()
      if read_msg then
        errors.raise("input", "cannot read %s: %s", path, strip_name(read_msg, path))
      end
      break
    end
    parts[#parts + 1] = chunk
    total = total + #chunk
    if total > max then
      f:close()
      too_big()
    end
    want = READ_CHUNK
  end
  return #parts == 1 and parts[1] or concat(parts)
end

--- image.new() -> an empty image
function M.new()
  return setmetatable({ ranges = {} }, Image)
end

--- image.detect(data) -> "elf" | "hex" | "bin"
-- ELF magic 7F 45 4C 46; Intel HEX when the first non-blank line starts with ':'; else binary.
function M.detect(data)
  if elf.is_elf(data) then return "elf" end
  local from = sub(data, 1, #UTF8_BOM) == UTF8_BOM and #UTF8_BOM + 1 or 1
  local first = find(data, "[^ \t\r\n\f\v]", from)
  if first and byte(data, first) == COLON then return "hex" end
  return "bin"
end

--- image.binary_name(name) -> true when name ends in .bin (any case): a raw binary by name
function M.binary_name(name)
  return type(name) == "string" and name:lower():match("%.bin$") ~= nil
end

--- image.from_binary(data, base, name) -> image of data at base (format "bin")
-- Raises an "input" error when base is nil (a raw binary needs --base) or the data runs past
-- 0xFFFFFFFF.
function M.from_binary(data, base, name)
  name = name or "image"
  if base == nil then
    errors.raise("input", "%s: raw binary needs a load address; pass --base ADDR", name)
  end
  if math_type(base) ~= "integer" then
    error(format("image.from_binary: base must be an integer, got %s", tostring(base)), 2)
  end
  if base < 0 then errors.raise("input", "%s: base address %d is negative", name, base) end
  if base + #data > ADDR_LIMIT then
    errors.raise("input", "%s: %d bytes at base 0x%08X run past 0xFFFFFFFF", name, #data, base)
  end
  local img = setmetatable({ ranges = {}, format = "bin", source = name }, Image)
  if #data > 0 then img.ranges[1] = { addr = base, data = data } end
  return img
end

--- image.parse(data, name [, opts]) -> image
-- data: the file's contents; name: used in messages and as img.source (default "image");
-- opts.format: "hex" | "bin" | "elf" to skip detection. Detected, a file that is neither HEX
-- nor ELF is a raw binary only with opts.base, its load address (ignored for hex and elf, which
-- carry their own addresses); without one the error says how to force it: "NAME: not an Intel
-- HEX or ELF file, and not named .bin: " .. opts.bin_hint (default "to program it as a raw
-- binary, use --format bin (and --base ADDR)"), or for a .bin name that it needs a load
-- address. opts.limit: the most bytes of data the image may hold (default image.MAX_FILE),
-- checked before any is copied; opts.limit_what: what the limit is, for the message (default
-- "the 64 MiB an image may hold").
function M.parse(data, name, opts)
  opts = opts or {}
  name = name or "image"
  if type(data) ~= "string" then
    error(format("image.parse: data must be a string, got %s", type(data)), 2)
  end
  local fmt = opts.format
  if fmt ~= nil and not FORMATS[fmt] then
    errors.raise("usage", "unknown image format '%s' (expected hex, bin or elf)", tostring(fmt))
  end
  local limit = opts.limit or M.MAX_FILE
  check_integer(limit, "image.parse: opts.limit", 0)
  local what = opts.limit_what or format("the %s an image may hold", M.size_text(limit))
  -- over(total) -> the end of the message for an image of total bytes of data
  local function over(total)
    return format("%s of data, more than %s", M.size_text(total), what)
  end
  if #data == 0 then errors.raise("input", "%s: file is empty", name) end

  if fmt == nil then
    fmt = M.detect(data)
    -- neither HEX nor ELF: a raw binary only when something says so (a .bin name, a base
    -- address); a C source, a text file or a build log is refused, never written as bytes
    if fmt == "bin" and opts.base == nil then
      if not M.binary_name(name) then
        errors.raise("input", "%s: not an Intel HEX or ELF file, and not named .bin: %s", name,
          opts.bin_hint or "to program it as a raw binary, use --format bin (and --base ADDR)")
      end
      errors.raise("input", "%s: raw binary (no ELF header, no ':' record) needs a load "
        .. "address; pass --base ADDR", name)
    end
  end
  if fmt == "bin" then
    local img = M.from_binary(data, opts.base, name)
    if #data > limit then errors.raise("input", "%s: %s", name, over(#data)) end
    return img
  end

  local img = setmetatable({ format = fmt, source = name }, Image)
  if fmt == "hex" then
    img.ranges, img.start, img.start_segment = hex.parse(data, name, limit, over)
  else
    img.ranges, img.start = elf.parse(data, name, limit, over)
  end
  return img
end

--- image.load(path [, opts]) -> image
-- Reads the file (image.read_file: a regular file of at most image.MAX_FILE bytes), detects
-- its format and parses it (opts as for image.parse).
function M.load(path, opts)
  return M.parse(M.read_file(path), path, opts)
end

--- img:add(addr, data [, where]) -> img
-- Adds data at addr, merging with ranges it touches. Raises an "input" error
-- "WHERE: 0x… already set" if a byte is already present (where defaults to img.source).
function Image:add(addr, data, where)
  check_integer(addr, "img:add: addr", 0)
  if type(data) ~= "string" then
    error(format("img:add: data must be a string, got %s", type(data)), 2)
  end
  where = where or self.source or "image"
  local len = #data
  local stop = addr + len
  if stop > ADDR_LIMIT then
    errors.raise("input", "%s: %d bytes at 0x%08X run past 0xFFFFFFFF", where, len, addr)
  end
  if len == 0 then return self end
  local ranges = self.ranges
  local k = first_ending_after(ranges, addr)   -- the only range that can hold addr, or after it
  local r = ranges[k]
  if r and r.addr < stop then
    errors.raise("input", "%s: 0x%08X already set", where, r.addr > addr and r.addr or addr)
  end
  local prev = ranges[k - 1]
  if prev and range_end(prev) == addr then
    prev.data = prev.data .. data
    if r and r.addr == stop then
      prev.data = prev.data .. r.data
      remove(ranges, k)
    end
  elseif r and r.addr == stop then
    r.addr, r.data = addr, data .. r.data
  else
    insert(ranges, k, { addr = addr, data = data })
  end
  return self
end

--- img:size() -> number of bytes present
function Image:size()
  local total = 0
  for _, r in ipairs(self.ranges) do total = total + #r.data end
  return total
end

--- img:bounds() -> lowest address, highest address + 1 (nil for an empty image)
function Image:bounds()
  local ranges = self.ranges
  if #ranges == 0 then return nil end
  return ranges[1].addr, range_end(ranges[#ranges])
end

--- img:is_empty() -> true when the image holds no byte
function Image:is_empty()
  return #self.ranges == 0
end

--- img:blocks(size) -> iterator of addr, data
-- Chunks of at most size bytes, in address order, that never cross a multiple of size (an
-- STM32 write is a 256-byte aligned block). Gaps are not filled: see img:pad.
function Image:blocks(size)
  check_integer(size, "img:blocks: size", 1)
  local ranges = self.ranges
  local k, addr, stop, data, base = 0, 0, 0, nil, nil
  return function()
    if addr >= stop then
      k = k + 1
      local r = ranges[k]
      if r == nil then return nil end
      data, base, addr, stop = r.data, r.addr, r.addr, range_end(r)
    end
    local block_end = addr - addr % size + size
    if block_end > stop then block_end = stop end
    local from = addr
    addr = block_end
    return from, sub(data, from - base + 1, block_end - base)
  end
end

--- img:pad(align [, fill]) -> new image
-- Each range grows down and up to multiples of align with fill bytes (default 0xFF); ranges that
-- then meet or share an aligned block are merged, the gap between them filled.
function Image:pad(align, fill)
  check_integer(align, "img:pad: align", 1)
  fill = fill or DEFAULT_FILL
  check_integer(fill, "img:pad: fill", 0, 255)
  local f = char(fill)
  local out = {}
  local lo, hi, reach, pieces   -- the range being built: padded bounds, end of its data so far
  for _, r in ipairs(self.ranges) do
    local a, e = r.addr, range_end(r)
    local padded_lo = a - a % align
    local padded_hi = e % align == 0 and e or e - e % align + align
    if pieces and padded_lo <= hi then
      pieces[#pieces + 1] = rep(f, a - reach)
      pieces[#pieces + 1] = r.data
      if padded_hi > hi then hi = padded_hi end
    else
      if pieces then
        pieces[#pieces + 1] = rep(f, hi - reach)
        out[#out + 1] = { addr = lo, data = concat(pieces) }
      end
      lo, hi, pieces = padded_lo, padded_hi, { rep(f, a - padded_lo), r.data }
    end
    reach = e
  end
  if pieces then
    pieces[#pieces + 1] = rep(f, hi - reach)
    out[#out + 1] = { addr = lo, data = concat(pieces) }
  end
  return derive(self, out)
end

-- check_sectors(bounds): raise unless bounds is a list of at least 2 increasing integers
local function check_sectors(bounds)
  if #bounds < 2 then
    error("img:pages: a sector list needs at least 2 boundaries (start of the first sector, "
      .. "end of the last)", 3)
  end
  for i, b in ipairs(bounds) do
    if math_type(b) ~= "integer" or (i > 1 and b <= bounds[i - 1]) then
      error(format("img:pages: sector boundary %d (%s) is not an integer above the one before",
        i, tostring(b)), 3)
    end
  end
end

--- img:pages(page_size) -> sorted list of the start addresses of the pages touched
--- img:pages(boundaries) -> sorted list of the sector starts touched, first address outside
-- boundaries: for chips with unequal sectors, the increasing list of sector start addresses
-- followed by the end of the last sector, e.g. STM32F4 bank 1:
--   { 0x08000000, 0x08004000, 0x08008000, 0x0800C000, 0x08010000, 0x08020000, …, 0x08100000 }
-- The second result is the lowest image address in no sector (nil when all are inside).
function Image:pages(spec)
  local out = {}
  if type(spec) ~= "table" then
    check_integer(spec, "img:pages: page_size", 1)
    local last
    for _, r in ipairs(self.ranges) do
      local first = r.addr - r.addr % spec
      if last and first <= last then first = last + spec end
      for page = first, range_end(r) - 1, spec do
        out[#out + 1] = page
        last = page
      end
    end
    return out
  end

  check_sectors(spec)
  local sectors, lowest, highest = #spec - 1, spec[1], spec[#spec]
  local outside
  local j = 1
  for _, r in ipairs(self.ranges) do
    local a, e = r.addr, range_end(r)
    if a < lowest then outside = outside or a end
    if e > highest then outside = outside or (a > highest and a or highest) end
    while j <= sectors and spec[j + 1] <= a do j = j + 1 end
    local s = j
    while s <= sectors and spec[s] < e do
      if out[#out] ~= spec[s] then out[#out + 1] = spec[s] end
      s = s + 1
    end
  end
  return out, outside
end

--- img:split(lo, hi) -> image of the bytes in [lo, hi), image of the others
function Image:split(lo, hi)
  check_integer(lo, "img:split: lo", 0)
  check_integer(hi, "img:split: hi", lo)
  local inside, outside = {}, {}
  for _, r in ipairs(self.ranges) do
    local a, e, data = r.addr, range_end(r), r.data
    if e <= lo or a >= hi then
      outside[#outside + 1] = { addr = a, data = data }
    else
      if a < lo then outside[#outside + 1] = { addr = a, data = sub(data, 1, lo - a) } end
      local from, to = a > lo and a or lo, e < hi and e or hi
      inside[#inside + 1] = { addr = from, data = sub(data, from - a + 1, to - a) }
      if e > hi then outside[#outside + 1] = { addr = hi, data = sub(data, hi - a + 1) } end
    end
  end
  return derive(self, inside), derive(self, outside)
end

--- img:read(addr, len [, fill]) -> string of len bytes from addr, gaps filled (default 0xFF)
function Image:read(addr, len, fill)
  check_integer(addr, "img:read: addr", 0)
  check_integer(len, "img:read: len", 0)
  fill = fill or DEFAULT_FILL
  check_integer(fill, "img:read: fill", 0, 255)
  local f = char(fill)
  local ranges, out = self.ranges, {}
  local pos, stop = addr, addr + len
  for k = first_ending_after(ranges, addr), #ranges do
    local r = ranges[k]
    if r.addr >= stop then break end
    if r.addr > pos then
      out[#out + 1] = rep(f, r.addr - pos)
      pos = r.addr
    end
    local e = range_end(r)
    local to = e < stop and e or stop
    out[#out + 1] = sub(r.data, pos - r.addr + 1, to - r.addr)
    pos = to
  end
  if pos < stop then out[#out + 1] = rep(f, stop - pos) end
  return concat(out)
end

--- img:fits(lo, hi) -> true | false, lowest image address outside [lo, hi)
function Image:fits(lo, hi)
  check_integer(lo, "img:fits: lo", 0)
  check_integer(hi, "img:fits: hi", lo)
  local ranges = self.ranges
  if #ranges == 0 then return true end
  if ranges[1].addr < lo then return false, ranges[1].addr end
  local k = first_ending_after(ranges, hi)
  local r = ranges[k]
  if r then return false, r.addr > hi and r.addr or hi end
  return true
end

--- tostring(img) -> "fw.hex (hex): 2 ranges, 1032 bytes, 0x08000000..0x1FFFF810"
function Image:__tostring()
  local lo, hi = self:bounds()
  local span = lo and format(", 0x%08X..0x%08X", lo, hi) or ""
  return format("%s (%s): %d range%s, %d bytes%s", self.source or "image", self.format or "new",
    #self.ranges, #self.ranges == 1 and "" or "s", self:size(), span)
end

--- image.to_hex(img) -> Intel HEX text: 16-byte data records (00) with extended linear
-- address records (04) where the upper 16 address bits change, then the EOF record (01).
function M.to_hex(img)
  local out, upper = {}, nil
  local function record(addr16, rtype, data)
    local bytes = string.char(#data, addr16 >> 8, addr16 & 0xFF, rtype) .. data
    local sum = 0
    for i = 1, #bytes do sum = sum + bytes:byte(i) end
    out[#out + 1] = ":" .. bytes:gsub(".", function(c) return ("%02X"):format(c:byte()) end)
      .. ("%02X"):format((-sum) & 0xFF)
  end
  for _, r in ipairs(img.ranges) do
    local pos = 1
    while pos <= #r.data do
      local addr = r.addr + pos - 1
      if addr >> 16 ~= upper then
        upper = addr >> 16
        record(0, 0x04, string.char(upper >> 8, upper & 0xFF))
      end
      -- a record never crosses a 64 KiB boundary (no wrap-around, §D)
      local n = math.min(16, #r.data - pos + 1, 0x10000 - (addr & 0xFFFF))
      record(addr & 0xFFFF, 0x00, r.data:sub(pos, pos + n - 1))
      pos = pos + n
    end
  end
  record(0, 0x01, "")
  return table.concat(out, "\n") .. "\n"
end

return M
