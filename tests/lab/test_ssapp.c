/* SPDX-License-Identifier: MIT */
/* The simulated SimpleSerial AES application (sim/ssapp/ssapp.c, contract.md §5 --sim-app ss1-aes |
 * ss2-aes): AES-128 against FIPS-197 Appendix C.1 and B, the v1.1 and v2.1 byte protocol as
 * cwsim_ssapp.h describes it (acks, errors, CRC, stuffing), and the application on a
 * standalone STM32 chip: replies at 38400 / 230400 on the nominal clock, garbage at 8 MHz. */
#include "check.h"
#include "cwsim_ssapp.h"
#include "stm32_host.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static void unhex(const char *s, uint8_t *out)
{
    for (size_t i = 0; s[2 * i] != '\0'; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* FIPS-197 Appendix C.1 (AES-128) and Appendix B (the cipher example) */
static void aes_vectors(void)
{
    static const struct {
        const char *key, *pt, *ct;
    } v[] = {
        {"000102030405060708090a0b0c0d0e0f", "00112233445566778899aabbccddeeff",
         "69c4e0d86a7b0430d8cdb78070b4c55a"},
        {"2b7e151628aed2a6abf7158809cf4f3c", "3243f6a8885a308d313198a2e0370734",
         "3925841d02dc09fbdc118597196a0b32"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t key[16], pt[16], ct[16], got[16];
        unhex(v[i].key, key);
        unhex(v[i].pt, pt);
        unhex(v[i].ct, ct);
        cwsim_aes128_encrypt(key, pt, got);
        CHECK_MEM(got, ct, 16);
    }
}

/* Feed text to the application; the replies, concatenated, go to out (NUL-terminated for v1). */
static size_t feed(cwsim_ssapp *a, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += cwsim_ssapp_rx(a, in[i], out + total);
    out[total] = 0;
    return total;
}

static size_t feeds(cwsim_ssapp *a, const char *s, uint8_t *out)
{
    return feed(a, (const uint8_t *)s, strlen(s), out);
}

static void v1(void)
{
    cwsim_ssapp a;
    uint8_t out[512];
    cwsim_ssapp_init(&a, CWSIM_SSAPP_V1);
    CHECK_EQ_INT(cwsim_ssapp_version_of("ss1-aes"), CWSIM_SSAPP_V1);
    CHECK_EQ_INT(cwsim_ssapp_version_of("banner"), 0);
    CHECK_EQ_INT(cwsim_ssapp_baud(CWSIM_SSAPP_V1), 38400);
    /* the default key is FIPS-197 Appendix B's */
    feeds(&a, "p3243f6a8885a308d313198a2e0370734\n", out);
    CHECK(strcmp((char *)out, "r3925841D02DC09FBDC118597196A0B32\nz00\n") == 0);
    /* a new key (upper-case hex accepted too), then the C.1 vector */
    feeds(&a, "k000102030405060708090A0B0C0D0E0F\n", out);
    CHECK(strcmp((char *)out, "z00\n") == 0);
    feeds(&a, "p00112233445566778899aabbccddeeff\r", out);
    CHECK(strcmp((char *)out, "r69C4E0D86A7B0430D8CDB78070B4C55A\nz00\n") == 0);
    /* NewAE's flush: 24 x's make no reply; nor do unknown letters */
    CHECK_EQ_INT(feeds(&a, "xxxxxxxxxxxxxxxxxxxxxxxxqQ#", out), 0);
    CHECK_EQ_INT(feeds(&a, "x\n", out), 4); /* 'x' + end of line: acknowledged */
    CHECK(strcmp((char *)out, "z00\n") == 0);
    feeds(&a, "v\n", out);
    CHECK(strcmp((char *)out, "z01\n") == 0);
    feeds(&a, "y\n", out);
    CHECK(strcmp((char *)out, "r06\nz00\n") == 0);
    feeds(&a, "w\n", out);
    CHECK(strcmp((char *)out, "r7600007700007900006B1000701000780000\nz00\n") == 0);
    /* dropped silently: early end of line, bad hex, no end of line (that byte is eaten) */
    uint64_t errors = a.errors;
    CHECK_EQ_INT(feeds(&a, "p0011\n", out), 0);
    CHECK_EQ_INT(feeds(&a, "p0011223344556677889zaabbccddeeff\n", out), 0);
    CHECK_EQ_INT(feeds(&a, "p00112233445566778899aabbccddeeffp", out), 0);
    CHECK_EQ_INT(feeds(&a, "v\n", out), 4); /* and the parser is back in step */
    CHECK_EQ_INT((long long)(a.errors - errors), 3);
    /* a reset brings back the default key */
    cwsim_ssapp_init(&a, CWSIM_SSAPP_V1);
    feeds(&a, "p3243f6a8885a308d313198a2e0370734\n", out);
    CHECK(strncmp((char *)out, "r3925841D", 9) == 0);
}

/* A v2.1 frame as NewAE's host stuffs it; returns its length. */
static size_t v2_frame(uint8_t cmd, uint8_t scmd, const uint8_t *data, uint8_t len, int bad_crc,
                       uint8_t *f)
{
    size_t total = (size_t)len + 6;
    f[0] = 0;
    f[1] = cmd;
    f[2] = scmd;
    f[3] = len;
    if (len > 0)
        memcpy(f + 4, data, len);
    f[4 + len] = (uint8_t)(cwsim_ssapp_crc8(f + 1, (size_t)len + 3) ^ (bad_crc ? 0x01 : 0));
    f[5 + len] = 0;
    size_t last = 0;
    for (size_t i = 1; i < total; i++) {
        if (f[i] == 0) {
            f[last] = (uint8_t)(i - last);
            last = i;
        }
    }
    return total;
}

/* Undo the stuffing of one reply frame at f (terminator included); returns its length. */
static size_t v2_unstuff(const uint8_t *f, uint8_t *out)
{
    size_t n = 0;
    while (f[n] != 0)
        n++;
    memcpy(out, f, n + 1);
    size_t pos = out[0];
    out[0] = 0;
    while (pos < n) {
        size_t step = out[pos];
        out[pos] = 0;
        pos += step;
    }
    return n + 1;
}

static void v2(void)
{
    cwsim_ssapp a;
    uint8_t out[512], f[300], d[300], key[16], pt[16], ct[16];
    cwsim_ssapp_init(&a, CWSIM_SSAPP_V2);
    CHECK_EQ_INT(cwsim_ssapp_baud(CWSIM_SSAPP_V2), 230400);
    /* CRC-8 poly 0x4D: NewAE's "e" ack frame for code 0 */
    static const uint8_t e0[] = {'e', 1, 0};
    uint8_t e0crc = cwsim_ssapp_crc8(e0, 3);
    unhex("000102030405060708090a0b0c0d0e0f", key);
    unhex("00112233445566778899aabbccddeeff", pt);
    unhex("69c4e0d86a7b0430d8cdb78070b4c55a", ct);
    /* key (scmd 0x02): only the ack */
    size_t n = feed(&a, f, v2_frame(0x01, 0x02, key, 16, 0, f), out);
    CHECK_EQ_INT(n, 6);
    size_t m = v2_unstuff(out, d);
    CHECK_EQ_INT(m, 6);
    CHECK(d[1] == 'e' && d[2] == 1 && d[3] == 0 && d[4] == e0crc);
    /* plaintext (scmd 0x01): r frame with the ciphertext, then the ack */
    n = feed(&a, f, v2_frame(0x01, 0x01, pt, 16, 0, f), out);
    CHECK_EQ_INT(n, 21 + 6);
    m = v2_unstuff(out, d);
    CHECK_EQ_INT(m, 21);
    CHECK(d[1] == 'r' && d[2] == 16);
    CHECK_MEM(d + 3, ct, 16);
    CHECK_EQ_INT(d[19], cwsim_ssapp_crc8(d + 1, 18));
    m = v2_unstuff(out + 21, d);
    CHECK(d[1] == 'e' && d[3] == 0);
    /* key and plaintext in one frame (scmd 0x03) */
    uint8_t kp[32];
    memcpy(kp, key, 16);
    memcpy(kp + 16, pt, 16);
    n = feed(&a, f, v2_frame(0x01, 0x03, kp, 32, 0, f), out);
    CHECK_EQ_INT(n, 27);
    v2_unstuff(out, d);
    CHECK_MEM(d + 3, ct, 16);
    /* errors: bad CRC 2, unknown command 1, wrong length 4, 0x00 in the header 5 */
    static const struct {
        uint8_t cmd, scmd, len;
        int bad_crc;
        uint8_t code;
    } errs[] = {{0x01, 0x01, 16, 1, 2}, {'x', 0x00, 0, 0, 1}, {0x01, 0x01, 15, 0, 4}};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        size_t fl = v2_frame(errs[i].cmd, errs[i].scmd, pt, errs[i].len, errs[i].bad_crc, f);
        n = feed(&a, f, errs[i].cmd == 'x' ? 4 : fl, out); /* unknown: answered after 4 */
        CHECK_EQ_INT(n, 6);
        v2_unstuff(out, d);
        CHECK(d[1] == 'e' && d[3] == errs[i].code);
        if (errs[i].cmd == 'x')
            cwsim_ssapp_init(&a, CWSIM_SSAPP_V2); /* the rest of that frame would follow */
    }
    /* NewAE's reset_comms: two 0x00 bytes, each answered with error 5 */
    static const uint8_t zeros[2] = {0, 0};
    n = feed(&a, zeros, 2, out);
    CHECK_EQ_INT(n, 12);
    v2_unstuff(out, d);
    CHECK(d[1] == 'e' && d[3] == 5);
    /* version and command list */
    n = feed(&a, f, v2_frame('v', 0, NULL, 0, 0, f), out);
    v2_unstuff(out, d);
    CHECK(d[1] == 'r' && d[2] == 1 && d[3] == 3);
    n = feed(&a, f, v2_frame('w', 0, NULL, 0, 0, f), out);
    v2_unstuff(out, d);
    CHECK(d[1] == 'r' && d[2] == 3 && d[3] == 'v' && d[4] == 'w' && d[5] == 0x01);
    CHECK_EQ_INT((long long)a.errors, 3); /* counted since the restart: length, two zeros */
}

/* The application on a standalone STM32: bytes at the application's baud on its clock. */
static void on_chip(void)
{
    static const struct {
        const char *app;
        double clock, baud;
        int clean;
    } cases[] = {
        {"ss1-aes", 7384600, 38400, 1},
        {"ss1-aes", 8000000, 38400, 0}, /* a clock left at 8 MHz: 8 % off, no clean reply */
        {"ss1-aes", 8000000, 38400 * 8e6 / 7384600, 1}, /* ... unless the host follows it */
        {"ss2-aes", 7384600, 230400, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        host h;
        if (host_open(&h, "stm32f100xb") != 0)
            continue;
        CHECK_EQ_INT(cwsim_stm32_set_app(h.chip, cases[i].app, NULL, 0), 0);
        CHECK_EQ_INT(host_bootloader(&h), 0);
        uint8_t word[4] = {1, 2, 3, 4};
        CHECK_EQ_INT(bl_write(&h, 0x08000000, word, 4), 0); /* not blank: the app runs */
        cwsim_stm32_set_clock(h.chip, cases[i].clock, h.now);
        cwsim_stm32_set_boot0(h.chip, 0, h.now);
        h.fmt = host_format(cases[i].baud, CWSIM_PARITY_NONE);
        host_reset(&h);
        host_flush(&h);
        CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_APP);
        uint8_t got[64], f[64], d[64];
        size_t n;
        int clean;
        uint64_t sent;
        if (strcmp(cases[i].app, "ss1-aes") == 0) {
            const char *cmd = "p3243f6a8885a308d313198a2e0370734\n";
            const char *want = "r3925841D02DC09FBDC118597196A0B32\nz00\n";
            host_send(&h, (const uint8_t *)cmd, strlen(cmd));
            sent = h.now;
            n = host_recv(&h, got, strlen(want), 100 * MS);
            clean = n == strlen(want) && memcmp(got, want, n) == 0;
        } else {
            uint8_t pt[16], ct[16];
            unhex("3243f6a8885a308d313198a2e0370734", pt);
            unhex("3925841d02dc09fbdc118597196a0b32", ct);
            host_send(&h, f, v2_frame(0x01, 0x01, pt, 16, 0, f));
            sent = h.now;
            n = host_recv(&h, got, 27, 100 * MS);
            clean = n == 27 && v2_unstuff(got, d) == 21 && memcmp(d + 3, ct, 16) == 0;
        }
        CHECK_EQ_INT(clean, cases[i].clean);
        /* the reply starts when the encryption ends: CWSIM_AES_CYCLES at the chip's clock
         * after the command's last byte (simpleserial-aes: trigger_low, then the reply) */
        uint64_t aes = (uint64_t)llround(CWSIM_AES_CYCLES * 1e9 / cases[i].clock);
        cwsim_uart_format app = host_format(cases[i].baud, CWSIM_PARITY_NONE);
        if (cases[i].clean) {
            uint64_t first = h.rx_at[h.rx_len - n];
            CHECK(first == sent + aes + cwsim_uart_frame_ns(&app));
        }
        /* its power trace (4 samples per cycle from the trigger): a second plaintext changes
         * it only where an intermediate is stored; at the first-round S-box output of byte 0
         * by k x the change of its Hamming weight (key 2b..: S(0x32 ^ 0x2b) = 0xd4, HW 4;
         * S(0x00 ^ 0x2b) = 0xf1, HW 5) */
        if (i == 0) {
            float a[4 * 400], b[4 * 400];
            double adc = 4 * cases[i].clock;
            cwsim_stm32_power_trace(h.chip, (double)sent, adc, a, 4 * 400);
            const char *cmd = "p00000000000000000000000000000000\n";
            host_send(&h, (const uint8_t *)cmd, strlen(cmd));
            uint64_t sent2 = h.now;
            CHECK_EQ_INT(host_recv(&h, got, 38, 100 * MS), 38);
            cwsim_stm32_power_trace(h.chip, (double)sent2, adc, b, 4 * 400);
            cwsim_aes_leak leaks[CWSIM_AES_NLEAKS];
            cwsim_aes_schedule(leaks);
            size_t at = 4u * leaks[16].cycle; /* round 1, SubBytes, byte 0 */
            CHECK(leaks[16].round == 1 && leaks[16].op == CWSIM_AES_SUBBYTES);
            CHECK(fabs((double)(b[at] - a[at]) - CWSIM_AES_LEAK_PER_BIT) < 1e-6);
            CHECK(fabs((double)(b[at + 3] - a[at + 3]) - CWSIM_AES_LEAK_PER_BIT) < 1e-6);
            double most = 0; /* nothing stored before cycle 31: the same trace */
            for (size_t k = 0; k < 4 * 31; k++)
                most = fmax(most, fabs((double)(b[k] - a[k])));
            CHECK(most < 1e-5);
        }
        host_close(&h);
    }
}

int main(void)
{
    aes_vectors();
    v1();
    v2();
    on_chip();
    return check_report("lab_ssapp");
}
