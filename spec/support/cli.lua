-- SPDX-License-Identifier: MIT
-- spec/support/cli.lua: run the cwlua binary as a user would and capture what it did.
--   local cli = require "support.cli"
--   local r = cli.run({ "targets", "--json" }, { CWLUA_PATH = dir })
--   assert.are.equal(0, r.status); r.stdout; r.stderr
-- On the simulator, with a state folder of the spec's own (the chips' memories persist there
-- from one command to the next):
--   local r = cli.sim(state, { "program", "stm32f1", hex })
--   local bytes = cli.read_back(state, "stm32f1", dir .. "/rb.bin", 0x08000000, 64)
local luassert = require "luassert" -- busted's assert, as the specs have it

local M = {}

M.BIN = os.getenv("CWLUA_BIN") or "build/bin/cwlua"
-- the binary, absolute: for scripts that run in folders of their own
M.ABS_BIN = M.BIN:sub(1, 1) == "/" and M.BIN or (os.getenv("PWD") .. "/" .. M.BIN)

--- cli.quote(s) -> s quoted for /bin/sh
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- cli.slurp(path [, missing]) -> the bytes of the file at path; when it cannot be read,
-- missing if given (e.g. "" for a file a killed process never wrote), else raises
local function slurp(path, missing)
  local f, err = io.open(path, "rb")
  if not f and missing ~= nil then return missing end
  assert(f, err)
  local s = f:read("a")
  f:close()
  return s
end
M.slurp = slurp

