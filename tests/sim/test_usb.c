/* SPDX-License-Identifier: MIT */
/* libcwsim USB tests: identity and descriptors (cw-usb-protocol.md §1), standard requests, the
 * transfer rules and error paths (§2.1, §8), FPGA register access through control and bulk
 * with the bus lock (§2.5), bitstream loading (§3), the exact CW-Lite connect sequence (§3.6),
 * SAM requests, old firmware and the USB faults (contract.md §5). */
#include "simtest.h"

#include <ctype.h>

static void test_identity(void)
{
    cwsim *sim = t_sim();
    static const struct {
        cwsim_kind k;
        const char *name;
        uint16_t pid;
        const char *product;
        uint8_t ep_in, ep_out;
        unsigned speed;
    } want[4] = {{CWSIM_CWLITE, "cwlite", 0xACE2, "ChipWhisperer Lite", 0x81, 0x02, 480},
                 {CWSIM_CW1200, "cw1200", 0xACE3, "ChipWhisperer CW1200", 0x81, 0x02, 480},
                 {CWSIM_HUSKY, "husky", 0xACE5, "ChipWhisperer Husky", 0x85, 0x06, 480},
                 {CWSIM_NANO, "nano", 0xACE0, "ChipWhisperer Nano", 0x81, 0x02, 12}};
    for (int i = 0; i < 4; i++) {
        cwsim_kind k;
        CHECK_EQ_INT(cwsim_kind_from_name(want[i].name, &k), 0);
        CHECK_EQ_INT(k, want[i].k);
        CHECK(strcmp(cwsim_kind_name(k), want[i].name) == 0);
        cwsim_board *b = t_board(sim, k);
        CHECK_EQ_INT(cwsim_board_vid(b), 0x2B3E);
        CHECK_EQ_INT(cwsim_board_pid(b), want[i].pid);
        CHECK(strcmp(cwsim_board_product(b), want[i].product) == 0);
        CHECK(strcmp(cwsim_board_manufacturer(b), "NewAE Technology Inc.") == 0); /* §1.1 */
        CHECK_EQ_INT(cwsim_board_bcd_device(b), 0x0900);
        CHECK_EQ_INT(cwsim_board_ep_bulk_in(b), want[i].ep_in);
        CHECK_EQ_INT(cwsim_board_ep_bulk_out(b), want[i].ep_out);
        CHECK_EQ_INT(cwsim_board_speed_mbps(b), want[i].speed);
        const char *s = cwsim_board_serial(b);
        int hex = strlen(s) == 32;
        for (const char *p = s; *p; p++)
            hex &= isxdigit((unsigned char)*p) && !isupper((unsigned char)*p);
        CHECK(hex);
        CHECK(cwsim_board_find(sim, s) == b);
    }
    CHECK_EQ_INT(cwsim_kind_from_name("cw305", NULL), -1);
    CHECK_EQ_INT(cwsim_board_count(sim), 4);
    CHECK(strcmp(cwsim_board_serial(cwsim_board_at(sim, 0)),
                 cwsim_board_serial(cwsim_board_at(sim, 1))) != 0);
    char err[200];
    cwsim_board *b =
        cwsim_board_add(sim, CWSIM_CWLITE, "0123456789abcdef0123456789abcdef", err, sizeof err);
    CHECK(b != NULL);
    CHECK(cwsim_board_add(sim, CWSIM_CWLITE, "0123456789abcdef0123456789abcdef", err, sizeof err) ==
          NULL);
    CHECK(strstr(err, "already used") != NULL);
    CHECK(cwsim_board_add(sim, CWSIM_CWLITE, "bad serial", err, sizeof err) == NULL);
    CHECK(cwsim_board_add(sim, (cwsim_kind)9, NULL, err, sizeof err) == NULL);
    cwsim_free(sim);
}

