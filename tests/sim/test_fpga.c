/* SPDX-License-Identifier: MIT */
/* libcwsim FPGA register tests: reset values (cw-usb-protocol.md §4.0), SETTINGS reset, the byte
 * counter and address decoding (§2.5), read-only and unimplemented registers, IOROUTE (§4.1),
 * the CLKGEN (§4.8), glitch (§4.6) and reconfiguration (§3.5) registers, the exact default_setup
 * traffic (§6.1), and the Pro and Husky differences (§4.9, §7.1). */
#include "simtest.h"

#include <math.h>

static void rmw6(cwsim_board *b, void (*f)(uint8_t *r))
{
    uint8_t r[4];
    t_rreg(b, 6, r, 4);
    f(r);
    t_wreg(b, 6, r, 4);
}

static int g_mul, g_div;
static void set_m_load(uint8_t *r)
{
    r[1] = (uint8_t)(g_mul - 1);
    r[3] |= 0x01;
}
static void set_d_load(uint8_t *r)
{
    r[2] = (uint8_t)(g_div - 1);
    r[3] |= 0x01;
}
static void load_off(uint8_t *r)
{
    r[3] &= (uint8_t)~0x01;
}
static void load_on(uint8_t *r)
{
    r[3] |= 0x01;
}
static void clkgen_rst_on(uint8_t *r)
{
    r[3] |= 0x04;
}
static void clkgen_rst_off(uint8_t *r)
{
    r[0] &= (uint8_t)~0x10;
    r[3] &= (uint8_t)~0x04;
}
static void adc_rst_on(uint8_t *r)
{
    r[0] |= 0x10;
}
static void adc_rst_off(uint8_t *r)
{
    r[0] &= (uint8_t)~0x10;
}
static void adc_src_clkgen_x4(uint8_t *r)
{
    r[0] &= (uint8_t)~0x07;
}

static void glitch_dcm_pulse(cwsim_board *b)
{
    uint8_t g[8];
    t_rreg(b, 51, g, 8);
    g[5] |= 0x02;
    t_wreg(b, 51, g, 8);
    g[5] &= (uint8_t)~0x02;
    t_wreg(b, 51, g, 8);
}

static void clkgen_reset(cwsim_board *b)
{
    rmw6(b, clkgen_rst_on);
    rmw6(b, clkgen_rst_off);
    rmw6(b, load_on);
    rmw6(b, load_off);
    glitch_dcm_pulse(b);
}

/* §4.8 register sequence for clkgen_freq = fin*mul/div */
static void set_clkgen(cwsim_board *b, int mul, int div)
{
    uint8_t r[4];
    g_mul = mul;
    g_div = div;
    t_rreg(b, 6, r, 4);
    rmw6(b, set_m_load);
    rmw6(b, load_off);
    rmw6(b, set_d_load);
    rmw6(b, load_off);
    clkgen_reset(b);
    clkgen_reset(b); /* reset_dcms(): CLKGEN reset again ... */
    rmw6(b, adc_rst_on);
    rmw6(b, adc_rst_off);
    glitch_dcm_pulse(b);
}

static double hs2(cwsim_board *b)
{
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    return v.clock_hz;
}

