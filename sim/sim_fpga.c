/* SPDX-License-Identifier: MIT */
/* libcwsim FPGA: the register file of the CW-Lite/Pro (and the Husky registers the document
 * names) addressed by (register, byte counter), its reset values, the CLKGEN DCM, the glitch
 * and reconfiguration registers and the bitstream configuration engine; the Husky's CDCI6214
 * PLL is sim_husky_pll.c. Documents: cw-usb-protocol.md §2.5 (register semantics), §3 (bitstream),
 * §4 (register map), §4.8 (clock generator), §4.9 (Husky clock), §6 (default_setup). */
#include "sim_internal.h"

#include <math.h>
#include <string.h>

#define SYSCLK_HZ 96000000.0 /* §4.0 SYSTEM_CLK = 96 000 000 (Lite; Pro/Husky unconfirmed) */

/* DCM limits used for the lock bits (§4.8 "simulator guidance (inferred)"): Python warns below
 * 3.2 MHz; the upper bound is the Spartan-6 DCM_CLKGEN CLKFX maximum (unconfirmed). */
#define DCM_MIN_HZ 3.2e6
#define DCM_MAX_HZ 375e6

enum { RW, RO, WO };

typedef struct reg_info {
    unsigned len;
    int access;
} reg_info;

static int is_husky(const cwsim_board *b)
{
    return b->kd->kind == CWSIM_HUSKY;
}

static int is_pro(const cwsim_board *b)
{
    return b->kd->kind == CWSIM_CW1200;
}

static unsigned reg_addr(const cwsim_board *b, unsigned addr)
{
    /* §2.5: the Lite/Pro decoder uses 6 bits (N and N + 64 reach the same register,
     * inferred from the HDL); Husky uses 8 */
    return b->kd->addr_bits == 6 ? addr & 0x3Fu : addr & 0xFFu;
}

