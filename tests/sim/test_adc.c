/* SPDX-License-Identifier: MIT */
/* libcwsim ADC capture path (cw-usb-protocol.md §4.10): a test chip whose power_trace encodes
 * each sample's ADC clock relative to its trigger as the sample's code, so that the read-out
 * shows exactly which samples the board took. Checks the Lite/Pro packing (sync byte, three
 * 10-bit samples per big-endian word, trigger marks), OFFSET, PRESAMPLES, DECIMATE, the gain,
 * clipping, the noise and its seed, trigger modes and trigger-now, the trigger-open fault,
 * STATUS and RETSAMPLES over time, TRIGGER_DUR, disarming mid-capture, the Husky's 12- and 8-bit
 * read-outs and CAPTURE_DONE, and that the bulk read-out costs virtual time. */
#include "simtest.h"

#include <math.h>

#define MS_NS 1000000ull
#define US_NS 1000ull

/* ---- the test chip ----------------------------------------------------------------------- */

typedef struct ramp {
    cwsim_board *b;
    double adc_hz;       /* the ADC clock the test expects (to number the samples) */
    unsigned bits;       /* 10 or 12 */
    int constant;        /* 1: every sample is `value` */
    double value;        /* full-scale units */
    double trig_ns;      /* when TIO4 last rose */
    uint64_t rise, fall; /* the pulse to come; UINT64_MAX none */
    int calls;
    double t0, rate;
    size_t n;
} ramp;

static void ramp_wake(void *ctx, uint64_t now)
{
    ramp *r = ctx;
    if (r->rise != UINT64_MAX && now >= r->rise) {
        r->rise = UINT64_MAX;
        r->trig_ns = (double)now;
        cwsim_target_drive(r->b, CWSIM_PIN_TIO4, CWSIM_HIGH);
    }
    if (r->rise == UINT64_MAX && r->fall != UINT64_MAX && now >= r->fall) {
        r->fall = UINT64_MAX;
        cwsim_target_drive(r->b, CWSIM_PIN_TIO4, CWSIM_LOW);
    }
    cwsim_target_wake_at(r->b, r->rise != UINT64_MAX ? r->rise : r->fall);
}

/* The code of a sample k ADC clocks after the trigger: mid-scale + k, wrapping. */
static unsigned ramp_code(const ramp *r, long long k)
{
    long long full = 1ll << r->bits;
    return (unsigned)(((k + full / 2) % full + full) % full);
}

static void ramp_trace(void *ctx, double t0_ns, double adc_hz, float *out, size_t n)
{
    ramp *r = ctx;
    r->calls++;
    r->t0 = t0_ns;
    r->rate = adc_hz;
    r->n = n;
    double full = (double)(1u << r->bits);
    for (size_t i = 0; i < n; i++) {
        if (r->constant) {
            out[i] = (float)r->value;
            continue;
        }
        double t = t0_ns + (double)i * 1e9 / adc_hz;
        long long k = llround((t - r->trig_ns) * r->adc_hz / 1e9);
        out[i] = (float)(((double)ramp_code(r, k) + 0.5) / full - 0.5);
    }
}

static void ramp_nop(void *ctx)
{
    (void)ctx;
}

static const cwsim_target_ops ramp_ops = {
    .name = "ramp",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .wake = ramp_wake,
    .destroy = ramp_nop,
    .power_trace = ramp_trace,
};

/* ---- a bench: a board after default_setup() with the ramp attached ------------------------ */

typedef struct bench {
    cwsim *sim;
    cwsim_board *b;
    ramp r;
} bench;

#define LITE_ADC_HZ  (96e6 * 2 / 26 * 4)            /* CLKGEN 7.3846 MHz x 4 (§6.1) */
#define HUSKY_ADC_HZ (12e6 / 11 * 454 * 5 / 4 / 21) /* the PLL's ADC output (§4.9.6) */

