-- SPDX-License-Identifier: MIT
-- cwlua.progress (contract.md §3.6 "Output"): frames fitted to the width the terminal reports,
-- each one "\r" + text + "\27[K", the last ending its line; plain quarter lines elsewhere; the
-- wait for one long command drawn against its expected time. The terminal, its size and the
-- clock are stubbed here; spec/cli/progress_pty_spec.lua runs cwlua on real pseudo-terminals.
local progress = require "cwlua.progress"
local runtime = require "cwlua.core.runtime"
local screen = require "support.screen"
local time = require "cwlua.time"
local tty = require "cwlua.core.tty"

-- luacheck: ignore 122 (io.stderr and os.getenv are replaced by stubs, and put back, on purpose)

describe("cwlua.progress", function()
  local out, cols, on_tty, clock
  local saved = {}
  local fake_dev = { now_ns = function() return clock end, sleep_ns = function() end }

  before_each(function()
    out, cols, on_tty, clock = {}, 80, true, 0
    saved.stderr, saved.isatty, saved.size, saved.getenv = io.stderr, runtime.isatty, tty.size,
      os.getenv
    io.stderr = { write = function(_, ...)
      for _, s in ipairs({ ... }) do out[#out + 1] = s end
    end }
    runtime.isatty = function(fd) return fd == 2 and on_tty end
    tty.size = function()
      if cols then return cols, 24 end
      return nil, "not a terminal", "unsupported"
    end
    time.use(fake_dev)
  end)

  after_each(function()
    io.stderr, runtime.isatty, tty.size, os.getenv = saved.stderr, saved.isatty, saved.size,
      saved.getenv
    time.release(fake_dev)
  end)

  local function written() return table.concat(out) end
  local function frames() -- the texts between "\r" and "\27[K"
    local t = {}
    for f in written():gmatch("\r([^\r]-)\27%[K") do t[#t + 1] = f end
    return t
  end

  -- a phase of `total` bytes, done in steps of `step`, 0.1 s of the clock apart
  local function run(label, total, step, opts)
    local p <close> = progress.new(label, total, opts)
    local done = 0
    while done < total do
      clock = clock + 100000000
      done = math.min(total, done + step)
      p:update(done)
    end
    p:finish()
  end

  describe("fit", function()
    local STATS = { { "12.0/64.0 KiB 3.9 KiB/s ETA 0:13", 34 }, { "12.0/64.0 KiB ETA 0:13", 23 },
                    { "12.0/64.0 KiB", 13 } }

    it("gives a 30-column bar where it fits, at 120 and 80 columns", function()
      for _, w in ipairs({ 120, 80 }) do
        assert.are.equal("write   [#####                         ] 12.0/64.0 KiB 3.9 KiB/s ETA "
          .. "0:13", progress.fit("write", STATS, 0.19, w))
      end
    end)

    it("narrows the bar on 60 columns, and never reaches the last column", function()
      local f = progress.fit("write", STATS, 0.19, 60)
      assert.are.equal("write   [##            ] 12.0/64.0 KiB 3.9 KiB/s ETA 0:13", f)
      assert.is_true(#f <= 59)
    end)

    it("drops the bar for a percentage on 40 columns, then what does not fit", function()
      assert.are.equal("write    19% 12.0/64.0 KiB ETA 0:13",
        progress.fit("write", STATS, 0.19, 40))
      assert.are.equal("write    19% 12.0/64.0 KiB", progress.fit("write", STATS, 0.19, 30))
    end)

    it("cuts the text rather than wrap on a terminal narrower than any of it", function()
      assert.are.equal("write    1", progress.fit("write", STATS, 0.19, 11))
      assert.are.equal("w", progress.fit("write", STATS, 0.19, 1))
    end)
  end)

  describe("on a terminal", function()
    it("writes each frame as \\r, text, erase to end of line; the last ends its line", function()
      run("write", 65536, 4096)
      local s = written()
      assert.are.equal("\n", s:sub(-1))
      for f in s:gmatch("\r[^\r]*") do
        assert.is_truthy(f:match("^\r[^\27\n]+\27%[K\n?$"), ("frame %q"):format(f))
      end
      assert.are.equal("write   [##############################] 64.0/64.0 KiB 40.0 KiB/s",
        frames()[#frames()])
    end)

    it("leaves nothing of a longer frame behind the last, shorter one", function()
      run("write", 65536, 4096)
      local sc = screen.run(written(), 80)
      assert.are.same({}, sc.stale)
      -- the frame before the last was longer (it had an ETA): the old "A 0:00" leftover
      local f = frames()
      assert.is_true(#f[#f - 1] > #f[#f])
      assert.are.same({ "write   [##############################] 64.0/64.0 KiB 40.0 KiB/s" },
        sc.lines)
    end)

    it("fits every frame to 120, 80, 60 and 40 columns without wrapping", function()
      for _, w in ipairs({ 120, 80, 60, 40 }) do
        out, cols = {}, w
        run("verify", 1048576, 32768)
        local sc = screen.run(written(), w)
        assert.are.equal(0, sc.wrapped, "wrapped at " .. w)
        assert.are.same({}, sc.stale)
        for _, f in ipairs(frames()) do assert.is_true(#f < w, f) end
      end
    end)

    it("asks the width again at every frame: a resized window is fitted from then on", function()
      local p <close> = progress.new("read", 4096)
      clock = clock + 200000000
      p:update(1024)
      cols = 40
      clock = clock + 200000000
      p:update(2048)
      p:finish()
      local f = frames()
      assert.is_truthy(f[1]:match("%[#######"))
      assert.is_falsy(f[2]:match("%["))
      assert.is_true(#f[2] < 40)
    end)

    it("takes $COLUMNS when the terminal reports no size, else 80", function()
      cols = nil
      os.getenv = function(k) if k == "COLUMNS" then return "50" end return saved.getenv(k) end
      assert.are.equal(50, progress.columns())
      os.getenv = function(k) if k == "COLUMNS" then return "wide" end return saved.getenv(k) end
      assert.are.equal(80, progress.columns())
      cols = 132
      assert.are.equal(132, progress.columns())
    end)

    it("draws at most 10 frames a second of the runtime clock", function()
      local p <close> = progress.new("write", 1000000)
      for i = 1, 99 do
        clock = clock + 10000000 -- 10 ms
        p:update(i * 2048)
      end
      assert.are.equal(10, #frames())
      p:update(1000000) -- the last frame is always drawn
      assert.are.equal(11, #frames())
      p:finish()
    end)

    it("counts units when given one", function()
      run("erase", 12, 3, { unit = "page", terminal_only = true })
      local f = frames()
      assert.are.equal("erase   [#######                       ] 3/12 pages ETA 0:00", f[1])
      assert.are.equal("erase   [##############################] 12/12 pages", f[#f])
    end)

    it("shows a long command's time against the expected time, moving", function()
      local p <close> = progress.new("erase", 12, { unit = "sector" })
      p:update(0)
      local tick = assert(p:waiting(12, 16e9))
      for _ = 1, 170 do -- 17 s of a mass erase expected to take 16 s
        clock = clock + 100000000
        tick()
      end
      p:update(12)
      p:finish()
      local f = frames()
      assert.are.equal("erase   [                              ] 0/12 sectors", f[1])
      local seen, last = {}, -1
      for i = 2, #f - 1 do -- every second shown, in order
        seen[f[i]] = true
        local m, s = f[i]:match(" (%d+):(%d%d) of ~0:16$")
        assert.is_true(m * 60 + s >= last, f[i])
        last = m * 60 + s
      end
      assert.is_true(seen["erase   [###############               ] 12 sectors, 0:08 of ~0:16"])
      -- past the expected time the bar stops short of full and the time goes on
      assert.are.equal("erase   [############################# ] 12 sectors, 0:17 of ~0:16",
        f[#f - 1])
      assert.are.equal("erase   [##############################] 12/12 sectors", f[#f])
      assert.is_true(#f >= 30)
    end)

    it("gives tenths of a second for a short wait, and no expected time when none is known",
      function()
        local p <close> = progress.new("erase", 20, { unit = "page" })
        local tick = p:waiting(20, 0.4e9)
        clock = clock + 200000000
        tick()
        local tick2 = p:waiting(20, nil)
        clock = clock + 200000000
        tick2()
        p:finish()
        local f = frames()
        assert.are.equal("erase   [###############               ] 20 pages, 0.2 of ~0.4 s", f[1])
        assert.are.equal("erase   [                              ] 20 pages, 0:00", f[2])
      end)

    it("clears its line for a message and draws again below it (-v)", function()
      local p <close> = progress.new("write", 1000)
      p:update(100)
      progress.interrupt()
      io.stderr:write("stm32f1: retry 1\n")
      p:update(200) -- within 0.1 s of the last frame, and still drawn
      p:finish()
      local sc = screen.run(written(), 80)
      assert.are.same({}, sc.stale)
      assert.are.equal("stm32f1: retry 1", sc.lines[1])
      assert.is_truthy(sc.lines[2]:match("^write   %[###"))
    end)

    it("ends a bar cut short by an error on its own line", function()
      local ok = pcall(function()
        local p <close> = progress.new("write", 1000)
        p:update(500)
        error("broken")
      end)
      assert.is_false(ok)
      assert.are.equal("\n", written():sub(-1))
    end)

    it("draws nothing with quiet, and waits need no ticks then", function()
      local p <close> = progress.new("write", 1000, { quiet = true })
      p:update(500)
      assert.is_nil(p:waiting(1, 1e9))
      p:finish()
      assert.are.equal("", written())
    end)
  end)

  describe("elsewhere", function()
    before_each(function() on_tty = false end)

    it("prints a plain line at each quarter crossed", function()
      run("write", 368, 128)
      assert.are.equal("write: 25% (128 of 368 bytes)\nwrite: 50% (256 of 368 bytes)\n"
        .. "write: 100% (368 of 368 bytes)\n", written())
    end)

    it("prints nothing for an erase (the summary line reports it), and asks for no ticks",
      function()
        local p <close> = progress.new("erase", 12, { unit = "sector", terminal_only = true })
        p:update(0)
        assert.is_nil(p:waiting(12, 16e9))
        p:update(12)
        p:finish()
        assert.are.equal("", written())
      end)
  end)
end)
