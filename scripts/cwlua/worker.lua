-- SPDX-License-Identifier: MIT
-- cwlua.worker: the child's side of a command run on several boards (cwlua.multi). The parent
-- starts one cwlua per board with -d naming that board and $CWLUA_WORKER_FD naming a pipe;
-- everything else is the single-board command, unchanged. Over the pipe the child tells, one
-- JSON object a line (docs/architecture.md "Several boards at once"):
--   {"event":"board","kind":"cwlite","serial":"LAB-01"}      the board is open
--   {"event":"progress","label":"write","stats":[[TEXT,RESERVE],...],"pct":0.5}
--                                      a progress frame's parts (cwlua.progress), for the
--                                      parent to fit into its line for this board
--   {"event":"progress_end"}           the bar is finished
--   {"event":"value","value":...}      what a cw.each function returned
--   {"event":"result","status":N,"cause":"...","error":"...","time":S}
--                                      how the command ended (cwlua.cli), and how long the
--                                      board was in use, on the runtime clock (contract.md §4);
--                                      no time when it never opened its board
-- Progress goes only here in a worker, and only when the parent draws it
-- ($CWLUA_WORKER_PROGRESS=1): its stderr is relayed line by line, marked with the board, and a
-- bar redrawn in place would make no sense there.
local proc = require "cwlua.core.proc"

local M = {}

local active = proc.channel_open()
-- $CWLUA_WORKER_PROGRESS=1: the parent draws a line per board, so it wants progress frames
local progress_wanted = active and os.getenv("CWLUA_WORKER_PROGRESS") == "1"
local time_used, opened_at = 0, nil
local opened_once = false -- a board that was never opened has no time in use (null, not 0)

--- worker.active() -> true in a worker process
function M.active() return active end

--- worker.wants_progress() -> true when the parent shows this board's progress
function M.wants_progress() return progress_wanted end

--- worker.send(event): one event line to the parent; nothing outside a worker. A parent that
-- has gone is no reason to stop: the board is still put back (proc.c ignores SIGPIPE).
function M.send(event)
  if not active then return end
  proc.channel_write(require("cwlua.json").encode(event) .. "\n")
end

--- worker.board_opened(board): the board a command opened; its time in use starts
function M.board_opened(b)
  if not active then return end
  opened_at, opened_once = require("cwlua.time").now_ns(), true
  M.send({ event = "board", kind = b.kind, serial = b.serial_number })
end

--- worker.board_closing(): the board's time in use ends (before its clock is released)
function M.board_closing()
  if not active or not opened_at then return end
  time_used = time_used + (require("cwlua.time").now_ns() - opened_at)
  opened_at = nil
end

--- worker.result(status, cause, error_line): the command has ended
function M.result(status, cause, err)
  if not active then return end
  M.board_closing()
  M.send({ event = "result", status = status, cause = cause, error = err,
           time = opened_once and time_used / 1e9 or nil })
end

return M
