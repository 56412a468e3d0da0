-- SPDX-License-Identifier: MIT
-- targets/stm32f4.lua: STM32F4 through the ROM UART bootloader (ST AN3155).
-- Parts and aliases per contract.md §3 (CW308_STM32F4 carries an STM32F415); chip IDs are the
-- F4 rows of docs/reference/target-protocols.md §A.6. Flash is in sectors (16, 16, 16, 16, 64, then
-- 128 KiB), which Extended Erase numbers; erasing them takes seconds, not milliseconds.
local stm32 = require "cwlua.stm32"

return stm32.recipe {
  api = 1,
  name = "stm32f4",
  summary = "STM32F4 through the ROM UART bootloader (AN3155)",
  part = "stm32f415xg",
  parts = { "stm32f415xg" },
  chips = { 0x413, 0x419, 0x423, 0x433 },
  aliases = { CW308_STM32F4 = "stm32f415xg" },
  rig = "cw308",
  defaults = {
    bauds = { 115200, 57600, 38400, 19200 }, -- AN3155 autobaud range (§A.3)
    boot_pin = "pdic",                         -- BOOT0 on the CW308 (§A.2)
    reset_pin = "nrst",
    reset_ms = 10,
    flash_start = 0x08000000,
    -- typical flash times (§A.7b, F2/F4 at 2.7-3.6 V: ~16 µs per word, a 16 KiB sector
    -- ~0.4 s, mass erase ~16 s per MiB)
    timing = { program_ns_per_byte = 4000, page_erase_ns = 400e6, mass_erase_ns = 16e9 },
    -- NewAE allows 1000 s for an F2/F4 mass erase (§A.5), stm32flash 35 s (§A.10). A 128 KiB
    -- sector takes ~2 s and 1 MiB ~16 s (§A.7b); a chip ten times slower than typical must
    -- still work (contract.md §5 slow-erase): 30 s a sector, 300 s for a mass erase.
    timeout = { page_erase = 30000, mass_erase = 300000 },
  },
}
