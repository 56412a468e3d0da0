-- SPDX-License-Identifier: MIT
-- cwlua.stm32's write step on a line that loses or damages bytes (contract.md §3.11): a block is
-- sent again only when the flash read back says it may; one the line left half-written gets its
-- page erased and rewritten from the image.
local fake_an3155 = require "support.fake_an3155"
local image = require "cwlua.image"
local stm32 = require "cwlua.stm32"
local stm32boot = require "cwlua.proto.stm32boot"

local FLASH, PAGE = fake_an3155.BASE, fake_an3155.PAGE

-- bytes 0..255 shifted by k, so every block differs
local function block(k)
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char((i + k) % 256) end
  return table.concat(t)
end

local function setup(opts)
  local bl = fake_an3155.new(opts)
  local heard = {}
  local recipe = stm32.recipe({ name = "test", chips = { 0x420 }, defaults = {} })
  local ctx = { where = "test", defaults = {}, read_block = 128, recipe = recipe,
                log = function(fmt, ...) heard[#heard + 1] = fmt:format(...) end }
  ctx.boot = stm32boot.new(bl.stream, { where = "test" })
  local units = {}
  for i = 0, 3 do units[#units + 1] = { start = FLASH + i * PAGE, size = PAGE } end
  local chip = { units = units, unit_name = "page", erase_command = 0x43 }
  ctx.boot.info = { erase = 0x43 }
  return bl, ctx, chip, heard
end

-- host bytes of one 256-byte Write Memory: 31 CE, 5 address bytes, N, 256 data, XOR = 265
local FRAME = 265

describe("cwlua.stm32 write step", function()
  it("writes a block once on a clean line", function()
    local bl, ctx, chip, heard = setup()
    ctx.recipe.write(ctx, chip, FLASH, block(0))
    assert.are.equal(block(0), bl:peek(FLASH, 256))
    assert.are.same({}, heard)
    assert.are.equal(FRAME, #bl.stream:written())
  end)

  it("a damaged final ACK: the block reads back written, it is not sent again", function()
    -- reply bytes: ACK, ACK, ACK (the last one after programming): the third is damaged
    local bl, ctx, chip, heard = setup({
      damage = function(n, b) if n == 3 then return b ~ 0x01 end end })
    ctx.recipe.write(ctx, chip, FLASH, block(1))
    assert.are.equal(block(1), bl:peek(FLASH, 256))
    assert.are.equal(1, bl.writes)
    assert.matches("retry 1: Write Memory %(0x31%) of 256 bytes at 0x08000000: reply 0x78 is one "
      .. "bit away from ACK 0x79;.*; the block reads back as written %(only the reply was lost%)$",
      heard[1])
    assert.are.equal(1, #heard)
  end)

  it("a lost data byte: the block reads back erased and goes again in 64-byte pieces", function()
    local bl, ctx, chip, heard = setup({ lose = function(n) return n == 100 end })
    ctx.recipe.write(ctx, chip, FLASH + 256, block(2))
    assert.are.equal(block(2), bl:peek(FLASH + 256, 256))
    assert.are.equal(4, bl.writes)
    assert.matches("^retry 1: no reply to Write Memory %(0x31%) of 256 bytes at 0x08000100 within "
      .. "1257 ms; the block reads back erased: writing it again in 64%-byte pieces$", heard[1])
  end)

  it("a block the filler completed: its page is erased and written again from the image",
    function()
      -- block 1 of page 0 has a 0xFF at offset 0x20: losing that byte makes the bootloader
      -- wait for one more, and the first 0xFF of the resync completes the frame with a
      -- matching checksum, so it programs the block shifted by one byte
      local b1 = block(3):sub(1, 0x20) .. "\xFF" .. block(3):sub(0x22)
      local img = image.new():add(FLASH, block(9) .. b1)
      local lost = FRAME + 8 + 0x20 + 1 -- block 0's frame, 31 CE, address, N, then the bytes
      local bl, ctx, chip, heard = setup({ lose = function(n) return n == lost end })
      ctx.image = img
      ctx.recipe.write(ctx, chip, FLASH, block(9))
      ctx.recipe.write(ctx, chip, FLASH + 256, b1)
      assert.are.equal(block(9) .. b1, bl:peek(FLASH, 512))
      assert.are.same({ 0 }, bl.erased)
      assert.matches("the block at 0x08000100 reads back neither erased nor written: erasing "
        .. "its page again and writing the image there again$", heard[#heard])
    end)

  it("without the image being written, a half-written block ends the command (exit 4)",
    function()
      local b1 = block(4):sub(1, 0x10) .. "\xFF" .. block(4):sub(0x12)
      local bl, ctx, chip = setup({ lose = function(n) return n == 8 + 0x10 + 1 end })
      local ok, e = pcall(ctx.recipe.write, ctx, chip, FLASH, b1)
      assert.is_false(ok)
      assert.are.same({ "target", "garbled" }, { e.kind, e.code })
      assert.matches("the block at 0x08000000 now holds bytes that are neither erased nor the "
        .. "image's, and its page must be erased again: run the command again$", e.message)
      assert.are.same({}, bl.erased)
    end)
end)
