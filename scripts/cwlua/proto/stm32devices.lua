-- cwlua.proto.stm32devices: STM32 parts by the product ID their bootloader reports (Get ID).
-- Data from ../shared/docs/target-protocols.md §A.6 (ChipWhisperer's list merged with
-- stm32flash 0.7's dev_table.c; the 0.4 values are not used). Addresses: flash, RAM and
-- system-memory ends are exclusive, the option-byte end is inclusive, as in §A.6.
-- flash_size is the largest part sharing the ID ("up to"); the chip's own flash-size register
-- (fsize_addr, 16 bits in KiB) gives the real size. fsize_addr is from the reference manuals
-- [ext]: RM0091/RM0316 (F0/F3) 0x1FFFF7CC, RM0008/RM0041 (F1) 0x1FFFF7E0, RM0033/RM0090
-- (F2/F4) 0x1FFF7A22.
local M = {}

local K = 1024
local F0F3_FSIZE, F1_FSIZE, F2F4_FSIZE = 0x1FFFF7CC, 0x1FFFF7E0, 0x1FFF7A22
local OB_F0F1F3 = { 0x1FFFF800, 0x1FFFF80F }
local OB_F2F4 = { 0x1FFFC000, 0x1FFFC00F }

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
          [0x432] = 2, [0x422] = 2, [0x439] = 2, [0x438] = 2, [0x446] = 2 }

--- stm32devices.protection(dev, ob) -> write-protected sector numbers (a list) from the 16
-- option bytes as the chip stores them [ext: RM0008/RM0091/RM0316 "Option bytes"; RM0033/RM0090
-- "Option bytes"]. F0/F1/F3: WRP0..WRP3 at offsets 8, 10, 12, 14, each followed by its
-- complement, a 0 bit protects its sector, a byte whose complement does not match protects
-- nothing. F2/F4: nWRP, 16 bits little-endian at offset 8, a 0 bit protects its sector.
function M.protection(dev, ob)
  local list = {}
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
-- (F0/F3 key 0xAA, F1 0xA5 with its complement; F2/F4 RDP 0xAA at offset 1 means none).
function M.read_protected(dev, ob)
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
}) do
  M.BY_PID[d.pid] = d
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
