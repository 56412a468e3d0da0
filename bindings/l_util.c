/* SPDX-License-Identifier: MIT */
/* Helpers shared by the bindings. */
#include "l_util.h"

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
