/* SPDX-License-Identifier: MIT */
/* The power model of the simulated SimpleSerial AES application (cwsim_ssapp.h,
 * docs/simulator.md "The power model"): the cycle schedule of the modelled AES, its
 * intermediates against FIPS-197 Appendix B, where and how much each one leaks in the trace a
 * chip hands the board's ADC, the baseline around it, and a textbook CPA (Hamming weight of the
 * first-round S-box output, Pearson correlation over the first 3000 samples at 4 samples per
 * target cycle) on traces with the ADC's default noise and 10-bit quantisation: it must find
 * all 16 key bytes in clearly under 100 traces. Then the same attack end to end: an XMEGA running
 * ss1-aes behind a simulated CW-Lite, captured through the board's ADC as NewAE's library does
 * (arm, plaintext over the USART bridge, wait, read register 3), trigger on TIO4. */
#include "cwsim_ssapp.h"
#include "cwsim_xmega.h"
#include "simtest.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HZ      7384600.0 /* the board's default target clock (contract.md §5) */
#define ADC_HZ  (4 * HZ)  /* CW-Lite default_setup: ADC clock = CLKGEN x 4 */
#define SAMPLES 3000
#define START   1000000ull /* the trigger's rising edge in the tests, ns */

static void unhex(const char *s, uint8_t *out)
{
    for (size_t i = 0; s[2 * i] != '\0'; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

static unsigned hw(uint8_t x)
{
    unsigned n = 0;
    for (; x != 0; x &= (uint8_t)(x - 1))
        n++;
    return n;
}

/* ---- the schedule --------------------------------------------------------------------------- */

static void schedule(void)
{
    cwsim_aes_leak s[CWSIM_AES_NLEAKS];
    CHECK_EQ_INT(cwsim_aes_schedule(s), CWSIM_AES_NLEAKS);
    unsigned count[11][CWSIM_AES_NOPS] = {{0}};
    unsigned seen[11][CWSIM_AES_NOPS] = {{0}}; /* bit per byte */
    int ordered = 1, unique = 1;
    unsigned last_sub1 = 0;
    for (size_t i = 0; i < CWSIM_AES_NLEAKS; i++) {
        if (i > 0 && s[i].cycle <= s[i - 1].cycle)
            ordered = 0;
        CHECK(s[i].cycle < CWSIM_AES_CYCLES);
        count[s[i].round][s[i].op]++;
        unsigned bit = 1u << s[i].byte;
        if (seen[s[i].round][s[i].op] & bit)
            unique = 0;
        seen[s[i].round][s[i].op] |= bit;
        if (s[i].round == 1 && s[i].op == CWSIM_AES_SUBBYTES && s[i].cycle > last_sub1)
            last_sub1 = s[i].cycle;
    }
    CHECK(ordered);
    CHECK(unique);
    /* round 0: AddRoundKey only; rounds 1-9: all four passes; round 10: no MixColumns */
    CHECK_EQ_INT(count[0][CWSIM_AES_ADDROUNDKEY], 16);
    CHECK_EQ_INT(count[0][CWSIM_AES_SUBBYTES], 0);
    for (unsigned r = 1; r <= 10; r++) {
        CHECK_EQ_INT(count[r][CWSIM_AES_SUBBYTES], 16);
        CHECK_EQ_INT(count[r][CWSIM_AES_SHIFTROWS], 12);
        CHECK_EQ_INT(count[r][CWSIM_AES_MIXCOLUMNS], r < 10 ? 16 : 0);
        CHECK_EQ_INT(count[r][CWSIM_AES_ADDROUNDKEY], 16);
    }
    CHECK_EQ_INT(seen[1][CWSIM_AES_SHIFTROWS] & 0x1111u, 0); /* row 0 does not move */
    /* the first round's S-box outputs all lie in the first 750 cycles: 3000 samples at x4 */
    CHECK(last_sub1 < 750);
    /* the schedule as docs/simulator.md tabulates it */
    CHECK_EQ_INT(s[0].cycle, 31); /* round 0 AddRoundKey byte 0 */
    CHECK_EQ_INT(s[16].cycle, 173);
    CHECK_EQ_INT(s[16].round, 1);
    CHECK_EQ_INT(s[16].op, CWSIM_AES_SUBBYTES);
    CHECK_EQ_INT(last_sub1, 173 + 15 * 9);
    CHECK_EQ_INT(s[CWSIM_AES_NLEAKS - 1].cycle, CWSIM_AES_CYCLES - 14 - 4 - 3);
}

/* FIPS-197 Appendix B, round 1: start of round, after SubBytes, ShiftRows, MixColumns, and the
 * round key added; then the ciphertext. */
static void values(void)
{
    uint8_t key[16], pt[16], ct[16], want[16], got[16];
    unhex("2b7e151628aed2a6abf7158809cf4f3c", key);
    unhex("3243f6a8885a308d313198a2e0370734", pt);
    cwsim_aes_leak s[CWSIM_AES_NLEAKS];
    cwsim_aes128_leaks(key, pt, ct, s);
    unhex("3925841d02dc09fbdc118597196a0b32", want);
    CHECK_MEM(ct, want, 16);
    static const struct {
        unsigned round, op;
        const char *hex;
    } ref[] = {
        {0, CWSIM_AES_ADDROUNDKEY, "193de3bea0f4e22b9ac68d2ae9f84808"},
        {1, CWSIM_AES_SUBBYTES, "d42711aee0bf98f1b8b45de51e415230"},
        {1, CWSIM_AES_SHIFTROWS, "d4bf5d30e0b452aeb84111f11e2798e5"},
        {1, CWSIM_AES_MIXCOLUMNS, "046681e5e0cb199a48f8d37a2806264c"},
        {1, CWSIM_AES_ADDROUNDKEY, "a49c7ff2689f352b6b5bea43026a5049"},
        {10, CWSIM_AES_SUBBYTES, "e9098972cb31075f3d327d94af2e2cb5"},
        {10, CWSIM_AES_ADDROUNDKEY, "3925841d02dc09fbdc118597196a0b32"},
    };
    for (size_t k = 0; k < sizeof ref / sizeof ref[0]; k++) {
        unhex(ref[k].hex, want);
        memset(got, 0, sizeof got);
        unsigned mask = 0;
        for (size_t i = 0; i < CWSIM_AES_NLEAKS; i++) {
            if (s[i].round == ref[k].round && s[i].op == ref[k].op) {
                got[s[i].byte] = s[i].value;
                mask |= 1u << s[i].byte;
            }
        }
        if (ref[k].op == CWSIM_AES_SHIFTROWS) { /* only rows 1-3 are stored */
            for (unsigned c = 0; c < 4; c++)
                want[4 * c] = 0;
            CHECK_EQ_INT(mask, 0xEEEE);
        } else {
            CHECK_EQ_INT(mask, 0xFFFF);
        }
        CHECK_MEM(got, want, 16);
    }
    /* the step-by-step cipher is the cipher */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int n = 0; n < 50; n++) {
        for (int i = 0; i < 16; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            key[i] = (uint8_t)(x >> 56);
            pt[i] = (uint8_t)(x >> 48);
        }
        cwsim_aes128_leaks(key, pt, ct, NULL);
        cwsim_aes128_encrypt(key, pt, want);
        CHECK_MEM(ct, want, 16);
    }
}

/* ---- the trace ------------------------------------------------------------------------------ */

/* An application that just encrypted pt under key at START, at HZ; reply_ns after it. */
static void encrypt(cwsim_ssapp *a, const uint8_t key[16], const uint8_t pt[16], uint64_t reply_ns)
{
    static const char HEX[] = "0123456789abcdef";
    uint8_t out[CWSIM_SSAPP_OUT_MAX];
    cwsim_ssapp_init(a, CWSIM_SSAPP_V1);
    memcpy(a->key, key, 16);
    CHECK_EQ_INT(cwsim_ssapp_rx(a, 'p', out), 0);
    for (int i = 0; i < 16; i++) {
        cwsim_ssapp_rx(a, (uint8_t)HEX[pt[i] >> 4], out);
        cwsim_ssapp_rx(a, (uint8_t)HEX[pt[i] & 15], out);
    }
    CHECK_EQ_INT(cwsim_ssapp_rx(a, '\n', out), 38); /* r + 32 hex + \n, z00\n */
    CHECK_EQ_INT(a->aes_pending, 1);
    uint64_t ns = cwsim_ssapp_aes_start(a, START, HZ, reply_ns);
    CHECK(ns == (uint64_t)llround(CWSIM_AES_CYCLES * 1e9 / HZ));
    CHECK_EQ_INT(a->aes_pending, 0);
}

static void leakage(void)
{
    uint8_t key[16], pt[16], ct[16];
    unhex("000102030405060708090a0b0c0d0e0f", key);
    unhex("00112233445566778899aabbccddeeff", pt);
    cwsim_aes_leak s[CWSIM_AES_NLEAKS];
    cwsim_aes128_leaks(key, pt, ct, s);
    cwsim_ssapp a, zero;
    encrypt(&a, key, pt, 100000);
    zero = a; /* the same run storing only zeros: the difference is the leakage alone */
    memset(zero.runs[0].v, 0, sizeof zero.runs[0].v);
    size_t n = 4 * CWSIM_AES_CYCLES + 4000; /* the whole encryption, the reply, idle */
    float *t = malloc(n * sizeof *t), *b = malloc(n * sizeof *b), *t2 = malloc(n * sizeof *t2);
    if (t == NULL || b == NULL || t2 == NULL)
        return;
    cwsim_ssapp_power(&a, 1, HZ, (double)START, ADC_HZ, t, n);
    cwsim_ssapp_power(&zero, 1, HZ, (double)START, ADC_HZ, b, n);
    /* each intermediate at its cycle: k x HW on the 4 samples of that cycle, nothing elsewhere */
    size_t next = 0, wrong = 0;
    for (size_t i = 0; i < n; i++) {
        size_t cycle = i / 4;
        double want = 0;
        while (next < CWSIM_AES_NLEAKS && s[next].cycle < cycle)
            next++;
        if (next < CWSIM_AES_NLEAKS && s[next].cycle == cycle)
            want = CWSIM_AES_LEAK_PER_BIT * hw(s[next].value);
        if (fabs((double)(t[i] - b[i]) - want) > 1e-6)
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    /* deterministic; the same for an ADC window that starts elsewhere */
    cwsim_ssapp_power(&a, 1, HZ, (double)START, ADC_HZ, t2, n);
    CHECK_MEM(t2, t, n * sizeof *t);
    cwsim_ssapp_power(&a, 1, HZ, (double)START + 1000 * 1e9 / ADC_HZ, ADC_HZ, t2, 100);
    CHECK_MEM(t2, t + 1000, 100 * sizeof *t);
    /* a trace looks like one: within +-0.25, swinging by about 0.05-0.1 around its mean */
    double lo = 1, hi = -1, sum = 0, sq = 0;
    for (size_t i = 0; i < 4 * CWSIM_AES_CYCLES; i++) {
        double v = (double)t[i];
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        sum += v;
        sq += v * v;
    }
    double mean = sum / (4 * CWSIM_AES_CYCLES),
           sd = sqrt(sq / (4 * CWSIM_AES_CYCLES) - mean * mean);
    CHECK(lo > -0.25 && hi < 0.25);
    CHECK(fabs(mean) < 0.05);
    CHECK(sd > 0.02 && sd < 0.1);
    /* before the trigger (idle loop), during, after (the reply's putch loop): three patterns */
    float before[40], idle_again[40];
    cwsim_ssapp_power(&a, 1, HZ, (double)START - 40 * 1e9 / ADC_HZ, ADC_HZ, before, 40);
    CHECK(memcmp(before, t, sizeof before) != 0);
    size_t after = (size_t)ceil(((double)a.runs[0].end_ns - START) * ADC_HZ * 1e-9) + 1;
    CHECK(memcmp(t + after, t, 40 * sizeof *t) != 0);
    CHECK(memcmp(t + after, before, sizeof before) != 0);
    /* the idle loop repeats every 5 cycles (20 samples) */
    cwsim_ssapp_power(&a, 1, HZ, (double)START - 20 * 1e9 / ADC_HZ - 40 * 1e9 / ADC_HZ, ADC_HZ,
                      idle_again, 40);
    CHECK(memcmp(idle_again + 20, before, 20 * sizeof *before) == 0);
    /* idle: the baseline only, whatever the last key and plaintext */
    cwsim_ssapp idle;
    cwsim_ssapp_init(&idle, CWSIM_SSAPP_V1);
    cwsim_ssapp_power(&idle, 1, HZ, (double)START - 40 * 1e9 / ADC_HZ, ADC_HZ, t2, 40);
    CHECK_MEM(t2, before, sizeof before);
    /* not running, or no clock: no cycles, a constant current (0) outside the encryption */
    cwsim_ssapp_power(&idle, 0, HZ, (double)START, ADC_HZ, t2, 100);
    int zeros = 1;
    for (int i = 0; i < 100; i++)
        zeros = zeros && t2[i] == 0.0f;
    cwsim_ssapp_power(&idle, 1, 0, (double)START, ADC_HZ, t2, 100);
    for (int i = 0; i < 100; i++)
        zeros = zeros && t2[i] == 0.0f;
    CHECK(zeros);
    /* a recorded encryption is still in the trace of a chip stopped since */
    cwsim_ssapp_power(&a, 0, 0, (double)START, ADC_HZ, t2, 100);
    CHECK_MEM(t2, t, 100 * sizeof *t);
    /* without a clock the application cannot encrypt: nothing recorded, no delay */
    cwsim_ssapp c = a;
    c.aes_pending = 1;
    CHECK_EQ_INT(cwsim_ssapp_aes_start(&c, START, 0, 0), 0);
    CHECK_EQ_INT(c.aes_pending, 0);
    CHECK_EQ_INT(c.nruns, 1);
    free(t);
    free(b);
    free(t2);
}

/* ---- a textbook CPA ------------------------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double gauss(void) /* Box-Muller */
{
    double u = ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
    double v = (double)(rnd() >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

#define MAXN 100

/* One capture as the board makes it from the chip's signal: noise of sigma at the ADC, then a
 * 10-bit code (CW-Lite), read back as ChipWhisperer scales it. */
static void capture(const uint8_t key[16], const uint8_t pt[16], double sigma, float *trace)
{
    cwsim_ssapp a;
    encrypt(&a, key, pt, 0);
    cwsim_ssapp_power(&a, 1, HZ, (double)START, ADC_HZ, trace, SAMPLES);
    for (size_t j = 0; j < SAMPLES; j++) {
        double v = (double)trace[j] + sigma * gauss();
        double code = floor((v + 0.5) * 1024);
        code = code < 0 ? 0 : code > 1023 ? 1023 : code;
        trace[j] = (float)(code / 1024 - 0.5);
    }
}

/* The traces a CPA on byte b needs: the least N from which on (to nmax) the key byte has the
 * highest |correlation| of all 256 guesses at any sample. nmax + 1 if never. */
static int cpa_byte(const float *traces, const uint8_t (*pts)[16], const uint8_t sbox[256],
                    unsigned b, uint8_t key_byte, int nmax)
{
    static double shx[256][SAMPLES]; /* sum of h(guess) * x per sample */
    static double sx[SAMPLES], sxx[SAMPLES];
    double sh[256] = {0}, shh[256] = {0};
    memset(shx, 0, sizeof shx);
    memset(sx, 0, sizeof sx);
    memset(sxx, 0, sizeof sxx);
    int needed = nmax + 1;
    for (int n = 1; n <= nmax; n++) {
        const float *x = traces + (size_t)(n - 1) * SAMPLES;
        for (size_t j = 0; j < SAMPLES; j++) {
            sx[j] += (double)x[j];
            sxx[j] += (double)x[j] * (double)x[j];
        }
        for (unsigned g = 0; g < 256; g++) {
            double h = hw(sbox[pts[n - 1][b] ^ g]);
            sh[g] += h;
            shh[g] += h * h;
            if (h != 0)
                for (size_t j = 0; j < SAMPLES; j++)
                    shx[g][j] += h * (double)x[j];
        }
        if (n < 4)
            continue;
        /* Pearson's r = (n Shx - Sh Sx) / sqrt((n Shh - Sh^2)(n Sxx - Sx^2)) */
        static double inv_dx[SAMPLES];
        for (size_t j = 0; j < SAMPLES; j++) {
            double dx = n * sxx[j] - sx[j] * sx[j];
            inv_dx[j] = dx > 0 ? 1 / sqrt(dx) : 0;
        }
        double best = -1;
        unsigned best_g = 0;
        for (unsigned g = 0; g < 256; g++) {
            double dh = n * shh[g] - sh[g] * sh[g];
            if (!(dh > 0))
                continue;
            double peak = 0;
            for (size_t j = 0; j < SAMPLES; j++) {
                double v = fabs(n * shx[g][j] - sh[g] * sx[j]) * inv_dx[j];
                peak = v > peak ? v : peak;
            }
            if (peak / sqrt(dh) > best) {
                best = peak / sqrt(dh);
                best_g = g;
            }
        }
        if (best_g != key_byte)
            needed = nmax + 1;
        else if (needed > nmax)
            needed = n;
    }
    return needed;
}

static void cpa(void)
{
    /* the S-box, from the cipher: S(x) is the first-round SubBytes of plaintext x, key 0 */
    uint8_t sbox[256], key[16] = {0}, pt[16] = {0}, ct[16];
    cwsim_aes_leak s[CWSIM_AES_NLEAKS];
    for (unsigned x = 0; x < 256; x++) {
        pt[0] = (uint8_t)x;
        cwsim_aes128_leaks(key, pt, ct, s);
        sbox[x] = s[16].value; /* round 1 SubBytes byte 0 */
    }
    CHECK_EQ_INT(sbox[0], 0x63); /* FIPS-197 Figure 7 */
    float *traces = malloc((size_t)MAXN * SAMPLES * sizeof *traces);
    uint8_t(*pts)[16] = malloc(MAXN * sizeof *pts);
    if (traces == NULL || pts == NULL)
        return;
    int worst_seed = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        rng_state = seed;
        for (int i = 0; i < 16; i++)
            key[i] = (uint8_t)rnd();
        for (int n = 0; n < MAXN; n++) {
            for (int i = 0; i < 16; i++)
                pts[n][i] = (uint8_t)rnd();
            capture(key, pts[n], CWSIM_NOISE_DEFAULT, traces + (size_t)n * SAMPLES);
        }
        int worst = 0;
        for (unsigned b = 0; b < 16; b++) {
            int need = cpa_byte(traces, (const uint8_t(*)[16])pts, sbox, b, key[b], MAXN);
            if (need > worst)
                worst = need;
        }
        printf("power: a CPA on first-round S-box HW finds all 16 key bytes from %d traces "
               "(noise %.3g, k %.3g per bit, seed %llu)\n",
               worst, CWSIM_NOISE_DEFAULT, CWSIM_AES_LEAK_PER_BIT, (unsigned long long)seed);
        if (worst > worst_seed)
            worst_seed = worst;
    }
    CHECK(worst_seed <= 50); /* clearly under 100 */
    free(traces);
    free(pts);
}

/* ---- the same through the board ------------------------------------------------------------ */

/* "p" + 32 hex digits + "\n" (or "k" ...) */
static void ss1_line(char letter, const uint8_t v[16], char *out)
{
    static const char HEX[] = "0123456789abcdef";
    out[0] = letter;
    for (int i = 0; i < 16; i++) {
        out[1 + 2 * i] = HEX[v[i] >> 4];
        out[2 + 2 * i] = HEX[v[i] & 15];
    }
    out[33] = '\n';
    out[34] = '\0';
}

/* What the board's USART received within timeout_ns of virtual time, up to n bytes. */
static size_t uart_recv(cwsim_board *b, uint8_t *out, size_t n, uint64_t timeout_ns)
{
    cwsim *sim = cwsim_board_sim(b);
    uint64_t end = cwsim_now_ns(sim) + timeout_ns;
    size_t got = 0;
    while (got < n && cwsim_now_ns(sim) < end) {
        uint32_t avail = t_rx_waiting(b);
        if (avail == 0 || avail == 0xFFFFFFFFu) {
            cwsim_advance_ns(sim, 1000000);
            continue;
        }
        if (avail > n - got)
            avail = (uint32_t)(n - got);
        CHECK_EQ_INT(t_in(b, 0x1A, 0, out + got, (uint16_t)avail), (int)avail);
        got += avail;
    }
    return got;
}

/* One capture of SAMPLES samples from the trigger as NewAE's capture() and readData() make it on
 * a CW-Lite (cw-usb-protocol.md §4.10): arm, send the plaintext, poll STATUS until the capture
 * ended, disarm, RETSAMPLES, one read of register 3; then the 10-bit samples from the first
 * word marked as the trigger's, as ChipWhisperer scales them. 0 ok. */
static int board_trace(cwsim_board *b, const uint8_t pt[16], float *trace)
{
    char line[35];
    ss1_line('p', pt, line);
    t_wreg1(b, 1, (uint8_t)(t_rreg1(b, 1) | 0x08)); /* arm */
    t_out(b, 0x1A, 0, line, 34);
    cwsim *sim = cwsim_board_sim(b);
    uint64_t end = cwsim_now_ns(sim) + 100000000ull;
    int done = 0;
    while (!done && cwsim_now_ns(sim) < end) {
        uint8_t st = t_rreg1(b, 2);
        done = (st & 0x01) == 0 && (st & 0x02) != 0;
    }
    t_wreg1(b, 1, (uint8_t)(t_rreg1(b, 1) & ~0x08)); /* disarm */
    uint8_t rsp[38];
    if (!done || uart_recv(b, rsp, 38, 100000000ull) != 38 || rsp[0] != 'r')
        return -1;
    uint8_t r[4];
    t_rreg(b, 18, r, 4);
    uint32_t n = SAMPLES * 4 / 3 + 256;
    if (t_le32(r) < n)
        return -1;
    uint8_t *d = malloc(n + 1), h[8];
    if (d == NULL)
        return -1;
    t_hdr(h, n + 1, 3);
    int got = t_out(b, 0x10, 0, h, 8) == 8
                  ? cwsim_board_bulk(b, cwsim_board_ep_bulk_in(b), d, (int)n + 1, T_MS)
                  : -1;
    long first = -1;
    for (size_t j = 0; got == (int)n + 1 && j < n / 4 && first < 0; j++) {
        const uint8_t *w = d + 1 + 4 * j;
        unsigned mark = w[0] >> 6;
        if (mark != 3)
            first = (long)(3 * j + mark);
    }
    int ok = d[0] == 0xAC && first >= 0 && (size_t)first + SAMPLES <= (n / 4) * 3;
    for (size_t k = 0; ok && k < SAMPLES; k++) {
        size_t at = (size_t)first + k;
        const uint8_t *w = d + 1 + 4 * (at / 3);
        uint32_t word = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];
        unsigned code = (word >> (10 * (at % 3))) & 0x3FFu;
        trace[k] = (float)((double)code / 1024 - 0.5);
    }
    free(d);
    return ok ? 0 : -1;
}

static void board_cpa(void)
{
    char err[256] = "";
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    cwsim_board_default_setup(b); /* TIO1 RX, TIO2 TX, HS2 7.37 MHz, ADC x4, gain 25 dB, TIO4 */
    cwsim_xmega *c = cwsim_xmega_attach(b, "atxmega128d4", err, sizeof err);
    CHECK(c != NULL);
    if (c == NULL) {
        cwsim_free(sim);
        return;
    }
    static const uint8_t image[4] = {0x0C, 0x94, 0x00, 0x01}; /* not blank: the application runs */
    CHECK_EQ_INT(cwsim_xmega_poke(c, CWSIM_XMEGA_FLASH, 0, image, sizeof image), 0);
    CHECK_EQ_INT(cwsim_xmega_set_app(c, "ss1-aes", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_xmega_app_running(c), 1);
    t_uart_init(b, 38400, 0, 0);
    uint8_t key[16], sbox[256], zero[16] = {0}, ct[16];
    cwsim_aes_leak s[CWSIM_AES_NLEAKS];
    for (unsigned x = 0; x < 256; x++) {
        zero[0] = (uint8_t)x;
        cwsim_aes128_leaks((const uint8_t[16]){0}, zero, ct, s);
        sbox[x] = s[16].value;
    }
    rng_state = 42;
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)rnd();
    char line[35];
    ss1_line('k', key, line);
    t_out(b, 0x1A, 0, line, 34);
    uint8_t z[4];
    CHECK_EQ_INT(uart_recv(b, z, 4, 100000000ull), 4);
    enum { N = 60 };
    float *traces = malloc((size_t)N * SAMPLES * sizeof *traces);
    uint8_t(*pts)[16] = calloc(N, sizeof *pts);
    int captured = 0;
    for (int n = 0; traces != NULL && pts != NULL && n < N; n++) {
        for (int i = 0; i < 16; i++)
            pts[n][i] = (uint8_t)rnd();
        captured += board_trace(b, pts[n], traces + (size_t)n * SAMPLES) == 0;
    }
    CHECK_EQ_INT(captured, N);
    if (captured == N) {
        int worst = 0;
        for (unsigned byte = 0; byte < 16; byte++) {
            int need = cpa_byte(traces, (const uint8_t(*)[16])pts, sbox, byte, key[byte], N);
            worst = need > worst ? need : worst;
        }
        printf("power: through the CW-Lite's ADC (XMEGA, ss1-aes, TIO4 trigger) all 16 key bytes "
               "from %d traces\n",
               worst);
        CHECK(worst <= 50);
    }
    free(traces);
    free(pts);
    cwsim_free(sim);
}

int main(void)
{
    schedule();
    values();
    leakage();
    cpa();
    board_cpa();
    return check_report("sim_power");
}
