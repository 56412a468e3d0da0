/* SPDX-License-Identifier: MIT */
/* An independent host for the simulated ADC. It captures the way NewAE's Python library does
 * (cw-usb-protocol.md §4.10.1: arm by read-modify-write of SETTINGS, poll STATUS, sleep
 * (offset + samples) / adc_freq, disarm, then RETSAMPLES and one read of register 3) through
 * the simulator's USB calls only (cwsim_board_control and cwsim_board_bulk, with the header of
 * §2.5), and decodes the bytes as §4.10.2 and §4.10.3 describe them: the Lite/Pro's 0xAC sync
 * byte, big-endian words of three 10-bit samples and the trigger marks in bits 31:30, the
 * Husky's 12-bit pairs and 8-bit samples. It shares no code with cwlua's Lua library, with
 * libcwsim's capture path or with test_adc.c.
 *
 * The target is a chip of this file: it raises TIO4 for 100 µs every 5 ms, and reports as its
 * current, for a sample taken k ADC clocks after its last rise, the code (half scale + k)
 * modulo the ADC's range. So every decoded sample says which clock it was taken at, and the
 * host checks each one against the capture's settings. */
#include "../check.h"
#include "cwsim.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MS         1000000ull
#define TIMEOUT_MS 20000u

/* ---- the target chip --------------------------------------------------------------------- */

#define PERIOD_NS (5 * MS)
#define PULSE_NS  100000ull

typedef struct chip {
    cwsim_board *b;
    double adc_hz; /* the ADC clock, to number the samples */
    unsigned bits; /* the ADC's resolution */
    uint64_t rise; /* the last rising edge of TIO4 */
    int high;
} chip;

static void chip_wake(void *ctx, uint64_t now)
{
    chip *c = ctx;
    if (!c->high) {
        c->high = 1;
        c->rise = now;
        cwsim_target_drive(c->b, CWSIM_PIN_TIO4, CWSIM_HIGH);
        cwsim_target_wake_at(c->b, now + PULSE_NS);
    } else {
        c->high = 0;
        cwsim_target_drive(c->b, CWSIM_PIN_TIO4, CWSIM_LOW);
        cwsim_target_wake_at(c->b, c->rise + PERIOD_NS);
    }
}

static void chip_power_trace(void *ctx, double t0_ns, double rate, float *out, size_t n)
{
    const chip *c = ctx;
    long long full = 1ll << c->bits;
    for (size_t i = 0; i < n; i++) {
        double t = t0_ns + (double)i * 1e9 / rate;
        long long k = llround((t - (double)c->rise) * c->adc_hz / 1e9);
        long long code = ((full / 2 + k) % full + full) % full;
        out[i] = (float)(((double)code + 0.5) / (double)full - 0.5);
    }
}

static void chip_destroy(void *ctx)
{
    (void)ctx;
}

static const cwsim_target_ops chip_ops = {
    .name = "ramp-host",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .wake = chip_wake,
    .destroy = chip_destroy,
    .power_trace = chip_power_trace,
};

/* ---- the host's register access (§2.5) ----------------------------------------------------- */

static void header(uint8_t *h, uint32_t len, uint32_t addr)
{
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(len >> (8 * i));
        h[4 + i] = (uint8_t)(addr >> (8 * i));
    }
}

/* "read reg addr (len)": ctrl OUT 0x12 + ctrl IN 0x12 below 48 bytes, else ctrl OUT 0x10 +
 * bulk IN. Returns the bytes read. */
static int reg_read(cwsim_board *b, uint32_t addr, uint8_t *out, uint32_t len)
{
    uint8_t h[8];
    header(h, len, addr);
    if (len < 48) {
        if (cwsim_board_control(b, 0x41, 0x12, 0, 0, h, 8, TIMEOUT_MS) != 8)
            return -1;
        return cwsim_board_control(b, 0xC1, 0x12, 0, 0, out, (uint16_t)len, TIMEOUT_MS);
    }
    if (cwsim_board_control(b, 0x41, 0x10, 0, 0, h, 8, TIMEOUT_MS) != 8)
        return -1;
    return cwsim_board_bulk(b, cwsim_board_ep_bulk_in(b), out, (int)len, TIMEOUT_MS);
}

static void reg_write(cwsim_board *b, uint32_t addr, const uint8_t *v, uint32_t len)
{
    uint8_t buf[128];
    header(buf, len, addr);
    memcpy(buf + 8, v, len);
    cwsim_board_control(b, 0x41, 0x13, 0, 0, buf, (uint16_t)(8 + len), TIMEOUT_MS);
}

