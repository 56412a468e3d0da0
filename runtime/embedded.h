/* SPDX-License-Identifier: MIT */
/* The Lua library under scripts/, compiled into the binary by cmake/EmbedLua.cmake. */
#ifndef CWLUA_RUNTIME_EMBEDDED_H
#define CWLUA_RUNTIME_EMBEDDED_H

#include <stddef.h>

typedef struct cw_embedded {
    const char *name;      /* require name: "cwlua.cli"; NULL ends the table */
    const char *chunkname; /* "@scripts/cwlua/cli.lua", so tracebacks name the file */
    const char *source;
    size_t len;
} cw_embedded;

extern const cw_embedded cw_embedded_scripts[];

#endif
