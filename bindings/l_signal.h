/* SPDX-License-Identifier: MIT */
/* cwlua.core.signal: SIGINT/SIGTERM that always stop a run, and an instruction budget
 * (l_signal.c). */
#ifndef CWLUA_BINDINGS_L_SIGNAL_H
#define CWLUA_BINDINGS_L_SIGNAL_H

#include <lua.h>

/* Installs the SIGINT and SIGTERM handlers (idempotent): call first thing in main(). */
void cw_signal_setup(void);
/* Installs the count hook on L (and so on every coroutine created from it); L is the main
 * thread the signal handler hooks at once. */
void cw_signal_hook(lua_State *L);
/* Before lua_close(L): no more hooks, and the signal handler forgets L. */
void cw_signal_unhook(lua_State *L);
/* The signal received and not yet handled, or 0. */
int cw_signal_pending(void);
/* signal.set_json(true) was called: --json is on. */
int cw_signal_json(void);

int luaopen_cwlua_core_signal(lua_State *L);

#endif
