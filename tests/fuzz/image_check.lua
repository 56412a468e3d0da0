-- SPDX-License-Identifier: MIT
-- The checks of the fuzz_image_* harnesses (fuzz_image.c): parse one input with cwlua.image the
-- way `cwlua program FILE` does (image.parse, which image.load calls with the file's contents)
-- and say what is wrong, if anything.
--
--   local check = dofile("image_check.lua")("hex")   -- "hex", "elf" or "bin"
--   check(data) -> nil when all is well, else a one-line description of the finding
--
-- hex and elf force that format (opts.format), as the loaders would see a file of that kind.
-- bin runs detection on the whole input (base 0x08000000 for a raw binary, as --base would
-- give), then loads the input less its first 4 bytes as a raw binary at the base those bytes
-- spell (big-endian), so the end-of-address-space checks are reached.
--
-- Expected failures are cwlua errors of kind "input" (contract.md §3: exit 2, one line naming
-- the file). Anything else raised is a finding; so is a loaded image that is not sorted,
-- disjoint and merged, or that the image methods the programming code uses cannot handle.
local errors = require("cwlua.errors")
local image = require("cwlua.image")
local hex = require("cwlua.image.hex")

local NAME = "fuzz.img"
-- opts.limit: the most data an image may hold, as `cwlua program` passes it: the largest flash
-- of any part cwlua knows (2 MiB) plus 64 KiB. A loader that takes no limit ignores it.
local LIMIT = 2 * 1024 * 1024 + 64 * 1024
-- Only image.parse runs under fuzz_image.c's heap bound (absent under plain lua5.4).
local fuzz_heap = rawget(_G, "fuzz_heap") or function() end
-- The Intel HEX round trip is the slowest check: only for images up to this size.
local ROUND_TRIP_MAX = 64 * 1024
local ADDR_LIMIT = 0x100000000
local BLOCK = 256 -- an STM32 write block
local PAGE = 1024 -- an STM32F1 page

local format, math_type, concat = string.format, math.type, table.concat

-- describe(e) -> one line for an error value that is not a cwlua error
local function describe(e)
  -- Lua's memory error: fuzz_image.c's heap limit for this input (memory not O(file size))
  if e == "not enough memory" then return "ran out of the Lua heap allowed for this input" end
  if type(e) == "string" then return e end
  return format("a %s: %s", type(e), tostring(e))
end

-- bad_error(e) -> nil when e is the error a user may see, else what is wrong with it
local function bad_error(e)
  if e == "not enough memory" then return describe(e) end
  if not errors.is(e) then return "raised " .. describe(e) end
  if e.kind ~= "input" then return format("raised kind %s: %s", e.kind, e.message) end
  local msg = e.message
  if type(msg) ~= "string" or msg == "" then return "raised an error without a message" end
  if msg:find("%c") then return format("message has a control character: %q", msg) end
  if not msg:find(NAME, 1, true) then return "message does not name the file: " .. msg end
  return nil
end

-- bad_ranges(ranges) -> nil when ranges are sorted, disjoint, merged and inside 32 bits
local function bad_ranges(ranges)
  local reach = -1
  for i, r in ipairs(ranges) do
    if math_type(r.addr) ~= "integer" or type(r.data) ~= "string" then
      return format("range %d is not {addr=integer, data=string}", i)
    end
    if #r.data == 0 then return format("range %d is empty", i) end
    if r.addr <= reach then
      return format("range %d at 0x%X overlaps or touches the one before (ends 0x%X)", i, r.addr,
        reach)
    end
    reach = r.addr + #r.data
    if r.addr < 0 or reach > ADDR_LIMIT then
      return format("range %d (0x%X, %d bytes) is outside 32 bits", i, r.addr, #r.data)
    end
  end
  return nil
end

-- same_ranges(a, b) -> true when both lists hold the same bytes at the same addresses
local function same_ranges(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i].addr ~= b[i].addr or a[i].data ~= b[i].data then return false end
  end
  return true
end

-- bad_image(img) -> nil when img survives what flash programming does with it
local function bad_image(img)
  local why = bad_ranges(img.ranges)
  if why then return why end
  -- aligned write blocks that put the image back together
  local pieces, at = {}, {}
  for addr, data in img:blocks(BLOCK) do
    if #data == 0 or #data > BLOCK or addr // BLOCK ~= (addr + #data - 1) // BLOCK then
      return format("img:blocks(%d) gave %d bytes at 0x%X", BLOCK, #data, addr)
    end
    pieces[#pieces + 1], at[#at + 1] = data, addr
  end
  local k = 1
  for _, r in ipairs(img.ranges) do
    local from, parts = k, {}
    while k <= #at and at[k] < r.addr + #r.data do
      parts[#parts + 1] = pieces[k]
      k = k + 1
    end
    if at[from] ~= r.addr or concat(parts) ~= r.data then
      return format("img:blocks(%d) does not cover the range at 0x%X", BLOCK, r.addr)
    end
  end
  -- padding keeps every byte and aligns every range
  local padded = img:pad(BLOCK)
  why = bad_ranges(padded.ranges)
  if why then return "img:pad: " .. why end
  for _, r in ipairs(padded.ranges) do
    if r.addr % BLOCK ~= 0 or #r.data % BLOCK ~= 0 then
      return format("img:pad(%d) left 0x%X (%d bytes) unaligned", BLOCK, r.addr, #r.data)
    end
  end
  for _, r in ipairs(img.ranges) do
    if padded:read(r.addr, #r.data) ~= r.data then
      return format("img:pad(%d) changed the bytes at 0x%X", BLOCK, r.addr)
    end
  end
  -- pages touched: increasing, one per page of data
  local pages = img:pages(PAGE)
  for i, p in ipairs(pages) do
    if p % PAGE ~= 0 or (i > 1 and p <= pages[i - 1]) then
      return format("img:pages(%d) gave 0x%X after 0x%X", PAGE, p, pages[i - 1] or -1)
    end
  end
  -- split at the middle of the span: the halves add up
  local lo, hi = img:bounds()
  if lo then
    local mid = lo + (hi - lo) // 2
    local inside, outside = img:split(lo, mid)
    if inside:size() + outside:size() ~= img:size() then
      return format("img:split(0x%X, 0x%X) lost bytes", lo, mid)
    end
    if not img:fits(lo, hi) then return format("img:fits(0x%X, 0x%X) is false", lo, hi) end
  end
  -- written out as Intel HEX and read back: the same image
  if img:size() > ROUND_TRIP_MAX then return nil end
  local text = image.to_hex(img)
  local ok, ranges = pcall(hex.parse, text, NAME)
  if not ok then return "image.to_hex output does not load: " .. describe(ranges) end
  if not same_ranges(ranges, img.ranges) then
    return "image.to_hex output loads as a different image"
  end
  return nil
end

-- try(data, opts) -> nil or the finding, for one image.parse call
local function try(data, opts, what)
  fuzz_heap(true)
  local ok, img = pcall(image.parse, data, NAME, opts)
  fuzz_heap(false)
  local why
  if ok then
    local fine, result = pcall(bad_image, img)
    if fine then why = result else why = "an image method raised " .. describe(result) end
  else
    why = bad_error(img)
  end
  return why and (what .. ": " .. why)
end

return function(fmt)
  if fmt == "bin" then
    return function(data)
      local why = try(data, { base = 0x08000000, limit = LIMIT }, "detected")
      if why or #data < 4 then return why end
      local base = string.unpack(">I4", data)
      return try(data:sub(5), { format = "bin", base = base, limit = LIMIT },
        format("bin at 0x%08X", base))
    end
  end
  return function(data)
    return try(data, { format = fmt, limit = LIMIT }, fmt)
  end
end
