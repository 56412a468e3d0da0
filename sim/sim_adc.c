/* SPDX-License-Identifier: MIT */
/* libcwsim ADC capture path: the OpenADC trigger unit, the sample FIFO and its read-out through
 * register 3, on the CW-Lite/Pro (10-bit samples, three to a big-endian word, behind a 0xAC sync
 * byte) and the Husky (12- or 8-bit samples). The chip supplies its current through
 * cwsim_target_ops.power_trace; the board applies the amplifier's gain, the noise, clipping and
 * quantisation. Section numbers refer to cw-usb-protocol.md: §4.10 describes what is modelled
 * here and where each fact comes from; §4.4 trigger routing, §4.7 gain, §4.8 and §4.9 the ADC
 * clock. */
#include "sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* MAX_SAMPLES of each build (§4.10.4): the Lite's cwlite.in, the Pro's cw1200.in, the Husky's
 * setup.v. */
#define LITE_MAX_SAMPLES  24573u
#define PRO_MAX_SAMPLES   98307u
#define HUSKY_MAX_SAMPLES 131124u

static int is_husky(const cwsim_board *b)
{
    return b->kd->kind == CWSIM_HUSKY;
}

static uint32_t max_samples(const cwsim_board *b)
{
    switch (b->kd->kind) {
    case CWSIM_CW1200:
        return PRO_MAX_SAMPLES;
    case CWSIM_HUSKY:
        return HUSKY_MAX_SAMPLES;
    default:
        return LITE_MAX_SAMPLES;
    }
}

/* Lite/Pro FIFO (§4.10.2): after the trigger it takes FIFO_FULL_SIZE - 6 - PRESAMPLES samples,
 * FIFO_FULL_SIZE being MAX_SAMPLES - 128 (SAMPLES' reset value); before it, it drains whole
 * 128-bit words to keep at most ((MAX_SAMPLES - 32) / 3) / 4 of them. */
static uint32_t fifo_full(const cwsim_board *b)
{
    return max_samples(b) - 128u;
}

static uint64_t fifo_cap_words(const cwsim_board *b)
{
    return (uint64_t)((max_samples(b) - 32u) / 3u / 4u) * 4u; /* 32-bit words */
}

