/* SPDX-License-Identifier: MIT */
/* libcwsim tests of the Husky's CDCI6214 PLL behind ctrl 0x29 (cw-usb-protocol.md §4.9): the
 * bridge's result protocol (§4.9.1), the register file and its power-up values (§4.9.2),
 * frequencies, lock, calibration time, reset, sync and the outputs (§4.9.3), NewAE's
 * sequence and the register image it leaves (§4.9.4), the Husky FPGA registers of the clock
 * (§4.9.5), the chip seeing the clock when the lock bit rises, and the pll-unlocked fault
 * (contract.md §5). */
#include "simtest.h"

#include <math.h>

#define MS_NS 1000000u

/* §4.9.2 DEFAULT column */
static const uint16_t defaults[0x47] = {
    0x0000, 0x6882, 0x0053, 0x0000, 0x0055, 0x0028, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0xA037, 0x921F, 0x26C4, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0601, 0x0000, 0x0718, 0x0000, 0x0000, 0x400A, 0x5140, 0x1E72, 0x0000, 0x0007, 0x0050, 0x8000,
    0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x8000, 0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x8000,
    0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x8000, 0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x0009,
    0x0010, 0x1000, 0x4210, 0x0210, 0x000D, 0x0F34, 0x0000, 0x0020, 0x0000, 0x0000, 0x0000};

/* One access as Python makes it: OUT 0x29 with 5 bytes, then IN 0x29 (3 bytes). Returns the
 * status; *value gets the data bytes. */
static int pll_xfer(cwsim_board *b, int write, unsigned addr, uint16_t *value)
{
    uint8_t d[5] = {(uint8_t)write, (uint8_t)addr, (uint8_t)(addr >> 8), (uint8_t)*value,
                    (uint8_t)(*value >> 8)};
    uint8_t r[3] = {0xEE, 0xEE, 0xEE};
    CHECK_EQ_INT(t_out(b, 0x29, 0, d, 5), 5);
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 3), 3);
    *value = (uint16_t)(r[1] | r[2] << 8);
    return r[0];
}

static uint16_t rd(cwsim_board *b, unsigned addr)
{
    uint16_t v = 0;
    CHECK_EQ_INT(pll_xfer(b, 0, addr, &v), 2);
    return v;
}

static void wr(cwsim_board *b, unsigned addr, unsigned value)
{
    uint16_t v = (uint16_t)value;
    CHECK_EQ_INT(pll_xfer(b, 1, addr, &v), 2);
    CHECK_EQ_INT(v, value); /* §4.9.1: a write echoes its data */
}

static void rmw(cwsim_board *b, unsigned addr, unsigned set, unsigned clear)
{
    wr(b, addr, (rd(b, addr) & ~clear) | set);
}

static int locked(cwsim_board *b)
{
    return (rd(b, 0x07) >> 11) & 1;
}

static double hs2(const cwsim_board *b)
{
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    return v.clock_hz;
}

/* §4.9.4 "when connecting" (older revisions): setup(), set_pll_input(xtal), outputs off */
static void python_connect(cwsim_board *b)
{
    rmw(b, 0x00, 0x3000, 0);
    rmw(b, 0x04, 0x0018, 0);
    rmw(b, 0x05, 0, 0x07F7);
    rmw(b, 0x32, 0x0001, 0x0400);
    rmw(b, 0x26, 0x0001, 0x0400);
    rmw(b, 0x33, 1, 1);
    rmw(b, 0x27, 1, 1);
    rmw(b, 0x2C, 0x0080, 0x001C);
    rmw(b, 0x38, 0x0080, 0x001C);
    rmw(b, 0x1A, 0x8B00, 0xFF03);
    rmw(b, 0x01, 0x0200, 0x0300);
    rmw(b, 0x02, 0, 0x000F);
    rmw(b, 0x01, 0, 0x0100);
    rmw(b, 0x1B, 3, 0xFF);
    rmw(b, 0x1D, 0x407D, 0xFFFF);
    rmw(b, 0x1E, 0, 0x0F);
    rmw(b, 0x31, 0, 0xFFFF);
    rmw(b, 0x32, 0x05, 0xFF);
    rmw(b, 0x25, 0, 0xFFFF);
}

/* §4.9.4 clkgen_freq = 7.37 MHz with adc_mul = 4 (d 11, mul 454, p 4, out 84 / 21), reset
 * and sync */