static void bench_open(bench *t, cwsim_kind kind)
{
    char err[256];
    memset(t, 0, sizeof *t);
    t->sim = t_sim();
    cwsim_set_noise(t->sim, 0.0);
    t->b = t_board(t->sim, kind);
    cwsim_board_default_setup(t->b);
    t->r.b = t->b;
    t->r.bits = kind == CWSIM_HUSKY ? 12 : 10;
    t->r.adc_hz = kind == CWSIM_HUSKY ? HUSKY_ADC_HZ : LITE_ADC_HZ;
    t->r.rise = t->r.fall = UINT64_MAX;
    t->r.trig_ns = -1e18;
    if (cwsim_board_attach_target(t->b, &ramp_ops, &t->r, err, sizeof err) != 0) {
        fprintf(stderr, "attach: %s\n", err);
        exit(1);
    }
}

static void pulse(bench *t, uint64_t in_ns, uint64_t width_ns)
{
    t->r.rise = cwsim_now_ns(t->sim) + in_ns;
    t->r.fall = t->r.rise + width_ns;
    cwsim_target_wake_at(t->b, t->r.rise);
}

static void w32(cwsim_board *b, unsigned addr, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    t_wreg(b, addr, x, 4);
}

static uint32_t r32(cwsim_board *b, unsigned addr)
{
    uint8_t x[4] = {0};
    t_rreg(b, addr, x, 4);
    return t_le32(x);
}

static void arm(cwsim_board *b)
{
    t_wreg1(b, 1, (uint8_t)(t_rreg1(b, 1) | 0x08));
}

static void disarm(cwsim_board *b)
{
    t_wreg1(b, 1, (uint8_t)(t_rreg1(b, 1) & ~0x08));
}

/* Poll STATUS as NewAE's capture() does until armed = 0 and "not capturing" = 1; 0 when that
 * came within max_ms of virtual time. */
static int wait_done(cwsim_board *b, unsigned max_ms)
{
    cwsim *sim = cwsim_board_sim(b);
    uint64_t end = cwsim_now_ns(sim) + max_ms * MS_NS;
    while (cwsim_now_ns(sim) < end) {
        uint8_t s = t_rreg1(b, 2);
        if ((s & 0x01) == 0 && (s & 0x02) != 0)
            return 0;
    }
    return -1;
}

/* "read reg 3" of n bytes as NewAE does: a bulk read for 48 bytes and more (§2.5). */
static int read_fifo(cwsim_board *b, uint8_t *out, uint32_t n)
{
    uint8_t h[8];
    t_hdr(h, n, 3);
    if (n < 48) {
        if (t_out(b, 0x12, 0, h, 8) != 8)
            return -1;
        return t_in(b, 0x12, 0, out, (uint16_t)n);
    }
    if (t_out(b, 0x10, 0, h, 8) != 8)
        return -1;
    return cwsim_board_bulk(b, cwsim_board_ep_bulk_in(b), out, (int)n, T_MS);
}