static void test_reset_values(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t r[16];
    CHECK_EQ_INT(t_rreg1(b, 0), 0x00);
    CHECK_EQ_INT(t_rreg1(b, 1), 0x00);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x02, 0x02); /* idle */
    CHECK_EQ_INT(t_rreg1(b, 4), 0x00);
    t_rreg(b, 6, r, 4);
    static const uint8_t adv[4] = {0xE2, 0x01, 0x00, 0x02}; /* 0x00000102 + RO bits */
    CHECK_MEM(r, adv, 4);
    t_rreg(b, 7, r, 4);
    CHECK_EQ_INT(t_le32(r), 96000000);
    static const uint8_t ver[6] = {0x01, 0x40, 0, 0, 0, 0};
    t_rreg(b, 10, r, 6);
    CHECK_MEM(r, ver, 6);
    static const uint8_t samples[4] = {0x7D, 0x5F, 0x00, 0x00};
    t_rreg(b, 16, r, 4);
    CHECK_MEM(r, samples, 4);
    t_rreg(b, 25, r, 4);
    CHECK_EQ_INT(t_le32(r), 0);
    t_rreg(b, 26, r, 4);
    CHECK_EQ_INT(t_le32(r), 0);
    CHECK_EQ_INT(t_rreg1(b, 38), 0x03);
    CHECK_EQ_INT(t_rreg1(b, 39), 0x20);
    CHECK_EQ_INT(t_rreg1(b, 40), 0x00);
    t_rreg(b, 51, r, 8);
    CHECK_EQ_INT(r[0] | r[1] | r[2] | r[3] | r[6] | r[7], 0);
    CHECK_EQ_INT(t_rreg1(b, 52), 0x00);
    static const uint8_t io[8] = {0x01, 0x02, 0, 0, 0, 0, 0, 0};
    t_rreg(b, 55, r, 8);
    CHECK_MEM(r, io, 8);
    t_rreg(b, 56, r, 8); /* Lite: no SUPPORT_GLITCH_READBACK */
    CHECK_EQ_INT(r[0] | r[7], 0);
    /* unimplemented addresses read 0, writes are ignored */
    CHECK_EQ_INT(t_rreg1(b, 30), 0x00);
    CHECK_EQ_INT(t_wreg1(b, 30, 0x55), 9);
    CHECK_EQ_INT(t_rreg1(b, 30), 0x00);
    /* read-only registers ignore writes */
    t_wreg1(b, 2, 0xFF);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0xF1, 0x00);
    uint8_t junk[6] = {9, 9, 9, 9, 9, 9};
    t_wreg(b, 10, junk, 6);
    t_rreg(b, 10, r, 6);
    CHECK_MEM(r, ver, 6);
    /* bytes beyond a register's length read 0 */
    t_rreg(b, 38, r, 4);
    CHECK(r[0] == 0x03 && r[1] == 0 && r[3] == 0);
    /* the byte counter: 2 of 8 bytes; a 1-byte write touches byte 0 only */
    CHECK_EQ_INT(t_rreg(b, 55, r, 2), 2);
    CHECK(r[0] == 0x01 && r[1] == 0x02);
    t_wreg1(b, 55, 0x80);
    t_rreg(b, 55, r, 8);
    CHECK(r[0] == 0x80 && r[1] == 0x02);
    /* 6-bit decoding on the Lite: 55 + 64 is 55 */
    CHECK_EQ_INT(t_rreg1(b, 55 + 64), 0x80);
    cwsim_free(sim);
}

static void test_settings_reset(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t r[8];
    static const uint8_t io[8] = {0x02, 0x01, 0x80, 0xC0, 0x03, 0x06, 0x15, 0x00};
    static const uint8_t g[8] = {1, 2, 3, 0, 0, 0x30, 7, 1};
    t_wreg(b, 55, io, 8);
    t_wreg(b, 51, g, 8);
    t_wreg1(b, 38, 0x43);
    t_wreg1(b, 39, 0x04);
    t_wreg1(b, 40, 0x01);
    t_wreg1(b, 52, 0x20);
    t_wreg1(b, 0, 0x1E);
    t_wreg1(b, 4, 0x99);
    uint8_t four[4] = {0x88, 0x13, 0, 0};
    t_wreg(b, 16, four, 4);
    t_wreg(b, 25, four, 4);
    t_wreg(b, 26, four, 4);
    t_wreg1(b, 1, 0x26);
    CHECK_EQ_INT(t_rreg1(b, 1), 0x26);
    t_wreg1(b, 1, 0x27); /* bit0: reset every block */
    CHECK_EQ_INT(t_rreg1(b, 1), 0x00);
    CHECK_EQ_INT(t_rreg1(b, 0), 0x00);
    CHECK_EQ_INT(t_rreg1(b, 4), 0x00);
    CHECK_EQ_INT(t_rreg1(b, 38), 0x03);
    CHECK_EQ_INT(t_rreg1(b, 39), 0x20);
    CHECK_EQ_INT(t_rreg1(b, 40), 0x00);
    CHECK_EQ_INT(t_rreg1(b, 52), 0x00);
    t_rreg(b, 55, r, 8);
    static const uint8_t io0[8] = {0x01, 0x02, 0, 0, 0, 0, 0, 0};
    CHECK_MEM(r, io0, 8);
    t_rreg(b, 51, r, 8);
    CHECK_EQ_INT(r[0] | r[1] | r[2] | r[5] | r[6] | r[7], 0);
    t_rreg(b, 16, r, 4);
    CHECK_EQ_INT(t_le32(r), 24445);
    t_rreg(b, 25, r, 4);
    CHECK_EQ_INT(t_le32(r), 0);
    t_rreg(b, 26, r, 4);
    CHECK_EQ_INT(t_le32(r), 0);
    cwsim_free(sim);
}

