-- SPDX-License-Identifier: MIT
-- cwlua.board.usart: the board's USART bridge to the target (cw-usb-protocol.md §5, cited as
-- §N): the baud the SAM really makes, the stream a board:serial() returns (paced writes that
-- never overflow the board's buffers, reads that wait only as long as an answer needs), the
-- --log-wire trace, and what a snapshot keeps of the serial settings.
local time = require "cwlua.time"
local common = require "cwlua.board.common"
local errors = require "cwlua.errors"

local M = {}

local fail, protect = common.fail, common.protect

local REQ_USART_DATA, REQ_USART_CONFIG = 0x1A, 0x1B -- §2.3
local USART_INIT, USART_ENABLE = 0x10, 0x11            -- 0x1B sub-commands (§5.1)
local USART_RX_COUNT, USART_TX_COUNT = 0x14, 0x18      -- 0x1B IN sub-commands (§5.2, §5.3)
local CTRL_MAX = 128         -- firmware control buffer (§2.1)
local USART_CAPACITY = 199   -- 200-byte circular buffers, one slot always empty (§5.4)

-- USART INIT codes (§5.1).
local STOP_CODE = { [1] = 0, [1.5] = 1, [2] = 2 }
local PARITY_CODE = { none = 0, odd = 1, even = 2, mark = 3, space = 4 }
local SERIAL_DEFAULT = { baud = 38400, parity = "none", stop = 1, bits = 8 } -- NewAE target default

-- Serial settings cwlua set on each board during this process, by serial number: the board
-- cannot report them, so a snapshot restores these, else SERIAL_DEFAULT (contract.md §3).
local serial_set = {}

--- usart.baud(requested, mck) -> the baud the SAM really produces (§5.1 divider), or nil
-- when the divider is out of range (the INIT then fails silently).
function M.baud(baud, mck)
  local over = mck >= 16 * baud and 16 or 8
  local cd_fp = (8 * math.floor(mck) + over * baud // 2) // (over * baud)
  local cd, fp = cd_fp >> 3, cd_fp & 7
  if cd < 1 or cd > 65535 then return nil end
  return mck / (over * (cd + fp / 8))
end

local Stream = {}
Stream.__index = Stream
Stream.__name = "cwlua.Stream"

-- --log-wire (contract.md §3): one line per burst, "+0.012345 > 7F" (to the target) or "< 79"
-- (from it), seconds since the first burst on the runtime clock.
local wire = { out = nil, t0 = nil }

--- board.set_wire_log(true | path | file): log every burst of every stream; true = stderr.
function M.set_wire_log(where)
  if where == true then
    wire.out = io.stderr
  elseif type(where) == "string" then
    local f, err = io.open(where, "w")
    if not f then errors.raise("usage", "--log-wire: cannot write %s", err) end
    f:setvbuf("line")
    wire.out = f
  else
    wire.out = where
  end
  wire.t0 = nil
end

--- board.wire(dir, bytes): log a burst (">" to the target, "<" from it); for other streams too
function M.wire(dir, bytes)
  if not wire.out or #bytes == 0 then return end
  local now = time.now_ns()
  wire.t0 = wire.t0 or now
  wire.out:write(("+%.6f %s %s\n"):format((now - wire.t0) / 1e9, dir,
    (bytes:gsub(".", function(c) return ("%02X "):format(c:byte()) end):gsub(" $", ""))))
end

local function frame_bits(cfg)
  return 1 + cfg.bits + (cfg.parity == "none" and 0 or 1) + cfg.stop
end

function Stream:_count(sub)
  local b = self._board
  return string.unpack("<I4", b:_ctrl_in(REQ_USART_CONFIG, sub, 4))
end

--- stream:available() -> bytes that can be read now | nil, msg, code
Stream.available = protect(function(self)
  return #self._pending + self:_count(USART_RX_COUNT)
end, true)

--- stream:tx_pending() -> bytes in the board's transmit buffer not yet sent | nil, msg, code
Stream.tx_pending = protect(function(self)
  return self:_count(USART_TX_COUNT)
end, true)

-- The stream keeps _tx_end_ns, the (virtual) time its last queued byte leaves the board's
-- UART: the board shifts bytes out at a fixed rate, so how full its transmit buffer is, and
-- when a reply can arrive at the earliest, are known without asking: knowing when the answer
-- can arrive, instead of polling blindly, is what keeps a block near its wire time
-- (bench/README.md, "The AN3155 bound").
function Stream:_queued_est()
  local left = self._tx_end_ns - time.now_ns()
  return left > 0 and -(-left // self.frame_ns) or 0 -- ceil
end

--- stream:sent_at() -> the time, on cw.now()'s clock, at which the last byte written so far
-- has left the board (now, when it has): the earliest a target can act on a command, computed
-- from the line's rate, not asked of the board (scope:capture's not_before)
function Stream:sent_at()
  return math.max(self._tx_end_ns, time.now_ns()) / 1e9
end

-- Re-synchronise the estimate with the board's own count (0x1B/0x18).
function Stream:_tx_sync()
  local q = self:_count(USART_TX_COUNT)
  self._tx_end_ns = time.now_ns() + q * self.frame_ns
  return q
end

--- stream:write(data) -> true | nil, msg, code. Keeps the board's 199-byte transmit buffer
-- full while it drains but never overflowing it (it would drop bytes silently, §5.2), in as
-- few requests as their 128 bytes allow (§5.2): a piece smaller than what is left goes only
-- when sending it leaves no more requests to make than before (a 258-byte Write Memory frame
-- goes as 128 + 70 + 60, not 128 + 70 and a dozen pieces of the 5 bytes that drain while one
-- request is under way). Otherwise it waits until the rest fits whole, which costs no wire
-- time: the buffer still holds at least 70 bytes, 6.7 ms at 115200 baud, when it is sent.
Stream.write = protect(function(self, data)
  if type(data) ~= "string" then error("write: data must be a string", 2) end
  M.wire(">", data)
  local b, pos, n = self._board, 1, #data
  while pos <= n do
    local left = n - pos + 1
    -- one byte of margin for the estimate's rounding
    local room = USART_CAPACITY - 1 - self:_queued_est()
    local chunk = math.min(room, left, CTRL_MAX)
    if chunk > 0 and -(-(left - chunk) // CTRL_MAX) < -(-left // CTRL_MAX) then
      b:_ctrl_out(REQ_USART_DATA, 0, data:sub(pos, pos + chunk - 1))
      self._tx_end_ns = math.max(self._tx_end_ns, time.now_ns()) + chunk * self.frame_ns
      pos = pos + chunk
    else
      -- wait until the estimate has room for the next request whole, then ask the board, so
      -- a wrong estimate (a board whose clock runs slow) can never overflow the buffer
      time.sleep_ns((math.min(left, CTRL_MAX) - math.max(room, 0)) * self.frame_ns)
      self:_tx_sync()
    end
  end
  -- the reply to these bytes starts now: what arrives is counted from here (_await)
  self._rx_since = 0
  return true
end, true)

-- Take everything the board holds: one count (0x1B/0x14), then as many 0x1A reads as needed;
-- what the caller does not want yet stays in _pending for the next read. Never asks for more
-- than is buffered: the firmware pads with 0xFF (§5.3).
function Stream:_fill()
  local b = self._board
  local waiting = self:_count(USART_RX_COUNT)
  local got, burst = 0, {}
  while got < waiting do
    local n = math.min(waiting - got, CTRL_MAX)
    burst[#burst + 1] = b:_ctrl_in(REQ_USART_DATA, 0, n)
    got = got + n
  end
  if got > 0 then
    local data = table.concat(burst)
    M.wire("<", data)
    self._pending = self._pending .. data
    self._rx_since = self._rx_since + got
  end
  return got
end

-- One byte the caller knows cannot be 0xFF (an AN3155 ACK or NACK), read without the count:
-- the firmware answers a 1-byte 0x1A read with the oldest byte it holds, or with 0xFF when it
-- holds none (§5.3), so any other value is a byte that arrived, and 0xFF means "not yet". One
-- transfer instead of two. A byte the line damaged into 0xFF cannot be told from "not yet",
-- and is dropped: the wait then ends as a timeout instead of a garbled reply, both of which
-- the engine treats alike (cwlua.proto.stm32boot, "Retries").
function Stream:_take_one()
  local c = self._board:_ctrl_in(REQ_USART_DATA, 0, 1)
  if c == "\xFF" or #c ~= 1 then return 0 end
  M.wire("<", c)
  self._pending = self._pending .. c
  self._rx_since = self._rx_since + 1
  return 1
end

local POLL_MAX_NS = 2000000 -- longest gap between two looks at an idle line: 2 ms
-- Never let more than this arrive unread: the board's receive buffer holds 199 bytes and drops
-- the rest (§5.4); the margin covers the USB round trips of emptying it (3 transfers at a few
-- milliseconds each is 30-odd bytes at 115200).
local RX_UNREAD_MAX = USART_CAPACITY - 64

-- Wait for bytes: not before the earliest moment the bytes to take next can have arrived, but
-- never so long that the board's receive buffer could overflow; then poll with a gap that
-- doubles from one frame time up to POLL_MAX_NS.
-- The earliest moment counts from our own last byte leaving the board (_tx_end_ns): one frame
-- for each byte of the reply up to the ones to take, those already taken included
-- (_rx_since), plus extra_ns the caller knows the target needs first (flash programming).
-- What to take at the next look: the bytes the caller waits for or, when the caller says the
-- reply goes on (reply, its length in all counted from the caller's first byte), as much more
-- of it as one read takes (128 bytes), so that the ACK of a Read Memory and its data come in
-- one read. direct: the single byte awaited is never 0xFF, so it is read without the count
-- (_take_one). done(pending): true when what is buffered is already a whole answer, shorter than
-- n bytes (an error reply), so waiting for n would only run into the timeout. Returns the bytes
-- buffered after the first look.
function Stream:_await(n, left, extra_ns, reply, direct, done)
  reply = math.max(reply or n, n)
  local gap = self.frame_ns
  local behind = false -- the last look found fewer bytes than the estimate promised
  local look_ns, first
  local function whole() return done ~= nil and #self._pending > 0 and done(self._pending) end
  while #self._pending < n and not whole() do
    local ahead = math.min(math.max(n, math.min(reply, #self._pending + CTRL_MAX))
      - #self._pending, CTRL_MAX, RX_UNREAD_MAX)
    if look_ns == nil then
      look_ns = self._tx_end_ns + (self._rx_since + ahead) * self.frame_ns + (extra_ns or 0)
      if behind then look_ns = math.max(look_ns, time.now_ns() + ahead * self.frame_ns) end
      local wait = look_ns - time.now_ns()
      if wait > 0 then time.sleep_ns(math.min(wait, math.max(left(), 0))) end
    end
    local got
    if direct and n - #self._pending == 1 and reply == n then
      got = self:_take_one()
    else
      got = self:_fill()
    end
    first = first or #self._pending
    if got == 0 then
      local remaining = left()
      if remaining <= 0 then return first end
      time.sleep_ns(math.min(remaining, gap))
      gap = math.min(gap * 2, POLL_MAX_NS)
    else
      gap = self.frame_ns
      behind = got < ahead
      look_ns = nil
    end
  end
  return first or #self._pending
end

--- stream:await(n, timeout_ms [, busy_ns [, done]]) -> bytes buffered, bytes at the first look
-- | nil, msg, code. Waits until n bytes are buffered for reading, or done(buffered bytes) says
-- they are a whole answer already (an error reply shorter than n), or the timeout passes,
-- reading none out: for protocol code that knows how long an answer is (cw.simpleserial's
-- encrypt), so that one look at the board takes the whole answer. The first look comes when n
-- bytes (at most 128, what one read takes) can have arrived: after the stream's own last byte,
-- one frame each, plus busy_ns (how long the target works first). Fewer than n bytes at the
-- first look means the target took longer: (n - first) frames more, which the caller can add
-- to busy_ns next time.
Stream.await = protect(function(self, n, timeout_ms, busy_ns, done)
  if math.type(n) ~= "integer" or n < 1 then error("await: n must be a positive integer", 2) end
  if type(timeout_ms) ~= "number" or timeout_ms <= 0 then
    error("await: timeout_ms must be a positive number", 2)
  end
  if #self._pending >= n then return #self._pending, #self._pending end
  if done ~= nil and type(done) ~= "function" then error("await: done must be a function", 2) end
  local first = self:_await(n, time.deadline(timeout_ms), busy_ns, nil, nil, done)
  return #self._pending, first
end, true)

--- stream:read(n, timeout_ms [, extra_ns [, opts]]) -> string of up to n bytes | nil, msg,
-- "timeout" when none arrived in time. extra_ns: how long the target needs before it answers
-- (e.g. flash programming), so the board is not asked before the answer can exist. opts.reply:
-- the reply goes on after these n bytes, reply bytes in all (the ACK of a Read Memory and its
-- data): the stream may wait for more of it before it looks, and keeps what it took for the
-- next read. opts.direct: the byte awaited (n = 1) is never 0xFF (an ACK or NACK): it is read
-- without asking the board how many it holds (_take_one). Waits on the runtime clock: on the
-- simulator this costs no real time.
Stream.read = protect(function(self, n, timeout_ms, extra_ns, opts)
  if math.type(n) ~= "integer" or n < 1 then error("read: n must be a positive integer", 2) end
  if type(timeout_ms) ~= "number" or timeout_ms <= 0 then
    error("read: timeout_ms must be a positive number", 2)
  end
  if #self._pending < n then
    self:_await(n, time.deadline(timeout_ms), extra_ns, opts and opts.reply,
      opts and opts.direct)
  end
  if #self._pending == 0 then
    local hint = self._board:_sim_hint()
    return nil, ("read: nothing received within %g ms"):format(timeout_ms)
      .. (hint and ("; " .. hint) or ""), "timeout"
  end
  local out = self._pending:sub(1, n)
  self._pending = self._pending:sub(n + 1)
  return out
end, true)

--- stream:read_until(pattern, timeout_ms) -> text up to and including the first match |
-- nil, msg, "timeout" (what arrived stays buffered for the next read)
Stream.read_until = protect(function(self, pattern, timeout_ms)
  if type(pattern) ~= "string" then error("read_until: pattern must be a string", 2) end
  local left = time.deadline(timeout_ms)
  while true do
    local _, e = self._pending:find(pattern)
    if e then
      local out = self._pending:sub(1, e)
      self._pending = self._pending:sub(e + 1)
      return out
    end
    if self:_fill() == 0 then
      local remaining = left()
      if remaining <= 0 then
        local hint = #self._pending == 0 and self._board:_sim_hint()
        return nil, ("read_until: no match for %q within %g ms (%d bytes received)"):format(
          pattern, timeout_ms, #self._pending) .. (hint and ("; " .. hint) or ""), "timeout"
      end
      time.sleep_ns(math.min(remaining, math.max(self.frame_ns, 100000)))
    end
  end
end, true)

--- stream:flush() -> bytes discarded: drops everything received so far
Stream.flush = protect(function(self)
  local dropped = #self._pending
  self._pending = ""
  while true do
    local n = self:_fill()
    if n == 0 then break end
    dropped = dropped + #self._pending
    self._pending = ""
  end
  return dropped
end, true)

--- stream:drain(timeout_ms) -> true once the board has sent everything | nil, msg, "timeout"
Stream.drain = protect(function(self, timeout_ms)
  local left = time.deadline(timeout_ms)
  while true do
    local q = self:_tx_sync()
    if q == 0 then return true end
    if left() <= 0 then
      return nil, ("drain: %d bytes still queued after %g ms"):format(q, timeout_ms), "timeout"
    end
    time.sleep_ns(q * self.frame_ns)
  end
end, true)

-- INIT (which empties both board buffers on shipped firmware, §5.1) then ENABLE.
local function init(b, c)
  b:_ctrl_out(REQ_USART_CONFIG, USART_INIT,
    string.pack("<I4BBB", c.baud, STOP_CODE[c.stop], PARITY_CODE[c.parity], c.bits))
  b:_ctrl_out(REQ_USART_CONFIG, USART_ENABLE)
end

--- usart.open(board, cfg) -> stream (raising), for board:serial(). cfg: baud (38400), parity
-- ("none", "odd", "even", "mark", "space"), stop (1, 1.5, 2), bits (5..8). Argument errors
-- raise plain messages (misuse); a baud the SAM cannot make is a device failure "invalid".
function M.open(self, cfg)
  cfg = cfg or {}
  local c = {}
  for k, v in pairs(SERIAL_DEFAULT) do c[k] = cfg[k] == nil and v or cfg[k] end
  for k in pairs(cfg) do
    if SERIAL_DEFAULT[k] == nil then error(("serial: unknown setting '%s'"):format(k), 0) end
  end
  if math.type(c.baud) ~= "integer" or c.baud < 1 then
    error("serial: baud must be a positive integer", 0)
  end
  if PARITY_CODE[c.parity] == nil then
    error("serial: parity must be none, odd, even, mark or space", 0)
  end
  if STOP_CODE[c.stop] == nil then error("serial: stop must be 1, 1.5 or 2", 0) end
  if math.type(c.bits) ~= "integer" or c.bits < 5 or c.bits > 8 then
    error("serial: bits must be 5 to 8", 0)
  end
  local actual = M.baud(c.baud, self._kind.mck)
  if not actual then
    fail("invalid", "%s: %d baud is outside the board USART's range", self:_where(), c.baud)
  end
  init(self, c)
  serial_set[self.serial_number] = c
  self._serial_gen = (self._serial_gen or 0) + 1
  return setmetatable({
    _board = self, _pending = "", _tx_end_ns = 0, _rx_since = 0, baud = c.baud,
    actual_baud = actual, parity = c.parity, rx_capacity = USART_CAPACITY,
    stop = c.stop, bits = c.bits,
    frame_ns = math.ceil(frame_bits(c) * 1e9 / actual),
  }, Stream)
end

--- usart.snapshot(board) -> what a restore needs: the settings cwlua set on this board in this
-- process (the board cannot report them), else 38400 8N1
function M.snapshot(b)
  return { gen = b._serial_gen, cfg = serial_set[b.serial_number] or SERIAL_DEFAULT }
end

--- usart.restore(board, s): put the settings back when cwlua changed the line since (raising)
function M.restore(b, s)
  if b._serial_gen == s.gen then return end
  init(b, s.cfg)
  serial_set[b.serial_number] = s.cfg
  b._serial_gen = s.gen
end

M.Stream = Stream
return M
