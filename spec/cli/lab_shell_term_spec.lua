-- SPDX-License-Identifier: MIT
-- 'cwlua shell' and 'cwlua term' without a terminal: a session piped in, as a script or a test
-- drives them. On a pseudo-terminal they are tested by tests/lab/pty_lab.py.
local cli = require "support.cli"

describe("cwlua shell (standard input from a pipe)", function()
  after_each(cli.cleanup)

  it("prints values and errors like lua.c, with the board from -d as 'board'", function()
    local r = cli.run({ "-d", "sim", "--sim-state", cli.tmpdir(), "shell" }, nil,
      "x = 20\nx + 1\nfor i = 1, 2 do\nprint(i)\nend\nerror('boom')\nboard:info().kind\n"
      .. "cw.simpleserial.hex('\\1\\2')\nreturn 1, nil\n")
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("21\n1\n2\ncwlite\n0102\n1\tnil\n", r.stdout)
    assert.are.equal("stdin:1: boom\n", r.stderr)
  end)

  it("leaves with exit(code)", function()
    local r = cli.run({ "-d", "sim", "--sim-state", cli.tmpdir(), "shell" }, nil,
      "print('a')\nexit(7)\nprint('b')\n")
    assert.are.equal(7, r.status)
    assert.are.equal("a\n", r.stdout)
  end)

  it("runs without a board, saying why 'board' is nil", function()
    local r = cli.run({ "-d", "serial:/nonexistent/tty", "shell" }, nil, "board == nil\n")
    assert.are.equal(0, r.status)
    assert.are.equal("true\n", r.stdout)
    assert.matches("^cwlua: shell: no board %(serial:/nonexistent/tty: .*%); 'board' is nil, "
      .. "cw%.open%(%) opens one\n$", r.stderr)
  end)
end)

describe("cwlua term (standard input from a pipe)", function()
  after_each(cli.cleanup)

  it("sends the input, shows what the target answers, and exits", function()
    local r = cli.run({ "-d", "sim", "--sim-target", "loopback", "--sim-state", cli.tmpdir(),
                        "term", "--baud", "115200" }, nil, "hello\n")
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("hello\n", r.stdout)
    assert.are.equal("term: cwlite at 115108 baud (none parity); Ctrl-] then q quits, Ctrl-] r "
      .. "resets the target\nterm: bye\n", r.stderr)
  end)

  it("quits at Ctrl-] q, sends Ctrl-] Ctrl-] as one, and logs with --log", function()
    local dir = cli.tmpdir()
    -- the state folder is the simulator's own (a log file in it would make it not one)
    local r = cli.run({ "-q", "-d", "sim", "--sim-target", "loopback", "--sim-state",
                        cli.tmpdir(), "term", "--log", dir .. "/log" }, nil,
                      "ab\29\29c\29qnot sent")
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("ab\29c", r.stdout)
    local f = assert(io.open(dir .. "/log", "rb"))
    assert.are.equal("ab\29c", f:read("a"))
    f:close()
  end)

  it("rejects bad options as usage errors", function()
    local r = cli.run({ "-d", "sim", "term", "--parity", "weird" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: --parity must be none, odd, even, mark or space, got 'weird'\n",
      r.stderr)
    r = cli.run({ "-d", "sim", "term", "--baud", "fast" })
    assert.are.equal(2, r.status)
    assert.are.equal("cwlua: --baud needs a positive integer, got 'fast'\n", r.stderr)
  end)

  it("is listed in --help, with shell", function()
    local r = cli.run({ "--help" })
    assert.matches("\n  term %[%-%-baud N%]%s+serial console to the target", r.stdout)
    assert.matches("\n  shell%s+interactive Lua prompt with the board open as 'board'", r.stdout)
  end)
end)
