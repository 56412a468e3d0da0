-- SPDX-License-Identifier: MIT
-- cwlua.causes: one table of causes (contract.md §6.4), the same in the contract and the code,
-- and the cause of every kind of error.
local causes = require "cwlua.causes"
local errors = require "cwlua.errors"

-- The rows of contract.md §6.4: { name = first exit status }
local function contract_table()
  local f = assert(io.open("docs/reference/contract.md", "rb"))
  local text = f:read("a")
  f:close()
  local section = assert(text:match("\n### 6%.4 [^\n]*\n(.-)\n###"), "contract.md has §6.4")
  local rows, order = {}, {}
  for name, exit in section:gmatch("\n| `([%w%-]+)` | (%d+)[^|]* |") do
    assert.is_nil(rows[name], "contract.md §6.4 lists " .. name .. " twice")
    rows[name] = tonumber(exit)
    order[#order + 1] = name
  end
  return rows, order
end

-- Every .lua file under dir (find(1): the specs run on Linux).
local function lua_files(dir)
  local p = assert(io.popen("find " .. dir .. " -name '*.lua' | sort"))
  local list = {}
  for l in p:lines() do list[#list + 1] = l end
  p:close()
  return list
end

describe("cwlua.causes", function()
  it("is the table of contract.md §6.4, name for name and exit for exit", function()
    local rows, order = contract_table()
    assert.is_true(#order >= 20, "contract.md §6.4 has its table")
    assert.are.same(rows, causes.EXIT)
    for _, name in ipairs(order) do
      assert.matches("^[a-z]+[a-z%-]*[a-z]$", name) -- lower case, hyphens between words
    end
  end)

  it("has every cause the code names (a literal cause, a conclusion, a cause table)", function()
    local named = {}
    local function note(name, where) named[name] = named[name] or where end
    for _, file in ipairs(lua_files("scripts/cwlua")) do
      local n = 0
      for line in io.lines(file) do
        n = n + 1
        local where = file .. ":" .. n
        for c in line:gmatch('cause%s*=%s*"([%w%-]+)"') do note(c, where) end
        for c in line:gmatch('conclude%(%s*"([%w%-]+)"') do note(c, where) end
        for c in line:gmatch('and%s*"([%w%-]+)"%s*or') do
          if line:find("conclude") then note(c, where) end
        end
        if line:find("CAUSE") then -- the tables that map codes to causes
          for c in line:gmatch('=%s*"([%w]+%-[%w%-]+)"') do note(c, where) end
        end
      end
    end
    for _, file in ipairs(lua_files("targets")) do
      for line in io.lines(file) do
        for c in line:gmatch('conclude%(%s*"([%w%-]+)"') do note(c, file) end
      end
    end
    for _, t in ipairs({ require("cwlua.connect").CAUSE, require("cwlua.doctor").OPEN_CAUSE }) do
      for _, c in pairs(t) do note(c, "a cause table") end
    end
    for c in pairs(require("cwlua.doctor").BOARD_SIDE) do note(c, "doctor.BOARD_SIDE") end
    assert.is_true(named["no-reply"] ~= nil and named["wrong-chip"] ~= nil, "the scan works")
    for c, where in pairs(named) do
      assert.is_not_nil(causes.EXIT[c], ("%s names cause '%s', which contract.md §6.4 "
        .. "does not list"):format(where, c))
    end
  end)

  describe("of(error)", function()
    local function of(kind, fields)
      return causes.of(errors.new(kind, "m", fields))
    end
    it("takes the cause an error names", function()
      assert.are.equal("wrong-chip", of("input", { cause = "wrong-chip" }))
      assert.are.equal("no-engine", of("device", { code = "no_engine", cause = "no-engine" }))
    end)
    it("maps a board failure by its code: USB errors are usb-error, never no-board", function()
      assert.are.equal("no-board", of("device", { code = "no_device" }))
      assert.are.equal("several-boards", of("device", { code = "ambiguous" }))
      assert.are.equal("usb-permission", of("device", { code = "access" }))
      assert.are.equal("usb-busy", of("device", { code = "busy" }))
      for _, code in ipairs({ "timeout", "stall", "overflow", "io" }) do
        assert.are.equal("usb-error", of("device", { code = code }))
      end
      assert.are.equal("old-firmware", of("device", { code = "old_firmware" }))
      assert.are.equal("fpga-unprogrammed", of("device", { code = "fpga_unprogrammed" }))
      assert.are.equal("unsupported", of("device", { code = "unsupported" }))
      assert.are.equal("board-error", of("device"))
    end)
    it("maps a target failure by what came back", function()
      assert.are.equal("no-reply", of("target", { code = "timeout" }))
      assert.are.equal("garbled-reply", of("target", { code = "garbled" }))
      assert.are.equal("target-refused", of("target", { code = "nack" }))
    end)
    it("maps the other kinds, and anything that is not a cwlua error is a bug", function()
      assert.are.equal("usage", of("usage"))
      assert.are.equal("bad-input", of("input"))
      assert.are.equal("verify-mismatch", of("mismatch"))
      assert.are.equal("failure", of("failure"))
      assert.are.equal("interrupted", of("interrupted"))
      assert.are.equal("internal", causes.of("attempt to index a nil value"))
      assert.are.equal("internal", causes.of({}))
      assert.are.equal("out-of-memory", causes.of("x.lua:1: not enough memory"))
    end)
    it("ignores a cause that is not in the table", function()
      assert.are.equal("no-reply", of("target", { code = "timeout", cause = "made-up" }))
    end)
  end)
end)
