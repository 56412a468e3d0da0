/* SPDX-License-Identifier: MIT */
/* cwlua.core.device: a device from the transport layer as a Lua userdata (style.md §2.1).
 *
 *   device.open(opts)                 -> dev | nil, msg, code
 *       opts = { backend = "sim", board = "cwlite", serial = nil, target = "stm32f100xb",
 *                state = DIR, faults = { "NAME=VALUE", ... }, latency_ms = 0.5, seed = 1,
 *                noise = 0.01, app = "silent", power_up = false }
 *           or { backend = "libusb", bus = 1, address = 2, serial = "..." (checked, optional) }
 *   dev:control(bmRequestType, bRequest, wValue, wIndex, data|length, timeout_ms)
 *                                     -> string (IN) | true (OUT) | nil, msg, code
 *   dev:bulk_in(ep, length, timeout_ms)  -> string | nil, msg, code
 *   dev:bulk_out(ep, data, timeout_ms)   -> bytes sent | nil, msg, code
 *   dev:now_ns()                      -> integer (the device's clock: virtual on the simulator)
 *   dev:sleep_ns(ns)                  -> nothing (advances virtual time on the simulator)
 *   dev:info()                        -> { backend, kind, serial, product, vid, pid, ... }
 *   dev:close()                       -> true (a second close raises, like io.close)
 *   dev:sim_counters()                -> table | nil, msg, "unsupported"
 *   dev:sim_view()                    -> what the board drives onto the target connector
 *   dev:sim_fpga_peek(addr, len)      -> string (register bytes, no side effects)
 *   device.monotonic_ns(), device.monotonic_sleep_ns(ns)
 *   device.usb_list([opts])           -> { {bus, address, port, vid, pid, kind, product, serial,
 *                                          code, error}, ... } | nil, msg, code
 *       every device with NewAE's vendor ID (kind "" when not a capture board); code/error:
 *       why it could not be opened (absent when fine). opts.open = false: serial and product
 *       from sysfs where it has them, without opening those devices
 *   device.serial_list()              -> { {path, description, vid, pid, serial}, ... }
 *   device.sim_faults()               -> { {name, arg, default, summary, live, persistent}, ... }
 *   device.sim_usb_latency(text)      -> milliseconds | nil, msg: --sim-usb-latency checked by
 *                                        the rule sim attach uses too (cwsim.h)
 *   device.sim_noise(text)            -> sigma | nil, msg: --sim-noise, the same way
 *   device.sim_options()              -> { {name, arg, multi, help}, ... }: the --sim-* options
 *                                        of every simulator front end (cwsim_option_table)
 *
 * Misuse (bad types, ranges, a closed device) raises; world failures return nil, msg, code
 * with the stable codes of cw_err_code_name(). */
#include "cw_enum.h"
#include "cw_libusb.h"
#include "cw_sim.h"
#include "cw_transport.h"
#include "l_util.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#define CW_DEVICE "cwlua.Device"

/* Limits that catch programming errors early; the protocol's own limits are enforced in Lua
 * and by the device. */
#define MAX_CONTROL_LEN 4096       /* USB control data stage: wLength is 16-bit, NAEUSB uses 128 */
#define MAX_BULK_LEN    (16 << 20) /* one bulk transfer; bitstreams go in 64 KiB slices */

static cw_dev *todev(lua_State *L)
{
    return cwl_dev_check(L, CW_DEVICE, "device");
}

static const char *optstringfield(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    const char *s = luaL_optstring(L, -1, NULL);
    lua_pop(L, 1); /* the string stays alive in the options table */
    return s;
}