static uint32_t reg32(const cwsim_board *b, unsigned a)
{
    const uint8_t *p = b->fpga.reg[a];
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ns_of(double clocks, double hz)
{
    return (uint64_t)ceil(clocks * 1e9 / hz);
}

static uint64_t clocks_in(uint64_t ns, double hz)
{
    return (uint64_t)floor((double)ns * hz / 1e9);
}

/* §4.7: the gain in dB that the register values give, as NewAE's getter computes it; the
 * board's reference is what `gain.db = 25` (default_setup) writes, so that a chip's samples
 * come out unchanged at the default: Lite/Pro GAIN 30 in high mode, Husky GAIN 22 with
 * CW_VMAG_CTRL 0x1F. */
static double gain_db_of(const cwsim_board *b, unsigned g, int high)
{
    if (is_husky(b))
        return (high ? 15.0 : -15.0) + 50.0 * (double)g / 109.0;
    return 50.0 * ((double)g / 256.0 * 3.3) + (high ? 5.5 : -6.5);
}

static double gain_scale(const cwsim_board *b)
{
    unsigned g = b->fpga.reg[0][0];
    int high = is_husky(b) ? b->fpga.reg[61][0] == 0x1F : (b->fpga.reg[1][0] & 0x02) != 0;
    double ref = is_husky(b) ? gain_db_of(b, 22, 1) : gain_db_of(b, 30, 1);
    return pow(10.0, (gain_db_of(b, g, high) - ref) / 20.0);
}

void adc_reset(cwsim_board *b)
{
    sim_adc *a = &b->adc;
    a->state = ADC_IDLE;
    a->arm_in = 0;
    a->arm_pending = 0;
    a->armed = 0;
    a->match = 0;
    a->dur_ns = 0;
    a->match_since = b->sim != NULL ? b->sim->now : 0;
    a->done_flag = 0;
    a->len = 0;
    a->pos = 0;
}

void adc_free(cwsim_board *b)
{
    free(b->adc.data);
    free(b->adc.buf);
    b->adc.data = NULL;
    b->adc.buf = NULL;
    b->adc.cap = 0;
    b->adc.bufcap = 0;
}

/* ---- the capture ------------------------------------------------------------------------- */

/* Samples written into the Lite/Pro FIFO since arming, by time t (§4.10.2): every ADC clock
 * while waiting (only without decimation, whose counter stands still until the capture),
 * then one every `dec` clocks from go until the capture ends. */
static uint64_t lite_written(const cwsim_board *b, uint64_t t)
{
    const sim_adc *a = &b->adc;
    if (a->state == ADC_WAIT) {
        double hz = fpga_adc_hz(b);
        unsigned dec = (unsigned)(b->fpga.reg[15][0] | (b->fpga.reg[15][1] & 0x1F) << 8) + 1u;
        return hz > 0 && dec == 1 ? clocks_in(t - a->arm_ns, hz) : 0;
    }
    if (t < a->go_ns)
        return a->dec == 1 ? clocks_in(t - a->arm_ns, a->hz) : 0;
    uint64_t taken = clocks_in(t - a->go_ns, a->hz) / a->dec;
    return a->s0 + (taken < a->post ? taken : a->post);
}

/* The FIFO's readable words once w words were written: it reads out in 128-bit units (4
 * words), only whole ones, and drains the oldest whenever it holds more than its capacity.
 * *first: the index of the first readable word since arming. */
static uint64_t lite_readable(const cwsim_board *b, uint64_t w, uint64_t *first)
{
    uint64_t units = w / 4u, cap = fifo_cap_words(b) / 4u;
    uint64_t keep = units < cap ? units : cap;
    if (first != NULL)
        *first = 4u * (units - keep);
    return 4u * keep;
}

static int reserve(sim_adc *a, size_t bytes, size_t samples)
{
    if (bytes > a->cap) {
        uint8_t *p = realloc(a->data, bytes);
        if (p == NULL)
            return -1;
        a->data = p;
        a->cap = bytes;
    }
    if (samples > a->bufcap) {
        float *p = realloc(a->buf, samples * sizeof *p);
        if (p == NULL)
            return -1;
        a->buf = p;
        a->bufcap = samples;
    }
    return 0;
}

/* The chip's current for n samples from t0 on at rate samples/s, through the amplifier, the
 * noise and the ADC: codes of `bits` bits in a->buf (as floats, exact). */
static void sample(cwsim_board *b, double t0, double rate, size_t n, unsigned bits)
{
    sim_adc *a = &b->adc;
    cwsim *sim = b->sim;
    for (size_t i = 0; i < n; i++)
        a->buf[i] = 0.0f;
    if (n > 0 && b->tops != NULL && b->tops->power_trace != NULL)
        b->tops->power_trace(b->tctx, t0, rate, a->buf, n);
    double full = (double)(1u << bits), sigma = cwsim_noise(sim);
    for (size_t i = 0; i < n; i++) {
        double v = (double)a->buf[i];
        if (isnan(v))
            v = 0.0;
        v *= a->scale;
        if (sigma > 0)
            v += sigma * sim_noise_gauss(sim);
        /* clip to the ADC's range [-0.5, 0.5 - 1 LSB], then code = floor((v + 0.5) * 2^bits) */
        double code = floor((v + 0.5) * full);
        if (!(code >= 0.0))
            code = 0.0;
        if (code > full - 1.0)
            code = full - 1.0;
        a->buf[i] = (float)code;
    }
}

/* Lite/Pro: the FIFO's readable words as big-endian bytes (§4.10.2). Word w holds samples
 * 3w..3w+2 (counted from arming) in bits 9:0, 19:10, 29:20; bits 31:30 hold 3 before the
 * capture and, from the word holding the capture's first sample on, that sample's place in its
 * word. */
static void lite_fill(cwsim_board *b, uint32_t taken)
{
    sim_adc *a = &b->adc;
    uint64_t first, w = (a->s0 + taken) / 3u;
    uint64_t nw = lite_readable(b, w, &first);
    size_t n = (size_t)(nw * 3u);
    if (reserve(a, (size_t)nw * 4u, n) != 0) {
        a->len = 0;
        return;
    }
    /* sample k (since arming) was taken at go + (k - s0) clocks before the capture, at
     * go + ((k - s0) * dec + dec - 1) clocks in it: one grid whatever dec (s0 = 0 when dec > 1) */
    double k0 = (double)(first * 3u) - (double)a->s0;
    double t0 = (double)a->go_ns + (k0 * a->dec + (double)(a->dec - 1u)) * 1e9 / a->hz;
    sample(b, t0, a->hz / a->dec, n, 10);
    uint64_t trig_word = a->s0 / 3u;
    uint32_t mark = (uint32_t)(a->s0 % 3u);
    for (size_t j = 0; j < (size_t)nw; j++) {
        uint32_t word = (uint32_t)a->buf[3 * j] | (uint32_t)a->buf[3 * j + 1] << 10 |
                        (uint32_t)a->buf[3 * j + 2] << 20;
        word |= (first + j >= trig_word ? mark : 3u) << 30;
        uint8_t *p = a->data + 4 * j;
        p[0] = (uint8_t)(word >> 24);
        p[1] = (uint8_t)(word >> 16);
        p[2] = (uint8_t)(word >> 8);
        p[3] = (uint8_t)word;
    }
    a->len = (size_t)nw * 4u;
}

/* Husky: PRESAMPLES samples before go, then the rest of SAMPLES (rounded up to a multiple of
 * 3), 12-bit big-endian, two samples in three bytes, or the top 8 bits of each (ADC_LOW_RES
 * bit 0; bit 1 takes the low 8 bits instead) (§4.10.3). */
static void husky_fill(cwsim_board *b, uint32_t taken)
{
    sim_adc *a = &b->adc;
    size_t n = (size_t)a->pre + taken;
    uint8_t lowres = b->fpga.reg[29][0];
    size_t bytes = (lowres & 0x01) ? n : (n * 3u + 1u) / 2u;
    if (reserve(a, bytes + 1u, n) != 0) {
        a->len = 0;
        return;
    }
    double t0 = (double)a->go_ns - (double)a->pre * a->dec * 1e9 / a->hz;
    sample(b, t0, a->hz / a->dec, n, 12);
    if (lowres & 0x01) {
        for (size_t i = 0; i < n; i++) {
            unsigned c = (unsigned)a->buf[i];
            a->data[i] = (uint8_t)((lowres & 0x02) ? c & 0xFFu : c >> 4);
        }
    } else {
        memset(a->data, 0, bytes + 1u);
        for (size_t i = 0; i < n; i++) {
            unsigned c = (unsigned)a->buf[i];
            size_t bit = i * 12u; /* big-endian bit stream */
            uint8_t *p = a->data + bit / 8u;
            if (bit % 8u == 0) {
                p[0] = (uint8_t)(c >> 4);
                p[1] = (uint8_t)(p[1] | (c & 0x0Fu) << 4);
            } else {
                p[0] = (uint8_t)(p[0] | c >> 8);
                p[1] = (uint8_t)c;
            }
        }
    }
    a->len = bytes;
}

/* The capture ends at time t: the whole of it, or the part taken before a disarm. */
static void finish(cwsim_board *b, uint64_t t)
{
    sim_adc *a = &b->adc;
    uint32_t taken = a->post;
    if (t < a->end_ns) {
        uint64_t k = t > a->go_ns ? clocks_in(t - a->go_ns, a->hz) / a->dec : 0;
        taken = k < a->post ? (uint32_t)k : a->post;
    }
    a->pos = 0;
    if (is_husky(b))
        husky_fill(b, taken);
    else
        lite_fill(b, taken);
    a->state = ADC_DONE;
    a->done_flag = 1;
}

/* The trigger at now (or trigger-now): the capture's geometry and timing (§4.10.1). */
static void trigger(cwsim_board *b, uint64_t now, double hz)
{
    sim_adc *a = &b->adc;
    a->state = ADC_RUN;
    a->hz = hz;
    a->dec = (unsigned)(b->fpga.reg[15][0] | (b->fpga.reg[15][1] & 0x1F) << 8) + 1u;
    a->go_ns = now + ns_of((double)reg32(b, 26), hz);
    a->scale = gain_scale(b);
    if (is_husky(b)) {
        uint32_t n = reg32(b, 16), max = max_samples(b);
        if (n > max)
            n = max; /* more would overflow the FIFO (unconfirmed what then) */
        n = n < 3u ? 3u : (n + 2u) / 3u * 3u;
        uint32_t pre = (uint32_t)(b->fpga.reg[17][0] | (b->fpga.reg[17][1] & 0x7F) << 8);
        a->pre = pre < n ? pre : n - 1u;
        a->post = n - a->pre;
        a->s0 = 0;
    } else {
        uint32_t pre = reg32(b, 17), limit = fifo_full(b) - 6u;
        a->pre = 0;
        a->post = pre < limit ? limit - pre : 1u; /* the HDL's counter would never stop */
        a->s0 = a->dec == 1 ? clocks_in(a->go_ns - a->arm_ns, hz) : 0;
    }
    a->end_ns = a->go_ns + ns_of((double)a->post * a->dec, hz);
}

void adc_update(cwsim_board *b)
{
    sim_adc *a = &b->adc;
    if (!b->kd->has_fpga)
        return;
    uint64_t now = b->sim->now;
    uint8_t s = b->fpga.done ? b->fpga.reg[1][0] : 0;
    int arm_in = (s & 0x08) != 0, trig_now = (s & 0x40) != 0;
    int match = b->fpga.done && fpga_trigger_input(b) == ((s & 0x04) != 0);
    double hz = b->fpga.done ? fpga_adc_hz(b) : 0.0;

    /* TRIGGER_DUR counts the ADC clocks at the active level since arming */
    if (a->match)
        a->dur_ns += now - a->match_since;
    a->match = match;
    a->match_since = now;

    if (arm_in && !a->arm_in)
        a->arm_pending = 1;
    if (!arm_in)
        a->arm_pending = 0;
    if (!arm_in && a->arm_in && a->state == ADC_RUN)
        finish(b, now); /* disarming stops a capture: the FIFO keeps what it has */
    a->arm_in = arm_in;
    if (hz <= 0)
        return; /* the trigger unit runs on the ADC clock */
    if (a->arm_pending) {
        a->arm_pending = 0;
        /* armed and never triggered: the arm flag is still up, so the FIFO does not restart */
        if (a->state != ADC_WAIT) {
            a->state = ADC_WAIT;
            a->arm_ns = now;
            a->armed = 0;
            a->len = 0;
            a->pos = 0;
            a->done_flag = 0;
            a->dur_ns = 0;
        }
    }
    if (a->state != ADC_WAIT)
        return;
    if (!a->armed && (!match || !(s & 0x20))) /* edge mode waits for the inactive level */
        a->armed = 1;
    if (arm_in && ((a->armed && match) || trig_now))
        trigger(b, now, hz);
    else if (!arm_in && a->armed && match)
        a->state = ADC_IDLE; /* the trigger came after a disarm: it clears the flag only */
}

uint64_t adc_next_event(const cwsim_board *b)
{
    return b->adc.state == ADC_RUN ? b->adc.end_ns : UINT64_MAX;
}

void adc_event(cwsim_board *b)
{
    if (b->adc.state == ADC_RUN)
        finish(b, b->adc.end_ns);
}

/* ---- what the host reads ------------------------------------------------------------------ */

uint8_t adc_status(const cwsim_board *b)
{
    const sim_adc *a = &b->adc;
    int capturing = a->state == ADC_RUN;
    if (capturing && !is_husky(b))
        capturing = b->sim->now >= a->go_ns; /* the Lite's flag follows the delayed capture */
    return (uint8_t)((a->state == ADC_WAIT ? 0x01 : 0x00) | (capturing ? 0x00 : 0x02));
}

uint32_t adc_retsamples(const cwsim_board *b)
{
    const sim_adc *a = &b->adc;
    if (a->state == ADC_DONE)
        return (uint32_t)((a->len - a->pos) / 16u * 16u);
    if (a->state == ADC_IDLE)
        return 0;
    uint64_t nw = lite_readable(b, lite_written(b, b->sim->now) / 3u, NULL);
    uint64_t bytes = nw * 4u;
    return bytes > 0xFFFFFFF0u ? 0xFFFFFFF0u : (uint32_t)bytes;
}

uint32_t adc_trigger_dur(const cwsim_board *b)
{
    const sim_adc *a = &b->adc;
    double hz = fpga_adc_hz(b);
    uint64_t ns = a->dur_ns + (a->match ? b->sim->now - a->match_since : 0);
    uint64_t n = hz > 0 ? clocks_in(ns, hz) : 0;
    return n > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)n;
}

uint8_t adc_peek_byte(const cwsim_board *b, unsigned idx)
{
    const sim_adc *a = &b->adc;
    if (!is_husky(b)) {
        if (idx == 0)
            return 0xAC; /* every access to register 3 starts with the sync byte */
        idx--;
    }
    if (a->state != ADC_DONE || a->pos + idx >= a->len)
        return 0x00; /* an empty FIFO, or one still capturing, reads 0 (unconfirmed) */
    return a->data[a->pos + idx];
}

uint8_t adc_read_byte(cwsim_board *b, unsigned idx)
{
    sim_adc *a = &b->adc;
    if (!is_husky(b) && idx == 0)
        return 0xAC;
    if (a->state != ADC_DONE || a->pos >= a->len)
        return 0x00;
    return a->data[a->pos++];
}
