-- SPDX-License-Identifier: MIT
-- targets/stm32f1.lua: STM32F1 through the ROM UART bootloader (ST AN3155).
-- Parts and aliases per contract.md §3 (CW308_STM32F1 carries an STM32F100); chip IDs are the F1
-- rows of docs/reference/target-protocols.md §A.6. The bootloader protocol and the entry
-- sequence shared by all STM32 families are in cwlua.stm32; this file holds what is F1's own.
local stm32 = require "cwlua.stm32"

return stm32.recipe {
  api = 1,
  name = "stm32f1",
  summary = "STM32F1 through the ROM UART bootloader (AN3155)",
  part = "stm32f100xb",
  parts = { "stm32f100xb", "stm32f103xb" },
  aliases = { CW308_STM32F1 = "stm32f100xb" },
  -- Low-, medium-, high-density, value lines, connectivity line, XL-density (§A.6).
  chips = { 0x412, 0x410, 0x414, 0x420, 0x428, 0x418, 0x430 },
  rig = "cw308",
  defaults = {
    -- AN3155 autobauds from 1200 to 115200 (§A.3); fastest first, slower ones for long or
    -- noisy lines.
    bauds = { 115200, 57600, 38400, 19200 },
    -- NewAE's advice for the F1 on a CW308: 8 MHz while programming, back to 7.37 MHz after
    -- (§A.7; the snapshot restores whatever the board had).
    program_clock_hz = 8e6,
    boot_pin = "pdic",  -- BOOT0 on the CW308 (§A.2)
    reset_pin = "nrst",
    reset_ms = 10,      -- nRST low time of NewAE's entry sequence (§A.2)
    flash_start = 0x08000000,
    -- typical flash times (target-protocols.md §A.7b: 52.5 µs per half-word, 20 ms per page and
    -- per mass erase), so the engine waits for an answer only when it can exist
    timing = { program_ns_per_byte = 26250, page_erase_ns = 20e6, mass_erase_ns = 20e6 },
  },
}
