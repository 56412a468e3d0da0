/* SPDX-License-Identifier: MIT */
/* husky_client.c - a libusb-1.0 client of a CW-Husky written from docs/reference alone, run
 * under cwlua-sim-attach against the simulated board. It walks what NewAE's library does,
 * request by request: the connect sequence (cw-usb-protocol.md §1, §3.5, §3.6 B.1-B.2, the PLL's
 * part of §4.9.4), the default set-up (§6.2, with the clock of §4.9.4) and its check that the
 * PLL locked (§4.9.3), checking what each answer must be; then it programs the target chip
 * and reads it back:
 *
 *   cwlua-sim-attach husky:stm32f1 -- husky_client stm32       AN3155 over the USART bridge
 *   cwlua-sim-attach husky:atmega328p -- husky_client avr      ISP through the V2 engine
 *   cwlua-sim-attach husky:atxmega128d4 -- husky_client xmega  PDI through the XPROG engine
 *   cwlua-sim-attach --sim-fault pll-unlocked husky:atmega328p -- husky_client unlocked
 *
 * "unlocked" expects the PLL never to lock (contract.md §5 pll-unlocked): the lock wait fails
 * as NewAE's would, and the AVR, without a clock, does not answer.
 *
 * A few checks test choices the simulator made where the reference leaves the hardware open
 * (the chip's power-up values, a register address beyond the map); they say so. Prints
 * "husky_client: N passed, N failed" last (tests/check.h). Section numbers refer to
 * cw-usb-protocol.md unless they name target-protocols.md. */
#include "check.h"

#include <libusb.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VID       0x2B3E /* §1.1 */
#define PID_HUSKY 0xACE5
#define EP_IN     0x85 /* §1.2: the Husky's vendor bulk endpoints */
#define EP_OUT    0x06
#define CTRL_IN   0xC1 /* §0 conventions */
#define CTRL_OUT  0x41
#define TIMEOUT   2000 /* ms; a simulated board answers at once */

/* §2.3 requests */
enum {
    REQ_READ_CTRL = 0x12,
    REQ_WRITE_CTRL = 0x13,
    REQ_FPGA_STATUS = 0x15,
    REQ_FW_VERSION = 0x17,
    REQ_USART_DATA = 0x1A,
    REQ_USART_CFG = 0x1B,
    REQ_AVR = 0x21,
    REQ_PLL = 0x29,
    REQ_CDC = 0x31,
};

/* §4.0, §4.9.5 FPGA registers */
enum {
    R_GAIN = 0,
    R_SETTINGS = 1,
    R_EXTFREQ = 5,
    R_ADVCLOCK = 6,
    R_SYSTEMCLK = 7,
    R_ADCFREQ = 8,
    R_VERSION = 10,
    R_SAMPLES = 16,
    R_OFFSET = 26,
    R_EXTCLK = 38,
    R_TRIGSRC = 39,
    R_CLKGEN_POWERDOWN = 48,
    R_IOROUTE = 55,
    R_VMAG = 61,
    R_EXTCLK_MONITOR = 82,
    R_MAX_SAMPLES = 93,
    R_MAX_SEGMENT_SAMPLES = 94,
};

static libusb_device_handle *h;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    usleep((useconds_t)(s * 1e6));
}

static int ctrl_out(uint8_t req, uint16_t value, const void *data, uint16_t len)
{
    uint8_t buf[128];
    if (len > sizeof buf)
        return LIBUSB_ERROR_INVALID_PARAM;
    if (len)
        memcpy(buf, data, len);
    return libusb_control_transfer(h, CTRL_OUT, req, value, 0, buf, len, TIMEOUT);
}