static int open_libusb(lua_State *L)
{
    lua_getfield(L, 1, "bus");
    lua_getfield(L, 1, "address");
    lua_Integer bus = luaL_checkinteger(L, -2), address = luaL_checkinteger(L, -1);
    lua_pop(L, 2);
    luaL_argcheck(L, bus >= 0 && bus <= 255, 1, "opts.bus must be 0 to 255");
    luaL_argcheck(L, address >= 0 && address <= 255, 1, "opts.address must be 0 to 255");
    const char *serial = optstringfield(L, 1, "serial");
    cwl_dev *d = cwl_dev_new(L, CW_DEVICE); /* [opts, dev] */
    cw_err err = {0};
    if (cw_libusb_open(&d->dev, (uint8_t)bus, (uint8_t)address, serial, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    return 1;
}

/* device.open(opts) -> dev | nil, msg, code */
static int l_open(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *backend = optstringfield(L, 1, "backend");
    luaL_argcheck(
        L, backend != NULL && (strcmp(backend, "sim") == 0 || strcmp(backend, "libusb") == 0), 1,
        "opts.backend must be \"sim\" or \"libusb\"");
    if (strcmp(backend, "libusb") == 0)
        return open_libusb(L);
    cw_sim_opts o = {0};
    o.board = optstringfield(L, 1, "board");
    if (o.board == NULL)
        o.board = "cwlite";
    o.serial = optstringfield(L, 1, "serial");
    o.target = optstringfield(L, 1, "target");
    o.state_dir = optstringfield(L, 1, "state");
    o.app = optstringfield(L, 1, "app");
    lua_getfield(L, 1, "latency_ms");
    o.usb_latency_ms = luaL_optnumber(L, -1, -1.0);
    luaL_argcheck(L,
                  lua_isnil(L, -1) ||
                      (o.usb_latency_ms >= 0 && o.usb_latency_ms <= CWSIM_USB_LATENCY_MAX_MS),
                  1, "opts.latency_ms must be 0 to 10000 (milliseconds)");
    lua_getfield(L, 1, "seed");
    lua_Integer seed = luaL_optinteger(L, -1, 1);
    lua_getfield(L, 1, "power_up");
    o.power_up = lua_toboolean(L, -1);
    lua_getfield(L, 1, "noise");
    o.noise = luaL_optnumber(L, -1, -1.0);
    luaL_argcheck(L, lua_isnil(L, -1) || (o.noise >= 0 && o.noise <= CWSIM_NOISE_MAX), 1,
                  "opts.noise must be 0 to 1 (full-scale units)");
    lua_pop(L, 4);
    o.seed = (uint64_t)seed;

    lua_getfield(L, 1, "faults"); /* [opts, faults] */
    size_t nfaults = lua_istable(L, -1) ? (size_t)luaL_len(L, -1) : 0;
    luaL_argcheck(L, nfaults <= 64, 1, "at most 64 faults");
    const char **faults = lua_newuserdatauv(L, sizeof(char *) * (nfaults + 1), 0);
    for (size_t i = 0; i < nfaults; i++) {
        lua_rawgeti(L, -2, (lua_Integer)i + 1);
        faults[i] = luaL_checkstring(L, -1); /* kept alive by the faults table */
        lua_pop(L, 1);
    }
    o.faults = faults;
    o.nfaults = nfaults;

    cwl_dev *d = cwl_dev_new(L, CW_DEVICE); /* [opts, faults, vec, dev] */
    cw_err err = {0};
    if (cw_sim_open(&d->dev, &o, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    return 1;
}

/* dev:control(bmRequestType, bRequest, wValue, wIndex, data|length, timeout_ms) */
static int dev_control(lua_State *L)
{
    cw_dev *dev = todev(L);
    lua_Integer rt = luaL_checkinteger(L, 2), rq = luaL_checkinteger(L, 3);
    lua_Integer wv = luaL_checkinteger(L, 4), wi = luaL_checkinteger(L, 5);
    luaL_argcheck(L, rt >= 0 && rt <= 0xff, 2, "bmRequestType must be 0 to 255");
    luaL_argcheck(L, rq >= 0 && rq <= 0xff, 3, "bRequest must be 0 to 255");
    luaL_argcheck(L, wv >= 0 && wv <= 0xffff, 4, "wValue must be 0 to 65535");
    luaL_argcheck(L, wi >= 0 && wi <= 0xffff, 5, "wIndex must be 0 to 65535");
    unsigned timeout = cwl_checktimeout(L, 7);
    int in = (rt & 0x80) != 0;
    size_t len, actual = 0;
    const char *out = NULL;
    if (in) {
        lua_Integer n = luaL_checkinteger(L, 6);
        luaL_argcheck(L, n >= 0 && n <= MAX_CONTROL_LEN, 6, "length must be 0 to 4096");
        len = (size_t)n;
    } else {
        out = luaL_checklstring(L, 6, &len);
        luaL_argcheck(L, len <= MAX_CONTROL_LEN, 6, "data must be at most 4096 bytes");
    }
    luaL_Buffer b;
    uint8_t *buf = (uint8_t *)luaL_buffinitsize(L, &b, len > 0 ? len : 1);
    if (!in && len > 0)
        memcpy(buf, out, len);
    cw_err err = {0};
    if (cw_dev_control(dev, (uint8_t)rt, (uint8_t)rq, (uint16_t)wv, (uint16_t)wi, buf,
                       (uint16_t)len, timeout, &actual, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    if (!in) {
        lua_pushboolean(L, 1);
        return 1;
    }
    luaL_pushresultsize(&b, actual);
    return 1;
}

/* dev:bulk_in(ep, length, timeout_ms) -> string | nil, msg, code */
static int dev_bulk_in(lua_State *L)
{
    cw_dev *dev = todev(L);
    lua_Integer ep = luaL_checkinteger(L, 2), n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, ep >= 0x80 && ep <= 0x8f, 2, "IN endpoint must be 0x80 to 0x8f");
    luaL_argcheck(L, n > 0 && n <= MAX_BULK_LEN, 3, "length must be 1 to 16 MiB");
    unsigned timeout = cwl_checktimeout(L, 4);
    luaL_Buffer b;
    uint8_t *buf = (uint8_t *)luaL_buffinitsize(L, &b, (size_t)n);
    size_t actual = 0;
    cw_err err = {0};
    if (cw_dev_bulk(dev, (uint8_t)ep, buf, (size_t)n, timeout, &actual, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    luaL_pushresultsize(&b, actual);
    return 1;
}

/* dev:bulk_out(ep, data, timeout_ms) -> bytes sent | nil, msg, code */
static int dev_bulk_out(lua_State *L)
{
    cw_dev *dev = todev(L);
    lua_Integer ep = luaL_checkinteger(L, 2);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    luaL_argcheck(L, ep >= 0x00 && ep <= 0x0f, 2, "OUT endpoint must be 0x00 to 0x0f");
    luaL_argcheck(L, len <= MAX_BULK_LEN, 3, "data must be at most 16 MiB");
    unsigned timeout = cwl_checktimeout(L, 4);
    /* libusb wants a writable buffer even for OUT: copy into Lua-owned memory */
    uint8_t *buf = lua_newuserdatauv(L, len > 0 ? len : 1, 0);
    memcpy(buf, data, len);
    size_t actual = 0;
    cw_err err = {0};
    if (cw_dev_bulk(dev, (uint8_t)ep, buf, len, timeout, &actual, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    lua_pushinteger(L, (lua_Integer)actual);
    return 1;
}

static int dev_now_ns(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)cw_dev_now_ns(todev(L)));
    return 1;
}

static int dev_sleep_ns(lua_State *L)
{
    cw_dev *dev = todev(L);
    lua_Integer ns = luaL_checkinteger(L, 2);
    luaL_argcheck(L, ns >= 0, 2, "ns must not be negative");
    cw_dev_sleep_ns(dev, (uint64_t)ns);
    return 0;
}

static int dev_info(lua_State *L)
{
    cw_dev *dev = todev(L);
    const cw_dev_info *i = &dev->info;
    lua_createtable(L, 0, 8);
    cwl_setstr(L, "backend", i->backend);
    cwl_setstr(L, "kind", i->kind);
    cwl_setstr(L, "serial", i->serial);
    cwl_setstr(L, "product", i->product);
    cwl_setint(L, "vid", i->vid);
    cwl_setint(L, "pid", i->pid);
    cwl_setint(L, "ep_bulk_in", i->ep_bulk_in);
    cwl_setint(L, "ep_bulk_out", i->ep_bulk_out);
    return 1;
}

static int dev_close(lua_State *L)
{
    return cwl_dev_close(L, CW_DEVICE, "device");
}

static int dev_gc(lua_State *L) /* __gc and __close: never raise */
{
    return cwl_dev_gc(L, CW_DEVICE);
}

static int dev_tostring(lua_State *L)
{
    const cwl_dev *d = cwl_dev_checkhandle(L, CW_DEVICE);
    if (d->dev == NULL)
        lua_pushliteral(L, "cwlua.Device (closed)");
    else
        lua_pushfstring(L, "cwlua.Device (%s %s %s)", d->dev->info.backend, d->dev->info.kind,
                        d->dev->info.serial);
    return 1;
}

static cwsim *tosim(lua_State *L)
{
    return cw_sim_world(todev(L));
}

static int not_sim(lua_State *L)
{
    cw_err err;
    cw_err_set(&err, CW_E_UNSUPPORTED, "not a simulated device");
    return cwl_pushfail(L, &err);
}

static int dev_sim_counters(lua_State *L)
{
    cwsim *sim = tosim(L);
    if (sim == NULL)
        return not_sim(L);
    cwsim_counters c;
    cwsim_counters_get(sim, &c);
    lua_createtable(L, 0, 20);
    cwl_setint(L, "now_ns", (lua_Integer)c.now_ns);
    cwl_setint(L, "wait_ns", (lua_Integer)c.wait_ns);
    cwl_setint(L, "usb_ns", (lua_Integer)c.usb_ns);
    cwl_setint(L, "wire_ns", (lua_Integer)c.wire_ns);
    cwl_setint(L, "flash_ns", (lua_Integer)c.flash_ns);
    cwl_setint(L, "uart_to_target", (lua_Integer)c.uart_to_target);
    cwl_setint(L, "uart_from_board", (lua_Integer)c.uart_from_board);
    cwl_setint(L, "uart_to_board", (lua_Integer)c.uart_to_board);
    cwl_setint(L, "uart_rx", (lua_Integer)c.uart_rx);
    cwl_setint(L, "uart_rx_dropped", (lua_Integer)c.uart_rx_dropped);
    cwl_setint(L, "uart_tx_dropped", (lua_Integer)c.uart_tx_dropped);
    cwl_setint(L, "ctrl_in", (lua_Integer)c.ctrl_in);
    cwl_setint(L, "ctrl_out", (lua_Integer)c.ctrl_out);
    cwl_setint(L, "bulk_in", (lua_Integer)c.bulk_in);
    cwl_setint(L, "bulk_out", (lua_Integer)c.bulk_out);
    cwl_setint(L, "bulk_in_bytes", (lua_Integer)c.bulk_in_bytes);
    cwl_setint(L, "bulk_out_bytes", (lua_Integer)c.bulk_out_bytes);
    cwl_setint(L, "stalls", (lua_Integer)c.stalls);
    cwl_setint(L, "timeouts", (lua_Integer)c.timeouts);
    return 1;
}

static const char *level_name(cwsim_level l)
{
    return l == CWSIM_HIGH ? "high" : l == CWSIM_LOW ? "low" : "z";
}

static int dev_sim_view(lua_State *L)
{
    cw_dev *dev = todev(L);
    cwsim_board *b = cw_sim_board(dev);
    if (b == NULL)
        return not_sim(L);
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    lua_createtable(L, 0, 8);
    cwl_setbool(L, "power", v.power);
    lua_pushnumber(L, v.clock_hz);
    lua_setfield(L, -2, "clock_hz");
    cwl_setbool(L, "uart_to_target", v.uart_to_target);
    cwl_setbool(L, "uart_from_target", v.uart_from_target);
    cwl_setbool(L, "uart_enabled", v.uart_enabled);
    lua_createtable(L, 0, CWSIM_PIN_COUNT);
    for (int p = 0; p < CWSIM_PIN_COUNT; p++)
        cwl_setstr(L, cwsim_pin_name((cwsim_pin)p), level_name(v.pins[p]));
    lua_setfield(L, -2, "pins");
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, v.uart.baud);
    lua_setfield(L, -2, "baud");
    cwl_setint(L, "bits", v.uart.data_bits);
    static const char *const parities[] = {"none", "odd", "even", "mark", "space"};
    cwl_setstr(L, "parity", v.uart.parity < 5 ? parities[v.uart.parity] : "none");
    lua_pushnumber(L, v.uart.stop_halves / 2.0);
    lua_setfield(L, -2, "stop");
    lua_setfield(L, -2, "uart");
    const char *note = cwsim_board_target_note(b);
    if (note != NULL)
        cwl_setstr(L, "note", note);
    return 1;
}

static int dev_sim_fpga_peek(lua_State *L)
{
    cw_dev *dev = todev(L);
    lua_Integer addr = luaL_checkinteger(L, 2), n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, addr >= 0 && addr <= 255, 2, "addr must be 0 to 255");
    luaL_argcheck(L, n > 0 && n <= 64, 3, "len must be 1 to 64");
    cwsim_board *b = cw_sim_board(dev);
    if (b == NULL)
        return not_sim(L);
    uint8_t buf[64];
    size_t got = cwsim_board_fpga_peek(b, (unsigned)addr, buf, (size_t)n);
    lua_pushlstring(L, (const char *)buf, got);
    return 1;
}

static int l_monotonic_ns(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)cw_monotonic_ns());
    return 1;
}

static int l_monotonic_sleep_ns(lua_State *L)
{
    lua_Integer ns = luaL_checkinteger(L, 1);
    luaL_argcheck(L, ns >= 0, 1, "ns must not be negative");
    cw_monotonic_sleep_ns((uint64_t)ns);
    return 0;
}

/* device.sim_usb_latency(text) -> ms | nil, msg */
static int l_sim_usb_latency(lua_State *L)
{
    const char *text = luaL_checkstring(L, 1);
    char msg[256];
    double ms = 0;
    if (cwsim_usb_latency_parse(text, &ms, msg, sizeof msg) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    lua_pushnumber(L, ms);
    return 1;
}

/* device.sim_noise(text) -> sigma | nil, msg */
static int l_sim_noise(lua_State *L)
{
    const char *text = luaL_checkstring(L, 1);
    char msg[256];
    double sigma = 0;
    if (cwsim_noise_parse(text, &sigma, msg, sizeof msg) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    lua_pushnumber(L, sigma);
    return 1;
}

static int l_sim_faults(lua_State *L)
{
    size_t n = 0;
    const cwsim_fault_info *t = cwsim_fault_table(&n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 6);
        cwl_setstr(L, "name", t[i].name);
        cwl_setstr(L, "arg", t[i].arg);
        if (t[i].deflt != NULL)
            cwl_setstr(L, "default", t[i].deflt);
        cwl_setstr(L, "summary", t[i].summary);
        cwl_setbool(L, "live", t[i].live);
        cwl_setbool(L, "persistent", t[i].persistent);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_sim_options(lua_State *L)
{
    size_t n = 0;
    const cwsim_option_info *t = cwsim_option_table(&n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 4);
        cwl_setstr(L, "name", t[i].name);
        cwl_setstr(L, "arg", t[i].arg);
        cwl_setbool(L, "multi", t[i].multi);
        cwl_setstr(L, "help", t[i].help);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* The C lists are copied into Lua tables in a protected call so that a memory error while
 * building them cannot leak the C allocation. */
typedef struct enum_result {
    void *list;
    size_t n;
} enum_result;

static int push_usb_list(lua_State *L)
{
    enum_result *r = lua_touserdata(L, 1);
    const cw_libusb_entry *v = r->list;
    lua_createtable(L, (int)r->n, 0);
    for (size_t i = 0; i < r->n; i++) {
        const cw_libusb_entry *e = &v[i];
        lua_createtable(L, 0, 10);
        cwl_setint(L, "bus", e->bus);
        cwl_setint(L, "address", e->address);
        cwl_setstr(L, "port", e->port);
        cwl_setint(L, "vid", e->vid);
        cwl_setint(L, "pid", e->pid);
        cwl_setstr(L, "kind", e->kind);
        cwl_setstr(L, "product", e->product);
        cwl_setstr(L, "serial", e->serial);
        if (e->code != CW_OK) {
            cwl_setstr(L, "code", cw_err_code_name(e->code));
            cwl_setstr(L, "error", e->msg);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int push_port_list(lua_State *L)
{
    enum_result *r = lua_touserdata(L, 1);
    const cw_port_entry *v = r->list;
    lua_createtable(L, (int)r->n, 0);
    for (size_t i = 0; i < r->n; i++) {
        lua_createtable(L, 0, 5);
        cwl_setstr(L, "path", v[i].path);
        cwl_setstr(L, "description", v[i].description);
        if (v[i].vid != 0) {
            cwl_setint(L, "vid", v[i].vid);
            cwl_setint(L, "pid", v[i].pid);
            cwl_setstr(L, "serial", v[i].serial);
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int push_list(lua_State *L, lua_CFunction push, enum_result *r)
{
    lua_pushcfunction(L, push);
    lua_pushlightuserdata(L, r);
    int status = lua_pcall(L, 1, 1, 0);
    free(r->list);
    if (status != LUA_OK)
        return lua_error(L);
    return 1;
}

static int l_usb_list(lua_State *L)
{
    int open_each = 1;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "open");
        open_each = lua_isnil(L, -1) || lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    enum_result r = {0};
    cw_libusb_entry *v = NULL;
    cw_err err = {0};
    if (cw_libusb_list(&v, &r.n, open_each, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    r.list = v;
    return push_list(L, push_usb_list, &r);
}

static int l_serial_list(lua_State *L)
{
    enum_result r = {0};
    cw_port_entry *v = NULL;
    cw_err err = {0};
    if (cw_serial_list(&v, &r.n, &err) != CW_OK)
        return cwl_pushfail(L, &err);
    r.list = v;
    return push_list(L, push_port_list, &r);
}

int luaopen_cwlua_core_device(lua_State *L)
{
    /* clang-format off */
    static const luaL_Reg meta[] = {
        {"__index", NULL}, {"__gc", dev_gc}, {"__close", dev_gc}, {"__tostring", dev_tostring},
        {NULL, NULL},
    };
    static const luaL_Reg methods[] = {
        {"control", dev_control}, {"bulk_in", dev_bulk_in}, {"bulk_out", dev_bulk_out},
        {"now_ns", dev_now_ns}, {"sleep_ns", dev_sleep_ns}, {"info", dev_info},
        {"close", dev_close}, {"sim_counters", dev_sim_counters}, {"sim_view", dev_sim_view},
        {"sim_fpga_peek", dev_sim_fpga_peek},
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"open", l_open}, {"monotonic_ns", l_monotonic_ns},
        {"monotonic_sleep_ns", l_monotonic_sleep_ns}, {"sim_faults", l_sim_faults},
        {"sim_usb_latency", l_sim_usb_latency}, {"sim_noise", l_sim_noise},
        {"sim_options", l_sim_options},
        {"usb_list", l_usb_list}, {"serial_list", l_serial_list},
        {NULL, NULL},
    };
    /* clang-format on */
    return cwl_newclass(L, CW_DEVICE, meta, methods, funcs);
}