--- cli.tmpdir() -> a fresh empty folder (removed by cli.cleanup())
local made = {}
function M.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p " .. M.quote(p)))
  made[#made + 1] = p
  return p
end

function M.cleanup()
  for _, p in ipairs(made) do os.execute("rm -rf " .. M.quote(p)) end
  made = {}
end

--- cli.write(path, text): write a file, creating its folder
function M.write(path, text)
  local dir = path:match("^(.*)/[^/]*$")
  if dir then assert(os.execute("mkdir -p " .. M.quote(dir))) end
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

-- The shell words that run the binary (or bin) with args in a hermetic environment (see
-- cli.run).
local function command(args, env, bin)
  local base = { CWLUA_PATH = false, CWLUA_DEVICE = false, CWLUA_CONFIG = false }
  for k, v in pairs(env or {}) do base[k] = v end
  if base.XDG_CONFIG_HOME == nil then base.XDG_CONFIG_HOME = M.tmpdir() end
  if base.CWLUA_SYSCONFDIR == nil then base.CWLUA_SYSCONFDIR = M.tmpdir() .. "/etc" end
  local words = { "env" }
  for k, v in pairs(base) do -- env wants every -u before the first assignment
    if v == false then words[#words + 1] = "-u " .. k end
  end
  for k, v in pairs(base) do
    if v ~= false then words[#words + 1] = k .. "=" .. M.quote(v) end
  end
  words[#words + 1] = M.quote(bin or M.BIN)
  for _, a in ipairs(args) do words[#words + 1] = M.quote(a) end
  return table.concat(words, " ")
end

--- cli.run_all(jobs [, opts]) -> results: runs every job = { args, env } as cli.run does, up
-- to opts.parallel at once (default: the number of processors), each stopped after
-- opts.timeout_s seconds (default 60; status 124 then, as timeout(1) gives). results[i] =
-- { status, stdout, stderr } of jobs[i], in order. For sweeps of hundreds of short runs.
-- A job may also have `next` = { args, env }, a second command run right after the first in
-- the same slot (its { status, stdout, stderr } in results[i].next), and `remove`, a path
-- deleted once the job is done: a simulator state folder then lives only as long as its job,
-- so a sweep writes little to disk.
function M.run_all(jobs, opts)
  opts = opts or {}
  local parallel = opts.parallel
  if not parallel then
    local p = io.popen("nproc 2>/dev/null")
    parallel = p and tonumber(p:read("a")) or 2
    if p then p:close() end
  end
  local dir = M.tmpdir()
  local list = {}
  for i, job in ipairs(jobs) do -- one script per job; xargs keeps `parallel` of them running
    local o = ("%s/%d"):format(dir, i)
    list[i] = o .. ".sh"
    local f = assert(io.open(list[i], "w"))
    local run = "timeout -k 5 %d %s >%s.out 2>%s.err </dev/null\necho $? >%s.st\n"
    f:write(run:format(opts.timeout_s or 60, command(job.args, job.env), o, o, o))
    if job.next then
      f:write(run:format(opts.timeout_s or 60, command(job.next.args, job.next.env), o .. "n",
        o .. "n", o .. "n"))
    end
    if job.remove then f:write("rm -rf " .. M.quote(job.remove) .. "\n") end
    f:close()
  end
  M.write(dir .. "/jobs", table.concat(list, "\n") .. "\n")
  assert(os.execute(("xargs -P %d -n 1 sh <%s"):format(parallel, M.quote(dir .. "/jobs"))))
  local results = {}
  for i = 1, #jobs do
    local o = ("%s/%d"):format(dir, i)
    results[i] = { status = tonumber(slurp(o .. ".st")), stdout = slurp(o .. ".out"),
                   stderr = slurp(o .. ".err") }
    if jobs[i].next then
      results[i].next = { status = tonumber(slurp(o .. "n.st")), stdout = slurp(o .. "n.out"),
                          stderr = slurp(o .. "n.err") }
    end
  end
  return results
end

--- cli.run(args [, env [, stdin [, bin]]]) -> { status, stdout, stderr }
-- The environment is hermetic: an empty XDG_CONFIG_HOME, no CWLUA_PATH, CWLUA_DEVICE or
-- CWLUA_CONFIG, and CWLUA_SYSCONFDIR a folder that does not exist (no /etc/cwlua), unless env
-- sets them (env values of false unset the variable). bin: another program to run
-- (one that starts cwlua itself).
function M.run(args, env, stdin, bin)
  local dir = M.tmpdir()
  local cmd = command(args, env, bin) .. " >" .. dir .. "/out 2>" .. dir .. "/err"
  if stdin then
    M.write(dir .. "/in", stdin)
    cmd = cmd .. " <" .. dir .. "/in"
  else
    cmd = cmd .. " </dev/null"
  end
  local _, how, code = os.execute(cmd)
  assert(how == "exit", "cwlua died of signal " .. tostring(code))
  return { status = code, stdout = slurp(dir .. "/out"), stderr = slurp(dir .. "/err") }
end

-- cwlua -d DEVICE ARGS with XDG_STATE_HOME = state and env's other variables
local function on(device, state, args, env)
  local a = { "-d", device }
  for _, x in ipairs(args) do a[#a + 1] = x end
  local e = { XDG_STATE_HOME = state }
  for k, v in pairs(env or {}) do e[k] = v end
  return M.run(a, e)
end

--- cli.sim(state, args [, env]) -> cli.run of `cwlua -d sim ARGS` with XDG_STATE_HOME = state,
-- where the simulated chips' memories persist between commands; env: more variables
function M.sim(state, args, env)
  return on("sim", state, args, env)
end

--- cli.no_board(state, args) -> cli.run of `cwlua -d usb:NO-SUCH-BOARD ARGS`: a board that
-- does not exist, so a command that opened it would exit 3. For what must be refused before
-- the board is opened.
function M.no_board(state, args)
  return on("usb:NO-SUCH-BOARD", state, args)
end

--- cli.read_back(state, target, out [, addr [, len [, args]]]) -> the bytes that
-- `cwlua -d sim read TARGET OUT [--addr ADDR] [--len LEN] -q ARGS` wrote to out: the simulated
-- chip's memory, read back as a user would. Asserts that the command exited 0.
function M.read_back(state, target, out, addr, len, args)
  local a = { "read", target, out }
  if addr then
    a[#a + 1] = "--addr"
    a[#a + 1] = ("0x%X"):format(addr)
  end
  if len then
    a[#a + 1] = "--len"
    a[#a + 1] = tostring(len)
  end
  a[#a + 1] = "-q"
  for _, x in ipairs(args or {}) do a[#a + 1] = x end
  local r = M.sim(state, a)
  luassert.are.equal(0, r.status, r.stderr)
  return slurp(out)
end

return M
