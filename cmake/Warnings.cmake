# SPDX-License-Identifier: MIT
# The warning set of the style guide (§4.4): Lua's own CWARNS plus extras, C11.
# cwlua_warnings(target) applies it; CWLUA_WERROR turns warnings into errors (CI).
set(CWLUA_C_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wundef -Wwrite-strings -Wstrict-prototypes
    -Wmissing-prototypes -Wold-style-definition -Wredundant-decls -Wformat=2 -Wcast-qual
    -Wconversion -Wdouble-promotion)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
    list(APPEND CWLUA_C_WARNINGS -Wlogical-op)
endif()

function(cwlua_warnings target)
    target_compile_options(${target} PRIVATE ${CWLUA_C_WARNINGS})
    if(CWLUA_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
