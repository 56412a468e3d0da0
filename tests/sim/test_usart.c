/* SPDX-License-Identifier: MIT */
/* libcwsim USART bridge tests (cw-usb-protocol.md §5, §8): baud rounding, frames in virtual time,
 * INIT/ENABLE/DISABLE, the 200-byte buffers (199 usable) and their overflow, the bytes-waiting
 * queries, 0xFF padding, INIT flushing, unknown ports and sub-commands, the CDC copy, slow
 * clock, and the loop-back target. */
#include "cwsim_loopback.h"
#include "simtest.h"

#include <math.h>

/* A test chip that sends `left` bytes 0, 1, 2, ... back to back in its own format. */
typedef struct talker {
    cwsim_board *b;
    int left;
    uint8_t next;
    cwsim_uart_format fmt;
} talker;

static void tk_feed(talker *t)
{
    while (t->left > 0 && cwsim_target_uart_send(t->b, t->next, &t->fmt) == 0) {
        t->next++;
        t->left--;
    }
}

static void tk_ready(void *ctx, uint64_t now)
{
    (void)now;
    tk_feed(ctx);
}

static const cwsim_target_ops talker_ops = {
    .name = "talker",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .uart_tx_ready = tk_ready,
};

static void tk_attach(talker *t, cwsim_board *b, double baud)
{
    memset(t, 0, sizeof *t);
    t->b = b;
    t->fmt.baud = baud;
    t->fmt.data_bits = 8;
    t->fmt.parity = CWSIM_PARITY_NONE;
    t->fmt.stop_halves = 2;
    char err[200];
    CHECK_EQ_INT(cwsim_board_attach_target(b, &talker_ops, t, err, sizeof err), 0);
}

static void tk_send(talker *t, int n)
{
    t->left += n;
    tk_feed(t);
}

static void test_baud(void)
{
    double a;
    CHECK_EQ_INT(cwsim_uart_baud_actual(38400, 96000000, &a), 0);
    CHECK(fabs(a - 38400.0) < 1e-6);
    CHECK_EQ_INT(cwsim_uart_baud_actual(57600, 96000000, &a), 0);
    CHECK(fabs(a - 96e6 / (16 * 104.125)) < 1e-6);
    CHECK(fabs(a - 57623) < 0.5);
    CHECK_EQ_INT(cwsim_uart_baud_actual(115200, 96000000, &a), 0);
    CHECK(fabs(a - 96e6 / (16 * 52.125)) < 1e-6); /* 115 108 (-0.08 %) */
    CHECK(fabs(a - 115108) < 0.5);
    CHECK_EQ_INT(cwsim_uart_baud_actual(230400, 96000000, &a), 0);
    CHECK(fabs(a - 230769.23) < 0.01);
    CHECK_EQ_INT(cwsim_uart_baud_actual(2000000, 96000000, &a), 0);
    CHECK(fabs(a - 2e6) < 1e-6);
    CHECK_EQ_INT(cwsim_uart_baud_actual(12000000, 96000000, &a), 0);  /* over = 8, CD = 1 */
    CHECK_EQ_INT(cwsim_uart_baud_actual(20000000, 96000000, &a), -1); /* CD = 0 */
    CHECK_EQ_INT(cwsim_uart_baud_actual(1, 96000000, &a), -1);        /* CD > 65535 */
    CHECK_EQ_INT(cwsim_uart_baud_actual(0, 96000000, &a), -1);
    CHECK_EQ_INT(cwsim_uart_baud_actual(115200, 120000000, &a), 0); /* Nano */
    CHECK(fabs(a - 120e6 / (16 * 65.125)) < 1e-6);

    cwsim_uart_format f = {115200.0, 8, CWSIM_PARITY_NONE, 2};
    CHECK_EQ_INT(cwsim_uart_frame_ns(&f), 86806); /* 10 bits */
    f.parity = CWSIM_PARITY_EVEN;
    CHECK_EQ_INT(cwsim_uart_frame_ns(&f), 95486); /* 11 bits */
    f.parity = CWSIM_PARITY_NONE;
    f.stop_halves = 3;
    CHECK_EQ_INT(cwsim_uart_frame_ns(&f), 91146); /* 10.5 bits */
    f.stop_halves = 4;
    f.data_bits = 7;
    CHECK_EQ_INT(cwsim_uart_frame_ns(&f), 86806); /* 1 + 7 + 2 */
}