static uint32_t read_u32(cwsim_board *b, uint32_t addr, uint32_t len)
{
    uint8_t v[4] = {0};
    reg_read(b, addr, v, len);
    return (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
}

static void write_u32(cwsim_board *b, uint32_t addr, uint32_t v, uint32_t len)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    reg_write(b, addr, x, len);
}

enum { GAIN = 0, SETTINGS = 1, STATUS = 2, ADCREAD = 3, ADCFREQ = 8, DECIMATE = 15 };
enum { SAMPLES = 16, PRESAMPLES = 17, RETSAMPLES = 18, OFFSET = 26, ADC_LOW_RES = 29 };

/* ---- a capture as NewAE's scope.arm() + scope.capture() ---------------------------------- */

typedef struct settings {
    uint32_t samples, offset, presamples, decimate;
    int husky, bits; /* bits: 10, or the Husky's 12 or 8 */
} settings;

static int capture(cwsim_board *b, const settings *s, uint8_t **data, uint32_t *len)
{
    cwsim *sim = cwsim_board_sim(b);
    uint8_t v = 0;
    reg_read(b, SETTINGS, &v, 1);
    v |= 0x08;
    reg_write(b, SETTINGS, &v, 1);
    uint64_t start = cwsim_now_ns(sim);
    for (;;) {
        uint8_t st = 0;
        reg_read(b, STATUS, &st, 1);
        if ((st & 0x01) == 0 && (st & 0x02) != 0)
            break;
        if (cwsim_now_ns(sim) - start > 2000 * MS)
            return -1; /* scope.adc.timeout */
    }
    double adc_freq = read_u32(b, ADCFREQ, 4) * 96e6 / 8388608.0; /* §4.0 register 8 */
    cwsim_advance_ns(sim, (uint64_t)((s->offset + s->samples) / adc_freq * 1e9));
    reg_read(b, SETTINGS, &v, 1);
    v &= (uint8_t)~0x08;
    reg_write(b, SETTINGS, &v, 1);
    uint32_t n;
    if (!s->husky) {
        uint32_t ret = read_u32(b, RETSAMPLES, 4);
        uint32_t hyp = s->samples * 4 / 3 + 256;
        n = (ret < hyp ? ret : hyp) + 1; /* + the sync byte */
    } else {
        n = s->bits == 12 ? (uint32_t)ceil(s->samples * 1.5) : s->samples;
        if (n % 3)
            n += 3 - n % 3;
    }
    *data = calloc(n, 1);
    *len = (uint32_t)reg_read(b, ADCREAD, *data, n);
    return *len == n ? 0 : -1;
}

/* ---- the decoders -------------------------------------------------------------------------- */

/* Lite/Pro (§4.10.2): returns the number of samples put in codes (the trigger sample, less
 * presamples, first; at most max), or -1 for a missing sync byte or trigger. */
static long decode_openadc(const uint8_t *d, uint32_t len, uint32_t presamples, uint16_t *codes,
                           size_t max)
{
    if (len < 1 || d[0] != 0xAC)
        return -1;
    size_t words = (len - 1) / 4, nsamp = words * 3;
    uint16_t *all = malloc(nsamp * sizeof *all + 1);
    long trig = -1;
    for (size_t j = 0; j < words; j++) {
        const uint8_t *p = d + 1 + 4 * j;
        uint32_t w = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        all[3 * j] = (uint16_t)(w & 0x3FF);
        all[3 * j + 1] = (uint16_t)((w >> 10) & 0x3FF);
        all[3 * j + 2] = (uint16_t)((w >> 20) & 0x3FF);
        if (trig < 0 && (w >> 30) != 3)
            trig = (long)(3 * j + (w >> 30));
    }
    long first = trig - (long)presamples;
    if (trig < 0 || first < 0) {
        free(all);
        return -1;
    }
    size_t n = 0;
    for (size_t k = (size_t)first; k < nsamp && n < max; k++)
        codes[n++] = all[k];
    free(all);
    return (long)n;
}

/* Husky (§4.10.3): 12-bit pairs in three bytes, or one byte per sample. */
static long decode_husky(const uint8_t *d, uint32_t len, int bits, uint16_t *codes, size_t max)
{
    size_t n = 0;
    if (bits == 8) {
        for (uint32_t i = 0; i < len && n < max; i++)
            codes[n++] = d[i];
        return (long)n;
    }
    for (uint32_t i = 0; i + 2 < len && n < max; i += 3) {
        codes[n++] = (uint16_t)(d[i] << 4 | d[i + 1] >> 4);
        if (n < max)
            codes[n++] = (uint16_t)((d[i + 1] & 0x0F) << 8 | d[i + 2]);
    }
    return (long)n;
}

