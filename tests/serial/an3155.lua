-- SPDX-License-Identifier: MIT
-- an3155.lua: a small STM32 bootloader client (ST AN3155; target-protocols.md §A.3-A.4) over the
-- device given with -d, for the serial-adapter tests. Run as
--   cwlua -d serial:/dev/ttyUSB0 [--gpio-seq SEQ] run an3155.lua ACTION...
-- ACTIONs, done in order, each printing one line:
--   info                 the port's description           serial BAUD FMT   e.g. 115200 8E1
--   enter                port:enter_bootloader()          exit              port:exit_bootloader()
--   sync                 0x7F -> ACK                      getid             Get ID (0x02)
--   read ADDR LEN        Read Memory (0x11)               go ADDR           Go (0x21)
--   banner BAUD          reads the application's first line at BAUD 8N1 (set before `exit`)
--   level LINE           an input line                    pin LINE MODE     port:pin()
--   reads ADDR LEN N     N reads in a row (unplug tests)
-- A failure raises a cwlua error: exit 3 for the port, 4 when the target does not answer.
local cw = _G.cw -- set by `cwlua run`
local errors = cw.errors
local ACK, NACK = 0x79, 0x1F
local TIMEOUT_MS = 500

local function check(v, msg, code)
  if v == nil then
    error(errors.new(code == "timeout" and "target" or "device", msg, { code = code }), 0)
  end
  return v
end

local port = check(cw.open())
local stream

local function hex(s)
  return (s:gsub(".", function(c) return ("%02X"):format(c:byte()) end))
end

local function byte_of(what)
  local b = check(stream:read(1, TIMEOUT_MS))
  return b:byte(), what
end

local function ack(what)
  local b = byte_of(what)
  if b == NACK then errors.raise("target", "%s: NACK", what) end
  if b ~= ACK then errors.raise("target", "%s: 0x%02X instead of ACK", what, b) end
end

local function command(code, what)
  check(stream:write(string.char(code, code ~ 0xFF)))
  ack(what)
end

local function with_xor(s)
  local x = 0
  for i = 1, #s do x = x ~ s:byte(i) end
  return s .. string.char(x)
end

local function read_mem(addr, len)
  command(0x11, "read memory")
  check(stream:write(with_xor(string.pack(">I4", addr))))
  ack("read memory address")
  check(stream:write(string.char(len - 1, (len - 1) ~ 0xFF)))
  ack("read memory length")
  local data = ""
  while #data < len do data = data .. check(stream:read(len - #data, TIMEOUT_MS)) end
  return data
end

local FMT_PARITY = { N = "none", E = "even", O = "odd", M = "mark", S = "space" }

local args, i = { ... }, 1
local function nextarg() i = i + 1; return args[i - 1] end
while i <= #args do
  local a = nextarg()
  if a == "info" then
    local t = port:info()
    print(("info path=%s vid=%s pid=%s description=%s chipwhisperer=%s gpio_seq=%s"):format(
      t.path, t.vid and ("%04x"):format(t.vid) or "-", t.pid and ("%04x"):format(t.pid) or "-",
      t.description, tostring(t.chipwhisperer), tostring(t.gpio_seq)))
  elseif a == "serial" then
    local baud, fmt = math.tointeger(tonumber(nextarg())), nextarg()
    local bits, par, stop = fmt:match("^(%d)(%a)([%d.]+)$")
    stream = check(port:serial({ baud = baud, bits = tonumber(bits), parity = FMT_PARITY[par],
      stop = tonumber(stop) }))
    print(("serial %d %d%s%s actual=%d frame_ns=%d"):format(stream.baud, stream.bits,
      stream.parity:sub(1, 1):upper(), tostring(stream.stop), stream.actual_baud,
      stream.frame_ns))
  elseif a == "enter" then
    print("enter " .. check(port:enter_bootloader()))
  elseif a == "exit" then
    print("exit " .. check(port:exit_bootloader()))
  elseif a == "sync" then
    -- a 0x7F sent while the chip still starts is lost: one more after 100 ms (stm32flash's
    -- init sends a second 0x7F too, §A.10)
    check(stream:flush())
    local b, msg
    for _ = 1, 2 do
      check(stream:write("\x7F"))
      b, msg = stream:read(1, 100)
      if b then break end
    end
    if not b then errors.raise("target", "no reply to the bootloader sync (0x7F): %s", msg) end
    print(("sync %s"):format(b:byte() == ACK and "ack" or b:byte() == NACK and "nack" or
      ("0x%02X"):format(b:byte())))
  elseif a == "getid" then
    command(0x02, "get id")
    local n = byte_of("get id")
    local id = check(stream:read(n + 1, TIMEOUT_MS))
    ack("get id end")
    print(("getid 0x%s"):format(hex(id)))
  elseif a == "read" then
    local addr, len = math.tointeger(tonumber(nextarg())), math.tointeger(tonumber(nextarg()))
    print(("read 0x%08X %d %s"):format(addr, len, hex(read_mem(addr, len))))
  elseif a == "reads" then
    local addr, len = math.tointeger(tonumber(nextarg())), math.tointeger(tonumber(nextarg()))
    local n = math.tointeger(tonumber(nextarg()))
    for k = 1, n do
      read_mem(addr, len)
      print(("reads %d"):format(k))
    end
  elseif a == "go" then
    local addr = math.tointeger(tonumber(nextarg()))
    command(0x21, "go")
    check(stream:write(with_xor(string.pack(">I4", addr))))
    ack("go address")
    print(("go 0x%08X"):format(addr))
  elseif a == "banner" then
    local baud = math.tointeger(tonumber(nextarg()))
    stream = check(port:serial({ baud = baud }))
    print("banner-line " .. baud)
  elseif a == "expect-banner" then
    local line = check(stream:read_until("\n", 1000))
    print("banner " .. line:gsub("[\r\n]", ""))
  elseif a == "level" then
    print(("level %s %d"):format(args[i], check(port:level(nextarg()))))
  elseif a == "pin" then
    local name, mode = nextarg(), nextarg()
    print(("pin %s %s"):format(name, check(port:pin(name, mode))))
  else
    error("an3155.lua: unknown action " .. tostring(a))
  end
end
port:close()
