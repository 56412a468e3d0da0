-- SPDX-License-Identifier: MIT
-- tests/lint/repo_lint.lua ROOT: checks that keep the repository readable by whoever clones it.
--
--  1. Licence: every C, Lua, Python, shell and CMake file we wrote starts with an
--     SPDX-License-Identifier line (after a shebang); spec fixtures are data and exempt.
--  2. Citations a clone can follow: "NAME.md §N" must name a Markdown file of the repository
--     that has a heading numbered N; nothing may point outside the repository (the folder the
--     source material came from, or reference documents under the names they had before
--     docs/reference/).
--  3. No user-visible section numbers: a string literal in the product's code (what a user can
--     see in a message or in --help) contains no "§".
--  4. No issue numbers in comments or docs: a reader of the code has no issue tracker; a
--     comment says the reason instead.
--
-- Prints one line per problem, then "repo-lint: N passed, N failed" (tests/check.h's format).
local root = assert(arg[1], "usage: lua5.4 tests/lint/repo_lint.lua ROOT")

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

local files = lines_of(("git -C '%s' ls-files 2>/dev/null"):format(root))
if #files == 0 then -- not a git checkout (a source tarball): every file under ROOT
  files = lines_of(("cd '%s' && find . -type f ! -path './build*' ! -path './.git/*'"
    .. " | sed 's|^./||'"):format(root))
end

-- A pass is a citation that resolved or a file that carries its tag; a failure is a problem.
do -- a file in several index stages (during a merge) is checked once
  local seen, unique = {}, {}
  for _, f in ipairs(files) do
    if not seen[f] then seen[f], unique[#unique + 1] = true, f end
  end
  files = unique
end

local passed, failed = 0, 0
local function fail(fmt, ...)
  failed = failed + 1
  io.write("FAIL ", fmt:format(...), "\n")
end
local function check(ok, fmt, ...)
  if ok then passed = passed + 1 else fail(fmt, ...) end
end

local function read(path)
  local f = io.open(root .. "/" .. path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function is_code(path)
  return path:match("%.[ch]$") or path:match("%.lua$") or path:match("%.py$")
    or path:match("%.sh$") or path:match("%.cmake$") or path:match("CMakeLists%.txt$")
    or path:match("^dev/[^/.]+$") or path:match("^%.ci/") or path:match("%.ld$")
end

local function is_text(path)
  return is_code(path) or path:match("%.md$") or path:match("%.txt$") or path:match("%.rules$")
    or path:match("^%.[%w]+rc$") or path == ".busted" or path:match("Makefile$")
end

-- The Markdown files, by base name, and the section numbers of their headings.
local docs = {}
for _, p in ipairs(files) do
  local base = p:match("([^/]+%.md)$")
  if base then
    docs[base] = docs[base] or {}
    table.insert(docs[base], p)
  end
end
local sections = {}
local function sections_of(path)
  if sections[path] then return sections[path] end
  local s = {}
  for l in (read(path) or ""):gmatch("[^\n]+") do
    local title = l:match("^#+%s+(.*)")
    local num = title and (title:gsub("^§%s*", "")):match("^([%w]+[%.%w]*)")
    if num then s[(num:gsub("%.$", ""))] = true end
  end
  sections[path] = s
  return s
end

-- Names the reference documents had before the repository held its own copies.
local STALE = {
  "%.%./" .. "shared", "shared" .. "/docs", "%f[%w%-]design%.md", "%f[%w%-]design §",
  "style guide §",
  "style%-by%-example", "harness document", "%f[%w%-]harnesses §", "%f[%w%-]harnesses%.md",
  "%f[%w%-]performance%.md",
  "cw%-usb%-protocol §", "target%-protocols §", "cw%-usb%-protocol` §", "target%-protocols` §",
}

-- The string literals and the comments of a Lua or C source, each with its line number.
-- Enough of each language's lexer for messages and help text: quotes with escapes, Lua's long
-- brackets, C's block comments and character constants.
local function scan(text, lang)
  local lits, comments = {}, {}
  local i, n, line = 1, #text, 1
  local function advance(j) -- move to j, counting newlines
    local _, nl = text:sub(i, j - 1):gsub("\n", "")
    line = line + nl
    i = j
  end
  while i <= n do
    local c, two = text:sub(i, i), text:sub(i, i + 1)
    if lang == "lua" and two == "--" then
      local eq = text:match("^%[(=*)%[", i + 2)
      local stop = eq and select(2, text:find("]" .. eq .. "]", i, true)) or text:find("\n", i)
        or n
      comments[#comments + 1] = { line, text:sub(i, stop) }
      advance(stop + 1)
    elseif lang == "lua" and text:match("^%[=*%[", i) then
      local eq = text:match("^%[(=*)%[", i)
      local stop = select(2, text:find("]" .. eq .. "]", i, true)) or n
      lits[#lits + 1] = { line, text:sub(i, stop) }
      advance(stop + 1)
    elseif lang == "c" and two == "//" then
      local stop = text:find("\n", i) or n
      comments[#comments + 1] = { line, text:sub(i, stop) }
      advance(stop + 1)
    elseif lang == "c" and two == "/*" then
      local stop = select(2, text:find("*/", i + 2, true)) or n
      comments[#comments + 1] = { line, text:sub(i, stop) }
      advance(stop + 1)
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n and text:sub(j, j) ~= c and text:sub(j, j) ~= "\n" do
        if text:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      lits[#lits + 1] = { line, text:sub(i + 1, j - 1) }
      advance(j + 1)
    else
      i = i + 1
      if c == "\n" then line = line + 1 end
    end
  end
  return lits, comments
end

local PRODUCT = { "^scripts/", "^targets/", "^runtime/", "^bindings/", "^transport/", "^sim/",
                  "^tools/" }
local function is_product(path)
  for _, p in ipairs(PRODUCT) do
    if path:match(p) then return true end
  end
  return false
end

local spdx_files, spdx_missing = 0, {}
for _, path in ipairs(files) do
  if is_text(path) and not path:match("^spec/fixtures/") then
    local text = read(path)
    if text then
      -- 1. licence tag
      if is_code(path) then
        spdx_files = spdx_files + 1
        local head = text:sub(1, 300)
        local first, second = head:match("^([^\n]*)\n([^\n]*)")
        local tagged = (first and first:find("SPDX-License-Identifier: MIT", 1, true))
          or (first and first:match("^#!") and second
              and second:find("SPDX-License-Identifier: MIT", 1, true))
        if not tagged then spdx_missing[#spdx_missing + 1] = path end
      end
      local lang = path:match("%.lua$") and "lua" or path:match("%.[ch]$") and "c" or nil
      local lineno = 0
      for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        lineno = lineno + 1
        local where = path .. ":" .. lineno
        -- 2. stale documents
        for _, pat in ipairs(STALE) do
          if line:find(pat) and path ~= "tests/lint/repo_lint.lua" then
            fail("%s: cites a document the repository does not hold (%s): %s", where,
              (pat:gsub("%%f%b[]", ""):gsub("%%", "")), line)
          end
        end
        -- 2. a document named anywhere exists (by base name: docs cite each other relatively)
        for doc in line:gmatch("%f[%w_/%.%-]([%a][%w_/%.%-]*%.md)%f[^%w_]") do
          local base = doc:match("([^/]+)$")
          if not docs[base] and path ~= "tests/lint/repo_lint.lua" then
            fail("%s: names %s, which is not in the repository", where, doc)
          end
        end
        -- 2. NAME.md §N resolves to a heading
        local cited = path == "tests/lint/repo_lint.lua" and "" or line
        for name, sec in cited:gmatch("([%w_%-]+%.md)`?%)?,?%s*§%s*([%w]+[%.%w]*)") do
          sec = sec:gsub("%.$", "")
          local paths = docs[name]
          if not paths then
            fail("%s: cites %s, which is not in the repository", where, name)
          elseif #paths > 1 then
            fail("%s: cites %s, but several files have that name: %s", where, name,
              table.concat(paths, ", "))
          else
            check(sections_of(paths[1])[sec], "%s: cites %s §%s, but %s has no heading %s",
              where, name, sec, paths[1], sec)
          end
        end
        -- 4. issue numbers, in documents and other text (code: its comments, below)
        if not lang and path ~= "tests/lint/repo_lint.lua" and line:lower():match("issues? %d")
        then
          fail("%s: cites an issue number (give the reason instead): %s", where, line)
        end
      end
      -- 3. section signs in user-visible strings; 4. issue numbers in comments
      if lang and path ~= "tests/lint/repo_lint.lua" then
        local lits, comments = scan(text, lang)
        if is_product(path) then
          for _, l in ipairs(lits) do
            if l[2]:find("§", 1, true) then
              fail("%s:%d: a user-visible string cites a section (say what to do instead): %s",
                path, l[1], l[2])
            end
          end
        end
        for _, c in ipairs(comments) do
          local k = 0
          for cl in (c[2] .. "\n"):gmatch("([^\n]*)\n") do
            if cl:lower():match("issues? %d") then
              fail("%s:%d: a comment cites an issue number (give the reason instead): %s",
                path, c[1] + k, cl)
            end
            k = k + 1
          end
        end
      end
    end
  end
end
for _, p in ipairs(spdx_missing) do
  fail("%s: no 'SPDX-License-Identifier: MIT' on its first line", p)
end
passed = passed + spdx_files - #spdx_missing

print(("repo-lint: %d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