static void test_descriptors(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    const uint8_t *d;
    size_t n = cwsim_board_descriptors(b, &d);
    static const uint8_t dev[18] = {18,   1,    0x10, 0x02, 0, 0, 0, 64, 0x3E,
                                    0x2B, 0xE2, 0xAC, 0x00, 9, 1, 2, 3,  1};
    CHECK(n > 18);
    CHECK_MEM(d, dev, 18);
    CHECK_EQ_INT(d[18 + 1], 2);                                 /* configuration */
    CHECK_EQ_INT((size_t)(d[18 + 2] | d[18 + 3] << 8), n - 18); /* wTotalLength */
    CHECK_EQ_INT(d[18 + 4], 3);                                 /* 3 interfaces */
    CHECK_EQ_INT(d[18 + 7], 0x80);                              /* bus-powered */
    CHECK_EQ_INT(d[18 + 8], 250);                               /* 500 mA */
    /* interface 0 vendor FF/FF/FF with bulk 0x81 IN and 0x02 OUT, 512 bytes */
    const uint8_t *v = d + 27;
    CHECK_EQ_INT(v[1], 4);
    CHECK_EQ_INT(v[4], 2);
    CHECK_EQ_INT(v[5], 0xFF);
    CHECK_EQ_INT(v[9 + 2], 0x81);
    CHECK_EQ_INT(v[9 + 3], 2);
    CHECK_EQ_INT(v[9 + 4] | v[9 + 5] << 8, 512);
    CHECK_EQ_INT(v[16 + 2], 0x02);
    /* every endpoint of the CDC pair is listed: 0x83, 0x85, 0x06 */
    int seen83 = 0, seen85 = 0, seen06 = 0;
    for (size_t i = 18; i + 1 < n; i += d[i]) {
        if (d[i + 1] == 5) {
            seen83 |= d[i + 2] == 0x83;
            seen85 |= d[i + 2] == 0x85;
            seen06 |= d[i + 2] == 0x06;
        }
        if (d[i] == 0)
            break;
    }
    CHECK(seen83 && seen85 && seen06);

    /* the same bytes through GET_DESCRIPTOR */
    uint8_t buf[512];
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0100, 0, buf, 64, T_MS), 18);
    CHECK_MEM(buf, dev, 18);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0200, 0, buf, 9, T_MS), 9);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0200, 0, buf, 512, T_MS), (int)(n - 18));
    CHECK_MEM(buf, d + 18, n - 18);
    /* strings */
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0300, 0, buf, 255, T_MS), 4);
    CHECK_EQ_INT(buf[2] | buf[3] << 8, 0x0409);
    int r = cwsim_board_control(b, 0x80, 6, 0x0302, 0x0409, buf, 255, T_MS);
    CHECK_EQ_INT(r, 2 + 2 * 18);
    CHECK(buf[2] == 'C' && buf[4] == 'h' && buf[2 + 2 * 14] == 'L' && buf[3] == 0);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0301, 0x0409, buf, 255, T_MS), 2 + 2 * 21);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0303, 0x0409, buf, 255, T_MS), 2 + 2 * 32);
    CHECK_EQ_INT(buf[2], (uint8_t)cwsim_board_serial(b)[0]);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0304, 0x0409, buf, 255, T_MS), CWSIM_STALL);
    /* high-speed device: qualifier, other-speed config (64-byte bulk), BOS for bcdUSB 2.10 */
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0600, 0, buf, 10, T_MS), 10);
    CHECK_EQ_INT(buf[1], 6);
    r = cwsim_board_control(b, 0x80, 6, 0x0700, 0, buf, 512, T_MS);
    CHECK_EQ_INT(r, (int)(n - 18));
    CHECK_EQ_INT(buf[1], 7);
    CHECK_EQ_INT(buf[9 + 9 + 4], 64);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0F00, 0, buf, 255, T_MS), 33);
    CHECK_EQ_INT(buf[5 + 2 + 1 + 1 + 16 + 4 + 2], 0x01); /* MS OS 2.0 vendor code */
    /* MS OS 2.0 descriptor set: 0xC0/0x01 wIndex 7 */
    CHECK_EQ_INT(cwsim_board_control(b, 0xC0, 0x01, 0, 7, buf, 255, T_MS), 46);
    CHECK(memcmp(buf + 30, "WINUSB", 6) == 0);

    /* Husky: vendor bulk 0x85/0x06, CDC 0x81/0x02 */
    cwsim_board *h = t_board(sim, CWSIM_HUSKY);
    n = cwsim_board_descriptors(h, &d);
    CHECK_EQ_INT(d[27 + 9 + 2], 0x85);
    CHECK_EQ_INT(d[27 + 16 + 2], 0x06);
    /* Nano: full speed, 64-byte bulk, 400 mA, no qualifier */
    cwsim_board *nb = t_board(sim, CWSIM_NANO);
    n = cwsim_board_descriptors(nb, &d);
    CHECK_EQ_INT(d[18 + 8], 200);
    CHECK_EQ_INT(d[27 + 9 + 4], 64);
    CHECK_EQ_INT(cwsim_board_control(nb, 0x80, 6, 0x0600, 0, buf, 10, T_MS), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_control(nb, 0x80, 6, 0x0700, 0, buf, 255, T_MS), CWSIM_STALL);
    cwsim_free(sim);
}

static void test_standard(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[16];
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 0x00, 0, 0, buf, 2, T_MS), 2);
    CHECK(buf[0] == 0 && buf[1] == 0);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 0x08, 0, 0, buf, 1, T_MS), 1);
    CHECK_EQ_INT(buf[0], 1); /* configured by the kernel at enumeration */
    CHECK_EQ_INT(cwsim_board_control(b, 0x00, 0x09, 1, 0, NULL, 0, T_MS), 0);
    CHECK_EQ_INT(cwsim_board_control(b, 0x00, 0x09, 2, 0, NULL, 0, T_MS), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_control(b, 0x01, 0x0B, 0, 0, NULL, 0, T_MS), 0); /* alt 0 */
    CHECK_EQ_INT(cwsim_board_control(b, 0x01, 0x0B, 1, 0, NULL, 0, T_MS), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_control(b, 0x81, 0x0A, 0, 2, buf, 1, T_MS), 1);
    CHECK_EQ_INT(cwsim_board_control(b, 0x00, 0x05, 5, 0, NULL, 0, T_MS), 0); /* SET_ADDRESS */
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 0x0C, 0, 0, buf, 2, T_MS), CWSIM_STALL);
    /* endpoint halt: SET_FEATURE stalls the bulk endpoint until CLEAR_FEATURE */
    CHECK_EQ_INT(cwsim_board_control(b, 0x02, 0x03, 0, 0x81, NULL, 0, T_MS), 0);
    CHECK_EQ_INT(cwsim_board_control(b, 0x82, 0x00, 0, 0x81, buf, 2, T_MS), 2);
    CHECK_EQ_INT(buf[0], 1);
    uint8_t data[8];
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x81, data, 8, 100), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_control(b, 0x02, 0x01, 0, 0x81, NULL, 0, T_MS), 0);
    CHECK_EQ_INT(cwsim_board_control(b, 0x82, 0x00, 0, 0x81, buf, 2, T_MS), 2);
    CHECK_EQ_INT(buf[0], 0);
    CHECK_EQ_INT(cwsim_board_control(b, 0x02, 0x01, 0, 0x84, NULL, 0, T_MS), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x84, data, 8, 100), CWSIM_INVALID);
    /* unconfigured: vendor requests stall, bulk endpoints do not exist */
    CHECK_EQ_INT(cwsim_board_control(b, 0x00, 0x09, 0, 0, NULL, 0, T_MS), 0);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x81, data, 8, 100), CWSIM_INVALID);
    CHECK_EQ_INT(cwsim_board_control(b, 0x00, 0x09, 1, 0, NULL, 0, T_MS), 0);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0100, 0, NULL, 18, T_MS), CWSIM_INVALID);
    cwsim_free(sim);
}

