-- SPDX-License-Identifier: MIT
-- cwlua.core.tty.size (bindings/l_tty.c): the window size a terminal reports (TIOCGWINSZ),
-- which progress bars fit their frames to. Run in a cwlua script on pseudo-terminals that
-- spec/support/pty_run.py sizes, and on a pipe.
local cli = require "support.cli"

describe("tty.size", function()
  after_each(cli.cleanup)

  local function script()
    return cli.write(cli.tmpdir() .. "/size.lua", 'local tty = require "cwlua.core.tty"\n'
      .. 'local c, r, code = tty.size(2)\nprint(c, r, code)\n')
  end

  it("gives the columns and rows of the terminal on stderr", function()
    local r = cli.run({ "spec/support/pty_run.py", "77", "31", cli.BIN, "run", script() }, nil,
      nil, "/usr/bin/python3")
    assert.are.equal(0, r.status, r.stdout)
    assert.are.equal("77\t31\tnil\r\n", r.stdout)
  end)

  it("says unsupported for a terminal nobody sized and for what is not a terminal", function()
    local r = cli.run({ "spec/support/pty_run.py", "0", "0", cli.BIN, "run", script() }, nil,
      nil, "/usr/bin/python3")
    assert.are.equal("nil\tthe terminal reports no size\tunsupported\r\n", r.stdout)
    r = cli.run({ "run", script() })
    assert.are.equal(0, r.status, r.stderr)
    assert.is_truthy(r.stdout:match("^nil\t[^\t]+\tunsupported\n$"), r.stdout)
  end)

  it("checks its argument", function()
    local tty = require "cwlua.core.tty"
    assert.has_error(function() tty.size(-1) end)
  end)
end)
