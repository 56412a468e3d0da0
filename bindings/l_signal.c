/* SPDX-License-Identifier: MIT */
/* cwlua.core.signal: SIGINT and SIGTERM that always stop a run, and an instruction budget.
 *
 * lua.c's way (a handler that installs a hook which raises once) has two holes: a pcall
 * swallows the error and the run goes on, and a hook set from a signal handler reaches only the
 * main thread. Here the signal handler only records the signal. A count hook is installed once
 * and stays (coroutines inherit it from the thread that creates them, lstate.c lua_newthread);
 * every HOOK_EVERY instructions it looks at the record and, once a signal is pending, raises
 * the interrupt error. Every pcall, xpcall and coroutine.resume (replaced by cwlua.boot with
 * wrappers that ask signal.stopping()) throws a caught error on while a signal is pending, so
 * nothing can swallow it: the run unwinds to main(), running every <close> handler on the way,
 * and main() exits 128 + signo. Cleanup that must finish even then (restoring a board) runs
 * inside signal.hold(): no interrupt is raised there, and its own pcalls keep working.
 *
 * Two more holes are closed. A loop of few instructions that each run long in C (("x"):rep(5e7))
 * reaches the count hook only every 1000 of them, seconds apart: so the signal handler also
 * does what lua.c does, hooking the main thread at its next call, return or line (lua_sethook
 * may be called from a signal handler, ldebug.c), and the first hook call goes back to the count
 * hook. And an interrupt raised where nothing can pass it on (inside a finalizer, whose errors
 * Lua turns into warnings, or a C function's own lua_pcall) would be lost, and code that runs
 * while the run unwinds may loop (a <close> handler, an xpcall message handler): so while the
 * signal is pending, once REGRACE_NS have passed since the first raise or the end of the last
 * hold, the hook raises again at each of its looks until the run has ended (not inside a hold,
 * whose end gives the unwinding its grace again). Unwinding takes microseconds, and a long
 * cleanup is held, so a run that unwinds as it should sees the interrupt once.
 *
 * The same hook counts instructions for signal.budget(n, fn): a recipe that loops while it is
 * loaded is stopped the same way, without a second hook that could displace this one.
 *
 * From C: cw_signal_setup() first thing in main(), cw_signal_hook(L) once the state exists.
 * A Lua interpreter that loads cwlua/core.so calls neither: the host keeps its own signal
 * handling (lua.c's Ctrl-C), and signal.budget sets the count hook on the thread it runs on for
 * as long as it runs, putting the host's hook back after.
 *   signal.install(factory)    factory(kind, detail) -> the error value raised (kind
 *                              "interrupted" with the signal number, or "budget" with 0 from
 *                              the hook where the budget ran out, -1 from the hook while fn
 *                              unwinds, n when signal.budget itself raises at the end)
 *   signal.pending() -> nil | signo
 *   signal.stopping() -> bool  a caught error must be thrown on (a signal is pending outside a
 *                              hold, or the running budget is spent)
 *   signal.hold(fn, ...) -> fn's results; no interrupt is raised while fn runs
 *   signal.budget(n, fn, ...) -> fn's results; raises once fn has run about n instructions,
 *                              and keeps raising every HOOK_EVERY instructions until fn ends
 *   signal.catch(fn, ...) -> true, ... | false, err, signo: like pcall; when a signal stopped
 *                            fn, the signal is forgotten and the handler armed again (the
 *                            shell's prompt goes on after Ctrl-C)
 *   signal.set_json(on)        --json is on: main() also prints the interrupted JSON object
 *                              (contract.md §3.7), since no Lua can run by then
 */
#include "l_signal.h"

#include "cw_transport.h"

#include <lauxlib.h>
#include <lua.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

/* Instructions between two looks at the signal record: the hook's cost is one C call per this
 * many VM instructions, and a loop still stops within microseconds. */
#define HOOK_EVERY 1000
/* How long an interrupt may go without the run ending before it is raised again (see above). */
#define REGRACE_NS 200000000u

static volatile sig_atomic_t pending_signo = 0;
static lua_State *volatile main_L = NULL; /* the state's main thread, for the signal handler */
static uint64_t last_event_ns = 0;        /* the first raise or end of a hold, while pending */
static int relentless = 0;                /* the grace is over: raise at every hook call */
static int json_on = 0;
static int hold_depth = 0;
static long long budget_left = -1; /* < 0: no budget running */
static int budget_tripped = 0;
static int installed = 0;
/* The registry key of the state's error factory (signal.install): per state, not a process-wide
 * reference, since a host may load the module into more than one state. */
static const char factory_key = 'f';

int cw_signal_pending(void)
{
    return (int)pending_signo;
}

int cw_signal_json(void)
{
    return json_on;
}

static void hook(lua_State *L, lua_Debug *ar);

static void on_signal(int sig)
{
    pending_signo = sig;
    lua_State *L = main_L;
    if (L != NULL) /* lua.c's laction: at the very next call, return or line */
        lua_sethook(L, hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

static void arm_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* One-shot, as in lua.c: a second Ctrl-C while the first is still unwinding kills the
     * process. No SA_RESTART: a sleep or a wait returns early, and cw_monotonic_sleep_ns stops
     * sleeping once cw_signal_pending() says so. */
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void raise_kind(lua_State *L, const char *kind, lua_Integer detail)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &factory_key) == LUA_TFUNCTION) {
        lua_pushstring(L, kind);
        lua_pushinteger(L, detail);
        lua_call(L, 2, 1); /* hooks are off while a hook runs: no recursion */
        lua_error(L);
    }
    lua_pop(L, 1);
    if (strcmp(kind, "interrupted") == 0)
        luaL_error(L, "interrupted");
    luaL_error(L, "instruction budget of %d exhausted", (int)detail);
}