/* Lite/Pro words after the sync byte: samples and marks. */
static uint32_t word_at(const uint8_t *d, size_t j)
{
    const uint8_t *p = d + 1 + 4 * j;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static unsigned sample_at(const uint8_t *d, size_t k)
{
    return (word_at(d, k / 3) >> (10 * (k % 3))) & 0x3FFu;
}

/* The index of the first sample of the capture: 3 x the first word whose mark is not 3, plus
 * that mark (NewAE's processData); -1 when no word has one. */
static long first_sample(const uint8_t *d, size_t words)
{
    for (size_t j = 0; j < words; j++) {
        unsigned m = word_at(d, j) >> 30;
        if (m != 3)
            return (long)(3 * j + m);
    }
    return -1;
}

/* One capture on a Lite/Pro as NewAE's capture + readData do it; returns the bytes read (the
 * sync byte first) in a malloc'ed buffer, *len its length. */
static uint8_t *lite_capture(bench *t, uint32_t samples, size_t *len)
{
    arm(t->b);
    pulse(t, 2 * MS_NS, 100 * US_NS);
    CHECK_EQ_INT(wait_done(t->b, 100), 0);
    disarm(t->b);
    uint32_t ret = r32(t->b, 18);
    uint32_t n = samples * 4 / 3 + 256;
    if (ret < n)
        n = ret;
    uint8_t *d = calloc(n + 1, 1);
    CHECK_EQ_INT(read_fifo(t->b, d, n + 1), (int)n + 1);
    *len = n + 1;
    return d;
}

/* ---- Lite ------------------------------------------------------------------------------- */

static void test_lite_packing(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    size_t len;
    uint8_t *d = lite_capture(&t, 5000, &len);
    CHECK_EQ_INT(d[0], 0xAC);
    size_t words = (len - 1) / 4;
    long k0 = first_sample(d, words);
    /* the FIFO keeps about 100 samples from before the trigger: 3 x 8180 words of capacity
     * less the 24 439 the capture takes */
    CHECK(k0 >= 95 && k0 <= 110);
    int ok = 1;
    for (long k = 0; k < (long)(3 * words); k++)
        ok &= sample_at(d, (size_t)k) == ramp_code(&t.r, k - k0);
    CHECK(ok);
    /* every word from the capture's first on carries its mark; the ones before carry 3 */
    unsigned mark = (unsigned)(k0 % 3);
    int marks = 1;
    for (size_t j = 0; j < words; j++)
        marks &= (word_at(d, j) >> 30) == ((long)j < k0 / 3 ? 3u : mark);
    CHECK(marks);
    /* the chip was asked once, for the whole FIFO, at the ADC clock */
    CHECK_EQ_INT(t.r.calls, 1);
    CHECK(fabs(t.r.rate - LITE_ADC_HZ) < 1.0);
    CHECK_EQ_INT(t.r.n, 8180 * 3);
    free(d);
    cwsim_free(t.sim);
}

static void test_lite_status(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    cwsim_board *b = t.b;
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x02); /* idle: not armed, not capturing */
    CHECK_EQ_INT(r32(b, 18), 0);
    arm(b);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x03); /* armed */
    /* while waiting the FIFO fills and drains: at most 8180 words = 32720 bytes */
    uint32_t ret1 = r32(b, 18);
    CHECK(ret1 > 0 && ret1 % 16 == 0);
    cwsim_advance_ns(t.sim, 5 * MS_NS);
    CHECK_EQ_INT(r32(b, 18), 32720);
    /* the trigger in 1 ms, OFFSET 40000 clocks (1.35 ms): armed drops at the trigger, "not
     * capturing" stays up through the offset (the Lite's flag follows the delayed capture),
     * then drops for the 24 439 samples (0.83 ms). STATUS is read in the middle of the IN
     * transfer, 0.75 ms after t_rreg1 starts. */
    w32(b, 26, 40000);
    pulse(&t, 1 * MS_NS, 50 * US_NS);
    cwsim_advance_ns(t.sim, 1 * MS_NS + 100 * US_NS);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x02); /* 0.85 ms after the trigger: in the offset */
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x00); /* 1.85 ms: in the capture (1.35 to 2.18 ms) */
    CHECK_EQ_INT(wait_done(b, 10), 0);
    uint32_t ret = r32(b, 18);
    CHECK_EQ_INT(ret, 32720);
    /* TRIGGER_DUR: the pulse's length in ADC clocks */
    uint32_t dur = r32(b, 20);
    CHECK(fabs((double)dur - 50e-6 * LITE_ADC_HZ) <= 2.0);
    /* reading takes bytes out of the FIFO; RETSAMPLES counts whole 16-byte units left */
    uint8_t d[1001];
    CHECK_EQ_INT(read_fifo(b, d, 1001), 1001);
    CHECK_EQ_INT(r32(b, 18), (32720 - 1000) / 16 * 16);
    /* the rest follows on: a second read starts with a new sync byte */
    uint8_t e[9];
    CHECK_EQ_INT(read_fifo(b, e, 9), 9);
    CHECK_EQ_INT(e[0], 0xAC);
    disarm(b);
    cwsim_free(t.sim);
}

