-- SPDX-License-Identifier: MIT
-- spec/support/fake_stream.lua: a stream with the cwlua stream interface whose replies come
-- from a responder: responder(bytes_written, fake) may push reply bytes with fake:reply(s).
-- Records everything written. Time does not pass; reads never wait.
local M = {}

local F = {}
F.__index = F

function M.new(responder)
  return setmetatable({ responder = responder, rx = "", sent = {}, frame_ns = 95000 }, F)
end

function F:reply(s) self.rx = self.rx .. s end

function F:write(data)
  self.sent[#self.sent + 1] = data
  if self.responder then self.responder(data, self) end
  return true
end

function F:read(n, timeout_ms)
  if #self.rx == 0 then
    return nil, ("read: nothing received within %g ms"):format(timeout_ms), "timeout"
  end
  local out = self.rx:sub(1, n)
  self.rx = self.rx:sub(n + 1)
  return out
end

-- for replies of unknown length (port.lua's stream:read_until)
function F:read_until(pattern, timeout_ms)
  local _, e = self.rx:find(pattern)
  if not e then return nil, ("no match within %g ms"):format(timeout_ms), "timeout" end
  local out = self.rx:sub(1, e)
  self.rx = self.rx:sub(e + 1)
  return out
end

function F:flush()
  local n = #self.rx
  self.rx = ""
  return n
end

--- fake:written() -> everything written, as one string
function F:written() return table.concat(self.sent) end

return M
