-- SPDX-License-Identifier: MIT
-- The target-clock searches against dividers worked out by hand from the reference: the
-- Husky's CDCI6214 (cwlua.board.pll, cw-usb-protocol.md §4.9.6) and the Nano's PCK2
-- (cwlua.board.pck, cw-usb-protocol.md §7.2). The CW-Lite's M/D examples are in board_spec.
local pll = require "cwlua.board.pll"
local pck = require "cwlua.board.pck"

-- { reference divider d, feedback divider m, prescaler p, target divider, ADC divider }
local function dividers(hz, k)
  local r = assert(pll.search(hz, k))
  return { r.in_div, r.mul, r.prescale, r.div1, r.div3 }
end

describe("cwlua.board.pll", function()
  describe("search() from the 12 MHz crystal, ADC at x4", function()
    -- The search order (§4.9.6 step 4): d = 1, 2, ... 12; for each d the feedback dividers m
    -- in increasing order with 2.4 GHz <= (12 MHz // d) x 5 x m <= 2.8 GHz; p = 4, 5, 6; the
    -- first strictly smallest error wins. At d = 1 the PLL input is 12 MHz and the smallest m
    -- is 40 (12 MHz x 5 x 40 = 2.4 GHz; m = 39 gives 2.34 GHz). Before the output divider that
    -- is 2.4 GHz / 4 = 600 MHz with p = 4, 2.4 GHz / 5 = 480 MHz with p = 5. A candidate that is
    -- exact has error 0, which nothing later can beat, so the first exact candidate wins.

    it("10 MHz: d 1, m 40, p 4, /60, /15", function()
      -- (d 1, m 40, p 4): 600 MHz / 10 MHz = 60, a multiple of 4: exact, and the very first
      -- candidate. ADC divider 60 / 4 = 15: 40 MHz.
      assert.are.same({ 1, 40, 4, 60, 15 }, dividers(10e6, 4))
      assert.are.same({ 10e6, 40e6 }, { pll.frequencies(pll.search(10e6, 4)) })
    end)

    it("8 MHz: d 1, m 40, p 5, /60, /15", function()
      -- (d 1, m 40, p 4): 600 / 8 = 75, lowered to the multiple of 4 72: 8.333 MHz, error 4.2 %.
      -- (d 1, m 40, p 5): 480 / 8 = 60, a multiple of 4: exact. ADC 60 / 4 = 15: 32 MHz.
      assert.are.same({ 1, 40, 5, 60, 15 }, dividers(8e6, 4))
      assert.are.same({ 8e6, 32e6 }, { pll.frequencies(pll.search(8e6, 4)) })
    end)

    it("24 MHz: d 1, m 40, p 5, /20, /5", function()
      -- (d 1, m 40, p 4): 600 / 24 = 25, lowered to 24: 25 MHz, error 4.2 %.
      -- (d 1, m 40, p 5): 480 / 24 = 20, a multiple of 4: exact. ADC 20 / 4 = 5: 96 MHz.
      assert.are.same({ 1, 40, 5, 20, 5 }, dividers(24e6, 4))
      assert.are.same({ 24e6, 96e6 }, { pll.frequencies(pll.search(24e6, 4)) })
    end)

    it("7.37 MHz (NewAE's default): d 11, m 454, p 4, /84, /21: 7 370 129.87 Hz", function()
      -- No candidate is exact; the reference gives NewAE's result (§4.9.6 table, the
      -- default_setup of §6.2). Its arithmetic, as the search does it: 12 000 000 // 11 =
      -- 1 090 909; x 5 x 454 = 2 476 363 430 Hz (VCO within 2.4-2.8 GHz); // 4 = 619 090 857;
      -- / 7 370 000 = 84.0015, rounded 84, a multiple of 4; error |7 370 000 - 619 090 857 / 84|
      -- / 7 370 000 = 1.75e-5. The frequency made: 12 MHz / 11 x 454 x 5 / 4 / 84 =
      -- 7 370 129.87 Hz; the ADC, / 21 instead of / 84: 29 480 519.48 Hz.
      assert.are.same({ 11, 454, 4, 84, 21 }, dividers(7.37e6, 4))
      local r = pll.search(7.37e6, 4)
      assert.is_true(math.abs(r.error - 1.7537e-5) < 1e-8)
      local hz, adc = pll.frequencies(r)
      assert.are.equal(7370130, math.floor(hz + 0.5))
      assert.are.equal(29480519, math.floor(adc + 0.5))
    end)

    it("with the ADC clock off the target divider need not be a multiple of 4", function()
      -- 8 MHz, k = 0: the search steps by 1, so (d 1, m 40, p 4) is exact already: 600 / 8
      -- = 75; the ADC divider is 0 (off).
      assert.are.same({ 1, 40, 4, 75, 0 }, dividers(8e6, 0))
    end)
  end)

  describe("adc_multiple()", function()
    it("keeps the ADC clock within 1 MHz and 300 MHz as NewAE does (§4.9.6 step 2)", function()
      assert.are.equal(4, pll.adc_multiple(7.37e6, 4))  -- 29.48 MHz
      assert.are.equal(3, pll.adc_multiple(100e6, 4))   -- 400, then 300 MHz: not above
      assert.are.equal(2, pll.adc_multiple(0.5e6, 1))   -- 0.5 MHz < 1 MHz: x2
      assert.are.equal(1, pll.adc_multiple(350e6, 4))   -- down to 0, then back up to 1
      assert.are.equal(0, pll.adc_multiple(7.37e6, 0))  -- off stays off
    end)
  end)
end)

describe("cwlua.board.pck (CW-Nano)", function()
  -- 240 MHz / div, div = 1, 2, 4, 8, 16, 32, 64: 240, 120, 60, 30, 15, 7.5, 3.75 MHz; the first
  -- divider with the smallest distance wins (§7.2).
  local function pick(hz) return { pck.search(hz) } end

  it("takes the nearest frequency the Nano makes", function()
    assert.are.same({ 32, 7.5e6 }, pick(7.37e6)) -- |7.5 - 7.37| = 0.13 MHz, the nearest
    assert.are.same({ 32, 7.5e6 }, pick(8e6))    -- 7.5 is 0.5 away, 15 is 7
    assert.are.same({ 32, 7.5e6 }, pick(10e6))   -- 7.5 is 2.5 away, 15 is 5
    assert.are.same({ 8, 30e6 }, pick(24e6))     -- 30 is 6 away, 15 is 9
    assert.are.same({ 64, 3.75e6 }, pick(3.75e6))
    assert.are.same({ 1, 240e6 }, pick(240e6))
  end)

  it("gives a tie to the smaller divider, the higher frequency", function()
    assert.are.same({ 16, 15e6 }, pick(11.25e6)) -- 15 and 7.5 MHz both 3.75 MHz away
  end)

  it("makes 3.75 MHz to 240 MHz", function()
    assert.are.same({ 3.75e6, 240e6 }, { pck.min_hz, pck.max_hz })
  end)
end)
