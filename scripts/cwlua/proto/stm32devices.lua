-- SPDX-License-Identifier: MIT
-- cwlua.proto.stm32devices: STM32 parts by the product ID their bootloader reports (Get ID).
-- Data from docs/reference/target-protocols.md §A.6 (ChipWhisperer's list merged with
-- stm32flash 0.7's dev_table.c; the 0.4 values are not used). Addresses: flash, RAM and
-- system-memory ends are exclusive, the option-byte end is inclusive, as in §A.6.
-- flash_size is the largest part sharing the ID ("up to"); the chip's own flash-size register
-- (fsize_addr, 16 bits in KiB) gives the real size. fsize_addr is from the reference manuals
-- [ext]: RM0091/RM0316 (F0/F3) 0x1FFFF7CC, RM0008/RM0041 (F1) 0x1FFFF7E0, RM0033/RM0090
-- (F2/F4) 0x1FFF7A22, RM0377 (L0) 0x1FF8007C, RM0038 (L1) 0x1FF8004C on categories 1 and 2
-- (0x416, 0x429) and 0x1FF800CC from category 3 on, RM0394 (L4) 0x1FFF75E0.
local M = {}

local K = 1024
local F0F3_FSIZE, F1_FSIZE, F2F4_FSIZE = 0x1FFFF7CC, 0x1FFFF7E0, 0x1FFF7A22
local L0_FSIZE, L1_FSIZE_CAT12, L1_FSIZE_CAT3, L4_FSIZE = 0x1FF8007C, 0x1FF8004C, 0x1FF800CC,
  0x1FFF75E0
local OB_F0F1F3 = { 0x1FFFF800, 0x1FFFF80F }
local OB_F2F4 = { 0x1FFFC000, 0x1FFFC00F }
-- §A.6: L0 and L1 option bytes from 0x1FF80000 to 0x1FF8001F, to 0x1FF8009F on the L1 xD/xE
local OB_L01 = { 0x1FF80000, 0x1FF8001F }
local OB_L1_DE = { 0x1FF80000, 0x1FF8009F }
-- §A.6 gives the L4 option bytes as 0x1FFF7800-0x1FFF780F (stm32flash's table: OPTR and
-- PCROP1SR); the write-protection areas WRP1AR/WRP1BR follow at 0x1FFF7818/0x1FFF7820 [ext
-- RM0394], so cwlua reads up to 0x1FFF7827.
local OB_L4 = { 0x1FFF7800, 0x1FFF7827 }
local SYS_L01_4K, SYS_L1_8K, SYS_L4 = { 0x1FF00000, 0x1FF01000 }, { 0x1FF00000, 0x1FF02000 },
  { 0x1FFF0000, 0x1FFF7000 }

-- F2/F4 sectors (§A.6 notes): 4 x 16 KiB, 1 x 64 KiB, then 128 KiB repeated.
local F2F4_SECTORS = { 16 * K, 16 * K, 16 * K, 16 * K, 64 * K, 128 * K }
-- F42x/43x, stm32flash 0.7's "F4 dual-bank sectors" (§A.6 notes): 16 x 4, 64, 128 x 3, then
-- 16 x 4, 64, and 128 KiB repeated.
local F4_DUAL = { 16 * K, 16 * K, 16 * K, 16 * K, 64 * K, 128 * K, 128 * K, 128 * K,
                  16 * K, 16 * K, 16 * K, 16 * K, 64 * K, 128 * K }

local function row(pid, family, name, flash_kib, page, ram, ob, sys, fsize_addr, sectors)
  return { pid = pid, family = family, name = name, flash_start = 0x08000000,
           flash_size = flash_kib * K, page_size = page, sectors = sectors,
           pps = sectors and 1 or M.PPS[pid], -- erase units per write-protect sector (§A.6)
           ram_start = ram[1], ram_end = ram[2], ob_start = ob[1], ob_end = ob[2],
           sys_start = sys[1], sys_end = sys[2], fsize_addr = fsize_addr }
end

-- "page × pps" of §A.6: pages per write-protect sector (F2/F4: one sector each).
M.PPS = { [0x440] = 4, [0x444] = 4, [0x442] = 2, [0x445] = 4, [0x448] = 2, [0x412] = 4,
          [0x410] = 4, [0x414] = 2, [0x420] = 4, [0x428] = 2, [0x418] = 2, [0x430] = 2,
          [0x432] = 2, [0x422] = 2, [0x439] = 2, [0x438] = 2, [0x446] = 2,
          [0x417] = 32, [0x416] = 16, [0x429] = 16, [0x427] = 16, [0x436] = 16, [0x437] = 16,
          [0x435] = 1 }

-- The option-byte words of the L parts, each value stored with its complement [ext]:
-- L0/L1 32-bit words, the 16-bit value in the low half-word and its complement in the high
-- half (RM0377/RM0038); L4 double words, the 32-bit value then its complement (RM0394,
-- UNCONFIRMED). A value whose complement does not match reads as all ones (the simulator's
-- rule, docs/simulator-stm32.md; on the chip an option-byte error).
local function l01_value(ob, off)
  if #ob < off + 4 then return nil end
  local v, n = string.unpack("<I2I2", ob, off + 1)
  return v ~ n == 0xFFFF and v or 0xFFFF
end

local function l4_value(ob, off)
  if #ob < off + 8 then return nil end
  local v, n = string.unpack("<I4I4", ob, off + 1)
  return v ~ n == 0xFFFFFFFF and v or 0xFFFFFFFF
end

-- L0/L1 WRP words, sixteen 4 KiB sectors each: WRP1 at 0x1FF80008 and WRP2 at 0x1FF8000C
-- [ext RM0377/RM0038]; WRP3/WRP4 at 0x1FF80010/0x1FF80014 (L1 xC/xD/xE) and the xD/xE's
-- further words from 0x1FF80080 are UNCONFIRMED (no part of the simulator has them).
local function l01_wrp_off(k)
  return k < 4 and 8 + 4 * k or 0x80 + 4 * (k - 4)
end

local function sector_count(dev)
  return dev.flash_size // (dev.page_size * dev.pps)
end

--- stm32devices.protection(dev, ob) -> write-protected sector numbers (a list) from the
-- option bytes as the chip stores them [ext: RM0008/RM0091/RM0316 "Option bytes"; RM0033/RM0090
-- "Option bytes"; RM0377/RM0038/RM0394 for the L parts]. F0/F1/F3: WRP0..WRP3 at offsets 8,
-- 10, 12, 14, each followed by its complement, a 0 bit protects its sector, a byte whose
-- complement does not match protects nothing. F2/F4: nWRP, 16 bits little-endian at offset 8,
-- a 0 bit protects its sector. L0/L1: WRP words from offset 8, a SET bit protects its sector.
-- L4: page ranges WRP1AR (offset 0x18) and WRP1BR (0x20).
function M.protection(dev, ob)
  local list = {}
  if dev.family == "l0" or dev.family == "l1" then
    -- [ext RM0377/RM0038] a WRP bit SET protects its sector (the opposite of the F-series)
    local n = sector_count(dev)
    for k = 0, (n - 1) // 16 do
      local v = l01_value(ob, l01_wrp_off(k)) or 0
      for bit = 0, 15 do
        if v & (1 << bit) ~= 0 and k * 16 + bit < n then list[#list + 1] = k * 16 + bit end
      end
    end
    return list
  end
  if dev.family == "l4" then
    -- [ext RM0394] two areas, WRP1AR and WRP1BR: pages STRT (bits 7:0) to END (bits 23:16)
    -- are protected when STRT <= END
    local seen = {}
    for _, off in ipairs({ 0x18, 0x20 }) do
      local v = l4_value(ob, off) or 0xFF
      local strt, stop = v & 0xFF, (v >> 16) & 0xFF
      for p = strt, math.min(stop, sector_count(dev) - 1) do seen[p] = true end
    end
    for p = 0, sector_count(dev) - 1 do
      if seen[p] then list[#list + 1] = p end
    end
    return list
  end
  if dev.sectors then
    local nwrp = string.unpack("<I2", ob, 9)
    for n = 0, 11 do
      if nwrp & (1 << n) == 0 then list[#list + 1] = n end
    end
    return list
  end
  for i = 0, 3 do
    local v, nv = ob:byte(9 + 2 * i), ob:byte(10 + 2 * i)
    if v ~ nv == 0xFF then
      for bit = 0, 7 do
        if v & (1 << bit) == 0 then list[#list + 1] = i * 8 + bit end
      end
    end
  end
  return list
end

--- stm32devices.read_protected(dev, ob) -> true when the option bytes set read protection
-- (F0/F3 key 0xAA, F1 0xA5 with its complement; F2/F4 RDP 0xAA at offset 1 means none; L0,
-- L1, L4: RDP 0xAA in byte 0 of the first option word, with its complement [ext]).
function M.read_protected(dev, ob)
  if dev.family == "l0" or dev.family == "l1" then return (l01_value(ob, 0) or 0) & 0xFF ~= 0xAA end
  if dev.family == "l4" then return (l4_value(ob, 0) or 0) & 0xFF ~= 0xAA end
  if dev.sectors then return ob:byte(2) ~= 0xAA end
  local key = dev.family == "f1" and 0xA5 or 0xAA
  return not (ob:byte(1) == key and ob:byte(2) == key ~ 0xFF)
end

M.BY_PID = {}
for _, d in ipairs({
  -- pid    family  stm32flash 0.7 name                    flash page    RAM
  row(0x440, "f0", "STM32F030x8/F05xxx", 64, 1 * K, { 0x20000800, 0x20002000 }, OB_F0F1F3,
    { 0x1FFFEC00, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x444, "f0", "STM32F03xx4/6", 32, 1 * K, { 0x20000800, 0x20001000 }, OB_F0F1F3,
    { 0x1FFFEC00, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x442, "f0", "STM32F030xC/F09xxx", 256, 2 * K, { 0x20001800, 0x20008000 }, OB_F0F1F3,
    { 0x1FFFD800, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x445, "f0", "STM32F04xxx/F070x6", 32, 1 * K, { 0x20001800, 0x20001800 }, OB_F0F1F3,
    { 0x1FFFC400, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x448, "f0", "STM32F070xB/F071xx/F72xx", 128, 2 * K, { 0x20001800, 0x20004000 },
    OB_F0F1F3, { 0x1FFFC800, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x412, "f1", "STM32F10xxx Low-density", 32, 1 * K, { 0x20000200, 0x20002800 }, OB_F0F1F3,
    { 0x1FFFF000, 0x1FFFF800 }, F1_FSIZE),
  row(0x410, "f1", "STM32F10xxx Medium-density", 128, 1 * K, { 0x20000200, 0x20005000 },
    OB_F0F1F3, { 0x1FFFF000, 0x1FFFF800 }, F1_FSIZE),
  row(0x414, "f1", "STM32F10xxx High-density", 512, 2 * K, { 0x20000200, 0x20010000 },
    OB_F0F1F3, { 0x1FFFF000, 0x1FFFF800 }, F1_FSIZE),
  row(0x420, "f1", "STM32F10xxx Medium-density VL", 128, 1 * K, { 0x20000200, 0x20002000 },
    OB_F0F1F3, { 0x1FFFF000, 0x1FFFF800 }, F1_FSIZE),
  row(0x428, "f1", "STM32F10xxx High-density VL", 512, 2 * K, { 0x20000200, 0x20008000 },
    OB_F0F1F3, { 0x1FFFF000, 0x1FFFF800 }, F1_FSIZE),
  row(0x418, "f1", "STM32F105xx/F107xx", 256, 2 * K, { 0x20001000, 0x20010000 }, OB_F0F1F3,
    { 0x1FFFB000, 0x1FFFF800 }, F1_FSIZE),
  row(0x430, "f1", "STM32F10xxx XL-density", 1024, 2 * K, { 0x20000800, 0x20018000 }, OB_F0F1F3,
    { 0x1FFFE000, 0x1FFFF800 }, F1_FSIZE),
  row(0x411, "f2", "STM32F2xxxx", 1024, nil, { 0x20002000, 0x20020000 }, OB_F2F4,
    { 0x1FFF0000, 0x1FFF7800 }, F2F4_FSIZE, F2F4_SECTORS),
  row(0x432, "f3", "STM32F373xx/F378xx", 256, 2 * K, { 0x20001400, 0x20008000 }, OB_F0F1F3,
    { 0x1FFFD800, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x422, "f3", "STM32F302xB(C)/F303xB(C)/F358xx", 256, 2 * K, { 0x20001400, 0x2000A000 },
    OB_F0F1F3, { 0x1FFFD800, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x439, "f3", "STM32F301xx/F302x4(6/8)/F318xx", 64, 2 * K, { 0x20001800, 0x20004000 },
    OB_F0F1F3, { 0x1FFFD800, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x438, "f3", "STM32F303x4(6/8)/F334xx/F328xx", 64, 2 * K, { 0x20001800, 0x20003000 },
    OB_F0F1F3, { 0x1FFFD800, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x446, "f3", "STM32F302xD(E)/F303xD(E)/F398xx", 512, 2 * K, { 0x20001800, 0x20010000 },
    OB_F0F1F3, { 0x1FFFD800, 0x1FFFF800 }, F0F3_FSIZE),
  row(0x413, "f4", "STM32F40xxx/41xxx", 1024, nil, { 0x20003000, 0x20020000 }, OB_F2F4,
    { 0x1FFF0000, 0x1FFF7800 }, F2F4_FSIZE, F2F4_SECTORS),
  row(0x419, "f4", "STM32F42xxx/43xxx", 2048, nil, { 0x20003000, 0x20030000 },
    { 0x1FFEC000, 0x1FFFC00F }, { 0x1FFF0000, 0x1FFF7800 }, F2F4_FSIZE, F4_DUAL),
  row(0x423, "f4", "STM32F401xB(C)", 256, nil, { 0x20003000, 0x20010000 }, OB_F2F4,
    { 0x1FFF0000, 0x1FFF7800 }, F2F4_FSIZE, F2F4_SECTORS),
  row(0x433, "f4", "STM32F401xD(E)", 512, nil, { 0x20003000, 0x20018000 }, OB_F2F4,
    { 0x1FFF0000, 0x1FFF7800 }, F2F4_FSIZE, F2F4_SECTORS),
  -- L0, L1 (0x416 is an L1: the CW's "F10xxx XL-density" label is wrong, §A.6 notes), L4
  row(0x417, "l0", "STM32L05xxx/06xxx", 64, 128, { 0x20001000, 0x20002000 }, OB_L01,
    SYS_L01_4K, L0_FSIZE),
  row(0x416, "l1", "STM32L1xxx6(8/B)", 128, 256, { 0x20000800, 0x20004000 }, OB_L01,
    SYS_L01_4K, L1_FSIZE_CAT12),
  row(0x429, "l1", "STM32L1xxx6(8/B)A", 128, 256, { 0x20001000, 0x20008000 }, OB_L01,
    SYS_L01_4K, L1_FSIZE_CAT12),
  row(0x427, "l1", "STM32L1xxxC", 256, 256, { 0x20001000, 0x20008000 }, OB_L01, SYS_L1_8K,
    L1_FSIZE_CAT3),
  row(0x436, "l1", "STM32L1xxxD", 384, 256, { 0x20001000, 0x2000C000 }, OB_L1_DE, SYS_L1_8K,
    L1_FSIZE_CAT3),
  row(0x437, "l1", "STM32L1xxxE", 512, 256, { 0x20001000, 0x20014000 }, OB_L1_DE, SYS_L1_8K,
    L1_FSIZE_CAT3),
  row(0x435, "l4", "STM32L43xxx/44xxx", 256, 2 * K, { 0x20003100, 0x2000C000 }, OB_L4, SYS_L4,
    L4_FSIZE),
}) do
  M.BY_PID[d.pid] = d
end

--- stm32devices.flash_kib(dev, raw) -> the flash size in KiB from the flash-size register's
-- 16 bits. The L1 xD (0x436) reads 0 for its 384 KiB part and 1 for the 256 KiB one [ext:
-- RM0038; stlink and vendor code decode it so]; every other part reads its size in KiB.
function M.flash_kib(dev, raw)
  if dev.pid == 0x436 then return raw == 0 and 384 or 256 end
  return raw
end

--- stm32devices.layout(dev, flash_size) -> { {start=, size=}, ... }: the erase units (pages,
-- or sectors on F2/F4) covering flash_size bytes from the flash start; unit i is erase code
-- i - 1. A sector list repeats its last size.
function M.layout(dev, flash_size)
  local units, addr, stop = {}, dev.flash_start, dev.flash_start + flash_size
  if dev.page_size then
    while addr < stop do
      units[#units + 1] = { start = addr, size = dev.page_size }
      addr = addr + dev.page_size
    end
    return units
  end
  local list, i = dev.sectors, 1
  while addr < stop do
    local size = list[math.min(i, #list)]
    units[#units + 1] = { start = addr, size = size }
    addr, i = addr + size, i + 1
  end
  return units
end

return M