static void python_clock(cwsim_board *b)
{
    rmw(b, 0x1E, 0, 0x03);
    rmw(b, 0x1B, 11, 0xFF);
    rmw(b, 0x1D, 454, 0x3FFF);
    rmw(b, 0x25, 84, 0xFFFF);
    rmw(b, 0x31, 21, 0xFFFF);
    rmw(b, 0x32, 0x05, 0xFF);
    rmw(b, 0x00, 0x0004, 0);
}

static void test_bridge(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_HUSKY);
    uint8_t r[3] = {0xEE, 0xEE, 0xEE};
    /* nothing done yet */
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 3), 3);
    CHECK_MEM(r, "\0\0\0", 3);
    /* a read: [2][lo][hi]; the next IN finds all three cleared */
    uint8_t rd18[5] = {0, 0x18, 0, 0xAA, 0xBB};
    CHECK_EQ_INT(t_out(b, 0x29, 0, rd18, 5), 5);
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 3), 3);
    CHECK_MEM(r, "\x02\x01\x06", 3);
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 3), 3);
    CHECK_MEM(r, "\0\0\0", 3);
    /* any nonzero byte 0 writes, and the write echoes its data */
    uint8_t w[5] = {0x80, 0x12, 0, 0x34, 0x12};
    CHECK_EQ_INT(t_out(b, 0x29, 0, w, 5), 5);
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 3), 3);
    CHECK_MEM(r, "\x02\x34\x12", 3);
    CHECK_EQ_INT(rd(b, 0x12), 0x1234);
    /* a length other than 5 changes nothing, and the unread result stays */
    CHECK_EQ_INT(t_out(b, 0x29, 0, rd18, 5), 5);
    uint8_t w4[4] = {1, 0x12, 0, 0x99};
    CHECK_EQ_INT(t_out(b, 0x29, 0, w4, 4), 4);
    uint8_t w6[6] = {1, 0x12, 0, 0x99, 0x99, 0};
    CHECK_EQ_INT(t_out(b, 0x29, 0, w6, 6), 6);
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 3), 3);
    CHECK_MEM(r, "\x02\x01\x06", 3);
    CHECK_EQ_INT(rd(b, 0x12), 0x1234);
    /* each OUT overwrites an unread result */
    CHECK_EQ_INT(t_out(b, 0x29, 0, rd18, 5), 5);
    CHECK_EQ_INT(t_out(b, 0x29, 0, w, 5), 5);
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 3), 3);
    CHECK_MEM(r, "\x02\x34\x12", 3);
    /* beyond the register map: the chip does not answer, status 1 (a write still echoes) */
    uint16_t v = 0;
    CHECK_EQ_INT(pll_xfer(b, 0, 0x47, &v), 1);
    CHECK_EQ_INT(v, 0);
    v = 0x5678;
    CHECK_EQ_INT(pll_xfer(b, 1, 0x0100, &v), 1);
    CHECK_EQ_INT(v, 0x5678);
    CHECK_EQ_INT(pll_xfer(b, 0, 0x0100, &v), 1);
    /* wLength below 3 cannot take the reply */
    CHECK_EQ_INT(t_out(b, 0x29, 0, rd18, 5), 5);
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 2), CWSIM_OVERFLOW);
    /* a SAM reset forgets the result, not the chip's registers */
    CHECK_EQ_INT(t_out(b, 0x29, 0, rd18, 5), 5);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0010, NULL, 0), 0);
    cwsim_advance_ns(sim, 2000 * MS_NS);
    CHECK_EQ_INT(t_in(b, 0x29, 0, r, 3), 3);
    CHECK_MEM(r, "\0\0\0", 3);
    CHECK_EQ_INT(rd(b, 0x12), 0x1234);
    /* other boards have no 0x29 bridge */
    cwsim_board *lite = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(t_out(lite, 0x29, 0, rd18, 5), CWSIM_STALL);
    CHECK_EQ_INT(t_in(lite, 0x29, 0, r, 3), CWSIM_STALL);
    cwsim_free(sim);
}

