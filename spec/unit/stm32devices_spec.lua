-- SPDX-License-Identifier: MIT
-- cwlua.proto.stm32devices for the L parts: the §A.6 rows, the flash-size register
-- quirks and the option-byte decoding of L0/L1 and L4 (RM0377/RM0038/RM0394 [ext]), where a
-- simulator that agrees with us proves nothing: these are checked against byte strings
-- written out by hand from the reference manuals' layouts.
local devices = require "cwlua.proto.stm32devices"

-- an L0/L1 option word: 16-bit value, then its complement (little-endian)
local function w16(v) return string.pack("<I2I2", v, v ~ 0xFFFF) end
-- an L4 option double word: 32-bit value, then its complement
local function w32(v) return string.pack("<I4I4", v, v ~ 0xFFFFFFFF) end

describe("cwlua.proto.stm32devices (L0, L1, L4)", function()
  it("has the §A.6 rows with their geometry and flash-size registers", function()
    local want = {
      { 0x417, "l0", "STM32L05xxx/06xxx", 64, 128, 32, 0x20001000, 0x1FF8001F, 0x1FF8007C },
      { 0x416, "l1", "STM32L1xxx6(8/B)", 128, 256, 16, 0x20000800, 0x1FF8001F, 0x1FF8004C },
      { 0x429, "l1", "STM32L1xxx6(8/B)A", 128, 256, 16, 0x20001000, 0x1FF8001F, 0x1FF8004C },
      { 0x427, "l1", "STM32L1xxxC", 256, 256, 16, 0x20001000, 0x1FF8001F, 0x1FF800CC },
      { 0x436, "l1", "STM32L1xxxD", 384, 256, 16, 0x20001000, 0x1FF8009F, 0x1FF800CC },
      { 0x437, "l1", "STM32L1xxxE", 512, 256, 16, 0x20001000, 0x1FF8009F, 0x1FF800CC },
      { 0x435, "l4", "STM32L43xxx/44xxx", 256, 2048, 1, 0x20003100, 0x1FFF7827, 0x1FFF75E0 },
    }
    for _, w in ipairs(want) do
      local d = devices.BY_PID[w[1]]
      assert.are.same(w, { d.pid, d.family, d.name, d.flash_size // 1024, d.page_size, d.pps,
        d.ram_start, d.ob_end, d.fsize_addr })
    end
    assert.are.equal(512, #devices.layout(devices.BY_PID[0x417], 64 * 1024))
  end)

  it("reads the L1 xD's flash-size register as 0 = 384 KiB, 1 = 256 KiB", function()
    assert.are.equal(384, devices.flash_kib(devices.BY_PID[0x436], 0))
    assert.are.equal(256, devices.flash_kib(devices.BY_PID[0x436], 1))
    assert.are.equal(128, devices.flash_kib(devices.BY_PID[0x416], 128))
  end)

  it("decodes L0/L1 option bytes: RDP 0xAA, a WRP bit set protects its sector", function()
    local l0 = devices.BY_PID[0x417]
    local factory = w16(0x00AA) .. w16(0x8070) .. w16(0):rep(6)
    assert.are.equal("\xAA\x00\x55\xFF", factory:sub(1, 4)) -- 0xFF5500AA
    assert.is_false(devices.read_protected(l0, factory))
    assert.are.same({}, devices.protection(l0, factory))
    assert.is_true(devices.read_protected(l0, w16(0x0000) .. factory:sub(5)))
    assert.is_true(devices.read_protected(l0, "\xAA\x00\x00\xFF" .. factory:sub(5)))
    local wrp = w16(0x00AA) .. w16(0x8070) .. w16(0x8005) .. w16(0):rep(5)
    assert.are.same({ 0, 2, 15 }, devices.protection(l0, wrp))
    -- a WRP word with a bad complement reads as all ones: its sixteen sectors
    local bad = w16(0x00AA) .. w16(0x8070) .. "\x01\x00\x00\x00" .. w16(0):rep(5)
    assert.are.equal(16, #devices.protection(l0, bad))
    -- the L1 xB has 32 sectors: WRP1 and WRP2
    local l1 = devices.BY_PID[0x416]
    assert.are.same({ 1, 16, 31 }, devices.protection(l1, w16(0x00AA) .. w16(0) .. w16(0x0002)
      .. w16(0x8001) .. w16(0):rep(4)))
  end)

  it("decodes L4 option bytes: RDP in OPTR, two page ranges", function()
    local l4 = devices.BY_PID[0x435]
    local function ob(optr, a, b)
      return w32(optr) .. w32(0xFFFFFFFF) .. w32(0) .. w32(a) .. w32(b)
    end
    local factory = ob(0xFFEFF8AA, 0x000000FF, 0x000000FF)
    assert.are.equal(40, #factory)
    assert.is_false(devices.read_protected(l4, factory))
    assert.are.same({}, devices.protection(l4, factory))
    assert.is_true(devices.read_protected(l4, ob(0xFFEFF800, 0xFF, 0xFF)))
    -- WRP1A_STRT 3, WRP1A_END 5; WRP1B pages 127..200 (clipped to the 128 pages)
    assert.are.same({ 3, 4, 5, 127 }, devices.protection(l4, ob(0xFFEFF8AA, 0x00050003,
      0x00C8007F)))
  end)
end)
