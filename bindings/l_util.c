/* SPDX-License-Identifier: MIT */
/* Helpers shared by the bindings. */
#include "l_util.h"

#include <lauxlib.h>

int cwl_pushfail(lua_State *L, const cw_err *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg[0] ? err->msg : cw_err_code_name(err->code));
    lua_pushstring(L, cw_err_code_name(err->code));
    return 3;
}

void cwl_setstr(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

void cwl_setint(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

void cwl_setbool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

unsigned cwl_checktimeout(lua_State *L, int arg)
{
    lua_Integer t = luaL_checkinteger(L, arg);
    luaL_argcheck(L, t > 0 && t <= 3600000, arg, "timeout_ms must be 1 to 3600000");
    return (unsigned)t;
}

cwl_dev *cwl_dev_new(lua_State *L, const char *tname)
{
    cwl_dev *h = lua_newuserdatauv(L, sizeof *h, 0); /* [..., handle] */
    h->dev = NULL;                                   /* closed until the open succeeds */
    luaL_setmetatable(L, tname);
    return h;
}

cwl_dev *cwl_dev_checkhandle(lua_State *L, const char *tname)
{
    return luaL_checkudata(L, 1, tname);
}

cw_dev *cwl_dev_check(lua_State *L, const char *tname, const char *what)
{
    cwl_dev *h = cwl_dev_checkhandle(L, tname);
    if (h->dev == NULL)
        luaL_error(L, "attempt to use a closed %s", what);
    return h->dev;
}

int cwl_dev_close(lua_State *L, const char *tname, const char *what)
{
    cwl_dev *h = cwl_dev_checkhandle(L, tname);
    if (h->dev == NULL)
        return luaL_error(L, "attempt to close a closed %s", what);
    cw_dev_close(h->dev);
    h->dev = NULL;
    lua_pushboolean(L, 1);
    return 1;
}

int cwl_dev_gc(lua_State *L, const char *tname)
{
    cwl_dev *h = cwl_dev_checkhandle(L, tname);
    if (h->dev != NULL) {
        cw_dev_close(h->dev);
        h->dev = NULL;
    }
    return 0;
}

/* The number of entries of a luaL_Reg list: luaL_newlib sizes its table from an array's type,
 * which a pointer does not carry. */
static int reg_count(const luaL_Reg *l)
{
    int n = 0;
    while (l[n].name != NULL)
        n++;
    return n;
}

int cwl_newclass(lua_State *L, const char *tname, const luaL_Reg *meta, const luaL_Reg *methods,
                 const luaL_Reg *funcs)
{
    luaL_checkversion(L);
    luaL_newmetatable(L, tname); /* [mt] */
    luaL_setfuncs(L, meta, 0);
    if (methods != NULL) {
        lua_createtable(L, 0, reg_count(methods)); /* [mt, methods] */
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index"); /* [mt] */
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, reg_count(funcs)); /* [module] */
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