static void test_registers(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_HUSKY);
    int same = 1;
    for (unsigned a = 0; a < 0x47; a++)
        same &= rd(b, a) == defaults[a];
    CHECK(same); /* the data sheet's defaults; with them the VCO is at 1.2 GHz: no lock */
    /* every register holds what is written, reserved ones included */
    int held = 1;
    for (unsigned a = 0; a < 0x47; a++) {
        if ((a >= 0x06 && a <= 0x0A) || a == 0x18 || a == 0x00)
            continue;
        wr(b, a, 0xA5C3 ^ a);
        held &= rd(b, a) == (0xA5C3 ^ a);
    }
    CHECK(held);
    /* status and revision registers keep their values */
    for (unsigned a = 0x06; a <= 0x0A; a++) {
        wr(b, a, 0xFFFF);
        CHECK_EQ_INT(rd(b, a) & ~0x0800u, 0);
    }
    wr(b, 0x18, 0x0000);
    CHECK_EQ_INT(rd(b, 0x18), 0x0601);
    /* GENERIC0: reset, recal and sync are pulses; the other bits stay */
    wr(b, 0x00, 0x3034);
    CHECK_EQ_INT(rd(b, 0x00), 0x3000);
    wr(b, 0x00, 0x0140);
    CHECK_EQ_INT(rd(b, 0x00), 0x0140);
    cwsim_free(sim);
}

