/* SPDX-License-Identifier: MIT */
/* Helpers for the AVR tests: a simulated CW-Lite with an AVR part and host-side V2 requests
 * written the way NewAE's AVRISP sends them (target-protocols.md §C.1, §C.4). Include after
 * check.h. */
#ifndef CWLUA_TESTS_AVR_AVRTEST_H
#define CWLUA_TESTS_AVR_AVRTEST_H

#include "cwsim.h"
#include "cwsim_avr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V2      0x21   /* bRequest (§1) */
#define T_MS    20000u /* NewAE's USB timeout */
#define MS      1000000ull
#define REG_IOR 55 /* IOROUTE; byte 5 bit 0 routes the SAM SPI pins (cw-usb-protocol.md §4.1) */

/* NewAE's ENTER payload (§C.4) and its slow-clock variant */
static const uint8_t ENTER_CW[11] = {0xC8, 0x64, 0x19, 0x20, 0x00, 0x53,
                                     0x03, 0xAC, 0x53, 0x00, 0x00};
static const uint8_t ENTER_SLOW[11] = {0x14, 0x0A, 0x02, 0x20, 0x00, 0x53,
                                       0x03, 0xAC, 0x53, 0x00, 0x00};

typedef struct rig {
    cwsim *sim;
    cwsim_board *b;
    cwsim_avr *chip;
} rig;

static inline int v2_out(cwsim_board *b, uint16_t val, const void *data, uint16_t len)
{
    uint8_t buf[256];
    if (len)
        memcpy(buf, data, len);
    return cwsim_board_control(b, 0x41, V2, val, 0, buf, len, T_MS);
}

static inline int v2_in(cwsim_board *b, uint16_t val, void *data, uint16_t len)
{
    return cwsim_board_control(b, 0xC1, V2, val, 0, data, len, T_MS);
}

/* GET_STATUS with wLength 32: the byte count (0 when nothing pending), bytes into st */
static inline int v2_status(cwsim_board *b, uint8_t *st)
{
    memset(st, 0xEE, 4);
    return v2_in(b, 0x20, st, 32);
}

/* an OUT command, then its 2-byte status: returns status[1], or -1 when no status came */
static inline int v2_cmd(cwsim_board *b, uint8_t cmd, const void *payload, uint16_t len)
{
    uint8_t st[32];
    v2_out(b, cmd, payload, len);
    int n = v2_status(b, st);
    return n >= 2 ? st[1] : -1;
}

static inline int reg_rw(cwsim_board *b, unsigned addr, uint8_t *v, uint16_t k, int write)
{
    uint8_t buf[128];
    for (int i = 0; i < 4; i++) {
        buf[i] = (uint8_t)(k >> (8 * i));
        buf[4 + i] = (uint8_t)(addr >> (8 * i));
    }
    if (write) {
        memcpy(buf + 8, v, k);
        return cwsim_board_control(b, 0x41, 0x13, 0, 0, buf, (uint16_t)(8 + k), T_MS);
    }
    cwsim_board_control(b, 0x41, 0x12, 0, 0, buf, 8, T_MS);
    return cwsim_board_control(b, 0xC1, 0x12, 0, 0, v, k, T_MS);
}

/* setAVRISPMode(on): IOROUTE byte 5 bit 0 (§C.2) */
static inline void isp_route(cwsim_board *b, int on)
{
    uint8_t io[8];
    reg_rw(b, REG_IOR, io, 8, 0);
    io[5] = (uint8_t)(on ? (io[5] | 1u) : (io[5] & ~1u));
    reg_rw(b, REG_IOR, io, 8, 1);
}

/* A world with a board of that kind after default_setup() (HS2 = 7.37 MHz: the CW-Lite's
 * CLKGEN, the Husky's PLL), part attached, faults set, ISP routed. state_dir NULL: no state
 * folder. */
static inline void rig_open_on(rig *r, cwsim_kind kind, const char *part, const char *state_dir,
                               const char *const *faults)
{
    char err[512];
    memset(r, 0, sizeof *r);
    if (cwsim_new(&r->sim, err, sizeof err) != 0)
        goto fail;
    for (size_t i = 0; faults != NULL && faults[i] != NULL; i++)
        if (cwsim_fault_parse(r->sim, faults[i], err, sizeof err) != 0)
            goto fail;
    if (state_dir != NULL && cwsim_state_open(r->sim, state_dir, err, sizeof err) != 0)
        goto fail;
    r->b = cwsim_board_add(r->sim, kind, NULL, err, sizeof err);
    if (r->b == NULL)
        goto fail;
    cwsim_board_default_setup(r->b);
    if (part != NULL) {
        r->chip = cwsim_avr_attach(r->b, part, err, sizeof err);
        if (r->chip == NULL)
            goto fail;
    }
    isp_route(r->b, 1);
    return;
fail:
    fprintf(stderr, "rig_open: %s\n", err);
    exit(1);
}

