-- SPDX-License-Identifier: MIT
-- targets/stm32l0.lua: STM32L0 through the ROM UART bootloader (ST AN3155).
-- Chip IDs: the L0 row whose geometry docs/reference/target-protocols.md §A.6 gives (0x417,
-- STM32L05xxx/06xxx; stm32flash 0.7's other L0 IDs 0x457, 0x425, 0x447 have no row there).
-- No ChipWhisperer PLATFORM alias names an L0 in the documents. Shared steps: cwlua.stm32.
-- What is the L0's own:
--  * its flash erases to 0x00, not 0xFF [ext: RM0377 "erased state"], so writes are padded
--    with 0x00 and a gap in an image reads 0x00;
--  * no mass erase (§A.6 notes, stm32flash 0.7 "no mass erase"): --chip erases every page in
--    Extended Erase lists of at most 511 pages, as stm32flash 0.7 does (§A.10).
local stm32 = require "cwlua.stm32"

return stm32.recipe {
  api = 1,
  name = "stm32l0",
  summary = "STM32L0 through the ROM UART bootloader (AN3155)",
  part = "stm32l051x8",
  parts = { "stm32l051x8" },
  chips = { 0x417 },
  rig = "cw308",
  defaults = {
    bauds = { 115200, 57600, 38400, 19200 }, -- AN3155 autobaud range (§A.3)
    boot_pin = "pdic",                         -- BOOT0 on the CW308 (§A.2)
    reset_pin = "nrst",
    reset_ms = 10,                             -- NewAE's nRST low time (§A.2)
    flash_start = 0x08000000,
    erased = 0x00,       -- [ext] RM0377: erased flash reads 0x00; the fill of padding and gaps
    mass_erase = false,  -- §A.6 notes: no mass erase; erase page lists instead (§A.10)
    write_unit = 4,      -- Write Memory takes words (§A.4)
    -- typical flash times [ext, L051 datasheet; §A.7b covers only the F-series]: 3.2 ms per
    -- page erase and per half-page (64 bytes) written
    timing = { program_ns_per_byte = 50000, page_erase_ns = 3.2e6 },
  },
}
