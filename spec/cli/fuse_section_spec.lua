-- SPDX-License-Identifier: MIT
-- The fuse and lock sections of an AVR or XMEGA image (docs/targets.md "Memories other than
-- flash"): a section longer than the parts' fuse or lock bytes is refused before the board is
-- opened (exit 2, naming the count), and the hint for the image's fuse bytes names only
-- options the chip takes.
local cli = require "support.cli"
local images = require "support.images"

local FUSE, LOCK = 0x820000, 0x830000 -- avr-gcc's layout (contract.md §3.3)

describe("fuse and lock sections", function()
  local dir, state

  local function cw(args)
    local a = { "-d", "sim", "--sim-state", state }
    for _, x in ipairs(args) do a[#a + 1] = x end
    return cli.run(a)
  end

  local function hex(ranges)
    return cli.write(dir .. "/fw.hex", images.hex(ranges))
  end

  before_each(function()
    dir, state = cli.tmpdir(), cli.tmpdir()
  end)
  after_each(cli.cleanup)

  it("refuses 16 bytes of AVR fuses: an ATmega has 3", function()
    local file = hex({ { 0, "code" }, { FUSE, ("\x4E"):rep(16) } })
    for _, cmd in ipairs({ "program", "verify" }) do
      local r = cw({ cmd, "avr", file })
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: " .. file .. ": the image's fuse section at 0x820000 reaches "
        .. "0x82000F (16 bytes), but the parts of recipe avr have 3 fuse bytes (low, high, "
        .. "ext)\n", r.stderr)
      assert.are.equal("", r.stdout)
    end
  end)

  it("refuses a seventh XMEGA fuse byte: FUSEBYTE0..5 are all there are", function()
    local file = hex({ { 0, "code" }, { FUSE + 6, "\x4E" } })
    local r = cw({ "program", "xmega", file })
    assert.are.equal(2, r.status, r.stderr)
    assert.are.equal("cwlua: " .. file .. ": the image's fuse section at 0x820000 reaches "
      .. "0x820006 (7 bytes), but the parts of recipe xmega have 6 fuse bytes (fuse0, fuse1, "
      .. "fuse2, fuse3, fuse4, fuse5)\n", r.stderr)
  end)

  it("refuses a lock section of more than one byte", function()
    local file = hex({ { 0, "code" }, { LOCK, "\xFF\xFC" } })
    local r = cw({ "program", "avr", file })
    assert.are.equal(2, r.status, r.stderr)
    assert.are.equal("cwlua: " .. file .. ": the image's lock section at 0x830000 reaches "
      .. "0x830001 (2 bytes), but the parts of recipe avr have 1 lock byte\n", r.stderr)
  end)

  it("suggests only --fuse options with the part's own fuse names", function()
    -- avr-gcc's FUSES for an ATxmega128D4: six bytes, FUSEBYTE0 and 3 reserved (0xFF)
    local file = hex({ { 0, "code" }, { FUSE, "\xFF\x00\xBF\xFF\xFE\xF7" } })
    local r = cw({ "program", "xmega", file })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("xmega: the image sets fuse or lock bytes; they are written only when asked: "
      .. "--fuse fuse1=0x00 --fuse fuse2=0xBF --fuse fuse4=0xFE --fuse fuse5=0xF7\n", r.stderr,
      1, true)
    assert.not_matches("fuse byte", r.stderr, 1, true)
    assert.not_matches("fuse0", r.stderr, 1, true)
    -- a byte the part has no fuse for, set anyway: said, and ignored
    file = hex({ { 0, "code" }, { FUSE, "\x12\xFF\xBF" } })
    r = cw({ "program", "xmega", file })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("xmega: the image sets fuse0=0x12, which the ATxmega128D4 does not have; "
      .. "ignored\n", r.stderr, 1, true)
    assert.matches("when asked: --fuse fuse1=0xFF --fuse fuse2=0xBF\n", r.stderr, 1, true)
    -- every AVR part has low, high and ext
    file = hex({ { 0, "code" }, { FUSE, "\xE2\xD9\xFD" } })
    r = cw({ "program", "avr", file })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("when asked: --fuse low=0xE2 --fuse high=0xD9 --fuse ext=0xFD\n", r.stderr, 1,
      true)
  end)

  it("names the fuse bytes in the recipes as the part data does", function()
    local targets = require "cwlua.targets"
    local avr = targets.resolve("avr")
    assert.are.same(require("cwlua.proto.avrparts").FUSE_NAMES, avr.regions.fuses.names)
    local xmega = targets.resolve("xmega")
    assert.are.same(require("cwlua.proto.xmegaparts").FUSE_ORDER, xmega.regions.fuses.names)
  end)
end)
