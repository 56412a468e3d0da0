-- SPDX-License-Identifier: MIT
-- SimpleSerial v1.1 and v2.1 against the simulated applications (--sim-app ss1-aes | ss2-aes,
-- contract.md §5) through 'cwlua run', as a lab script uses them: FIPS-197 known answers, reset,
-- timeouts, a wrong clock, and wire faults that must never pass a wrong ciphertext.
local cli = require "support.cli"
local images = require "support.images"

local HELLO = "examples/stm32f1-hello/hello.hex" -- any image: the simulator runs its app model

-- The script: program the chip (the app model needs a non-blank flash; arg[3] = "keep" uses
-- what the state folder holds), then run BODY with ss = the SimpleSerial target, b = the
-- board, S = cw.simpleserial, and show(...) printing results one per line.
local PRELUDE = [[
local S = cw.simpleserial
local b = assert(cw.open())
if arg[3] ~= "keep" then assert(cw.flash.program("stm32f1", %q, { board = b, quiet = true })) end
local version = tonumber(arg[1])
if arg[2] ~= "-" then assert(b:clock(tonumber(arg[2]))) end
local ss = assert(S.open(b, { version = version }))
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  print(table.concat(t, "|"))
end
]]

local function run(dir, app, version, body, opts)
  opts = opts or {}
  local script = cli.write(dir .. "/lab.lua", PRELUDE:format(HELLO) .. body)
  local args = { "-d", "sim", "--sim-target", "stm32f1", "--sim-app", app, "--sim-state",
                 dir .. "/state" }
  for _, f in ipairs(opts.faults or {}) do
    args[#args + 1] = "--sim-fault"
    args[#args + 1] = f
  end
  for _, a in ipairs({ "run", script, tostring(version), opts.clock or "-", opts.keep and "keep" })
  do
    args[#args + 1] = a
  end
  return cli.run(args)
end

local KAT = [[
-- FIPS-197 Appendix B with the firmware's default key, then Appendix C.1 with its own key
show(S.hex(assert(ss:encrypt(S.unhex("3243f6a8885a308d313198a2e0370734")))))
show(assert(ss:set_key(S.unhex("000102030405060708090a0b0c0d0e0f"))))
show(S.hex(assert(ss:encrypt(S.unhex("00112233445566778899aabbccddeeff")))))
show(ss:target_version())
-- a reset brings the default key back
show(assert(ss:reset_target()))
show(S.hex(assert(ss:encrypt(S.unhex("3243f6a8885a308d313198a2e0370734")))))
]]
local KAT_OUT = "3925841d02dc09fbdc118597196a0b32\ntrue\n69c4e0d86a7b0430d8cdb78070b4c55a\n%d\n"
  .. "true\n3925841d02dc09fbdc118597196a0b32\n"

describe("SimpleSerial on the simulator", function()
  local dir
  before_each(function() dir = cli.tmpdir() end)
  after_each(cli.cleanup)

  it("v1.1 (ss1-aes) gives the FIPS-197 ciphertexts, its version, and resets", function()
    local r = run(dir, "ss1-aes", 1, KAT)
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal(KAT_OUT:format(1), r.stdout)
  end)

  it("v2.1 (ss2-aes) gives the FIPS-197 ciphertexts, its version, and resets", function()
    local r = run(dir, "ss2-aes", 2, KAT)
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal(KAT_OUT:format(3), r.stdout)
  end)

  it("v1.1 (ss1-aes) on the XMEGA: aes_kat.lua --target xmega passes FIPS-197", function()
    -- the xmega recipe programs any non-blank image over PDI; leaving PDI starts the app model
    local fw = cli.write(dir .. "/fw.hex", images.hex({ { 0, "\x0C\x94\x00\x01" } }))
    local r = cli.run({ "-d", "sim", "--sim-target", "atxmega128d4", "--sim-app", "ss1-aes",
                        "--sim-state", dir .. "/state", "run", "examples/lab/aes_kat.lua",
                        "--target", "xmega", fw })
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("programmed " .. fw .. ": 4 bytes, verify ok\n"
      .. "SimpleSerial v1 at 38400 baud\n"
      .. "FIPS-197 C.1  ok    key 000102030405060708090a0b0c0d0e0f  pt "
      .. "00112233445566778899aabbccddeeff  ct 69c4e0d86a7b0430d8cdb78070b4c55a\n"
      .. "FIPS-197 B    ok    key 2b7e151628aed2a6abf7158809cf4f3c  pt "
      .. "3243f6a8885a308d313198a2e0370734  ct 3925841d02dc09fbdc118597196a0b32\n"
      .. "all known answers match\n", r.stdout)
  end)

  it("write + read, as ChipWhisperer scripts do, works twice in a row and in a loop", function()
    -- read consumes the acknowledgement after the reply (NewAE's simpleserial_read(ack=True))
    local body = [[
      local pt = S.unhex("00112233445566778899aabbccddeeff")
      local v1 = ss.version == 1
      local function once()
        if v1 then assert(ss:write("p", pt)) else assert(ss:write(1, pt, 1)) end
        return S.hex(assert(ss:read("r", 16)))
      end
      assert(ss:set_key(S.unhex("000102030405060708090a0b0c0d0e0f")))
      show(once())
      show(once())
      local n = 0
      for _ = 1, 20 do if once() == "69c4e0d86a7b0430d8cdb78070b4c55a" then n = n + 1 end end
      show(n)
      -- without the ack, it is there for ss:ack()
      if v1 then ss:write("p", pt) else ss:write(1, pt, 1) end
      show(S.hex(assert(ss:read("r", 16, { ack = false }))), ss:ack())
      show(once())
    ]]
    local want = "69c4e0d86a7b0430d8cdb78070b4c55a\n69c4e0d86a7b0430d8cdb78070b4c55a\n20\n"
      .. "69c4e0d86a7b0430d8cdb78070b4c55a|0\n69c4e0d86a7b0430d8cdb78070b4c55a\n"
    for _, c in ipairs({ { "ss1-aes", 1 }, { "ss2-aes", 2 } }) do
      local r = run(dir, c[1], c[2], body)
      assert.are.equal(0, r.status, r.stderr)
      assert.are.equal(want, r.stdout, c[1])
    end
  end)

  it("lists the commands of each firmware", function()
    local body = [[
      local names = {}
      for _, c in ipairs(assert(ss:commands())) do names[#names + 1] = tostring(c.cmd) end
      show(table.concat(names, " "))
    ]]
    assert.are.equal("v w y k p x\n", run(dir, "ss1-aes", 1, body).stdout)
    assert.are.equal("v w 1\n", run(dir, "ss2-aes", 2, body).stdout)
  end)

  it("v2 reports the firmware's own error for a frame it refuses", function()
    local r = run(dir, "ss2-aes", 2, [[
      assert(ss:write(1, "\1\2\3", 1))
      show(ss:read("r", 16))
      assert(ss:write("x", ""))
      show(ss:ack())
    ]])
    assert.are.equal(0, r.status, r.stderr)
    assert.are.equal("nil|simpleserial v2: the target reported error 0x04 (invalid length) "
      .. "instead of the 'r' reply to 0x01/0x01|nack|4\n1\n", r.stdout)
  end)

  it("times out on a silent target, with what to check", function()
    local r = run(dir, "silent", 1, [[
      show(ss:set_key(S.unhex("000102030405060708090a0b0c0d0e0f")))
    ]])
    assert.are.equal("nil|simpleserial v1: no 'z' acknowledgement of 'k' within 250 ms (38400 "
      .. "baud); check that the target runs SimpleSerial v1 firmware at 38400 baud, is powered "
      .. "and clocked, and that its TX/RX reach the board|timeout\n", r.stdout)
  end)

  it("v1 with the clock left at 8 MHz: garbled, and the clock is named", function()
    local r = run(dir, "ss1-aes", 1, [[
      show(ss:set_key(S.unhex("000102030405060708090a0b0c0d0e0f")))
      show(ss:encrypt(S.unhex("00112233445566778899aabbccddeeff")))
    ]], { clock = "8e6" })
    local hint = "the target clock (HS2) is 8 MHz, so firmware built for 38400 baud at 7.37 "
      .. "MHz talks at about 41600 baud: set board:clock(7.37e6), or the baud the firmware "
      .. "really uses"
    assert.are.equal("nil|simpleserial v1: no 'z' acknowledgement of 'k' within 250 ms (38400 "
      .. "baud); " .. hint .. "|timeout\nnil|simpleserial v1: no 'r' reply to 'p' within 250 "
      .. "ms (38400 baud); " .. hint .. "|timeout\n", r.stdout)
  end)

  it("v2 with the clock at 8 MHz: broken frames, and the clock is named", function()
    local r = run(dir, "ss2-aes", 2, [[
      local _, msg, code = ss:encrypt(S.unhex("00112233445566778899aabbccddeeff"))
      show(code, msg:match("the target clock %(HS2%) is 8 MHz") ~= nil)
    ]], { clock = "8e6" })
    assert.are.equal(0, r.status, r.stderr)
    assert.matches("^%a+|true\n$", r.stdout)
    assert.is_not.matches("^ok", r.stdout)
  end)

  -- bit errors on the wire: every answer is either the right ciphertext or a failure, never a
  -- wrong ciphertext; the CRC catches the flipped replies
  for _, case in ipairs({ { "ss2-aes", 2, "bit-flips=0.002" }, { "ss2-aes", 2, "drop-bytes=0.01" },
                          { "ss1-aes", 1, "drop-bytes=0.01" } }) do
    it(("never returns a wrong ciphertext: %s with %s"):format(case[1], case[3]), function()
      local r = run(dir, case[1], case[2], "") -- program it first, without the fault
      assert.are.equal(0, r.status, r.stderr)
      r = run(dir, case[1], case[2], [[
        local want = "3925841d02dc09fbdc118597196a0b32"
        local pt = S.unhex("3243f6a8885a308d313198a2e0370734")
        local seen = {}
        for _ = 1, 60 do
          local ct, _, code = ss:encrypt(pt)
          if ct then
            assert(S.hex(ct) == want, "wrong ciphertext " .. S.hex(ct))
            code = "ok"
          else
            ss:reset_comms()
          end
          seen[code] = (seen[code] or 0) + 1
        end
        local keys = {}
        for k in pairs(seen) do keys[#keys + 1] = k end
        table.sort(keys)
        show(table.concat(keys, " "))
      ]], { faults = { case[3] }, keep = true })
      assert.are.equal(0, r.status, r.stderr)
      local codes = r.stdout:gsub("\n$", "")
      assert.matches("ok", codes)
      for code in codes:gmatch("%S+") do
        assert.is_true(({ ok = true, crc = true, short = true, malformed = true, timeout = true,
          nack = true })[code], code)
      end
      if case[3]:find("bit%-flips") then assert.matches("crc", codes) end
    end)
  end
end)