static int ctrl_in(uint8_t req, uint16_t value, void *data, uint16_t len)
{
    return libusb_control_transfer(h, CTRL_IN, req, value, 0, data, len, TIMEOUT);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- FPGA registers (§2.5): reads and writes shorter than 48 bytes -------------------------- */

static void header(uint8_t h8[8], uint32_t len, uint32_t addr)
{
    for (int i = 0; i < 4; i++) {
        h8[i] = (uint8_t)(len >> (8 * i));
        h8[4 + i] = (uint8_t)(addr >> (8 * i));
    }
}

static void reg_read(unsigned addr, uint8_t *out, uint16_t n)
{
    uint8_t h8[8];
    header(h8, n, addr);
    CHECK_EQ_INT(ctrl_out(REQ_READ_CTRL, 0, h8, 8), 8);
    CHECK_EQ_INT(ctrl_in(REQ_READ_CTRL, 0, out, n), n);
}

static uint8_t reg_read1(unsigned addr)
{
    uint8_t v = 0xEE;
    reg_read(addr, &v, 1);
    return v;
}

static uint32_t reg_read4(unsigned addr)
{
    uint8_t v[4] = {0};
    reg_read(addr, v, 4);
    return le32(v);
}

static void reg_write(unsigned addr, const uint8_t *v, uint16_t n)
{
    uint8_t m[8 + 40];
    header(m, n, addr);
    memcpy(m + 8, v, n);
    CHECK_EQ_INT(ctrl_out(REQ_WRITE_CTRL, 0, m, (uint16_t)(8 + n)), 8 + n);
}

static void reg_write1(unsigned addr, uint8_t v)
{
    reg_write(addr, &v, 1);
}

static void reg_write4(unsigned addr, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    reg_write(addr, b, 4);
}

/* ---- the CDCI6214 through ctrl 0x29 (§4.9.1) ------------------------------------------------- */

static int pll_errors; /* accesses whose status was not 2 */

/* OUT [rw][addr lo][addr hi][data lo][data hi], then IN [status][lo][hi]. */
static int pll_xfer(int write, unsigned addr, uint16_t *value)
{
    uint8_t d[5] = {(uint8_t)(write ? 1 : 0), (uint8_t)addr, (uint8_t)(addr >> 8), (uint8_t)*value,
                    (uint8_t)(*value >> 8)};
    uint8_t r[3] = {0xEE, 0xEE, 0xEE};
    if (ctrl_out(REQ_PLL, 0, d, 5) != 5 || ctrl_in(REQ_PLL, 0, r, 3) != 3)
        return -1;
    *value = (uint16_t)(r[1] | r[2] << 8);
    return r[0];
}

static uint16_t pll_read(unsigned addr)
{
    uint16_t v = 0;
    if (pll_xfer(0, addr, &v) != 2)
        pll_errors++;
    return v;
}

static void pll_write(unsigned addr, unsigned value)
{
    uint16_t v = (uint16_t)value;
    if (pll_xfer(1, addr, &v) != 2 || v != value) /* a write echoes its data */
        pll_errors++;
}

/* Python's update_reg: read, clear, set, write (§4.9.4) */
static void pll_rmw(unsigned addr, unsigned set, unsigned clear)
{
    pll_write(addr, (pll_read(addr) & ~clear) | set);
}

static int pll_locked(void)
{
    return (pll_read(0x07) >> 11) & 1; /* STATUS1 bit 11 (§4.9.2) */
}

/* reset(): GENERIC0 bit 2, then the 0.1 s NewAE waits (§4.9.3) */
static void pll_reset(void)
{
    pll_rmw(0x00, 0x0004, 0);
    sleep_s(0.1);
}

/* the Husky class wraps each clock change in ADCFREQ <- [1] ... [0] (§4.9.4, §4.9.5) */
static void adc_error_report(int on)
{
    reg_write1(R_ADCFREQ, on ? 0 : 1);
}

/* ---- 1. discovery and identity (§1) --------------------------------------------------------- */

static libusb_device *find_husky(libusb_context *ctx)
{
    libusb_device **list, *found = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor d;
        if (libusb_get_device_descriptor(list[i], &d) == 0 && d.idVendor == VID &&
            d.idProduct == PID_HUSKY && found == NULL)
            found = libusb_ref_device(list[i]);
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    return found;
}

static int identity(libusb_device *dev)
{
    struct libusb_device_descriptor d;
    CHECK_EQ_INT(libusb_get_device_descriptor(dev, &d), 0);
    CHECK_EQ_INT(d.bcdDevice, 0x0900);                             /* §1.1 */
    CHECK_EQ_INT(libusb_get_device_speed(dev), LIBUSB_SPEED_HIGH); /* §1.1 */
    CHECK_EQ_INT(libusb_get_max_packet_size(dev, EP_IN), 512);
    CHECK_EQ_INT(libusb_get_max_packet_size(dev, EP_OUT), 512);
    /* §1.2: interface 0 is the vendor interface with bulk 0x85 / 0x06; CDC on 1 and 2 */
    struct libusb_config_descriptor *cfg = NULL;
    CHECK_EQ_INT(libusb_get_active_config_descriptor(dev, &cfg), 0);
    if (cfg != NULL) {
        CHECK_EQ_INT(cfg->bNumInterfaces, 3);
        const struct libusb_interface_descriptor *v = &cfg->interface[0].altsetting[0];
        CHECK_EQ_INT(v->bInterfaceClass, 0xFF);
        int in = 0, out = 0;
        for (int e = 0; e < v->bNumEndpoints; e++) {
            in |= v->endpoint[e].bEndpointAddress == EP_IN;
            out |= v->endpoint[e].bEndpointAddress == EP_OUT;
        }
        CHECK(in && out);
        int cdc_data = 0, cdc_notify = 0;
        for (int i = 1; i < cfg->bNumInterfaces; i++) {
            const struct libusb_interface_descriptor *c = &cfg->interface[i].altsetting[0];
            for (int e = 0; e < c->bNumEndpoints; e++) {
                uint8_t a = c->endpoint[e].bEndpointAddress;
                cdc_data += a == 0x81 || a == 0x02;
                cdc_notify += a == 0x83;
            }
        }
        CHECK_EQ_INT(cdc_data, 2);
        CHECK_EQ_INT(cdc_notify, 1);
        libusb_free_config_descriptor(cfg);
    }
    CHECK_EQ_INT(libusb_open(dev, &h), 0);
    if (h == NULL)
        return -1;
    unsigned char s[64] = {0};
    CHECK(libusb_get_string_descriptor_ascii(h, d.iProduct, s, sizeof s) > 0);
    CHECK(strcmp((char *)s, "ChipWhisperer Husky") == 0); /* §1.1, §3.6 A.1 */
    memset(s, 0, sizeof s);
    CHECK(libusb_get_string_descriptor_ascii(h, d.iManufacturer, s, sizeof s) > 0);
    CHECK(strcmp((char *)s, "NewAE Technology Inc.") == 0);
    CHECK(libusb_get_string_descriptor_ascii(h, d.iSerialNumber, s, sizeof s) > 0);
    CHECK_EQ_INT(libusb_claim_interface(h, 0), 0); /* §1.3 step 5 */
    return 0;
}

/* ---- 2. connect (§3.6 B.1-B.2, §3.5, §4.9.4 "when connecting") ------------------------------ */

/* §4.9.2: the data sheet's DEFAULT column. The simulator powers up with it; the real chip's
 * power-up values are (unconfirmed) in the reference. */
static const uint16_t pll_defaults[0x47] = {
    0x0000, 0x6882, 0x0053, 0x0000, 0x0055, 0x0028, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0000, 0x0000, 0x0000, 0xA037, 0x921F, 0x26C4, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000,
    0x0601, 0x0000, 0x0718, 0x0000, 0x0000, 0x400A, 0x5140, 0x1E72, 0x0000, 0x0007, 0x0050, 0x8000,
    0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x8000, 0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x8000,
    0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x8000, 0x0000, 0x0004, 0x0405, 0x0A65, 0x0008, 0x0009,
    0x0010, 0x1000, 0x4210, 0x0210, 0x000D, 0x0F34, 0x0000, 0x0020, 0x0000, 0x0000, 0x0000};

static void usart_init(uint32_t baud, uint8_t parity)
{
    /* §5.1 INIT: baud u32 LE, stop-bit index, parity index, data bits; then ENABLE */
    uint8_t cfg[7] = {(uint8_t)baud,
                      (uint8_t)(baud >> 8),
                      (uint8_t)(baud >> 16),
                      (uint8_t)(baud >> 24),
                      0,
                      parity,
                      8};
    CHECK_EQ_INT(ctrl_out(REQ_USART_CFG, 0x0010, cfg, 7), 7);
    CHECK_EQ_INT(ctrl_out(REQ_USART_CFG, 0x0011, NULL, 0), 0);
}

static void connect(void)
{
    uint8_t v[8];
    CHECK_EQ_INT(ctrl_in(REQ_FW_VERSION, 0, v, 3), 3);  /* B.1 */
    CHECK_MEM(v, "\x01\x05\x00", 3);                    /* §1.1: Husky 1.5 */
    CHECK_EQ_INT(ctrl_in(REQ_FPGA_STATUS, 0, v, 4), 4); /* B.2 */
    CHECK_EQ_INT(v[0] & 1, 1); /* contract.md §5: the simulated board starts configured */

    /* §3.5 steps 1-3, the Husky's way */
    CHECK_EQ_INT(reg_read1(R_SETTINGS), 0x24); /* §4.9.5: its reset value */
    reg_read(R_VERSION, v, 6);
    CHECK_EQ_INT(v[1] >> 3, 10);  /* hardware type 10: Husky */
    CHECK_EQ_INT(v[0] & 0x0F, 2); /* register-map version 2 (§4.0) */
    uint8_t s = reg_read1(R_SETTINGS);
    reg_write1(R_SETTINGS, (uint8_t)(s | 1));
    uint32_t max = reg_read4(R_MAX_SAMPLES);
    uint32_t seg = reg_read4(R_MAX_SEGMENT_SAMPLES);
    CHECK(max > 0 && seg > 0);
    reg_write4(R_SAMPLES, max);
    CHECK_EQ_INT(reg_read4(R_SAMPLES), max);
    s = reg_read1(R_SETTINGS);
    reg_write1(R_SETTINGS, (uint8_t)(s & ~1u));
    CHECK_EQ_INT(reg_read1(R_SETTINGS), 0x24);

    /* §4.9.1: nothing done yet, all three bytes 0 */
    uint8_t r[3] = {0xEE, 0xEE, 0xEE};
    CHECK_EQ_INT(ctrl_in(REQ_PLL, 0, r, 3), 3);
    CHECK_MEM(r, "\0\0\0", 3);
    /* newer NewAE revisions read all 71 PLL registers first (§4.9.2) */
    int same = 1;
    for (unsigned a = 0; a < 0x47; a++) {
        uint16_t x = pll_read(a);
        if (a != 0x07)
            same &= x == pll_defaults[a];
    }
    CHECK(same); /* the simulator's power-up values: the DEFAULT column */
    CHECK_EQ_INT(pll_errors, 0);
    CHECK_EQ_INT(pll_read(0x18) & 0x0F, 1); /* the revision the firmware checks (§4.9.1) */
    /* the result is cleared by the IN that reads it */
    CHECK_EQ_INT(ctrl_in(REQ_PLL, 0, r, 3), 3);
    CHECK_MEM(r, "\0\0\0", 3);

    /* §4.9.4 when connecting: setup(), set_pll_input(xtal), both outputs off */
    pll_rmw(0x00, 0x3000, 0);
    pll_rmw(0x04, 0x0018, 0);
    pll_rmw(0x05, 0, 0x07F7);
    pll_rmw(0x32, 0x0001, 0x0400);
    pll_rmw(0x26, 0x0001, 0x0400);
    pll_rmw(0x33, 1, 1);
    pll_rmw(0x27, 1, 1);
    pll_rmw(0x2C, 0x0080, 0x001C);
    pll_rmw(0x38, 0x0080, 0x001C);
    pll_rmw(0x1A, 0x8B00, 0xFF03);
    pll_rmw(0x01, 0x0200, 0x0300);
    pll_rmw(0x02, 0, 0x000F);
    pll_rmw(0x01, 0, 0x0100);
    pll_rmw(0x1B, 3, 0xFF);
    pll_rmw(0x1D, 0x407D, 0xFFFF); /* PSFB 5, divider 125: 2.5 GHz */
    pll_rmw(0x1E, 0, 0x0F);
    pll_rmw(0x31, 0, 0xFFFF);
    pll_rmw(0x32, 0x05, 0xFF);
    pll_rmw(0x25, 0, 0xFFFF);
    CHECK_EQ_INT(pll_errors, 0);
    CHECK_EQ_INT(pll_read(0x1A), 0x8B18);
    CHECK_EQ_INT(pll_read(0x05), 0x0008); /* bit 3 is not among those cleared */
    /* no reset was sent: the loop changed since the chip last calibrated (§4.9.3) */
    sleep_s(0.02);
    CHECK_EQ_INT(pll_locked(), 0);

    /* §3.5 step 5: the USART at 115200 8N1 */
    usart_init(115200, 0);
}

/* ---- 3. default set-up (§6.2 with §4.9.4) --------------------------------------------------- */

/* clkgen_freq = 7.37 MHz, adc_mul = 4: d 11, mul 454, p 4, out 84 / 21 (§4.9, §4.9.4) */
static void clock_7_37(int expect_reset)
{
    adc_error_report(0);
    pll_rmw(0x1E, 0, 0x03);
    int relock = (pll_read(0x1B) & 0xFF) != 11 || (pll_read(0x1D) & 0x3FFF) != 454;
    pll_rmw(0x1B, 11, 0xFF);
    pll_rmw(0x1D, 454, 0x3FFF);
    pll_rmw(0x25, 84, 0xFFFF);
    pll_rmw(0x31, 21, 0xFFFF);
    pll_rmw(0x32, 0x05, 0xFF);
    CHECK_EQ_INT(relock, expect_reset);
    if (relock || !pll_locked())
        pll_reset();
    pll_rmw(0x00, 0x0020, 0); /* sync */
    adc_error_report(1);
}

static void default_setup(int expect_lock)
{
    /* 6.1.1 gain.db = 25 (§4.7, Husky): high mode in CW_VMAG_CTRL, g = round(10 / 50 x 109) */
    reg_read1(R_GAIN);
    reg_write1(R_VMAG, 0x1F);
    reg_write1(R_GAIN, 22);
    CHECK_EQ_INT(reg_read1(R_VMAG), 0x1F);
    CHECK_EQ_INT(reg_read1(R_GAIN), 22);
    /* 6.1.2-6.1.4 */
    reg_write4(R_SAMPLES, 5000);
    reg_write4(R_OFFSET, 0);
    uint8_t s = reg_read1(R_SETTINGS);
    reg_write1(R_SETTINGS, (uint8_t)((s & ~0x24u) | 0x24u));
    CHECK_EQ_INT(reg_read4(R_SAMPLES), 5000);
    CHECK_EQ_INT(reg_read4(R_OFFSET), 0);
    CHECK_EQ_INT(reg_read1(R_SETTINGS), 0x24);

    /* 6.1.5 clkgen_freq: the loop changes, so NewAE resets the PLL (§4.9.3) */
    clock_7_37(1);

    /* 6.1.6 triggers = "tio4", 2 bytes on the Husky (§6.2) */
    uint8_t t[2] = {0x20, 0x00}, tb[2];
    reg_write(R_TRIGSRC, t, 2);
    reg_read(R_TRIGSRC, tb, 2);
    CHECK_MEM(tb, t, 2);
    /* 6.1.7-6.1.9 IOROUTE: TIO1 = RX, TIO2 = TX, TIO4 high-Z (§4.1) */
    uint8_t io[8];
    reg_read(R_IOROUTE, io, 8);
    CHECK_MEM(io, "\x01\x02\x00\x00\x00\x00\x00\x00", 8); /* the reset value */
    io[0] = 0x02;
    io[1] = 0x01;
    io[3] = 0x00;
    reg_write(R_IOROUTE, io, 8);
    reg_read(R_IOROUTE, io, 8);
    CHECK_MEM(io, "\x02\x01\x00\x00\x00\x00\x00\x00", 8);
    /* 6.1.10 hs2 = "clkgen" (§4.3) */
    uint8_t x = reg_read1(R_EXTCLK);
    CHECK_EQ_INT(x, 0x03);
    reg_write1(R_EXTCLK, (uint8_t)((x & ~0x60u) | 0x40u));
    CHECK_EQ_INT(reg_read1(R_EXTCLK), 0x43);

    /* clkgen_src = "system": the crystal, CLKGEN_POWERDOWN 3, the monitor off (§6.2) */
    adc_error_report(0);
    pll_rmw(0x01, 0, 0x0100);
    reg_write1(R_CLKGEN_POWERDOWN, 3);
    uint8_t zero4[4] = {0, 0, 0, 0};
    reg_write(R_EXTCLK_MONITOR, zero4, 4);
    adc_error_report(1);
    CHECK_EQ_INT(reg_read1(R_CLKGEN_POWERDOWN), 0x03); /* §4.9.5: two bits */
    CHECK_EQ_INT(reg_read1(R_EXTCLK_MONITOR), 0);      /* §4.9.5: the change flag */
    /* clkgen_freq once more: nothing in the loop changes, so no reset if it is locked */
    clock_7_37(0);
    /* adc_mul = 4: the ADC divider only (§4.9) */
    adc_error_report(0);
    pll_rmw(0x31, 21, 0x3FFF);
    adc_error_report(1);
    /* 6.1.12 cdc_settings = 0 */
    uint8_t c4[4];
    CHECK_EQ_INT(ctrl_in(REQ_CDC, 0, c4, 4), 4);
    CHECK_EQ_INT(ctrl_out(REQ_CDC, 0, NULL, 0), 0);
    CHECK_EQ_INT(pll_errors, 0);

    /* try_wait_clkgen_locked(10): poll the lock bit, reset between polls (§4.9.3) */
    int polls = 0, lock = 0;
    while (polls < 10 && !(lock = pll_locked())) {
        pll_reset();
        polls++;
    }
    CHECK_EQ_INT(lock, expect_lock);
    if (!expect_lock) {
        CHECK_EQ_INT(polls, 10);
        CHECK_EQ_INT(reg_read4(R_ADCFREQ), 0); /* no ADC clock */
        return;
    }
    CHECK_EQ_INT(polls, 0); /* the reset of 6.1.5 was enough */

    /* §4.9.4: the register image of the default clock */
    static const unsigned image[][2] = {{0x00, 0x3000}, {0x01, 0x6A82}, {0x1B, 0x000B},
                                        {0x1D, 0x41C6}, {0x1E, 0x5140}, {0x25, 0x0054},
                                        {0x31, 0x0015}, {0x32, 0x0005}};
    for (size_t i = 0; i < sizeof image / sizeof image[0]; i++)
        CHECK_EQ_INT(pll_read(image[i][0]), image[i][1]);
    /* the counters (§4.9.5): the ADC clock 29 480 519.5 Hz, the PLL's target clock with
     * ADVCLOCK bit 27; Hz = count x SYSTEMCLK / 2^23 */
    double sysclk = reg_read4(R_SYSTEMCLK), target = 12e6 / 11 * 5 * 454 / 4 / 84;
    CHECK(sysclk > 0);
    CHECK(fabs(reg_read4(R_ADCFREQ) - target * 4 * 8388608.0 / sysclk) <= 2.0);
    uint8_t adv[4];
    reg_read(R_ADVCLOCK, adv, 4);
    adv[3] |= 0x08;
    reg_write(R_ADVCLOCK, adv, 4);
    CHECK(fabs(reg_read4(R_EXTFREQ) - target * 8388608.0 / sysclk) <= 2.0);
    adv[3] &= (uint8_t)~0x08;
    reg_write(R_ADVCLOCK, adv, 4);

    /* §4.9.3: a reset drops the lock until the calibration is done, 5 ms in the simulator
     * (the data sheet's tINIT): the lock bit read at once is 0, unless the scheduler kept us
     * away that long (the board's clock follows real time) */
    uint16_t g0 = pll_read(0x00);
    double t0 = now_s();
    pll_write(0x00, g0 | 0x0004);
    int early = pll_locked();
    if (now_s() - t0 < 0.004)
        CHECK_EQ_INT(early, 0);
    CHECK_EQ_INT(pll_read(0x00), 0x3000); /* the reset bit is a pulse (inferred, §4.9.2) */
    sleep_s(0.1);
    CHECK_EQ_INT(pll_locked(), 1);
    /* §4.9.1 details: a length other than 5 is ignored and keeps the result; an address
     * beyond the map fails (the simulator's choice where the data sheet says "reserved") */
    uint8_t rd18[5] = {0, 0x18, 0, 0, 0}, bad[4] = {1, 0x25, 0, 0}, r[3];
    CHECK_EQ_INT(ctrl_out(REQ_PLL, 0, rd18, 5), 5);
    CHECK_EQ_INT(ctrl_out(REQ_PLL, 0, bad, 4), 4);
    CHECK_EQ_INT(ctrl_in(REQ_PLL, 0, r, 3), 3);
    CHECK_MEM(r, "\x02\x01\x06", 3);
    CHECK_EQ_INT(pll_read(0x25), 0x0054);
    uint16_t v = 0;
    CHECK_EQ_INT(pll_xfer(0, 0x47, &v), 1);
}

/* ---- 4a. STM32 over the USART bridge (target-protocols.md §A) ------------------------------- */

static uint32_t rx_count(void)
{
    uint8_t c[4] = {0};
    CHECK_EQ_INT(ctrl_in(REQ_USART_CFG, 0x0014, c, 4), 4); /* §5.3 */
    return le32(c);
}

static uint32_t tx_count(void)
{
    uint8_t c[4] = {0};
    CHECK_EQ_INT(ctrl_in(REQ_USART_CFG, 0x0018, c, 4), 4); /* §5.2 */
    return le32(c);
}

/* §5.2: never more than the 199-byte TX buffer holds */
static void usart_send(const uint8_t *d, size_t n)
{
    while (n > 0) {
        size_t k = n < 58 ? n : 58;
        double until = now_s() + 2;
        while (tx_count() + k > 199 && now_s() < until)
            sleep_s(0.002);
        CHECK_EQ_INT(ctrl_out(REQ_USART_DATA, 0, d, (uint16_t)k), (int)k);
        d += k;
        n -= k;
    }
}

/* §5.3: read only what the count says is there */
static size_t usart_recv(uint8_t *out, size_t n, double timeout_s)
{
    size_t got = 0;
    double until = now_s() + timeout_s;
    while (got < n && now_s() < until) {
        uint32_t avail = rx_count();
        if (avail == 0) {
            sleep_s(0.002);
            continue;
        }
        if (avail > n - got)
            avail = (uint32_t)(n - got);
        if (avail > 128)
            avail = 128;
        CHECK_EQ_INT(ctrl_in(REQ_USART_DATA, 0, out + got, (uint16_t)avail), (int)avail);
        got += avail;
    }
    return got;
}

static void usart_flush(void)
{
    uint8_t junk[128];
    uint32_t n;
    while ((n = rx_count()) > 0)
        ctrl_in(REQ_USART_DATA, 0, junk, (uint16_t)(n < 128 ? n : 128));
}

/* IOROUTE byte 6 (§4.1): a 2-bit field at shift; level -1 = high-Z (enable bit cleared) */
static void xio(unsigned shift, int level)
{
    uint8_t io[8];
    reg_read(R_IOROUTE, io, 8);
    unsigned f = level < 0 ? ((unsigned)io[6] >> shift & 2u) : level ? 3u : 1u;
    io[6] = (uint8_t)(((unsigned)io[6] & ~(3u << shift)) | f << shift);
    reg_write(R_IOROUTE, io, 8);
}

/* §A.2: nRST low 10 ms, high 25 ms */
static void reset_pulse(void)
{
    xio(0, 0);
    sleep_s(0.010);
    xio(0, 1);
    sleep_s(0.025);
}

static int bl_ack(void)
{
    uint8_t a = 0;
    return usart_recv(&a, 1, 1.0) == 1 && a == 0x79;
}

static int bl_cmd(uint8_t cmd)
{
    uint8_t c[2] = {cmd, (uint8_t)(cmd ^ 0xFF)};
    usart_send(c, 2);
    return bl_ack();
}

static int bl_addr(uint32_t a)
{
    uint8_t m[5] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a, 0};
    m[4] = m[0] ^ m[1] ^ m[2] ^ m[3];
    usart_send(m, 5);
    return bl_ack();
}

