-- SPDX-License-Identifier: MIT
-- cwlua.params: a recipe's parameters (docs/targets.md "Parameters"). A recipe declares them in
-- `defaults`; each default's value gives its type, and `params` (the recipe's, or what its
-- family builder fills in) gives the values it accepts:
--
--   defaults = { bauds = { 115200, 57600 }, reset_ms = 10, boot_pin = "pdic" },
--   params = { bauds = { min = 1200, max = 115200, why = "the bootloader's autobaud range" },
--              reset_ms = { type = "number", min = 0, max = 10000 }, boot_pin = { pin = true } }
--
-- `--set KEY=VALUE` (and `--baud N`, which is `--set bauds=N`) is parsed to that type and
-- checked against that range before the board is opened; a value that does not fit is a usage
-- error (exit 2, contract.md §3.1) naming the key, the value and what is accepted. A recipe's
-- own defaults are checked the same way when it loads (cwlua.targets).
local errors = require "cwlua.errors"

local M = {}

local math_type, format, concat = math.type, string.format, table.concat

-- The fields a params entry may have, and their Lua types.
M.SPEC_FIELDS = { type = "string", min = "number", max = "number", above = "number",
                  one_of = "table", pin = "boolean", why = "string" }
M.TYPES = { integer = true, number = true, boolean = true, string = true, list = true }

-- The board's pin names, for { pin = true } (cwlua.board; loaded only when needed).
local function pins()
  return require("cwlua.board").PINS
end

--- params.type_of(default [, spec]) -> "integer" | "number" | "boolean" | "string" | "list"
-- (a list of numbers) | "table" (anything else: --set cannot change it)
function M.type_of(default, spec)
  if spec and spec.type then return spec.type end
  local t = type(default)
  if t == "boolean" or t == "string" then return t end
  if t == "number" then return math_type(default) == "integer" and "integer" or "number" end
  if t == "table" and #default > 0 then
    for k, v in pairs(default) do
      if math_type(k) ~= "integer" or type(v) ~= "number" then return "table" end
    end
    return "list"
  end
  return "table"
end

-- the element type of a list default: integer when every default element is one
local function element_type(default)
  for _, v in ipairs(type(default) == "table" and default or {}) do
    if math_type(v) ~= "integer" then return "number" end
  end
  return "integer"
end

-- "1200", "0.5", "200000000": a bound as a user types it
local function num(n)
  if math_type(n) == "integer" then return format("%d", n) end
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return format("%d", math.floor(n)) end
  return format("%g", n)
end

local function value_text(v)
  return type(v) == "string" and v or tostring(v)
end

-- range(spec) -> " from 1200 to 115200", " of at least 0", " above 0", ""
local function range(spec)
  local lo = spec.min and num(spec.min)
  local hi = spec.max and num(spec.max)
  if spec.above and hi then return format(" above %s, at most %s", num(spec.above), hi) end
  if spec.above then return format(" above %s", num(spec.above)) end
  if lo and hi then return format(" from %s to %s", lo, hi) end
  if lo then return format(" of at least %s", lo) end
  if hi then return format(" of at most %s", hi) end
  return ""
end

-- one_of(spec) -> the accepted values, or nil
local function one_of(spec)
  if spec.pin then return pins() end
  return spec.one_of
end