static void test_rules(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[256];
    memset(buf, 0x41, sizeof buf);
    /* §2.1 IN with wLength 0 */
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 0), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0100, 0, buf, 0, T_MS), CWSIM_STALL);
    /* OUT data > 128 bytes: the data stage stalls; nothing is sent */
    t_uart_init(b, 115200, 0, 0);
    CHECK_EQ_INT(t_out(b, 0x1A, 0, buf, 129), CWSIM_STALL);
    CHECK_EQ_INT(t_tx_waiting(b), 0);
    CHECK_EQ_INT(t_out(b, 0x1A, 0, buf, 128), 128);
    /* unknown requests */
    CHECK_EQ_INT(t_in(b, 0x55, 0, buf, 4), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x55, 0, buf, 4), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x15, 0, NULL, 0), CWSIM_STALL); /* CW305 only */
    CHECK_EQ_INT(t_out(b, 0x16, 0x00C3, NULL, 0), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x14, 0, buf, 4), CWSIM_STALL); /* no streaming on the Lite */
    CHECK_EQ_INT(t_out(b, 0x20, 0x0001, NULL, 0), 0);     /* the board's XPROG engine */
    cwsim_board_set_vendor_hook(b, 0x20, NULL, NULL);     /* without an engine it stalls */
    CHECK_EQ_INT(t_out(b, 0x20, 0x0001, NULL, 0), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_control(b, 0xE1, 0x17, 0, 0, buf, 3, T_MS), CWSIM_STALL);
    /* vendor requests go to interface 0 only; wIndex 1 and 2 reach the CDC class */
    CHECK_EQ_INT(cwsim_board_control(b, 0xC1, 0x17, 0, 1, buf, 3, T_MS), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_control(b, 0xC1, 0x17, 0, 2, buf, 3, T_MS), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_control(b, 0xC0, 0x17, 0, 0, buf, 3, T_MS), 3); /* device */
    CHECK_EQ_INT(cwsim_board_control(b, 0xC2, 0x17, 0, 0, buf, 3, T_MS), CWSIM_STALL);
    /* the firmware does not clip IN payloads: asking for fewer bytes overflows */
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 2), CWSIM_OVERFLOW);
    CHECK_EQ_INT(t_in(b, 0x15, 0, buf, 1), CWSIM_OVERFLOW);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 64), 3); /* more: a short reply */
    CHECK_EQ_INT(t_in(b, 0x31, 0, buf, 2), 2);  /* 0x31 is min(4, wLength) */
    cwsim_free(sim);
}