static void program_stm32(void)
{
    /* §A.2: BOOT0 (PDIC) high, a reset pulse, then 7F at 115200 8E1 */
    xio(4, 1);
    sleep_s(0.1);
    reset_pulse();
    usart_init(115200, 2);
    usart_flush();
    const uint8_t sync = 0x7F;
    usart_send(&sync, 1);
    CHECK(bl_ack());
    /* Get: which erase command this bootloader has (§A.4) */
    uint8_t r[300];
    CHECK(bl_cmd(0x00));
    CHECK_EQ_INT(usart_recv(r, 1, 1.0), 1);
    size_t n = (size_t)r[0] + 1;
    CHECK_EQ_INT(usart_recv(r + 1, n + 1, 1.0), n + 1); /* version, codes, ACK */
    int ext = memchr(r + 2, 0x44, n - 1) != NULL;
    CHECK_EQ_INT(r[n + 1], 0x79);
    /* Get ID: 79 01 04 xx 79 (§A.4) */
    CHECK(bl_cmd(0x02));
    CHECK_EQ_INT(usart_recv(r, 4, 1.0), 4);
    CHECK_EQ_INT(r[0], 1);
    CHECK_EQ_INT(r[1], 0x04);
    CHECK_EQ_INT(r[3], 0x79);
    printf("husky_client: STM32 PID 0x%02x%02x\n", r[1], r[2]);
    /* global erase */
    CHECK(bl_cmd(ext ? 0x44 : 0x43));
    if (ext)
        usart_send((const uint8_t[]){0xFF, 0xFF, 0x00}, 3);
    else
        usart_send((const uint8_t[]){0xFF, 0x00}, 2);
    CHECK(bl_ack());
    /* Write Memory: 256 bytes at the start of flash, then Read Memory them back */
    uint8_t blk[258], x = 0xFF;
    blk[0] = 0xFF;
    for (int i = 0; i < 256; i++) {
        blk[1 + i] = (uint8_t)(i * 13 + 5);
        x ^= blk[1 + i];
    }
    blk[257] = x;
    CHECK(bl_cmd(0x31));
    CHECK(bl_addr(0x08000000u));
    usart_send(blk, sizeof blk);
    CHECK(bl_ack());
    CHECK(bl_cmd(0x11));
    CHECK(bl_addr(0x08000000u));
    usart_send((const uint8_t[]){0xFF, 0x00}, 2);
    CHECK(bl_ack());
    CHECK_EQ_INT(usart_recv(r, 256, 2.0), 256);
    CHECK_MEM(r, blk + 1, 256);
    /* §A.2 exit: BOOT0 low and a reset; then nRST back to high-Z */
    xio(4, 0);
    reset_pulse();
    xio(0, -1);
    usart_init(38400, 0);
}

