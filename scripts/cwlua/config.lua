-- SPDX-License-Identifier: MIT
-- cwlua.config: the defaults a lab sets once, in a config file (contract.md §3.12).
--
-- Two files, both optional: the system file $CWLUA_SYSCONFDIR/config.lua (default
-- /etc/cwlua/config.lua) and the user file $CWLUA_CONFIG (default
-- $XDG_CONFIG_HOME/cwlua/config.lua, ~/.config/cwlua/config.lua). A file sets globals:
--
--   device = "sim:husky"                         -- as -d
--   rig = "cw506"                                -- as --rig
--   bitstream = "~/newae/cwlite.bit"             -- as --bitstream
--   search = { "~/lab/targets", "targets" }      -- recipe folders, after -s and CWLUA_PATH
--   set = { stm32f1 = { bauds = 57600 }, avr = { isp_hz = 125000 } }  -- as --set, per recipe
--
-- A relative path is relative to the file's folder, "~/" is $HOME. Each file runs in the
-- recipe sandbox (cwlua.sandbox: no io, os, load or debug, a bounded instruction budget), and
-- every mistake is exit 2 naming FILE:LINE. What wins, per setting: the command line, then the
-- environment (CWLUA_DEVICE, CWLUA_BITSTREAM), then the user file, then the system file, then
-- cwlua's default. search is not one value but folders: the user file's come before the
-- system file's (cwlua.path puts each file's folders before that level's own folder); set
-- merges per recipe and key, the user's value over the system's, and --set over both.
local errors = require "cwlua.errors"

local M = {}

-- What a file may set, in the order messages and `cwlua config` list them.
M.KEYS = { "device", "rig", "bitstream", "search", "set" }
M.RIGS = { "cw308", "cw506", "cw313", "serial" }
-- The environment variable of a setting, where it has one.
M.ENV = { device = "CWLUA_DEVICE", bitstream = "CWLUA_BITSTREAM" }

local KNOWN = {}
for _, k in ipairs(M.KEYS) do KNOWN[k] = true end

