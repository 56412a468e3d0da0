-- SPDX-License-Identifier: MIT
-- The USB transfers the STM32 path spends on a board's USART bridge (cw-usb-protocol.md §5),
-- counted exactly on the simulated CW-Lite: they do not depend on how fast the machine is, so
-- they guard what bench/perf.lua times. An acknowledgement costs one transfer (a 1-byte read:
-- an ACK is never the 0xFF the board pads an empty read with, §5.3); a reply's ACK comes in the
-- same read as its data; a 258-byte Write Memory frame goes out in three requests; and no read
-- ever needs more than the board's 199-byte receive buffer holds (§5.4).
local board = require "cwlua.board"
local time = require "cwlua.time"
local json = require "dkjson" -- Debian's lua-dkjson
local stm32boot = require "cwlua.proto.stm32boot"
local cli = require "support.cli"
local images = require "support.images"

local REQ_USART_DATA, REQ_USART_CONFIG = 0x1A, 0x1B
local FLASH = 0x08000000

describe("STM32 over a board's USART: USB transfers", function()
  after_each(cli.cleanup)

  -- A simulated CW-Lite with an STM32F100xB in its bootloader, synced; every USART request
  -- recorded as "OUT n" (0x1A, n bytes), "IN n" (0x1A read of n), "RX" or "TX" (the counts).
  local function synced()
    local b = assert(board.open("sim", { target = "stm32f100xb", state = cli.tmpdir() }))
    local s = assert(b:serial({ baud = 115200, parity = "even" }))
    b:pin("pdic", "high")
    b:pin("nrst", "low")
    time.sleep(10)
    b:pin("nrst", "high_z")
    time.sleep(2)
    local boot = stm32boot.new(s, { timing = { program_ns_per_byte = 26250 } })
    assert.are.equal("synced", boot:sync())
    local log = {}
    local ctrl_in, ctrl_out = b._ctrl_in, b._ctrl_out
    b._ctrl_in = function(self, req, value, len, ...)
      if req == REQ_USART_DATA then
        log[#log + 1] = "IN " .. len
      elseif req == REQ_USART_CONFIG then
        log[#log + 1] = value == 0x14 and "RX" or value == 0x18 and "TX" or "CONFIG"
      end
      return ctrl_in(self, req, value, len, ...)
    end
    b._ctrl_out = function(self, req, value, data)
      if req == REQ_USART_DATA then log[#log + 1] = "OUT " .. #data end
      return ctrl_out(self, req, value, data)
    end
    return b, boot, log
  end

  it("Get ID: the command, then one count and one read for ACK, N, the PID and ACK", function()
    local b <close>, boot, log = synced()
    assert.are.equal(0x420, boot:get_id())
    assert.are.same({ "OUT 2", "RX", "IN 5" }, log)
    assert.are.equal(0, b:sim_counters().uart_rx_dropped)
  end)

  it("Write Memory of 256 bytes: 9 transfers, each ACK one 1-byte read, the frame in three "
    .. "requests", function()
    local b <close>, boot, log = synced()
    boot:erase({ 0 })
    for i = #log, 1, -1 do log[i] = nil end
    boot:write(FLASH, images.pattern(256, 3))
    -- 128 bytes, then what fills the 199-byte transmit buffer, then the rest in one request
    -- once it fits, after asking the board how much it still holds
    assert.are.same({ "OUT 2", "IN 1", "OUT 5", "IN 1", "OUT 128", "OUT 70", "TX", "OUT 60",
      "IN 1" }, log)
    assert.are.equal(images.pattern(256, 3), boot:read(FLASH, 192) .. boot:read(FLASH + 192, 64))
    assert.are.equal(0, b:sim_counters().uart_tx_dropped)
  end)

  it("Read Memory of 192 bytes: the ACK with the data, 10 transfers, the reply within the "
    .. "receive buffer", function()
    local b <close>, boot, log = synced()
    local data = boot:read(FLASH, 192)
    assert.are.equal(192, #data)
    -- command and address, each with its ACK; the length; then the ACK and the first 127 bytes
    -- of data in one read (and what else arrived while the count was asked), the rest in
    -- another: no read of the ACK alone
    assert.are.same({ "OUT 2", "IN 1", "OUT 5", "IN 1", "OUT 2", "RX", "IN 128", "IN 5", "RX",
      "IN 60" }, log)
    local c = b:sim_counters()
    assert.are.same({ 0, 0 }, { c.uart_rx_dropped, c.uart_tx_dropped })
  end)

  describe("cwlua program stm32f1", function()
    -- 16 KiB: the erase (command and page list, each with its ACK: 4), 64 blocks of 9 to
    -- write, 86 reads to verify (192-byte reads aligned to multiples of 192, so the first has
    -- 64 bytes: 7 transfers, the others 10), and 9 to start the application and put the
    -- board's settings back
    local EXPECTED = 4 + 64 * 9 + 7 + 85 * 10 + 9

    local function program(latency)
      local dir = cli.tmpdir()
      local file = cli.write(dir .. "/app.bin", images.pattern(16384, 5))
      local r = cli.run({ "--json", "-d", "sim", "--sim-state", dir .. "/state",
        "--sim-usb-latency", latency, "program", "stm32f1", file })
      assert.are.equal(0, r.status, r.stderr)
      local o = assert(json.decode(r.stdout))
      assert.are.equal("ok", o.verify)
      return o.sim.usb.ctrl_in + o.sim.usb.ctrl_out + o.sim.usb.bulk
    end

    it("16 KiB: 1 446 transfers, 22.6 per 256 bytes", function()
      assert.are.equal(EXPECTED, program("0.5"))
      assert.is_true(EXPECTED / 64 <= 37) -- the goal (bench/README.md)
    end)

    it("16 KiB at 1 ms per transfer: the same transfers, waits placed by the wire time", function()
      assert.are.equal(EXPECTED, program("1.0"))
    end)
  end)
end)
