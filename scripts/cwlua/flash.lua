-- cwlua.flash: the sequencing of program / verify / read / erase / info (design §3), the same
-- for every recipe; recipes fill in the steps (connect, erase, write, read, start, info).
--
-- Order, so that nothing on the chip is touched before the checks (design §3 "Nothing before
-- the checks"): load and check the image → open the board → snapshot (restored on every exit
-- path, design §3 "Leave the board as found") → switch glitch outputs off → connect (entry,
-- sync, chip ID checked against the recipe) → check the image against this chip's flash →
-- erase → write → verify by reading back → start the application.
local board_mod = require "cwlua.board"
local clock = require "cwlua.clock"
local errors = require "cwlua.errors"
local image = require "cwlua.image"
local progress = require "cwlua.progress"
local targets = require "cwlua.targets"

local M = {}

local BLOCK = 256 -- AN3155 moves at most 256 bytes per Write/Read Memory (target-protocols §A.4)

--- flash.number(text, what) -> integer: 0x08000000, 134217728, 4K, 64KiB, 1M
function M.number(text, what)
  local s = tostring(text):lower()
  local num, unit = s:match("^(0x%x+)(%a*)$")
  if not num then num, unit = s:match("^(%d+)(%a*)$") end
  local scale = ({ [""] = 1, k = 1024, kib = 1024, m = 1048576, mib = 1048576 })[unit or ""]
  local v = num and math.tointeger(tonumber(num))
  if not v or not scale then
    errors.raise("usage", "%s needs a number like 0x08000000, 4096 or 4K, got '%s'", what,
      tostring(text))
  end
  return v * scale
end