static void test_lock(void)
{
    cwsim *sim = t_sim();
    cwsim_set_usb_latency_ns(sim, 0);
    cwsim_board *b = t_board(sim, CWSIM_HUSKY);
    t_wreg1(b, 38, 0x43); /* HS2 = clkgen: channel 1 */
    cwsim_advance_ns(sim, 10 * MS_NS);
    CHECK_EQ_INT(locked(b), 0); /* power-up values: VCO 1.2 GHz */
    CHECK(hs2(b) == 0.0);
    python_connect(b);
    cwsim_advance_ns(sim, 10 * MS_NS);
    CHECK_EQ_INT(locked(b), 0); /* 2.5 GHz now, but nothing reset the PLL since */
    wr(b, 0x00, rd(b, 0x00) | 0x0004);
    CHECK_EQ_INT(locked(b), 0);
    cwsim_advance_ns(sim, 4 * MS_NS);
    CHECK_EQ_INT(locked(b), 0); /* calibrating: 5 ms (§4.9.3) */
    cwsim_advance_ns(sim, 1 * MS_NS);
    CHECK_EQ_INT(locked(b), 1);
    CHECK(hs2(b) == 0.0); /* locked, but both outputs are off */
    python_clock(b);
    CHECK_EQ_INT(locked(b), 0);
    cwsim_advance_ns(sim, 5 * MS_NS);
    CHECK_EQ_INT(locked(b), 1);
    wr(b, 0x00, rd(b, 0x00) | 0x0020); /* sync: no change of lock or frequency */
    CHECK_EQ_INT(rd(b, 0x00), 0x3000);
    CHECK_EQ_INT(locked(b), 1);
    double target = 12e6 / 11 * 5 * 454 / 4 / 84;
    CHECK(fabs(hs2(b) - target) < 1e-6);
    CHECK(fabs(hs2(b) - 7370130) < 0.5);
    /* §4.9.4's register image */
    static const unsigned image[][2] = {{0x00, 0x3000}, {0x01, 0x6A82}, {0x1B, 0x000B},
                                        {0x1D, 0x41C6}, {0x1E, 0x5140}, {0x25, 0x0054},
                                        {0x31, 0x0015}, {0x32, 0x0005}};
    for (size_t i = 0; i < sizeof image / sizeof image[0]; i++)
        CHECK_EQ_INT(rd(b, image[i][0]), image[i][1]);
    /* the ADC counter (register 8): 29 480 519.5 Hz x 2^23 / 96 MHz */
    uint8_t c[4];
    CHECK_EQ_INT(t_rreg(b, 8, c, 4), 4);
    CHECK(fabs((double)t_le32(c) - target * 4 * 8388608.0 / 96e6) <= 1.0);
    /* register 5 counts the PLL clock with ADVCLOCK bit 27 */
    uint8_t adv[4];
    t_rreg(b, 6, adv, 4);
    adv[3] |= 0x08;
    t_wreg(b, 6, adv, 4);
    CHECK_EQ_INT(t_rreg(b, 5, c, 4), 4);
    CHECK(fabs((double)t_le32(c) - target * 8388608.0 / 96e6) <= 1.0);
    /* an output divider or a prescaler changes the frequency and keeps the lock */
    rmw(b, 0x25, 42, 0x3FFF);
    CHECK_EQ_INT(locked(b), 1);
    CHECK(fabs(hs2(b) - 2 * target) < 1e-6);
    rmw(b, 0x1E, 0x0004, 0); /* prescaler B /5: channel 1 still takes A */
    CHECK(fabs(hs2(b) - 2 * target) < 1e-6);
    rmw(b, 0x25, 0x4000, 0); /* channel 1 now from prescaler B */
    CHECK(fabs(hs2(b) - 2 * target * 4 / 5) < 1e-6);
    rmw(b, 0x25, 0xC000, 0x3FFF); /* bypass: the crystal, divider 0 = off */
    CHECK(hs2(b) == 0.0);
    rmw(b, 0x25, 1, 0);
    CHECK(fabs(hs2(b) - 12e6) < 1e-6);
    rmw(b, 0x25, 0x0054, 0xFFFF);
    rmw(b, 0x25, 0x8000, 0); /* source 2 is not a documented code: nothing */
    CHECK(hs2(b) == 0.0);
    rmw(b, 0x25, 0, 0xC000);
    CHECK(fabs(hs2(b) - target) < 1e-6);
    /* the loop's settings change: unlocked until the next reset */
    rmw(b, 0x1D, 455, 0x3FFF);
    cwsim_advance_ns(sim, 20 * MS_NS);
    CHECK_EQ_INT(locked(b), 0);
    CHECK(hs2(b) == 0.0);
    rmw(b, 0x1D, 454, 0x3FFF); /* back as it was calibrated: locked again */
    CHECK_EQ_INT(locked(b), 1);
    /* PSFB 4 (the raw 454 some host might write): VCO 1.98 GHz, never locks */
    wr(b, 0x1D, 454);
    rmw(b, 0x00, 0x0004, 0);
    cwsim_advance_ns(sim, 20 * MS_NS);
    CHECK_EQ_INT(locked(b), 0);
    /* the recalibration pulse relocks too */
    wr(b, 0x1D, 0x41C6);
    rmw(b, 0x00, 0x0010, 0);
    cwsim_advance_ns(sim, 5 * MS_NS);
    CHECK_EQ_INT(locked(b), 1);
    /* the PFD out of range (12 MHz / 200 = 60 kHz) */
    rmw(b, 0x1B, 200, 0xFF);
    rmw(b, 0x1D, 0x4000 | 4000, 0xFFFF); /* VCO 60 kHz x 5 x 4000 = 1.2 GHz, and ... */
    rmw(b, 0x00, 0x0004, 0);
    cwsim_advance_ns(sim, 10 * MS_NS);
    CHECK_EQ_INT(locked(b), 0);
    rmw(b, 0x1D, 0x4000 | 9000, 0xFFFF); /* ... 2.7 GHz: the VCO fits, the PFD does not */
    rmw(b, 0x00, 0x0004, 0);
    cwsim_advance_ns(sim, 10 * MS_NS);
    CHECK_EQ_INT(locked(b), 0);
    /* ip_rdiv 0 doubles: 24 MHz x 5 x 21 = 2.52 GHz */
    rmw(b, 0x1B, 0, 0xFF);
    rmw(b, 0x1D, 0x4000 | 21, 0xFFFF);
    rmw(b, 0x00, 0x0004, 0);
    cwsim_advance_ns(sim, 5 * MS_NS);
    CHECK_EQ_INT(locked(b), 1);
    CHECK(fabs(hs2(b) - 2.52e9 / 4 / 84) < 1e-3);
    /* the FPGA's clock as the reference: not simulated, so no lock */
    rmw(b, 0x01, 0x0100, 0);
    rmw(b, 0x00, 0x0004, 0);
    cwsim_advance_ns(sim, 10 * MS_NS);
    CHECK_EQ_INT(locked(b), 0);
    /* with bit 9 clear the REFSEL pin chooses: XIN here */
    rmw(b, 0x01, 0, 0x0200);
    rmw(b, 0x00, 0x0004, 0);
    cwsim_advance_ns(sim, 5 * MS_NS);
    CHECK_EQ_INT(locked(b), 1);
    /* STATUS (2) bit 3 follows the lock */
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x08, 0x08);
    cwsim_free(sim);
}

/* What the chip sees changes when the lock bit rises, not at the next USB request. */
typedef struct clock_log {
    double hz;
    uint64_t at;
    int calls;
} clock_log;

static void on_clock(void *ctx, double hz, uint64_t now_ns)
{
    clock_log *log = ctx;
    log->hz = hz;
    log->at = now_ns;
    log->calls++;
}

