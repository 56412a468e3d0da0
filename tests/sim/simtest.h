/* SPDX-License-Identifier: MIT */
/* Helpers for the libcwsim tests: host-side requests written the way NewAE's Python library
 * sends them (cw-usb-protocol.md §2.5, §3.6 notation). */
#ifndef CWLUA_TESTS_SIM_SIMTEST_H
#define CWLUA_TESTS_SIM_SIMTEST_H

#include "../check.h"
#include "cwsim.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T_MS 20000u /* Python's timeout after open (§1.3) */

static inline cwsim *t_sim(void)
{
    cwsim *sim = NULL;
    char err[256];
    if (cwsim_new(&sim, err, sizeof err) != 0) {
        fprintf(stderr, "cwsim_new: %s\n", err);
        exit(1);
    }
    return sim;
}

static inline cwsim_board *t_board(cwsim *sim, cwsim_kind kind)
{
    char err[256];
    cwsim_board *b = cwsim_board_add(sim, kind, NULL, err, sizeof err);
    if (b == NULL) {
        fprintf(stderr, "cwsim_board_add: %s\n", err);
        exit(1);
    }
    return b;
}

static inline int t_out(cwsim_board *b, uint8_t req, uint16_t val, const void *data, uint16_t len)
{
    uint8_t buf[1024];
    if (len > sizeof buf)
        return -100;
    if (len)
        memcpy(buf, data, len);
    return cwsim_board_control(b, 0x41, req, val, 0, buf, len, T_MS);
}

static inline int t_in(cwsim_board *b, uint8_t req, uint16_t val, void *data, uint16_t len)
{
    return cwsim_board_control(b, 0xC1, req, val, 0, data, len, T_MS);
}

static inline void t_hdr(uint8_t *h, uint32_t len, uint32_t addr)
{
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(len >> (8 * i));
        h[4 + i] = (uint8_t)(addr >> (8 * i));
    }
}

/* "read reg N (k)": ctrl OUT 0x12 with the header, then ctrl IN 0x12 wLength k */
static inline int t_rreg(cwsim_board *b, unsigned addr, uint8_t *out, uint16_t k)
{
    uint8_t h[8];
    t_hdr(h, k, addr);
    int r = t_out(b, 0x12, 0, h, 8);
    if (r != 8)
        return r;
    return t_in(b, 0x12, 0, out, k);
}

/* "write reg N <- bytes" with fewer than 48 bytes: one ctrl OUT 0x13 */
static inline int t_wreg(cwsim_board *b, unsigned addr, const uint8_t *v, uint16_t k)
{
    uint8_t buf[128];
    t_hdr(buf, k, addr);
    memcpy(buf + 8, v, k);
    return t_out(b, 0x13, 0, buf, (uint16_t)(8 + k));
}

static inline int t_wreg1(cwsim_board *b, unsigned addr, uint8_t v)
{
    return t_wreg(b, addr, &v, 1);
}

static inline uint8_t t_rreg1(cwsim_board *b, unsigned addr)
{
    uint8_t v = 0xEE;
    t_rreg(b, addr, &v, 1);
    return v;
}

static inline uint32_t t_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* USART: INIT (7 bytes) + ENABLE, as Python's USART.init */
static inline void t_uart_init(cwsim_board *b, uint32_t baud, uint8_t stop, uint8_t parity)
{
    uint8_t c[7] = {(uint8_t)baud,
                    (uint8_t)(baud >> 8),
                    (uint8_t)(baud >> 16),
                    (uint8_t)(baud >> 24),
                    stop,
                    parity,
                    8};
    t_out(b, 0x1B, 0x0010, c, 7);
    t_out(b, 0x1B, 0x0011, NULL, 0);
}

static inline uint32_t t_rx_waiting(cwsim_board *b)
{
    uint8_t c[4] = {0};
    if (t_in(b, 0x1B, 0x0014, c, 4) != 4)
        return 0xFFFFFFFFu;
    return t_le32(c);
}

static inline uint32_t t_tx_waiting(cwsim_board *b)
{
    uint8_t c[4] = {0};
    if (t_in(b, 0x1B, 0x0018, c, 4) != 4)
        return 0xFFFFFFFFu;
    return t_le32(c);
}

/* §6.1 rows 7-8: route TIO1 = serial RX, TIO2 = serial TX (the CW308 wiring) */
static inline void t_route_serial(cwsim_board *b)
{
    uint8_t io[8];
    t_rreg(b, 55, io, 8);
    io[0] = 0x02;
    io[1] = 0x01;
    t_wreg(b, 55, io, 8);
}

#endif
