-- SPDX-License-Identifier: MIT
-- cwlua.port and cwlua.lines over a scripted cwlua.core.serial (no port needed): the stream's
-- return conventions (the same as a board's, cwlua.board Stream), the ChipWhisperer-port
-- check, the lines. tests/serial runs the real backend on a simulated adapter.

-- A fake cwlua.core.serial: one port whose input is `rx` (a list of chunks, one per read) and
-- which records every call in `calls`.
local function fake_core(opts)
  opts = opts or {}
  local st = { calls = {}, rx = opts.rx or {}, tx_queue = opts.tx_queue or { 0 } }
  local dev = {}
  local function log(s) st.calls[#st.calls + 1] = s end
  function dev.info(_)
    return { path = "/dev/ttyUSB0", description = opts.description or "FT232R USB UART",
             manufacturer = "FTDI", product = "FT232R USB UART", usb_serial = "A5",
             vid = opts.vid or 0x0403, pid = opts.pid or 0x6001 }
  end
  function dev.config(_, baud, bits, parity, stop)
    log(("config %d %d %s %d"):format(baud, bits, parity, stop))
    if opts.config_result then return opts.config_result end
    return { baud = baud, bits = bits, parity = parity, stop = stop }
  end
  function dev.read(_, max, ms)
    assert(ms >= 1, "C reads must be bounded")
    local chunk = table.remove(st.rx, 1)
    if chunk == nil then return "" end
    if type(chunk) == "table" then return table.unpack(chunk, 1, 3) end
    if #chunk > max then
      table.insert(st.rx, 1, chunk:sub(max + 1))
      chunk = chunk:sub(1, max)
    end
    return chunk
  end
  function dev.write(_, data, ms)
    log(("write %s %s"):format(data:gsub(".", function(c) return ("%02X"):format(c:byte()) end),
      ms > 0 and "bounded" or "unbounded"))
    return #data
  end
  function dev.queued(_)
    local tx = #st.tx_queue > 1 and table.remove(st.tx_queue, 1) or st.tx_queue[1]
    local rx = 0
    for _, c in ipairs(st.rx) do rx = rx + (type(c) == "string" and #c or 0) end
    return rx, tx
  end
  function dev.flush(_, input, output)
    log(("flush %s %s"):format(input, output))
    if input then st.rx = {} end
    return true
  end
  function dev.set_line(_, line, on)
    log(("line %s %s"):format(line, on))
    return true
  end
  function dev.lines(_) return { cts = true, dsr = false, dcd = true, ri = false } end
  function dev.close(_) log("close") return true end
  return { open = function(path)
    if opts.open_error then return nil, path .. ": " .. opts.open_error[1], opts.open_error[2] end
    return dev
  end }, st
end

local saved
local function load_port(core)
  package.loaded["cwlua.core.serial"] = core
  package.loaded["cwlua.port"] = nil
  return require "cwlua.port"
end

describe("cwlua.port", function()
  setup(function() saved = package.loaded["cwlua.core.serial"] end)
  teardown(function()
    package.loaded["cwlua.core.serial"] = saved
    package.loaded["cwlua.port"] = nil
  end)

  describe("open()", function()
    it("explains what to do for each failure", function()
      local cases = {
        { { "permission denied (Permission denied)", "access" },
          "serial:/dev/ttyUSB0: permission denied (Permission denied); add yourself to the "
            .. "dialout group (sudo usermod -aG dialout $USER), then log out and in again" },
        { { "in use by another program (Device or resource busy)", "busy" },
          "serial:/dev/ttyUSB0: in use by another program (Device or resource busy); close the "
            .. "program that has it open: a terminal (screen, minicom, picocom), another cwlua "
            .. "or stm32flash, or ModemManager, which probes new ports (sudo systemctl stop "
            .. "ModemManager)" },
        { { "no such port (No such file or directory)", "no_device" },
          "serial:/dev/ttyUSB0: no such port (No such file or directory); check the path and "
            .. "the cable, and run 'cwlua list' to see the serial ports" },
      }
      for _, c in ipairs(cases) do
        local port = load_port((fake_core({ open_error = c[1] })))
        assert.are.same({ nil, c[2], c[1][2] }, { port.open("/dev/ttyUSB0") })
      end
    end)

    it("raises for a malformed gpio_seq option (misuse)", function()
      local port = load_port((fake_core()))
      assert.has_error(function() port.open("/dev/ttyUSB0", { gpio_seq = "rts;" }) end,
        "--gpio-seq 'rts;': 'rts' at column 1 must be followed by ',' or '&', not ';'; use rts, "
          .. "dtr or brk, '-' before one for low, ',' (100 ms) or '&' between")
    end)

    it("describes the port and closes once", function()
      local core, st = fake_core()
      local port = load_port(core)
      local p = assert(port.open("/dev/ttyUSB0", { gpio_seq = "dtr,-dtr" }))
      assert.are.same({ kind = "serial", backend = "serialport", path = "/dev/ttyUSB0",
        description = "FT232R USB UART", manufacturer = "FTDI", product = "FT232R USB UART",
        serial = "A5", vid = 0x0403, pid = 0x6001, chipwhisperer = false,
        gpio_seq = "dtr,-dtr" }, p:info())
      assert.are.equal("cwlua.Port (serial:/dev/ttyUSB0)", tostring(p))
      assert.is_true(p:close())
      assert.is_true(p:close())
      assert.are.same({ "close" }, st.calls)
      assert.has_error(function() p:info() end, "attempt to use a closed port")
    end)
  end)

  describe("port:serial()", function()
    it("applies 38400 8N1 by default and discards what came before", function()
      local core, st = fake_core()
      local p = assert(load_port(core).open("/dev/ttyUSB0"))
      local s = assert(p:serial())
      assert.are.same({ "config 38400 8 none 1", "flush true true" }, st.calls)
      assert.are.same({ 38400, 38400, "none", 1, 8, 260417 },
        { s.baud, s.actual_baud, s.parity, s.stop, s.bits, s.frame_ns })
    end)

    it("reports the frame time of 8E1 at 115200", function()
      local p = assert(load_port((fake_core())).open("/dev/ttyUSB0"))
      local s = assert(p:serial({ baud = 115200, parity = "even" }))
      assert.are.equal(95487, s.frame_ns)
    end)

    it("raises for settings that are not settings", function()
      local p = assert(load_port((fake_core())).open("/dev/ttyUSB0"))
      assert.has_error(function() p:serial({ speed = 9600 }) end, "serial: unknown setting 'speed'")
      assert.has_error(function() p:serial({ parity = "E" }) end,
        "serial: parity must be none, odd, even, mark or space")
      assert.has_error(function() p:serial({ baud = 0 }) end,
        "serial: baud must be a positive integer")
      assert.has_error(function() p:serial({ bits = 9 }) end, "serial: bits must be 5 to 8")
      assert.has_error(function() p:serial({ stop = 3 }) end, "serial: stop must be 1, 1.5 or 2")
    end)

    it("says 1.5 stop bits are not possible", function()
      local p = assert(load_port((fake_core())).open("/dev/ttyUSB0"))
      assert.are.same({ nil, "serial:/dev/ttyUSB0: 1.5 stop bits are not possible on a serial "
        .. "port here (POSIX offers 1 or 2)", "unsupported" }, { p:serial({ stop = 1.5 }) })
    end)

    it("notices settings the port did not take", function()
      local core = fake_core({ config_result = { baud = 115200, bits = 8, parity = "none",
                                                 stop = 1 } })
      local p = assert(load_port(core).open("/dev/ttyUSB0"))
      assert.are.same({ nil, "serial:/dev/ttyUSB0: the port did not take 8E1 (it reports 8N1)",
        "unsupported" }, { p:serial({ baud = 115200, parity = "even" }) })
    end)

    it("refuses anything but 8N1 on a ChipWhisperer's own serial port, pointing to -d usb",
      function()
        local core, st = fake_core({ vid = 0x2B3E, pid = 0xACE2,
                                     description = "ChipWhisperer Lite - 5020" })
        local p = assert(load_port(core).open("/dev/ttyUSB0"))
        assert.is_true(p:info().chipwhisperer)
        assert.are.same({ nil, "serial:/dev/ttyUSB0 is a ChipWhisperer's own USB serial port "
          .. "(2b3e:ace2, ChipWhisperer Lite - 5020): it carries only the baud rate and always "
          .. "runs 8N1 (its firmware ignores parity and stop bits), so 8E1 cannot work through "
          .. "it, nor can the STM32 bootloader (8E1); use the board itself with -d usb, whose "
          .. "USART bridge sets the whole frame", "unsupported" },
          { p:serial({ baud = 115200, parity = "even" }) })
        assert.are.same({}, st.calls)
        assert.is_truthy(p:serial({ baud = 38400 }))
      end)
  end)

  describe("stream", function()
    local function stream(rx, extra)
      local o = extra or {}
      o.rx = rx
      local core, st = fake_core(o)
      local p = assert(load_port(core).open("/dev/ttyUSB0"))
      local s = assert(p:serial({ baud = 115200, parity = "even" }))
      st.rx = rx -- serial() flushed the fake's input; give it the scripted bytes again
      st.calls = {}
      return s, st, p
    end

    it("read(n) waits for n bytes across chunks", function()
      local s = stream({ "\x79", "\x01\x04", "\x20\x79" })
      assert.are.equal("\x79\x01\x04\x20", s:read(4, 100))
      assert.are.equal("\x79", s:read(1, 100))
    end)

    it("read(n) returns what came when the time is up, nil and 'timeout' when nothing",
      function()
        local s = stream({ "ab" })
        assert.are.equal("ab", s:read(5, 20))
        assert.are.same({ nil, "read: nothing received within 20 ms", "timeout" },
          { s:read(1, 20) })
      end)

    it("read_until() returns through the match and keeps the rest", function()
      local s = stream({ "hel", "lo\r\nwor", "ld" })
      assert.are.equal("hello\r\n", s:read_until("\n", 100))
      assert.are.same({ nil, 'read_until: no match for "\\\n" within 10 ms (5 bytes received)',
        "timeout" }, { s:read_until("\n", 10) })
      assert.are.equal("world", s:read(5, 10))
    end)

    it("available() and flush() count the buffered bytes", function()
      local s = stream({ "abc", "de" })
      assert.are.equal("a", s:read(1, 10))
      assert.are.equal(4, s:available()) -- "bc" buffered + "de" in the port
      assert.are.equal(4, s:flush())
      assert.are.same({ nil, "read: nothing received within 5 ms", "timeout" }, { s:read(1, 5) })
    end)

    it("write() sends with a bounded timeout; drain() waits for the queue", function()
      local s, st = stream({}, { tx_queue = { 3, 1, 0 } })
      assert.is_true(s:write("\x11\xEE"))
      assert.are.same({ "write 11EE bounded" }, st.calls)
      assert.is_true(s:drain(1000))
      assert.are.equal(0, s:tx_pending())
    end)

    it("drain() times out on a stuck queue", function()
      local s = stream({}, { tx_queue = { 7 } })
      assert.are.same({ nil, "drain: 7 bytes still queued after 5 ms", "timeout" },
        { s:drain(5) })
    end)

    it("turns an unplugged adapter into a message that says so", function()
      local s = stream({ "x", { nil, "/dev/ttyUSB0: the port went away (hang-up during a read)",
        "no_device" } })
      assert.are.same({ nil, "serial:/dev/ttyUSB0: the adapter is gone (hang-up during a read); "
        .. "plug it back in, check the cable, and run the command again", "no_device" },
        { s:read(2, 100) })
    end)

    it("raises on misuse, and after the port is closed", function()
      local s, _, p = stream({})
      assert.has_error(function() s:read(0, 10) end, "read: n must be a positive integer")
      assert.has_error(function() s:read(1, 0) end, "read: timeout_ms must be a positive number")
      assert.has_error(function() s:write(5) end, "write: data must be a string")
      p:close()
      assert.has_error(function() s:read(1, 10) end, "attempt to use a closed port")
    end)
  end)

  describe("lines", function()
    it("pin() drives rts, dtr and brk, and remembers what it set", function()
      local core, st = fake_core()
      local p = assert(load_port(core).open("/dev/ttyUSB0"))
      assert.are.same({ nil, "serial:/dev/ttyUSB0: RTS cannot be read back, and cwlua has not "
        .. "set it yet", "unsupported" }, { p:pin("rts") })
      assert.are.equal("high", p:pin("rts", "high"))
      assert.are.equal("low", p:pin("brk", "low"))
      assert.are.equal("high", p:pin("rts"))
      assert.are.same({ "line rts true", "line break false" }, st.calls)
      assert.are.equal(1, p:level("cts"))
      assert.are.equal(0, p:level("ri"))
    end)

    it("pin() refuses a board's pin names and raises for unknown ones", function()
      local p = assert(load_port((fake_core())).open("/dev/ttyUSB0"))
      assert.are.same({ nil, "serial:/dev/ttyUSB0: a plain serial adapter has no pin 'nrst'; "
        .. "its lines are rts, dtr and brk, and its reset/boot wiring is given with --gpio-seq",
        "unsupported" }, { p:pin("nrst", "low") })
      assert.has_error(function() p:pin("cts", "high") end,
        "pin: unknown line 'cts' on a serial port (use rts, dtr or brk)")
      assert.has_error(function() p:pin("dtr", "high_z") end,
        "pin: mode 'high_z' is not possible on dtr (use high or low)")
      assert.has_error(function() p:level("dtr") end,
        "level: unknown input line 'dtr' (use cts, dsr, dcd or ri)")
    end)

    it("without --gpio-seq, entry assumes the bootloader and exit leaves it to Go", function()
      local core, st = fake_core()
      local p = assert(load_port(core).open("/dev/ttyUSB0"))
      assert.are.equal("assumed", p:enter_bootloader())
      assert.are.equal("go", p:exit_bootloader())
      assert.are.same({}, st.calls)
    end)

    it("runs the entry and exit sequences", function()
      local core, st = fake_core()
      local p = assert(load_port(core).open("/dev/ttyUSB0", { gpio_seq = "-rts&dtr&-dtr:rts" }))
      assert.are.equal("sequence", p:enter_bootloader())
      assert.are.same({ "line rts false", "line dtr true", "line dtr false" }, st.calls)
      assert.are.equal("sequence", p:exit_bootloader())
      assert.are.equal("line rts true", st.calls[4])
      assert.are.equal("high", p:pin("rts"))
    end)

    it("uses the CLI's --gpio-seq when opts has none", function()
      local core, st = fake_core()
      local port = load_port(core)
      port.defaults.gpio_seq = assert(require("cwlua.gpioseq").parse(":dtr"))
      local p = assert(port.open("/dev/ttyUSB0"))
      assert.are.equal("assumed", p:enter_bootloader())
      assert.are.equal("sequence", p:exit_bootloader())
      assert.are.same({ "line dtr true" }, st.calls)
    end)
  end)
end)

describe("cwlua.lines", function()
  local lines = require "cwlua.lines"

  local function fake_board()
    local log = {}
    return {
      log = log,
      pin = function(_, name, mode)
        log[#log + 1] = name .. "=" .. mode
        return mode
      end,
    }
  end

  it("drives a board's BOOT0 and reset pins (target-protocols.md §A.2)", function()
    local b = fake_board()
    assert.are.equal("pins", lines.enter_bootloader(b, { reset_ms = 1, start_ms = 1 }))
    assert.are.same({ "pdic=high", "nrst=low", "nrst=high_z" }, b.log)
    b = fake_board()
    assert.are.equal("pins", lines.exit_bootloader(b, { boot = "tio3", reset = "tio4",
                                                        reset_ms = 1, start_ms = 1 }))
    assert.are.same({ "tio3=low", "tio4=low", "tio4=high_z" }, b.log)
  end)

  it("passes a pin failure on", function()
    local b = { pin = function() return nil, "cwlite x: gone", "no_device" end }
    assert.are.same({ nil, "cwlite x: gone", "no_device" }, { lines.enter_bootloader(b) })
  end)

  it("runs a port's sequences", function()
    local p = { enter_bootloader = function() return "assumed" end,
                exit_bootloader = function() return "go" end }
    assert.are.equal("assumed", lines.enter_bootloader(p))
    assert.are.equal("go", lines.exit_bootloader(p))
  end)

  it("raises for an unknown option", function()
    assert.has_error(function() lines.enter_bootloader(fake_board(), { boot0 = "pdic" }) end,
      "lines: unknown option 'boot0'")
  end)
end)