static void test_reconfig(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(t_wreg1(b, 52, 0x20), 9);
    CHECK_EQ_INT(t_rreg1(b, 52), 0x20);
    CHECK_EQ_INT(t_wreg1(b, 52, 0x00), 9);
    uint8_t frame[40];
    memset(frame, 0xA5, sizeof frame);
    frame[0] = 0x00;
    CHECK_EQ_INT(t_wreg(b, 52, frame, 40), 48);
    CHECK_EQ_INT(t_rreg1(b, 52), 0x00);
    CHECK_EQ_INT(t_wreg1(b, 52, 0x3A), 9); /* load pattern in bits 4..0 */
    CHECK_EQ_INT(t_rreg1(b, 52), 0x00);
    CHECK_EQ_INT(t_wreg1(b, 52, 0x1B), 9);
    CHECK_EQ_INT(t_rreg1(b, 52), 0x1B);
    cwsim_free(sim);
}

static void test_clkgen(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t r[4];
    CHECK(hs2(b) == 0.0); /* HS2 off at reset */
    t_wreg1(b, 38, 0x43);
    /* §4.8 examples at 96 MHz */
    static const struct {
        int mul, div;
        double hz;
    } ex[] = {{2, 26, 96e6 * 2 / 26}, {5, 48, 10e6}, {2, 12, 16e6},
              {2, 8, 24e6},           {2, 48, 4e6},  {25, 24, 100e6}};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        set_clkgen(b, ex[i].mul, ex[i].div);
        CHECK(fabs(hs2(b) - ex[i].hz) < 0.01);
        t_rreg(b, 6, r, 4);
        CHECK_EQ_INT(r[1], ex[i].mul - 1);
        CHECK_EQ_INT(r[2], ex[i].div - 1);
        CHECK_EQ_INT(r[0] & 0xE0, 0xE0); /* bit7 always, both DCMs locked */
        CHECK_EQ_INT(r[3] & 0x02, 0x02); /* DONE */
    }
    CHECK(fabs(hs2(b) - 100e6) < 0.01);
    /* 1 MHz: below the DCM range used here: not locked, no clock (§4.8 guidance) */
    set_clkgen(b, 2, 192);
    CHECK(hs2(b) == 0.0);
    t_rreg(b, 6, r, 4);
    CHECK_EQ_INT(r[0] & 0x20, 0);
    set_clkgen(b, 2, 26);
    /* the frequency counter (register 5) on CLKGEN: Hz = value x 96e6 / 2^23 */
    t_rreg(b, 6, r, 4);
    r[3] |= 0x08;
    t_wreg(b, 6, r, 4);
    t_rreg(b, 5, r, 4);
    CHECK(fabs(t_le32(r) * 96e6 / 8388608.0 - 96e6 * 2 / 26) < 12.0);
    t_rreg(b, 8, r, 4); /* ADC: x1 at reset (ADVCLOCK b0 = 0x02) */
    CHECK(fabs(t_le32(r) * 96e6 / 8388608.0 - 96e6 * 2 / 26) < 12.0);
    /* the reset bit holds the DCM: unlocked, DONE cleared, HS2 stops */
    rmw6(b, clkgen_rst_on);
    t_rreg(b, 6, r, 4);
    CHECK_EQ_INT(r[3] & 0x02, 0);
    CHECK_EQ_INT(r[0] & 0x20, 0);
    CHECK(hs2(b) == 0.0);
    rmw6(b, clkgen_rst_off);
    CHECK(hs2(b) == 0.0); /* needs a LOAD after the reset */
    rmw6(b, load_on);
    rmw6(b, load_off);
    CHECK(fabs(hs2(b) - 96e6 * 2 / 26) < 0.01);
    /* CLKGEN input = EXTCLK (HS1, not driven here): LOAD never completes */
    t_rreg(b, 6, r, 4);
    r[0] |= 0x08;
    t_wreg(b, 6, r, 4);
    rmw6(b, load_on);
    rmw6(b, load_off);
    t_rreg(b, 6, r, 4);
    CHECK_EQ_INT(r[3] & 0x02, 0);
    CHECK(hs2(b) == 0.0);
    cwsim_free(sim);
}