static void test_sam_requests(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[128];
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    CHECK(buf[0] == 0 && buf[1] == 65 && buf[2] == 0);
    CHECK_EQ_INT(t_in(b, 0x40, 0, buf, 100), 20);
    CHECK(memcmp(buf, "15:36:50 Apr  4 2023", 20) == 0);
    CHECK_EQ_INT(t_in(b, 0x15, 0, buf, 4), 4);
    CHECK(buf[0] == 1 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0);
    CHECK_EQ_INT(t_in(b, 0x22, 0, buf, 3), 3);
    CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == 0);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0212, NULL, 0), 0); /* LED setting 2 */
    CHECK_EQ_INT(t_in(b, 0x22, 0, buf, 3), 3);
    CHECK_EQ_INT(buf[2], 2);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0077, NULL, 0), 0); /* unknown sub-command: nothing */
    CHECK_EQ_INT(t_in(b, 0x22, 0x0042, buf, 1), 1);   /* MPSSE enabled? */
    CHECK_EQ_INT(buf[0], 0);
    /* 0x31 CDC settings: Python's set_cdc_settings(0) */
    CHECK_EQ_INT(t_out(b, 0x31, 0x0005, NULL, 0), 0);
    CHECK_EQ_INT(t_in(b, 0x31, 0, buf, 4), 4);
    CHECK(buf[0] == 1 && buf[1] == 0 && buf[2] == 1 && buf[3] == 0);
    CHECK_EQ_INT(t_out(b, 0x31, 0x0000, NULL, 0), 0);
    /* 0x35 target SPI (stub), 0x16 sub-commands */
    CHECK_EQ_INT(t_out(b, 0x35, 0x00A0, NULL, 0), 0);
    CHECK_EQ_INT(t_out(b, 0x35, 0x00B0, NULL, 0), CWSIM_STALL);
    /* ENABLE_MPSSE: flag set, nRST driven low by the SAM on the Lite */
    CHECK_EQ_INT(t_out(b, 0x22, 0x0042, NULL, 0), 0);
    CHECK_EQ_INT(t_in(b, 0x22, 0x0042, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 1);
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_NRST], CWSIM_LOW);
    /* with MPSSE on, wIndex 1 requests are swallowed by the MPSSE handler */
    CHECK_EQ_INT(cwsim_board_control(b, 0xC1, 0x99, 0, 1, buf, 8, T_MS), 0);
    CHECK_EQ_INT(cwsim_board_control(b, 0x41, 0x99, 0, 2, buf, 8, T_MS), 8);

    /* 0x16 B0-B2: programming an FPGA on the target (not simulated): B0 drives nRST high,
       B1 sends bulk OUT data to the target's FPGA (discarded), B2 back to register writes */
    cwsim_board *c = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(t_out(c, 0x16, 0x00B0, NULL, 0), 0);
    cwsim_board_target_view(c, &v);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_NRST], CWSIM_HIGH);
    CHECK_EQ_INT(t_out(c, 0x16, 0x00B1, NULL, 0), 0);
    uint8_t h8[8];
    t_hdr(h8, 1, 4);
    uint8_t one[1] = {0x42};
    CHECK_EQ_INT(t_out(c, 0x11, 0, h8, 8), 8); /* 0x11 re-arms the register-write job */
    CHECK_EQ_INT(t_out(c, 0x16, 0x00B1, NULL, 0), 0);
    CHECK_EQ_INT(cwsim_board_bulk(c, 0x02, one, 1, T_MS), 1);
    CHECK_EQ_INT(t_rreg1(c, 4), 0x00);
    CHECK_EQ_INT(t_out(c, 0x16, 0x00B2, NULL, 0), 0);
    CHECK_EQ_INT(t_out(c, 0x11, 0, h8, 8), 8);
    CHECK_EQ_INT(cwsim_board_bulk(c, 0x02, one, 1, T_MS), 1);
    CHECK_EQ_INT(t_rreg1(c, 4), 0x42);
    CHECK_EQ_INT(cwsim_board_fpga_done(c), 1);        /* the board's own FPGA is untouched */
    CHECK_EQ_INT(t_out(c, 0x22, 0x0143, NULL, 0), 0); /* SWD pin: nothing on the Lite */

    /* Nano: no FPGA requests, no engines; its own requests */
    cwsim_board *n = t_board(sim, CWSIM_NANO);
    CHECK_EQ_INT(t_in(n, 0x17, 0, buf, 3), 3);
    CHECK(buf[1] == 66);
    CHECK_EQ_INT(t_in(n, 0x15, 0, buf, 4), CWSIM_STALL);
    CHECK_EQ_INT(t_out(n, 0x16, 0x00A0, NULL, 0), CWSIM_STALL);
    CHECK_EQ_INT(t_out(n, 0x11, 0, buf, 8), CWSIM_STALL);
    CHECK_EQ_INT(t_out(n, 0x13, 0, buf, 9), CWSIM_STALL);
    CHECK_EQ_INT(t_out(n, 0x20, 0x0001, NULL, 0), CWSIM_STALL);
    CHECK_EQ_INT(t_out(n, 0x21, 0x0010, NULL, 0), CWSIM_STALL);
    CHECK_EQ_INT(t_in(n, 0x2B, 0, buf, 4), 4);
    CHECK_EQ_INT(t_le32(buf), 100000);
    uint8_t s[4] = {0x88, 0x13, 0, 0};
    CHECK_EQ_INT(t_out(n, 0x2A, 0, s, 4), 4);
    CHECK_EQ_INT(t_out(n, 0x2A, 0, s, 3), 3); /* not exactly 4: ignored */
    CHECK_EQ_INT(t_in(n, 0x2A, 0, buf, 4), 4);
    CHECK_EQ_INT(t_le32(buf), 5000);
    CHECK_EQ_INT(t_in(n, 0x24, 0, buf, 4), 0);
    CHECK_EQ_INT(t_in(n, 0x26, 0, buf, 4), 0);
    uint8_t adc[5] = {32, 0, 0, 0, 1};
    CHECK_EQ_INT(t_out(n, 0x28, 0, adc, 5), 5);
    CHECK_EQ_INT(t_in(n, 0x28, 0, buf, 5), 5);
    CHECK_MEM(buf, adc, 5);
    CHECK_EQ_INT(t_out(n, 0x2D, 0, NULL, 0), 0);      /* glitch now: nothing to simulate */
    CHECK_EQ_INT(t_out(n, 0x22, 0x00F0, NULL, 0), 0); /* clock phase reset */
    CHECK_EQ_INT(t_in(n, 0x29, 0, buf, 200), CWSIM_STALL);
    CHECK_EQ_INT(t_in(b, 0x2B, 0, buf, 4), CWSIM_STALL); /* Nano-only on the Lite */
    CHECK_EQ_INT(t_in(n, 0x29, 0, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 0);
    CHECK_EQ_INT(t_out(n, 0x29, 1, NULL, 0), 0); /* arm */
    CHECK_EQ_INT(t_in(n, 0x29, 0, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 1);
    uint8_t g[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_EQ_INT(t_out(n, 0x2C, 0, g, 8), 8);
    CHECK_EQ_INT(t_in(n, 0x2C, 0, buf, 8), 8);
    CHECK_MEM(buf, g, 8);
    CHECK_EQ_INT(t_in(n, 0x2C, 0, buf, 200), CWSIM_STALL); /* Nano handler: wLength > 128 */
    /* 0x10/0x12 read the (empty) sample buffer; the address is ignored */
    uint8_t h[8];
    t_hdr(h, 16, 77);
    CHECK_EQ_INT(t_out(n, 0x12, 0, h, 8), 8);
    CHECK_EQ_INT(t_in(n, 0x12, 0, buf, 16), 16);
    t_hdr(h, 200, 0);
    CHECK_EQ_INT(t_out(n, 0x10, 0, h, 8), 8);
    CHECK_EQ_INT(cwsim_board_bulk(n, 0x81, buf, 128, T_MS), 128);
    CHECK_EQ_INT(cwsim_board_bulk(n, 0x81, buf, 128, T_MS), 72);
    cwsim_free(sim);
}

static void test_register_access(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[512], h[8];
    CHECK_EQ_INT(t_rreg(b, 10, buf, 6), 6);
    static const uint8_t ver[6] = {0x01, 0x40, 0, 0, 0, 0};
    CHECK_MEM(buf, ver, 6);
    /* IN 0x12 without a fresh OUT 0x12: zero bytes */
    CHECK_EQ_INT(t_in(b, 0x12, 0, buf, 6), 0);
    /* OUT 0x12 header, IN with a smaller wLength: the latched len is sent anyway */
    t_hdr(h, 4, 16);
    CHECK_EQ_INT(t_out(b, 0x12, 0, h, 8), 8);
    CHECK_EQ_INT(t_in(b, 0x12, 0, buf, 2), CWSIM_OVERFLOW);
    /* control write then read back (8-byte IOROUTE) */
    uint8_t io[8] = {0x02, 0x01, 0x00, 0x00, 0, 0, 0, 0};
    CHECK_EQ_INT(t_wreg(b, 55, io, 8), 16);
    CHECK_EQ_INT(t_rreg(b, 55, buf, 8), 8);
    CHECK_MEM(buf, io, 8);
    /* bulk read (0x10 + bulk IN on 0x81) */
    t_hdr(h, 8, 55);
    CHECK_EQ_INT(t_out(b, 0x10, 0, h, 8), 8);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x81, buf, 8, T_MS), 8);
    CHECK_MEM(buf, io, 8);
    /* bulk IN with nothing queued: NAK until the timeout (virtual time) */
    uint64_t t0 = cwsim_now_ns(sim);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x81, buf, 8, 250), CWSIM_TIMEOUT);
    CHECK(cwsim_now_ns(sim) - t0 >= 250000000u);
    /* a bulk read of 64 bytes read in two packets-sized halves... of 512: asking for 4 of 64
       bytes is a smaller buffer than the packet: overflow */
    t_hdr(h, 64, 3);
    CHECK_EQ_INT(t_out(b, 0x10, 0, h, 8), 8);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x81, buf, 4, T_MS), CWSIM_OVERFLOW);
    /* bulk write (0x11 + bulk OUT on 0x02) to IOROUTE */
    uint8_t io2[8] = {0x01, 0x02, 0x80, 0xC0, 0, 0, 0x05, 0};
    t_hdr(h, 8, 55);
    CHECK_EQ_INT(t_out(b, 0x11, 0, h, 8), 8);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x02, io2, 8, T_MS), 8);
    CHECK_EQ_INT(t_rreg(b, 55, buf, 8), 8);
    CHECK_MEM(buf, io2, 8);
    /* bulk OUT without a preceding 0x11: the last latched address (55 from the read) */
    uint8_t io3[2] = {0x02, 0x01};
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x02, io3, 2, T_MS), 2);
    CHECK_EQ_INT(t_rreg(b, 55, buf, 8), 8); /* 0x12 latched 55 again: byte counter 0 */
    CHECK_EQ_INT(buf[0], 0x01);             /* the bytes went to bytes 8.. (past the end) */
    /* exactly 512 bytes (max packet) do not reach the FPGA until a ZLP ends the transfer */
    t_hdr(h, 512, 4);
    CHECK_EQ_INT(t_out(b, 0x11, 0, h, 8), 8);
    memset(buf, 0, 512);
    buf[0] = 0x5A;
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x02, buf, 512, T_MS), 512);
    uint8_t echo = 0xEE;
    cwsim_board_fpga_peek(b, 4, &echo, 1);
    CHECK_EQ_INT(echo, 0x00);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x02, buf, 0, T_MS), 0);
    cwsim_board_fpga_peek(b, 4, &echo, 1);
    CHECK_EQ_INT(echo, 0x5A);
    /* 0x13 with len > 120 is cut at the 128-byte buffer */
    uint8_t big[128];
    memset(big, 0x33, sizeof big);
    t_hdr(big, 200, 4);
    CHECK_EQ_INT(t_out(b, 0x13, 0, big, 128), 128);
    CHECK_EQ_INT(t_rreg1(b, 4), 0x33);
    cwsim_free(sim);
}

