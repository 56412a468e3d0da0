-- SPDX-License-Identifier: MIT
-- cwlua.json: the JSON encoder behind --json (contract.md §3: one object with "schema": 1).
-- Object keys are written in sorted order so output is stable and diffable.
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

return M
