-- SPDX-License-Identifier: MIT
-- targets/stm32f0.lua: STM32F0 through the ROM UART bootloader (ST AN3155).
-- Parts and aliases per contract.md §3 (CW308_STM32F0 is an F071, CWNANO's target an F030); chip
-- IDs are the F0 rows of docs/reference/target-protocols.md §A.6. Shared STM32 steps: cwlua.stm32.
local stm32 = require "cwlua.stm32"

return stm32.recipe {
  api = 1,
  name = "stm32f0",
  summary = "STM32F0 through the ROM UART bootloader (AN3155)",
  part = "stm32f071xb",
  parts = { "stm32f030x6", "stm32f051x8", "stm32f071xb" },
  chips = { 0x440, 0x444, 0x442, 0x445, 0x448 },
  aliases = { CW308_STM32F0 = "stm32f071xb", CWNANO = "stm32f030x6" },
  rig = "cw308",
  defaults = {
    bauds = { 115200, 57600, 38400, 19200 }, -- AN3155 autobaud range (§A.3)
    boot_pin = "pdic",                         -- BOOT0 on the CW308 (§A.2)
    reset_pin = "nrst",
    reset_ms = 10,                             -- NewAE's nRST low time (§A.2)
    flash_start = 0x08000000,
    -- typical flash times (§A.7b, F0/F1/F3: 52.5 µs per half-word, 20 ms per page)
    timing = { program_ns_per_byte = 26250, page_erase_ns = 20e6, mass_erase_ns = 20e6 },
  },
}