static void test_lite_offset_presamples(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    w32(t.b, 26, 1000); /* OFFSET: the capture starts 1000 ADC clocks after the trigger */
    size_t len;
    uint8_t *d = lite_capture(&t, 3000, &len);
    long k0 = first_sample(d, (len - 1) / 4);
    CHECK(k0 > 0);
    CHECK_EQ_INT(sample_at(d, (size_t)k0), ramp_code(&t.r, 1000));
    CHECK_EQ_INT(sample_at(d, (size_t)k0 + 2999), ramp_code(&t.r, 3999));
    CHECK_EQ_INT(sample_at(d, (size_t)k0 - 1), ramp_code(&t.r, 999));
    free(d);

    /* PRESAMPLES P: the capture takes P fewer samples, so P more from before it stay */
    w32(t.b, 26, 0);
    size_t len0;
    uint8_t *d0 = lite_capture(&t, 3000, &len0);
    long base = first_sample(d0, (len0 - 1) / 4);
    free(d0);
    w32(t.b, 17, 300);
    CHECK_EQ_INT(r32(t.b, 17), 300);
    d = lite_capture(&t, 3000, &len);
    k0 = first_sample(d, (len - 1) / 4);
    CHECK(k0 >= base + 300 - 3 && k0 <= base + 300 + 3);
    CHECK_EQ_INT(sample_at(d, (size_t)(k0 - 300)), ramp_code(&t.r, -300));
    CHECK_EQ_INT(sample_at(d, (size_t)k0), ramp_code(&t.r, 0));
    free(d);
    cwsim_free(t.sim);
}

static void test_lite_decimate(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    uint8_t dec[2] = {2, 0}; /* DECIMATE = factor - 1: every 3rd clock */
    t_wreg(t.b, 15, dec, 2);
    size_t len;
    uint8_t *d = lite_capture(&t, 2000, &len);
    /* no sample is kept before the capture while decimating: the first word is the first */
    CHECK_EQ_INT(first_sample(d, (len - 1) / 4), 0);
    int ok = 1;
    for (size_t k = 0; k < 2000; k++)
        ok &= sample_at(d, k) == ramp_code(&t.r, (long long)(3 * k + 2));
    CHECK(ok);
    CHECK(fabs(t.r.rate - LITE_ADC_HZ / 3) < 1.0);
    free(d);
    cwsim_free(t.sim);
}

static unsigned lite_constant_code(bench *t, double value)
{
    t->r.constant = 1;
    t->r.value = value;
    size_t len;
    uint8_t *d = lite_capture(t, 30, &len);
    unsigned c = sample_at(d, 10);
    free(d);
    return c;
}

static void test_lite_gain_clip(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    /* default_setup's 25 dB (GAIN 30, high mode) passes the chip's values unchanged */
    CHECK_EQ_INT(lite_constant_code(&t, 0.1), 614); /* floor(0.6 x 1024) */
    CHECK_EQ_INT(lite_constant_code(&t, -0.2), 307);
    /* GAIN 40 in high mode: 50 x 40/256 x 3.3 + 5.5 dB against 50 x 30/256 x 3.3 + 5.5 */
    t_wreg1(t.b, 0, 40);
    double g = pow(10.0, 50.0 * 10.0 / 256.0 * 3.3 / 20.0);
    CHECK_EQ_INT(lite_constant_code(&t, 0.1), (unsigned)floor((0.1 * g + 0.5) * 1024));
    /* clipping at both ends */
    CHECK_EQ_INT(lite_constant_code(&t, 0.3), 1023);
    CHECK_EQ_INT(lite_constant_code(&t, -0.3), 0);
    /* low mode (SETTINGS bit 1 clear): 12 dB less for the same GAIN */
    t_wreg1(t.b, 1, (uint8_t)(t_rreg1(t.b, 1) & ~0x02));
    double lo = g * pow(10.0, -12.0 / 20.0);
    CHECK_EQ_INT(lite_constant_code(&t, 0.1), (unsigned)floor((0.1 * lo + 0.5) * 1024));
    cwsim_free(t.sim);
}

