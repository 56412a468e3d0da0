-- SPDX-License-Identifier: MIT
-- packaging/changelog.lua CHANGELOG.md VERSION_FILE MAINTAINER OUT: the Debian changelog of
-- the packages (deb-changelog(5)), made from CHANGELOG.md at build time:
--   cwlua run packaging/changelog.lua CHANGELOG.md cwlua_version.txt "Name <mail>" OUT
-- VERSION_FILE holds the full version of the build (cmake/GitVersion.cmake).
-- Each "## VERSION (..., YYYY-MM-DD)" section is an entry, newest first; its "### " headings
-- are the entry's items and their "- " lines the sub-items. The newest section's version is
-- VERSION, the full version the packages carry; every entry has Debian revision 1.
local src, version_file, maintainer, out_path = arg[1], arg[2], arg[3], arg[4]
assert(out_path,
  "usage: cwlua run packaging/changelog.lua CHANGELOG.md VERSION_FILE MAINTAINER OUT")

local function slurp(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end
local text = slurp(src)
local version = assert(slurp(version_file):match("^%s*(%S+)"), version_file .. ": no version")

-- Sections, headings and items; an item's continuation lines are indented by two spaces.
local entries = {}
local entry, heading, item
for line in (text .. "\n"):gmatch("([^\n]*)\n") do
  local v, rest = line:match("^## (%S+)%s*(.*)$")
  if v then
    local y, m, d = rest:match("(%d%d%d%d)%-(%d%d)%-(%d%d)")
    assert(y, "CHANGELOG.md: a release heading without a date: " .. line)
    entry = { version = v, date = { year = tonumber(y), month = tonumber(m), day = tonumber(d),
                                    hour = 12 }, headings = {} }
    entries[#entries + 1] = entry
    heading, item = nil, nil
  elseif entry and line:match("^### ") then
    heading = { title = line:sub(5), items = {} }
    entry.headings[#entry.headings + 1] = heading
    item = nil
  elseif heading and line:match("^%- ") then
    item = line:sub(3)
    heading.items[#heading.items + 1] = item
  elseif heading and item and line:match("^  %S") then
    heading.items[#heading.items] = heading.items[#heading.items] .. " " .. line:sub(3)
  elseif line:match("%S") then
    item = nil
  end
end
assert(#entries > 0, "CHANGELOG.md: no release section")
assert(version:sub(1, #entries[1].version) == entries[1].version,
  ("the version %s is not the newest release in CHANGELOG.md (%s)"):format(version,
    entries[1].version))

-- Plain text, wrapped at 78 columns under a first-line prefix.
local function wrap(out, first, indent, s)
  s = s:gsub("`", "")
  local cur = first
  for word in s:gmatch("%S+") do
    if #cur + 1 + #word > 78 and cur ~= first then
      out[#out + 1] = cur
      cur = indent .. word
    else
      cur = (cur == first) and (cur .. word) or (cur .. " " .. word)
    end
  end
  out[#out + 1] = cur
end

-- RFC 5322 date in English whatever the locale, as deb-changelog(5) wants.
local DAYS = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" }
local MONTHS = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                 "Dec" }
local function rfc5322(d)
  local t = os.date("!*t", os.time(d))
  return ("%s, %02d %s %d 12:00:00 +0000"):format(DAYS[t.wday], t.day, MONTHS[t.month], t.year)
end

local out = {}
for i, e in ipairs(entries) do
  out[#out + 1] = ("cwlua (%s-1) unstable; urgency=medium"):format(i == 1 and version
    or e.version)
  out[#out + 1] = ""
  for _, h in ipairs(e.headings) do
    wrap(out, "  * ", "    ", h.title)
    for _, it in ipairs(h.items) do wrap(out, "    - ", "      ", it) end
  end
  out[#out + 1] = ""
  out[#out + 1] = (" -- %s  %s"):format(maintainer, rfc5322(e.date))
  out[#out + 1] = ""
end
local o = assert(io.open(out_path, "w"))
o:write(table.concat(out, "\n"))
o:close()