static inline void rig_open(rig *r, const char *part, const char *state_dir,
                            const char *const *faults)
{
    rig_open_on(r, CWSIM_CWLITE, part, state_dir, faults);
}

static inline void rig_close(rig *r)
{
    cwsim_free(r->sim);
    memset(r, 0, sizeof *r);
}

/* READ_xxx_ISP (5 bytes: ret index, 4 command bytes): the value (status[2]) or -1 */
static inline int v2_read4(cwsim_board *b, uint8_t cmd, uint8_t ret, uint8_t c0, uint8_t c1,
                           uint8_t c2, uint8_t c3)
{
    uint8_t p[5] = {ret, c0, c1, c2, c3}, st[32];
    v2_out(b, cmd, p, 5);
    int n = v2_status(b, st);
    return n == 4 && st[0] == cmd && st[1] == 0 ? st[2] : -1;
}

static inline int v2_signature(cwsim_board *b, uint8_t sig[3])
{
    for (uint8_t i = 0; i < 3; i++) {
        int v = v2_read4(b, 0x1B, 4, 0x30, 0x00, i, 0x00);
        if (v < 0)
            return -1;
        sig[i] = (uint8_t)v;
    }
    return 0;
}

static inline void v2_load_address(cwsim_board *b, uint32_t a)
{
    uint8_t p[4] = {(uint8_t)a, (uint8_t)(a >> 8), (uint8_t)(a >> 16), (uint8_t)(a >> 24)};
    v2_cmd(b, 0x06, p, 4);
}

static inline void v2_set_rambuf(cwsim_board *b, const uint8_t *data, unsigned n)
{
    for (unsigned off = 0; off < n; off += 64) {
        unsigned k = n - off < 64 ? n - off : 64;
        v2_out(b, (uint16_t)(0x21 | (off << 8)), data + off, (uint16_t)k);
    }
}

static inline void v2_get_rambuf(cwsim_board *b, uint8_t *data, unsigned n)
{
    for (unsigned off = 0; off < n; off += 64) {
        unsigned k = n - off < 64 ? n - off : 64;
        v2_in(b, (uint16_t)(0x22 | (off << 8)), data + off, (uint16_t)k);
    }
}

/* PROGRAM_FLASH_ISP as NewAE sends it: paged, RDY/BSY, commit (mode 0xC1) */
static inline int v2_program_page(cwsim_board *b, const uint8_t *data, unsigned n)
{
    v2_set_rambuf(b, data, n);
    uint8_t p[9] = {(uint8_t)n, (uint8_t)(n >> 8), 0xC1, 0x06, 0x40, 0x4C, 0x20, 0xFF, 0xFF};
    return v2_cmd(b, 0x13, p, 9);
}

static inline int v2_read_flash(cwsim_board *b, uint8_t *data, unsigned n)
{
    uint8_t p[3] = {(uint8_t)n, (uint8_t)(n >> 8), 0x20};
    int r = v2_cmd(b, 0x14, p, 3);
    v2_get_rambuf(b, data, n);
    return r;
}

static inline int v2_chip_erase(cwsim_board *b)
{
    static const uint8_t p[6] = {0x19, 0x00, 0xAC, 0x80, 0x00, 0x00}; /* §C.4: 25 ms timed */
    return v2_cmd(b, 0x12, p, 6);
}

static inline int v2_leave(cwsim_board *b)
{
    static const uint8_t p[2] = {0x01, 0x01};
    return v2_cmd(b, 0x11, p, 2);
}

/* the XPROG engine's SET_PARAM TIMEOUT (§B.1): 0x20/0x07 with 08 + u32 ticks */
static inline int xprog_set_timeout(cwsim_board *b, uint32_t ticks)
{
    uint8_t p[5] = {0x08, (uint8_t)ticks, (uint8_t)(ticks >> 8), (uint8_t)(ticks >> 16),
                    (uint8_t)(ticks >> 24)};
    uint8_t buf[8];
    memcpy(buf, p, 5);
    return cwsim_board_control(b, 0x41, 0x20, 0x0007, 0, buf, 5, T_MS);
}

#endif