/* 3000 samples of a constant chip with noise: the codes' mean and spread. */
static void noise_stats(cwsim *sim, uint64_t seed, double sigma, uint8_t *out, size_t n,
                        double *mean, double *sd)
{
    (void)sim;
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    cwsim_seed(t.sim, seed);
    cwsim_set_noise(t.sim, sigma);
    t.r.constant = 1;
    t.r.value = 0.0;
    size_t len;
    uint8_t *d = lite_capture(&t, 3000, &len);
    long k0 = first_sample(d, (len - 1) / 4);
    double s = 0, s2 = 0;
    for (size_t k = 0; k < 3000; k++) {
        double c = sample_at(d, (size_t)k0 + k);
        s += c;
        s2 += c * c;
    }
    *mean = s / 3000;
    *sd = sqrt(s2 / 3000 - *mean * *mean);
    memcpy(out, d, n < len ? n : len);
    free(d);
    cwsim_free(t.sim);
}

static void test_noise(void)
{
    static uint8_t a[4000], b[4000], c[4000];
    double m, sd;
    noise_stats(NULL, 5, 0.01, a, sizeof a, &m, &sd);
    CHECK(fabs(m - 512.0) < 1.0); /* floor((0 + 0.5) x 1024) = 512, noise centred */
    CHECK(fabs(sd - 10.24) < 0.8);
    noise_stats(NULL, 5, 0.01, b, sizeof b, &m, &sd);
    CHECK_MEM(a, b, sizeof a); /* the same seed, the same trace */
    noise_stats(NULL, 6, 0.01, c, sizeof c, &m, &sd);
    CHECK(memcmp(a, c, sizeof a) != 0);
    noise_stats(NULL, 5, 0.0, c, sizeof c, &m, &sd);
    CHECK(sd == 0.0);
    /* the default and the setter's range */
    cwsim *sim = t_sim();
    CHECK(cwsim_noise(sim) == CWSIM_NOISE_DEFAULT);
    cwsim_set_noise(sim, -1);
    CHECK(cwsim_noise(sim) == 0.0);
    cwsim_set_noise(sim, 5);
    CHECK(cwsim_noise(sim) == CWSIM_NOISE_MAX);
    double v = -1;
    char err[128];
    CHECK_EQ_INT(cwsim_noise_parse("0.02", &v, err, sizeof err), 0);
    CHECK(v == 0.02);
    CHECK_EQ_INT(cwsim_noise_parse("0", &v, err, sizeof err), 0);
    CHECK(v == 0.0);
    CHECK_EQ_INT(cwsim_noise_parse("-0.1", &v, err, sizeof err), -1);
    CHECK(strcmp(err, "--sim-noise '-0.1': expected a standard deviation from 0 to 1 "
                      "(full-scale units)") == 0);
    CHECK_EQ_INT(cwsim_noise_parse("1.5", &v, err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_noise_parse("0x1", &v, err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_noise_parse("", &v, err, sizeof err), -1);
    cwsim_free(sim);
}

static void test_trigger_modes(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    cwsim_board *b = t.b;
    /* rising edge with TIO4 already high: arming waits for it to go low first */
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_HIGH);
    arm(b);
    cwsim_advance_ns(t.sim, 1 * MS_NS);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x05, 0x05); /* armed, trigger input high */
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_LOW);
    cwsim_advance_ns(t.sim, 1 * MS_NS);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x01);
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_HIGH);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x00); /* triggered on the rising edge */
    CHECK_EQ_INT(wait_done(b, 10), 0);
    disarm(b);
    /* high level (bit 5 clear): arming with TIO4 high triggers at once */
    t_wreg1(b, 1, (uint8_t)(t_rreg1(b, 1) & ~0x20));
    arm(b);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x00);
    CHECK_EQ_INT(wait_done(b, 10), 0);
    disarm(b);
    /* falling edge: polarity bit 2 clear, wait bit 5 set */
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_LOW);
    t_wreg1(b, 1, (uint8_t)((t_rreg1(b, 1) & ~0x04) | 0x20));
    arm(b);
    cwsim_advance_ns(t.sim, 1 * MS_NS);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x01); /* low, but waiting for the inactive level */
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_HIGH);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x01);
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_LOW);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x00);
    CHECK_EQ_INT(wait_done(b, 10), 0);
    disarm(b);
    /* TRIGSRC without TIO4 (TIO3 only): a TIO4 edge does nothing */
    t_wreg1(b, 1, 0x26);
    t_wreg1(b, 39, 0x10);
    arm(b);
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_HIGH);
    cwsim_advance_ns(t.sim, 1 * MS_NS);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x01);
    cwsim_target_drive(b, CWSIM_PIN_TIO3, CWSIM_HIGH);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x00);
    CHECK_EQ_INT(wait_done(b, 10), 0);
    disarm(b);
    /* a trigger module other than the basic one (TRIGMOD 2, SAD) is not simulated: no trigger */
    cwsim_target_drive(b, CWSIM_PIN_TIO3, CWSIM_LOW);
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_LOW);
    t_wreg1(b, 39, 0x20);
    t_wreg1(b, 40, 0x02);
    arm(b);
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_HIGH);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x01);
    disarm(b);
    t_wreg1(b, 40, 0x00);
    cwsim_free(t.sim);
}

