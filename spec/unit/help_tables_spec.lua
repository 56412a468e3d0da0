-- SPDX-License-Identifier: MIT
-- The tables that make --help, the man page and the shell completion (cwlua.cli, packaging/):
-- what they list is what the code reads and accepts.
-- luacheck: ignore 122 (io.open is replaced by a stub, and put back, on purpose)
local cli = require "cwlua.cli"
local SRC = os.getenv("CWLUA_SOURCE_DIR") or "."

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

-- Variables a program reads that are no setting of the user's: the helpers pass LD_PRELOAD and
-- ASAN_OPTIONS on to COMMAND, the simulator's attach helper marks its own re-exec and gives
-- COMMAND the caller's TMPDIR back, the pty shims log for the test suite, and a command on
-- several boards tells each worker it starts where its events go, where its board is and
-- whether to send progress (cwlua.multi, cwlua.worker).
local INTERNAL = { LD_PRELOAD = true, ASAN_OPTIONS = true, PTYSHIM_LOG = true, TMPDIR = true,
                   CWLUA_WORKER_FD = true, CWLUA_WORKER_USB = true,
                   CWLUA_WORKER_PROGRESS = true }

describe("the help tables", function()
  it("list every environment variable the program and its helpers read", function()
    local listed = {}
    for _, e in ipairs(cli.ENVIRONMENT) do listed[e[1]] = true end
    local files = lines_of(("cd '%s' && git ls-files scripts runtime bindings transport sim tools "
      .. "2>/dev/null || find scripts runtime bindings transport sim tools -type f"):format(SRC))
    local found = 0
    for _, f in ipairs(files) do
      if f:match("%.lua$") or f:match("%.[ch]$") then
        local h = assert(io.open(SRC .. "/" .. f))
        local text = h:read("a")
        h:close()
        for name in text:gmatch('getenv%("([%u%d_]+)"%)') do
          found = found + 1
          assert.is_true(listed[name] or INTERNAL[name] or false,
            ("%s reads $%s, which cwlua.cli's ENVIRONMENT does not list"):format(f, name))
        end
      end
    end
    assert.is_true(found > 5, "no getenv found under " .. SRC)
  end)

  it("name every value of an option in its help", function()
    local specs = {}
    for _, s in ipairs(cli.GLOBAL_OPTIONS) do specs[#specs + 1] = s end
    for _, name in ipairs(cli.COMMANDS) do
      for _, s in ipairs(require("cwlua.cmd." .. name).options or {}) do specs[#specs + 1] = s end
    end
    local with_values = 0
    for _, s in ipairs(specs) do
      for _, v in ipairs(s.values or {}) do
        with_values = with_values + 1
        assert.is_truthy(s.help:find(v, 1, true), ("--%s: '%s' not in its help"):format(s.long, v))
      end
    end
    assert.is_true(with_values > 0)
  end)

  it("give the exit statuses of cwlua.errors", function()
    local listed = {}
    for _, e in ipairs(cli.EXIT_STATUS) do listed[e[1]] = true end
    for kind, status in pairs(require("cwlua.errors").EXIT) do
      assert.is_true(listed[status] or false, ("exit %d (%s) is not listed"):format(status, kind))
    end
    assert.is_true(listed[0] and listed[143] or false)
  end)

  it("parse every device spec they list", function()
    local devspec = require "cwlua.devspec"
    for _, s in ipairs(devspec.SPECS) do
      local example = s[1]:gsub("SERIAL", "50203120"):gsub("PATH", "/dev/ttyUSB0")
        :gsub("BOARD", "husky")
      assert.is_table(devspec.parse(example), example)
    end
  end)
end)

describe("the udev hint", function()
  local connect = require "cwlua.connect"
  local real_open = io.open
  after_each(function() io.open = real_open end)

  -- io.open as if only the files in `present` existed
  local function only(present)
    io.open = function(path, mode)
      if present[path] then return real_open("/dev/null", mode) end
      return nil, path .. ": No such file or directory", 2
    end
  end

  it("says to copy the rule of an install from source", function()
    only({ [connect.rules_path()] = true })
    assert.matches("sudo cp " .. connect.rules_path():gsub("%p", "%%%0") .. " /etc/udev/rules.d/",
      connect.hint("access"))
  end)

  it("says the packaged rule is installed, and to replug and join plugdev", function()
    only({ ["/lib/udev/rules.d/60-cwlua.rules"] = true })
    local h = connect.hint("access")
    assert.matches("udev rule is installed %(/lib/udev/rules%.d/60%-cwlua%.rules%)", h)
    assert.matches("plug it back in", h)
    assert.matches("sudo usermod %-aG plugdev %$USER", h)
    assert.is_nil(h:find("sudo cp", 1, true))
  end)
end)
