-- SPDX-License-Identifier: MIT
-- `cwlua sim adapter PART -- COMMAND` (contract.md §5.8): a simulated USB-serial adapter whose
-- DTR and RTS drive a simulated STM32's nRST and BOOT0, for trying -d serial:PATH --gpio-seq
-- and stm32flash without hardware; and what cwlua says about an adapter's lines when the
-- target does not answer (rig serial: DTR/RTS and --gpio-seq, never TIO1 or a board).
local cli = require "support.cli"

local HELLO = "examples/stm32f1-hello/hello.hex"
local HELLO_BIN = "examples/stm32f1-hello/hello.bin"
local PORT = "serial:/dev/ttyUSB0"
local SEQ = "-rts&dtr,-dtr:rts&dtr,-dtr" -- docs/install.md's wiring: DTR# to nRST, RTS# to BOOT0
-- stm32flash sends 0x7F the moment the entry sequence ends, and takes an ACK to its retry as a
-- failure: a trailing ',' gives the chip 100 ms to start its bootloader (docs/install.md)
local SEQ_STM32FLASH = "-rts&dtr,-dtr,:rts&dtr,-dtr"

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local HAVE_STM32FLASH = os.execute("command -v stm32flash >/dev/null 2>&1") == true

describe("cwlua sim adapter", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(cli.cleanup)

  -- cwlua sim adapter stm32f1 [adapter options] -- COMMAND...
  local function adapter(opts, ...)
    local args = { "sim", "adapter", "stm32f1", "--sim-state", dir .. "/state" }
    for _, a in ipairs(opts) do args[#args + 1] = a end
    args[#args + 1] = "--"
    for _, a in ipairs({ ... }) do args[#args + 1] = a end
    return cli.run(args)
  end

  it("programs through the adapter with --gpio-seq; stm32flash reads it back", function()
    local r = adapter({}, cli.BIN, "-d", PORT, "--gpio-seq", SEQ, "program", "stm32f1", HELLO)
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^programmed 368 bytes into STM32F10xxx Medium%-density VL .*verified\n$",
      r.stdout)
    -- the same chip, through the same mechanism, with stm32flash's own -i
    if HAVE_STM32FLASH then
      r = adapter({}, "stm32flash", "-b", "115200", "-i", SEQ_STM32FLASH, "-S", "0x08000000:368",
        "-r",
        dir .. "/back.bin", "/dev/ttyUSB0")
      assert.are.equal(0, r.status, r.stdout .. r.stderr)
      assert.matches("Device ID    : 0x0420 (STM32F10xxx Medium-density VL)", r.stdout, 1, true)
      assert.are.equal(slurp(HELLO_BIN), slurp(dir .. "/back.bin"))
    else
      pending("stm32flash is not installed (dev/deps test installs it)")
    end
    -- the chip's flash is in the state folder, where -d sim finds it
    r = cli.run({ "-d", "sim", "--sim-state", dir .. "/state", "-q", "verify", "stm32f1", HELLO })
    assert.are.equal(0, r.status, r.stderr)
  end)

  it("is an FT232R at /dev/ttyUSB0, named in $CWLUA_SIM_ADAPTER", function()
    local r = adapter({}, cli.BIN, "list")
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("boards: none found\nserial ports:\n"
      .. "  /dev/ttyUSB0     FT232R USB UART - A50285BI [0403:6001]\n", r.stdout)
    r = adapter({}, "sh", "-c", "echo $CWLUA_SIM_ADAPTER")
    assert.are.equal("/dev/ttyUSB0\n", r.stdout)
  end)

  it("wires BOOT0 and nRST as told: tied high, the bootloader runs without --gpio-seq",
    function()
      local r = adapter({ "--nrst", "high", "--boot0", "high" }, cli.BIN, "-d", PORT, "-q",
        "program", "stm32f1", HELLO)
      assert.are.equal(0, r.status, r.stderr)
    end)

  describe("a target that does not answer through an adapter", function()
    local function no_board_words(text)
      assert.is_nil(text:find("TIO", 1, true), text)
      assert.is_nil(text:find("cannot measure", 1, true), text)
      assert.is_nil(text:find("20-pin", 1, true), text)
    end

    it("without --gpio-seq: the failure names the adapter's lines and --gpio-seq", function()
      -- Linux asserts DTR when the port opens: with DTR# on nRST the chip is held in reset
      local r = adapter({}, cli.BIN, "-d", PORT, "program", "stm32f1", HELLO)
      assert.are.equal(4, r.status)
      assert.matches("likely: the chip is not in its bootloader: without --gpio-seq cwlua does "
        .. "not drive the adapter's DTR and RTS", r.stderr, 1, true)
      no_board_words(r.stderr)
      r = adapter({}, cli.BIN, "-d", PORT, "doctor", "stm32f1")
      assert.are.equal(4, r.status)
      assert.matches("^cwlua doctor stm32f1 %(rig serial%)\n", r.stdout)
      assert.matches("  ok            port               /dev/ttyUSB0 (FT232R USB UART - "
        .. "A50285BI)\n", r.stdout, 1, true)
      assert.matches("--gpio-seq '-rts&dtr,-dtr:rts&dtr,-dtr' for DTR# to nRST and RTS# to "
        .. "BOOT0", r.stdout, 1, true)
      no_board_words(r.stdout)
    end)

    it("with a --gpio-seq that does not fit the wiring: it says to check DTR/RTS", function()
      -- an inverting transistor on DTR: the sequence's signs are wrong for it
      local r = adapter({ "--nrst", "!dtr" }, cli.BIN, "-d", PORT, "--gpio-seq", SEQ, "--json",
        "doctor", "stm32f1")
      assert.are.equal(4, r.status)
      local o = require("dkjson").decode(r.stdout) -- Debian's lua-dkjson
      assert.are.equal("no-reply", o.cause)
      assert.are.equal("serial", o.rig)
      assert.are.equal("the --gpio-seq '" .. SEQ .. "' does not start the bootloader: the "
        .. "adapter's DTR and RTS do not reach nRST and BOOT0 as it assumes (an inverting "
        .. "transistor swaps the signs)", o.candidates[1])
      assert.matches("check that the adapter's DTR and RTS reach nRST and BOOT0", o.actions[1],
        1, true)
      no_board_words(r.stdout)
    end)
  end)

  it("refuses what it cannot simulate (exit 2)", function()
    local r = cli.run({ "sim", "adapter", "xmega", "--", "true" })
    assert.are.equal(2, r.status)
    assert.matches("'xmega' is not a simulated STM32", r.stderr, 1, true)
    r = cli.run({ "sim", "adapter", "stm32f1", "--nrst", "rst", "--", "true" })
    assert.are.equal(2, r.status)
    assert.matches("--nrst 'rst': expected dtr, rts, !dtr, !rts, brk, high or low", r.stderr, 1,
      true)
    r = cli.run({ "sim", "adapter", "stm32f1", "true" })
    assert.are.equal(2, r.status)
    assert.matches("missing '--' before the command to run", r.stderr, 1, true)
  end)
end)
