-- SPDX-License-Identifier: MIT
-- cwlua.proto.xmegaparts: the ATxmega parts cwlua programs, as data.
-- Signatures, flash and EEPROM sizes: docs/reference/target-protocols.md §B.4 (NewAE's
-- supported_xmega). The section layout is the datasheets' [ext] (NewAE's "boot" entries point at
-- the end of flash and look wrong, §B.4). Page sizes: flash 0x100, EEPROM 0x20 (§B.4).
-- Fuse bytes, their bits and what they do, and the chip-erase time are [ext] (Atmel XMEGA A and
-- D manuals, A4/D4 datasheets; not in the documents): UNCONFIRMED. The simulator's table
-- (sim/xmega/xmega_parts.c) holds the same facts.
local M = {}

local KIB = 1024

-- Fuse bits by byte [ext XMEGA A/D manuals, "Fuses and lock bits"]: name, mask. A byte a part
-- lacks is absent from its `fuses`; bits it lacks must stay 1.
M.FUSE_BITS = {
  fuse0 = { { "JTAGUSERID", 0xFF } },
  fuse1 = { { "WDWP", 0xF0 }, { "WDP", 0x0F } },
  fuse2 = { { "BOOTRST", 0x40 }, { "BODPD", 0x03 } },
  fuse4 = { { "RSTDISBL", 0x10 }, { "STARTUPTIME", 0x0C }, { "WDLOCK", 0x02 },
            { "JTAGEN", 0x01 } },
  fuse5 = { { "BODACT", 0x30 }, { "EESAVE", 0x08 }, { "BODLEVEL", 0x07 } },
}
M.FUSE_ORDER = { "fuse0", "fuse1", "fuse2", "fuse3", "fuse4", "fuse5" } -- 0x08F0020 + n (§B.4)

-- Lock bits [ext]: LB[1:0] guard the programming interface (PDI); the boot-loader lock bits
-- BLBB[7:6], BLBA[5:4], BLBAT[3:2] guard the CPU's own reads and writes.
M.LOCK_BITS = { { "BLBB", 0xC0 }, { "BLBA", 0x30 }, { "BLBAT", 0x0C }, { "LB", 0x03 } }
M.LB = { [3] = "no lock", [2] = "write lock", [1] = "reserved", [0] = "read and write lock" }

M.PARTS = {
  {
    name = "atxmega128d4", device = "ATxmega128D4", signature = "\x1E\x97\x47",
    app_size = 128 * KIB, boot_size = 8 * KIB, flash_page = 256,
    eeprom_size = 2 * KIB, eeprom_page = 32,
    -- D series: no JTAG, so no fuse0 and no JTAGEN [ext]
    fuses = { fuse1 = 0xFF, fuse2 = 0x43, fuse4 = 0x1E, fuse5 = 0x3F },
    chip_erase_ms = 75, -- [ext] 128 KiB parts
  },
  {
    name = "atxmega16a4", device = "ATxmega16A4", signature = "\x1E\x94\x41",
    app_size = 16 * KIB, boot_size = 4 * KIB, flash_page = 256,
    eeprom_size = 1 * KIB, eeprom_page = 32,
    fuses = { fuse0 = 0xFF, fuse1 = 0xFF, fuse2 = 0x43, fuse4 = 0x1F, fuse5 = 0x3F },
    chip_erase_ms = 45, -- [ext] 16 KiB parts
  },
}

-- Other signatures from NewAE's table (§B.4), named in messages only.
M.OTHER = { ["\x1E\x97\x46"] = "ATxmega128A4U", ["\x1E\x97\x42"] = "ATxmega128A3U" }

M.BY_NAME, M.BY_SIGNATURE = {}, {}
for _, p in ipairs(M.PARTS) do
  M.BY_NAME[p.name] = p
  M.BY_SIGNATURE[p.signature] = p
end

--- xmegaparts.fuse_names(part) -> the part's fuse byte names in address order
function M.fuse_names(part)
  local out = {}
  for _, n in ipairs(M.FUSE_ORDER) do
    if part.fuses[n] then out[#out + 1] = n end
  end
  return out
end

--- xmegaparts.describe(name, value [, valid]) -> "BOOTRST=0 BODPD=3" (the fields of a fuse or
-- lock byte; valid: the bits the part has)
function M.describe(name, value, valid)
  local bits = name == "lock" and M.LOCK_BITS or M.FUSE_BITS[name] or {}
  local out = {}
  for _, b in ipairs(bits) do
    local mask, shift = b[2] & (valid or 0xFF), 0
    if mask == 0 then goto next end
    while mask & (1 << shift) == 0 do shift = shift + 1 end
    while mask & (1 << shift) == 0 do shift = shift + 1 end
    out[#out + 1] = ("%s=%d"):format(b[1], (value & mask) >> shift)
    ::next::
  end
  return table.concat(out, " ")
end

return M