static void test_bus_lock(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t h[8], buf[64];
    /* a 0x12 OUT without its IN holds the lock: 0x10..0x13 stall */
    t_hdr(h, 1, 1);
    CHECK_EQ_INT(t_out(b, 0x12, 0, h, 8), 8);
    CHECK_EQ_INT(t_out(b, 0x12, 0, h, 8), CWSIM_STALL);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x11), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x10, 0, h, 8), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x11, 0, h, 8), CWSIM_STALL);
    /* other requests are not affected */
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    /* Python's recovery: 0x22/0x11 release, then retry once */
    CHECK_EQ_INT(t_out(b, 0x22, 0x0011, NULL, 0), 0);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x11), 9);
    CHECK_EQ_INT(t_rreg1(b, 4), 0x11);
    /* IN 0x12 releases the lock whatever state it is in */
    CHECK_EQ_INT(t_out(b, 0x12, 0, h, 8), 8);
    CHECK_EQ_INT(t_in(b, 0x12, 0, buf, 1), 1);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x12), 9);
    /* a 0x10 bulk read holds it until the bulk IN completes */
    t_hdr(h, 48, 3);
    CHECK_EQ_INT(t_out(b, 0x10, 0, h, 8), 8);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x13), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x81, buf, 48, T_MS), 48);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x13), 9);
    /* 0x11 without bulk data leaves the bus unlocked */
    t_hdr(h, 400, 52);
    CHECK_EQ_INT(t_out(b, 0x11, 0, h, 8), 8);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x14), 9);
    /* an oversize 0x12 OUT stalls in the data stage after taking the lock (inferred) */
    uint8_t big[200];
    memset(big, 0, sizeof big);
    CHECK_EQ_INT(t_out(b, 0x12, 0, big, 200), CWSIM_STALL);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x15), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0011, NULL, 0), 0);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x15), 9);
    /* firmware without FPGA_LOCK_RESET (< 0.30) cannot release it */
    char err[200];
    CHECK_EQ_INT(cwsim_fault_set(sim, "old-firmware", "0.29.0", err, sizeof err), 0);
    t_hdr(h, 1, 1);
    CHECK_EQ_INT(t_out(b, 0x12, 0, h, 8), 8);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0011, NULL, 0), 0);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x16), CWSIM_STALL);
    cwsim_free(sim);
}

/* The processed bitstream Python sends (§3.2): the file from 0x7C on (10 x FF, the sync word,
 * the configuration data), then 32 x FF. */
