/* SPDX-License-Identifier: MIT */
/* cwlua.core.serial: a plain serial adapter from the libserialport backend (transport/
 * cw_serialport.h) as a Lua userdata (style.md §2.1). cwlua.port builds the stream and the
 * reset/boot lines on top of these primitives; sequencing, waits and hints live there.
 *
 *   serial.open(path)                 -> port | nil, msg, code
 *   port:config(baud, bits, parity, stop)
 *                                     -> { baud, bits, parity, stop } as the port reports them
 *                                        afterwards | nil, msg, code
 *       parity: "none", "odd", "even", "mark", "space"; stop: 1 or 2
 *   port:read(max, timeout_ms)        -> string (up to max bytes; "" when nothing came within
 *                                        timeout_ms) | nil, msg, code
 *   port:write(data, timeout_ms)      -> bytes sent | nil, msg, code, bytes sent before it
 *   port:queued()                     -> received-not-read, written-not-sent | nil, msg, code
 *   port:flush(input, output)         -> true | nil, msg, code
 *   port:set_line(line, on)           -> true | nil, msg, code; line: "dtr", "rts", "break"
 *   port:lines()                      -> { cts, dsr, dcd, ri } (booleans) | nil, msg, code
 *   port:info()                       -> { path, description, manufacturer, product,
 *                                          usb_serial, vid, pid } (vid/pid only for USB)
 *   port:close()                      -> true (a second close raises, like io.close)
 *
 * Misuse (bad types, ranges, a closed port) raises; world failures return nil, msg, code. */
#include "l_serial.h"

#include "cw_serialport.h"
#include "cw_transport.h"
#include "l_util.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#define CW_SERIAL_PORT "cwlua.SerialPort"

/* One read or write call: enough for any protocol block, small enough for the stack of Lua
 * buffers; larger writes are split by cwlua.port. */
#define MAX_IO_LEN (1 << 20)

static cw_dev *toport(lua_State *L)
{
    return cwl_dev_check(L, CW_SERIAL_PORT, "serial port");
}

static const char *const parity_names[] = {"none", "odd", "even", "mark", "space", NULL};

