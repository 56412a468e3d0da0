-- SPDX-License-Identifier: MIT
-- tests/luamodule/api.lua: prints the cw API, one name and type a line (the submodules cw
-- loads on first use included, read from its metatable), so that check.sh can compare what
-- require "cwlua" gives stock lua5.4 with what 'cwlua run' scripts see as cw.
local cw = rawget(_G, "cw") or require "cwlua"
local names = {}
for k in pairs(cw) do names[k] = true end
local index = getmetatable(cw).__index
for i = 1, 255 do
  local name, value = debug.getupvalue(index, i)
  if name == nil then break end
  if name == "SUBMODULES" then
    for k in pairs(value) do names[k] = true end
  end
end
local list = {}
for k in pairs(names) do list[#list + 1] = k end
table.sort(list)
for _, k in ipairs(list) do print(k, type(cw[k])) end