static uint8_t *make_stream(size_t payload, size_t tail_ff, size_t *n, int with_sync)
{
    size_t len = 10 + 4 + payload + tail_ff;
    uint8_t *s = malloc(len);
    memset(s, 0xFF, 10);
    static const uint8_t sync[4] = {0xAA, 0x99, 0x55, 0x66};
    memcpy(s + 10, sync, 4);
    if (!with_sync)
        s[12] = 0x00;
    for (size_t i = 0; i < payload; i++)
        s[14 + i] = (uint8_t)(i * 7 + 3);
    memset(s + 14 + payload, 0xFF, tail_ff);
    *n = len;
    return s;
}

static void send_stream(cwsim_board *b, const uint8_t *s, size_t n)
{
    for (size_t off = 0; off < n; off += 65536) { /* 64 KiB slices (§3.2) */
        size_t k = n - off < 65536 ? n - off : 65536;
        cwsim_board_bulk(b, cwsim_board_ep_bulk_out(b), (uint8_t *)(uintptr_t)(s + off), (int)k,
                         T_MS);
    }
}

static int program(cwsim_board *b, const uint8_t *s, size_t n)
{
    uint8_t hz[4] = {0x80, 0x96, 0x98, 0x00};
    uint8_t st[4];
    t_out(b, 0x16, 0x00A0, hz, 4);
    cwsim_advance_ns(cwsim_board_sim(b), 1000000);
    t_out(b, 0x16, 0x00A1, NULL, 0);
    cwsim_advance_ns(cwsim_board_sim(b), 1000000);
    send_stream(b, s, n);
    int done = 0;
    for (int i = 0; i < 5 && !done; i++) {
        t_in(b, 0x15, 0, st, 4);
        done = st[0] & 1;
        if (!done)
            cwsim_advance_ns(cwsim_board_sim(b), 1000000);
    }
    t_out(b, 0x16, 0x00A2, NULL, 0);
    return done;
}

#define LITE_PAYLOAD (340722 - 0x86 - 4)

static void test_bitstream(void)
{
    cwsim *sim = t_sim();
    char err[200];
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(cwsim_board_fpga_done(b), 1); /* contract.md §5: starts configured */
    CHECK_EQ_INT(cwsim_fault_set(sim, "fpga-unprogrammed", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_board_fpga_done(b), 0);
    uint8_t st[4], buf[8];
    CHECK_EQ_INT(t_in(b, 0x15, 0, st, 4), 4);
    CHECK_EQ_INT(st[0], 0);
    CHECK_EQ_INT(t_rreg(b, 10, buf, 6), 6); /* undriven bus: 0xFF (unconfirmed) */
    CHECK_EQ_INT(buf[0], 0xFF);
    CHECK_EQ_INT(t_wreg1(b, 4, 0x12), 9); /* accepted, lost */

    size_t n;
    uint8_t *s;
    /* no sync word */
    s = make_stream(LITE_PAYLOAD, 32, &n, 0);
    CHECK_EQ_INT(program(b, s, n), 0);
    free(s);
    /* too short */
    s = make_stream(LITE_PAYLOAD - 1000, 32, &n, 1);
    CHECK_EQ_INT(program(b, s, n), 0);
    free(s);
    /* no trailing 0xFF */
    s = make_stream(LITE_PAYLOAD, 0, &n, 1);
    CHECK_EQ_INT(program(b, s, n), 0);
    free(s);
    /* 0xA1 without 0xA0 first still needs a full stream; a DONE FPGA reads registers */
    s = make_stream(LITE_PAYLOAD, 32, &n, 1);
    CHECK_EQ_INT(n, 340630);
    uint64_t t0 = cwsim_now_ns(sim);
    CHECK_EQ_INT(program(b, s, n), 1);
    /* 340 630 bytes clocked at 10 MHz: ~272 ms of virtual time */
    CHECK(cwsim_now_ns(sim) - t0 > 272000000u && cwsim_now_ns(sim) - t0 < 290000000u);
    CHECK_EQ_INT(cwsim_board_fpga_done(b), 1);
    CHECK_EQ_INT(t_rreg(b, 55, buf, 8), 8);
    CHECK(buf[0] == 0x01 && buf[1] == 0x02); /* reset values after configuration */
    /* erase (0xA0) drops DONE at once */
    CHECK_EQ_INT(t_out(b, 0x16, 0x00A0, NULL, 0), 0);
    CHECK_EQ_INT(cwsim_board_fpga_done(b), 0);
    /* bundled firmware: control OUT requests during the download do not disturb it */
    CHECK_EQ_INT(t_out(b, 0x16, 0x00A1, NULL, 0), 0);
    send_stream(b, s, 200000);
    uint8_t c[7] = {0x00, 0xC2, 0x01, 0, 0, 0, 8};
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0010, c, 7), 7);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0013, NULL, 0), 0);
    send_stream(b, s + 200000, n - 200000);
    CHECK_EQ_INT(cwsim_board_fpga_done(b), 1);
    CHECK_EQ_INT(t_out(b, 0x16, 0x00A2, NULL, 0), 0);
    free(s);
    /* the Pro and Husky need their own (longer) streams */
    cwsim_board *h = t_board(sim, CWSIM_HUSKY);
    CHECK_EQ_INT(cwsim_board_fpga_done(h), 0); /* the fault applies to new boards too */
    s = make_stream(LITE_PAYLOAD, 32, &n, 1);
    CHECK_EQ_INT(program(h, s, n), 0);
    free(s);
    s = make_stream(2192119 - 0x9B - 4, 32, &n, 1);
    CHECK_EQ_INT(program(h, s, n), 1);
    free(s);
    cwsim_free(sim);
}

