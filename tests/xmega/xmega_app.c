/* SPDX-License-Identifier: MIT */
/* The XMEGA's simulated SimpleSerial AES application (contract.md §5 --sim-app ss1-aes | ss2-aes)
 * behind a simulated CW-Lite with the CW303/CW308 wiring: it runs only with a non-blank flash,
 * out of reset (PDIC) and with the PDI off; at 7.37 MHz it answers the FIPS-197 C.1 vector in
 * SimpleSerial v1.1 at 38400 8N1 (TX on TIO1, RX on TIO2), at 8 MHz its reply is garbled. */
#include "check.h"
#include "cwsim.h"
#include "cwsim_ssapp.h"
#include "cwsim_xmega.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MS             1000000ull
#define REQ_USART_DATA 0x1A /* cw-usb-protocol.md §5 */
#define REQ_USART_CFG  0x1B
#define REQ_MEM_READ   0x12 /* cw-usb-protocol.md §2.5 */
#define REQ_MEM_WRITE  0x13
#define REG_IOROUTE    55 /* cw-usb-protocol.md §4.1 */
#define REG_IOREAD     59 /* TIO1-4 levels as the board reads them, bit 3 TIO4 */

static int ctrl(cwsim_board *b, uint8_t type, uint8_t req, uint16_t value, uint8_t *data,
                uint16_t len)
{
    return cwsim_board_control(b, type, req, value, 0, data, len, 1000);
}

/* PDIC as a GPIO (IOROUTE byte 6 bits 5..4: enable, level); level -1 releases it. */
static void pdic(cwsim_board *b, int level)
{
    uint8_t hdr[8] = {8, 0, 0, 0, REG_IOROUTE, 0, 0, 0}, io[8];
    CHECK_EQ_INT(ctrl(b, 0x41, REQ_MEM_READ, 0, hdr, 8), 8);
    CHECK_EQ_INT(ctrl(b, 0xC1, REQ_MEM_READ, 0, io, 8), 8);
    unsigned f = level < 0 ? 0u : level ? 3u : 1u;
    io[6] = (uint8_t)(((unsigned)io[6] & ~(3u << 4)) | f << 4);
    uint8_t m[16] = {8, 0, 0, 0, REG_IOROUTE, 0, 0, 0};
    memcpy(m + 8, io, 8);
    CHECK_EQ_INT(ctrl(b, 0x41, REQ_MEM_WRITE, 0, m, 16), 16);
}

/* The board's USART at baud 8N1 (Python's USART.init: 1 stop bit, no parity, 8 bits). */
static void usart_init(cwsim_board *b, uint32_t baud)
{
    uint8_t cfg[7] = {
        (uint8_t)baud, (uint8_t)(baud >> 8), (uint8_t)(baud >> 16), (uint8_t)(baud >> 24), 0, 0, 8};
    CHECK_EQ_INT(ctrl(b, 0x41, REQ_USART_CFG, 0x0010, cfg, 7), 7);
    CHECK_EQ_INT(ctrl(b, 0x41, REQ_USART_CFG, 0x0011, NULL, 0), 0);
}

static void usart_send(cwsim_board *b, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        uint8_t chunk[58]; /* SERIAL_MAX_WRITE */
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        memcpy(chunk, s, k);
        CHECK_EQ_INT(ctrl(b, 0x41, REQ_USART_DATA, 0, chunk, (uint16_t)k), (int)k);
        s += k;
        n -= k;
    }
}

/* What the board received within timeout_ns of virtual time, up to n bytes, NUL-terminated. */
static size_t usart_recv(cwsim *sim, cwsim_board *b, char *out, size_t n, uint64_t timeout_ns)
{
    size_t got = 0;
    uint64_t end = cwsim_now_ns(sim) + timeout_ns;
    while (got < n && cwsim_now_ns(sim) < end) {
        uint8_t cnt[4];
        CHECK_EQ_INT(ctrl(b, 0xC1, REQ_USART_CFG, 0x0014, cnt, 4), 4);
        unsigned avail = cnt[0] | (unsigned)cnt[1] << 8;
        if (avail == 0) {
            cwsim_advance_ns(sim, MS);
            continue;
        }
        if (avail > n - got)
            avail = (unsigned)(n - got);
        CHECK_EQ_INT(ctrl(b, 0xC1, REQ_USART_DATA, 0, (uint8_t *)out + got, (uint16_t)avail),
                     (int)avail);
        got += avail;
    }
    out[got] = '\0';
    return got;
}

