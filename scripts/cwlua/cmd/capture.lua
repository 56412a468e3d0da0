-- SPDX-License-Identifier: MIT
-- cwlua capture TARGET: the SimpleSerial AES capture loop into a trace set (docs/capture.md);
-- the work is cwlua.capture.
local capture = require "cwlua.capture"
local errors = require "cwlua.errors"
local runtime = require "cwlua.core.runtime"

local function usage(fmt, ...) errors.raise("usage", fmt, ...) end

local function whole(name, text, lo, hi)
  local v = math.tointeger(tonumber(text))
  if not v or v < lo or (hi and v > hi) then
    usage("--%s needs a whole number from %d%s, got '%s'", name, lo,
      hi and (" to " .. hi) or "", tostring(text))
  end
  return v
end

local function block(name, text)
  local t = text:gsub("^0[xX]", "")
  if #t ~= 32 or t:find("[^%x]") then
    usage("%s needs 16 bytes as 32 hex digits, got '%s'", name, text)
  end
  return require("cwlua.simpleserial").unhex(t)
end

-- The folder must be new (its parent existing) or empty: a set never mixes with other files.
local function check_out(dir)
  local st = runtime.stat(dir)
  if st then
    if st.type ~= "directory" then usage("--out %s exists and is not a folder", dir) end
    local names = runtime.dir(dir)
    if names and #names > 0 then
      usage("--out %s is not empty: a trace set goes into a new or empty folder", dir)
    end
    return
  end
  local parent = dir:match("^(.*)/[^/]+/*$") or "."
  if parent == "" then parent = "/" end
  local pst = runtime.stat(parent)
  if not pst or pst.type ~= "directory" then
    usage("--out %s: %s is not a folder that exists", dir, parent)
  end
end

local function options(ctx)
  local opts = ctx.opts
  local o = { quiet = opts.quiet, verbose = opts.verbose }
  o.traces = whole("traces", opts.traces or "100", 1)
  o.samples = whole("samples", opts.samples or "5000", 1, 131070)
  o.offset = whole("offset", opts.offset or "0", 0, 0xFFFFFFFF)
  if opts.presamples then o.presamples = whole("presamples", opts.presamples, 0, 131070) end
  local gain = tonumber(opts.gain or "25")
  if not gain then usage("--gain needs a number of dB, got '%s'", opts.gain) end
  o.gain = gain
  o.version = opts.v2 and 2 or 1
  local text = opts.text or "random"
  if text == "random" or text == "tvla" then
    o.text = text
  elseif text:match("^fixed:") then
    o.text, o.fixed = "fixed", block("--text fixed:HEX", text:sub(7))
  else
    usage("--text must be random, fixed:HEX or tvla, got '%s'", text)
  end
  local key = opts.key or (o.text == "tvla" and capture.TVLA_KEY or capture.DEFAULT_KEY)
  o.key = key == "random" and "random" or block("--key", key)
  o.seed = opts.seed and whole("seed", opts.seed, 0) or capture.seed()
  o.out = opts.out or os.date("capture-%Y%m%d-%H%M%S")
  check_out(o.out)
  return o
end

local function plural(n, one, many) return n == 1 and one or many end

