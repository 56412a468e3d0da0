-- SPDX-License-Identifier: MIT
-- dev/summarize.lua JUNIT.xml: add up what every ctest test reported and print the closing
-- line "N passed, N failed". A test that prints "[name: ]N passed, N failed" lines counts
-- those (its last such line); a test that prints none counts as one. A test that failed but
-- reported no failure (a crash, a sanitizer abort) adds one failure. Exit 0 only when
-- nothing failed and at least one test ran.
local file = assert(arg[1], "usage: lua5.4 dev/summarize.lua JUNIT.xml")
local f = assert(io.open(file, "r"))
local xml = f:read("a")
f:close()

local passed, failed, skipped = 0, 0, 0
local broken = {}
for attrs, body in xml:gmatch("<testcase(.-)>(.-)</testcase>") do
  local name = attrs:match('name="([^"]*)"')
  local status = attrs:match('status="([^"]*)"')
  local test_failed = status == "fail" or body:find("<failure") ~= nil
  local p, fl, s
  -- the first output line follows the tag on the same line
  body = body:gsub("<system%-out>", "\n")
  for line in body:gmatch("[^\n]+") do
    local a, b = line:match("^[%w_.%-]*:? ?(%d+) passed, (%d+) failed")
    if a then
      p, fl = tonumber(a), tonumber(b)
      s = tonumber(line:match(", (%d+) skipped")) or 0
    end
  end
  if status == "notrun" or status == "disabled" then
    skipped = skipped + 1
  elseif p then
    passed, failed, skipped = passed + p, failed + fl, skipped + s
    if test_failed and fl == 0 then failed = failed + 1 end
  elseif test_failed then
    failed = failed + 1
  else
    passed = passed + 1
  end
  if test_failed then broken[#broken + 1] = name end
end
if #broken > 0 then print("failed ctest tests: " .. table.concat(broken, ", ")) end
if passed + failed == 0 then print("no test ran") failed = 1 end
print(("%d passed, %d failed%s"):format(passed, failed,
  skipped > 0 and (", %d skipped"):format(skipped) or ""))
os.exit(failed == 0 and 0 or 1)
