-- SPDX-License-Identifier: MIT
-- Progress on a real terminal (contract.md §3.6 "Output"): cwlua runs on a pseudo-terminal of a
-- given size (spec/support/pty_run.py sets it with TIOCSWINSZ) and what it writes is played on a
-- small terminal (spec/support/screen.lua): at 120, 80, 60 and 40 columns no progress frame
-- wraps, the final screen holds nothing a longer frame left behind, and each phase's last frame
-- stays complete on a line of its own; a 16 s mass erase is seen to move.
local cli = require "support.cli"
local screen = require "support.screen"

local PTY_RUN = "spec/support/pty_run.py"
local PYTHON = "/usr/bin/python3"

describe("progress on a terminal", function()
  local dir, state

  before_each(function()
    dir = cli.tmpdir()
    state = cli.tmpdir()
  end)
  after_each(cli.cleanup)

  -- cwlua -d sim ARGS on a COLS x 24 pty; -> the exit status, the screen, the frames' texts
  local function on_tty(cols, args, env)
    local a = { PTY_RUN, tostring(cols), cols > 0 and "24" or "0", cli.BIN, "-d", "sim",
                "--sim-state", state }
    for _, x in ipairs(args) do a[#a + 1] = x end
    local e = { COLUMNS = false, LINES = false }
    for k, v in pairs(env or {}) do e[k] = v end
    local r = cli.run(a, e, nil, PYTHON)
    local frames = {}
    for f in r.stdout:gmatch("\r([^\r\n]-)\27%[K") do frames[#frames + 1] = f end
    return r.status, screen.run(r.stdout, cols > 0 and cols or 80), frames, r.stdout
  end

  -- a 20000-byte raw image: 20 pages of an STM32F1, a write and a verify of several frames
  local function image()
    local t = {}
    for i = 0, 19999 do t[#t + 1] = string.char((i * 7 + (i >> 8)) & 0xFF) end
    return cli.write(dir .. "/app.bin", table.concat(t))
  end

  local SUMMARY = "programmed 20000 bytes into STM32F10xxx Medium-density VL in 5.57 s "
    .. "(3.5 KiB/s), 20 pages erased, verified"

  -- what the screen must show after `program`: each phase's last frame, then the summary
  local FINAL = {
    [120] = { "erase   [##############################] 20/20 pages",
              "write   [##############################] 19.5/19.5 KiB 7.1 KiB/s",
              "verify  [##############################] 19.5/19.5 KiB 8.1 KiB/s" },
    [80] = { "erase   [##############################] 20/20 pages",
             "write   [##############################] 19.5/19.5 KiB 7.1 KiB/s",
             "verify  [##############################] 19.5/19.5 KiB 8.1 KiB/s" },
    [60] = { "erase   [#######################] 20/20 pages",
             "write   [############] 19.5/19.5 KiB 7.1 KiB/s",
             "verify  [############] 19.5/19.5 KiB 8.1 KiB/s" },
    [40] = { "erase   100% 20/20 pages",
             "write   100% 19.5/19.5 KiB",
             "verify  100% 19.5/19.5 KiB" },
  }

  for _, cols in ipairs({ 120, 80, 60, 40 }) do
    it(("fits program's frames to %d columns and leaves no stale characters"):format(cols),
      function()
        local status, sc, frames = on_tty(cols, { "program", "stm32f1", image() })
        assert.are.equal(0, status, table.concat(sc.lines, "\n"))
        assert.are.same({}, sc.unknown)
        assert.are.same({}, sc.stale)
        assert.is_true(#frames >= 10, "only " .. #frames .. " frames")
        for _, f in ipairs(frames) do
          assert.is_true(#f < cols, ("a %d-column frame on %d columns: %q"):format(#f, cols, f))
        end
        -- the progress lines never wrap (the summary line after them is plain text, which a
        -- terminal may wrap like any other)
        local want = FINAL[cols]
        for i = 1, 3 do assert.are.equal(want[i], sc.lines[i]) end
        assert.are.equal(SUMMARY, sc.text(4))
        local summary_rows = #sc.lines - 3
        assert.are.equal(summary_rows - 1, sc.wrapped)
      end)
  end

  it("shows a 16 s mass erase moving: its time against the expected time", function()
    for _, cols in ipairs({ 80, 40 }) do
      local status, sc, frames = on_tty(cols, { "erase", "stm32f4", "--chip" })
      assert.are.equal(0, status, table.concat(sc.lines, "\n"))
      assert.are.same({}, sc.stale)
      local shown, last = {}, -1
      for _, f in ipairs(frames) do
        assert.is_true(#f < cols, f)
        local m, s = f:match(" (%d+):(%d%d) of ~0:16$")
        if m then
          local t = tonumber(m) * 60 + tonumber(s)
          assert.is_true(t >= last, "time went back: " .. f)
          last, shown[t] = t, true
        end
      end
      for t = 0, 15 do assert.is_true(shown[t], ("second %d of the erase not shown"):format(t)) end
      assert.are.equal(cols == 80 and "erase   [##############################] 12/12 sectors"
        or "erase   100% 12/12 sectors", sc.lines[1])
      assert.are.equal("erased 12 sectors of STM32F40xxx/41xxx in 16.02 s", sc.text(2))
    end
  end)

  it("takes $COLUMNS when the terminal reports no size", function()
    local status, sc, frames = on_tty(0, { "erase", "stm32f4", "--addr", "0x08000000", "--len",
      "0x20000" }, { COLUMNS = "40" })
    assert.are.equal(0, status, table.concat(sc.lines, "\n"))
    for _, f in ipairs(frames) do assert.is_true(#f < 40, f) end
    assert.are.equal("erase   100% 5/5 sectors", sc.lines[1])
  end)

  it("keeps plain lines, and no erase line, when stderr is not a terminal", function()
    local r = cli.run({ "-d", "sim", "--sim-state", state, "program", "stm32f1", image() })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("write: 25% (5120 of 20000 bytes)\nwrite: 50% (10240 of 20000 bytes)\n"
      .. "write: 75% (15104 of 20000 bytes)\nwrite: 100% (20000 of 20000 bytes)\n"
      .. "verify: 25% (5056 of 20000 bytes)\nverify: 50% (10048 of 20000 bytes)\n"
      .. "verify: 75% (15040 of 20000 bytes)\nverify: 100% (20000 of 20000 bytes)\n", r.stderr)
    assert.are.equal(SUMMARY .. "\n", r.stdout)
  end)
end)
