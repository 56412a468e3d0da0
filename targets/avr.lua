-- SPDX-License-Identifier: MIT
-- targets/avr.lua: AVR (ATmega48/88/168/328 family) over ISP through the board's V2 engine;
-- contract.md §3 (CW308_MEGA328P carries an ATmega328P). The part is chosen by its signature
-- (target-protocols.md §C.6), or checked against --part. The steps are in cwlua.avr.
local avr = require "cwlua.avr"

return avr.recipe {
  api = 1,
  name = "avr",
  summary = "AVR (ATmega) over ISP through the board's V2 engine",
  part = "atmega328p",
  parts = { "atmega328p", "atmega168pa", "atmega328", "atmega168a", "atmega88pa", "atmega88a",
            "atmega48pa", "atmega48a" },
  aliases = { CW308_MEGA328P = "atmega328p" },
  rig = "cw308",
  -- avr-gcc's sections (contract.md §3): .eeprom, .fuse (low, high, extended), .lock
  regions = {
    eeprom = { addr = 0x810000 },
    fuses = { addr = 0x820000, names = { "low", "high", "ext" } },
    lock = { addr = 0x830000 },
  },
  defaults = {
    flash_start = 0,
    -- the board clock a CW308 AVR runs from when HS2 is off (NewAE's 7.37 MHz); the snapshot
    -- restores what the board had
    clock_hz = 7.3728e6,
    -- requested SCK: the fastest table rate not above it (target-protocols.md §C.1). The board
    -- cannot go below 376 kHz without its slow clock; ISP needs SCK < f_cpu / 4.
    isp_hz = 1e6,
    -- "auto" (nil-like: try the normal clock, then the slow one), true, false (§C.2)
    slow_clock = "auto",
    -- the shared engine timeout's default, set before ENTER: 500 ticks = 200 ms, the
    -- power-on value (target-protocols.md §1), undoing an XMEGA session's 100 ms
    engine_timeout_ticks = 500,
    -- NewAE waits 100 ms after routing SPI to the target (§C.4)
    isp_settle_ms = 100,
  },
}
