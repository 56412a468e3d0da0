-- SPDX-License-Identifier: MIT
-- cwlua.capture: the work of `cwlua capture TARGET` (docs/capture.md): NewAE's SimpleSerial
-- AES loop — one key, then for each trace arm the ADC, send a plaintext, capture, read the
-- ciphertext — written to a trace set (cwlua.traceset) as the traces arrive, every ciphertext
-- checked against AES-128 on the host (cwlua.aes). Built on the public API a lab script has:
-- cw.scope, cw.simpleserial, cw.traceset.
--
-- One trace, and why in this order: arm; send the plaintext; capture; read the ciphertext.
-- The capture (a few thousand ADC clocks once the target raises its trigger) has ended long
-- before the ciphertext has crossed the serial line, so the ADC is read out while the reply
-- is on the wire: the capture costs no time beyond the line's own (bench/README.md, "The
-- capture bench").
--
-- A trace that fails is tried again; a second failure resets the target (and loads the key
-- again) before the third try; a third ends the run with the cause of contract.md §6.4:
-- no-trigger (the target answered but the ADC saw no trigger), no-reply (nothing came back),
-- garbled-reply, target-refused. The traces before it stay in the set.
local aes = require "cwlua.aes"
local cmdutil = require "cwlua.cmdutil"
local errors = require "cwlua.errors"
local json = require "cwlua.json"
local progress = require "cwlua.progress"
local scope_mod = require "cwlua.scope"
local simpleserial = require "cwlua.simpleserial"
local targets = require "cwlua.targets"
local time = require "cwlua.time"
local traceset = require "cwlua.traceset"

local M = {}

