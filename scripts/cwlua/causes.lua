-- SPDX-License-Identifier: MIT
-- cwlua.causes: the one table of causes a --json object carries (contract.md §6.4), and the
-- cause of any error value. Every failure of every command gets a name from here, so a tool
-- can branch on `cause` without parsing messages; spec/unit/causes_spec.lua checks that this
-- table and the contract's agree, and that no code names a cause that is not in it.
local errors = require "cwlua.errors"

local M = {}

-- cause -> exit status (contract.md §6.4). wrong-chip and read-protected are found before
-- anything is written, so a flash command exits 2 (input); doctor, which reports what the
-- target is, exits 4 for them.
M.EXIT = {
  ok = 0,
  usage = 2, ["bad-input"] = 2, ["wrong-chip"] = 2, ["read-protected"] = 2,
  ["no-board"] = 3, ["several-boards"] = 3, ["usb-permission"] = 3, ["usb-busy"] = 3,
  ["usb-error"] = 3, ["old-firmware"] = 3, ["fpga-unprogrammed"] = 3, ["glitch-active"] = 3,
  ["no-engine"] = 3, unsupported = 3, ["board-error"] = 3,
  ["no-target-power"] = 4, ["no-clock"] = 4, ["no-reply"] = 4, ["swapped-lines"] = 4,
  ["garbled-reply"] = 4, ["target-refused"] = 4, ["app-running"] = 4,
  ["reset-ineffective"] = 4, ["no-trigger"] = 4,
  ["verify-mismatch"] = 5,
  internal = 1, failure = 1, ["out-of-memory"] = 1,
  interrupted = 130,
}

-- A board or port failure by its stable code (docs/api.md). A transfer that fails at the USB
-- level is the board's fault, not a missing board: replugging helps, `cwlua list` would
-- still show it.
local DEVICE = {
  no_device = "no-board", ambiguous = "several-boards", access = "usb-permission",
  busy = "usb-busy", timeout = "usb-error", stall = "usb-error", overflow = "usb-error",
  io = "usb-error", old_firmware = "old-firmware", fpga_unprogrammed = "fpga-unprogrammed",
  no_engine = "no-engine", unsupported = "unsupported",
  -- faults the board reports itself: a clock generator that did not lock, a Husky's clock
  -- chip that does not answer over I2C (cw-usb-protocol.md §4.9.7)
  unlocked = "board-error", i2c = "board-error",
}

-- A target failure by its code (cwlua.proto.*: what came back on the wire).
local TARGET = { timeout = "no-reply", garbled = "garbled-reply", nack = "target-refused" }

--- causes.of(value) -> the cause of an error value: the one it names, else by its kind and
-- code; a value that is not a cwlua error is a bug ("internal")
function M.of(e)
  if errors.out_of_memory(e) then return "out-of-memory" end
  if not errors.is(e) then return "internal" end
  if e.cause and M.EXIT[e.cause] then return e.cause end
  local k = e.kind
  if k == "usage" then return "usage" end
  if k == "input" then return "bad-input" end
  if k == "device" then return DEVICE[e.code] or "board-error" end
  if k == "target" then return TARGET[e.code] or "target-refused" end
  if k == "mismatch" then return "verify-mismatch" end
  if k == "interrupted" then return "interrupted" end
  return "failure"
end

return M