static void test_decode(void)
{
    cwsim_uart_format n81 = {38400.0, 8, CWSIM_PARITY_NONE, 2};
    cwsim_uart_format e81 = {38400.0, 8, CWSIM_PARITY_EVEN, 2};
    cwsim_uart_format o81 = {38400.0, 8, CWSIM_PARITY_ODD, 2};
    uint8_t v;
    /* build frames through the loop-back path is covered below; here the helper itself */
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    cwsim_board_default_setup(b);
    t_uart_init(b, 38400, 0, 2); /* 8E1 */
    cwsim_target_view tv;
    cwsim_board_target_view(b, &tv);
    CHECK_EQ_INT(tv.uart.parity, CWSIM_PARITY_EVEN);
    CHECK_EQ_INT(tv.uart.data_bits, 8);
    CHECK_EQ_INT(tv.uart.stop_halves, 2);
    CHECK(fabs(tv.uart.baud - 38400) < 1e-6);
    /* a frame captured from a chip's view (see test_wiring) would be decoded like this: */
    cwsim_uart_frame fr;
    memset(&fr, 0, sizeof fr);
    fr.byte = 0x7F;
    fr.fmt = e81;
    fr.levels = (uint16_t)((0x7Fu << 1) | (1u << 9) | (1u << 10)); /* start, data, parity 1, stop */
    fr.nslots = 11;
    CHECK_EQ_INT(cwsim_uart_frame_decode(&fr, &e81, &v), 0);
    CHECK_EQ_INT(v, 0x7F);
    CHECK_EQ_INT(cwsim_uart_frame_decode(&fr, &o81, &v), CWSIM_UART_PARITY_ERROR);
    CHECK_EQ_INT(cwsim_uart_frame_decode(&fr, &n81, &v), 0); /* parity bit read as stop */
    CHECK_EQ_INT(v, 0x7F);
    cwsim_uart_format fast = {76800.0, 8, CWSIM_PARITY_NONE, 2};
    unsigned fl = cwsim_uart_frame_decode(&fr, &fast, &v); /* 2x too fast: garbled */
    CHECK(v != 0x7F || fl != 0);
    cwsim_uart_format slow = {19200.0, 8, CWSIM_PARITY_NONE, 2};
    fl = cwsim_uart_frame_decode(&fr, &slow, &v);
    CHECK(v != 0x7F || fl != 0);
    cwsim_free(sim);
}

