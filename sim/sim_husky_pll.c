/* SPDX-License-Identifier: MIT */
/* libcwsim: the Husky's CDCI6214 clock PLL, a part of its own on the board (the host reaches
 * its registers over I2C, sim_usb.c; the FPGA's clocks read its outputs, sim_fpga.c).
 * Documents: cw-usb-protocol.md §4.9 (Husky clock). */
#include "sim_internal.h"

#include <string.h>

void husky_pll_power_up(cwsim_board *b)
{
    /* CDCI6214 power-up values are (unconfirmed): input divider 1, feedback 42 (VCO 2.52 GHz
     * from the 12 MHz crystal), prescalers 5/5, output dividers 0 = off. */
    memset(b->pll, 0, sizeof b->pll);
    b->pll[0x1B] = 1;
    b->pll[0x1D] = 42;
    b->pll[0x1E] = 0x05; /* prescaler A and B = 5 (§4.9 "both start at 5") */
}

static double pll_vco_hz(const cwsim_board *b)
{
    double fin = (b->pll[0x01] & 0x0100) ? EXTCLK_HZ : 12e6; /* bit8: 0 crystal, 1 FPGA */
    unsigned d = b->pll[0x1B] & 0xFFu;
    double in = d == 0 ? fin * 2.0 : fin / d; /* input divider 0 means x2 */
    unsigned mul = b->pll[0x1D] & 0x3FFFu;
    return in * 5.0 * mul;
}

int husky_pll_locked(const cwsim_board *b)
{
    unsigned mul = b->pll[0x1D] & 0x3FFFu;
    if (b->pll[0x00] & 0x0004) /* reset/relock held */
        return 0;
    if (mul < 5)
        return 0;
    double vco = pll_vco_hz(b);
    return vco >= 2.4e9 && vco <= 2.8e9;
}

double husky_pll_hz(const cwsim_board *b, int channel)
{
    if (!husky_pll_locked(b))
        return 0.0;
    /* prescaler A (reg 0x1E bits 1:0): 0 = /4, 1 = /5, 2 = /6 (encoding inferred); Python
     * computes both outputs with A, so channel 1 uses A too (unconfirmed) */
    unsigned code = b->pll[0x1E] & 0x03u;
    double pres = code == 0 ? 4.0 : code == 1 ? 5.0 : 6.0;
    unsigned div = (channel == 1 ? b->pll[0x25] : b->pll[0x31]) & 0x3FFFu;
    if (div == 0)
        return 0.0; /* output off */
    return pll_vco_hz(b) / pres / div;
}
