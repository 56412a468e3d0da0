-- SPDX-License-Identifier: MIT
-- cwlua.bitstream: finding and reading the FPGA bitstream of a ChipWhisperer capture board
-- (cw-usb-protocol.md §3.1, §3.2), for loading it when the FPGA is not configured (§3.3, §3.4).
--
-- A bitstream comes from --bitstream FILE, else $CWLUA_BITSTREAM, else the config files'
-- (cwlua.config), else NewAE's chipwhisperer Python package (its hardware/firmware/<board>.py
-- holds a zip as base64, §3.1). FILE may be the .bit itself, NewAE's firmware zip, or that .py
-- module; the kind is told by content.
-- The zip reader, base64 and the Xilinx .bit header are plain Lua; inflating (RFC 1951) and
-- the CRC-32 go through zlib (cwlua.zlib).
--
--   local bit, from = assert(bitstream.load("/path/cwlite.py", "cwlite"))
--   local path, origin = bitstream.locate("cwlite", { file = opt, env = os.getenv(...) })
local runtime = require "cwlua.core.runtime"
local zlib = require "cwlua.zlib"

local M = {}

-- What NewAE ships per board (§3.1): the Python module, the zip inside it, the .bit inside that,
-- and the FPGA part the .bit header names (§1.1: Lite Spartan-6 LX9, Pro LX45, Husky Artix-7
-- 35T; only the Pro and Husky part strings are quoted in the document, so the family prefix is
-- checked).
M.BOARDS = {
  cwlite = { module = "cwlite.py", zip = "cwlite_firmware.zip", bit = "cwlite_interface.bit",
             part = "6slx9", fpga = "Spartan-6 LX9" },
  cw1200 = { module = "cw1200.py", zip = "cw1200_firmware.zip", bit = "cw1200_interface.bit",
             part = "6slx45", fpga = "Spartan-6 LX45" },
  husky = { module = "cwhusky.py", zip = "husky_firmware.zip", bit = "cwhusky_top.bit",
            part = "7a35t", fpga = "Artix-7 35T" },
}

local SYNC = "\xAA\x99\x55\x66"  -- Xilinx sync word (§3.2)
M.SKIP = 0x7C                    -- bytes NewAE drops from the start of the file (§3.2)
M.PAD = 32                       -- 0xFF bytes NewAE appends: "extra CCLKs" (§3.2)

---------------------------------------------------------------------------------------------
-- inflate (RFC 1951) and CRC-32, through zlib (cwlua.zlib)