static const char *const KEY = "k000102030405060708090a0b0c0d0e0f\n"; /* FIPS-197 C.1 */
static const char *const PT = "p00112233445566778899aabbccddeeff\n";
static const char *const CT = "r69C4E0D86A7B0430D8CDB78070B4C55A\nz00\n";

/* One world: a CW-Lite after default_setup with an atxmega128d4 running APP. */
static cwsim *world(const char *app, cwsim_board **bp, cwsim_xmega **cp)
{
    char err[300] = "";
    cwsim *sim = NULL;
    *bp = NULL;
    *cp = NULL;
    if (cwsim_new(&sim, err, sizeof err) != 0) {
        fprintf(stderr, "cwsim_new: %s\n", err);
        return NULL;
    }
    cwsim_board *b = cwsim_board_add(sim, CWSIM_CWLITE, NULL, err, sizeof err);
    CHECK(b != NULL);
    if (b == NULL)
        return sim;
    cwsim_board_default_setup(b);
    CHECK_EQ_INT(cwsim_attach_part(b, "atxmega128d4", app, err, sizeof err), 0);
    cwsim_xmega *c = cwsim_xmega_attach(b, "atxmega128d4", err, sizeof err);
    CHECK(c != NULL);
    if (c != NULL)
        CHECK_EQ_INT(cwsim_xmega_set_app(c, app, err, sizeof err), 0);
    *bp = b;
    *cp = c;
    return sim;
}

