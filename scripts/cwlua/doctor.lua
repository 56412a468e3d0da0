-- SPDX-License-Identifier: MIT
-- cwlua.doctor: find out why a target does not answer, and say what to do (contract.md §6).
--
-- Walks the chain — board present and permitted, firmware and FPGA, glitch outputs, target
-- power, clock, then the recipe's own probes (pin routing, reset, boot pin, the programming
-- interface both ways). A broken board link ends the walk (nothing behind it can be checked);
-- a recipe goes on past a failed interface with the probes that tell its causes apart. Evidence
-- only: what came back on the wire, pin levels the board can read, board state. Never the
-- simulator's fault settings. A link the board cannot observe is "unverifiable"; where several
-- causes fit what was seen, `candidates` lists them in order of likelihood, and the first action
-- is the quick check that tells them apart.
local board_mod = require "cwlua.board"
local causes = require "cwlua.causes"
local errors = require "cwlua.errors"
local json = require "cwlua.json"
local targets = require "cwlua.targets"

local M = {}

-- Causes whose broken link is on the board side exit 3, the others 4 (contract.md §3, §6).
M.BOARD_SIDE = { ["no-board"] = true, ["usb-error"] = true, ["usb-permission"] = true,
                 ["usb-busy"] = true,
                 ["no-engine"] = true, -- the board lacks the programming engine (XMEGA on a Nano)
                 ["old-firmware"] = true, ["fpga-unprogrammed"] = true, ["glitch-active"] = true,
                 -- the board reports a fault of its own (a PLL that does not lock), or lacks
                 -- a feature the probe needs
                 ["board-error"] = true, unsupported = true }

M.RIGS = { "cw308", "cw506", "cw313", "serial" }

-- What to do, per cause; rig-specific lines where the rig matters.
local function actions(cause, rig, ctx)
  local t = ctx.where or "TARGET"
  local path = {
    cw506 = "on the CW506, set the UART routing switches so TIO1 and TIO2 reach the target "
      .. "(or plug the CW308 straight into the capture board's 20-pin cable)",
    cw308 = "check that the 20-pin cable is seated at both ends and the target board sits "
      .. "firmly on the CW308",
    cw313 = "check the CW313's UART jumpers and that the target board is seated",
    serial = "check the adapter's TX to the target's RX and RX to TX, a common ground, and the "
      .. "voltage level (3.3 V)",
  }
  local a = {
    ok = { "nothing to do: cwlua program " .. t .. " FILE" },
    ["no-board"] = { "plug the board in (cwlua list shows what is attached)",
                     "if it was just reset or unplugged, wait a second and retry" },
    ["usb-error"] = { "the board is attached but failed a USB transfer: unplug it and plug it "
      .. "back in (straight into the computer, not through a hub), then run cwlua doctor " .. t
      .. " again", "if it keeps failing, check its firmware (cwlua list shows the version; "
      .. "docs/install.md)" },
    ["usb-permission"] = { "install the udev rule and join its group (docs/install.md)" },
    ["usb-busy"] = { "another program holds the board: close it (in a notebook: scope.dis())" },
    ["old-firmware"] = { "update the board's firmware with NewAE's tools (docs/install.md)" },
    ["fpga-unprogrammed"] = { "pass --bitstream FILE, or connect once with NewAE's cw.scope()" },
    ["glitch-active"] = { "switch the glitch outputs off (in a notebook: scope.glitch_disable() "
      .. "or scope.io.glitch_hp = scope.io.glitch_lp = False); cwlua program switches them off "
      .. "by itself while it works and puts them back after" },
    ["no-target-power"] = { "switch target power on: cwlua power on" },
    ["no-clock"] = ctx.hs2_on and { "the board drives a clock on HS2 but it does not reach the "
      .. "target: check the clock path (on a CW308, its clock-source jumper set to HS2)" }
      or { "give the target a clock: cwlua clock 7.37e6" },
    ["no-reply"] = { "first look at " .. M.power_look(ctx) .. ": lit, the target is powered "
                       .. "and its lines are cut; dark, it has no power (the board cannot tell "
                       .. "these apart)", "powered: " .. (path[rig] or path.cw308),
                     M.unpowered(ctx), "then run cwlua doctor " .. t .. " again" },
    ["swapped-lines"] = { rig == "serial" and "the target's TX and RX are swapped: cross the "
      .. "adapter's TX and RX" or "the target's TX and RX are swapped: swap TIO1 and TIO2 in the "
      .. "wiring" },
    ["garbled-reply"] = { "the line corrupts bytes: shorten or reseat the cable, check ground "
      .. "and noise sources (a glitch output, a motor), or try --set bauds=57600" },
    ["app-running"] = { "the chip runs its application instead of the bootloader: BOOT0 (PDIC) "
      .. "does not reach it; check the BOOT0 jumper or wiring" .. (rig == "cw308" and
      " on the CW308 target board" or "") },
    ["reset-ineffective"] = { "nRST does not reach the chip: check the reset wiring and any "
      .. "reset jumper on the target board" },
    ["read-protected"] = { "cwlua program " .. t .. " FILE --unprotect (erases the whole chip)" },
    ["board-error"] = { "unplug the board and plug it back in, then run cwlua doctor " .. t
      .. " again", "if the fault stays, the board needs NewAE's attention (its clock chip or "
      .. "firmware)" },
    ["no-engine"] = { "this board cannot program this target (the failed step says why): XMEGA "
      .. "and AVR need the programming engine of a CW-Lite, CW1200 or CW-Husky (not the "
      .. "CW-Nano)" },
    ["wrong-chip"] = { "use the recipe that fits: " .. (ctx.right_recipe and
      ("cwlua program " .. ctx.right_recipe .. " FILE") or "cwlua targets lists them") },
  }
  if rig == "serial" then
    -- an adapter's reset and boot pins are its DTR and RTS lines, driven by --gpio-seq
    local lines = ctx.gpio_seq and ("check that the adapter's DTR and RTS reach nRST and BOOT0 "
      .. "as --gpio-seq '" .. ctx.gpio_seq .. "' assumes (an inverting transistor swaps the "
      .. "signs; docs/install.md, Serial adapters)") or ("put the chip into its bootloader "
      .. "with the adapter's lines: --gpio-seq ENTRY:EXIT for your wiring, e.g. "
      .. "--gpio-seq '-rts&dtr,-dtr:rts&dtr,-dtr' for DTR# to nRST and RTS# to BOOT0 "
      .. "(docs/install.md, Serial adapters); or set BOOT0 high with a jumper and reset the "
      .. "chip before you start")
    a["no-reply"] = { lines, path.serial, "then run cwlua doctor " .. t .. " again" }
    a["app-running"] = { "the chip runs its application instead of the bootloader: BOOT0 is "
      .. "not high when nRST is released; " .. lines }
    a["reset-ineffective"] = { "nRST does not follow the adapter: " .. lines }
  end
  return a[cause] or { "run cwlua doctor " .. t }