static void test_chip_sees_lock(void)
{
    cwsim *sim = t_sim();
    cwsim_set_usb_latency_ns(sim, 0);
    cwsim_board *b = t_board(sim, CWSIM_HUSKY);
    static const cwsim_target_ops ops = {.name = "clock-log",
                                         .uart_rx_pin = CWSIM_PIN_TIO2,
                                         .uart_tx_pin = CWSIM_PIN_TIO1,
                                         .clock = on_clock};
    clock_log log = {0};
    char err[200];
    CHECK_EQ_INT(cwsim_board_attach_target(b, &ops, &log, err, sizeof err), 0);
    t_wreg1(b, 38, 0x43);
    python_connect(b);
    python_clock(b);
    uint64_t reset_at = cwsim_now_ns(sim);
    CHECK(log.hz == 0.0);
    cwsim_advance_ns(sim, 50 * MS_NS); /* no requests in between */
    CHECK(fabs(log.hz - 7370130) < 0.5);
    CHECK_EQ_INT((long long)(log.at - reset_at), 5 * MS_NS);
    /* pll-unlocked: the clock goes, and no reset brings it back */
    CHECK_EQ_INT(cwsim_fault_set(sim, "pll-unlocked", NULL, err, sizeof err), 0);
    CHECK(log.hz == 0.0);
    CHECK_EQ_INT(locked(b), 0);
    rmw(b, 0x00, 0x0004, 0);
    cwsim_advance_ns(sim, 200 * MS_NS);
    CHECK_EQ_INT(locked(b), 0);
    CHECK(log.hz == 0.0);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x08, 0);
    CHECK_EQ_INT(cwsim_fault_clear(sim, "pll-unlocked"), 0);
    CHECK_EQ_INT(locked(b), 1);
    CHECK(fabs(log.hz - 7370130) < 0.5);
    /* a board created with the fault never locks either; default_setup does not help */
    CHECK_EQ_INT(cwsim_fault_set(sim, "pll-unlocked", NULL, err, sizeof err), 0);
    cwsim_board *h2 = t_board(sim, CWSIM_HUSKY);
    cwsim_board_default_setup(h2);
    CHECK_EQ_INT(locked(h2), 0);
    CHECK(hs2(h2) == 0.0);
    cwsim_free(sim);
}

/* §4.9.5 and §6.2: the FPGA side of the Husky's clock and set-up. */
static void test_fpga_regs(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_HUSKY);
    CHECK_EQ_INT(t_rreg1(b, 1), 0x24); /* SETTINGS: rising edge */
    CHECK_EQ_INT(t_wreg1(b, 48, 0xFF), 9);
    CHECK_EQ_INT(t_rreg1(b, 48), 0x03); /* CLKGEN_POWERDOWN: two bits */
    uint8_t z4[4] = {0, 0, 0, 0}, c[4];
    CHECK_EQ_INT(t_wreg(b, 82, z4, 4), 12); /* EXTCLK_MONITOR: a 4-byte limit ... */
    CHECK_EQ_INT(t_rreg(b, 82, c, 1), 1);   /* ... and a 1-byte change flag */
    CHECK_EQ_INT(c[0], 0);
    /* ADCFREQ: writable (the LED's error report), the counter unchanged */
    CHECK_EQ_INT(t_rreg(b, 8, c, 4), 4);
    uint32_t before = t_le32(c);
    CHECK_EQ_INT(t_wreg1(b, 8, 1), 9);
    CHECK_EQ_INT(t_wreg1(b, 8, 0), 9);
    CHECK_EQ_INT(t_rreg(b, 8, c, 4), 4);
    CHECK_EQ_INT(t_le32(c), before);
    /* the SETTINGS reset brings 0x24 back, and leaves the PLL alone */
    wr(b, 0x25, 0x0054);
    t_wreg1(b, 1, 0x25);
    CHECK_EQ_INT(t_rreg1(b, 1), 0x24);
    CHECK_EQ_INT(t_rreg1(b, 48), 0x00);
    CHECK_EQ_INT(rd(b, 0x25), 0x0054);
    /* default_setup: CLKGEN powered down, the PLL at 7.37 MHz x 4, locked */
    cwsim_board *h2 = t_board(sim, CWSIM_HUSKY);
    cwsim_board_default_setup(h2);
    CHECK_EQ_INT(t_rreg1(h2, 48), 0x03);
    CHECK_EQ_INT(locked(h2), 1);
    CHECK(fabs(hs2(h2) - 7370130) < 0.5);
    CHECK_EQ_INT(rd(h2, 0x1D), 0x41C6);
    cwsim_free(sim);
}

int main(void)
{
    test_bridge();
    test_registers();
    test_lock();
    test_chip_sees_lock();
    test_fpga_regs();
    return check_report("sim_pll");
}