/* cw-usb-protocol.md §3.6 B: cw.scope() on a CW-Lite, every transfer with the exact answer. */
static void test_connect_sequence(void)
{
    cwsim *sim = t_sim();
    char err[200];
    CHECK_EQ_INT(cwsim_fault_set(sim, "fpga-unprogrammed", NULL, err, sizeof err), 0);
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[512];
    static const uint8_t v0650[3] = {0x00, 0x41, 0x00};
    static const uint8_t notdone[4] = {0, 0, 0, 0}, done[4] = {1, 0, 0, 0};
    /* 1 */
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    CHECK_MEM(buf, v0650, 3);
    /* 2 */
    CHECK_EQ_INT(t_in(b, 0x15, 0, buf, 4), 4);
    CHECK_MEM(buf, notdone, 4);
    /* 3-7 */
    uint8_t hz[4] = {0x80, 0x96, 0x98, 0x00};
    CHECK_EQ_INT(t_out(b, 0x16, 0x00A0, hz, 4), 4);
    cwsim_advance_ns(sim, 1000000);
    CHECK_EQ_INT(t_out(b, 0x16, 0x00A1, NULL, 0), 0);
    cwsim_advance_ns(sim, 1000000);
    size_t n;
    uint8_t *s = make_stream(LITE_PAYLOAD, 32, &n, 1);
    int sizes_ok = 1;
    for (size_t off = 0; off < n; off += 65536) {
        int k = (int)(n - off < 65536 ? n - off : 65536);
        sizes_ok &= cwsim_board_bulk(b, 0x02, s + off, k, T_MS) == k;
    }
    CHECK(sizes_ok);
    free(s);
    CHECK_EQ_INT(t_in(b, 0x15, 0, buf, 4), 4); /* DONE by the first poll */
    CHECK_MEM(buf, done, 4);
    CHECK_EQ_INT(t_out(b, 0x16, 0x00A2, NULL, 0), 0);
    /* 9 */
    CHECK_EQ_INT(t_rreg(b, 1, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 0x00);
    /* 10 */
    static const uint8_t ver[6] = {0x01, 0x40, 0, 0, 0, 0};
    CHECK_EQ_INT(t_rreg(b, 10, buf, 6), 6);
    CHECK_MEM(buf, ver, 6);
    CHECK_EQ_INT(buf[1] >> 3, 8);
    /* 11 */
    CHECK_EQ_INT(t_rreg(b, 1, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 0x00);
    CHECK_EQ_INT(t_wreg1(b, 1, (uint8_t)(buf[0] | 1)), 9);
    /* 12 */
    static const uint8_t samples[4] = {0x7D, 0x5F, 0, 0}, minus45[4] = {0x50, 0x5F, 0, 0};
    CHECK_EQ_INT(t_rreg(b, 16, buf, 4), 4);
    CHECK_MEM(buf, samples, 4);
    CHECK_EQ_INT(t_wreg(b, 16, minus45, 4), 12);
    /* 13 */
    CHECK_EQ_INT(t_rreg(b, 1, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 0x00);
    CHECK_EQ_INT(t_wreg1(b, 1, (uint8_t)(buf[0] & 0xFE)), 9);
    /* 14-15 */
    CHECK_EQ_INT(t_rreg(b, 52, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 0x00);
    CHECK_EQ_INT(t_wreg1(b, 52, 0x20), 9);
    CHECK_EQ_INT(t_rreg1(b, 52), 0x20); /* (not in Python's sequence) */
    CHECK_EQ_INT(t_wreg1(b, 52, 0x00), 9);
    /* 16 */
    static const uint8_t hdr[8] = {0x7B, 0x01, 0, 0, 0x34, 0, 0, 0};
    CHECK_EQ_INT(t_out(b, 0x11, 0, hdr, 8), 8);
    uint8_t pr[379];
    pr[0] = 0;
    for (int i = 1; i < 379; i++)
        pr[i] = (uint8_t)(i * 13);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x02, pr, 379, T_MS), 379);
    /* 17-18 */
    CHECK_EQ_INT(t_wreg1(b, 52, 0x1A), 9);
    CHECK_EQ_INT(t_rreg(b, 52, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 0x00);
    /* 19-20 */
    static const uint8_t init[7] = {0x00, 0xC2, 0x01, 0x00, 0x00, 0x00, 0x08};
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0010, init, 7), 7);
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0011, NULL, 0), 0);
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    CHECK(v.uart_enabled && v.uart.baud > 115107 && v.uart.baud < 115108);
    cwsim_counters c;
    cwsim_counters_get(sim, &c);
    CHECK_EQ_INT(c.stalls, 0);
    CHECK_EQ_INT(c.bulk_out, 7); /* 6 bitstream slices + the PR frame */
    cwsim_free(sim);
}

static void test_faults_usb(void)
{
    char err[200];
    uint8_t buf[8];
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(cwsim_fault_set(sim, "usb-stall-after", "3", err, sizeof err), 0);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    CHECK_EQ_INT(cwsim_board_control(b, 0x80, 6, 0x0100, 0, buf, 8, T_MS), 8);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x81, buf, 8, 10), CWSIM_STALL);
    cwsim_free(sim);

    sim = t_sim();
    b = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(cwsim_fault_set(sim, "usb-timeout-after", "1", err, sizeof err), 0);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    uint64_t t0 = cwsim_now_ns(sim);
    CHECK_EQ_INT(cwsim_board_control(b, 0xC1, 0x17, 0, 0, buf, 3, 300), CWSIM_TIMEOUT);
    CHECK_EQ_INT(cwsim_now_ns(sim) - t0, 300000000u);
    cwsim_counters c;
    cwsim_counters_get(sim, &c);
    CHECK_EQ_INT(c.timeouts, 1);
    cwsim_free(sim);

    sim = t_sim();
    b = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(cwsim_fault_set(sim, "unplug-after", "2", err, sizeof err), 0);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    CHECK_EQ_INT(cwsim_board_present(b), 1);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), CWSIM_NODEV);
    CHECK_EQ_INT(cwsim_board_present(b), 0);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x02, buf, 1, 10), CWSIM_NODEV);
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    CHECK_EQ_INT(v.power, 0); /* no USB, no target power */
    cwsim_free(sim);
}