static void test_trigger_now_and_open(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    cwsim_board *b = t.b;
    char err[256];
    CHECK_EQ_INT(cwsim_fault_set(t.sim, "trigger-open", NULL, err, sizeof err), 0);
    arm(b);
    pulse(&t, 1 * MS_NS, 100 * US_NS);
    /* NewAE's capture() gives up after 2 s: the trigger never came */
    CHECK_EQ_INT(wait_done(b, 2000), -1);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x05, 0x01); /* still armed; the input reads low */
    uint8_t io = 0xEE;
    t_rreg(b, 59, &io, 1);
    CHECK_EQ_INT(io & 0x08, 0); /* register 59 does not see TIO4 either */
    /* trigger-now (SETTINGS bit 6, pulsed 50 ms as NewAE's triggerNow) captures anyway */
    uint8_t s = t_rreg1(b, 1);
    t_wreg1(b, 1, (uint8_t)(s | 0x40));
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x00);
    cwsim_advance_ns(t.sim, 50 * MS_NS);
    t_wreg1(b, 1, s);
    CHECK_EQ_INT(wait_done(b, 10), 0);
    disarm(b);
    CHECK_EQ_INT(r32(b, 18), 32720);
    /* trigger-now without arming does nothing */
    t_wreg1(b, 1, (uint8_t)(s & ~0x08) | 0x40);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x02);
    t_wreg1(b, 1, (uint8_t)(s & ~0x08));
    /* cleared, the fault lets the trigger through again */
    CHECK_EQ_INT(cwsim_fault_clear(t.sim, "trigger-open"), 0);
    size_t len;
    uint8_t *d = lite_capture(&t, 100, &len);
    CHECK(first_sample(d, (len - 1) / 4) > 0);
    free(d);
    cwsim_free(t.sim);
}

