-- SPDX-License-Identifier: MIT
-- cwlua.targets: finding, loading and validating target recipes (docs/targets.md).
--
-- A recipe is a Lua file that returns a table: metadata plus step functions (style guide
-- §2.6, an ops table like OpenOCD's flash_driver). It runs in the recipe sandbox (cwlua.sandbox:
-- an allow-list of pure functions, read-only views of the modules recipes are built from, an
-- instruction budget while it loads); reading any other global or assigning a global raises,
-- naming the file and line.
local errors = require "cwlua.errors"
local params = require "cwlua.params"
local path = require "cwlua.path"
local runtime = require "cwlua.core.runtime"
local sandbox = require "cwlua.sandbox"

local M = {}

M.API = 1 -- the recipe API this cwlua implements; a recipe states the one it was written for

-- The steps a recipe may provide (docs/targets.md). cwlua owns the sequencing of a command;
-- the steps are what differs between chips.
M.STEPS = { "connect", "info", "erase", "plan_erase", "write", "read", "start", "protection",
            "unprotect", "write_option_bytes", "explain", "reset", "doctor",
            -- memories other than flash (docs/targets.md "Memories other than flash")
            "write_eeprom", "read_eeprom", "fuses", "write_fuse", "write_lock", "check_fuses" }
-- The commands a recipe supports follow from its steps.
local COMMAND_STEPS = {
  { "program", { "connect", "erase", "write", "read", "start" } },
  { "verify", { "connect", "read" } },
  { "read", { "connect", "read" } },
  { "erase", { "connect", "erase" } },
  { "info", { "connect" } },
  { "doctor", { "doctor" } },
}
local STEP_SET = {}
for _, s in ipairs(M.STEPS) do STEP_SET[s] = true end

-- Metadata fields (and their Lua types); anything else is an error unless it starts with '_'.
local FIELDS = {
  api = "number", name = "string", summary = "string", aliases = "table", part = "string",
  parts = "table", transports = "table", defaults = "table", rig = "string", chips = "table",
  regions = "table", params = "table",
}

-- regions: where memories other than flash sit in an image ({ eeprom = { addr = 0x810000 },
-- fuses = { addr = 0x820000, names = { ... } }, lock = { addr = 0x830000 } }).
local REGION_NAMES = { eeprom = true, fuses = true, lock = true }

local function fail(file, fmt, ...)
  errors.raise("input", "recipe %s: " .. fmt, file, ...)
end