--- params.describe(key, default, spec) -> what KEY takes: "a whole number from 0 to 255",
-- "one of auto, true, false", "true or false", "whole numbers from 1200 to 115200 (why): one,
-- or several separated by commas, e.g. bauds=115200,57600"; spec.why in parentheses after the
-- range
function M.describe(key, default, spec)
  spec = spec or {}
  local kind = M.type_of(default, spec)
  local why = spec.why and (" (" .. spec.why .. ")") or ""
  local choices = one_of(spec)
  if choices then
    local list = {}
    for _, c in ipairs(choices) do list[#list + 1] = value_text(c) end
    return "one of " .. concat(list, ", ") .. why
  elseif kind == "boolean" then
    return "true or false" .. why
  elseif kind == "integer" then
    return "a whole number" .. range(spec) .. why
  elseif kind == "number" then
    return "a number" .. range(spec) .. why
  elseif kind == "list" then
    local example = {}
    for i = 1, math.min(2, type(default) == "table" and #default or 0) do
      example[i] = num(default[i])
    end
    return (element_type(default) == "integer" and "whole numbers" or "numbers") .. range(spec)
      .. why .. format(": one, or several separated by commas, e.g. %s=%s", key,
        concat(example, ","))
  end
  return "text" .. why
end

-- in_range(spec, v) -> true when the number v is inside spec's bounds
local function in_range(spec, v)
  if v ~= v or v == math.huge or v == -math.huge then return false end
  if spec.min and v < spec.min then return false end
  if spec.max and v > spec.max then return false end
  if spec.above and v <= spec.above then return false end
  return true
end

-- a number typed on the command line (decimal, 0x hex, 1e6): an integer for kind "integer";
-- nil for anything else
local function to_number(text, kind)
  local v = tonumber(text)
  if v == nil then return nil end
  if kind == "integer" then return math.tointeger(v) end
  return v
end

-- parse_one(text, kind, spec) -> value | nil: one value of kind, accepted by spec
local function parse_one(text, kind, spec)
  local choices = one_of(spec)
  if choices then
    local n = tonumber(text)
    for _, c in ipairs(choices) do
      if value_text(c) == text or (type(c) == "number" and c == n) then return c end
    end
    return nil
  end
  if kind == "boolean" then
    if text == "true" then return true elseif text == "false" then return false end
    return nil
  end
  if kind == "string" then return text end
  local v = to_number(text, kind)
  if v == nil or not in_range(spec, v) then return nil end
  return v
end

--- params.parse(text, default, spec) -> value | nil: text as the value of a parameter with this
-- default and spec, or nil when it is not one the parameter takes (params.describe says what
-- it takes). A list takes one value or several separated by commas, and is always a list.
function M.parse(text, default, spec)
  spec = spec or {}
  local kind = M.type_of(default, spec)
  if kind == "table" then return nil end
  if kind ~= "list" then return parse_one(text, kind, spec) end
  local list, ekind = {}, element_type(default)
  for item in (text .. ","):gmatch("([^,]*),") do
    local v = parse_one(item, ekind, spec)
    if v == nil then return nil end
    list[#list + 1] = v
  end
  return list
end

--- params.accepts(value, default, spec) -> true | false: a value as a recipe states it (its
-- own default) fits its type and range
function M.accepts(value, default, spec)
  spec = spec or {}
  local kind = M.type_of(default, spec)
  local function one(v, k)
    local choices = one_of(spec)
    if choices then
      for _, c in ipairs(choices) do if c == v then return true end end
      return false
    end
    if k == "integer" then return math_type(v) == "integer" and in_range(spec, v) end
    if k == "number" then return type(v) == "number" and in_range(spec, v) end
    return type(v) == k
  end
  if kind == "table" then return true end
  if kind == "list" then
    if type(value) ~= "table" or #value == 0 then return false end
    local ek = element_type(default)
    for _, v in ipairs(value) do if not one(v, ek) then return false end end
    return true
  end
  return one(value, kind)
end

--- params.check_spec(recipe) -> nil | message: what is wrong with a recipe's `params` (an
-- entry for a key it has no default for, an unknown field, a default outside its own range)
function M.check_spec(r)
  local defaults = r.defaults or {}
  for key, spec in pairs(r.params or {}) do
    if type(key) ~= "string" or type(spec) ~= "table" then
      return "field 'params' must map parameter names to tables"
    end
    if defaults[key] == nil then
      return format("field 'params' has '%s', which is not in 'defaults'", key)
    end
    for f, v in pairs(spec) do
      if M.SPEC_FIELDS[f] == nil then
        return format("field 'params.%s' has unknown field '%s' (known: above, max, min, one_of, "
          .. "pin, type, why)", key, tostring(f))
      end
      if type(v) ~= M.SPEC_FIELDS[f] then
        return format("field 'params.%s.%s' must be a %s", key, f, M.SPEC_FIELDS[f])
      end
    end
    if spec.type and not M.TYPES[spec.type] then
      return format("field 'params.%s.type' must be integer, number, boolean, string or list",
        key)
    end
    if spec.type == "list" and M.type_of(defaults[key]) ~= "list" then
      return format("field 'params.%s.type' is list, but the default is not a list of numbers",
        key)
    end
    if not M.accepts(defaults[key], defaults[key], spec) then
      return format("default %s = %s is not %s", key, M.show(defaults[key]),
        M.describe(key, defaults[key], spec))
    end
  end
end

--- params.inherit(recipe, specs) -> recipe, with recipe.params[key] a copy of specs[key] for
-- every key the recipe has a default for and no params entry of its own: how a family builder
-- (stm32.recipe, xmega.recipe, avr.recipe) gives its recipes the ranges of the parameters it
-- shares. A copy, because the recipe owns what it returns: the family's own table would let one
-- recipe change every other one's ranges (and, loaded in the sandbox, reach the builder's
-- table). Pure, so recipes and overriding builders may call it (cwlua.sandbox).
function M.inherit(r, specs)
  r.params = r.params or {}
  for key, spec in pairs(specs) do
    if r.defaults and r.defaults[key] ~= nil and r.params[key] == nil then
      local c = {}
      for f, v in pairs(spec) do
        if type(v) == "table" then -- one_of: a list of values
          local list = {}
          for i, x in ipairs(v) do list[i] = x end
          v = list
        end
        c[f] = v
      end
      r.params[key] = c
    end
  end
  return r
end

--- params.show(value) -> a value as --set would type it: "115200,57600", "8000000", "pdic"
function M.show(v)
  if type(v) == "table" then
    local t = {}
    for i, x in ipairs(v) do t[i] = M.show(x) end
    return concat(t, ",")
  end
  if type(v) == "number" then return num(v) end
  return tostring(v)
end

--- params.merge(recipe, sets [, baud [, files]]) -> the recipe's defaults with --set
-- KEY=VALUE (a list of strings) and --baud N applied, each parsed and checked; raises a usage
-- error (exit 2) for an unknown key, a key given twice, or a value the parameter does not take.
-- files: the config files' values for this recipe (cwlua.config.sets: key -> { text, file,
-- line }), checked the same way and applied first, so the command line's win; a bad one is
-- named by its file and line.
function M.merge(recipe, sets, baud, files)
  local defaults, specs = recipe.defaults or {}, recipe.params or {}
  local d = {}
  for k, v in pairs(defaults) do d[k] = v end
  local function keys()
    local list = {}
    for key in pairs(defaults) do list[#list + 1] = key end
    table.sort(list)
    return list
  end
  local given = {}
  local function apply(key, text, shown, where)
    local default = defaults[key]
    if default == nil then
      local list = keys()
      local hint = require("cwlua.targets").suggest(key, list)
      errors.raise("usage", "%srecipe %s has no parameter '%s'%s; its parameters: %s",
        where or "", recipe.name, key, hint and (" (did you mean '" .. hint .. "'?)") or "",
        #list > 0 and concat(list, ", ") or "none")
    end
    if given[key] then
      errors.raise("usage", "%s: %s is already set by %s; give it once", shown, key, given[key])
    end
    given[key] = shown
    local spec = specs[key]
    if M.type_of(default, spec) == "table" then
      errors.raise("usage", "%s: %s holds a table of values, which --set cannot change; copy "
        .. "the recipe to a folder given with -s and edit it there", shown, key)
    end
    local v = M.parse(text, default, spec)
    if v == nil then
      errors.raise("usage", "%s: %s takes %s", shown, key, M.describe(key, default, spec))
    end
    d[key] = v
  end
  -- the config files' values, unless the command line sets the key (its own check: it may
  -- not set a key twice)
  local on_command_line = { bauds = baud ~= nil or nil }
  for _, kv in ipairs(sets or {}) do
    local k = type(kv) == "string" and kv:match("^([%w_]+)=")
    if k then on_command_line[k] = true end
  end
  local from_files = {}
  for key in pairs(files or {}) do
    if not on_command_line[key] then from_files[#from_files + 1] = key end
  end
  table.sort(from_files)
  for _, key in ipairs(from_files) do
    local f = files[key]
    local where = ("config file %s:%d: "):format(f.file, f.line)
    apply(key, f.text, ("%sset.%s.%s = %s"):format(where, recipe.name, key, f.text), where)
    given[key] = nil -- the command line may still set it
  end
  if baud ~= nil then
    if defaults.bauds == nil then
      local list = keys()
      errors.raise("usage", "--baud: recipe %s has no baud rate to set (no parameter 'bauds'); "
        .. "its parameters: %s", recipe.name, #list > 0 and concat(list, ", ") or "none")
    end
    apply("bauds", tostring(baud), "--baud " .. tostring(baud))
  end
  for _, kv in ipairs(sets or {}) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    if not k then errors.raise("usage", "--set needs KEY=VALUE, got '%s'", kv) end
    apply(k, v, "--set " .. kv)
  end
  return d
end

return M
