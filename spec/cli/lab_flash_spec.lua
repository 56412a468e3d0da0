-- SPDX-License-Identifier: MIT
-- cw.flash in a lab script (docs/api.md "Other modules"): the API's conventions — a failure the
-- world causes returns nil, message, code, err; misuse raises — and the summary tables.
local cli = require "support.cli"
local images = require "support.images"

local HELLO = "examples/stm32f1-hello/hello.hex"

describe("cw.flash in a lab script", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(cli.cleanup)

  local function run(body, args, extra)
    local s = cli.write(dir .. "/lab.lua", body)
    local argv = { "-d", "sim", "--sim-target", "stm32f1", "--sim-state", dir .. "/state" }
    for _, a in ipairs(extra or {}) do argv[#argv + 1] = a end
    argv[#argv + 1] = "run"
    argv[#argv + 1] = s
    for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
    return cli.run(argv)
  end

  it("returns the documented summaries", function()
    local r = run([[
      local b <close> = assert(cw.open())
      local o = { board = b, quiet = true }
      local p = assert(cw.flash.program("stm32f1", arg[1], o))
      print("program", p.bytes, p.flash_bytes, p.erased, p.unit, p.verify, p.chip.name,
        p.retries, #p.retry_log, type(p.seconds), type(p.sim.wire_s))
      local v = assert(cw.flash.verify("stm32f1", arg[1], o))
      print("verify", v.bytes, v.verify, type(v.seconds))
      local rd = assert(cw.flash.read("stm32f1", arg[2], { board = b, quiet = true,
        addr = "0x08000000", len = "16" }))
      print("read", rd.bytes, ("0x%08X"):format(rd.addr), rd.memory)
      local e = assert(cw.flash.erase("stm32f1", { board = b, quiet = true, addr = "0x08000000",
        len = "1K" }))
      print("erase", e.erased, e.unit)
      local i = assert(cw.flash.info("stm32f1", o))
      print("info", i.rows[1][1], i.rows[1][2])
    ]], { HELLO, dir .. "/out.bin" })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("program\t368\t368\t1\tpage\tok\tSTM32F10xxx Medium-density VL\t0\t0"
      .. "\tnumber\tnumber\n"
      .. "verify\t368\tok\tnumber\n"
      .. "read\t16\t0x08000000\tflash\n"
      .. "erase\t1\tpage\n"
      .. "info\tchip\tSTM32F10xxx Medium-density VL (ID 0x420)\n", r.stdout)
  end)

  it("returns nil, message, code, err for a failure, and raises on misuse", function()
    local big = cli.write(dir .. "/big.hex", images.hex({ { 0x08020000, "\1\2\3\4" } }))
    local other = cli.write(dir .. "/other.hex", images.hex({ { 0x08000000, "\1\2\3\4" } }))
    local r = run([[
      local b <close> = assert(cw.open())
      local o = { board = b, quiet = true }
      local function show(ok, msg, code, err)
        print(ok, msg:match("^[^\n]*"), code, err and err.exit, err and err.retries)
      end
      show(cw.flash.program("stm32f1", arg[1], o))                -- does not fit: input
      show(cw.flash.program("stm32f1", arg[1] .. ".none", o))     -- no such file: input
      show(cw.flash.program("nosuchchip", arg[2], o))             -- unknown recipe: usage
      assert(cw.flash.program("stm32f1", arg[2], o))
      local ok, msg, code, err = cw.flash.verify("stm32f1", arg[3], o)
      print(ok, code, err.exit, ("0x%08X"):format(err.first_mismatch), msg:match("^[^:]*: %a+ %a+"))
      print(pcall(cw.flash.program, 42, arg[2], o))
      print(pcall(cw.flash.program, "stm32f1", arg[2], "quiet"))
      -- error(err, 0) ends the script with cwlua's own exit status
      local _, m, _, e = cw.flash.program("stm32f1", arg[1], o)
      io.stderr:write(m, "\n")
      error(e, 0)
    ]], { big, HELLO, other })
    local first = "nil\t" .. big .. ": 0x08020000 is outside the flash of this STM32F10xxx "
      .. "Medium-density VL (0x08000000-0x0801FFFF, 128 KiB); the image spans "
      .. "0x08020000-0x08020003; build it for this chip or pick the right target\tinput\t2\t0\n"
    assert.are.equal(first, r.stdout:sub(1, #first))
    local lines = {}
    for l in r.stdout:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("^nil\tcannot open " .. big:gsub("%p", "%%%0") .. "%.none: No such file or "
      .. "directory\tinput\t2\tnil$", lines[2])
    assert.are.equal("nil\tunknown target 'nosuchchip'\tusage\t2\tnil", lines[3])
    assert.are.equal("nil\tmismatch\t5\t0x08000000\tstm32f1: verify failed", lines[4])
    assert.matches("^false\t.*cw%.flash%.program: argument 1 must be a string %(a recipe name "
      .. "or alias%)$", lines[5])
    assert.matches("^false\t.*cw%.flash%.program: opts must be a table$", lines[6])
    assert.are.equal(2, r.status)
    assert.matches("0x08020000 is outside the flash", r.stderr, 1, true)
  end)

  it("returns target when the target does not answer; the board is left usable", function()
    local r = run([[
      local b <close> = assert(cw.open())
      local ok, msg, code, err = cw.flash.program("stm32f1", arg[1], { board = b, quiet = true })
      print(ok, code, err.exit, msg:match("^[^\n]*"))
      print(b:pin("nrst"))
    ]], { HELLO }, { "--sim-fault", "uart-rx-open" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^nil\ttarget\t4\tstm32f1: no reply to bootloader sync", r.stdout)
  end)
end)