static void test_disarm_and_reset(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    cwsim_board *b = t.b;
    /* disarming mid-capture stops it: the FIFO keeps what was taken. Decimating by 10, the
     * capture takes 8.3 ms; the disarm acts 0.35 ms in, after about 1030 samples. */
    uint8_t dec[2] = {9, 0};
    t_wreg(b, 15, dec, 2);
    uint8_t s = t_rreg1(b, 1);
    arm(b);
    pulse(&t, 1 * MS_NS, 100 * US_NS);
    cwsim_advance_ns(t.sim, 1 * MS_NS + 100 * US_NS);
    t_wreg1(b, 1, s);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x02);
    uint32_t ret = r32(b, 18);
    CHECK(ret >= 1000 * 4 / 3 && ret <= 1060 * 4 / 3);
    dec[0] = 0;
    t_wreg(b, 15, dec, 2);
    /* arming without a trigger, disarming: the armed flag stays up (the trigger unit's arm
     * output is cleared only by a trigger), and the next trigger clears it without capturing */
    arm(b);
    disarm(b);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x01);
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_HIGH);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x02);
    CHECK_EQ_INT(r32(b, 18), 0);
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_LOW);
    /* SETTINGS reset (bit 0) stops everything */
    arm(b);
    t_wreg1(b, 1, 0x01);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x02);
    CHECK_EQ_INT(t_rreg1(b, 1), 0x00);
    /* no ADC clock (ADC DCM held in reset): arming does nothing */
    cwsim_board_default_setup(b);
    uint8_t adv[4];
    t_rreg(b, 6, adv, 4);
    adv[0] |= 0x10;
    t_wreg(b, 6, adv, 4);
    arm(b);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x01, 0x00);
    cwsim_free(t.sim);
}

static void test_pro(void)
{
    bench t;
    bench_open(&t, CWSIM_CW1200);
    CHECK_EQ_INT(r32(t.b, 16), 5000);
    t_wreg1(t.b, 1, 0x01); /* reset: SAMPLES back to MAX_SAMPLES - 128 of cw1200.in */
    CHECK_EQ_INT(r32(t.b, 16), 98307 - 128);
    cwsim_board_default_setup(t.b);
    size_t len;
    uint8_t *d = lite_capture(&t, 5000, &len);
    long k0 = first_sample(d, (len - 1) / 4);
    CHECK(k0 >= 90 && k0 <= 110);
    CHECK_EQ_INT(sample_at(d, (size_t)k0 + 4000), ramp_code(&t.r, 4000));
    /* the Pro's capture fills its 32 756-word FIFO */
    CHECK_EQ_INT(t.r.n, 32756 * 3);
    free(d);
    cwsim_free(t.sim);
}

/* ---- Husky ------------------------------------------------------------------------------ */

static uint8_t *husky_capture(bench *t, uint32_t samples, int bits, size_t *len)
{
    w32(t->b, 16, samples);
    arm(t->b);
    pulse(t, 2 * MS_NS, 100 * US_NS);
    CHECK_EQ_INT(wait_done(t->b, 100), 0);
    disarm(t->b);
    CHECK_EQ_INT(t_rreg1(t->b, 89), 1); /* CAPTURE_DONE */
    uint32_t n = bits == 12 ? (samples * 3 + 1) / 2 : samples;
    if (n % 3)
        n += 3 - n % 3;
    uint8_t *d = calloc(n, 1);
    CHECK_EQ_INT(read_fifo(t->b, d, n), (int)n);
    *len = n;
    return d;
}

static unsigned husky12(const uint8_t *d, size_t k)
{
    const uint8_t *p = d + (k / 2) * 3;
    return k % 2 == 0 ? (unsigned)p[0] << 4 | p[1] >> 4 : (unsigned)(p[1] & 0x0F) << 8 | p[2];
}

