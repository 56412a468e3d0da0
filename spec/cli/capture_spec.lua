-- SPDX-License-Identifier: MIT
-- cwlua capture (contract.md §3.1, docs/capture.md) on the simulator: the trace set and its
-- files, --json, the text modes, what ends a run and with which cause, the options it
-- refuses, and a set that stays valid when Ctrl-C stops the run. The files are read with
-- spec/support/npy.lua; tests/capture/ reads whole sets with numpy and runs a CPA on them.
local cli = require "support.cli"
local npy = require "support.npy"
local json = require "dkjson"
local aes = require "cwlua.aes"
local S = require "cwlua.simpleserial"

local SRC = os.getenv("CWLUA_SOURCE_DIR") or "."
local HELLO = SRC .. "/examples/stm32f1-hello/hello.hex"

local slurp = cli.slurp

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- A state folder whose STM32F1 is programmed (the application runs only on a flash that is
-- not blank), and the words that reach it with an application model.
local function lab(app, board)
  local state = cli.tmpdir()
  local sim = { "-d", "sim" .. (board and (":" .. board) or ""), "--sim-state", state,
                "--sim-target", "stm32f1", "--sim-app", app or "ss1-aes" }
  local args = { table.unpack(sim) }
  for _, w in ipairs({ "-q", "program", "stm32f1", HELLO }) do args[#args + 1] = w end
  local r = cli.run(args)
  assert(r.status == 0, r.stderr)
  return sim, state
end

local function capture(sim, more)
  local args = { table.unpack(sim) }
  args[#args + 1] = "capture"
  args[#args + 1] = "stm32f1"
  for _, w in ipairs(more) do args[#args + 1] = w end
  return cli.run(args)
end

-- The set in dir: its arrays and its meta.json
local function set_of(dir)
  local s = { meta = json.decode(slurp(dir .. "/meta.json")) }
  for _, name in ipairs({ "traces", "textin", "textout", "keys", "groups" }) do
    if exists(dir .. "/" .. name .. ".npy") then s[name] = assert(npy.read(dir .. "/" .. name
      .. ".npy")) end
  end
  return s
end

describe("cwlua capture", function()
  after_each(cli.cleanup)

  it("writes a trace set, every ciphertext AES-128(key, plaintext), and says so", function()
    local sim = lab()
    local out = cli.tmpdir() .. "/set"
    local r = capture(sim, { "--traces", "20", "--samples", "600", "--out", out,
      "--key", "000102030405060708090a0b0c0d0e0f" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^captured 20 traces of 600 samples into " .. out:gsub("%p", "%%%0")
      .. " in [%d.]+ s %([%d.]+ traces/s%), key 000102030405060708090a0b0c0d0e0f\n$", r.stdout)
    local rate = tonumber(r.stdout:match("%(([%d.]+) traces/s%)"))
    assert.is_true(rate >= 40, "v1.1 on a CW-Lite: " .. rate .. " traces/s")
    assert.are.equal("capture: 25% (5 of 20 traces)\ncapture: 50% (10 of 20 traces)\n"
      .. "capture: 75% (15 of 20 traces)\ncapture: 100% (20 of 20 traces)\n", r.stderr)
    local s = set_of(out)
    assert.are.same({ 20, 600 }, s.traces.shape)
    assert.are.equal("<f4", s.traces.descr)
    for _, name in ipairs({ "textin", "textout", "keys" }) do
      assert.are.same({ 20, 16 }, s[name].shape)
      assert.are.equal("|u1", s[name].descr)
    end
    assert.is_nil(s.groups)
    local key = S.unhex("000102030405060708090a0b0c0d0e0f")
    local seen = {}
    for i = 1, 20 do
      local pt = npy.row(s.textin, i)
      assert.are.equal(key, npy.row(s.keys, i))
      assert.are.equal(aes.encrypt(key, pt), npy.row(s.textout, i))
      seen[pt] = true
      for _, v in ipairs(npy.f32(s.traces, i)) do assert.is_true(v >= -0.5 and v < 0.5) end
    end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.are.equal(20, n) -- random plaintexts
    local m = s.meta
    assert.are.same({ "cwlite", "stm32f1", "stm32f100xb", 600, 0, 1, 24.836, "tio4",
      "rising_edge", "1.1", 38400, "random", "fixed", 20, true, 10 },
      { m.board, m.target, m.part, m.samples, m.offset, m.decimate, m.gain_db, m.trigger,
        m.trigger_mode, m.simpleserial, m.baud, m.text, m.key, m.traces, m.complete, m.bits })
    assert.are.equal(96e6 * 2 / 26, m.clock_hz)
    assert.are.equal(96e6 * 2 / 26 * 4, m.adc_hz)
    assert.is_nil(m.stopped)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", m.start)
  end)

  it("--json: one object with the rate on the simulator's clock, eight transfers a trace",
    function()
      local sim = lab("ss2-aes")
      local out = cli.tmpdir() .. "/set"
      local r = capture(sim, { "--json", "--traces", "50", "--samples", "3000", "--v2",
        "--key", "random", "--out", out })
      assert.are.equal(0, r.status, r.stderr)
      local o = json.decode(r.stdout)
      assert.are.same({ 1, "ok", 50, out, 0, 0, 0, 3000, "cwlite", "2.1" }, { o.schema, o.cause,
        o.traces, o.out, o.retries, o.resets, o.mismatches, o.samples, o.board, o.simpleserial })
      assert.matches("^%x+$", o.key)
      assert.are.equal(32, #o.key)
      assert.is_true(o.rate >= 100, "v2.1 on a CW-Lite: " .. o.rate .. " traces/s")
      assert.are.equal(o.traces / o.seconds, o.rate)
      assert.are.equal(8 * 50, o.sim.usb.ctrl_in + o.sim.usb.ctrl_out)
      assert.are.equal(50, o.sim.usb.bulk)
      assert.are.equal(o.key, S.hex(npy.row(set_of(out).keys, 50)))
    end)

  it("--text tvla: the TVLA key and fixed text alternate with random ones, in groups.npy",
    function()
      local sim = lab()
      local out = cli.tmpdir() .. "/set"
      local r = capture(sim, { "-q", "--traces", "6", "--samples", "300", "--text", "tvla",
        "--out", out })
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal("", r.stdout)
      local s = set_of(out)
      assert.are.same({ 6 }, s.groups.shape)
      assert.are.equal("\0\1\0\1\0\1", s.groups.data)
      local fixed = S.unhex("da39a3ee5e6b4b0d3255bfef95601890")
      for i = 1, 6 do
        assert.are.equal(S.unhex("0123456789abcdef123456789abcdef0"), npy.row(s.keys, i))
        assert.are.equal(i % 2 == 1, npy.row(s.textin, i) == fixed)
      end
      assert.are.same({ "tvla", "0 fixed, 1 random", "da39a3ee5e6b4b0d3255bfef95601890" },
        { s.meta.text, s.meta.groups, s.meta.fixed_text })
    end)

  it("--text fixed:HEX, and --seed makes the same plaintexts and key again", function()
    local sim = lab()
    local base = cli.tmpdir()
    assert.are.equal(0, capture(sim, { "-q", "--traces", "3", "--samples", "100", "--text",
      "fixed:00112233445566778899aabbccddeeff", "--out", base .. "/f" }).status)
    local f = set_of(base .. "/f")
    for i = 1, 3 do
      assert.are.equal(S.unhex("00112233445566778899aabbccddeeff"), npy.row(f.textin, i))
    end
    for _, d in ipairs({ "a", "b" }) do
      assert.are.equal(0, capture(sim, { "-q", "--traces", "3", "--samples", "100", "--key",
        "random", "--seed", "42", "--out", base .. "/" .. d }).status)
    end
    local a, b = set_of(base .. "/a"), set_of(base .. "/b")
    assert.are.equal(a.textin.data, b.textin.data)
    assert.are.equal(a.keys.data, b.keys.data)
    assert.are.equal(42, a.meta.seed)
  end)

  it("captures on a Husky, 12-bit samples", function()
    local sim = lab("ss1-aes", "husky")
    local out = cli.tmpdir() .. "/set"
    assert.are.equal(0, capture(sim, { "-q", "--traces", "3", "--samples", "3000", "--out",
      out }).status)
    local s = set_of(out)
    assert.are.same({ 3, 3000 }, s.traces.shape)
    assert.are.same({ "husky", 12 }, { s.meta.board, s.meta.bits })
  end)

  describe("ends with a cause when the target fails, after retries and a reset", function()
    it("no-trigger: the target answers but TIO4 never reaches the board", function()
      local sim = lab()
      sim[#sim + 1] = "--sim-fault"
      sim[#sim + 1] = "trigger-open"
      local out = cli.tmpdir() .. "/set"
      local r = capture(sim, { "--json", "--traces", "5", "--out", out })
      assert.are.equal(4, r.status)
      local o = json.decode(r.stdout)
      assert.are.equal("no-trigger", o.cause)
      assert.matches("^the first exchange %(not kept%): cwlite %x+: no trigger within 250 ms "
        .. "%(trigger tio4, rising_edge%), though the target answered: TIO4 does not reach the "
        .. "board, or the firmware does not raise it around the encryption %(after 3 tries, the "
        .. "last after resetting the target%)$", o.error)
      assert.is_false(exists(out)) -- nothing was written
    end)

    it("no-reply: a blank flash, with the simulator's hint", function()
      local r = capture({ "-d", "sim", "--sim-state", cli.tmpdir(), "--sim-target", "stm32f1",
        "--sim-app", "ss1-aes" }, { "--out", cli.tmpdir() .. "/set" })
      assert.are.equal(4, r.status)
      assert.matches("^cwlua: simpleserial v1: no 'z' acknowledgement of 'k' within 250 ms "
        .. "%(38400 baud%); the simulated chip's flash is blank: program it first", r.stderr)
    end)

    it("no-reply: SimpleSerial v2 asked of a v1.1 target", function()
      local sim = lab()
      local r = capture(sim, { "--json", "--v2", "--out", cli.tmpdir() .. "/set" })
      assert.are.equal(4, r.status)
      assert.are.equal("no-reply", json.decode(r.stdout).cause)
    end)

    it("unsupported (exit 3) on a CW-Nano", function()
      local r = capture({ "-d", "sim:nano", "--sim-state", cli.tmpdir(), "--sim-app",
        "ss1-aes" }, { "--out", cli.tmpdir() .. "/set" })
      assert.are.equal(3, r.status)
      assert.matches("the CW%-Nano's ADC is not supported", r.stderr)
    end)
  end)

  it("docs/capture.md shows examples/lab/cpa.py as it is", function()
    local doc = slurp(SRC .. "/docs/capture.md")
    local shown = assert(doc:match("\n```python\n(.-)```\n"), "a python block")
    local file = slurp(SRC .. "/examples/lab/cpa.py")
    assert.is_truthy(file:find(shown, 1, true), "examples/lab/cpa.py holds the block as shown")
  end)

  it("refuses bad options (exit 2): before opening the board, or before writing to it", function()
    local dir = cli.tmpdir()
    cli.write(dir .. "/full/x", "x")
    for _, case in ipairs({
      { { "--traces", "0" }, "--traces needs a whole number from 1, got '0'" },
      { { "--samples", "3k" }, "--samples needs a whole number from 1 to 131070, got '3k'" },
      { { "--key", "00112233" }, "--key needs 16 bytes as 32 hex digits, got '00112233'" },
      { { "--text", "sometimes" }, "--text must be random, fixed:HEX or tvla, got 'sometimes'" },
      { { "--gain", "loud" }, "--gain needs a number of dB, got 'loud'" },
      { { "--out", dir .. "/full" }, "--out " .. dir .. "/full is not empty: a trace set goes "
        .. "into a new or empty folder" },
      { { "--out", dir .. "/no/such" }, "--out " .. dir .. "/no/such: " .. dir .. "/no is not "
        .. "a folder that exists" },
    }) do
      local r = capture({ "-d", "sim" }, case[1])
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: " .. case[2] .. "\n", r.stderr)
    end
    for _, case in ipairs({
      { "sim", { "--samples", "24401" }, "--samples must be from 1 to 24400" },
      { "sim", { "--gain", "60" }, "--gain must be from -6.5 to 56 dB on a CW-Lite" },
      { "sim:husky", { "--presamples", "5" },
        "--presamples must be 0 or at least 8 on a CW-Husky" },
    }) do
      local r = capture({ "-d", case[1], "--sim-state", cli.tmpdir() }, case[2])
      assert.are.equal(2, r.status, r.stderr)
      assert.are.equal("cwlua: " .. case[3] .. "\n", r.stderr)
    end
    local r = cli.run({ "-d", "sim", "capture" })
    assert.are.equal(2, r.status)
    assert.matches("^cwlua: capture needs one TARGET; usage: cwlua capture TARGET ", r.stderr)
  end)

  it("leaves a valid set with every complete trace when Ctrl-C stops it", function()
    local sim, state = lab()
    local dir = cli.tmpdir()
    local out = dir .. "/set"
    local words = { "env", "-u CWLUA_PATH -u CWLUA_DEVICE", "XDG_CONFIG_HOME=" .. cli.quote(dir),
      "timeout --foreground -k 5 60", cli.quote(cli.BIN) }
    for _, w in ipairs(sim) do words[#words + 1] = cli.quote(w) end
    for _, w in ipairs({ "capture", "stm32f1", "--traces", "100000", "--samples", "3000",
      "--out", out }) do words[#words + 1] = cli.quote(w) end
    local script = cli.write(dir .. "/run.sh", table.concat({
      table.concat(words, " ") .. " >" .. dir .. "/out 2>" .. dir .. "/err </dev/null &",
      "pid=$!",
      -- the first quarter is far off: wait for the set's first rows instead
      "i=0; while [ $i -lt 600 ] && [ \"$(stat -c %s " .. cli.quote(out .. "/keys.npy")
        .. " 2>/dev/null || echo 0)\" -lt 2000 ]; do sleep 0.05; i=$((i+1)); done",
      "kill -INT $pid", "wait $pid; echo $? >" .. dir .. "/status" }, "\n") .. "\n")
    assert(os.execute("sh " .. cli.quote(script)))
    assert.are.equal("130\n", slurp(dir .. "/status"))
    assert.matches("cwlua: interrupted\n$", slurp(dir .. "/err"))
    local s = set_of(out)
    local n = s.traces.shape[1]
    assert.is_true(n >= 100, n .. " traces")
    for _, name in ipairs({ "traces", "textin", "textout", "keys" }) do
      local a = s[name]
      assert.are.equal(n, a.shape[1], name)
      assert.are.equal(a.header_len + n * a.rowbytes, a.size, name) -- exactly the complete rows
    end
    assert.are.same({ n, true, "interrupted" }, { s.meta.traces, s.meta.complete,
      s.meta.stopped })
    assert.is_truthy(state)
  end)
end)
