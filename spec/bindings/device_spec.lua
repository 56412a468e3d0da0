-- SPDX-License-Identifier: MIT
-- cwlua.core.device: the C binding over the in-process simulator backend.
local device = require "cwlua.core.device"

local function sim(extra)
  local opts = { backend = "sim", board = "cwlite" }
  for k, v in pairs(extra or {}) do opts[k] = v end
  return device.open(opts)
end

describe("cwlua.core.device", function()
  describe("open()", function()
    it("opens a simulated board and describes it", function()
      local dev <close> = assert(sim())
      local i = dev:info()
      assert.are.same({ "sim", "cwlite", "ChipWhisperer Lite", 0x2B3E, 0xACE2, 0x81, 0x02 },
        { i.backend, i.kind, i.product, i.vid, i.pid, i.ep_bulk_in, i.ep_bulk_out })
      assert.matches("^%x+$", i.serial)
      assert.matches("^cwlua.Device %(sim cwlite %x+%)$", tostring(dev))
    end)

    it("returns nil, message, code for a bad fault or target", function()
      local dev, msg, code = sim({ faults = { "no-such-fault" } })
      assert.is_nil(dev)
      assert.are.equal("invalid", code)
      assert.matches("^sim: ", msg)
      dev, msg, code = sim({ target = "stm32f999" })
      assert.is_nil(dev)
      assert.are.equal("invalid", code)
      assert.matches("unknown target part 'stm32f999'", msg)
    end)

    it("raises on misuse", function()
      assert.has_error(function() device.open("sim") end)
      assert.has_error(function() device.open({ backend = "tcp" }) end)
    end)
  end)

  describe("control()", function()
    it("reads the firmware version with a vendor IN request (0x17)", function()
      local dev <close> = assert(sim())
      assert.are.equal("\0\65\0", dev:control(0xC1, 0x17, 0, 0, 3, 100)) -- 0.65.0
    end)

    it("reports a stall as nil, message, 'stall' (unknown request, §2.1)", function()
      local dev <close> = assert(sim())
      local ok, msg, code = dev:control(0xC1, 0x7E, 0, 0, 1, 100)
      assert.is_nil(ok)
      assert.are.equal("stall", code)
      assert.are.equal("control IN: the board stalled the request", msg)
    end)

    it("rejects out-of-range arguments and a zero timeout", function()
      local dev <close> = assert(sim())
      assert.has_error(function() dev:control(0x1C1, 0x17, 0, 0, 3, 100) end,
        "bad argument #1 to 'control' (bmRequestType must be 0 to 255)")
      assert.has_error(function() dev:control(0xC1, 0x17, 0, 0, 3, 0) end,
        "bad argument #6 to 'control' (timeout_ms must be 1 to 3600000)")
    end)
  end)

  describe("clock", function()
    it("is virtual: sleeping a simulated second costs no real second", function()
      local dev <close> = assert(sim())
      local real0, virt0 = device.monotonic_ns(), dev:now_ns()
      dev:sleep_ns(1000000000)
      assert.are.equal(1000000000, dev:now_ns() - virt0)
      assert.is_true(device.monotonic_ns() - real0 < 500000000)
    end)

    it("charges each control transfer the configured USB latency", function()
      local dev <close> = assert(sim({ latency_ms = 2 }))
      local t0 = dev:now_ns()
      dev:control(0xC1, 0x17, 0, 0, 3, 100)
      assert.are.equal(2000000, dev:now_ns() - t0)
    end)
  end)

  describe("close()", function()
    it("closes once; a second close and any later use raise", function()
      local dev = assert(sim())
      assert.is_true(dev:close())
      assert.has_error(function() dev:close() end, "attempt to close a closed device")
      assert.has_error(function() dev:info() end, "attempt to use a closed device")
      assert.are.equal("cwlua.Device (closed)", tostring(dev))
    end)

    it("frees the state folder so the next open succeeds", function()
      do local _ <close> = assert(sim()) end
      local dev <close> = assert(sim())
      assert.are.equal("cwlite", dev:info().kind)
    end)
  end)

  describe("sim_faults()", function()
    it("lists every fault of contract.md §5", function()
      local names = {}
      for _, f in ipairs(device.sim_faults()) do names[f.name] = true end
      for _, n in ipairs({ "no-power", "no-clock", "uart-rx-open", "uart-tx-open",
        "uart-swapped", "pdi-open", "isp-open", "boot0-stuck-low", "nrst-open", "baud-skew",
        "bit-flips", "drop-bytes", "already-synced", "read-protected", "write-protected",
        "slow-erase", "fpga-unprogrammed", "old-firmware", "usb-stall-after",
        "usb-timeout-after", "unplug-after", "glitch-active", "pll-unlocked", "trigger-open" }) do
        assert.is_true(names[n], n)
      end
    end)
  end)
end)