static int raised = 0; /* the pending signal has been raised */

static void hook_normal(lua_State *L)
{
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
}

static void hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (budget_left >= 0) {
        /* Spent: raise again until fn has unwound, so that code running on the way out (a
         * <close> handler, an xpcall message handler) cannot loop either. */
        if (budget_tripped)
            raise_kind(L, "budget", -1);
        budget_left -= lua_gethookcount(L);
        if (budget_left <= 0) {
            budget_tripped = 1;
            raise_kind(L, "budget", 0);
        }
    }
    if (pending_signo == 0)
        return;
    lua_State *M = main_L;
    if (M != NULL && lua_gethookmask(M) != LUA_MASKCOUNT)
        hook_normal(M); /* the signal handler's every-call hook has done its job */
    if (hold_depth != 0)
        return;
    if (!raised) {
        raised = 1;
        last_event_ns = cw_monotonic_ns();
        raise_kind(L, "interrupted", pending_signo);
    }
    if (relentless || cw_monotonic_ns() - last_event_ns >= REGRACE_NS) {
        relentless = 1;
        raise_kind(L, "interrupted", pending_signo);
    }
}

static int stopping(void)
{
    return (pending_signo != 0 && hold_depth == 0) || (budget_left >= 0 && budget_tripped);
}

void cw_signal_setup(void)
{
    if (!installed) {
        arm_handlers();
        cw_set_interrupt_check(cw_signal_pending);
        /* A parent may hand the signals over blocked (the mask survives exec): then they would
         * never arrive, and one already pending arrives now, before the Lua state exists. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        installed = 1;
    }
}

void cw_signal_hook(lua_State *L)
{
    cw_signal_setup();
    hook_normal(L);
    main_L = L;
    if (pending_signo != 0) /* a signal before the state was known: now at once */
        lua_sethook(L, hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

void cw_signal_unhook(lua_State *L)
{
    main_L = NULL;
    lua_sethook(L, NULL, 0, 0);
}

/* signal.install(factory): the handlers and the hook are main()'s to install (cw_signal_setup,
 * cw_signal_hook), never a guest module's. */
static int l_install(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &factory_key);
    return 0;
}

/* signal.stopping() -> bool */
static int l_stopping(lua_State *L)
{
    lua_pushboolean(L, stopping());
    return 1;
}

/* signal.pending() -> nil | signo */
static int l_pending(lua_State *L)
{
    if (pending_signo == 0)
        lua_pushnil(L);
    else
        lua_pushinteger(L, pending_signo);
    return 1;
}

/* Calls the function at index 1 with the arguments above it, protected; returns the status
 * with the results (or the error) on the stack above index 1. */
static int pcall_rest(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    return lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
}

/* signal.hold(fn, ...) -> fn's results */
static int l_hold(lua_State *L)
{
    hold_depth++;
    int status = pcall_rest(L);
    hold_depth--;
    if (hold_depth == 0 && pending_signo != 0) {
        last_event_ns = cw_monotonic_ns(); /* the unwinding goes on: give it its time again */
        relentless = 0;
    }
    if (status != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* signal.set_json(on) */
static int l_set_json(lua_State *L)
{
    json_on = lua_toboolean(L, 1);
    return 0;
}

/* signal.budget(n, fn, ...) -> fn's results */
static int l_budget(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0, 1, "must be positive");
    luaL_argcheck(L, budget_left < 0, 1, "a budget is already running");
    lua_remove(L, 1);
    /* In the binary every thread has the count hook already (cw_signal_hook); in a host
     * interpreter this thread gets it while fn runs, and the host's hook (none, or lua.c's
     * Ctrl-C hook, or a debugger's) is put back after. Coroutines fn creates inherit it. */
    lua_Hook old = lua_gethook(L);
    int old_mask = lua_gethookmask(L), old_count = lua_gethookcount(L);
    int swapped = old != hook;
    if (swapped)
        hook_normal(L);
    budget_left = (long long)n;
    budget_tripped = 0;
    int status = pcall_rest(L);
    int tripped = budget_tripped;
    budget_left = -1;
    budget_tripped = 0;
    if (swapped)
        lua_sethook(L, old, old_mask, old_count);
    if (status != LUA_OK) {
        if (tripped && pending_signo == 0) {
            lua_settop(L, 0);
            raise_kind(L, "budget", n);
        }
        return lua_error(L);
    }
    return lua_gettop(L);
}

/* signal.catch(fn, ...) -> true, ... | false, err, signo */
static int l_catch(lua_State *L)
{
    int status = pcall_rest(L);
    int signo = (int)pending_signo;
    if (status == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_insert(L, 1);
        return lua_gettop(L);
    }
    if (signo != 0) {
        pending_signo = 0;
        raised = 0;
        relentless = 0;
        if (main_L != NULL)
            hook_normal(main_L);
        arm_handlers();
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2); /* [false, err] */
    if (signo == 0)
        return 2;
    lua_pushinteger(L, signo);
    return 3;
}

int luaopen_cwlua_core_signal(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"install", l_install}, {"pending", l_pending}, {"stopping", l_stopping}, {"hold", l_hold},
        {"budget", l_budget},   {"catch", l_catch},     {"set_json", l_set_json}, {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