static void test_glitch_reg(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    cwsim_board_default_setup(b);
    uint8_t g[8] = {0x10, 0x20, 0x04, 0xFF, 0xFF, 0x00, 0x05, 0x01}; /* load phases, src CLKGEN */
    t_wreg(b, 51, g, 8);
    uint8_t r[8];
    t_rreg(b, 51, r, 8);
    CHECK_EQ_INT(r[2] & 0x04, 0);    /* load bit clears itself */
    CHECK_EQ_INT(r[0], 0x10);        /* offset fine phase */
    CHECK_EQ_INT(r[4] & 0x60, 0x60); /* bits 37/38 loaded */
    CHECK_EQ_INT(r[4] & 0x80, 0x80); /* bit 39 DCM1 locked */
    CHECK_EQ_INT(r[5] & 0x01, 0x01); /* bit 40 DCM2 locked */
    CHECK_EQ_INT(r[6], 0x05);
    g[2] = 0;
    g[5] = 0x02; /* glitch DCM reset: unlocked */
    t_wreg(b, 51, g, 8);
    t_rreg(b, 51, r, 8);
    CHECK_EQ_INT(r[4] & 0x80, 0);
    CHECK_EQ_INT(r[5] & 0x03, 0x02);
    /* HS2 = glitch output: the source clock passes with output type "clock XOR glitch" */
    g[5] = 0x00;
    t_wreg(b, 51, g, 8);
    t_wreg1(b, 38, 0x63);
    CHECK(fabs(hs2(b) - 96e6 * 2 / 26) < 0.01);
    g[5] = 0x20; /* glitch only */
    t_wreg(b, 51, g, 8);
    CHECK(hs2(b) == 0.0);
    cwsim_free(sim);
}