-- Levenshtein distance, for did-you-mean hints.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- targets.suggest(word, candidates) -> the closest candidate within 2 edits, or nil
function M.suggest(word, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = distance(word:lower(), c:lower())
    if d <= 2 and (best_d == nil or d < best_d) then best, best_d = c, d end
  end
  return best
end

local function check_string_list(file, field, t)
  for i, v in ipairs(t) do
    if type(v) ~= "string" then fail(file, "field '%s'[%d] must be a string", field, i) end
  end
end

-- cwlua reads a recipe's table after loading it, outside the budget (validation, `targets`, an
-- alias lookup, --set): a metatable there would run the recipe's code at those moments, and a
-- __tostring in an error message. So the table, its keys and the tables in its fields must be
-- plain data; only the recipe's own fields (`_name`) and its steps may hold anything.
local function check_plain(file, r)
  if debug.getmetatable(r) ~= nil then
    fail(file, "returned a table with a metatable; a recipe returns a plain table")
  end
  local seen, stack = {}, {}
  for k, v in next, r do
    if type(k) == "string" and k:sub(1, 1) == "_" then v = nil end
    stack[#stack + 1] = { k, k }
    stack[#stack + 1] = { k, v }
  end
  while #stack > 0 do
    local top = table.remove(stack)
    local field, x = top[1], top[2]
    if type(x) == "table" and not seen[x] then
      seen[x] = true
      if debug.getmetatable(x) ~= nil then
        fail(file, "field '%s' holds a table with a metatable; recipe fields must be plain data",
          type(field) == "string" and field or ("(a " .. type(field) .. " key)"))
      end
      for k, v in next, x do
        stack[#stack + 1] = { field, k }
        stack[#stack + 1] = { field, v }
      end
    end
  end
end

local function validate(file, name, r)
  if type(r) ~= "table" then
    fail(file, "returned %s instead of a table; a recipe ends with 'return { api = %d, ... }'",
      type(r), M.API)
  end
  check_plain(file, r)
  if r.api ~= M.API then
    fail(file, "field 'api' must be %d (the recipe API of this cwlua), got %s", M.API,
      tostring(r.api))
  end
  if r.name ~= name then
    fail(file, "field 'name' must be '%s' (the file name), got %s", name,
      r.name == nil and "nothing" or ("'" .. tostring(r.name) .. "'"))
  end
  if type(r.summary) ~= "string" or r.summary == "" then
    fail(file, "field 'summary' must be a non-empty string")
  end
  local known = {}
  for k in pairs(FIELDS) do known[#known + 1] = k end
  for _, s in ipairs(M.STEPS) do known[#known + 1] = s end
  table.sort(known)
  for k, v in pairs(r) do
    if type(k) ~= "string" then
      fail(file, "has a non-string key %s", tostring(k))
    elseif STEP_SET[k] then
      if type(v) ~= "function" then fail(file, "step '%s' must be a function", k) end
    elseif FIELDS[k] then
      if type(v) ~= FIELDS[k] then fail(file, "field '%s' must be a %s", k, FIELDS[k]) end
    elseif k:sub(1, 1) ~= "_" then
      local hint = M.suggest(k, known)
      fail(file, "unknown field '%s'%s", k, hint and (" (did you mean '" .. hint .. "'?)") or "")
    end
  end
  for k, reg in pairs(r.regions or {}) do
    if not REGION_NAMES[k] then
      fail(file, "field 'regions' has unknown memory '%s' (known: eeprom, fuses, lock)",
        tostring(k))
    end
    if type(reg) ~= "table" or math.type(reg.addr) ~= "integer" or reg.addr < 0 then
      fail(file, "field 'regions.%s' must be a table with an integer 'addr'", k)
    end
    if reg.size ~= nil and (math.type(reg.size) ~= "integer" or reg.size <= 0) then
      fail(file, "field 'regions.%s.size' must be a positive integer", k)
    end
    if reg.names ~= nil then
      if type(reg.names) ~= "table" then
        fail(file, "field 'regions.%s.names' must be a list of strings", k)
      end
      check_string_list(file, "regions." .. k .. ".names", reg.names)
    end
  end
  -- what --set accepts (cwlua.params); the recipe's own defaults must fit it
  local bad = params.check_spec(r)
  if bad then fail(file, "%s", bad) end
  if r.parts then check_string_list(file, "parts", r.parts) end
  if r.transports then check_string_list(file, "transports", r.transports) end
  local parts = {}
  for _, p in ipairs(r.parts or {}) do parts[p] = true end
  if r.part and r.parts and not parts[r.part] then
    fail(file, "reference part '%s' is not in its 'parts' list", r.part)
  end
  for alias, part in pairs(r.aliases or {}) do
    if type(alias) ~= "string" or type(part) ~= "string" then
      fail(file, "field 'aliases' must map alias names to part names (strings)")
    end
    if r.parts and not parts[part] then
      fail(file, "alias '%s' names part '%s', which is not in its 'parts' list", alias, part)
    end
  end
end

--- targets.load(file [, name]) -> recipe: loads and validates a recipe file.
-- Raises an "input" error naming the file for any problem.
function M.load(file, name)
  name = name or file:match("([^/]+)%.lua$")
  local st = runtime.stat(file)
  if st and st.type ~= "file" then -- a FIFO would block loadfile until someone writes to it
    fail(file, "not a regular file (a %s)", st.type == "fifo" and "FIFO" or st.type)
  end
  local chunk, err = loadfile(file, "t", sandbox.env(name))
  if not chunk and errors.out_of_memory(err) then error(err, 0) end
  if not chunk then fail(file, "%s", err) end
  local ok, r = pcall(sandbox.run, "recipe " .. file, function()
    local done, v = pcall(chunk)
    if done then return v end
    if errors.is(v) and v.recipe_bug then error(v, 0) end -- error({}) while loading: exit 1
    -- a message made here, under the budget: the value may have the recipe's own __tostring
    error(type(v) == "string" and v or tostring(v), 0)
  end)
  if not ok then
    if errors.out_of_memory(r) then error(r, 0) end -- not the recipe's fault
    if errors.is(r, "input") and r.budget then error(r, 0) end
    if errors.is(r) and r.recipe_bug then error(r, 0) end
    fail(file, "%s", tostring(r))
  end
  validate(file, name, r)
  return r
end

--- targets.commands(recipe) -> the commands the recipe's steps make available, in a fixed order
function M.commands(recipe)
  local out = {}
  for _, c in ipairs(COMMAND_STEPS) do
    local ok = true
    for _, s in ipairs(c[2]) do ok = ok and recipe[s] ~= nil end
    if ok then out[#out + 1] = c[1] end
  end
  return out
end

--- targets.list() -> entries, one per recipe file on the search path, in lookup order:
-- { name, file, origin, recipe | nil, error | nil, overridden_by | nil }
-- A recipe that fails to load is listed with its error rather than hiding the others.
function M.list()
  local entries, winner = {}, {}
  for _, d in ipairs(path.dirs()) do
    local names = runtime.dir(d.dir) or {}
    for _, fname in ipairs(names) do
      local name = fname:match("^([%w_%-%.]+)%.lua$")
      if name then
        local file = d.dir .. "/" .. fname
        local e = { name = name, file = file, origin = d.origin }
        local ok, r = pcall(M.load, file, name)
        if not ok and errors.out_of_memory(r) then error(r, 0) end
        if ok then e.recipe = r else e.error = tostring(r) end
        -- a FIFO or a device is listed, so the user sees it, but is no recipe: it hides no
        -- other file of that name (path.find_recipe passes over it too)
        local st = runtime.stat(file)
        if st and st.type ~= "file" then
          e.not_a_file = true
        elseif winner[name] then
          e.overridden_by = winner[name].file
        else
          winner[name] = e
        end
        entries[#entries + 1] = e
      end
    end
  end
  return entries
end

--- targets.resolve(word) -> recipe, part, file, origin
-- word is a recipe name (first file on the search path wins), else a recipe name or an alias
-- one recipe declares, both compared without regard to case (STM32F1, cw308_stm32f1; contract.md
-- §3.2). part is the alias's part or the reference part.
function M.resolve(word)
  local file, origin = path.find_recipe(word)
  if file then
    local r = M.load(file, word)
    return r, r.part, file, origin
  end
  local tried = origin
  local names = {}
  local lower = word:lower()
  local entries = M.list()
  for _, e in ipairs(entries) do -- a recipe name in another case, before any alias
    if not e.overridden_by and e.recipe and not e.not_a_file and e.name:lower() == lower then
      return e.recipe, e.recipe.part, e.file, e.origin
    end
  end
  for _, e in ipairs(entries) do
    if not e.overridden_by and e.recipe then
      names[#names + 1] = e.name
      for alias, part in pairs(e.recipe.aliases or {}) do
        if alias:lower() == lower then return e.recipe, part, e.file, e.origin end
        names[#names + 1] = alias
      end
    end
  end
  local hint = M.suggest(word, names)
  local lines = { ("unknown target '%s'%s"):format(word,
    hint and (" (did you mean '" .. hint .. "'?)") or "") }
  for _, f in ipairs(tried) do lines[#lines + 1] = "\tno file '" .. f .. "'" end
  lines[#lines + 1] = "run 'cwlua targets' to list targets"
  errors.raise("usage", "%s", table.concat(lines, "\n"))
end

return M