return {
  name = "capture",
  synopsis = "capture TARGET",
  summary = "capture power traces of the SimpleSerial AES loop into a trace set",
  usage = "cwlua capture TARGET [--traces N] [--samples N] [--offset N] [--presamples N] "
    .. "[--gain DB] [--key HEX|random] [--text random|fixed:HEX|tvla] [--v2] [--seed N] "
    .. "[--out DIR] [--json]",
  help = [[
TARGET runs NewAE's simpleserial-aes firmware (program it first). cwlua loads one key, then
for each trace arms the ADC (trigger: a rising edge on TIO4, which the firmware raises around
the encryption), sends a plaintext, captures and reads the ciphertext, and checks it is
AES-128(key, plaintext). DIR (default capture-YYYYmmdd-HHMMSS, new or empty) gets
traces.npy (float32, N x samples, in [-0.5, 0.5) as ChipWhisperer's get_last_trace()),
textin.npy, textout.npy, keys.npy (uint8, N x 16), groups.npy with --text tvla (0 fixed,
1 random) and meta.json; they are valid after every trace, also after Ctrl-C. A trace that
fails is tried again, then again after a target reset; a third failure ends the run: exit 4,
cause no-trigger (the target answered, the ADC saw no trigger) or no-reply. TIO1, TIO2 and
TIO4 are routed as NewAE's default set-up does, HS2 gets 7.37 MHz if it carries no clock, and
all of it, the ADC settings and the serial line are put back at the end. --text tvla uses
the TVLA fixed plaintext and, unless --key, the TVLA key. On several boards (-d usb:*), DIR
holds a trace set per board, DIR/SERIAL. Docs: docs/capture.md.]],
  options = {
    { long = "traces", key = "traces", arg = "N", help = "how many traces (default 100)" },
    { long = "samples", key = "samples", arg = "N",
      help = "samples per trace (default 5000, NewAE's; at most the board's\n"
        .. "buffer: CW-Lite 24400, CW1200 98119, Husky 131070)" },
    { long = "offset", key = "offset", arg = "N",
      help = "ADC clocks from the trigger to the first sample (default 0)" },
    { long = "presamples", key = "presamples", arg = "N",
      help = "samples kept from before the trigger (default 0)" },
    { long = "gain", key = "gain", arg = "DB", help = "ADC gain in dB (default 25, NewAE's)" },
    { long = "key", key = "key", arg = "HEX|random",
      help = "the AES-128 key of the set (default 2b7e151628aed2a6abf7158809cf4f3c)" },
    { long = "text", key = "text", arg = "MODE",
      help = "plaintexts: random (default), fixed:HEX, or tvla (fixed and random\n"
        .. "alternating, the group in groups.npy)" },
    { long = "v2", key = "v2", help = "SimpleSerial v2.1 (230400 baud; default v1.1 at 38400)" },
    { long = "seed", key = "seed", arg = "N",
      help = "seed of the random keys and texts (default: a new one, in meta.json)" },
    { long = "out", key = "out", arg = "DIR",
      help = "the trace set's folder (default capture-YYYYmmdd-HHMMSS)" },
  },
  -- on several boards at once: one worker each (cwlua.multi), each with a trace set of its
  -- own, DIR/SERIAL; DIR (one default name for all of them) is made here first
  many = {
    target = 1,
    check = function(ctx)
      local dir = ctx.opts.out or os.date("capture-%Y%m%d-%H%M%S")
      ctx.opts.out = dir
      local st = runtime.stat(dir)
      if st and st.type ~= "directory" then usage("--out %s exists and is not a folder", dir) end
      if not st then
        local ok, msg = runtime.mkdir(dir)
        if not ok then usage("--out %s: %s", dir, msg) end
        ctx.made_out = dir
      end
    end,
    -- when no board got as far as its trace set (a usage error on every board, Ctrl-C at the
    -- start), the folder made above is empty: it goes, as a single board's capture leaves none
    done = function(ctx)
      if ctx.made_out then os.remove(ctx.made_out) end -- removes only an empty folder
    end,
    per_board = function(_, opts, serial)
      opts.out = require("cwlua.multi").per_board_dir(opts.out, serial)
    end,
  },
  run = function(ctx)
    if #ctx.args ~= 1 then
      usage("capture needs one TARGET; usage: %s", ctx.command.usage)
    end
    local o = options(ctx)
    local s = capture.run(ctx.args[1], o)
    if ctx.opts.json then
      ctx.cli.emit({ traces = s.traces, rate = s.rate, out = s.out, retries = s.retries,
        resets = s.resets, mismatches = s.mismatches, seconds = s.seconds, samples = s.samples,
        key = s.key, board = s.board, simpleserial = s.simpleserial, sim = s.sim })
    elseif not ctx.opts.quiet then
      local extra = ""
      if s.retries > 0 then
        extra = ("; %d %s, %d target %s"):format(s.retries, plural(s.retries, "retry",
          "retries"), s.resets, plural(s.resets, "reset", "resets"))
      end
      io.stdout:write(("captured %d traces of %d samples into %s in %.2f s (%.1f traces/s), "
        .. "key %s%s\n"):format(s.traces, s.samples, s.out, s.seconds, s.rate or 0, s.key, extra))
    end
    if s.mismatches > 0 then
      io.stderr:write(("cwlua: warning: %d of %d ciphertexts are not AES-128(key, plaintext): "
        .. "the target computed them wrong (meta.json mismatch_at lists them)\n"):format(
        s.mismatches, s.traces))
    end
    return 0
  end,
}