static void test_loopback_timing(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    char err[200];
    uint8_t buf[128];
    CHECK_EQ_INT(cwsim_loopback_attach(b, err, sizeof err), 0);
    t_uart_init(b, 115200, 0, 0);
    /* reset routing (TIO1 = TX, TIO2 = RX) is the reverse of the CW308 wiring: nothing */
    CHECK_EQ_INT(t_out(b, 0x1A, 0, "hello", 5), 5);
    cwsim_advance_ns(sim, 5000000);
    CHECK_EQ_INT(t_rx_waiting(b), 0);
    cwsim_counters c;
    cwsim_counters_get(sim, &c);
    CHECK_EQ_INT(c.uart_to_target, 5);
    CHECK_EQ_INT(c.uart_from_board, 0);
    t_route_serial(b);
    CHECK_EQ_INT(t_out(b, 0x1A, 0, "hello", 5), 5);
    cwsim_advance_ns(sim, 5000000);
    CHECK_EQ_INT(t_rx_waiting(b), 5);
    CHECK_EQ_INT(t_in(b, 0x1A, 0, buf, 5), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    cwsim_counters_get(sim, &c);
    CHECK_EQ_INT(c.uart_to_target, 10);
    CHECK_EQ_INT(c.uart_from_board, 5);
    CHECK_EQ_INT(c.uart_to_board, 5);
    CHECK_EQ_INT(c.uart_rx, 5);
    CHECK(c.wire_ns >= 10 * 86875u);
    /* bytes arrive only as virtual time passes: 2 frames (out and back) = 173.75 us */
    cwsim_set_usb_latency_ns(sim, 0);
    CHECK_EQ_INT(t_out(b, 0x1A, 0, "A", 1), 1);
    CHECK_EQ_INT(t_rx_waiting(b), 0);
    cwsim_advance_ns(sim, 86000);
    CHECK_EQ_INT(t_rx_waiting(b), 0);
    cwsim_advance_ns(sim, 88000);
    CHECK_EQ_INT(t_rx_waiting(b), 1);
    CHECK_EQ_INT(t_in(b, 0x1A, 0, buf, 1), 1);
    CHECK_EQ_INT(buf[0], 'A');
    /* the UART shifts while USB transfers go on */
    cwsim_set_usb_latency_ns(sim, 500000);
    memset(buf, 'z', 58);
    CHECK_EQ_INT(t_out(b, 0x1A, 0, buf, 58), 58);
    uint32_t w1 = t_tx_waiting(b);
    uint32_t w2 = t_tx_waiting(b);
    CHECK(w1 > 0 && w1 < 56);
    CHECK(w2 < w1);
    CHECK(t_rx_waiting(b) > 0);
    cwsim_advance_ns(sim, 20000000);
    CHECK_EQ_INT(t_tx_waiting(b), 0);
    CHECK_EQ_INT(t_rx_waiting(b), 58);
    cwsim_free(sim);
}

static void test_tx_overflow(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[128], st[3];
    uint8_t c[7] = {0x00, 0x96, 0x00, 0x00, 0, 0, 8}; /* 38400 8N1, INIT without ENABLE */
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0010, c, 7), 7);
    memset(buf, 'q', sizeof buf);
    CHECK_EQ_INT(t_out(b, 0x1A, 0, buf, 128), 128);
    CHECK_EQ_INT(t_out(b, 0x1A, 0, buf, 128), 128);
    CHECK_EQ_INT(t_tx_waiting(b), 199); /* 200-byte buffer, one slot empty */
    CHECK_EQ_INT(t_in(b, 0x22, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0x00); /* the 0x18 read above cleared bit1 */
    CHECK_EQ_INT(t_out(b, 0x1A, 0, buf, 1), 1);
    CHECK_EQ_INT(t_in(b, 0x22, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0x02); /* TX overflow */
    CHECK_EQ_INT(t_tx_waiting(b), 199);
    CHECK_EQ_INT(t_in(b, 0x22, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0x00);
    cwsim_counters cn;
    cwsim_counters_get(sim, &cn);
    CHECK_EQ_INT(cn.uart_tx_dropped, 58);
    /* ENABLE drains the buffer at the real baud: 199 x 10 bits at 38400 = 51.8 ms */
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0011, NULL, 0), 0);
    cwsim_advance_ns(sim, 45000000);
    CHECK(t_tx_waiting(b) > 0);
    cwsim_advance_ns(sim, 10000000);
    CHECK_EQ_INT(t_tx_waiting(b), 0);
    /* CLEAR_ERRORS */
    t_out(b, 0x1B, 0x0012, NULL, 0);
    t_out(b, 0x1A, 0, buf, 128);
    t_out(b, 0x1A, 0, buf, 128);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0013, NULL, 0), 0);
    CHECK_EQ_INT(t_in(b, 0x22, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0x00);
    cwsim_free(sim);
}

