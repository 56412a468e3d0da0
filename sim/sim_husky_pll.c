/* SPDX-License-Identifier: MIT */
/* libcwsim: the Husky's CDCI6214 clock PLL, a chip of its own on the board. The host reaches its
 * registers through the SAM's I2C bridge, ctrl 0x29 (sim_usb.c passes the requests here); the
 * FPGA's clocks and HS2 read its outputs (sim_fpga.c). Section numbers refer to
 * cw-usb-protocol.md: §4.9 (summary), §4.9.1 (the bridge), §4.9.2 (registers), §4.9.3 (lock). */
#include "sim_internal.h"

#include <string.h>

#define XTAL_HZ 12e6 /* §4.9.3: the Husky's crystal on XIN */
/* §4.9.3: the data sheet's tINIT, power-on to outputs released; taken as the time a reset or
 * recalibration pulse needs too (inferred; NewAE waits 100 ms after a reset) */
#define CAL_NS 5000000u
/* §4.9.3: the ranges NewAE's search keeps the loop in */
#define VCO_MIN 2.4e9
#define VCO_MAX 2.8e9
#define PFD_MIN 1e6
#define PFD_MAX 100e6

enum {
    R_GENERIC0 = 0x00,
    R_GENERIC1 = 0x01,
    R_STATUS1 = 0x07,
    R_INPUT1 = 0x1B,
    R_PLL0 = 0x1D,
    R_PLL1 = 0x1E,
};
#define G0_RESET 0x0004u /* §4.9.2 GENERIC0 bits 2, 4, 5: pulses (inferred: they clear */
#define G0_RECAL 0x0010u /* themselves, since Python writes 1 and never 0) */
#define G0_SYNC  0x0020u
#define S1_LOCK  0x0800u

/* §4.9.2: the data sheet's DEFAULT column (NewAE's `regs`), 0x00-0x46 */
static const uint16_t defaults[SIM_PLL_NREGS] = {
    0x0000, 0x6882, 0x0053, 0x0000, 0x0055, 0x0028, 0x0000, 0x0000, /* 0x00 */
    0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0xA037, /* 0x08 */
    0x921F, 0x26C4, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, /* 0x10 */
    0x0601, 0x0000, 0x0718, 0x0000, 0x0000, 0x400A, 0x5140, 0x1E72, /* 0x18 */
    0x0000, 0x0007, 0x0050, 0x8000, 0x0000, 0x0004, 0x0405, 0x0A65, /* 0x20 */
    0x0008, 0x8000, 0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x8000, /* 0x28 */
    0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x8000, 0x0000, 0x0004, /* 0x30 */
    0x0405, 0x0A65, 0x0008, 0x0009, 0x0010, 0x1000, 0x4210, 0x0210, /* 0x38 */
    0x000D, 0x0F34, 0x0000, 0x0020, 0x0000, 0x0000, 0x0000,         /* 0x40 */
};

/* Status registers (STATUS0-3, the stored EEPROM CRC) and the revision: the host cannot change
 * them (inferred from the data sheet's names for them, §4.9.2). */
static int read_only(unsigned addr)
{
    return (addr >= 0x06 && addr <= 0x0A) || addr == 0x18;
}

static uint64_t now_ns(const cwsim_board *b)
{
    return b->sim->now;
}

/* The loop's settings a calibration is for: the input select (0x01 bits 9:8), ip_rdiv and all
 * of PLL0 (PSFB and the feedback divider). */
static void loop_key(const sim_pll *p, uint16_t key[3])
{
    key[0] = (uint16_t)(p->reg[R_GENERIC1] & 0x0300u);
    key[1] = (uint16_t)(p->reg[R_INPUT1] & 0x00FFu);
    key[2] = p->reg[R_PLL0];
}

static void calibrate(cwsim_board *b)
{
    sim_pll *p = &b->pll;
    p->cal_end = now_ns(b) + CAL_NS;
    loop_key(p, p->cal_key);
    p->wake = p->cal_end; /* the chip's clock may appear then */
}

void husky_pll_power_up(cwsim_board *b)
{
    sim_pll *p = &b->pll;
    memset(p, 0, sizeof *p);
    /* The real chip loads an EEPROM page at power-on; which one the Husky's loads is
     * (unconfirmed), so the data sheet's defaults stand in for it (§4.9.2). */
    memcpy(p->reg, defaults, sizeof p->reg);
    calibrate(b); /* power-on: the chip starts its loop by itself (tINIT) */
}

/* §4.9.3: the reference is XIN unless register 0x01 selects REF (bit 9 = register selects,
 * bit 8 = REF). With bit 9 clear the REFSEL pin chooses; how the Husky straps it is
 * (unconfirmed): XIN here. REF is the FPGA's clock, which is not simulated (EXTCLK_HZ). */
static double ref_hz(const sim_pll *p)
{
    uint16_t g1 = p->reg[R_GENERIC1];
    return (g1 & 0x0200u) && (g1 & 0x0100u) ? EXTCLK_HZ : XTAL_HZ;
}

static double pfd_hz(const sim_pll *p)
{
    unsigned rdiv = p->reg[R_INPUT1] & 0xFFu;
    return rdiv == 0 ? ref_hz(p) * 2.0 : ref_hz(p) / rdiv; /* 0: the doubler */
}

/* 0 -> 4, 1 -> 5, 2 -> 6; 3 is not a documented code: 0 (no output, no lock) */
static unsigned prescale(unsigned code)
{
    return code < 3 ? 4u + code : 0u;
}

