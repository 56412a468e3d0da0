-- SPDX-License-Identifier: MIT
-- cwlua clock on every simulated board: the achieved frequency in whole Hz first, --json with
-- the dividers, the range each board makes (exit 2 outside it), a Husky PLL that does not lock
-- (exit 3). Facts: cw-usb-protocol.md §4.8 (CW-Lite), §4.9.6-§4.9.7 (Husky), §7.2 (Nano).
local cli = require "support.cli"
-- Debian's lua-dkjson (a busted dependency): a JSON decoder we did not write
local json = require "dkjson"

local function run(board, args)
  local a = { "-d", "sim:" .. board }
  for _, x in ipairs(args) do a[#a + 1] = x end
  return cli.run(a, { XDG_STATE_HOME = cli.tmpdir() })
end

describe("cwlua clock", function()
  after_each(cli.cleanup)

  describe("on a CW-Husky (its CDCI6214 PLL)", function()
    it("shows the clock NewAE's default set-up leaves: 7.37 MHz with the ADC at x4", function()
      local r = run("husky", { "clock" })
      assert.are.equal(0, r.status, r.stderr)
      -- 12 MHz / 11 x 454 x 5 / 4 / 84 = 7 370 129.87 Hz; / 21: 29 480 519.48 Hz (§4.9.6)
      assert.are.equal("7370130 Hz (PLL on HS2, ADC 29480519 Hz)\n", r.stdout)
    end)

    it("sets 7.37e6 and prints what the PLL makes", function()
      local r = run("husky", { "clock", "7.37e6" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("7370130 Hz (PLL on HS2, ADC 29480519 Hz)\n", r.stdout)
      assert.are.equal("", r.stderr)
    end)

    it("makes 8, 10 and 24 MHz exactly, with the dividers in --json", function()
      local want = { -- { Hz, d, m, p, target divider, ADC divider } (§4.9.6 table)
        { 8e6, 1, 40, 5, 60, 15 }, { 10e6, 1, 40, 4, 60, 15 }, { 24e6, 1, 40, 5, 20, 5 },
      }
      for _, w in ipairs(want) do
        local r = run("husky", { "--json", "clock", ("%d"):format(w[1]) })
        assert.are.equal(0, r.status, r.stderr)
        local o = json.decode(r.stdout)
        assert.are.same({ math.tointeger(w[1]), "pll", math.tointeger(w[1] * 4), 4, true },
          { o.hz, o.source, o.adc_hz, o.adc_mul, o.locked })
        assert.are.same({ input = "crystal", input_hz = 12000000, input_div = w[2],
                          feedback_prescaler = 5, feedback_mul = w[3], vco_hz = 2400000000,
                          prescaler = w[4], target_div = w[5], adc_div = w[6] }, o.dividers)
      end
    end)

    it("--adc-mul 0 stops the ADC clock and frees the target divider", function()
      local r = run("husky", { "clock", "8e6", "--adc-mul", "0" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("8000000 Hz (PLL on HS2, ADC off)\n", r.stdout)
    end)

    it("reads the FPGA's count of the PLL's ADC output", function()
      local r = run("husky", { "--json", "clock" })
      local o = json.decode(r.stdout)
      -- the counter's resolution: SYSTEMCLK / 2^23 = 11.4 Hz (cw-usb-protocol.md §4.0)
      assert.is_true(math.abs(o.measured_adc_hz - 29480519) < 12, r.stdout)
    end)

    it("stops HS2 with 'off'", function()
      local r = run("husky", { "clock", "off" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("no clock on HS2 (off)\n", r.stdout)
    end)

    it("exits 2 outside 0.5 to 350 MHz, naming the range, with nothing changed", function()
      for _, hz in ipairs({ "400e6", "100kHz" }) do
        local r = run("husky", { "clock", hz })
        assert.are.equal(2, r.status)
        assert.are.equal("", r.stdout)
        assert.matches("^cwlua: husky %x+: [%d.e+]+ Hz is outside what the PLL can make %(0%.5 "
          .. "to 350 MHz%)\n$", r.stderr)
      end
    end)

    it("exits 3 with 'PLL did not lock' when the PLL never locks (a board fault)", function()
      local r = run("husky", { "--sim-fault", "pll-unlocked", "clock", "8e6" })
      assert.are.equal(3, r.status)
      assert.matches("^cwlua: husky %x+: PLL did not lock at 8000000 Hz %(CDCI6214: reference "
        .. "divider 1, feedback x5 x40, VCO 2%.4000 GHz, prescaler /5, output /60; register "
        .. "0x07 reads 0x%x+ after 10 resets over 1%.0 s%); unplug the board and plug it back "
        .. "in\n$", r.stderr)
      r = run("husky", { "--sim-fault", "pll-unlocked", "--json", "clock", "8e6" })
      assert.are.equal(3, r.status)
      assert.are.equal("board-error", json.decode(r.stdout).cause)
      r = run("husky", { "--sim-fault", "pll-unlocked", "clock" })
      assert.are.equal("no clock on HS2 (pll unlocked)\n", r.stdout)
    end)
  end)

  describe("on a CW-Nano (PCK2: 240 MHz / 1, 2, 4, ..., 64)", function()
    it("makes the nearest frequency it can and prints it", function()
      local cases = { { "7.5e6", "7500000" }, { "7.37e6", "7500000" }, { "8MHz", "7500000" },
                      { "24e6", "30000000" }, { "240e6", "240000000" }, { "3.75e6", "3750000" } }
      for _, c in ipairs(cases) do
        local r = run("nano", { "clock", c[1] })
        assert.are.equal(0, r.status, r.stderr)
        assert.are.equal(c[2] .. " Hz (pck2 on HS2)\n", r.stdout)
      end
      local r = run("nano", { "--json", "clock", "7.5e6" })
      assert.are.same({ hz = 7500000, source = "pck2", dividers = { input_hz = 240000000,
        div = 32 }, cause = "ok", schema = 1 }, json.decode(r.stdout))
    end)

    it("exits 2 outside 3.75 to 240 MHz, naming the range", function()
      for _, hz in ipairs({ "1e6", "300e6" }) do
        local r = run("nano", { "clock", hz })
        assert.are.equal(2, r.status)
        assert.matches("^cwlua: nano %x+: [%d.e+]+ Hz is outside what the Nano's clock output "
          .. "%(240 MHz / 1, 2, 4, %.%.%., 64%) can make %(3%.75 to 240 MHz%)\n$", r.stderr)
      end
    end)

    it("refuses an ADC multiple: exit 2 naming the board", function()
      local r = run("nano", { "clock", "7.5e6", "--adc-mul", "4" })
      assert.are.equal(2, r.status)
      assert.matches("a CW%-Nano has no ADC clock made with the target clock", r.stderr)
    end)
  end)

  describe("on a CW1200 (the CW-Lite's DCM)", function()
    it("makes 96 MHz x M / D as NewAE does", function()
      local r = run("cw1200", { "clock", "7.37e6" })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("7384615 Hz (clkgen on HS2)\n", r.stdout)
      r = run("cw1200", { "--json", "clock", "10e6" })
      assert.are.same({ input_hz = 96000000, mul = 5, div = 48 }, json.decode(r.stdout).dividers)
    end)

    it("exits 2 outside 0.753 to 200 MHz", function()
      local r = run("cw1200", { "clock", "250e6" })
      assert.are.equal(2, r.status)
      assert.matches("is outside what the clock generator can make %(0%.753 to 200 MHz%)\n$",
        r.stderr)
    end)
  end)
end)
