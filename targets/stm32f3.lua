-- SPDX-License-Identifier: MIT
-- targets/stm32f3.lua: STM32F3 through the ROM UART bootloader (ST AN3155).
-- Parts and aliases per contract.md §3 (CWLITEARM, the CW-Lite's own ARM target, is an STM32F303);
-- chip IDs are the F3 rows of docs/reference/target-protocols.md §A.6.
local stm32 = require "cwlua.stm32"

return stm32.recipe {
  api = 1,
  name = "stm32f3",
  summary = "STM32F3 through the ROM UART bootloader (AN3155)",
  part = "stm32f303xc",
  parts = { "stm32f303xc" },
  chips = { 0x432, 0x422, 0x439, 0x438, 0x446 },
  aliases = { CW308_STM32F3 = "stm32f303xc", CWLITEARM = "stm32f303xc" },
  rig = "cw308",
  defaults = {
    bauds = { 115200, 57600, 38400, 19200 }, -- AN3155 autobaud range (§A.3)
    boot_pin = "pdic",                         -- BOOT0 on the CW308 and the CW-Lite ARM (§A.2)
    reset_pin = "nrst",
    reset_ms = 10,
    flash_start = 0x08000000,
    timing = { program_ns_per_byte = 26250, page_erase_ns = 20e6, mass_erase_ns = 20e6 },
  },
}
