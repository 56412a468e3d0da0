-- SPDX-License-Identifier: MIT
-- cwlua.json: the JSON encoder behind --json (contract.md §3: one object with "schema": 1), and
-- a decoder for what cwlua reads back (the objects of the workers a command on several boards
-- runs, cwlua.multi). Object keys are written in sorted order so output is stable and diffable.
local M = {}

local array_mt = { __name = "cwlua.json.array" }
--- json.array(t) marks t as an array, so an empty table encodes as [] rather than {}.
function M.array(t) return setmetatable(t or {}, array_mt) end

--- json.null encodes as null (a nil value cannot be stored in a table).
M.null = setmetatable({}, { __name = "cwlua.json.null", __tostring = function() return "null" end })

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
              ["\r"] = "\\r", ["\t"] = "\\t" }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESC[c] or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local encode

local function encode_table(t, out, seen)
  if seen[t] then error("json.encode: table contains itself", 0) end
  seen[t] = true
  if is_array(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode(t[i], out, seen)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then
        error(("json.encode: object key %s is not a string"):format(tostring(k)), 0)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = quote(k)
      out[#out + 1] = ":"
      encode(t[k], out, seen)
    end
    out[#out + 1] = "}"
  end
  seen[t] = nil
end

encode = function(v, out, seen)
  local ty = type(v)
  if v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif ty == "boolean" then
    out[#out + 1] = tostring(v)
  elseif ty == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("json.encode: " .. tostring(v) .. " has no JSON form", 0)
    end
    if math.type(v) == "integer" then
      out[#out + 1] = ("%d"):format(v)
    else
      local s = ("%.15g"):format(v)   -- shortest form that reads back as the same number
      if tonumber(s) ~= v then s = ("%.17g"):format(v) end
      if not s:find("[.eEn]") then s = s .. ".0" end
      out[#out + 1] = s
    end
  elseif ty == "string" then
    out[#out + 1] = quote(v)
  elseif ty == "table" then
    encode_table(v, out, seen)
  else
    error("json.encode: cannot encode a " .. ty, 0)
  end
end

--- json.encode(value) -> string
function M.encode(value)
  local out = {}
  encode(value, out, {})
  return table.concat(out)
end

local WS = "^[ \t\r\n]*()"
local UNESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
                r = "\r", t = "\t" }

local decode_value

local function fail(pos, what)
  error(("json.decode: %s at byte %d"):format(what, pos), 0)
end

local function decode_string(text, pos) -- pos: just after the opening quote
  local out, i = {}, pos
  while true do
    local j = text:find('["\\%c]', i)
    if not j then fail(pos, "unterminated string") end
    out[#out + 1] = text:sub(i, j - 1)
    local c = text:sub(j, j)
    if c == '"' then return table.concat(out), j + 1 end
    if c ~= "\\" then fail(j, "control character in a string") end
    local e = text:sub(j + 1, j + 1)
    if UNESC[e] then
      out[#out + 1] = UNESC[e]
      i = j + 2
    elseif e == "u" then
      local hex = text:match("^%x%x%x%x", j + 2)
      if not hex then fail(j, "bad \\u escape") end
      local cp = tonumber(hex, 16)
      i = j + 6
      if cp >= 0xD800 and cp <= 0xDBFF then -- a surrogate pair
        local lo = text:match("^\\u(%x%x%x%x)", i)
        lo = lo and tonumber(lo, 16)
        if not lo or lo < 0xDC00 or lo > 0xDFFF then fail(j, "lone surrogate") end
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
        i = i + 6
      end
      out[#out + 1] = utf8.char(cp)
    else
      fail(j, "bad escape")
    end
  end
end

decode_value = function(text, pos, depth)
  if depth > 200 then fail(pos, "nesting too deep") end
  pos = text:match(WS, pos)
  local c = text:sub(pos, pos)
  if c == "{" then
    local obj = {}
    pos = text:match(WS, pos + 1)
    if text:sub(pos, pos) == "}" then return obj, pos + 1 end
    while true do
      if text:sub(pos, pos) ~= '"' then fail(pos, "expected a key") end
      local key
      key, pos = decode_string(text, pos + 1)
      pos = text:match(WS, pos)
      if text:sub(pos, pos) ~= ":" then fail(pos, "expected ':'") end
      local v
      v, pos = decode_value(text, pos + 1, depth + 1)
      obj[key] = v
      pos = text:match(WS, pos)
      c = text:sub(pos, pos)
      if c == "}" then return obj, pos + 1 end
      if c ~= "," then fail(pos, "expected ',' or '}'") end
      pos = text:match(WS, pos + 1)
    end
  elseif c == "[" then
    local arr = M.array()
    pos = text:match(WS, pos + 1)
    if text:sub(pos, pos) == "]" then return arr, pos + 1 end
    while true do
      local v
      v, pos = decode_value(text, pos, depth + 1)
      arr[#arr + 1] = v
      pos = text:match(WS, pos)
      c = text:sub(pos, pos)
      if c == "]" then return arr, pos + 1 end
      if c ~= "," then fail(pos, "expected ',' or ']'") end
      pos = pos + 1
    end
  elseif c == '"' then
    return decode_string(text, pos + 1)
  elseif text:find("^true", pos) then
    return true, pos + 4
  elseif text:find("^false", pos) then
    return false, pos + 5
  elseif text:find("^null", pos) then
    return M.null, pos + 4
  end
  local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num and num ~= "" and num ~= "-" then
    local v = tonumber(num) -- "12" an integer, "1.0" and "1e3" floats, as Lua reads them
    if v == nil then fail(pos, "bad number") end
    return v, pos + #num
  end
  fail(pos, c == "" and "unexpected end" or "unexpected character")
end

--- json.decode(text) -> value: an object is a table, an array a json.array (so it encodes back
-- as one), null is json.null. Raises "json.decode: WHAT at byte N" for text that is not one
-- JSON value (surrounding white space allowed).
function M.decode(text)
  local v, pos = decode_value(text, 1, 0)
  pos = text:match(WS, pos)
  if pos <= #text then fail(pos, "text after the value") end
  return v
end

return M