-- NewAE's default key (their key-text pattern "Basic", the FIPS-197 Appendix B key); the
-- TVLA key and fixed plaintext of the fixed-vs-random test (Goodwill et al., "A testing
-- methodology for side-channel resistance validation", NIST NIAT 2011; NewAE's TVLA pattern).
M.DEFAULT_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
M.TVLA_KEY = "0123456789abcdef123456789abcdef0"
M.TVLA_TEXT = "da39a3ee5e6b4b0d3255bfef95601890"

M.CLOCK_HZ = 7.37e6 -- NewAE's default_setup() target clock (cw-usb-protocol.md §6.1.5)

local TRIES = 3 -- the first, one more as it was, one after a target reset

-- What a failed trace means (contract.md §6.4), by the code of the failure.
local REPLY_CAUSE = { timeout = "no-reply", short = "garbled-reply", malformed = "garbled-reply",
                      crc = "garbled-reply", nack = "target-refused" }

local hex, unhex = simpleserial.hex, simpleserial.unhex

-- A failure of the board itself (USB) ends the run at once: exit 3.
local function device_fail(msg, code)
  error(errors.new("device", msg, { code = code, cause = require("cwlua.connect").CAUSE[code] }),
    0)
end

local function random_block()
  local t = {}
  for i = 1, 16 do t[i] = math.random(0, 255) end
  return string.char(table.unpack(t))
end

--- capture.seed() -> a seed from /dev/urandom (else the time): what --seed would have given
function M.seed()
  local f = io.open("/dev/urandom", "rb")
  local s = f and f:read(6)
  if f then f:close() end
  if s and #s == 6 then return string.unpack("<I6", s) end
  return os.time() ~ math.floor(os.clock() * 1e6)
end

-- The plaintexts of the set: (i) -> text, group (group: nil, or 0 fixed / 1 random for tvla)
local function texts(mode, fixed)
  if mode == "fixed" then return function() return fixed end end
  if mode == "tvla" then
    local f = unhex(M.TVLA_TEXT)
    return function(i)
      if i % 2 == 1 then return f, 0 end
      return random_block(), 1
    end
  end
  return function() return random_block() end
end

-- ss per version: the AES commands of NewAE's simpleserial-aes (cwlua.simpleserial)
local function send(ss, pt)
  if ss.version == 1 then return ss:write("p", pt) end
  return ss:write(0x01, pt, 0x01)
end

local function receive(ss)
  return ss:read(ss.version == 1 and "r" or 0x72, 16)
end

--- capture.run(word, o) -> summary (raises a cwlua error on failure). o: traces, samples,
-- offset, presamples, gain (dB or nil: as the board is), key (16 bytes, or "random"), text
-- ("random", "tvla" or "fixed"), fixed (16 bytes), version (1 or 2), out (a folder), seed,
-- quiet, verbose, timeout_ms (for the trigger and the reply; default 250).
function M.run(word, o)
  local recipe, part = targets.resolve(word)
  local log = function(fmt, ...)
    if o.verbose then
      progress.interrupt()
      io.stderr:write("capture: ", fmt:format(...), "\n")
    end
  end
  math.randomseed(o.seed)
  local key = o.key == "random" and random_block() or o.key
  local rk = aes.expand(key)
  local next_text = texts(o.text, o.fixed)

  local b <close> = cmdutil.open_board(part)
  local opened = b.backend == "sim" and b:sim_counters() or nil
  local _ <close> = cmdutil.check(b:snapshot()):guard()

  local settings = { samples = o.samples, offset = o.offset, trigger = "tio4",
                     mode = "rising_edge" }
  if o.presamples then settings.presamples = o.presamples end
  if o.gain then settings.gain = o.gain end
  -- a value this board cannot take (more samples than its FIFO holds, a Husky's presamples)
  -- is refused before anything is written: a usage error, exit 2
  local opened_ok, scope, msg, code = pcall(scope_mod.open, b, settings)
  if not opened_ok then
    local why = tostring(scope):match("scope: (.*)$")
    if not why then error(scope, 0) end
    errors.raise("usage", "--%s", why)
  end
  if not scope then device_fail(msg, code) end
  -- Then the target's serial line and trigger where NewAE's default_setup() routes them, as the
  -- recipes route them to program (TIO1 the board's RX, TIO2 its TX, TIO4 an input), and a
  -- target clock on HS2 if it carries none (a board whose FPGA someone else configured);
  -- the snapshot puts all of it back.
  for _, p in ipairs({ { "tio1", "serial_rx" }, { "tio2", "serial_tx" }, { "tio4", "high_z" } }) do
    cmdutil.check(b:pin(p[1], p[2]))
  end
  local hs2, how = b:clock()
  if hs2 == false and how == "off" then
    local hz = cmdutil.check(b:clock(M.CLOCK_HZ))
    if not o.quiet then
      io.stderr:write(("cwlua: HS2 carried no target clock: %.0f Hz for the capture (NewAE's "
        .. "default), put back afterwards\n"):format(hz))
    end
  end

  local sc = cmdutil.check(scope:get())

  local ss
  ss, msg, code = simpleserial.open(b, { version = o.version, target = word })
  if not ss then device_fail(msg, code) end
  local timeout = o.timeout_ms or ss.timeout_ms

  local stats = { retries = 0, resets = 0, mismatches = 0, mismatch_at = json.array() }

  -- the key, with one target reset when the first try is not answered
  local function load_key(first)
    local ok, m, c = ss:set_key(key)
    if ok then return end
    if c and not REPLY_CAUSE[c] then device_fail(m, c) end
    if first then
      log("the key was not acknowledged (%s); resetting the target", m)
      stats.resets = stats.resets + 1
      local rok, rm, rc = ss:reset_target()
      if not rok then device_fail(rm, rc) end
      return load_key(false)
    end
    error(errors.new("target", m, { code = c, cause = REPLY_CAUSE[c] }), 0)
  end
  load_key(true)

  -- one try: trace, ciphertext | nil, cause, message
  local function one(pt)
    local ok, m, c = scope:arm()
    if not ok then device_fail(m, c) end
    ok, m, c = send(ss, pt)
    if not ok then device_fail(m, c) end
    local trace, tmsg, tcode = scope:capture(timeout, { not_before = ss.stream:sent_at() })
    if not trace and tcode ~= "timeout" then device_fail(tmsg, tcode) end
    local ct, cmsg, ccode = receive(ss)
    if not ct then
      if not REPLY_CAUSE[ccode] then device_fail(cmsg, ccode) end
      ss.stream:flush()
      return nil, REPLY_CAUSE[ccode], cmsg
    end
    if not trace then
      return nil, "no-trigger", ("%s, though the target answered: TIO4 does not reach the "
        .. "board, or the firmware does not raise it around the encryption"):format(tmsg)
    end
    return trace, ct
  end

  -- one trace with its tries: trace, ciphertext (raises when the last try fails). what: how the
  -- error names it; saved: the traces in the set by then.
  local function take(pt, what, saved)
    for try = 1, TRIES do
      local trace, ct, why = one(pt)
      if trace then return trace, ct end
      log("%s: %s", what, why)
      if try == TRIES then
        error(errors.new("target", ("%s: %s (after %d tries, the last after resetting the "
          .. "target%s)"):format(what, why, TRIES, saved), { cause = ct, code = ct }), 0)
      end
      stats.retries = stats.retries + 1
      if try == TRIES - 1 then
        stats.resets = stats.resets + 1
        local rok, rm, rc = ss:reset_target()
        if not rok then device_fail(rm, rc) end
        load_key(false)
      end
    end
  end

  -- A first exchange, not kept: it shows that the target answers and triggers before any file
  -- is written, and it is where cw.simpleserial and cw.scope learn how long the target takes
  -- (stream:await, scope:capture), so that every trace of the set costs the same transfers.
  take(unhex("00112233445566778899aabbccddeeff"), "the first exchange (not kept)", "")

  local info = b:info()
  local clock_hz = b:clock() or nil
  local meta = {
    board = info.kind, board_name = info.name, serial = info.serial, firmware = info.firmware,
    target = recipe.name, part = part, clock_hz = clock_hz or json.null, adc_hz = sc.adc_hz or
    json.null, samples = sc.samples, offset = sc.offset, presamples = sc.presamples,
    decimate = sc.decimate, gain_db = sc.gain, gain_raw = sc.gain_raw, gain_mode = sc.gain_mode,
    bits = sc.bits, trigger = sc.trigger, trigger_mode = sc.mode, simpleserial = o.version == 1
    and "1.1" or "2.1", baud = ss.baud, text = o.text, key = o.key == "random" and "random" or
    "fixed", seed = o.seed, groups = o.text == "tvla" and "0 fixed, 1 random" or nil,
    start = os.date("!%Y-%m-%dT%H:%M:%SZ"), cwlua = require("cwlua.core.runtime").version,
    backend = info.backend,
  }
  if o.text == "fixed" then meta.fixed_text = hex(o.fixed) end
  if o.text == "tvla" then meta.fixed_text = M.TVLA_TEXT end
  local ts
  ts, msg, code = traceset.create(o.out, { samples = o.samples, groups = o.text == "tvla",
    meta = meta })
  if not ts then
    error(errors.new("failure", ("cannot write the trace set: %s"):format(msg), { code = code }),
      0)
  end
  local t0 = time.now_ns()
  local sim0 = b.backend == "sim" and b:sim_counters() or nil
  -- on every way out (Ctrl-C included) the set is closed with what was captured; meta.json's
  -- "stopped" says why it ended early (a cause of contract.md §6.4, "interrupted")
  local _ <close> = setmetatable({}, { __close = function(_, err)
    ts:close({ ["end"] = os.date("!%Y-%m-%dT%H:%M:%SZ"), seconds = (time.now_ns() - t0) / 1e9,
      retries = stats.retries, resets = stats.resets, mismatches = stats.mismatches,
      mismatch_at = stats.mismatch_at,
      stopped = err ~= nil and require("cwlua.causes").of(err) or nil })
  end })

  local prog <close> = progress.new("capture", o.traces, { quiet = o.quiet, unit = "trace",
    rate = true })
  for i = 1, o.traces do
    local pt, group = next_text(i)
    local trace, ct = take(pt, ("trace %d of %d"):format(i, o.traces),
      ("; %d %s saved in %s"):format(ts.count, ts.count == 1 and "trace was" or "traces were",
        o.out))
    if aes.encrypt_with(rk, pt) ~= ct then
      stats.mismatches = stats.mismatches + 1
      if #stats.mismatch_at < 100 then stats.mismatch_at[#stats.mismatch_at + 1] = i - 1 end
      log("trace %d: the ciphertext %s is not AES-128(key, %s)", i, hex(ct), hex(pt))
    end
    local n, am, ac = ts:append(trace, pt, ct, key, group)
    if not n then
      error(errors.new("failure", ("cannot write the trace set: %s"):format(am), { code = ac }),
        0)
    end
    prog:update(i)
  end
  prog:finish()
  local seconds = (time.now_ns() - t0) / 1e9
  local result = { traces = ts.count, seconds = seconds, out = o.out, retries = stats.retries,
    resets = stats.resets, mismatches = stats.mismatches, samples = o.samples,
    rate = seconds > 0 and ts.count / seconds or nil, key = hex(key), board = info.kind,
    simpleserial = meta.simpleserial }
  if sim0 then
    local c1 = b:sim_counters()
    local function usb(a, z)
      return { ctrl_in = z.ctrl_in - a.ctrl_in, ctrl_out = z.ctrl_out - a.ctrl_out,
               bulk = (z.bulk_in + z.bulk_out) - (a.bulk_in + a.bulk_out) }
    end
    -- the loop's transfers, and those before it (the settings, the key, the first exchange)
    result.sim = { wire_s = (c1.wire_ns - sim0.wire_ns) / 1e9, usb = usb(sim0, c1),
                   setup_usb = usb(opened, sim0) }
  end
  return result
end

return M
