-- SPDX-License-Identifier: MIT
-- spec/support/npy.lua: a reader of .npy files (NumPy format version 1.0, as NumPy's
-- numpy/lib/format.py documents it), written from that description and not from cwlua's
-- writer, so the specs check the trace sets cwlua.traceset writes against the format itself.
--
--   npy.read(path) -> { descr, fortran_order, shape = {...}, rows = n, data = bytes after
--                       the header, size = file size, header_len } | nil, msg
--   npy.row(a, i) -> the bytes of row i (1-based) of a 2-D array
--   npy.f32(a, i) -> the values of row i of a '<f4' array
local M = {}

function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  if s:sub(1, 6) ~= "\x93NUMPY" then return nil, "no .npy magic" end
  if s:byte(7) ~= 1 or s:byte(8) ~= 0 then return nil, "not format version 1.0" end
  local hlen = string.unpack("<I2", s, 9)
  if (10 + hlen) % 64 ~= 0 then return nil, "header not padded to a multiple of 64" end
  local header = s:sub(11, 10 + hlen)
  if header:sub(-1) ~= "\n" then return nil, "header does not end with a newline" end
  local descr = header:match("'descr':%s*'([^']+)'")
  local fortran = header:match("'fortran_order':%s*(%a+)")
  local shape_text = header:match("'shape':%s*(%b())")
  if not descr or not fortran or not shape_text then return nil, "header not understood" end
  local shape = {}
  for d in shape_text:gmatch("%d+") do shape[#shape + 1] = tonumber(d) end
  local a = { descr = descr, fortran_order = fortran == "True", shape = shape,
              data = s:sub(11 + hlen), size = #s, header_len = 10 + hlen }
  local itemsize = ({ ["<f4"] = 4, ["|u1"] = 1 })[descr]
  if not itemsize then return nil, "dtype " .. descr .. " not known here" end
  local count = 1
  for _, d in ipairs(shape) do count = count * d end
  a.itemsize, a.rows = itemsize, shape[1]
  a.rowbytes = (#shape > 1 and shape[2] or 1) * itemsize
  if #a.data < count * itemsize then
    return nil, ("%d data bytes, the shape needs %d"):format(#a.data, count * itemsize)
  end
  return a
end

function M.row(a, i)
  return a.data:sub((i - 1) * a.rowbytes + 1, i * a.rowbytes)
end

function M.f32(a, i)
  local n = a.rowbytes // 4
  local v = { string.unpack("<" .. ("f"):rep(n), M.row(a, i)) }
  v[#v] = nil -- string.unpack's next position
  return v
end

return M