/* ---- the runs ------------------------------------------------------------------------------ */

static void run(cwsim_kind kind, const settings *s, const char *what)
{
    cwsim *sim = NULL;
    char err[256];
    if (cwsim_new(&sim, err, sizeof err) != 0)
        exit(1);
    cwsim_set_noise(sim, 0.0);
    cwsim_board *b = cwsim_board_add(sim, kind, NULL, err, sizeof err);
    cwsim_board_default_setup(b); /* NewAE's default_setup(): clock, gain, trigger (§6) */
    static chip c;
    memset(&c, 0, sizeof c);
    c.b = b;
    c.bits = s->husky ? 12 : 10;
    c.adc_hz = s->husky ? 12e6 / 11 * 454 * 5 / 4 / 21 : 96e6 * 2 / 26 * 4;
    if (cwsim_board_attach_target(b, &chip_ops, &c, err, sizeof err) != 0)
        exit(1);
    cwsim_target_wake_at(b, cwsim_now_ns(sim) + 1 * MS);

    write_u32(b, SAMPLES, s->samples, 4);
    write_u32(b, OFFSET, s->offset, 4);
    write_u32(b, PRESAMPLES, s->presamples, s->husky ? 2 : 4);
    write_u32(b, DECIMATE, s->decimate - 1, 2);
    if (s->husky) {
        uint8_t lr = s->bits == 8 ? 1 : 0;
        reg_write(b, ADC_LOW_RES, &lr, 1);
    }
    uint8_t *d = NULL;
    uint32_t len = 0;
    int ok = capture(b, s, &d, &len) == 0;
    if (!ok)
        fprintf(stderr, "%s: the capture failed\n", what);
    CHECK(ok);
    uint16_t *codes = calloc(s->samples, sizeof *codes);
    long n = s->husky ? decode_husky(d, len, s->bits, codes, s->samples)
                      : decode_openadc(d, len, s->presamples, codes, s->samples);
    if (n != (long)s->samples)
        fprintf(stderr, "%s: decoded %ld samples of %u\n", what, n, s->samples);
    CHECK_EQ_INT(n, s->samples);

    /* sample i was taken OFFSET - PRESAMPLES + i x DECIMATE clocks after the trigger (plus
     * DECIMATE - 1 on the Lite/Pro, whose decimated capture keeps the last clock of each
     * group); its float value as get_last_trace() gives it lies in [-0.5, 0.5) */
    long long full = 1ll << c.bits;
    int good = 1;
    long bad_at = -1;
    for (long i = 0; i < n; i++) {
        long long k = (long long)s->offset - (long long)s->presamples + i * (long long)s->decimate;
        if (!s->husky)
            k += s->decimate - 1;
        long long want = ((full / 2 + k) % full + full) % full;
        if (s->bits == 8)
            want >>= 4;
        double f = codes[i] / (double)(1 << (s->bits == 8 ? 8 : c.bits)) - 0.5;
        if (codes[i] != want || f < -0.5 || f >= 0.5) {
            good = 0;
            if (bad_at < 0)
                bad_at = i;
        }
    }
    if (!good)
        fprintf(stderr, "%s: sample %ld is %u\n", what, bad_at, codes[bad_at]);
    CHECK(good);
    free(codes);
    free(d);
    cwsim_free(sim);
}

int main(void)
{
    static const struct {
        cwsim_kind kind;
        settings s;
        const char *what;
    } runs[] = {
        {CWSIM_CWLITE, {5000, 0, 0, 1, 0, 10}, "lite 5000"},
        {CWSIM_CWLITE, {24400, 0, 0, 1, 0, 10}, "lite 24400"},
        {CWSIM_CWLITE, {3000, 1000, 0, 1, 0, 10}, "lite offset 1000"},
        {CWSIM_CWLITE, {3000, 0, 150, 1, 0, 10}, "lite presamples 150"},
        {CWSIM_CWLITE, {1000, 0, 0, 4, 0, 10}, "lite decimate 4"},
        {CWSIM_CW1200, {5000, 7, 0, 1, 0, 10}, "pro 5000"},
        {CWSIM_HUSKY, {3000, 0, 0, 1, 1, 12}, "husky 12-bit"},
        {CWSIM_HUSKY, {3001, 250, 30, 1, 1, 12}, "husky 12-bit offset presamples"},
        {CWSIM_HUSKY, {5000, 0, 0, 1, 1, 8}, "husky 8-bit"},
        {CWSIM_HUSKY, {999, 0, 0, 3, 1, 12}, "husky decimate 3"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        run(runs[i].kind, &runs[i].s, runs[i].what);
    return check_report("sim_adc_host");
}
