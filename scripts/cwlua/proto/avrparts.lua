-- SPDX-License-Identifier: MIT
-- cwlua.proto.avrparts: the ATmega parts cwlua programs over ISP, by signature.
-- Signatures, flash/EEPROM sizes and pages: docs/reference/target-protocols.md §C.6 (NewAE's
-- supported_avr). Fuse layouts: the ATmega48A/PA/88A/PA/168A/PA/328/P datasheet (Atmel-8271,
-- "Memory Programming" → "Fuse Bits": Fuse Low Byte, Fuse High Byte, Extended Fuse Byte, Lock
-- Bit Byte; 0 = programmed). Clock sources: the same datasheet, "System Clock and Clock
-- Options", Table "Device Clocking Options Select" (CKSEL3..0).
local M = {}

-- The fuse bytes in address order: avr-gcc's .fuse section holds them at offsets 0, 1, 2
-- (targets/avr.lua regions), the names --fuse takes.
M.FUSE_NAMES = { "low", "high", "ext" }

-- Bits each byte implements; unimplemented bits read 1 and must be written 1.
local MASKS = {
  m328 = { low = 0xFF, high = 0xFF, ext = 0x07, lock = 0x3F },
  m168 = { low = 0xFF, high = 0xFF, ext = 0x07, lock = 0x3F },
  m48 = { low = 0xFF, high = 0xFF, ext = 0x01, lock = 0x03 },
}

-- name, device, signature, flash bytes, flash page bytes, EEPROM bytes, EEPROM page bytes,
-- fuse family (§C.6 rows for the 48/88/168/328 family)
local PARTS = {
  { "atmega328p", "ATmega328P", "\x1E\x95\x0F", 32768, 128, 1024, 4, "m328" },
  { "atmega328", "ATmega328", "\x1E\x95\x14", 32768, 128, 1024, 4, "m328" },
  { "atmega168pa", "ATmega168PA", "\x1E\x94\x0B", 16384, 128, 512, 4, "m168" },
  { "atmega168a", "ATmega168A", "\x1E\x94\x06", 16384, 128, 512, 4, "m168" },
  { "atmega88pa", "ATmega88PA", "\x1E\x93\x0F", 8192, 64, 512, 4, "m168" },
  { "atmega88a", "ATmega88A", "\x1E\x93\x0A", 8192, 64, 512, 4, "m168" },
  { "atmega48pa", "ATmega48PA", "\x1E\x92\x0A", 4096, 64, 256, 4, "m48" },
  { "atmega48a", "ATmega48A", "\x1E\x92\x05", 4096, 64, 256, 4, "m48" },
}

M.BY_NAME, M.BY_SIGNATURE, M.LIST = {}, {}, {}
for _, p in ipairs(PARTS) do
  local part = { name = p[1], device = p[2], signature = p[3], flash_size = p[4],
                 flash_page = p[5], eeprom_size = p[6], eeprom_page = p[7], family = p[8],
                 masks = MASKS[p[8]] }
  M.BY_NAME[part.name] = part
  M.BY_SIGNATURE[part.signature] = part
  M.LIST[#M.LIST + 1] = part
end

-- Fuse high byte bits shared by the family (0 = programmed)
M.HIGH_RSTDISBL, M.HIGH_DWEN, M.HIGH_SPIEN, M.HIGH_EESAVE = 0x80, 0x40, 0x20, 0x08
M.LOW_CKDIV8, M.LOW_CKSEL = 0x80, 0x0F

-- CKSEL3..0 (datasheet "Device Clocking Options Select"); rig: whether a CW308 AVR target has
-- that source (it has no crystal or resonator: UNCONFIRMED for every target board)
M.CLOCK_SOURCES = {
  [0x0] = { name = "external clock on XTAL1 (the board's HS2)", rig = true },
  [0x1] = { name = "reserved", rig = false },
  [0x2] = { name = "calibrated internal 8 MHz RC oscillator", rig = true },
  [0x3] = { name = "internal 128 kHz RC oscillator", rig = true, slow = true },
  [0x4] = { name = "low-frequency crystal", rig = false },
  [0x5] = { name = "low-frequency crystal", rig = false },
  [0x6] = { name = "full-swing crystal", rig = false },
  [0x7] = { name = "full-swing crystal", rig = false },
}
for v = 0x8, 0xF do M.CLOCK_SOURCES[v] = { name = "low-power crystal", rig = false } end

--- avrparts.hex(bytes) -> "1E 95 0F"
function M.hex(s)
  return (s:gsub(".", function(c) return ("%02X "):format(c:byte()) end):gsub(" $", ""))
end

return M