static void test_husky(void)
{
    bench t;
    bench_open(&t, CWSIM_HUSKY);
    cwsim_board *b = t.b;
    CHECK_EQ_INT(t_rreg1(b, 1), 0x24);
    CHECK_EQ_INT(t_rreg1(b, 0), 22);
    CHECK_EQ_INT(t_rreg1(b, 61), 0x1F);
    CHECK_EQ_INT(r32(b, 93), 131124);
    CHECK_EQ_INT(r32(b, 18), 0); /* no RETSAMPLES on the Husky */
    size_t len;
    /* 12-bit: no sync byte, exactly the samples asked, from the trigger on */
    uint8_t *d = husky_capture(&t, 3000, 12, &len);
    int ok = 1;
    for (size_t k = 0; k < 3000; k++)
        ok &= husky12(d, k) == ramp_code(&t.r, (long long)k);
    CHECK(ok);
    CHECK_EQ_INT(t.r.n, 3000);
    free(d);
    /* a count that is not a multiple of 3 is rounded up; OFFSET and PRESAMPLES */
    w32(b, 26, 500);
    uint8_t pre[2] = {100, 0};
    t_wreg(b, 17, pre, 2);
    d = husky_capture(&t, 1000, 12, &len);
    CHECK_EQ_INT(t.r.n, 1002);
    ok = 1;
    for (size_t k = 0; k < 1000; k++)
        ok &= husky12(d, k) == ramp_code(&t.r, 400 + (long long)k);
    CHECK(ok);
    free(d);
    /* 8-bit (ADC_LOW_RES bit 0): the top 8 bits of each sample */
    t_wreg(b, 17, (const uint8_t[2]){0, 0}, 2);
    w32(b, 26, 0);
    t_wreg1(b, 29, 0x01);
    CHECK_EQ_INT(t_rreg1(b, 29), 0x01);
    d = husky_capture(&t, 600, 8, &len);
    ok = 1;
    for (size_t k = 0; k < 600; k++)
        ok &= d[k] == ramp_code(&t.r, (long long)k) >> 4;
    CHECK(ok);
    free(d);
    t_wreg1(b, 29, 0x00);
    /* status: armed, then capturing from the trigger (not after the offset as on the Lite) */
    w32(b, 26, 30000);
    w32(b, 16, 300);
    arm(b);
    CHECK_EQ_INT(t_rreg1(b, 89), 0);
    pulse(&t, 1 * MS_NS, 50 * US_NS);
    cwsim_advance_ns(t.sim, 1 * MS_NS + 100 * US_NS);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x03, 0x00);
    CHECK_EQ_INT(wait_done(b, 10), 0);
    disarm(b);
    /* the gain: GAIN 22 in high mode is the reference; low mode is 30 dB less */
    w32(b, 26, 0);
    t.r.constant = 1;
    t.r.value = 0.1;
    d = husky_capture(&t, 30, 12, &len);
    CHECK_EQ_INT(husky12(d, 5), (unsigned)floor(0.6 * 4096));
    free(d);
    t_wreg1(b, 61, 0x00);
    d = husky_capture(&t, 30, 12, &len);
    CHECK_EQ_INT(husky12(d, 5), (unsigned)floor((0.1 * pow(10.0, -1.5) + 0.5) * 4096));
    free(d);
    cwsim_free(t.sim);
}

/* ---- time ------------------------------------------------------------------------------- */

static void test_bulk_time(void)
{
    bench t;
    bench_open(&t, CWSIM_CWLITE);
    arm(t.b);
    pulse(&t, 1 * MS_NS, 100 * US_NS);
    CHECK_EQ_INT(wait_done(t.b, 100), 0);
    uint8_t h[8];
    t_hdr(h, 4001, 3);
    CHECK_EQ_INT(t_out(t.b, 0x10, 0, h, 8), 8);
    static uint8_t d[4001];
    uint64_t t0 = cwsim_now_ns(t.sim);
    CHECK_EQ_INT(cwsim_board_bulk(t.b, 0x81, d, 4001, T_MS), 4001);
    uint64_t dt = cwsim_now_ns(t.sim) - t0;
    /* the control latency plus 4001 bytes at 40 MB/s (contract.md §5.4) */
    CHECK_EQ_INT(dt, 500000 + (uint64_t)(4001 * 1e9 / 40e6));
    cwsim_free(t.sim);
}

int main(void)
{
    test_lite_packing();
    test_lite_status();
    test_lite_offset_presamples();
    test_lite_decimate();
    test_lite_gain_clip();
    test_noise();
    test_trigger_modes();
    test_trigger_now_and_open();
    test_disarm_and_reset();
    test_pro();
    test_husky();
    test_bulk_time();
    return check_report("sim_adc");
}