/* ---- 4b. AVR through the V2 engine (target-protocols.md §C) --------------------------------- */

static int v2_status(uint8_t st[4])
{
    memset(st, 0xEE, 4);
    return ctrl_in(REQ_AVR, 0x20, st, 32) >= 2 ? st[1] : -1; /* GET_STATUS (§C.1) */
}

static int v2(uint8_t cmd, const void *payload, uint16_t len, uint8_t st[4])
{
    CHECK_EQ_INT(ctrl_out(REQ_AVR, cmd, payload, len), len);
    sleep_s(0.010);
    return v2_status(st);
}

static void isp_route(int on)
{
    uint8_t io[8];
    reg_read(R_IOROUTE, io, 8);
    io[5] = (uint8_t)(on ? (io[5] | 1u) : (io[5] & ~1u)); /* §4.1 byte 5 bit 0 */
    reg_write(R_IOROUTE, io, 8);
}

static const uint8_t ENTER[11] = {0xC8, 0x64, 0x19, 0x20, 0x00, 0x53,
                                  0x03, 0xAC, 0x53, 0x00, 0x00}; /* §C.4 */

static void program_avr(int expect_answer)
{
    uint8_t st[32];
    isp_route(1);
    sleep_s(0.1);
    int enter = v2(0x10, ENTER, 11, st);
    if (!expect_answer) {
        CHECK(enter != 0); /* no clock: the chip does not take Programming Enable */
        isp_route(0);
        return;
    }
    CHECK_EQ_INT(enter, 0);
    uint8_t sig[3];
    for (uint8_t i = 0; i < 3; i++) {
        uint8_t p[5] = {4, 0x30, 0x00, i, 0x00};
        CHECK_EQ_INT(v2(0x1B, p, 5, st), 0);
        sig[i] = st[2];
    }
    CHECK_MEM(sig, "\x1E\x95\x0F", 3); /* ATmega328P */
    CHECK_EQ_INT(v2(0x12, (const uint8_t[]){0x19, 0x00, 0xAC, 0x80, 0x00, 0x00}, 6, st), 0);
    /* one 128-byte page at 0 through the RAM buffer (§C.4 step 3) */
    uint8_t page[128];
    for (int i = 0; i < 128; i++)
        page[i] = (uint8_t)(i ^ 0xA5);
    CHECK_EQ_INT(v2(0x06, (const uint8_t[]){0, 0, 0, 0}, 4, st), 0);
    CHECK_EQ_INT(ctrl_out(REQ_AVR, 0x0021, page, 64), 64);
    CHECK_EQ_INT(ctrl_out(REQ_AVR, 0x4021, page + 64, 64), 64);
    CHECK_EQ_INT(
        v2(0x13, (const uint8_t[]){0x80, 0x00, 0xC1, 0x06, 0x40, 0x4C, 0x20, 0xFF, 0xFF}, 9, st),
        0);
    /* verify (§C.4 step 4) */
    CHECK_EQ_INT(v2(0x06, (const uint8_t[]){0, 0, 0, 0}, 4, st), 0);
    CHECK_EQ_INT(v2(0x14, (const uint8_t[]){0x00, 0x01, 0x20}, 3, st), 0);
    uint8_t back[128];
    CHECK_EQ_INT(ctrl_in(REQ_AVR, 0x0022, back, 64), 64);
    CHECK_EQ_INT(ctrl_in(REQ_AVR, 0x4022, back + 64, 64), 64);
    CHECK_MEM(back, page, 128);
    CHECK_EQ_INT(v2(0x11, (const uint8_t[]){1, 1}, 2, st), 0); /* §C.4 step 5 */
    isp_route(0);
}

