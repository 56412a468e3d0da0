-- SPDX-License-Identifier: MIT
-- cwlua.traceset (cw.traceset): a set of captured traces on disk as NumPy .npy files, the
-- format numpy, LASCAR, SCAred and most analysis tools read, written as the traces arrive:
--
--   traces.npy   float32, N x samples (each sample as trace[i] gives it, in [-0.5, 0.5))
--   textin.npy   uint8, N x 16         textout.npy, keys.npy the same
--   groups.npy   uint8, N              (sets made with groups = true: the TVLA group)
--   meta.json    what the caller says about the set, plus format, samples, traces
--
--   local ts = assert(cw.traceset.create("set1", { samples = 3000 }))
--   ts:append(trace, textin, textout, key)       -- after every capture
--   ts:close()
--
-- The set is valid at every moment, also after Ctrl-C or a crash (docs/capture.md "Files").
-- Every .npy file starts with a 128-byte header (NumPy format version 1.0: magic, version, the
-- header length, a Python dict literal padded with spaces) whose shape is written again, in
-- place, after every append: an append writes the new row of every file, then the headers. An
-- append runs in signal.hold, so Ctrl-C and SIGTERM come between appends, never inside one:
-- the files then hold exactly the complete traces. A crash (SIGKILL, power loss) can leave at
-- most one row past what a header says, which readers ignore (numpy reads the shape's worth),
-- and the files can then differ by that one trace: take the shortest.
--
-- World failures (the folder exists and is not empty, a disk error) return nil, msg, code;
-- misuse (a trace of the wrong length, a text that is not 16 bytes) raises (style.md §2.3).
local runtime = require "cwlua.core.runtime"
local signal = require "cwlua.core.signal"
local json = require "cwlua.json"

local M = {}

local HEADER = 128 -- bytes: room for any shape (a 20-digit count), a multiple of 64 as NumPy pads
M.HEADER = HEADER

--- traceset.npy_header(descr, shape) -> the 128-byte .npy v1.0 header of an array with that
-- dtype (e.g. "<f4", "|u1") and shape (a list of integers), C order
function M.npy_header(descr, shape)
  local dims = {}
  for i, d in ipairs(shape) do dims[i] = ("%d"):format(d) end
  local tuple = #dims == 1 and ("(" .. dims[1] .. ",)") or ("(" .. table.concat(dims, ", ") .. ")")
  local dict = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }"):format(descr, tuple)
  local pad = HEADER - 10 - #dict - 1
  assert(pad >= 0, "npy header too long")
  return "\x93NUMPY\x01\x00" .. string.pack("<I2", HEADER - 10) .. dict .. (" "):rep(pad) .. "\n"
end

local Set = {}
Set.__index = Set
Set.__name = "cwlua.TraceSet"