/* §6.1: default_setup() traffic, getters included, and the register image it leaves. */
static void test_default_setup(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t r[8], s;
    /* 1 gain.db = 25 */
    t_rreg1(b, 0);
    s = t_rreg1(b, 1);
    t_wreg1(b, 1, (uint8_t)(s | 0x02));
    t_wreg1(b, 0, 30);
    cwsim_advance_ns(sim, 100000000);
    /* 2 adc.samples = 5000 */
    t_rreg(b, 16, r, 4);
    t_rreg(b, 6, r, 4);
    uint8_t n5000[4] = {0x88, 0x13, 0, 0}, zero[4] = {0, 0, 0, 0};
    t_wreg(b, 16, n5000, 4);
    /* 3 adc.offset = 0 */
    t_rreg(b, 26, r, 4);
    t_wreg(b, 26, zero, 4);
    /* 4 adc.basic_mode = "rising_edge" */
    t_rreg1(b, 1);
    s = t_rreg1(b, 1);
    t_wreg1(b, 1, (uint8_t)((s & ~0x24) | 0x24));
    CHECK_EQ_INT(t_rreg1(b, 1), 0x26);
    /* 5 clock.clkgen_freq = 7.37e6: getter (source, SYSTEMCLK, M, D), then the setter */
    t_rreg(b, 6, r, 4);
    t_rreg(b, 7, r, 4);
    CHECK_EQ_INT(t_le32(r), 96000000);
    t_rreg(b, 6, r, 4);
    CHECK_EQ_INT(r[3] & 0x02, 0x02); /* DONE: no LOAD retries needed */
    t_rreg(b, 6, r, 4);
    set_clkgen(b, 2, 26);
    /* 6 trigger.triggers = "tio4" */
    t_rreg1(b, 39);
    t_wreg1(b, 39, 0x20);
    /* 7-9 io.tio1/tio2/tio4 */
    for (int k = 0; k < 3; k++) {
        t_rreg(b, 55, r, 8);
        t_rreg(b, 55, r, 8);
        if (k == 0)
            r[0] = 0x02;
        else if (k == 1)
            r[1] = 0x01;
        else
            r[3] = 0x00;
        t_wreg(b, 55, r, 8);
    }
    /* 10 io.hs2 = "clkgen" */
    t_rreg1(b, 38);
    s = t_rreg1(b, 38);
    CHECK_EQ_INT((s >> 5) & 3, 0); /* the getter accepts "disabled" (bits 6..5 = 00) */
    t_wreg1(b, 38, (uint8_t)((s & ~0x60) | 0x40));
    /* 11 clock.adc_src = "clkgen_x4" */
    t_rreg(b, 6, r, 4);
    rmw6(b, adc_src_clkgen_x4);
    rmw6(b, adc_rst_on);
    rmw6(b, adc_rst_off);
    glitch_dcm_pulse(b);
    /* 12 io.cdc_settings = 0 */
    CHECK_EQ_INT(t_in(b, 0x31, 0, r, 4), 4);
    CHECK_EQ_INT(t_out(b, 0x31, 0, NULL, 0), 0);
    /* 13 try_wait_clkgen_locked */
    t_rreg(b, 6, r, 4);
    CHECK_EQ_INT(r[0] & 0xA0, 0xA0);

    /* the image of §6.1 */
    CHECK_EQ_INT(t_rreg1(b, 0), 0x1E);
    CHECK_EQ_INT(t_rreg1(b, 1), 0x26);
    t_rreg(b, 16, r, 4);
    CHECK_EQ_INT(t_le32(r), 5000);
    t_rreg(b, 26, r, 4);
    CHECK_EQ_INT(t_le32(r), 0);
    static const uint8_t adv[4] = {0xE0, 0x01, 0x19, 0x02};
    t_rreg(b, 6, r, 4);
    CHECK_MEM(r, adv, 4);
    CHECK_EQ_INT(t_rreg1(b, 38), 0x43);
    CHECK_EQ_INT(t_rreg1(b, 39), 0x20);
    CHECK_EQ_INT(t_rreg1(b, 40), 0x00);
    static const uint8_t io[8] = {0x02, 0x01, 0, 0, 0, 0, 0, 0};
    t_rreg(b, 55, r, 8);
    CHECK_MEM(r, io, 8);
    CHECK(fabs(hs2(b) - 7384615.38) < 0.01);
    cwsim_counters c;
    cwsim_counters_get(sim, &c);
    CHECK_EQ_INT(c.stalls, 0);

    /* cwsim_board_default_setup() gives the same registers */
    cwsim_board *b2 = t_board(sim, CWSIM_CWLITE);
    cwsim_board_default_setup(b2);
    int same = 1;
    for (unsigned a = 0; a < 64; a++) {
        uint8_t x[16], y[16];
        if (a == 20)
            continue; /* TRIGGER_DUR counts the time the trigger input spent at its level */
        cwsim_board_fpga_peek(b, a, x, 16);
        cwsim_board_fpga_peek(b2, a, y, 16);
        if (memcmp(x, y, 16) != 0) {
            fprintf(stderr, "register %u differs\n", a);
            same = 0;
        }
    }
    CHECK(same);
    cwsim_free(sim);
}

static void test_pro(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CW1200);
    uint8_t r[16];
    t_rreg(b, 10, r, 6);
    CHECK(r[0] == 0x01 && r[1] == 0x48); /* HW type 9 */
    CHECK_EQ_INT(r[1] >> 3, 9);
    t_rreg(b, 16, r, 4);
    CHECK(t_le32(r) >= 45);
    memset(r, 0x5A, sizeof r);
    CHECK_EQ_INT(t_wreg(b, 56, r, 16), 24); /* GLITCH_RECONFIG_RB: write-only */
    t_rreg(b, 56, r, 16);
    CHECK_EQ_INT(r[0] | r[15], 0);
    uint8_t n[4] = {0x10, 0, 0, 0};
    CHECK_EQ_INT(t_out(b, 0x14, 0, n, 4), 4); /* streaming: accepted */
    CHECK_EQ_INT(t_in(b, 0x14, 0, r, 9), 9);
    CHECK_EQ_INT(t_in(b, 0x17, 0, r, 3), 3);
    CHECK(r[0] == 1 && r[1] == 62);
    CHECK_EQ_INT(t_in(b, 0x22, 0, r, 3), CWSIM_STALL); /* no SAM_ERR_LED on the Pro */
    cwsim_free(sim);
}