static void test_reset_and_bootloader(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[8];
    t_uart_init(b, 38400, 0, 0);
    t_out(b, 0x1A, 0, "abc", 3);
    t_wreg1(b, 4, 0x77);
    CHECK_EQ_INT(cwsim_board_generation(b), 0);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0010, NULL, 0), 0); /* completes, then the SAM resets */
    CHECK_EQ_INT(cwsim_board_present(b), 0);
    CHECK_EQ_INT(cwsim_board_generation(b), 1);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), CWSIM_NODEV);
    cwsim_advance_ns(sim, 2000000000u); /* Python sleeps 2 s */
    CHECK_EQ_INT(cwsim_board_present(b), 1);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    CHECK_EQ_INT(v.uart_enabled, 0);   /* the USART is back to its power-up state */
    CHECK_EQ_INT(t_rreg1(b, 4), 0x77); /* the FPGA kept its configuration (inferred) */
    CHECK_EQ_INT(t_out(b, 0x22, 0x0003, NULL, 0), 0);
    CHECK_EQ_INT(cwsim_board_present(b), 0);
    cwsim_advance_ns(sim, 5000000000u);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), CWSIM_NODEV);
    cwsim_free(sim);
}

static void test_old_firmware(void)
{
    char err[200];
    uint8_t buf[128];
    cwsim *sim = t_sim();
    CHECK_EQ_INT(cwsim_fault_set(sim, "old-firmware", NULL, err, sizeof err), 0);
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t v[3];
    cwsim_board_fw_version(b, v);
    CHECK(v[0] == 0 && v[1] == 20 && v[2] == 0);
    CHECK_EQ_INT(t_in(b, 0x17, 0, buf, 3), 3);
    CHECK(buf[0] == 0 && buf[1] == 20 && buf[2] == 0);
    CHECK_EQ_INT(t_in(b, 0x40, 0, buf, 100), CWSIM_STALL); /* build date >= 0.50 */
    CHECK_EQ_INT(t_in(b, 0x31, 0, buf, 4), CWSIM_STALL);   /* CDC >= 0.30 */
    CHECK_EQ_INT(t_in(b, 0x22, 0, buf, 3), CWSIM_STALL);   /* error word (inferred) */
    CHECK_EQ_INT(cwsim_board_control(b, 0xC0, 1, 0, 7, buf, 64, T_MS), CWSIM_STALL); /* WCID */
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0018, buf, 4), 4); /* TX_IN_WAITING 0.20 */
    const uint8_t *d;
    cwsim_board_descriptors(b, &d);
    CHECK_EQ_INT(d[2] | d[3] << 8, 0x0200);
    /* 128-byte buffers before SERIAL_200_BUFFER (0.30): 127 usable */
    t_out(b, 0x1B, 0x0010, (const uint8_t[7]){0x00, 0x96, 0, 0, 0, 0, 8}, 7); /* no ENABLE */
    memset(buf, 'x', sizeof buf);
    t_out(b, 0x1A, 0, buf, 128);
    CHECK_EQ_INT(t_tx_waiting(b), 127);
    CHECK_EQ_INT(cwsim_fault_set(sim, "old-firmware", "0.10", err, sizeof err), 0);
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0018, buf, 4), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_fault_clear(sim, "old-firmware"), 0);
    cwsim_board_fw_version(b, v);
    CHECK(v[1] == 65);
    cwsim_free(sim);
}

static void test_counters_time(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[64];
    CHECK_EQ_INT(cwsim_usb_latency_ns(sim), 500000);
    uint64_t t0 = cwsim_now_ns(sim);
    t_in(b, 0x17, 0, buf, 3);
    CHECK_EQ_INT(cwsim_now_ns(sim) - t0, 500000); /* contract.md §5: 0.5 ms per control transfer */
    cwsim_set_usb_latency_ns(sim, 125000);
    t0 = cwsim_now_ns(sim);
    t_out(b, 0x22, 0x0013, NULL, 0);
    CHECK_EQ_INT(cwsim_now_ns(sim) - t0, 125000);
    uint8_t h[8];
    t_hdr(h, 48, 3);
    t_out(b, 0x10, 0, h, 8);
    cwsim_board_bulk(b, 0x81, buf, 48, T_MS);
    cwsim_board_bulk(b, 0x02, buf, 10, T_MS);
    cwsim_advance_ns(sim, 1000);
    cwsim_counters c;
    cwsim_counters_get(sim, &c);
    CHECK_EQ_INT(c.ctrl_in, 1);
    CHECK_EQ_INT(c.ctrl_out, 2);
    CHECK_EQ_INT(c.bulk_in, 1);
    CHECK_EQ_INT(c.bulk_out, 1);
    CHECK_EQ_INT(c.bulk_in_bytes, 48);
    CHECK_EQ_INT(c.bulk_out_bytes, 10);
    CHECK_EQ_INT(c.wait_ns, 1000);
    CHECK_EQ_INT(c.now_ns, cwsim_now_ns(sim));
    CHECK_EQ_INT(c.usb_ns + c.wait_ns, c.now_ns);
    cwsim_board_counters_get(b, &c);
    CHECK_EQ_INT(c.ctrl_out, 2);
    cwsim_counters_reset(sim);
    cwsim_counters_get(sim, &c);
    CHECK(c.ctrl_in == 0 && c.wait_ns == 0 && c.now_ns == cwsim_now_ns(sim));
    cwsim_free(sim);
}

int main(void)
{
    test_identity();
    test_descriptors();
    test_standard();
    test_rules();
    test_sam_requests();
    test_register_access();
    test_bus_lock();
    test_bitstream();
    test_connect_sequence();
    test_faults_usb();
    test_reset_and_bootloader();
    test_old_firmware();
    test_counters_time();
    return check_report("sim_usb");
}