-- file name, dtype, bytes per row (nil: the samples' row), 1-D
local FILES = {
  { key = "traces", name = "traces.npy", descr = "<f4" },
  { key = "textin", name = "textin.npy", descr = "|u1", row = 16 },
  { key = "textout", name = "textout.npy", descr = "|u1", row = 16 },
  { key = "keys", name = "keys.npy", descr = "|u1", row = 16 },
  { key = "groups", name = "groups.npy", descr = "|u1", row = 1, flat = true },
}

local function shape_of(f, n, samples)
  if f.flat then return { n } end
  return { n, f.row or samples }
end

local function fail_io(what, msg)
  return nil, ("%s: %s"):format(what, msg or "write failed"), "io"
end

-- Write meta.json through a temporary file renamed into place, so it is always whole.
local function write_meta(dir, meta)
  local path, tmp = dir .. "/meta.json", dir .. "/meta.json.part"
  local f, msg = io.open(tmp, "wb")
  if not f then return fail_io(tmp, msg) end
  local ok, werr = f:write(json.encode(meta), "\n")
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    return fail_io(tmp, werr or cerr)
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    return fail_io(path, rerr)
  end
  return true
end

local function check_dir(dir)
  local st = runtime.stat(dir)
  if st then
    if st.type ~= "directory" then
      return nil, ("%s exists and is not a folder"):format(dir), "exists"
    end
    local names, msg, code = runtime.dir(dir)
    if not names then return nil, msg, code end
    if #names > 0 then
      return nil, ("%s is not empty: a trace set goes into a new or empty folder"):format(dir),
        "exists"
    end
    return true
  end
  return runtime.mkdir(dir)
end

--- traceset.create(dir, opts) -> set | nil, msg, code. dir: a new or empty folder (its parent
-- must exist). opts: samples (per trace, required), groups (true: also groups.npy), meta (a
-- table for meta.json; the set adds format, samples, traces and complete).
function M.create(dir, opts)
  if type(dir) ~= "string" or dir == "" then error("traceset.create: dir must be a path", 2) end
  if type(opts) ~= "table" then error("traceset.create: opts must be a table", 2) end
  local samples = opts.samples
  if math.type(samples) ~= "integer" or samples < 1 then
    error("traceset.create: opts.samples must be a positive integer", 2)
  end
  if opts.meta ~= nil and type(opts.meta) ~= "table" then
    error("traceset.create: opts.meta must be a table", 2)
  end
  local ok, msg, code = check_dir(dir)
  if not ok then return nil, msg, code end
  local self = setmetatable({ dir = dir, samples = samples, count = 0, groups = opts.groups and
    true or false, files = {}, meta = {} }, Set)
  for k, v in pairs(opts.meta or {}) do self.meta[k] = v end
  for _, f in ipairs(FILES) do
    if f.key ~= "groups" or self.groups then
      local path = dir .. "/" .. f.name
      local h, err = io.open(path, "w+b")
      if not h then
        self:_close_files()
        return fail_io(path, err)
      end
      self.files[#self.files + 1] = { spec = f, h = h, path = path }
      local wrote, werr = h:write(M.npy_header(f.descr, shape_of(f, 0, samples)))
      if not wrote or not h:flush() then
        self:_close_files()
        return fail_io(path, werr)
      end
    end
  end
  ok, msg, code = write_meta(dir, self:_meta(false))
  if not ok then
    self:_close_files()
    return nil, msg, code
  end
  return self
end

function Set:_meta(complete)
  local m = {}
  for k, v in pairs(self.meta) do m[k] = v end
  m.format = "npy"
  m.samples = self.samples
  m.traces = self.count
  m.complete = complete
  m.files = json.array({})
  for _, f in ipairs(self.files) do m.files[#m.files + 1] = f.spec.name end
  return m
end

function Set:_close_files()
  for _, f in ipairs(self.files) do
    if f.h then
      f.h:close()
      f.h = nil
    end
  end
end

local function checkopen(self)
  if getmetatable(self) ~= Set then error("expected a cwlua.TraceSet", 3) end
  if self.closed then error("attempt to use a closed trace set", 3) end
end

local function check_block(what, s)
  if type(s) ~= "string" or #s ~= 16 then
    error(("traceset: %s must be a 16-byte string"):format(what), 3)
  end
end

-- The rows, then the headers; in signal.hold (see the top of this file).
local function append(self, rows)
  local n = self.count + 1
  for i, f in ipairs(self.files) do
    local h = f.h
    local ok, err = h:seek("end")
    if ok then ok, err = h:write(rows[i]) end
    if ok then ok, err = h:flush() end
    if not ok then return fail_io(f.path, err) end
  end
  for _, f in ipairs(self.files) do
    local h = f.h
    local ok, err = h:seek("set", 0)
    if ok then ok, err = h:write(M.npy_header(f.spec.descr, shape_of(f.spec, n, self.samples))) end
    if ok then ok, err = h:flush() end
    if not ok then return fail_io(f.path, err) end
  end
  self.count = n
  return n
end

--- set:append(trace, textin, textout, key [, group]) -> the number of traces in the set |
-- nil, msg, code. trace: a cwlua.Trace of exactly `samples` samples (or a list of numbers);
-- textin, textout, key: 16-byte strings; group: 0 or 1, required exactly when the set has
-- groups.
function Set:append(trace, textin, textout, key, group)
  checkopen(self)
  local row
  if type(trace) == "table" then
    if #trace ~= self.samples then
      error(("traceset: a trace of %d samples in a set of %d"):format(#trace, self.samples), 2)
    end
    row = string.pack("<" .. ("f"):rep(#trace), table.unpack(trace))
  else
    local ok, n = pcall(function() return #trace end)
    if not ok or type(trace.f32) ~= "function" then
      error("traceset: trace must be a cwlua.Trace or a list of numbers", 2)
    end
    if n ~= self.samples then
      error(("traceset: a trace of %d samples in a set of %d"):format(n, self.samples), 2)
    end
    row = trace:f32()
  end
  check_block("textin", textin)
  check_block("textout", textout)
  check_block("key", key)
  local rows = { row, textin, textout, key }
  if self.groups then
    if group ~= 0 and group ~= 1 then error("traceset: group must be 0 or 1", 2) end
    rows[5] = string.char(group)
  elseif group ~= nil then
    error("traceset: this set has no groups (create it with groups = true)", 2)
  end
  return signal.hold(append, self, rows)
end

local function close(self, meta)
  if self.closed then return self.count end
  self.closed = true
  self:_close_files()
  for k, v in pairs(meta or {}) do self.meta[k] = v end
  local ok, msg, code = write_meta(self.dir, self:_meta(true))
  if not ok then return nil, msg, code end
  return self.count
end

--- set:close([meta]) -> the number of traces | nil, msg, code. meta: more fields for
-- meta.json, which is written again with "complete": true. Closing twice is harmless;
-- <close> and the garbage collector close too.
function Set:close(meta)
  if getmetatable(self) ~= Set then error("expected a cwlua.TraceSet", 2) end
  if meta ~= nil and type(meta) ~= "table" then error("traceset: meta must be a table", 2) end
  return signal.hold(close, self, meta)
end

function Set:__close()
  pcall(self.close, self) -- errors here have nowhere to go (style.md §2.3)
end
Set.__gc = Set.__close

function Set:__tostring()
  return ("cwlua.TraceSet (%s, %d traces of %d samples%s)"):format(self.dir, self.count,
    self.samples, self.closed and ", closed" or "")
end

M.TraceSet = Set
return M
