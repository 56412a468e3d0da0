-- SPDX-License-Identifier: MIT
-- targets/xmega.lua: ATxmega over PDI through the board's XPROG engine (target-protocols.md §B).
-- Parts and aliases per contract.md §3: CWLITEXMEGA (the CW-Lite's own target), CW303 and
-- CW308_XMEGA carry an ATxmega128D4. The engine protocol is cwlua.proto.xprog, the part data
-- cwlua.proto.xmegaparts, and the steps every XMEGA shares are in cwlua.xmega.
local xmega = require "cwlua.xmega"

return xmega.recipe {
  api = 1,
  name = "xmega",
  summary = "ATxmega over PDI through the board's XPROG engine",
  part = "atxmega128d4",
  parts = { "atxmega128d4", "atxmega16a4" },
  aliases = { CWLITEXMEGA = "atxmega128d4", CW303 = "atxmega128d4",
              CW308_XMEGA = "atxmega128d4" },
  rig = "cw308",
  -- avr-gcc's layout of an XMEGA ELF or HEX (contract.md §3): .eeprom, .fuse (FUSEBYTE0..5),
  -- .lock; the flash from 0 (§D: NewAE writes the image from address 0)
  regions = {
    eeprom = { addr = 0x810000 },
    fuses = { addr = 0x820000, names = { "fuse0", "fuse1", "fuse2", "fuse3", "fuse4", "fuse5" } },
    lock = { addr = 0x830000 },
  },
  defaults = {
    flash_start = 0,          -- where a raw .bin goes without --base
    -- the engine's timeout for each command: the board's power-on value, 500 ticks = 200 ms
    -- (§1), so cwlua leaves the shared counter as a fresh board has it; NewAE sets 100 ms
    -- (§B.3). A chip erase that outlasts it is waited for (cwlua.xmega).
    engine_timeout_ms = 200,
    reset_pin = "pdic",       -- the XMEGA's /RESET is PDI_CLK (§1.1, §1.2): cwlua reset xmega
    -- program erases the whole application section with one command when the image has bytes
    -- in it ("pages": only the pages the image touches, one command each; cwlua.xmega)
    app_erase = "section",
  },
}