static void test_rx_overflow(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    talker t;
    uint8_t buf[128], st[3];
    t_uart_init(b, 115200, 0, 0);
    t_route_serial(b);
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    tk_attach(&t, b, v.uart.baud);
    tk_send(&t, 250);
    cwsim_advance_ns(sim, 50000000);
    CHECK_EQ_INT(t_in(b, 0x22, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0x01); /* RX overflow */
    CHECK_EQ_INT(t_rx_waiting(b), 199);
    CHECK_EQ_INT(t_in(b, 0x22, 0, st, 3), 3);
    CHECK_EQ_INT(st[0], 0x00); /* cleared by the count query */
    cwsim_counters cn;
    cwsim_counters_get(sim, &cn);
    CHECK_EQ_INT(cn.uart_rx, 250);
    CHECK_EQ_INT(cn.uart_rx_dropped, 51);
    /* drop-newest: the first 199 bytes are kept; over-reads are padded with 0xFF */
    CHECK_EQ_INT(t_in(b, 0x1A, 0, buf, 128), 128);
    int ok = 1;
    for (int i = 0; i < 128; i++)
        ok &= buf[i] == (uint8_t)i;
    CHECK(ok);
    CHECK_EQ_INT(t_in(b, 0x1A, 0, buf, 128), 128);
    ok = 1;
    for (int i = 0; i < 71; i++)
        ok &= buf[i] == (uint8_t)(128 + i);
    for (int i = 71; i < 128; i++)
        ok &= buf[i] == 0xFF;
    CHECK(ok);
    CHECK_EQ_INT(t_rx_waiting(b), 0);
    /* 0x1A IN gives min(wLength, 128) */
    uint8_t big[200];
    CHECK_EQ_INT(t_in(b, 0x1A, 0, big, 200), 128);
    /* every INIT empties both buffers (bundled firmware) */
    tk_send(&t, 10);
    cwsim_advance_ns(sim, 5000000);
    CHECK_EQ_INT(t_rx_waiting(b), 10);
    t_out(b, 0x1B, 0x0012, NULL, 0); /* DISABLE */
    memset(buf, 'w', 20);
    t_out(b, 0x1A, 0, buf, 20);
    CHECK_EQ_INT(t_tx_waiting(b), 20);
    tk_send(&t, 5);
    cwsim_advance_ns(sim, 5000000);
    CHECK_EQ_INT(t_rx_waiting(b), 10); /* disabled: nothing received */
    /* INIT with wLength != 7: silently ignored */
    uint8_t c6[6] = {0x00, 0x96, 0, 0, 0, 0};
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0010, c6, 6), 6);
    CHECK_EQ_INT(t_rx_waiting(b), 10);
    cwsim_board_target_view(b, &v);
    CHECK(fabs(v.uart.baud - 115107.9) < 0.1);
    uint8_t c7[7] = {0x00, 0x96, 0, 0, 0, 0, 8};
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0010, c7, 7), 7);
    CHECK_EQ_INT(t_rx_waiting(b), 0);
    CHECK_EQ_INT(t_tx_waiting(b), 0);
    cwsim_board_target_view(b, &v);
    CHECK(fabs(v.uart.baud - 38400) < 1e-6);
    CHECK_EQ_INT(v.uart_enabled, 0); /* INIT resets the USART: ENABLE needed */
    /* out-of-range baud: the USART stays unconfigured and sends nothing */
    uint8_t bad[7] = {1, 0, 0, 0, 0, 0, 8};
    t_out(b, 0x1B, 0x0010, bad, 7);
    t_out(b, 0x1B, 0x0011, NULL, 0);
    cwsim_board_target_view(b, &v);
    CHECK_EQ_INT(v.uart_enabled, 0);
    t_out(b, 0x1A, 0, "abc", 3);
    cwsim_advance_ns(sim, 5000000);
    CHECK_EQ_INT(t_tx_waiting(b), 3);
    /* invalid stop/parity/bits fall back to 1 stop bit, no parity, 8 bits */
    uint8_t odd[7] = {0x00, 0x96, 0, 0, 7, 9, 3};
    t_out(b, 0x1B, 0x0010, odd, 7);
    cwsim_board_target_view(b, &v);
    CHECK(v.uart.stop_halves == 2 && v.uart.parity == CWSIM_PARITY_NONE && v.uart.data_bits == 8);
    uint8_t s7[7] = {0x00, 0x96, 0, 0, 2, 4, 7};
    t_out(b, 0x1B, 0x0010, s7, 7);
    cwsim_board_target_view(b, &v);
    CHECK(v.uart.stop_halves == 4 && v.uart.parity == CWSIM_PARITY_SPACE && v.uart.data_bits == 7);
    cwsim_free(sim);
}

static void test_ports_and_subs(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    uint8_t buf[16];
    t_uart_init(b, 38400, 0, 0);
    CHECK_EQ_INT(t_in(b, 0x1A, 0x0100, buf, 4), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x1A, 0x0100, "abc", 3), 3); /* accepted, ignored */
    CHECK_EQ_INT(t_tx_waiting(b), 0);
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0114, buf, 4), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0112, NULL, 0), 0);
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0014, buf, 3), CWSIM_STALL); /* wLength < 4 */
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0018, buf, 3), CWSIM_STALL);
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0014, buf, 8), 4);
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0020, buf, 1), CWSIM_STALL); /* no XON/XOFF when shipped */
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0020, "\x01", 1), 1);       /* accepted, ignored */
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0010, buf, 4), 0);
    CHECK_EQ_INT(t_in(b, 0x1B, 0x0099, buf, 4), CWSIM_STALL);
    CHECK_EQ_INT(t_out(b, 0x1B, 0x0099, NULL, 0), 0);
    cwsim_free(sim);
}

