-- SPDX-License-Identifier: MIT
-- targets/stm32l1.lua: STM32L1 through the ROM UART bootloader (ST AN3155).
-- Chip IDs: the L1 rows of docs/reference/target-protocols.md §A.6 (0x416 category 1,
-- 0x429 category 2, 0x427 xC, 0x436 xD, 0x437 xE). 0x416 is an L1: the ChipWhisperer's list
-- calls it "STM32F10xxx XL-density", which is wrong (§A.6 notes; F1 XL is 0x430). No PLATFORM
-- alias names an L1 in the documents. Shared steps: cwlua.stm32.
-- What is the L1's own:
--  * its flash erases to 0x00, not 0xFF [ext: RM0038], so writes are padded with 0x00 and a
--    gap in an image reads 0x00;
--  * no mass erase (§A.6 notes): --chip erases every page in Extended Erase lists of at most
--    511 pages, as stm32flash 0.7 does (§A.10);
--  * the flash-size register is at 0x1FF8004C or 0x1FF800CC by category, and the xD reads
--    0/1 for 384/256 KiB [ext: RM0038] (cwlua.proto.stm32devices).
local stm32 = require "cwlua.stm32"

return stm32.recipe {
  api = 1,
  name = "stm32l1",
  summary = "STM32L1 through the ROM UART bootloader (AN3155)",
  part = "stm32l151xb",
  parts = { "stm32l151xb" },
  chips = { 0x416, 0x429, 0x427, 0x436, 0x437 },
  rig = "cw308",
  defaults = {
    bauds = { 115200, 57600, 38400, 19200 }, -- AN3155 autobaud range (§A.3)
    boot_pin = "pdic",                         -- BOOT0 on the CW308 (§A.2)
    reset_pin = "nrst",
    reset_ms = 10,                             -- NewAE's nRST low time (§A.2)
    flash_start = 0x08000000,
    erased = 0x00,       -- [ext] RM0038: erased flash reads 0x00; the fill of padding and gaps
    mass_erase = false,  -- §A.6 notes: no mass erase; erase page lists instead (§A.10)
    write_unit = 4,      -- Write Memory takes words (§A.4)
    -- typical flash times [ext, L151 datasheet; §A.7b covers only the F-series]: 3.2 ms per
    -- page erase and per half-page (128 bytes) written
    timing = { program_ns_per_byte = 25000, page_erase_ns = 3.2e6 },
  },
}