-- The most inflate() gives back when the caller knows no size: far more than any bitstream
-- (the Husky's is 2.2 MB), yet a bound on what a corrupt or hostile stream can cost.
local INFLATE_MAX = 64 << 20

--- bitstream.inflate(data [, pos [, expected]]) -> string
-- Decodes the raw deflate stream in data starting at byte pos (default 1). expected: the
-- uncompressed size, when known, to check against (inflating stops past it); otherwise at
-- most 64 MiB. Raises { inflate = msg } on corrupt data, msg as cwlua.zlib.inflate_raw gives
-- it. A 2.2 MB Husky-sized bitstream takes milliseconds (bench/README.md).
function M.inflate(data, pos, expected)
  if pos and pos > 1 then data = data:sub(pos) end
  local out, err = zlib.inflate_raw(data, expected or INFLATE_MAX)
  if not out then error({ inflate = err }, 0) end
  if expected and #out ~= expected then
    error({ inflate = ("corrupt deflate data (%d bytes, expected %d)"):format(#out, expected) }, 0)
  end
  return out
end

--- bitstream.crc32(s) -> integer: CRC-32 (ISO-HDLC), as zip uses it
M.crc32 = zlib.crc32

---------------------------------------------------------------------------------------------
-- zip (PKWARE APPNOTE 6.3: end of central directory 4.3.16, central header 4.3.12, local
-- header 4.3.7)

--- bitstream.zip_list(data) -> { {name, method, crc, csize, size, offset}, ... } | nil, msg
function M.zip_list(data)
  local eocd
  for i = #data - 21, math.max(1, #data - 21 - 65535), -1 do
    if data:sub(i, i + 3) == "PK\5\6" then
      eocd = i
      break
    end
  end
  if not eocd then return nil, "not a zip file (no end of central directory)" end
  local count, _, cd = string.unpack("<I2I4I4", data, eocd + 10)
  local list, p = {}, cd + 1
  for _ = 1, count do
    if data:sub(p, p + 3) ~= "PK\1\2" then return nil, "damaged zip (central directory)" end
    local flags, method, _, _, crc, csize, size, nlen, xlen, clen, _, _, _, offset =
      string.unpack("<I2I2I2I2I4I4I4I2I2I2I2I2I4I4", data, p + 8)
    local name = data:sub(p + 46, p + 45 + nlen)
    if csize == 0xFFFFFFFF or size == 0xFFFFFFFF or offset == 0xFFFFFFFF then
      return nil, ("zip64 entry '%s' is not supported"):format(name)
    end
    list[#list + 1] = { name = name, method = method, crc = crc, csize = csize, size = size,
                        offset = offset, encrypted = flags & 1 ~= 0 }
    p = p + 46 + nlen + xlen + clen
  end
  return list
end

--- bitstream.zip_read(data, entry) -> contents | nil, msg (entry from zip_list)
function M.zip_read(data, e)
  local h = e.offset + 1
  if data:sub(h, h + 3) ~= "PK\3\4" then return nil, "damaged zip (local header)" end
  if e.encrypted then return nil, ("'%s' is encrypted"):format(e.name) end
  local nlen, xlen = string.unpack("<I2I2", data, h + 26)
  local start = h + 30 + nlen + xlen
  local out, err
  if e.method == 0 then
    out = data:sub(start, start + e.size - 1)
  elseif e.method == 8 then
    out, err = zlib.inflate_raw(data:sub(start, start + e.csize - 1), e.size)
    if not out then return nil, ("'%s': %s"):format(e.name, err) end
  else
    return nil, ("'%s' uses compression method %d (only stored and deflate are read)"):format(
      e.name, e.method)
  end
  if #out ~= e.size or M.crc32(out) ~= e.crc then
    return nil, ("'%s' fails its CRC check (damaged zip)"):format(e.name)
  end
  return out
end

---------------------------------------------------------------------------------------------
-- base64 (RFC 4648 §4) and NewAE's firmware modules

local B64 = {}
do
  local a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for i = 1, 64 do B64[a:byte(i)] = i - 1 end
end

--- bitstream.base64_decode(s) -> string | nil, msg. Whitespace and "\n" escapes are skipped.
function M.base64_decode(s)
  s = s:gsub("\\n", ""):gsub("[%s]", ""):gsub("=+$", "")
  if s:find("[^%w%+/]") then return nil, "not base64" end
  if #s % 4 == 1 then return nil, "truncated base64" end
  local byte, char = string.byte, string.char
  local out = s:gsub("....", function(q)
    local a, b, c, d = byte(q, 1, 4)
    local v = (B64[a] << 18) | (B64[b] << 12) | (B64[c] << 6) | B64[d]
    return char(v >> 16, (v >> 8) & 0xFF, v & 0xFF)
  end)
  local tail = #s % 4
  if tail > 0 then
    local q = s:sub(-tail)
    out = out:sub(1, #out - tail)
    local a, b, c = byte(q, 1, 3)
    local v = (B64[a] << 18) | (B64[b] << 12) | ((c and B64[c] or 0) << 6)
    out = out .. char(v >> 16) .. (tail == 3 and char((v >> 8) & 0xFF) or "")
  end
  return out
end

--- bitstream.py_entry(text, name) -> decoded bytes | nil, msg: the file `name` embedded in one
-- of NewAE's generated firmware modules (`_contents = { 'name': 'BASE64...', ... }`, §3.1).
function M.py_entry(text, name)
  local at
  for _, q in ipairs({ "'", '"' }) do
    local _, e = text:find(q .. name .. q, 1, true)
    if e then
      at = text:match("^%s*:%s*()", e + 1)
      if at then break end
    end
  end
  if not at then return nil, ("has no entry '%s'"):format(name) end
  local pieces = {}
  while true do -- one or more adjacent string literals
    local q = text:sub(at, at)
    if q ~= "'" and q ~= '"' then break end
    local close = text:find(q, at + 1, true)
    if not close then return nil, ("entry '%s' is not a complete string"):format(name) end
    pieces[#pieces + 1] = text:sub(at + 1, close - 1)
    at = text:match("^%s*()", close + 1)
  end
  if #pieces == 0 then return nil, ("entry '%s' is not a string"):format(name) end
  local data, err = M.base64_decode(table.concat(pieces))
  if not data then return nil, ("entry '%s': %s"):format(name, err) end
  return data
end

---------------------------------------------------------------------------------------------
-- .bit files (§3.2)

local BIT_MAGIC = "\0\9\15\240\15\240\15\240\15\240\0\0\1"

--- bitstream.parse_bit(data) -> { design, part, date, time, sync } | nil, msg
-- sync: the 0-based offset of the sync word. The TLV header is optional (a raw bitstream starts
-- with 0xFF padding); the sync word is required, behind the 124 bytes NewAE skips.
function M.parse_bit(data)
  local info = {}
  if data:sub(1, #BIT_MAGIC) == BIT_MAGIC then
    local p = #BIT_MAGIC + 1
    local names = { a = "design", b = "part", c = "date", d = "time" }
    while p <= #data do
      local key = data:sub(p, p)
      if key == "e" or not names[key] or p + 2 > #data then break end
      local len = string.unpack(">I2", data, p + 1)
      info[names[key]] = data:sub(p + 3, p + 2 + len):gsub("%z+$", "")
      p = p + 3 + len
    end
  end
  local s = data:find(SYNC, 1, true)
  if not s then return nil, "not a Xilinx bitstream (no sync word AA 99 55 66)" end
  info.sync = s - 1
  if info.sync < M.SKIP then
    -- NewAE's loader drops the first SKIP bytes (cw-usb-protocol.md §3.2)
    return nil, ("its sync word is at offset %d, inside the first %d bytes, which the board's "
      .. "loader does not send: not a bitstream for this board"):format(info.sync, M.SKIP)
  end
  return info
end

--- bitstream.stream(data) -> the bytes sent to the FPGA: the file without its first 124 bytes,
-- then 32 x 0xFF (§3.2)
function M.stream(data)
  return data:sub(M.SKIP + 1) .. ("\xFF"):rep(M.PAD)
end

---------------------------------------------------------------------------------------------
-- reading a file in any accepted form

-- The same bounded read as firmware images (cwlua.image.read_file): a regular file only, at
-- most image.MAX_FILE bytes (NewAE's largest bitstream module is a few MiB), so --bitstream
-- /dev/zero or a FIFO is refused at once instead of read without end, and a larger file is
-- named a bitstream file in the message.
local function read_file(path)
  local ok, data = pcall(require("cwlua.image").read_file, path, nil, "bitstream file")
  if ok then return data end
  return nil, type(data) == "table" and data.message or tostring(data)
end

local function from_zip(data, want)
  local list, err = M.zip_list(data)
  if not list then return nil, err end
  local pick, bits = nil, {}
  for _, e in ipairs(list) do
    local base = e.name:match("[^/]*$")
    if base == want.bit then pick = e end
    if base:match("%.bit$") then bits[#bits + 1] = e end
  end
  if not pick and #bits == 1 then pick = bits[1] end
  if not pick then
    local names = {}
    for _, e in ipairs(list) do names[#names + 1] = e.name end
    return nil, ("has no %s (it holds %s)"):format(want.bit,
      #names > 0 and table.concat(names, ", ") or "nothing")
  end
  local out
  out, err = M.zip_read(data, pick)
  if not out then return nil, err end
  return out, pick.name
end

--- bitstream.load(path, kind) -> bit data, description | nil, msg, code
-- path: a .bit, NewAE's firmware zip or NewAE's <board>.py; kind: cwlite, cw1200 or husky.
-- The .bit header's part must fit the board. code: "invalid" (not a usable bitstream for this
-- board) or "io" (the file cannot be read).
function M.load(path, kind)
  local want = M.BOARDS[kind]
  if not want then return nil, ("a %s has no FPGA bitstream"):format(kind), "unsupported" end
  local data, err = read_file(path)
  if not data then return nil, err, "io" end
  local bit, inner
  if data:sub(1, 4) == "PK\3\4" or data:sub(1, 4) == "PK\5\6" then
    bit, inner = from_zip(data, want)
    if not bit then return nil, ("%s: %s"):format(path, inner), "invalid" end
    inner = inner .. " in " .. path
  elseif data:find(SYNC, 1, true) then
    bit = data
  elseif data:find("_contents", 1, true) then -- NewAE's generated module (§3.1)
    local zip
    zip, err = M.py_entry(data, want.zip)
    if not zip then return nil, ("%s: %s"):format(path, err), "invalid" end
    bit, inner = from_zip(zip, want)
    if not bit then return nil, ("%s: %s %s"):format(path, want.zip, inner), "invalid" end
    inner = ("%s in %s in %s"):format(inner, want.zip, path)
  else
    return nil, ("%s is not a bitstream: expected a .bit file, NewAE's %s or chipwhisperer's "
      .. "hardware/firmware/%s"):format(path, want.zip, want.module), "invalid"
  end
  local where = inner or path
  local info
  info, err = M.parse_bit(bit)
  if not info then return nil, ("%s: %s"):format(where, err), "invalid" end
  if info.part and info.part:sub(1, #want.part) ~= want.part then
    return nil, ("%s is for a %s FPGA; this board has a %s (%s...)"):format(where, info.part,
      want.fpga, want.part), "invalid"
  end
  return bit, where
end

---------------------------------------------------------------------------------------------
-- where to look

local PY_FIND = "import importlib.util as u, os, sys; s = u.find_spec('chipwhisperer'); "
  .. "print('cwlua:' + os.path.realpath(sys.executable) + '\\t' + "
  .. "(s.submodule_search_locations[0] if s and s.submodule_search_locations else ''))"

-- The chipwhisperer package folder a Python interpreter would import: dir | nil, exe | nil.
-- The interpreter runs with an argument vector (runtime.capture), never through a shell: a
-- name in opts.pythons is a program to look up on PATH, nothing in it is read as a command.
local function python_package(python)
  local out = runtime.capture({ python, "-c", PY_FIND })
  if not out then return nil, nil end
  local exe, dir = out:match("cwlua:([^\t\n]*)\t([^\n]*)")
  return (dir ~= nil and dir ~= "") and dir or nil, exe
end

M.PYTHONS = { "python3", "/usr/bin/python3" }

--- bitstream.locate(kind, opts) -> path, origin | nil, searched
-- opts.file (--bitstream), opts.env ($CWLUA_BITSTREAM), opts.config (the config files'
-- bitstream: { file =, where = "the user file F:L" }), opts.pythons (default M.PYTHONS).
-- origin: "--bitstream", "CWLUA_BITSTREAM", the config's where or "chipwhisperer package
-- (PYTHON)". searched: a list of "place (what was found there)" strings for the message when
-- nothing was found.
function M.locate(kind, opts)
  opts = opts or {}
  local want = M.BOARDS[kind]
  local searched = {}
  if opts.file and opts.file ~= "" then return opts.file, "--bitstream" end
  searched[#searched + 1] = "--bitstream (not given)"
  if opts.env and opts.env ~= "" then return opts.env, "CWLUA_BITSTREAM" end
  searched[#searched + 1] = "$CWLUA_BITSTREAM (not set)"
  if opts.config then return opts.config.file, opts.config.where end
  searched[#searched + 1] = "the config files' bitstream (not set)"
  local seen = {}
  for _, py in ipairs(opts.pythons or M.PYTHONS) do
    local dir, exe = python_package(py)
    if exe == nil then
      searched[#searched + 1] = ("the chipwhisperer package of %s (no such Python)"):format(py)
    elseif not seen[exe] then
      seen[exe] = true
      if dir == nil then
        searched[#searched + 1] = ("the chipwhisperer package of %s (%s: not installed)"):format(
          py, exe)
      else
        local path = dir .. "/hardware/firmware/" .. want.module
        local f = io.open(path, "rb")
        if f then
          f:close()
          return path, ("chipwhisperer package (%s)"):format(exe)
        end
        searched[#searched + 1] = ("%s (missing)"):format(path)
      end
    end
  end
  return nil, searched
end

return M