static void test_cdc(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    char err[200];
    uint8_t buf[64], ping[5] = {'p', 'i', 'n', 'g', 'x'};
    CHECK_EQ_INT(cwsim_loopback_attach(b, err, sizeof err), 0);
    t_uart_init(b, 115200, 0, 0);
    t_route_serial(b);
    /* nothing yet: the CDC IN endpoint NAKs until the timeout */
    uint64_t t0 = cwsim_now_ns(sim);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x85, buf, 64, 100), CWSIM_TIMEOUT);
    CHECK(cwsim_now_ns(sim) - t0 >= 100000000u);
    /* bytes sent on the CDC OUT endpoint share the TX buffer; the echo shows up on both the
       vendor RX buffer and the CDC IN endpoint */
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x06, ping, 4, T_MS), 4);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x85, buf, 64, 100), 4); /* echoed within 0.5 ms */
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ_INT(t_rx_waiting(b), 4);
    /* a CDC IN waits (virtual time) for the first byte: out and back = 173.75 us */
    cwsim_set_usb_latency_ns(sim, 0);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x06, ping + 4, 1, T_MS), 1);
    t0 = cwsim_now_ns(sim);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x85, buf, 64, 100), 1);
    CHECK_EQ_INT(buf[0], 'x');
    CHECK(cwsim_now_ns(sim) - t0 >= 173000u && cwsim_now_ns(sim) - t0 < 180000u);
    cwsim_set_usb_latency_ns(sim, 500000);
    /* SET_LINE_CODING: only the baud rate counts, 8N1 */
    uint8_t lc[7] = {0x80, 0x25, 0, 0, 2, 2, 7}; /* 9600, 2 stop, even, 7 bits */
    CHECK_EQ_INT(cwsim_board_control(b, 0x21, 0x20, 0, 1, lc, 7, T_MS), 7);
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    CHECK(fabs(v.uart.baud - 9600) < 1e-6);
    CHECK(v.uart.data_bits == 8 && v.uart.parity == CWSIM_PARITY_NONE && v.uart_enabled);
    CHECK_EQ_INT(cwsim_board_control(b, 0xA1, 0x21, 0, 1, buf, 7, T_MS), 7);
    CHECK_MEM(buf, lc, 7);
    CHECK_EQ_INT(cwsim_board_control(b, 0x21, 0x22, 3, 1, NULL, 0, T_MS), 0);
    CHECK_EQ_INT(cwsim_board_control(b, 0x21, 0x20, 0, 0, lc, 7, T_MS), CWSIM_STALL);
    CHECK_EQ_INT(cwsim_board_bulk(b, 0x83, buf, 16, 10), CWSIM_TIMEOUT); /* notify */
    /* SLOW_CLOCK_ON: the SAM runs from 6 MHz, the programmed divider stays: baud / 16 */
    t_uart_init(b, 115200, 0, 0);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0001, NULL, 0), 0);
    cwsim_board_target_view(b, &v);
    CHECK(fabs(v.uart.baud - 6e6 / (16 * 52.125)) < 1e-6);
    CHECK_EQ_INT(t_out(b, 0x22, 0x0002, NULL, 0), 0);
    cwsim_board_target_view(b, &v);
    CHECK(fabs(v.uart.baud - 115107.9) < 0.1);
    cwsim_free(sim);
}

static void test_other_boards(void)
{
    cwsim *sim = t_sim();
    cwsim_board *h = t_board(sim, CWSIM_HUSKY);
    cwsim_target_view v;
    t_uart_init(h, 115200, 0, 0);
    cwsim_board_target_view(h, &v);
    CHECK_EQ_INT(v.uart_enabled, 1);
    /* Husky: USART0 doubles as the FPGA programming port (§5.7) */
    CHECK_EQ_INT(t_out(h, 0x16, 0x00A0, NULL, 0), 0);
    cwsim_board_target_view(h, &v);
    CHECK_EQ_INT(v.uart_enabled, 0);
    /* Nano: USART1 at MCK 120 MHz, TX on TIO2 / RX on TIO1 directly */
    cwsim_board *n = t_board(sim, CWSIM_NANO);
    char err[200];
    CHECK_EQ_INT(cwsim_loopback_attach(n, err, sizeof err), 0);
    t_uart_init(n, 115200, 0, 0);
    cwsim_board_target_view(n, &v);
    CHECK(fabs(v.uart.baud - 115163.1) < 0.1);
    CHECK(v.uart_to_target && v.uart_from_target);
    t_out(n, 0x1A, 0, "nano", 4);
    cwsim_advance_ns(sim, 5000000);
    CHECK_EQ_INT(t_rx_waiting(n), 4);
    cwsim_free(sim);
}

int main(void)
{
    test_baud();
    test_decode();
    test_loopback_timing();
    test_tx_overflow();
    test_rx_overflow();
    test_ports_and_subs();
    test_cdc();
    test_other_boards();
    return check_report("sim_usart");
}