static void pll_write(cwsim_board *b, unsigned reg, unsigned v)
{
    uint8_t d[5] = {1, (uint8_t)reg, 0, (uint8_t)v, (uint8_t)(v >> 8)};
    uint8_t st[3];
    t_out(b, 0x29, 0, d, 5);
    t_in(b, 0x29, 0, st, 3);
    CHECK_EQ_INT(st[0], 2);
}

static void test_husky(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_HUSKY);
    uint8_t r[8];
    t_rreg(b, 10, r, 6);
    CHECK(r[0] == 0x02 && r[1] == 0x50); /* HW type 10 */
    CHECK_EQ_INT(t_rreg(b, 39, r, 2), 2);
    CHECK(r[0] == 0x20 && r[1] == 0x00);
    CHECK_EQ_INT(t_rreg(b, 59, r, 2), 2);
    t_rreg(b, 93, r, 4);
    CHECK(t_le32(r) > 0);
    /* 8-bit addresses: 55 + 64 is not 55 */
    CHECK_EQ_INT(t_rreg1(b, 55 + 64), 0x00);
    CHECK_EQ_INT(t_rreg1(b, 55), 0x01);
    CHECK_EQ_INT(t_rreg1(b, 52), 0x00); /* no partial reconfiguration */
    /* the CDCI6214 over 0x29: OUT 5 bytes, IN [status, lo, hi]; reading clears the status */
    uint8_t st[3];
    CHECK_EQ_INT(t_in(b, 0x29, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0);
    uint8_t bad[4] = {1, 0x25, 0, 84};
    CHECK_EQ_INT(t_out(b, 0x29, 0, bad, 4), 4); /* not 5 bytes: ignored */
    CHECK_EQ_INT(t_in(b, 0x29, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0);
    pll_write(b, 0x1B, 11);
    pll_write(b, 0x1D, 0x4000 | 454); /* PSFB 5 (bits 15:14 = 1), divider 454 */
    pll_write(b, 0x1E, 0x04);         /* prescaler A = 4 */
    pll_write(b, 0x25, 84);
    pll_write(b, 0x31, 21);
    pll_write(b, 0x00, 0x04); /* reset: the PLL locks 5 ms later (§4.9.3) */
    cwsim_advance_ns(sim, 5000000);
    uint8_t rd[5] = {0, 0x1D, 0, 0, 0};
    t_out(b, 0x29, 0, rd, 5);
    CHECK_EQ_INT(t_in(b, 0x29, 0, st, 3), 3);
    CHECK(st[0] == 2 && (st[1] | st[2] << 8) == (0x4000 | 454));
    CHECK_EQ_INT(t_in(b, 0x29, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0);
    rd[1] = 0x07; /* lock bit 11 */
    t_out(b, 0x29, 0, rd, 5);
    t_in(b, 0x29, 0, st, 3);
    CHECK_EQ_INT(st[2] & 0x08, 0x08);
    CHECK(hs2(b) == 0.0);
    t_wreg1(b, 38, 0x43);
    CHECK(fabs(hs2(b) - 12e6 / 11 * 5 * 454 / 4 / 84) < 0.01);
    CHECK(fabs(hs2(b) - 7370130) < 1.0);
    uint8_t one = 1;
    CHECK_EQ_INT(t_out(b, 0x27, 0, &one, 1), 1); /* fast SMC read timing */
    uint8_t seg[12] = {0};
    CHECK_EQ_INT(t_out(b, 0x14, 0, seg, 12), 12);
    /* default_setup on a fresh Husky */
    cwsim_board *h2 = t_board(sim, CWSIM_HUSKY);
    cwsim_board_default_setup(h2);
    CHECK(fabs(hs2(h2) - 7370130) < 1.0);
    CHECK_EQ_INT(t_rreg1(h2, 48), 0x03);
    cwsim_free(sim);
}

int main(void)
{
    test_reset_values();
    test_settings_reset();
    test_reconfig();
    test_clkgen();
    test_glitch_reg();
    test_default_setup();
    test_pro();
    test_husky();
    return check_report("sim_fpga");
}