static void fips_c1(void)
{
    static const struct {
        double clock; /* 0: the board's own HS2 after default_setup (7.37 MHz) */
        int clean;
    } cases[] = {
        {0, 1}, {8e6, 0}, /* a clock left at 8 MHz: the application talks 8 % fast, garbled */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cwsim_board *b;
        cwsim_xmega *c;
        cwsim *sim = world("ss1-aes", &b, &c);
        if (sim == NULL || b == NULL || c == NULL) {
            cwsim_free(sim);
            continue;
        }
        cwsim_target_view v;
        cwsim_board_target_view(b, &v);
        CHECK(v.clock_hz > 7.3e6 && v.clock_hz < 7.4e6); /* HS2 as default_setup leaves it */
        cwsim_advance_ns(sim, 10 * MS);
        /* powered, out of reset, but the flash is blank: nothing runs */
        CHECK_EQ_INT(cwsim_xmega_app_running(c), 0);
        static const uint8_t image[4] = {0x0C, 0x94, 0x00, 0x01}; /* jmp 0x0002 */
        CHECK_EQ_INT(cwsim_xmega_poke(c, CWSIM_XMEGA_FLASH, 0, image, sizeof image), 0);
        if (cases[i].clock > 0) /* the chip's clock input (the simulator's view) */
            cwsim_xmega_set_clock(c, cases[i].clock, cwsim_now_ns(sim));
        /* the CW's reset: PDIC (= /RESET) low, then released to the chip's pull-up */
        pdic(b, 0);
        cwsim_advance_ns(sim, 10 * MS);
        CHECK_EQ_INT(cwsim_xmega_app_running(c), 0);
        pdic(b, -1);
        cwsim_advance_ns(sim, 25 * MS);
        CHECK_EQ_INT(cwsim_xmega_app_running(c), 1);
        double baud = cwsim_ssapp_baud(CWSIM_SSAPP_V1) * v.clock_hz / CWSIM_SSAPP_CLOCK_REF;
        usart_init(b, (uint32_t)(baud + 0.5));
        char got[128];
        usart_send(b, KEY);
        size_t n = usart_recv(sim, b, got, 4, 100 * MS);
        int clean = n == 4 && strcmp(got, "z00\n") == 0;
        usart_send(b, PT);
        /* simpleserial-aes: TIO4 high for the encryption (CWSIM_AES_CYCLES at the chip's
         * clock), the reply after it */
        uint64_t rise = 0, fall = 0, step = 10000, t0 = cwsim_now_ns(sim);
        uint8_t io = 0;
        cwsim_board_fpga_peek(b, REG_IOREAD, &io, 1);
        CHECK_EQ_INT(io & 0x08, 0); /* trigger_setup: low */
        for (uint64_t t = 0; t < 20 * MS && fall == 0; t += step) {
            cwsim_advance_ns(sim, step);
            cwsim_board_fpga_peek(b, REG_IOREAD, &io, 1);
            if ((io & 0x08) && rise == 0)
                rise = cwsim_now_ns(sim);
            if (!(io & 0x08) && rise != 0)
                fall = cwsim_now_ns(sim);
        }
        double clk = cases[i].clock > 0 ? cases[i].clock : v.clock_hz;
        double aes = CWSIM_AES_CYCLES * 1e9 / clk;
        if (cases[i].clean) { /* a garbled command runs no encryption */
            CHECK(rise > t0 && fall > rise);
            CHECK(fabs((double)(fall - rise) - aes) <= (double)step);
            /* the chip's power while the trigger is high: the encryption's trace */
            float tr[64];
            cwsim_xmega_power_trace(c, (double)rise, 4 * clk, tr, 64);
            CHECK(tr[0] != 0.0f);
        } else {
            CHECK_EQ_INT(rise, 0);
        }
        n = usart_recv(sim, b, got, strlen(CT), 100 * MS);
        clean = clean && n == strlen(CT) && strcmp(got, CT) == 0;
        CHECK_EQ_INT(clean, cases[i].clean);
        cwsim_xmega_counters cnt;
        cwsim_xmega_counters_get(c, &cnt);
        CHECK_EQ_INT(cnt.app_starts, 1);
        CHECK(cnt.app_rx == strlen(KEY) + strlen(PT));
        if (cases[i].clean) {
            CHECK_EQ_INT(cnt.app_rx_errors, 0);
            CHECK(cnt.app_tx == 4 + strlen(CT));
            /* a PDI session takes the chip: the application stops; released, it starts afresh with
             * the default key (FIPS-197 Appendix B) */
            cwsim_xmega_pdi_link(c, 1, cwsim_now_ns(sim));
            CHECK_EQ_INT(cwsim_xmega_app_running(c), 0);
            cwsim_xmega_pdi_link(c, 0, cwsim_now_ns(sim));
            CHECK_EQ_INT(cwsim_xmega_app_running(c), 1);
            usart_send(b, "p3243f6a8885a308d313198a2e0370734\n");
            n = usart_recv(sim, b, got, 38, 100 * MS);
            CHECK(n == 38 && strcmp(got, "r3925841D02DC09FBDC118597196A0B32\nz00\n") == 0);
            /* no clock (HS2 off): the application is silent */
            cwsim_xmega_set_clock(c, 0, cwsim_now_ns(sim));
            usart_send(b, "v\n");
            CHECK_EQ_INT(usart_recv(sim, b, got, 4, 50 * MS), 0);
        }
        cwsim_free(sim);
    }
}

/* The application names: silent (the default) and ss1/ss2-aes; banner is not modelled. */
static void names(void)
{
    cwsim_board *b;
    cwsim_xmega *c;
    char err[300] = "";
    cwsim *sim = world("ss2-aes", &b, &c);
    if (sim == NULL || b == NULL || c == NULL) {
        cwsim_free(sim);
        return;
    }
    CHECK_EQ_INT(cwsim_xmega_set_app(c, "banner", err, sizeof err), -1);
    CHECK(strstr(err, "silent, ss1-aes, ss2-aes") != NULL);
    CHECK_EQ_INT(cwsim_attach_part(b, "xmega", "banner", err, sizeof err), -1);
    CHECK(strstr(err, "no application model 'banner'") != NULL);
    CHECK_EQ_INT(cwsim_attach_part(b, "CWLITEXMEGA", "silent", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_attach_part(b, "atxmega16a4", NULL, err, sizeof err), 0);
    cwsim_free(sim);
}

int main(void)
{
    fips_c1();
    names();
    return check_report("xmega_app");
}