/* §4.0 register summary. len 0: not implemented (reads 0, writes ignored). */
static reg_info reg_lookup(const cwsim_board *b, unsigned a)
{
    reg_info r = {0, RW};
    switch (a) {
    case 0:  /* GAIN */
    case 1:  /* SETTINGS */
    case 4:  /* ECHO */
    case 38: /* CW_EXTCLK */
    case 40: /* CW_TRIGMOD */
        r.len = 1;
        break;
    case 2: /* STATUS */
        r.len = 1;
        r.access = RO;
        break;
    case 3: /* ADCREAD: a stream, any length */
        r.len = 0xFFFFFFFFu;
        r.access = RO;
        break;
    case 5:  /* EXTFREQ */
    case 7:  /* SYSTEMCLK */
    case 20: /* TRIGGER_DUR */
        r.len = 4;
        r.access = RO;
        break;
    case 18: /* RETSAMPLES: Lite/Pro (the Husky's register map has none, §4.10.3) */
        if (!is_husky(b)) {
            r.len = 4;
            r.access = RO;
        }
        break;
    case 8: /* ADCFREQ: Husky also writable (§4.9) */
        r.len = 4;
        r.access = is_husky(b) ? RW : RO;
        break;
    case 6:  /* ADVCLOCK */
    case 16: /* SAMPLES */
    case 25: /* CLOCKGLITCH_OFFSET */
    case 26: /* OFFSET */
        r.len = 4;
        break;
    case 17: /* PRESAMPLES: Husky 2 */
        r.len = is_husky(b) ? 2 : 4;
        break;
    case 9:  /* PHASE */
    case 15: /* DECIMATE */
        r.len = 2;
        break;
    case 10: /* VERSION */
        r.len = 6;
        r.access = RO;
        break;
    case 39: /* CW_TRIGSRC: Husky 2 */
        r.len = is_husky(b) ? 2 : 1;
        break;
    case 51: /* CLOCKGLITCH_SETTINGS */
    case 55: /* CW_IOROUTE */
        r.len = 8;
        break;
    case 52: /* RECONFIG: Lite/Pro partial reconfiguration (§3.5) */
        if (!is_husky(b))
            r.len = 0xFFFFFFFFu;
        break;
    case 56: /* GLITCH_RECONFIG_RB: only CW1200 builds (SUPPORT_GLITCH_READBACK), 16 bytes */
        if (is_pro(b)) {
            r.len = 16;
            r.access = WO;
        }
        break;
    case 59: /* CW_IOREAD: Husky 2 bytes */
        r.len = is_husky(b) ? 2 : 1;
        r.access = RO;
        break;
    default:
        break;
    }
    if (r.len == 0 && is_husky(b)) {
        /* §4.0 Husky registers named by the document; lengths and reset values beyond what it
         * says are (unconfirmed) */
        switch (a) {
        case 11: /* FPGA_BUILDTIME_ADDR */
        case 93: /* MAX_SAMPLES_ADDR */
        case 94: /* MAX_SEGMENT_SAMPLES_ADDR */
            r.len = 4;
            r.access = RO;
            break;
        case 89: /* CAPTURE_DONE (§4.10.3) */
            r.len = 1;
            r.access = RO;
            break;
        case 28: /* RESET */
        case 29: /* ADC_LOW_RES: 8-bit read-out (§4.10.3) */
        case 36: /* FAST_FIFO_READ_MODE */
        case 37: /* CW_AUX_IO */
        case 48: /* CLKGEN_POWERDOWN (§4.9.5: bits 1:0) */
        case 49: /* CLOCKGLITCH_POWERDOWN */
        case 61: /* CW_VMAG_CTRL */
            r.len = 1;
            break;
        case 82: /* EXTCLK_MONITOR: a 4-byte limit written, a change flag read (§4.9.5) */
            r.len = 4;
            break;
        case 91: /* SOFTPOWER_CONTROL: 8 bytes (§4.1) */
            r.len = 8;
            break;
        default:
            break;
        }
    }
    return r;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Capture depths (§4.10.4): SAMPLES resets to the FIFO's limit, MAX_SAMPLES - 128 on the
 * Lite/Pro (MAX_SAMPLES 24 573 in cwlite.in, 98 307 in cw1200.in) and MAX_SAMPLES itself on the
 * Husky (131 124 in its setup.v), which MAX_SAMPLES_ADDR (93) also reads; 94 reads
 * MAX_SEGMENT_SAMPLES (98 352). */
#define HUSKY_MAX_SAMPLES         131124u
#define HUSKY_MAX_SEGMENT_SAMPLES 98352u
static uint32_t samples_reset(const cwsim_board *b)
{
    switch (b->kd->kind) {
    case CWSIM_CW1200:
        return 98307u - 128u;
    case CWSIM_HUSKY:
        return HUSKY_MAX_SAMPLES;
    default:
        return 24573u - 128u; /* 24 445 = 7D 5F 00 00 */
    }
}

/* The reset values of §4.0 (Lite HDL) for every block; SETTINGS bit0 returns all of them
 * (SETTINGS included) to these values. */
void fpga_regs_reset(cwsim_board *b)
{
    sim_fpga *f = &b->fpga;
    memset(f->reg, 0, sizeof f->reg);
    f->reg[6][0] = 0x02; /* ADVCLOCK 0x00000102 */
    f->reg[6][1] = 0x01;
    put32(f->reg[16], samples_reset(b));
    f->reg[38][0] = 0x03; /* CW_EXTCLK: EXTCLK source HS1, HS2 off (§4.3) */
    f->reg[39][0] = 0x20; /* CW_TRIGSRC: TIO4, OR (DISABLE_FPA_IN builds, Husky too) */
    f->reg[55][0] = 0x01; /* CW_IOROUTE 0x..0201: TIO1 = TX, TIO2 = RX (unconfirmed that the */
    f->reg[55][1] = 0x02; /* shipped bitstreams match the source, §4.1) */
    if (is_husky(b)) {
        f->reg[1][0] = 0x24; /* §4.9.5: SETTINGS resets to a rising-edge trigger */
        put32(f->reg[93], HUSKY_MAX_SAMPLES);
        put32(f->reg[94], HUSKY_MAX_SEGMENT_SAMPLES);
        f->reg[49][0] = 0x01; /* glitch MMCMs powered down by default (§4.6; value unconfirmed) */
        put32(f->reg[82], 9); /* §4.9.5: the external clock monitor's limit */
    }
    adc_reset(b); /* the capture logic restarts with the registers */
}

void fpga_power_up(cwsim_board *b, int configured)
{
    sim_fpga *f = &b->fpga;
    memset(f, 0, sizeof *f);
    f->prog_hz = 10000000;
    if (is_husky(b))
        husky_pll_power_up(b);
    if (!b->kd->has_fpga)
        return;
    f->done = configured;
    fpga_regs_reset(b);
    /* The DCM starts with the M/D of register 6's reset value (M = 2, D = 1); its real
     * power-up attributes are (unconfirmed). */
    f->dcm_mul = 2;
    f->dcm_div = 1;
    f->dcm_done = 1;
}

void fpga_unconfigure(cwsim_board *b)
{
    sim_fpga *f = &b->fpga;
    adc_reset(b);
    f->done = 0;
    f->synced = 0;
    f->shift = 0;
    f->after_sync = 0;
    f->ff_run = 0;
}

/* ---- clocks (§4.8, §4.9) ------------------------------------------------------------------ */

static double clkgen_in_hz(const cwsim_board *b)
{
    return (b->fpga.reg[6][0] & 0x08) ? EXTCLK_HZ : SYSCLK_HZ; /* b0 bit3 CLKGEN input */
}

int fpga_clkgen_locked(const cwsim_board *b)
{
    const sim_fpga *f = &b->fpga;
    if (is_husky(b))
        return husky_pll_locked(b);
    if (!f->dcm_done || (f->reg[6][3] & 0x04) || f->dcm_mul < 2 || clkgen_in_hz(b) <= 0)
        return 0;
    double hz = clkgen_in_hz(b) * f->dcm_mul / f->dcm_div;
    return hz >= DCM_MIN_HZ && hz <= DCM_MAX_HZ;
}

double fpga_clkgen_hz(const cwsim_board *b)
{
    if (is_husky(b))
        return husky_pll_hz(b, 1);
    if (!fpga_clkgen_locked(b))
        return 0.0;
    return clkgen_in_hz(b) * b->fpga.dcm_mul / b->fpga.dcm_div;
}

static double adc_dcm_in_hz(const cwsim_board *b)
{
    return (b->fpga.reg[6][0] & 0x04) ? EXTCLK_HZ : fpga_clkgen_hz(b); /* b0 bit2 */
}

static int adc_locked(const cwsim_board *b)
{
    if (b->fpga.reg[6][0] & 0x10) /* b0 bit4 ADC DCM reset */
        return 0;
    double in = adc_dcm_in_hz(b);
    return in >= DCM_MIN_HZ && in <= DCM_MAX_HZ;
}

double fpga_adc_hz(const cwsim_board *b)
{
    if (is_husky(b))
        return husky_pll_hz(b, 3);
    uint8_t b0 = b->fpga.reg[6][0];
    if (b0 & 0x01) /* EXTCLK direct */
        return EXTCLK_HZ;
    if (!adc_locked(b))
        return 0.0;
    return adc_dcm_in_hz(b) * ((b0 & 0x02) ? 1.0 : 4.0);
}

/* The glitch module output on HS2 with bits 6..5 of register 38 = 11 (§4.6): its source clock
 * (byte7 bits 1..0: 0 HS1, 1 CLKGEN, Husky 2 PLL) passes when the output type (byte5 bits
 * 6..4) includes the clock and no glitch is inserted (inferred). */
static double glitch_out_hz(const cwsim_board *b)
{
    const uint8_t *g = b->fpga.reg[51];
    unsigned src = g[7] & 0x03u;
    double hz = src == 0 ? EXTCLK_HZ : fpga_clkgen_hz(b);
    unsigned type = (g[5] >> 4) & 0x07u;
    if (type == 0 || type == 1 || type == 3)
        return hz;
    return 0.0;
}

double board_hs2_hz(const cwsim_board *b)
{
    if (b->kd->kind == CWSIM_NANO) /* §7.2: PCK2 = 240 MHz / div, 0 = off */
        return b->nano_clkdiv ? 240e6 / b->nano_clkdiv : 0.0;
    if (!b->fpga.done)
        return 0.0;
    switch ((b->fpga.reg[38][0] >> 5) & 0x03u) { /* §4.3 bits 6..5 */
    case 2:
        return fpga_clkgen_hz(b);
    case 3:
        return glitch_out_hz(b);
    default:
        return 0.0; /* 00 off (high-Z per HDL); 01 is not a mode Python writes */
    }
}

/* ---- register access through the bus (§2.5) ------------------------------------------------ */

void fpga_latch(cwsim_board *b, unsigned addr)
{
    b->fpga.addr = reg_addr(b, addr); /* the SAM drives the low address bits and pulses ALE */
    b->fpga.bytecnt = 0;              /* ALE resets the byte counter */
}

static uint32_t freq_count(double hz)
{
    /* §4.0 register 5/8: Hz = value x SYSCLK / 2^23 */
    return (uint32_t)llround(hz * 8388608.0 / SYSCLK_HZ);
}

/* The trigger module's input (§4.4): the TRIGSRC pins combined by its mode, through the basic
 * module (TRIGMOD 0). The other modules (IO pattern, SAD, decode...) are not simulated: they
 * never fire. */
int fpga_trigger_input(const cwsim_board *b)
{
    if ((b->fpga.reg[40][0] & 0x07) != 0)
        return 0;
    uint8_t t = b->fpga.reg[39][0];
    static const cwsim_pin pins[5] = {CWSIM_PIN_NRST, CWSIM_PIN_TIO1, CWSIM_PIN_TIO2,
                                      CWSIM_PIN_TIO3, CWSIM_PIN_TIO4};
    int any = 0, all = 1, n = 0;
    for (int i = 0; i < 5; i++) {
        if (t & (1u << (i + 1))) {
            int hi = wiring_pin_level(b, pins[i]) == CWSIM_HIGH;
            any |= hi;
            all &= hi;
            n++;
        }
    }
    if (n == 0)
        return 0;
    switch (t >> 6) { /* §4.4: 00 OR, 01 AND, 10 NAND */
    case 1:
        return all;
    case 2:
        return !all;
    default:
        return any;
    }
}

static uint8_t computed_byte(const cwsim_board *b, unsigned a, unsigned i)
{
    const sim_fpga *f = &b->fpga;
    uint8_t tmp[8];
    switch (a) {
    case 2: /* STATUS (§4.10.1): bit0 armed, bit1 not capturing, bit2 the trigger input, bit3
               the ADC clock locked (Lite/Pro DCM; Husky PLL, as at HUSKYHDL's pinned revision) */
        return (uint8_t)(adc_status(b) | (fpga_trigger_input(b) ? 0x04 : 0) |
                         ((is_husky(b) ? husky_pll_locked(b) : adc_locked(b)) ? 0x08 : 0));
    case 3: /* ADC FIFO read-out (§4.10) */
        return adc_peek_byte(b, i);
    case 18: {
        put32(tmp, adc_retsamples(b));
        return tmp[i];
    }
    case 20: {
        put32(tmp, adc_trigger_dur(b));
        return tmp[i];
    }
    case 89:
        return b->adc.done_flag ? 1 : 0;
    case 5: {
        double hz = (f->reg[6][3] & 0x08) ? fpga_clkgen_hz(b) : EXTCLK_HZ; /* b3 bit3 source */
        put32(tmp, freq_count(hz));
        return tmp[i];
    }
    case 7:
        put32(tmp, (uint32_t)SYSCLK_HZ);
        return tmp[i];
    case 8:
        put32(tmp, freq_count(fpga_adc_hz(b)));
        return tmp[i];
    case 10: { /* VERSION: byte0 register version, byte1 [7:3] HW type, [2:0] revision */
        static const uint8_t lite[2] = {0x01, 8 << 3}, pro[2] = {0x01, 9 << 3},
                             husky[2] = {0x02, 10 << 3};
        const uint8_t *v = is_husky(b) ? husky
                           : is_pro(b) ? pro
                                       : lite; /* Pro reg version 1:
                                                 (unconfirmed) */
        return i < 2 ? v[i] : 0;
    }
    case 59: { /* CW_IOREAD (§4.2) */
        unsigned w = 0;
        static const cwsim_pin order[10] = {
            CWSIM_PIN_TIO1, CWSIM_PIN_TIO2, CWSIM_PIN_TIO3, CWSIM_PIN_TIO4, CWSIM_PIN_MOSI,
            CWSIM_PIN_MISO, CWSIM_PIN_PDIC, CWSIM_PIN_PDID, CWSIM_PIN_NRST, CWSIM_PIN_SCK};
        unsigned n = is_husky(b) ? 10u : 4u;
        for (unsigned k = 0; k < n; k++)
            if (wiring_pin_level(b, order[k]) == CWSIM_HIGH)
                w |= 1u << k;
        return (uint8_t)(w >> (8 * i));
    }
    case 6: { /* ADVCLOCK: b0 bits 7..5 and b3 bit1 are read-only (§4.8) */
        uint8_t v = f->reg[6][i];
        if (is_husky(b))
            return v;
        if (i == 0) {
            v = (uint8_t)((v & 0x1F) | 0x80);
            if (fpga_clkgen_locked(b))
                v |= 0x20;
            if (adc_locked(b))
                v |= 0x40;
        } else if (i == 3) {
            v = (uint8_t)(v & ~0x02);
            if (f->dcm_done && !(f->reg[6][3] & 0x04))
                v |= 0x02;
        }
        return v;
    }
    case 51: { /* CLOCKGLITCH_SETTINGS: bits 36..19 phases read back, 37/38 loaded, 39/40 DCMs
                  locked (RO); bit41 = glitch DCM reset */
        uint64_t w = 0;
        for (int k = 0; k < 8; k++)
            w |= (uint64_t)f->reg[51][k] << (8 * k);
        uint64_t locked = 0;
        if (!(w & (1ull << 41)) && (((w >> 56) & 3u) == 0 ? EXTCLK_HZ : fpga_clkgen_hz(b)) > 0)
            locked = 3; /* bits 39, 40 */
        w = (w & ~(3ull << 39)) | (locked << 39);
        return (uint8_t)(w >> (8 * i));
    }
    case 82: /* Husky EXTCLK_MONITOR reads the change flag at every byte (§4.9.5): no external
                clock is simulated, so it never changes */
        return 0;
    case 52: /* RECONFIG: reads back the last byte written at index 0 */
        return i == 0 ? f->reg[52][0] : 0;
    case 56: /* write-only */
        return 0;
    default:
        return f->reg[a][i];
    }
}

uint8_t fpga_peek_byte(const cwsim_board *b, unsigned addr, unsigned idx)
{
    if (!b->kd->has_fpga)
        return 0;
    if (!b->fpga.done)
        return 0xFF; /* §8: undriven bus with pull-ups, probably 0xFF (unconfirmed) */
    unsigned a = reg_addr(b, addr);
    reg_info r = reg_lookup(b, a);
    if (r.len == 0 || idx >= r.len)
        return 0; /* §2.5: unimplemented addresses read 0x00 (unconfirmed on hardware) */
    if (a == 3)
        return adc_peek_byte(b, idx);
    if (idx >= SIM_REG_BYTES)
        return 0;
    return computed_byte(b, a, idx);
}

uint8_t fpga_read_byte(cwsim_board *b)
{
    if (b->kd->has_fpga && b->fpga.done && b->fpga.addr == 3)
        return adc_read_byte(b, b->fpga.bytecnt++); /* reading takes bytes out of the FIFO */
    uint8_t v = fpga_peek_byte(b, b->fpga.addr, b->fpga.bytecnt);
    b->fpga.bytecnt++;
    return v;
}

static void write_advclock(cwsim_board *b, unsigned i, uint8_t v)
{
    sim_fpga *f = &b->fpga;
    uint8_t old = f->reg[6][i];
    f->reg[6][i] = v;
    if (is_husky(b) || i != 3)
        return;
    if (v & 0x04) /* CLKGEN DCM reset clears DONE */
        f->dcm_done = 0;
    if (!(old & 0x01) && (v & 0x01)) {
        /* LOAD rising edge: reprogram M/D from bytes 1/2; DONE is cleared and set again when
         * the DCM has taken them, which needs a running input clock and no reset (§4.8). */
        f->dcm_done = 0;
        if (!(v & 0x04) && clkgen_in_hz(b) > 0) {
            f->dcm_mul = f->reg[6][1] + 1u;
            f->dcm_div = f->reg[6][2] + 1u;
            f->dcm_done = 1;
        }
    }
}

static void write_glitch(cwsim_board *b, unsigned i, uint8_t v)
{
    /* writable: bits 0..18 and 41..63; bit18 (load phases) clears itself */
    static const uint8_t wmask[8] = {0xFF, 0xFF, 0x07, 0x00, 0x00, 0xFE, 0xFF, 0xFF};
    uint8_t *r = b->fpga.reg[51];
    r[i] = (uint8_t)((r[i] & ~wmask[i]) | (v & wmask[i]));
    if (i == 2 && (v & 0x04)) {
        /* load: copy the fine phases (bits 17..0) to the read-back field (bits 36..19) and set
         * the loaded flags 37/38 */
        uint64_t w = 0;
        for (int k = 0; k < 8; k++)
            w |= (uint64_t)r[k] << (8 * k);
        w &= ~(1ull << 18);
        w = (w & ~(0x3FFFFull << 19)) | ((w & 0x3FFFFu) << 19) | (3ull << 37);
        for (int k = 0; k < 8; k++)
            r[k] = (uint8_t)(w >> (8 * k));
    }
}

void fpga_write_byte(cwsim_board *b, uint8_t v)
{
    sim_fpga *f = &b->fpga;
    unsigned a = f->addr, i = f->bytecnt++;
    if (!b->kd->has_fpga || !f->done)
        return; /* §8: writes to an unconfigured FPGA are lost */
    reg_info r = reg_lookup(b, a);
    if (r.len == 0 || r.access == RO)
        return; /* §2.5: writes to read-only or unknown registers are ignored */
    if (a == 52) {
        if (i == 0)
            f->reg[52][0] = (v & 0x1F) == 0x1A ? 0 : v; /* load pattern: frame consumed, 0 */
        else
            f->pr_bytes++;
        return;
    }
    if (i >= r.len || i >= SIM_REG_BYTES)
        return;
    switch (a) {
    case 1:
        if (v & 0x01) {
            fpga_regs_reset(b); /* §4.0: SETTINGS bit0 resets every block, itself included */
            return;
        }
        f->reg[1][0] = v;
        adc_update(b); /* arming, disarming, trigger-now, the trigger's level or edge */
        return;
    case 29: /* Husky ADC_LOW_RES: two bits */
        f->reg[29][0] = v & 0x03;
        return;
    case 6:
        write_advclock(b, i, v);
        return;
    case 8: /* Husky: any byte's bit 0 turns the "ADC" LED's PLL error report off (§4.9.5);
               the counter itself is read-only */
        f->reg[8][0] = v & 0x01;
        return;
    case 48: /* Husky CLKGEN_POWERDOWN: two bits (§4.9.5) */
        f->reg[48][0] = v & 0x03;
        return;
    case 51:
        write_glitch(b, i, v);
        return;
    default:
        f->reg[a][i] = v;
        if (a == 39 || a == 40 || a == 55)
            adc_update(b); /* the trigger's source, module or pin routing */
        return;
    }
}

/* ---- bitstream (§3) --------------------------------------------------------------------- */

/* 0x16/0xA0 drives PROGRAM_B low: the FPGA is erased and held; 0xA1 releases it and the
 * configuration logic waits for the sync word. */
void fpga_program_b(cwsim_board *b, int low)
{
    sim_fpga *f = &b->fpga;
    if (low)
        fpga_unconfigure(b);
    f->program_b_low = low;
    f->synced = 0;
    f->shift = 0;
    f->after_sync = 0;
    f->ff_run = 0;
}

/* One byte clocked into the FPGA's serial configuration port. DONE rises only after a
 * well-formed stream: the sync word AA 99 55 66, then at least as many bytes as the board's
 * bundled bitstream carries after it (uncompressed bitstreams for one part have one size,
 * inferred), then the trailing 0xFF padding Python appends ("extra CCLKs", §3.2); 4 bytes
 * (32 CCLKs) of it are enough here. */
void fpga_config_byte(cwsim_board *b, uint8_t v)
{
    sim_fpga *f = &b->fpga;
    if (f->done || f->program_b_low)
        return;
    if (!f->synced) {
        f->shift = (f->shift << 8) | v;
        if (f->shift == 0xAA995566u) {
            f->synced = 1;
            f->after_sync = 0;
            f->ff_run = 0;
        }
        return;
    }
    if (f->after_sync < b->kd->bitstream_payload) {
        f->after_sync++;
        return;
    }
    if (v != 0xFF) {
        f->ff_run = 0;
        return;
    }
    if (++f->ff_run >= 4) {
        f->done = 1; /* configured: every register at its reset value */
        fpga_regs_reset(b);
        f->dcm_mul = 2;
        f->dcm_div = 1;
        f->dcm_done = 1;
    }
}

/* ---- canned states ----------------------------------------------------------------------- */

/* §6.1 (Lite/Pro) register image after default_setup(); §6.2 Husky (the PLL at 7.37 MHz x4);
 * §6.3 Nano. */
void board_default_setup(cwsim_board *b)
{
    sim_fpga *f = &b->fpga;
    if (b->kd->kind == CWSIM_NANO) {
        b->nano_clkdiv = 32; /* 7.5 MHz */
        b->nano_adc[0] = 32;
        b->nano_adc[4] = 1;
        b->nano_samples = 5000;
        memset(b->nano_glitch + 4, 0, 4);
        return;
    }
    if (!f->done)
        return;
    f->reg[0][0] = 0x1E; /* gain 25 dB, high mode */
    f->reg[1][0] = 0x26;
    if (is_husky(b)) {
        /* §6.2 step 1 / §4.7: the Husky's formula gives GAIN 22 and its high mode lives in
         * CW_VMAG_CTRL, so SETTINGS keeps its reset value's rising edge */
        f->reg[0][0] = 22;
        f->reg[61][0] = 0x1F;
        f->reg[1][0] = 0x24;
    }
    put32(f->reg[16], 5000);
    put32(f->reg[26], 0);
    f->reg[38][0] = 0x43; /* HS2 = clkgen */
    f->reg[39][0] = 0x20; /* TIO4, OR */
    f->reg[39][1] = 0x00;
    f->reg[40][0] = 0x00;
    f->reg[55][0] = 0x02; /* TIO1 = serial RX */
    f->reg[55][1] = 0x01; /* TIO2 = serial TX */
    f->reg[55][3] = 0x00; /* TIO4 = high-Z; TIO3, bytes 4..7 untouched */
    if (is_husky(b)) {
        f->reg[48][0] = 0x03;       /* CLKGEN_POWERDOWN: the PLL is used (§6.2) */
        put32(f->reg[82], 0);       /* the external clock monitor off */
        husky_pll_default_setup(b); /* §4.9.4: 7 370 130 Hz, ADC x4, locked */
        return;
    }
    f->reg[6][0] = 0x00; /* clkgen_x4 */
    f->reg[6][1] = 0x01; /* M - 1 */
    f->reg[6][2] = 0x19; /* D - 1 */
    f->reg[6][3] = 0x00;
    f->dcm_mul = 2;
    f->dcm_div = 26;
    f->dcm_done = 1;
}

/* contract.md §5 glitch-active: a notebook left the glitch outputs on: both MOSFETs follow the
 * glitch module (IOROUTE byte4 = HP|LP) and HS2 carries the glitch output (register 38 bits
 * 6..5 = 11) with CLKGEN as the glitch clock source. The Nano has no such state. */
void board_glitch_active(cwsim_board *b)
{
    sim_fpga *f = &b->fpga;
    if (!b->kd->has_fpga || !f->done)
        return;
    f->reg[55][4] |= 0x03;
    f->reg[38][0] = (uint8_t)((f->reg[38][0] & ~0x60) | 0x60);
    f->reg[51][7] = (uint8_t)((f->reg[51][7] & ~0x03) | 0x01);
}
