-- SPDX-License-Identifier: MIT
-- cwlua.traceset: trace sets as .npy files, valid after every append (docs/capture.md). The
-- files are read back with spec/support/npy.lua, a reader written from NumPy's description of
-- the format; tests/capture/ reads real captures with numpy itself.
local traceset = require "cwlua.traceset"
local trace = require "cwlua.core.trace"
local npy = require "support.npy"
local json_of = require "cwlua.json"

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function rm(dir)
  os.execute("rm -rf '" .. dir .. "'")
end

local function block(c) return c:rep(16) end

local slurp = require("support.cli").slurp

describe("cwlua.traceset", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() rm(dir) end)

  it("writes headers NumPy reads: 128 bytes, format 1.0, C order", function()
    local h = traceset.npy_header("<f4", { 12, 3000 })
    assert.equal(128, #h)
    assert.equal("\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, "
      .. "'shape': (12, 3000), }", h:match("^(.-)%s*\n$"))
    assert.matches("'shape': %(7,%)", traceset.npy_header("|u1", { 7 }))
  end)

  it("holds exactly the traces appended, after every append", function()
    local ts = assert(traceset.create(dir, { samples = 4, meta = { board = "cwlite" } }))
    for i = 1, 3 do
      assert.equal(i, ts:append(trace.new({ 0, 256, 512, 1023 }, 10), block("a"), block("b"),
        block("k")))
      for _, name in ipairs({ "traces", "textin", "textout", "keys" }) do
        local a = assert(npy.read(dir .. "/" .. name .. ".npy"))
        assert.equal(i, a.shape[1])
        assert.equal(a.header_len + i * a.rowbytes, a.size) -- nothing past the last row
      end
    end
    assert.equal(3, ts:close())
    local a = assert(npy.read(dir .. "/traces.npy"))
    assert.same({ 3, 4 }, a.shape)
    assert.equal("<f4", a.descr)
    assert.same({ -0.5, -0.25, 0.0, 1023 / 1024 - 0.5 }, npy.f32(a, 3))
    local t = assert(npy.read(dir .. "/textin.npy"))
    assert.same({ 3, 16 }, t.shape)
    assert.equal("|u1", t.descr)
    assert.equal(block("a"), npy.row(t, 2))
    assert.is_nil(io.open(dir .. "/groups.npy"))
  end)

  it("writes groups.npy for a set with groups, and lists of numbers as traces", function()
    local ts = assert(traceset.create(dir, { samples = 2, groups = true }))
    ts:append({ 0.25, -0.5 }, block("a"), block("b"), block("k"), 0)
    ts:append({ 0.0, 0.125 }, block("a"), block("b"), block("k"), 1)
    ts:close()
    local g = assert(npy.read(dir .. "/groups.npy"))
    assert.same({ 2 }, g.shape)
    assert.equal("\0\1", g.data)
    assert.same({ 0.0, 0.125 }, npy.f32(assert(npy.read(dir .. "/traces.npy")), 2))
  end)

  it("writes meta.json at once and again, complete, at close", function()
    local ts = assert(traceset.create(dir, { samples = 2, meta = { board = "cwlite" } }))
    assert.equal('{"board":"cwlite","complete":false,"files":["traces.npy","textin.npy",'
      .. '"textout.npy","keys.npy"],"format":"npy","samples":2,"traces":0}\n',
      slurp(dir .. "/meta.json"))
    ts:append({ 0, 0 }, block("a"), block("b"), block("k"))
    ts:close({ retries = 2 })
    assert.equal(json_of.encode({ board = "cwlite", complete = true, files = { "traces.npy",
      "textin.npy", "textout.npy", "keys.npy" }, format = "npy", samples = 2, traces = 1,
      retries = 2 }) .. "\n", slurp(dir .. "/meta.json"))
    assert.equal(1, ts:close()) -- twice is harmless
    assert.has_error(function() ts:append({ 0, 0 }, block("a"), block("b"), block("k")) end,
      "attempt to use a closed trace set")
  end)

  it("refuses a folder that is not empty, and one whose parent does not exist", function()
    assert(traceset.create(dir, { samples = 2 })):close()
    local ok, msg, code = traceset.create(dir, { samples = 2 })
    assert.is_nil(ok)
    assert.equal(dir .. " is not empty: a trace set goes into a new or empty folder", msg)
    assert.equal("exists", code)
    ok, msg, code = traceset.create(dir .. "/a/b", { samples = 2 })
    assert.is_nil(ok)
    assert.equal(dir .. "/a/b: No such file or directory", msg)
    assert.equal("not_found", code)
  end)

  it("raises on misuse", function()
    local ts = assert(traceset.create(dir, { samples = 2 }))
    assert.has_error(function() ts:append({ 0 }, block("a"), block("b"), block("k")) end,
      "traceset: a trace of 1 samples in a set of 2")
    assert.has_error(function() ts:append({ 0, 0 }, "a", block("b"), block("k")) end,
      "traceset: textin must be a 16-byte string")
    assert.has_error(function() ts:append({ 0, 0 }, block("a"), block("b"), block("k"), 1) end,
      "traceset: this set has no groups (create it with groups = true)")
    assert.has_error(function() traceset.create(dir, {}) end,
      "traceset.create: opts.samples must be a positive integer")
    ts:close()
  end)
end)
