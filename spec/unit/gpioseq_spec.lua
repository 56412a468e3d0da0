-- SPDX-License-Identifier: MIT
-- cwlua.gpioseq: --gpio-seq ENTRY[:EXIT] in stm32flash 0.7's -i grammar (target-protocols.md §A.10)
local gpioseq = require "cwlua.gpioseq"

local function step(signal, high, delay_ms)
  return { signal = signal, high = high, delay_ms = delay_ms }
end

describe("cwlua.gpioseq", function()
  describe("parse()", function()
    it("reads stm32flash's help example with rts for GPIO 3 and dtr for GPIO 2", function()
      -- stm32flash: -i '-3&-2,2:3&-2,,,2'
      local seq = assert(gpioseq.parse("-rts&-dtr,dtr:rts&-dtr,,,dtr"))
      assert.are.same({
        text = "-rts&-dtr,dtr:rts&-dtr,,,dtr",
        entry = { step("rts", false, 0), step("dtr", false, 100), step("dtr", true, 0) },
        exit = { step("rts", true, 0), step("dtr", false, 300), step("dtr", true, 0) },
      }, seq)
    end)

    it("takes an entry sequence alone: no exit sequence", function()
      local seq = assert(gpioseq.parse("dtr,-dtr"))
      assert.are.same({ step("dtr", true, 100), step("dtr", false, 0) }, seq.entry)
      assert.is_nil(seq.exit)
    end)

    it("takes an exit sequence alone after ':' (the bootloader is assumed on entry)", function()
      local seq = assert(gpioseq.parse(":rts&dtr,-dtr"))
      assert.is_nil(seq.entry)
      assert.are.same({ step("rts", true, 0), step("dtr", true, 100), step("dtr", false, 0) },
        seq.exit)
    end)

    it("reads brk, '&&' as no delay, and trailing separators as a final delay", function()
      local seq = assert(gpioseq.parse("brk&&-brk,,"))
      assert.are.same({ step("brk", true, 0), step("brk", false, 200) }, seq.entry)
    end)

    it("accepts upper-case signal names", function()
      assert.are.same({ step("rts", false, 0), step("dtr", true, 0) },
        assert(gpioseq.parse("-RTS&Dtr")).entry)
    end)

    it("refuses an empty sequence", function()
      assert.are.same({ nil, "--gpio-seq: the sequence is empty; give ENTRY[:EXIT], e.g. "
        .. "'-rts&dtr,-dtr:rts&dtr,-dtr'" }, { gpioseq.parse("") })
    end)

    it("refuses an empty exit sequence and more than one ':'", function()
      assert.are.same({ nil, "--gpio-seq 'dtr:': the exit sequence after ':' is empty" },
        { gpioseq.parse("dtr:") })
      assert.are.same({ nil, "--gpio-seq 'dtr:rts:dtr': more than one ':' (the form is "
        .. "ENTRY[:EXIT])" }, { gpioseq.parse("dtr:rts:dtr") })
      assert.are.same({ nil, "--gpio-seq ':': the exit sequence after ':' is empty" },
        { gpioseq.parse(":") })
    end)

    it("names stm32flash's numeric sysfs GPIOs as unsupported", function()
      assert.are.same({ nil, "--gpio-seq '-3&-2,2:3&-2,,,2': GPIO 3 (column 2) is a sysfs GPIO "
        .. "number, which cwlua does not support; use the adapter's lines rts, dtr or brk" },
        { gpioseq.parse("-3&-2,2:3&-2,,,2") })
      assert.are.same({ nil, "--gpio-seq 'rts:dtr,17': GPIO 17 (column 9) is a sysfs GPIO "
        .. "number, which cwlua does not support; use the adapter's lines rts, dtr or brk" },
        { gpioseq.parse("rts:dtr,17") })
    end)

    it("names an unknown signal and its column", function()
      assert.are.same({ nil, "--gpio-seq 'rts&cts': unknown signal 'cts' at column 5; use rts, "
        .. "dtr or brk, '-' before one for low, ',' (100 ms) or '&' between" },
        { gpioseq.parse("rts&cts") })
    end)

    it("wants a separator between signals", function()
      assert.are.same({ nil, "--gpio-seq 'rts-dtr': 'rts' at column 1 must be followed by ',' "
        .. "or '&', not '-'; use rts, dtr or brk, '-' before one for low, ',' (100 ms) or '&' "
        .. "between" }, { gpioseq.parse("rts-dtr") })
      assert.are.same({ nil, "--gpio-seq 'rts dtr': 'rts' at column 1 must be followed by ',' "
        .. "or '&', not ' '; use rts, dtr or brk, '-' before one for low, ',' (100 ms) or '&' "
        .. "between" }, { gpioseq.parse("rts dtr") })
    end)

    it("wants a signal first, and after '-'", function()
      assert.are.same({ nil, "--gpio-seq ',rts': ',' at column 1 must follow a signal; use rts, "
        .. "dtr or brk, '-' before one for low, ',' (100 ms) or '&' between" },
        { gpioseq.parse(",rts") })
      assert.are.same({ nil, "--gpio-seq 'rts,-': a signal must follow '-' at column 5; use "
        .. "rts, dtr or brk, '-' before one for low, ',' (100 ms) or '&' between" },
        { gpioseq.parse("rts,-") })
      assert.are.same({ nil, "--gpio-seq '--rts': '--' at column 1; use rts, dtr or brk, '-' "
        .. "before one for low, ',' (100 ms) or '&' between" }, { gpioseq.parse("--rts") })
      assert.are.same({ nil, "--gpio-seq 'dtr:&rts': '&' at column 5 must follow a signal; use "
        .. "rts, dtr or brk, '-' before one for low, ',' (100 ms) or '&' between" },
        { gpioseq.parse("dtr:&rts") })
      assert.are.same({ nil, "--gpio-seq 'rts;dtr': 'rts' at column 1 must be followed by ',' "
        .. "or '&', not ';'; use rts, dtr or brk, '-' before one for low, ',' (100 ms) or '&' "
        .. "between" }, { gpioseq.parse("rts;dtr") })
    end)

    it("raises for a text that is not a string (misuse)", function()
      assert.has_error(function() gpioseq.parse(nil) end, "gpioseq.parse: text must be a string")
    end)
  end)

  describe("describe()", function()
    it("says what a sequence does", function()
      local seq = assert(gpioseq.parse("-rts&dtr,-dtr:rts&-dtr,,,dtr&brk"))
      assert.are.equal("RTS low & DTR high, 100 ms, DTR low", gpioseq.describe(seq.entry))
      assert.are.equal("RTS high & DTR low, 300 ms, DTR high & break 100 ms",
        gpioseq.describe(seq.exit))
    end)
  end)

  describe("run()", function()
    local function record(steps, fail_at)
      local log, n = {}, 0
      local ok, msg, code = gpioseq.run(steps, function(line, on)
        n = n + 1
        if n == fail_at then return nil, "serial:/dev/ttyUSB0: gone", "no_device" end
        log[#log + 1] = line .. "=" .. tostring(on)
        return true
      end, function(ms) log[#log + 1] = "sleep " .. ms end)
      return log, ok, msg, code
    end

    it("sets the lines in order with the delays between them", function()
      local seq = assert(gpioseq.parse("-rts&dtr,-dtr,,"))
      assert.are.same({ { "rts=false", "dtr=true", "sleep 100", "dtr=false", "sleep 200" },
        true }, { record(seq.entry) })
    end)

    it("sends a 100 ms break for brk and does nothing for -brk, as stm32flash", function()
      local seq = assert(gpioseq.parse("brk,-brk&dtr"))
      assert.are.same({ { "break=true", "sleep 100", "break=false", "sleep 100", "dtr=true" },
        true }, { record(seq.entry) })
    end)

    it("stops at the first line that fails and passes its error on", function()
      local seq = assert(gpioseq.parse("rts,dtr,-dtr"))
      assert.are.same({ { "rts=true", "sleep 100" }, nil, "serial:/dev/ttyUSB0: gone",
        "no_device" }, { record(seq.entry, 2) })
    end)
  end)
end)
