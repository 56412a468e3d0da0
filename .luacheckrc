-- SPDX-License-Identifier: MIT
-- luacheck configuration: Lua 5.4, 100 columns (style.md §4.4). CI runs
-- `luacheck --std lua54 .`; a command-line --std replaces any per-file std, so the busted
-- globals are declared as read_globals for the spec files instead of std = "+busted".
std = "lua54"
max_line_length = 100
exclude_files = { "build/**", "build-*/**" }

local busted = {
  "describe", "context", "insulate", "expose", "it", "spec", "test", "pending",
  "before_each", "after_each", "setup", "teardown", "lazy_setup", "lazy_teardown",
  "strict_setup", "strict_teardown", "finally", "spy", "stub", "mock", "randomize",
  assert = { other_fields = true },
}
files["spec/**/*_spec.lua"] = { read_globals = busted }
files["spec/support/*.lua"] = { read_globals = busted }
