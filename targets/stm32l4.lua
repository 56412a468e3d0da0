-- SPDX-License-Identifier: MIT
-- targets/stm32l4.lua: STM32L4 through the ROM UART bootloader (ST AN3155).
-- Chip IDs: the L4 row whose geometry docs/reference/target-protocols.md §A.6 gives (0x435,
-- STM32L43xxx/44xxx: NewAE's L4 target, the STM32L433RC/L443, which the ChipWhisperer's own
-- list does not know; stm32flash 0.7's other L4 IDs have no row there). No PLATFORM alias
-- names it in the documents. Shared steps: cwlua.stm32.
-- What is the L4's own: flash is programmed in 64-bit double words [ext: RM0394],
-- so every write block is padded to a multiple of 8 bytes (with 0xFF, the erased value): the
-- simulator refuses anything else, and whether the ROM would pad it instead is UNCONFIRMED.
-- Mass erase works (Extended Erase FF FF 00).
local stm32 = require "cwlua.stm32"

return stm32.recipe {
  api = 1,
  name = "stm32l4",
  summary = "STM32L4 through the ROM UART bootloader (AN3155)",
  part = "stm32l433xc",
  parts = { "stm32l433xc" },
  chips = { 0x435 },
  rig = "cw308",
  defaults = {
    bauds = { 115200, 57600, 38400, 19200 }, -- AN3155 autobaud range (§A.3)
    boot_pin = "pdic",                         -- BOOT0 on the CW308 (§A.2)
    reset_pin = "nrst",
    reset_ms = 10,                             -- NewAE's nRST low time (§A.2)
    flash_start = 0x08000000,
    erased = 0xFF,
    write_unit = 8,      -- [ext] RM0394: double-word programming
    -- typical flash times [ext, STM32L433 datasheet; §A.7b covers only the F-series]:
    -- 81.69 µs per double word, 22 ms per 2 KiB page and per mass erase
    timing = { program_ns_per_byte = 10000, page_erase_ns = 22e6, mass_erase_ns = 22e6 },
  },
}