static double vco_hz(const sim_pll *p)
{
    unsigned psfb = prescale(p->reg[R_PLL0] >> 14);
    unsigned ndiv = p->reg[R_PLL0] & 0x3FFFu;
    return pfd_hz(p) * psfb * ndiv;
}

int husky_pll_locked(const cwsim_board *b)
{
    const sim_pll *p = &b->pll;
    if (sim_fault_on(b->sim, F_PLL_UNLOCKED)) /* contract.md §5 pll-unlocked */
        return 0;
    if (now_ns(b) < p->cal_end)
        return 0; /* still calibrating after power-up, a reset or a recalibration */
    uint16_t key[3];
    loop_key(p, key);
    if (memcmp(key, p->cal_key, sizeof key) != 0)
        return 0; /* the loop changed since: it needs a reset to lock again (§4.9.3) */
    double pfd = pfd_hz(p), vco = vco_hz(p);
    return pfd >= PFD_MIN && pfd <= PFD_MAX && vco >= VCO_MIN && vco <= VCO_MAX;
}

/* §4.9.2 CHn_CTRL2 (0x25 + 6 (n - 1)): bits 13:0 the output divider, 0 = off; bits 15:14 its
 * source: 0 prescaler A, 1 prescaler B, 3 the reference (bypass). A bypassed channel passes the
 * reference through its divider (inferred: Python sets divider 1 with it) and needs no lock;
 * the others give nothing while the PLL is unlocked (the chip holds its outputs until the loop
 * is up, inferred from tINIT). */
double husky_pll_hz(const cwsim_board *b, int channel)
{
    const sim_pll *p = &b->pll;
    if (channel < 1 || channel > 4)
        return 0.0;
    uint16_t ctrl2 = p->reg[0x25 + 6 * (channel - 1)];
    unsigned div = ctrl2 & 0x3FFFu, src = ctrl2 >> 14;
    if (div == 0)
        return 0.0;
    if (src == 3)
        return ref_hz(p) / div;
    if (src == 2 || !husky_pll_locked(b))
        return 0.0;
    unsigned pres = prescale((p->reg[R_PLL1] >> (src == 1 ? 2 : 0)) & 0x3u);
    if (pres == 0)
        return 0.0;
    return vco_hz(p) / pres / div;
}

/* One I2C register access: 0 when the chip acknowledges, -1 when it does not. */
static int pll_access(cwsim_board *b, int write, unsigned addr, uint16_t *value)
{
    sim_pll *p = &b->pll;
    /* Beyond 0x46 the data sheet has nothing; the chip is taken to refuse such addresses
     * (unconfirmed), which gives a host the firmware's "I2C failure" to see. */
    if (addr >= SIM_PLL_NREGS)
        return -1;
    if (!write) {
        uint16_t v = p->reg[addr];
        if (addr == R_STATUS1)
            v = (uint16_t)((v & ~S1_LOCK) | (husky_pll_locked(b) ? S1_LOCK : 0u));
        *value = v;
        return 0;
    }
    if (read_only(addr))
        return 0; /* acknowledged; the value stays */
    uint16_t v = *value;
    if (addr == R_GENERIC0) {
        p->reg[addr] = (uint16_t)(v & ~(G0_RESET | G0_RECAL | G0_SYNC));
        if (v & (G0_RESET | G0_RECAL))
            calibrate(b); /* the PLL drops out and locks again on the settings it has now */
        /* a sync restarts the dividers in step: no change of frequency to model */
        return 0;
    }
    p->reg[addr] = v;
    return 0;
}

/* §4.9.1: OUT 0x29. The firmware's callback ignores any length but 5 and then keeps its result;
 * otherwise byte 0 nonzero writes, and the result is [1 + ok, lo, hi], a write echoing its
 * data. (After a failed read the firmware's data bytes are undefined: 0 here.) */
void husky_pll_ctrl_out(cwsim_board *b, const uint8_t *d, uint16_t len)
{
    sim_pll *p = &b->pll;
    if (len != 5)
        return;
    unsigned addr = (unsigned)d[1] | (unsigned)d[2] << 8;
    uint16_t v = (uint16_t)(d[3] | d[4] << 8);
    int write = d[0] != 0;
    int ok = pll_access(b, write, addr, &v) == 0;
    if (!write && !ok)
        v = 0;
    p->result[0] = (uint8_t)(1 + ok);
    p->result[1] = (uint8_t)v;
    p->result[2] = (uint8_t)(v >> 8);
}

/* §4.9.1: IN 0x29 returns the result and clears all three bytes. */
void husky_pll_ctrl_in(cwsim_board *b, uint8_t resp[3])
{
    memcpy(resp, b->pll.result, 3);
    memset(b->pll.result, 0, 3);
}

/* The state §4.9.4's table gives for NewAE's default clock (7.37 MHz, ADC x4), with the loop
 * locked already: a board that a notebook set up before this run. */
void husky_pll_default_setup(cwsim_board *b)
{
    static const struct {
        uint8_t addr;
        uint16_t value;
    } image[] = {
        {0x00, 0x3000}, {0x01, 0x6A82}, {0x1B, 0x000B}, {0x1D, 0x41C6},
        {0x1E, 0x5140}, {0x25, 0x0054}, {0x31, 0x0015}, {0x32, 0x0005},
    };
    sim_pll *p = &b->pll;
    for (size_t i = 0; i < sizeof image / sizeof image[0]; i++)
        p->reg[image[i].addr] = image[i].value;
    loop_key(p, p->cal_key);
    p->cal_end = now_ns(b);
    p->wake = UINT64_MAX;
}