/* ---- 4c. XMEGA through the XPROG engine (target-protocols.md §B) ---------------------------- */

static int xprog(uint8_t sub, const void *payload, uint16_t len)
{
    uint8_t st[3] = {0xEE, 0xEE, 0xEE};
    CHECK_EQ_INT(ctrl_out(0x20, sub, payload, len), len);
    CHECK_EQ_INT(ctrl_in(0x20, 0x0020, st, 3), 3); /* GET_STATUS (§B.1) */
    CHECK_EQ_INT(st[0], 0x20);
    return st[1];
}

static void program_xmega(void)
{
    /* §B.3: SET_PARAM TIMEOUT 250 ticks, ENTER, the signature at 0x01000090 */
    CHECK_EQ_INT(xprog(0x07, (const uint8_t[]){0x08, 0xFA, 0x00, 0x00, 0x00}, 5), 0);
    CHECK_EQ_INT(xprog(0x01, NULL, 0), 0);
    CHECK_EQ_INT(xprog(0x05, (const uint8_t[]){0x00, 0x90, 0x00, 0x00, 0x01, 0x03, 0x00}, 7), 0);
    uint8_t sig[3];
    CHECK_EQ_INT(ctrl_in(0x20, 0x0021, sig, 3), 3);
    CHECK_MEM(sig, "\x1E\x97\x47", 3); /* §B.4 XMEGA128D4 */
    /* erase the chip, one 256-byte page at the start of flash (0x0800000), read it back */
    CHECK_EQ_INT(xprog(0x03, (const uint8_t[]){0x01, 0x00, 0x00, 0x00, 0x00}, 5), 0);
    uint8_t page[256], back[256];
    for (int i = 0; i < 256; i++)
        page[i] = (uint8_t)(i * 3 + 7);
    for (unsigned off = 0; off < 256; off += 64)
        CHECK_EQ_INT(ctrl_out(0x20, (uint16_t)(0x22 | off << 8), page + off, 64), 64);
    CHECK_EQ_INT(xprog(0x04, (const uint8_t[]){0x01, 0x02, 0x00, 0x00, 0x80, 0x00, 0x00, 0x01}, 8),
                 0);
    CHECK_EQ_INT(xprog(0x05, (const uint8_t[]){0x01, 0x00, 0x00, 0x80, 0x00, 0x00, 0x01}, 7), 0);
    for (unsigned off = 0; off < 256; off += 64)
        CHECK_EQ_INT(ctrl_in(0x20, (uint16_t)(0x21 | off << 8), back + off, 64), 64);
    CHECK_MEM(back, page, 256);
    CHECK_EQ_INT(xprog(0x02, NULL, 0), 0); /* §B.3 step 5 */
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    int stm32 = strcmp(mode, "stm32") == 0, avr = strcmp(mode, "avr") == 0,
        xmega = strcmp(mode, "xmega") == 0, unlocked = strcmp(mode, "unlocked") == 0;
    if (!stm32 && !avr && !xmega && !unlocked) {
        fprintf(stderr, "usage: husky_client stm32|avr|xmega|unlocked\n");
        return 2;
    }
    libusb_context *ctx = NULL;
    if (libusb_init(&ctx) != 0) {
        fprintf(stderr, "husky_client: libusb_init failed\n");
        return 1;
    }
    libusb_device *dev = find_husky(ctx);
    CHECK(dev != NULL);
    if (dev != NULL && identity(dev) == 0) {
        connect();
        default_setup(!unlocked);
        if (stm32)
            program_stm32();
        else if (xmega)
            program_xmega();
        else
            program_avr(!unlocked);
        CHECK_EQ_INT(pll_errors, 0);
        libusb_release_interface(h, 0);
        libusb_close(h);
    }
    if (dev != NULL)
        libusb_unref_device(dev);
    libusb_exit(ctx);
    return check_report("husky_client");
}