/* serial.open(path) -> port | nil, msg, code */
static int l_open(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    cwl_dev *p = cwl_dev_new(L, CW_SERIAL_PORT); /* [path, port] */
    cw_err err = {0};
    if (cw_serialport_open(&p->dev, path, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    return 1;
}

/* port:config(baud, bits, parity, stop) -> applied settings | nil, msg, code */
static int port_config(lua_State *L)
{
    cw_dev *dev = toport(L);
    lua_Integer baud = luaL_checkinteger(L, 2), bits = luaL_checkinteger(L, 3);
    int parity = luaL_checkoption(L, 4, NULL, parity_names);
    lua_Integer stop = luaL_checkinteger(L, 5);
    luaL_argcheck(L, baud > 0 && baud <= 0x7fffffff, 2, "baud must be a positive integer");
    luaL_argcheck(L, bits >= 5 && bits <= 8, 3, "bits must be 5 to 8");
    luaL_argcheck(L, stop == 1 || stop == 2, 5, "stop must be 1 or 2");
    cw_line_cfg cfg = {(uint32_t)baud, (uint8_t)bits, (cw_parity)parity, (uint8_t)stop};
    cw_line_cfg got = {0};
    cw_err err = {0};
    if (cw_dev_line_config(dev, &cfg, &got, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    lua_createtable(L, 0, 4);
    cwl_setint(L, "baud", got.baud);
    cwl_setint(L, "bits", got.bits);
    cwl_setstr(L, "parity", parity_names[got.parity]);
    cwl_setint(L, "stop", got.stop_bits);
    return 1;
}

/* port:read(max, timeout_ms) -> string | nil, msg, code */
static int port_read(lua_State *L)
{
    cw_dev *dev = toport(L);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > 0 && n <= MAX_IO_LEN, 2, "max must be 1 to 1048576");
    unsigned timeout = cwl_checktimeout(L, 3);
    luaL_Buffer b;
    uint8_t *buf = (uint8_t *)luaL_buffinitsize(L, &b, (size_t)n);
    size_t got = 0;
    cw_err err = {0};
    if (cw_dev_stream_read(dev, buf, (size_t)n, timeout, &got, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    luaL_pushresultsize(&b, got);
    return 1;
}

/* port:write(data, timeout_ms) -> bytes sent | nil, msg, code, bytes sent */
static int port_write(lua_State *L)
{
    cw_dev *dev = toport(L);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    luaL_argcheck(L, len <= MAX_IO_LEN, 2, "data must be at most 1048576 bytes");
    unsigned timeout = cwl_checktimeout(L, 3);
    size_t sent = 0;
    cw_err err = {0};
    if (cw_dev_stream_write(dev, (const uint8_t *)data, len, timeout, &sent, &err) != CW_OK) {
        cwl_pushfail(L, &err);
        lua_pushinteger(L, (lua_Integer)sent);
        return 4;
    }
    lua_pushinteger(L, (lua_Integer)sent);
    return 1;
}

/* port:queued() -> rx, tx | nil, msg, code */
static int port_queued(lua_State *L)
{
    cw_dev *dev = toport(L);
    size_t rx = 0, tx = 0;
    cw_err err = {0};
    if (cw_dev_stream_queued(dev, &rx, &tx, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    lua_pushinteger(L, (lua_Integer)rx);
    lua_pushinteger(L, (lua_Integer)tx);
    return 2;
}

/* port:flush(input, output) -> true | nil, msg, code */
static int port_flush(lua_State *L)
{
    cw_dev *dev = toport(L);
    int input = lua_toboolean(L, 2), output = lua_toboolean(L, 3);
    cw_err err = {0};
    if (cw_dev_stream_flush(dev, input, output, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* port:set_line(line, on) -> true | nil, msg, code */
static int port_set_line(lua_State *L)
{
    static const char *const lines[] = {"dtr", "rts", "break", NULL};
    static const cw_line ids[] = {CW_LINE_DTR, CW_LINE_RTS, CW_LINE_BREAK};
    cw_dev *dev = toport(L);
    int which = luaL_checkoption(L, 2, NULL, lines);
    luaL_checktype(L, 3, LUA_TBOOLEAN);
    cw_err err = {0};
    if (cw_dev_set_line(dev, ids[which], lua_toboolean(L, 3), &err) != CW_OK)
        return cwl_pushfail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

/* port:lines() -> { cts, dsr, dcd, ri } | nil, msg, code */
static int port_lines(lua_State *L)
{
    cw_dev *dev = toport(L);
    unsigned m = 0;
    cw_err err = {0};
    if (cw_dev_get_lines(dev, &m, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    lua_createtable(L, 0, 4);
    cwl_setbool(L, "cts", (m & CW_IN_CTS) != 0);
    cwl_setbool(L, "dsr", (m & CW_IN_DSR) != 0);
    cwl_setbool(L, "dcd", (m & CW_IN_DCD) != 0);
    cwl_setbool(L, "ri", (m & CW_IN_RI) != 0);
    return 1;
}

/* port:info() -> table */
static int port_info(lua_State *L)
{
    const cw_serialport_info *i = cw_serialport_info_of(toport(L));
    lua_createtable(L, 0, 8);
    if (i == NULL)
        return 1;
    cwl_setstr(L, "path", i->path);
    cwl_setstr(L, "description", i->description);
    cwl_setstr(L, "manufacturer", i->manufacturer);
    cwl_setstr(L, "product", i->product);
    cwl_setstr(L, "usb_serial", i->usb_serial);
    if (i->usb) {
        cwl_setint(L, "vid", i->vid);
        cwl_setint(L, "pid", i->pid);
    }
    return 1;
}

static int port_close(lua_State *L)
{
    return cwl_dev_close(L, CW_SERIAL_PORT, "serial port");
}

static int port_gc(lua_State *L) /* __gc and __close: never raise */
{
    return cwl_dev_gc(L, CW_SERIAL_PORT);
}

static int port_tostring(lua_State *L)
{
    const cwl_dev *p = cwl_dev_checkhandle(L, CW_SERIAL_PORT);
    const cw_serialport_info *i = p->dev ? cw_serialport_info_of(p->dev) : NULL;
    if (i == NULL)
        lua_pushliteral(L, "cwlua.SerialPort (closed)");
    else
        lua_pushfstring(L, "cwlua.SerialPort (%s)", i->path);
    return 1;
}

int luaopen_cwlua_core_serial(lua_State *L)
{
    /* clang-format off */
    static const luaL_Reg meta[] = {
        {"__index", NULL}, {"__gc", port_gc}, {"__close", port_gc},
        {"__tostring", port_tostring},
        {NULL, NULL},
    };
    static const luaL_Reg methods[] = {
        {"config", port_config}, {"read", port_read}, {"write", port_write},
        {"queued", port_queued}, {"flush", port_flush}, {"set_line", port_set_line},
        {"lines", port_lines}, {"info", port_info}, {"close", port_close},
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"open", l_open},
        {NULL, NULL},
    };
    /* clang-format on */
    return cwl_newclass(L, CW_SERIAL_PORT, meta, methods, funcs);
}