end
M.actions = actions

--- doctor.power_look(ctx) -> the quick look that tells "no power" from a cut line, which no
-- board can do itself (it cannot measure the target's supply)
function M.power_look(ctx)
  if ctx.rig_known and ctx.rig == "serial" then return "3.3 V at the target's supply pin" end
  if ctx.rig_known and ctx.rig == "cw313" then return "the target board's power LED" end
  return "the target board's power LED (or 3.3 V on the CW308's test point)"
end

--- doctor.unpowered(ctx) -> what to do when that look finds no power
function M.unpowered(ctx)
  return "no power: " .. (ctx.board_powers and "the board's target power is on, so reseat the "
    .. "20-pin cable and the target board" or "switch on the target's supply")
end

local Report = {}
Report.__index = Report

--- doctor.report(where, rig [, rig_known]) -> report. rig_known: the rig was given (--rig), not
-- assumed from the recipe's default
function M.report(where, rig, rig_known)
  return setmetatable({ where = where, rig = rig, rig_known = rig_known ~= false, steps = {},
                        candidates = {}, warnings = {} }, Report)
end

--- report:step(name, status, observed): status ok | failed | unverifiable | skipped
function Report:step(name, status, observed)
  self.steps[#self.steps + 1] = { name = name, status = status, observed = observed }
end

--- report:warn(text): something that is not a broken link but matters (e.g. no clock)
function Report:warn(text)
  self.warnings[#self.warnings + 1] = text
end

--- report:conclude(cause [, candidates [, actions]]): the first broken link (or "ok")
function Report:conclude(cause, candidates, actions_list)
  self.cause = cause
  self.candidates = candidates or {}
  self.actions = actions_list -- a recipe's own, when the generic ones do not fit its interface
end

function Report:exit_code()
  if self.cause == "ok" then return 0 end
  return M.BOARD_SIDE[self.cause] and 3 or 4
end

local STATUS_WIDTH = 13

--- report:text(ctx) -> what cwlua doctor prints
function Report:text(ctx)
  local out = { ("cwlua doctor %s (%s)"):format(self.where,
    self.rig_known and ("rig " .. self.rig) or "rig not given") }
  for _, s in ipairs(self.steps) do
    out[#out + 1] = ("  %-" .. STATUS_WIDTH .. "s %-18s %s"):format(s.status, s.name,
      s.observed or "")
  end
  out[#out + 1] = "cause: " .. self.cause
  if #self.candidates > 0 then
    out[#out + 1] = "likely, in order:"
    for i, c in ipairs(self.candidates) do out[#out + 1] = ("  %d. %s"):format(i, c) end
  end
  for _, w in ipairs(self.warnings) do out[#out + 1] = "warning: " .. w end
  out[#out + 1] = "what to do:"
  for _, a in ipairs(self.actions or actions(self.cause, self.rig, ctx)) do
    out[#out + 1] = "  - " .. a
  end
  return table.concat(out, "\n") .. "\n"
end

--- report:error() -> nil for "ok", else one line for the --json "error" that every failure
-- has (contract.md §3.7): the first broken link and what it showed
function Report:error()
  if self.cause == "ok" then return nil end
  for _, s in ipairs(self.steps) do
    if s.status == "failed" then return s.name .. ": " .. (s.observed or "failed") end
  end
  return self.candidates[1] or self.cause
end

--- report:object(ctx) -> the --json object (contract.md §3.7: cause, error, candidates, steps,
-- actions, warnings, rig)
function Report:object(ctx)
  local steps = json.array()
  for _, s in ipairs(self.steps) do
    steps[#steps + 1] = { name = s.name, status = s.status, observed = s.observed or json.null }
  end
  return { schema = 1, cause = self.cause, error = self:error(),
    candidates = json.array(self.candidates), steps = steps,
    actions = json.array(self.actions or actions(self.cause, self.rig, ctx)),
    warnings = json.array(self.warnings), rig = self.rig_known and self.rig or json.null }
end

--- report:json(ctx) -> report:object encoded
function Report:json(ctx)
  return json.encode(self:object(ctx))
end

-- Board errors from cw.open, as causes (stable codes of docs/api.md).
-- A board that is there but fails a transfer is "usb-error", not "no-board" (cwlua.connect.CAUSE).
local OPEN_CAUSE = { no_device = "no-board", access = "usb-permission", busy = "usb-busy",
                     timeout = "usb-error", io = "usb-error", stall = "usb-error",
                     overflow = "usb-error", fpga_unprogrammed = "fpga-unprogrammed",
                     old_firmware = "old-firmware",
                     -- the board lacks a feature the recipe needs
                     unsupported = "no-engine" }
M.OPEN_CAUSE = OPEN_CAUSE

--- doctor.check(value, ...) -> value, ... ; a board call that failed (value nil, then msg,
-- code) raises its device error, so the walk ends on a `board` step with the USB cause instead
-- of taking the failure for an observation (e.g. "no clock")
function M.check(v, ...)
  if v == nil then
    local msg, code = ...
    error(errors.new("device", msg, { code = code }), 0)
  end
  return v, ...
end

-- The board-side links, in order: present, firmware and FPGA, glitch outputs, power, clock.
-- Returns the open board, or nil when a link is broken (the report says which).
local function board_links(report, part)
  local b, msg, code = board_mod.open_default(part)
  if not b then
    local cause = OPEN_CAUSE[code] or (code and causes.of(errors.new("device", msg or "",
      { code = code }))) or "no-board"
    report:step(cause == "old-firmware" and "firmware" or
      (cause == "fpga-unprogrammed" and "FPGA" or "board"), "failed", msg)
    report:conclude(cause)
    return nil
  end
  local i = b:info()
  if not b.fpga_read then -- a plain serial port: no board links to check; its lines instead
    report:step("port", "ok", ("%s (%s)"):format(i.path, i.description or "a serial port"))
    report:step("reset and boot", "unverifiable", i.gpio_seq and ("--gpio-seq '%s' drives the "
      .. "adapter's DTR and RTS; nothing can see whether they reach nRST and BOOT0"):format(
      i.gpio_seq) or "no --gpio-seq: cwlua leaves DTR and RTS alone and assumes the "
      .. "bootloader is running")
    return b
  end
  report:step("board", "ok", ("%s %s, firmware %s"):format(i.name or i.kind,
    i.serial or "", i.firmware or "?"))
  report:step("FPGA", "ok", i.fpga == "none" and "none on this board" or i.fpga)
  if i.fpga == "configured" then
    local io = M.check(b:fpga_read(55, 8))
    local _, src = M.check(b:clock())
    if io and (io:byte(5) ~= 0 or src == "glitch") then
      report:step("glitch outputs", "failed", ("%s%s"):format(
        io:byte(5) ~= 0 and "crowbar MOSFETs enabled (IOROUTE byte 4 = 0x" ..
        ("%02X"):format(io:byte(5)) .. ")" or "", src == "glitch" and
        ((io:byte(5) ~= 0 and ", " or "") .. "HS2 carries the glitch output") or ""))
      report:conclude("glitch-active")
      return b
    end
    report:step("glitch outputs", "ok", "off")
    -- a Husky's clock comes from a PLL that must lock; one that does not is the board's own
    -- fault, and every command that sets the clock fails on it (cw-usb-protocol.md §4.9.7)
    if src == "pll unlocked" then
      report:step("clock", "failed", ("the %s's clock PLL (CDCI6214) reports no lock: HS2 "
        .. "carries no clock and none can be set"):format(i.name or i.kind))
      local cinfo = b:clock_info()
      local vco = cinfo and cinfo.dividers and cinfo.dividers.vco_hz
      local why
      if vco and (vco < 2.4e9 or vco > 2.8e9) then
        why = ("its registers give a VCO of %.4f GHz, outside the 2.4-2.8 GHz it locks in "
          .. "(cwlua clock 7.37e6 sets them again)"):format(vco / 1e9)
      else
        why = "the clock chip or its 12 MHz crystal is faulty" .. (vco and (": its registers "
          .. "are in range (VCO %.4f GHz)"):format(vco / 1e9) or "")
      end
      report:conclude("board-error", { why })
      return b
    end
  end
  local on, pmsg, pcode = b:power()
  if on == false then
    report:step("target power", "failed", "switched off on the board")
    report:conclude("no-target-power")
    return b
  elseif on == nil and pcode ~= "unsupported" then
    report:step("board", "failed", pmsg)
    report:conclude(OPEN_CAUSE[pcode] or "usb-error")
    return b
  end
  report.board_powers = on == true
  report:step("target power", "unverifiable", on and ("switched on; a %s cannot measure the "
    .. "target's supply"):format(i.name or i.kind) or "the board does not switch it")
  return b
end

--- doctor.run(word, opts) -> report, ctx: the whole chain for TARGET word
function M.run(word, opts)
  local recipe, part = targets.resolve(word)
  -- only --rig (or the config file's rig) says how this bench is wired; the recipe's default
  -- is a guess the hints must not present as known (a CW506 between board and target looks
  -- like a cut cable). A plain serial port is the serial rig, whatever the recipe's default,
  -- and that much is known.
  local config = require "cwlua.config"
  local spec = board_mod.defaults.spec
  local port = spec ~= nil and require("cwlua.devspec").parse(spec).kind == "serial"
  local given = config.value("rig", opts.rig, "--rig")
  local rig = given or (port and "serial") or recipe.rig or "cw308"
  local report = M.report(recipe.name, rig, given ~= nil or port)
  local ctx = { where = recipe.name, recipe = recipe, part = opts.part or part, opts = opts,
                rig = rig, rig_known = given ~= nil or port, report = report,
                log = function(fmt, ...)
                  if opts.verbose then io.stderr:write(recipe.name, ": ", fmt:format(...), "\n") end
                end }
  -- the recipe's defaults with the config files' values for it (doctor takes no --set)
  ctx.defaults = require("cwlua.params").merge(recipe, nil, nil, config.sets(recipe.name))
  local ok, err = pcall(function()
    local b = board_links(report, ctx.part)
    if not b then return end
    ctx.dev, ctx.board_powers = b, report.board_powers
    if b.enter_bootloader then ctx.gpio_seq = b:info().gpio_seq end
    local _ <close> = b
    if report.cause then return end
    -- restored on every path; a board that fails while its state is saved or put back is a
    -- board-side cause like any other (below)
    local snap
    if b.snapshot then
      local msg, code
      snap, msg, code = b:snapshot()
      if not snap then error(errors.new("device", msg, { code = code }), 0) end
    end
    local _ <close> = snap and snap:guard() or nil
    if not recipe.doctor then
      report:step("target", "skipped", "recipe " .. recipe.name .. " has no diagnosis yet")
      report:conclude("ok")
      return
    end
    recipe.doctor(ctx, report)
    report.cause = report.cause or "ok"
    if b.clock then -- for the no-clock action: does HS2 carry a clock (the path is at fault)?
      local hz = b:clock()
      ctx.hs2_on = hz ~= nil and hz ~= false
    end
  end)
  if not ok then
    -- a board that stops answering mid-way (unplugged, timeouts) is a board-side cause
    if errors.is(err, "device") then
      report:step("board", "failed", err.message)
      -- a transfer that failed is a board that went away or misbehaves; a fault the board
      -- reported (a PLL that did not lock, an I2C failure) is its own cause (board-error)
      report:conclude(err.cause or OPEN_CAUSE[err.code] or causes.of(err))
    else
      error(err, 0)
    end
  end
  return report, ctx
end

return M