local function getenv(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

--- config.system_dir() -> "$CWLUA_SYSCONFDIR", default "/etc/cwlua": the system file's folder,
-- and the parent of the system recipe folder (cwlua.path)
function M.system_dir()
  return getenv("CWLUA_SYSCONFDIR") or "/etc/cwlua"
end

--- config.files() -> { {origin = "system", path = }, {origin = "user", path =, env = true
-- when CWLUA_CONFIG named it} }, the system file first (the user file wins over it). The user
-- file is left out when neither CWLUA_CONFIG, XDG_CONFIG_HOME nor HOME says where it is.
function M.files()
  local list = { { origin = "system", path = M.system_dir() .. "/config.lua" } }
  local user = getenv("CWLUA_CONFIG")
  if user then
    list[2] = { origin = "user", path = user, env = true }
  else
    local xdg = getenv("XDG_CONFIG_HOME")
    if not xdg and getenv("HOME") then xdg = getenv("HOME") .. "/.config" end
    if xdg then list[2] = { origin = "user", path = xdg .. "/cwlua/config.lua" } end
  end
  return list
end

---------------------------------------------------------------------------------------------
-- one file

local function fail(file, line, fmt, ...)
  error(errors.new("usage", ("config file %s%s: %s"):format(file, line and (":" .. line) or "",
    fmt:format(...))), 0)
end

-- "~/x" -> $HOME/x; "x" -> DIR/x (the file's folder); "/x" as it is
local function expand(file, line, what, p)
  if p:sub(1, 1) == "/" then return p end
  if p == "~" or p:sub(1, 2) == "~/" then
    local home = getenv("HOME")
    if not home then fail(file, line, "%s '%s' starts with ~, and HOME is not set", what, p) end
    return home .. p:sub(2)
  end
  local dir = file:match("^(.*)/[^/]*$") or "."
  return dir .. "/" .. p
end

-- A --set value as a user types it, from the value a file gives: 57600 -> "57600",
-- { 57600, 38400 } -> "57600,38400", true -> "true"; nil for anything else.
local function set_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if math.type(v) == "integer" then return ("%d"):format(v) end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(math.floor(v)) end
    return ("%.17g"):format(v)
  end
  if t == "table" and #v > 0 then
    local parts = {}
    for k, x in pairs(v) do
      if math.type(k) ~= "integer" or k < 1 or k > #v then return nil end
      local s = (type(x) == "number" or type(x) == "string") and set_text(x)
      if not s or s:find(",", 1, true) then return nil end
      parts[k] = s
    end
    return table.concat(parts, ",")
  end
  return nil
end

-- Checks what one file assigned (name -> { value, line }) and makes its settings:
-- { device = { value, file, line }, rig, bitstream, search = { {dir, file, line} },
--   set = { recipe = { key = { text, file, line } } } }
local function check(file, assigned)
  local s = { search = {}, set = {} }
  local function at(k) return assigned[k] and assigned[k].line end
  local v = assigned.device and assigned.device.value
  if v ~= nil then
    if type(v) ~= "string" then
      fail(file, at("device"), "device must be a device spec (a string), not a %s", type(v))
    end
    local ok, e = pcall(require("cwlua.devspec").parse, v)
    if not ok then fail(file, at("device"), "%s", errors.is(e) and e.message or tostring(e)) end
    s.device = { value = v, file = file, line = at("device") }
  end
  v = assigned.rig and assigned.rig.value
  if v ~= nil then
    local known = false
    for _, r in ipairs(M.RIGS) do known = known or r == v end
    if not known then
      fail(file, at("rig"), "unknown rig %s; use %s", type(v) == "string" and ("'" .. v .. "'")
        or ("(a " .. type(v) .. ")"), table.concat(M.RIGS, ", "))
    end
    s.rig = { value = v, file = file, line = at("rig") }
  end
  v = assigned.bitstream and assigned.bitstream.value
  if v ~= nil then
    if type(v) ~= "string" or v == "" then
      fail(file, at("bitstream"), "bitstream must be a file name (a non-empty string)")
    end
    s.bitstream = { value = expand(file, at("bitstream"), "bitstream", v), file = file,
                    line = at("bitstream") }
  end
  v = assigned.search and assigned.search.value
  if v ~= nil then
    local list = type(v) == "string" and { v } or v
    local ok = type(list) == "table" and #list > 0
    for k, d in pairs(ok and list or {}) do
      ok = ok and math.type(k) == "integer" and type(d) == "string" and d ~= ""
    end
    if not ok then
      fail(file, at("search"), "search must be a folder or a list of folders (strings)")
    end
    for i, d in ipairs(list) do
      s.search[i] = { dir = expand(file, at("search"), "search folder", d), file = file,
                      line = at("search") }
    end
  end
  v = assigned.set and assigned.set.value
  if v ~= nil then
    local line = at("set")
    if type(v) ~= "table" then
      fail(file, line, "set must be a table of recipes, e.g. set = { stm32f1 = { bauds = "
        .. "57600 } }")
    end
    for recipe, values in pairs(v) do
      if type(recipe) ~= "string" or not recipe:match("^[%w_%-]+$") then
        fail(file, line, "set: %s is not a recipe name", tostring(recipe))
      end
      if type(values) ~= "table" then
        fail(file, line, "set.%s must be a table of parameters, e.g. { bauds = 57600 }", recipe)
      end
      s.set[recipe] = {}
      for key, x in pairs(values) do
        if type(key) ~= "string" or not key:match("^[%w_]+$") then
          fail(file, line, "set.%s: %s is not a parameter name", recipe, tostring(key))
        end
        local text = set_text(x)
        if not text then
          fail(file, line, "set.%s.%s must be a number, a string, true or false, or a list of "
            .. "numbers", recipe, key)
        end
        s.set[recipe][key] = { text = text, file = file, line = line }
      end
    end
  end
  return s
end

-- Runs one file in the sandbox; returns its settings, or nil when it is not there.
local function load_file(f)
  local runtime = require "cwlua.core.runtime"
  local file = f.path
  local st, msg, code = runtime.stat(file)
  if not st then
    if code == "not_found" and not f.env then return nil end
    if f.env then
      error(errors.new("usage", ("CWLUA_CONFIG names %s: %s"):format(file,
        (msg:gsub("^.*: ", "")))), 0)
    end
    fail(file, nil, "cannot read it (%s)", (msg:gsub("^.*: ", "")))
  end
  if st.type ~= "file" then fail(file, nil, "not a regular file (a %s)", st.type) end
  local sandbox = require "cwlua.sandbox"
  local assigned = {}
  local env = sandbox.env("config", function(k, v, line)
    if not KNOWN[k] then
      local hint = require("cwlua.targets").suggest(tostring(k), M.KEYS)
      return ("unknown setting '%s'%s; a config file sets %s"):format(tostring(k),
        hint and (" (did you mean '" .. hint .. "'?)") or "", table.concat(M.KEYS, ", "))
    end
    if assigned[k] then
      return ("%s is already set at line %d; set it once"):format(k, assigned[k].line)
    end
    assigned[k] = { value = v, line = line }
  end)
  local chunk, err = loadfile(file, "t", env)
  if not chunk then
    if errors.out_of_memory(err) then error(err, 0) end
    local why = err:match("^cannot %a+ .-: (.*)$")
    if why then fail(file, nil, "cannot read it (%s)", why) end
    error(errors.new("usage", "config file " .. err), 0) -- "FILE:LINE: message"
  end
  local ok, e = pcall(sandbox.run, "config file " .. file, chunk)
  if not ok then
    if errors.is(e) or errors.out_of_memory(e) then error(e, 0) end
    error(errors.new("usage", "config file " .. tostring(e)), 0)
  end
  return check(file, assigned)
end

---------------------------------------------------------------------------------------------
-- all files

local loaded -- { files = M.files() with present = bool, system = settings, user = settings }

--- config.load() -> { files = { {origin, path, present} }, system = settings | nil,
-- user = settings | nil }, read once; raises a usage error (exit 2) naming FILE:LINE for a
-- file that does not load or sets something wrong.
function M.load()
  if loaded then return loaded end
  local r = { files = M.files() }
  for _, f in ipairs(r.files) do
    local s = load_file(f)
    f.present = s ~= nil
    r[f.origin] = s
  end
  loaded = r
  return r
end

--- config.reset(): forget what was read (the specs change the files between runs)
function M.reset()
  loaded = nil
end

--- config.where(rec) -> how a setting's origin reads in a message: "the user file
-- /home/me/.config/cwlua/config.lua:3", "CWLUA_DEVICE", "-d"
function M.where(rec)
  if rec.origin == "user" or rec.origin == "system" then
    return ("the %s file %s:%d"):format(rec.origin, rec.file, rec.line)
  end
  return rec.variable or rec.option or "the default"
end

--- config.value(name [, given, option]) -> value | nil, origin: the value of device, rig or
-- bitstream and where it came from: given (the command line's, option "-d") wins, then the
-- environment, then the user file, then the system file. origin = { origin = "command-line"
-- | "environment" | "user" | "system" | "default", option =, variable =, file =, line = }.
function M.value(name, given, option)
  if given ~= nil then return given, { origin = "command-line", option = option } end
  local var = M.ENV[name]
  if var and getenv(var) then return getenv(var), { origin = "environment", variable = var } end
  return M.file_value(name)
end

--- config.file_value(name) -> value | nil, origin: what the files say alone, the user file
-- over the system file (origin as config.value's)
function M.file_value(name)
  local c = M.load()
  for _, level in ipairs({ "user", "system" }) do
    local s = c[level] and c[level][name]
    if s then return s.value, { origin = level, file = s.file, line = s.line } end
  end
  return nil, { origin = "default" }
end

--- config.search(level) -> { {dir, file, line} } of level "user" or "system"
function M.search(level)
  local s = M.load()[level]
  return s and s.search or {}
end

--- config.sets(recipe) -> { key = { text, file, line, origin } }: the files' values for one
-- recipe (its name, as `cwlua targets` lists it), the user file's over the system file's
function M.sets(recipe)
  local out = {}
  local c = M.load()
  for _, level in ipairs({ "system", "user" }) do
    for key, v in pairs(c[level] and c[level].set[recipe] or {}) do
      out[key] = { text = v.text, file = v.file, line = v.line, origin = level }
    end
  end
  return out
end

return M
