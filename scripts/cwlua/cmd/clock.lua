-- SPDX-License-Identifier: MIT
-- cwlua clock [HZ|off]: show or set the target clock on HS2, from whatever makes it on this
-- board (cwlua.board.clock: the CW-Lite's DCM, the Husky's PLL, the Nano's PCK2).
local cmdutil = require "cwlua.cmdutil"
local errors = require "cwlua.errors"
local json = require "cwlua.json"

local function round(x)
  return x and math.floor(x + 0.5) or nil
end

-- --json: the numbers, each divider of the source, and on a Husky the ADC clock
local function object(hz, source, info)
  info = info or {}
  local o = { hz = hz and round(hz) or json.null, source = source }
  if info.dividers then
    local d = {}
    for k, v in pairs(info.dividers) do d[k] = type(v) == "number" and round(v) or v end
    o.dividers = d
  end
  if info.locked ~= nil then o.locked = info.locked end
  if info.adc_hz then o.adc_hz = round(info.adc_hz) end
  if info.adc_mul then o.adc_mul = info.adc_mul end
  if info.measured_adc_hz then o.measured_adc_hz = round(info.measured_adc_hz) end
  return o
end

-- "7370130 Hz (PLL on HS2, ADC 29480520 Hz)", "7384615 Hz (clkgen on HS2)"
local function line(hz, source, info)
  if not hz then return ("no clock on HS2 (%s)"):format(source) end
  if source == "pll" then
    local adc = info and info.adc_hz
    return ("%d Hz (PLL on HS2, ADC %s)"):format(round(hz),
      (adc and adc > 0) and ("%d Hz"):format(round(adc)) or "off")
  end
  return ("%d Hz (%s on HS2)"):format(round(hz), source)
end

local function run(ctx)
  if #ctx.args > 1 then errors.raise("usage", "usage: %s", ctx.command.usage) end
  local want = ctx.args[1]
  local hz
  if want == "off" then
    hz = false
  elseif want ~= nil then
    hz = cmdutil.hz(want)
  end
  local opts
  if ctx.opts.adc_mul then
    local k = math.tointeger(tonumber(ctx.opts.adc_mul))
    if not k or k < 0 then
      errors.raise("usage", "--adc-mul needs a whole number (0 turns the ADC clock off), got "
        .. "'%s'", ctx.opts.adc_mul)
    end
    if not hz then errors.raise("usage", "--adc-mul goes with a frequency: cwlua clock HZ "
      .. "--adc-mul N") end
    opts = { adc_mul = k }
  end
  local b <close> = cmdutil.open_board()
  local got, source = cmdutil.check(b:clock(hz, opts))
  -- the dividers and the ADC clock: read back from the board, as they now are
  local info = got and cmdutil.check(b:clock_info()) or {}
  if ctx.opts.json then
    ctx.cli.emit(object(got, source, info))
  elseif not ctx.opts.quiet then
    io.stdout:write(line(got, source, info), "\n")
  end
  return 0
end

return {
  name = "clock",
  synopsis = "clock [HZ|off]",
  summary = "show or set the target clock (prints the achieved frequency)",
  usage = "cwlua clock [HZ|off] [--adc-mul N]",
  help = [[
Without an argument, shows what HS2 (the target clock pin) carries. HZ (7.37e6, 7370000,
7.37MHz) programs the board's clock as NewAE's Python does and routes it to HS2, then prints
the frequency made, in whole Hz first: a CW-Lite or CW1200 makes 96 MHz x M / D (7.37e6 gives
7384615 Hz); a Husky's PLL makes it from a 12 MHz crystal together with its ADC clock (7.37e6
gives 7370130 Hz, the ADC at x4 29480520 Hz) and waits for the PLL to lock; a Nano divides
240 MHz by 1, 2, 4, ..., 64 (7.37e6 gives 7500000 Hz). 'off' stops HS2. A frequency the board
cannot make (CW-Lite 0.753-200 MHz, Husky 0.5-350 MHz, Nano 3.75-240 MHz) exits 2 with nothing
changed; a PLL that does not lock exits 3. --json adds the dividers.]],
  options = {
    { long = "adc-mul", key = "adc_mul", arg = "N",
      help = "Husky: ADC clock = N x the target clock, 0 = off (default 4, NewAE's)" },
  },
  many = {}, -- on several boards at once: one worker each (cwlua.multi)
  run = run,
}
