-- SPDX-License-Identifier: MIT
-- Runs busted inside the cwlua binary (style.md §4.3, as neovim does):
--   cwlua run spec/run.lua [busted options] [spec paths]
-- Options come from .busted in the current folder; see spec/CMakeLists.txt for how ctest
-- calls this.
require("busted.runner")({ standalone = false })
