-- SPDX-License-Identifier: MIT
-- The README's way to a first real board and its simulator section, checked against what cwlua
-- does: the steps are there, the claims about Python and the boards are true, and the outputs
-- shown are the ones a freshly powered CW-Lite gives (simulated through `cwlua sim attach`).
local cli = require "support.cli"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local README = slurp("README.md")

-- This cwlua binary, by an absolute path (cli.BIN may be relative to the source tree).
local function self_path()
  return assert(require("cwlua.core.runtime").exe_path())
end

-- The text of the README section under heading (up to the next "## ").
local function section(heading)
  local s = README:match("\n## " .. heading:gsub("%p", "%%%0") .. "\n(.-)\n## ")
  assert.is_truthy(s, "README has no section '" .. heading .. "'")
  return s
end

-- The fenced blocks of a text, in order, with their indentation removed.
local function blocks(text)
  local out = {}
  for indent, body in text:gmatch("\n( *)```[%w]*\n(.-)\n *```") do
    out[#out + 1] = (("\n" .. body):gsub("\n" .. indent, "\n"):sub(2))
  end
  return out
end

local function find_block(text, start)
  for _, b in ipairs(blocks(text)) do
    if b:sub(1, #start) == start then return b end
  end
  error("no block starting with " .. start)
end

describe("README", function()
  after_each(cli.cleanup)

  it("claims no Python-free use where a bitstream needs NewAE's Python package", function()
    assert.is_nil(README:find("no Python or Jupyter needed", 1, true))
    assert.matches("Python only as the place NewAE ships the FPGA bitstream", README, 1, true)
  end)

  it("'Your first real board' covers the udev rule, list, the bitstream and doctor", function()
    local s = section("Your first real board")
    for _, want in ipairs({ "50-cwlua.rules", "udevadm", "usermod -aG plugdev,dialout",
                            "$ cwlua list", "--bitstream FILE", "$CWLUA_BITSTREAM",
                            "pip install chipwhisperer", "$ cwlua doctor stm32f1" }) do
      assert.is_truthy(s:find(want, 1, true), want)
    end
  end)

  it("shows the outputs a freshly powered CW-Lite gives", function()
    local s = section("Your first real board")
    local dir = cli.tmpdir()
    local function attach(...)
      local args = { "sim", "attach", "--sim-state", dir .. "/state", "--sim-fault",
                     "fpga-unprogrammed", "cwlite:stm32f1@50203120", "--", cli.BIN, ... }
      return cli.run(args, { PATH = "/usr/bin:/bin" })
    end
    -- list
    local r = attach("list")
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal(find_block(s, "$ cwlua list"), "$ cwlua list\n" .. r.stdout:gsub("\n$", ""))
    -- no bitstream: the places searched (the Python found depends on the machine)
    r = attach("program", "stm32f1", "examples/stm32f1-hello/hello.hex")
    assert.are.equal(3, r.status)
    local function no_python(t) return (t:gsub("\n *the chipwhisperer package of [^\n]*", "")) end
    assert.are.equal(no_python(find_block(s, "cwlua: cwlite 50203120: its FPGA")),
      no_python(r.stderr:gsub("\n$", "")))
    -- with a bitstream: loaded, then doctor
    local bit = cli.write(dir .. "/cwlite_interface.bit", (function()
      local head = "\0\9\15\240\15\240\15\240\15\240\0\0\1b" .. string.pack(">s2", "6slx9tqg144\0")
      head = head .. ("\xFF"):rep(0x86 - #head) .. "\xAA\x99\x55\x66"
      return head .. ("\0"):rep(340722 - #head)
    end)())
    r = cli.run({ "sim", "attach", "--sim-state", dir .. "/state", "--sim-fault",
                  "fpga-unprogrammed", "cwlite:stm32f1@50203120", "--", "sh", "-c",
                  "cd " .. cli.quote(dir) .. " && exec " .. cli.quote(self_path())
                    .. " --bitstream cwlite_interface.bit doctor stm32f1" })
    assert.are.equal(0, r.status, r.stderr)
    assert.is_truthy(bit)
    assert.are.equal(find_block(s, "cwlua: cwlite 50203120: loading"), r.stderr:gsub("\n$", ""))
    assert.are.equal(find_block(s, "$ cwlua doctor stm32f1"),
      "$ cwlua doctor stm32f1\n" .. r.stdout:gsub("\n$", ""))
  end)

  it("tells the Husky's status as it is: programs the F1 and AVR on its PLL's clock", function()
    local row = README:match("\n| CW%-Husky |([^\n]*)")
    assert.is_truthy(row)
    assert.matches("CDCI6214 PLL (7.37e6 → 7370130 Hz", row, 1, true)
    local r = cli.run({ "-d", "sim:husky", "clock", "7.37e6" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^7370130 Hz", r.stdout)
    r = cli.run({ "-d", "sim:husky", "--sim-state", cli.tmpdir(), "-q", "program", "stm32f1",
                  "examples/stm32f1-hello/hello.hex" })
    assert.are.equal(0, r.status, r.stderr)
  end)

  it("names the simulator's state folder and --sim-state", function()
    local s = section("The simulator")
    assert.matches("$XDG_STATE_HOME/cwlua/sim", s, 1, true)
    assert.matches("~/.local/state/cwlua/sim", s, 1, true)
    assert.matches("--sim-state DIR", s, 1, true)
  end)
end)