-- --set KEY=VALUE overrides of the recipe's defaults; numbers stay numbers and a comma list
-- becomes a list (--set bauds=57600,38400).
local function parse_value(v)
  if v:find(",") then
    local list = {}
    for item in v:gmatch("[^,]+") do list[#list + 1] = parse_value(item) end
    return list
  end
  if v == "true" then return true elseif v == "false" then return false end
  return math.tointeger(tonumber(v)) or tonumber(v) or v
end

local function merged_defaults(recipe, sets)
  local d = {}
  for k, v in pairs(recipe.defaults or {}) do d[k] = v end
  for _, kv in ipairs(sets or {}) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    if not k then errors.raise("usage", "--set needs KEY=VALUE, got '%s'", kv) end
    if recipe.defaults == nil or recipe.defaults[k] == nil then
      local keys = {}
      for key in pairs(recipe.defaults or {}) do keys[#keys + 1] = key end
      table.sort(keys)
      local hint = targets.suggest(k, keys)
      errors.raise("usage", "recipe %s has no parameter '%s'%s; its parameters: %s", recipe.name,
        k, hint and (" (did you mean '" .. hint .. "'?)") or "", table.concat(keys, ", "))
    end
    d[k] = parse_value(v)
  end
  return d
end

local function require_steps(recipe, command)
  for _, c in ipairs(targets.commands(recipe)) do
    if c == command then return end
  end
  errors.raise("usage", "recipe %s cannot %s yet (it provides: %s)", recipe.name, command,
    table.concat(targets.commands(recipe), ", "))
end

--- flash.load_image(file, recipe, opts) -> img. Raw binary goes to --base, or the recipe's
-- flash start. A file whose name says HEX or ELF must be one: a damaged .hex is never
-- programmed as raw bytes.
function M.load_image(file, recipe, opts)
  local f, err = io.open(file, "rb")
  if not f then errors.raise("input", "cannot open %s", err) end
  local data = f:read("a")
  f:close()
  local fmt = data and #data > 0 and image.detect(data) or nil
  local ext = file:lower():match("%.(%w+)$")
  local expect = ({ hex = "hex", ihex = "hex", ihx = "hex", elf = "elf" })[ext or ""]
  if fmt and expect and fmt ~= expect then
    errors.raise("input", "%s: the name says %s but the content is not (%s); check the file",
      file, expect == "hex" and "Intel HEX" or "ELF", expect == "hex"
        and "its first line does not start with ':'" or "it does not start with 7F 45 4C 46")
  end
  local base = opts.base and M.number(opts.base, "--base") or
    (recipe.defaults and recipe.defaults.flash_start)
  local img = image.parse(data or "", file, { base = base })
  if img:is_empty() then errors.raise("input", "%s: the image holds no data to program", file) end
  return img
end

-- The board, opened from -d with the recipe's part as the simulated chip. A CW-Nano carries
-- its own STM32F030 (design §3: CWNANO, "the default on -d sim:nano").
local function open_device(part)
  local sim = {}
  for k, v in pairs(board_mod.defaults.sim or {}) do sim[k] = v end
  local spec = board_mod.defaults.spec
  if not sim.target and spec and spec:match("^sim:nano$") then part = "stm32f030x6" end
  sim.target = sim.target or part
  local dev, msg, code = board_mod.open(board_mod.defaults.spec, sim)
  if not dev then
    errors.raise(code == "invalid" and "usage" or "device", "%s", msg)
  end
  return dev
end

-- Glitch outputs a notebook left on (crowbar MOSFETs, HS2 = glitch clock) are switched off
-- for the operation (design §3); the snapshot puts them back afterwards.
local function glitch_off(ctx)
  local b = ctx.dev
  if not b.fpga_read or not b:info().fpga or b:info().fpga ~= "configured" then return end
  local io = b:fpga_read(55, 8) -- IOROUTE byte 4: glitch MOSFET enables (cw-usb-protocol §4.1)
  if io and io:byte(5) ~= 0 then
    ctx.log("glitch MOSFETs were on; off while programming")
    b:fpga_write(55, io:sub(1, 4) .. "\0" .. io:sub(6))
  end
  local _, src = b:clock()
  if src == "glitch" then -- HS2 = glitch output (§4.3): give the target its plain clock
    ctx.log("HS2 carried the glitch output; CLKGEN while programming")
    local ext = b:fpga_read(38, 1):byte()
    b:fpga_write(38, string.char((ext & ~0x60) | 0x40))
  end
end

--- flash.session(command, word, opts, body) -> whatever body returns.
-- Resolves the recipe, opens (or takes opts.board) and snapshots the board, connects, and runs
-- body(ctx, chip); every exit path restores the board.
function M.session(command, word, opts, body)
  local recipe, part = targets.resolve(word)
  require_steps(recipe, command)
  local ctx = {
    where = recipe.name, recipe = recipe, part = opts.part or part, opts = opts,
    defaults = merged_defaults(recipe, opts.set),
    log = function(fmt, ...)
      if opts.verbose then io.stderr:write(recipe.name, ": ", fmt:format(...), "\n") end
    end,
  }
  -- a board the caller holds open (a lab script: cw.flash.program(t, f, { board = b })) is
  -- used as is and left open; otherwise the session opens and closes its own
  local dev = opts.board
  local owned <close> = not dev and open_device(ctx.part) or nil
  dev = dev or owned
  ctx.dev = dev
  local _ <close> = dev.snapshot and assert(dev:snapshot()) or nil -- restores on every exit
  glitch_off(ctx)
  ctx.rig = opts.rig or recipe.rig or "cw308"
  local cok, chip = pcall(recipe.connect, ctx)
  if not cok then
    -- a target that does not answer: say what was seen and what is likely, then point to
    -- cwlua doctor (design §6), never a fixed checklist
    if errors.is(chip, "target") and recipe.explain then
      local lines = recipe.explain(ctx, chip)
      lines[#lines + 1] = ("do: check those, then run 'cwlua doctor %s%s' to test each link")
        :format(word, opts.rig and (" --rig " .. opts.rig) or "")
      chip.message = chip.message .. "\n  " .. table.concat(lines, "\n  ")
    end
    error(chip, 0)
  end
  if chip.read_protected and command ~= "info" then
    if opts.unprotect and recipe.unprotect and (command == "program" or command == "erase") then
      chip = recipe.unprotect(ctx, chip, "read")
    else
      error(errors.new("input", ("%s: the chip is read-protected and refuses to be read or "
        .. "written%s"):format(ctx.where, (command == "program" or command == "erase") and
        "; --unprotect removes the protection by erasing the whole flash" or "; nothing on it "
        .. "can be read (cwlua program --unprotect erases it and removes the protection)"),
        { cause = "read-protected" }), 0)
    end
  end
  if opts.unprotect_write and recipe.unprotect then chip = recipe.unprotect(ctx, chip, "write") end
  ctx.chip = chip
  ctx.sim0 = dev.sim_counters and dev:sim_counters() or nil
  local result = body(ctx, chip)
  if ctx.sim0 and type(result) == "table" then
    local c1 = dev:sim_counters()
    result.sim = { wire_s = (c1.wire_ns - ctx.sim0.wire_ns) / 1e9,
      flash_s = (c1.flash_ns - ctx.sim0.flash_ns) / 1e9,
      wait_s = (c1.wait_ns - ctx.sim0.wait_ns) / 1e9,
      usb = { ctrl_in = c1.ctrl_in - ctx.sim0.ctrl_in, ctrl_out = c1.ctrl_out - ctx.sim0.ctrl_out,
              bulk = (c1.bulk_in + c1.bulk_out) - (ctx.sim0.bulk_in + ctx.sim0.bulk_out) } }
  end
  return result
end

-- The erase units an image touches: their numbers (the codes Erase takes).
local function units_touched(chip, img)
  local list = {}
  for i, u in ipairs(chip.units) do
    local inside = img:split(u.start, u.start + u.size)
    if not inside:is_empty() then list[#list + 1] = i - 1 end
  end
  return list
end

local function check_fits(chip, img, file)
  local lo, hi = chip.flash_start, chip.flash_start + chip.flash_size
  local ok, bad = img:fits(lo, hi)
  if ok then return end
  if chip.ob_start and bad >= chip.ob_start and bad <= chip.ob_end then
    errors.raise("input", "%s: the image has option-byte data at 0x%08X; writing option bytes "
      .. "needs --option-bytes", file, bad)
  end
  local ilo, ihi = img:bounds()
  errors.raise("input", "%s: 0x%08X is outside the flash of this %s (0x%08X-0x%08X, %d KiB); "
    .. "the image spans 0x%08X-0x%08X; build it for this chip or pick the right target", file,
    bad, chip.name, lo, hi - 1, chip.flash_size // 1024, ilo, ihi - 1)
end

-- Why a byte may differ: a write-protected sector keeps its bytes silently (§A.8).
local function mismatch_hint(ctx, chip, addr)
  if not ctx.recipe.protection then return "" end
  local ok, p = pcall(ctx.recipe.protection, ctx, chip)
  if not ok or not p.write then return "" end
  for i, u in ipairs(chip.units) do
    if addr >= u.start and addr < u.start + u.size then
      local sector = (i - 1) // (chip.pps or 1)
      for _, s in ipairs(p.write) do
        if s == sector then
          return ("; write-protection sector %d is on, which keeps the old bytes: rerun with "
            .. "--unprotect-write"):format(sector)
        end
      end
    end
  end
  return ""
end

-- Read back and compare; the first differing byte exits 5 (design §3).
local function verify(ctx, chip, img, prog)
  local done = 0
  for addr, want in img:blocks(BLOCK) do
    local got = ctx.recipe.read(ctx, chip, addr, #want)
    if got ~= want then
      for i = 1, #want do
        if got:byte(i) ~= want:byte(i) then
          local a = addr + i - 1
          error(errors.new("mismatch", ("%s: verify failed at 0x%08X: the image has 0x%02X, the "
            .. "chip 0x%02X%s"):format(ctx.where, a, want:byte(i), got:byte(i) or 0,
            mismatch_hint(ctx, chip, a)), { first_mismatch = a }), 0)
        end
      end
    end
    done = done + #want
    if prog then prog:update(done) end
  end
end

--- flash.program(word, file, opts) -> summary table
function M.program(word, file, opts)
  local recipe = targets.resolve(word)
  require_steps(recipe, "program")
  local img = M.load_image(file, recipe, opts)
  return M.session("program", word, opts, function(ctx, chip)
    local ob
    if opts.option_bytes and chip.ob_start then
      ob, img = img:split(chip.ob_start, chip.ob_end + 1)
      if ob:is_empty() then ob = nil end
      if img:is_empty() and not ob then
        errors.raise("input", "%s: the image holds no data to program", file)
      end
    end
    check_fits(chip, img, file)
    local t0 = clock.now_ns()
    local erased
    if opts.chip then
      ctx.recipe.erase(ctx, chip, "all")
      erased = #chip.units
    else
      local units = units_touched(chip, img)
      ctx.recipe.erase(ctx, chip, units)
      erased = #units
    end
    ctx.log("erased %d %s%s", erased, chip.unit_name, erased == 1 and "" or "s")
    local total = img:size()
    local prog = progress.new("write", total, { quiet = opts.quiet })
    local done = 0
    for addr, data in img:pad(4):blocks(BLOCK) do
      ctx.recipe.write(ctx, chip, addr, data)
      done = math.min(total, done + #data)
      prog:update(done)
    end
    prog:finish()
    local verified = "skipped"
    if not opts.no_verify then
      local vprog = progress.new("verify", total, { quiet = opts.quiet })
      verify(ctx, chip, img, vprog)
      vprog:finish()
      verified = "ok"
    end
    if ob then chip = M.write_option_bytes(ctx, chip, ob, opts) end
    ctx.recipe.start(ctx, chip)
    local seconds = (clock.now_ns() - t0) / 1e9
    return { bytes = total, erased = erased, unit = chip.unit_name, seconds = seconds,
             verify = verified, chip = chip, option_bytes = ob and ob:size() or nil }
  end)
end

--- flash.write_option_bytes(ctx, chip, ob_img, opts) -> chip: the image's option-byte records
-- merged over the chip's current option bytes (a byte the image does not set keeps its value:
-- an 0xFF read-protection byte would turn read protection on), written last, then read back
-- after the chip's reset (design §3).
function M.write_option_bytes(ctx, chip, ob, opts)
  if not ctx.recipe.write_option_bytes then
    errors.raise("usage", "recipe %s cannot write option bytes", ctx.where)
  end
  local len = chip.ob_end - chip.ob_start + 1
  local current = ctx.recipe.read(ctx, chip, chip.ob_start, len)
  local bytes = {}
  for i = 1, len do bytes[i] = current:sub(i, i) end
  for _, r in ipairs(ob.ranges) do
    for i = 1, #r.data do bytes[r.addr - chip.ob_start + i] = r.data:sub(i, i) end
  end
  local merged = table.concat(bytes)
  ctx.log("option bytes: %s", (merged:gsub(".", function(c) return ("%02X "):format(c:byte()) end)))
  chip = ctx.recipe.write_option_bytes(ctx, chip, merged)
  if chip.read_protected then
    ctx.log("the option bytes turned read protection on: they cannot be read back")
    return chip
  end
  if not opts.no_verify then
    local back = ctx.recipe.read(ctx, chip, chip.ob_start, len)
    for i = 1, len do
      if back:byte(i) ~= merged:byte(i) then
        error(errors.new("mismatch", ("%s: option bytes differ after writing at 0x%08X: wrote "
          .. "0x%02X, the chip has 0x%02X"):format(ctx.where, chip.ob_start + i - 1,
          merged:byte(i), back:byte(i)), { first_mismatch = chip.ob_start + i - 1 }), 0)
      end
    end
  end
  return chip
end

--- flash.verify(word, file, opts) -> summary
function M.verify(word, file, opts)
  local recipe = targets.resolve(word)
  require_steps(recipe, "verify")
  local img = M.load_image(file, recipe, opts)
  return M.session("verify", word, opts, function(ctx, chip)
    check_fits(chip, img, file)
    local t0 = clock.now_ns()
    local prog = progress.new("verify", img:size(), { quiet = opts.quiet })
    verify(ctx, chip, img, prog)
    prog:finish()
    return { bytes = img:size(), seconds = (clock.now_ns() - t0) / 1e9, verify = "ok",
             chip = chip }
  end)
end

--- flash.read(word, out, opts) -> summary. The output is written to OUT.part and renamed at
-- the end, so a failed read never leaves a truncated file under the real name.
function M.read(word, out, opts)
  local recipe = targets.resolve(word)
  require_steps(recipe, "read")
  local as_hex = out:lower():match("%.i?hex$") ~= nil
  local tmp = out .. ".part"
  local f, err = io.open(tmp, "wb")
  if not f then errors.raise("input", "cannot write %s", err) end
  f:close()
  local ok, res = pcall(M.session, "read", word, opts, function(ctx, chip)
    local addr = opts.addr and M.number(opts.addr, "--addr") or chip.flash_start
    local len = opts.len and M.number(opts.len, "--len") or
      (chip.flash_start + chip.flash_size - addr)
    if opts.option_bytes then
      if not chip.ob_start then errors.raise("usage", "%s has no option bytes", ctx.where) end
      addr, len = chip.ob_start, chip.ob_end - chip.ob_start + 1
    end
    if len <= 0 then errors.raise("usage", "--len must be positive") end
    local t0 = clock.now_ns()
    local parts, done = {}, 0
    local prog = progress.new("read", len, { quiet = opts.quiet })
    while done < len do
      local a = addr + done
      local n = math.min(BLOCK - (a % BLOCK), len - done) -- aligned blocks
      parts[#parts + 1] = ctx.recipe.read(ctx, chip, a, n)
      done = done + n
      prog:update(done)
    end
    prog:finish()
    local data = table.concat(parts)
    local w = assert(io.open(tmp, "wb"))
    if as_hex then
      w:write(image.to_hex(image.new():add(addr, data)))
    else
      w:write(data)
    end
    w:close()
    return { bytes = len, addr = addr, seconds = (clock.now_ns() - t0) / 1e9, chip = chip }
  end)
  if not ok then
    os.remove(tmp)
    error(res, 0)
  end
  local renamed, rerr = os.rename(tmp, out)
  if not renamed then errors.raise("failure", "cannot rename %s to %s: %s", tmp, out, rerr) end
  return res
end

--- flash.erase(word, opts) -> summary: --chip, or the units covering --addr/--len
function M.erase(word, opts)
  local recipe = targets.resolve(word)
  require_steps(recipe, "erase")
  if not opts.chip and not (opts.addr and opts.len) then
    errors.raise("usage", "erase needs --chip (everything) or --addr and --len (the pages or "
      .. "sectors they touch)")
  end
  local addr = opts.addr and M.number(opts.addr, "--addr")
  local len = opts.len and M.number(opts.len, "--len")
  return M.session("erase", word, opts, function(ctx, chip)
    local t0 = clock.now_ns()
    local units = "all"
    if not opts.chip then
      local lo, hi = chip.flash_start, chip.flash_start + chip.flash_size
      if addr < lo or addr + len > hi then
        errors.raise("usage", "%s: 0x%08X-0x%08X is outside the flash (0x%08X-0x%08X)",
          ctx.where, addr, addr + len - 1, lo, hi - 1)
      end
      units = units_touched(chip, image.new():add(addr, ("\xFF"):rep(len)))
    end
    ctx.recipe.erase(ctx, chip, units)
    local n = units == "all" and #chip.units or #units
    ctx.recipe.start(ctx, chip)
    return { erased = n, unit = chip.unit_name, seconds = (clock.now_ns() - t0) / 1e9,
             chip = chip }
  end)
end

--- flash.info(word, opts) -> { rows = { {key, value}, ... }, chip = chip }
function M.info(word, opts)
  return M.session("info", word, opts, function(ctx, chip)
    local rows = ctx.recipe.info and ctx.recipe.info(ctx, chip) or {}
    ctx.recipe.start(ctx, chip)
    return { rows = rows, chip = chip }
  end)
end

return M
