/* SPDX-License-Identifier: MIT */
/* libcwsim wiring tests: what the register file puts on the target connector (cw-usb-protocol
 * §4.1-§4.3, §7.2), the target plug-in interface, read-back through register 59, the wiring
 * faults of contract.md §5, the ISP/PDI stubs and engine hooks. */
#include "simtest.h"

#include <math.h>

typedef struct rec {
    cwsim_board *b;
    int power;
    double clock;
    cwsim_level pins[CWSIM_PIN_COUNT];
    int npower, nclock, npin;
    uint8_t rx[512];
    unsigned flags[512];
    int nrx;
    cwsim_uart_format fmt; /* the chip's own format */
    int woke;
    uint64_t woke_at;
    int destroyed;
    int ready;
} rec;

static void r_power(void *ctx, int on, uint64_t now)
{
    rec *r = ctx;
    (void)now;
    r->power = on;
    r->npower++;
}

static void r_clock(void *ctx, double hz, uint64_t now)
{
    rec *r = ctx;
    (void)now;
    r->clock = hz;
    r->nclock++;
}

static void r_pin(void *ctx, cwsim_pin p, cwsim_level l, uint64_t now)
{
    rec *r = ctx;
    (void)now;
    r->pins[p] = l;
    r->npin++;
}

static void r_rx(void *ctx, const cwsim_uart_frame *f, uint64_t now)
{
    rec *r = ctx;
    (void)now;
    if (r->nrx < 512) {
        r->flags[r->nrx] = cwsim_uart_frame_decode(f, &r->fmt, &r->rx[r->nrx]);
        r->nrx++;
    }
}

static void r_wake(void *ctx, uint64_t now)
{
    rec *r = ctx;
    r->woke++;
    r->woke_at = now;
}

static void r_ready(void *ctx, uint64_t now)
{
    rec *r = ctx;
    (void)now;
    r->ready++;
}

static int r_isp(void *ctx, uint8_t mosi, double sck_hz, uint8_t *miso, uint64_t now)
{
    (void)ctx;
    (void)sck_hz;
    (void)now;
    *miso = (uint8_t)~mosi;
    return 0;
}

static int r_pdi_send(void *ctx, uint8_t v, uint64_t now)
{
    rec *r = ctx;
    (void)now;
    r->rx[0] = v;
    return 0;
}

static int r_pdi_recv(void *ctx, uint8_t *v, uint64_t now)
{
    (void)ctx;
    (void)now;
    *v = 0x5C;
    return 0;
}

static void r_destroy(void *ctx)
{
    rec *r = ctx;
    r->destroyed++;
}

static const cwsim_target_ops rec_ops = {
    .name = "recorder",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .power = r_power,
    .clock = r_clock,
    .pin = r_pin,
    .uart_rx = r_rx,
    .uart_tx_ready = r_ready,
    .wake = r_wake,
    .isp_exchange = r_isp,
    .pdi_send = r_pdi_send,
    .pdi_recv = r_pdi_recv,
    .destroy = r_destroy,
};

/* a chip with its UART on TIO3 (RX) and TIO4 (TX) */
static const cwsim_target_ops rec_ops34 = {
    .name = "recorder34",
    .uart_rx_pin = CWSIM_PIN_TIO3,
    .uart_tx_pin = CWSIM_PIN_TIO4,
    .power = r_power,
    .uart_rx = r_rx,
};

/* a chip transmitting on TIO3 */
static const cwsim_target_ops rec_ops_tx3 = {
    .name = "recorder-tx3",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO3,
    .power = r_power,
    .uart_rx = r_rx,
};

static void rec_attach(rec *r, cwsim_board *b, const cwsim_target_ops *ops)
{
    memset(r, 0, sizeof *r);
    r->b = b;
    r->fmt.baud = 115200;
    r->fmt.data_bits = 8;
    r->fmt.parity = CWSIM_PARITY_NONE;
    r->fmt.stop_halves = 2;
    char err[200];
    CHECK_EQ_INT(cwsim_board_attach_target(b, ops, r, err, sizeof err), 0);
}

static cwsim_target_view view(cwsim_board *b)
{
    cwsim_target_view v;
    cwsim_board_target_view(b, &v);
    return v;
}

static void rmw55(cwsim_board *b, int byte, uint8_t v)
{
    uint8_t io[8];
    t_rreg(b, 55, io, 8);
    io[byte] = v;
    t_wreg(b, 55, io, 8);
}

static void test_default_wiring(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    cwsim_target_view v = view(b);
    CHECK_EQ_INT(v.power, 1);
    CHECK(v.clock_hz == 0.0);                         /* HS2 off at reset */
    CHECK_EQ_INT(v.pins[CWSIM_PIN_TIO1], CWSIM_HIGH); /* reset routing: TIO1 = TX */
    CHECK_EQ_INT(v.pins[CWSIM_PIN_TIO2], CWSIM_Z);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_TIO3], CWSIM_Z);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_TIO4], CWSIM_Z);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_NRST], CWSIM_Z);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_PDIC], CWSIM_Z);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_PDID], CWSIM_Z);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_MOSI], CWSIM_Z);
    CHECK_EQ_INT(v.uart_to_target, 0); /* the reverse of a CW308 target */
    CHECK_EQ_INT(v.uart_from_target, 0);
    rec r;
    rec_attach(&r, b, &rec_ops);
    CHECK(r.power == 1 && r.npower == 1 && r.nclock == 1 && r.npin == CWSIM_PIN_COUNT);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO1], CWSIM_HIGH);
    t_route_serial(b);
    v = view(b);
    CHECK(v.uart_to_target && v.uart_from_target);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO2], CWSIM_HIGH);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO1], CWSIM_Z);
    /* nRST / PDID / PDIC (byte 6) */
    rmw55(b, 6, 0x01);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_LOW);
    rmw55(b, 6, 0x03);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_HIGH);
    rmw55(b, 6, 0x02); /* "high_z": only the enable bit is cleared */
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_Z);
    rmw55(b, 6, 0x0C | 0x10);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_PDID], CWSIM_HIGH);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_PDIC], CWSIM_LOW);
    rmw55(b, 6, 0x30);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_PDID], CWSIM_Z);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_PDIC], CWSIM_HIGH);
    /* TIO GPIO: 0x80 low ("gpio_low", also "gpio_disabled"), 0xC0 high, 0x00 high-Z */
    rmw55(b, 2, 0x80);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO3], CWSIM_LOW);
    rmw55(b, 2, 0xC0);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO3], CWSIM_HIGH);
    rmw55(b, 3, 0xC0);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO4], CWSIM_HIGH);
    rmw55(b, 2, 0x00);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO3], CWSIM_Z);
    rmw55(b, 2, 0x40); /* level without enable: high-Z */
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO3], CWSIM_Z);
    /* HS2 */
    cwsim_board_default_setup(b);
    CHECK(fabs(r.clock - 7384615.38) < 0.01);
    t_wreg1(b, 38, 0x03);
    CHECK(r.clock == 0.0);
    t_wreg1(b, 38, 0x43);
    /* target power off: TIOs and HS2 high-Z; nRST too unless byte6 bit6 */
    rmw55(b, 6, 0x01);
    int np = r.npower;
    rmw55(b, 5, 0x02);
    CHECK(r.power == 0 && r.npower == np + 1);
    CHECK(r.clock == 0.0);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO2], CWSIM_Z);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO4], CWSIM_Z);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_Z);
    CHECK_EQ_INT(view(b).uart_to_target, 0);
    rmw55(b, 6, 0x41);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_LOW);
    rmw55(b, 5, 0x00);
    CHECK(r.power == 1 && fabs(r.clock - 7384615.38) < 0.01);
    /* ISP enable (byte5 bit0) connects MOSI/SCK */
    rmw55(b, 5, 0x01);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_SCK], CWSIM_LOW);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_MOSI], CWSIM_LOW);
    cwsim_free(sim);
    CHECK_EQ_INT(r.destroyed, 1);
}

static void test_ioread(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    cwsim_board_default_setup(b); /* TIO1 RX, TIO2 TX, TIO3 and TIO4 high-Z */
    rec r;
    rec_attach(&r, b, &rec_ops);
    CHECK_EQ_INT(t_rreg1(b, 59), 0x02); /* TIO2: the board's TX idles high */
    cwsim_target_drive(b, CWSIM_PIN_TIO1, CWSIM_HIGH);
    CHECK_EQ_INT(t_rreg1(b, 59), 0x03);
    rmw55(b, 2, 0xC0);
    CHECK_EQ_INT(t_rreg1(b, 59), 0x07);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x04, 0x00); /* trigger: TIO4 low */
    cwsim_target_drive(b, CWSIM_PIN_TIO4, CWSIM_HIGH);
    CHECK_EQ_INT(t_rreg1(b, 59), 0x0F);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x04, 0x04); /* STATUS bit2 follows the trigger input */
    t_wreg1(b, 39, 0x20 | 0x04 | 0x40);       /* TIO4 AND TIO1 */
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x04, 0x04);
    cwsim_target_drive(b, CWSIM_PIN_TIO1, CWSIM_LOW);
    CHECK_EQ_INT(t_rreg1(b, 2) & 0x04, 0x00);
    /* an unpowered chip drives nothing */
    rmw55(b, 5, 0x02);
    CHECK_EQ_INT(t_rreg1(b, 59), 0x00);
    cwsim_free(sim);
}

static void send_and_run(cwsim_board *b, const char *s)
{
    t_out(b, 0x1A, 0, s, (uint16_t)strlen(s));
    cwsim_advance_ns(cwsim_board_sim(b), 5000000);
}

static void test_uart_paths(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    rec r;
    rec_attach(&r, b, &rec_ops34);
    t_uart_init(b, 115200, 0, 0);
    /* TIO3 TXO (open collector, 0x20) carries the board's TX */
    rmw55(b, 0, 0x00);
    rmw55(b, 1, 0x00);
    rmw55(b, 2, 0x20);
    r.fmt = view(b).uart;
    send_and_run(b, "ab");
    CHECK_EQ_INT(r.nrx, 2);
    CHECK(r.rx[0] == 'a' && r.rx[1] == 'b' && r.flags[0] == 0);
    CHECK_EQ_INT(view(b).uart_from_target, 0);
    /* TIO4 RX: the HDL reads TIO3 instead, so a chip transmitting on TIO4 is not heard */
    rmw55(b, 3, 0x02);
    CHECK_EQ_INT(view(b).uart_from_target, 0);
    cwsim_free(sim);

    sim = t_sim();
    b = t_board(sim, CWSIM_CWLITE);
    rec_attach(&r, b, &rec_ops_tx3);
    t_uart_init(b, 115200, 0, 0);
    rmw55(b, 0, 0x00);
    rmw55(b, 1, 0x01);
    rmw55(b, 3, 0x02); /* RX on TIO4 reads TIO3 (§4.1 HDL bug) */
    CHECK_EQ_INT(view(b).uart_from_target, 1);
    r.fmt = view(b).uart;
    CHECK_EQ_INT(cwsim_target_uart_send(b, 'Z', &r.fmt), 0);
    cwsim_advance_ns(sim, 1000000);
    uint8_t c;
    CHECK_EQ_INT(t_rx_waiting(b), 1);
    CHECK_EQ_INT(t_in(b, 0x1A, 0, &c, 1), 1);
    CHECK_EQ_INT(c, 'Z');
    /* the chip's TX line: one frame shifting, one waiting */
    CHECK_EQ_INT(cwsim_target_uart_send(b, '1', &r.fmt), 0);
    CHECK_EQ_INT(cwsim_target_uart_busy(b), 1);
    CHECK_EQ_INT(cwsim_target_uart_send(b, '2', &r.fmt), 0);
    CHECK_EQ_INT(cwsim_target_uart_send(b, '3', &r.fmt), -1);
    cwsim_uart_format badf = r.fmt;
    badf.data_bits = 9;
    CHECK_EQ_INT(cwsim_target_uart_send(b, '3', &badf), -1);
    cwsim_advance_ns(sim, 1000000);
    CHECK_EQ_INT(cwsim_target_uart_busy(b), 0);
    CHECK_EQ_INT(t_rx_waiting(b), 2);
    /* a chip talking at the wrong baud is received garbled */
    cwsim_uart_format slow = r.fmt;
    slow.baud = r.fmt.baud / 2;
    t_in(b, 0x1A, 0, &c, 1);
    t_in(b, 0x1A, 0, &c, 1);
    cwsim_target_uart_send(b, 0x55, &slow);
    cwsim_advance_ns(sim, 1000000);
    CHECK_EQ_INT(t_rx_waiting(b), 1);
    t_in(b, 0x1A, 0, &c, 1);
    CHECK(c != 0x55);
    cwsim_free(sim);
}

static void test_faults(void)
{
    char err[200];
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    cwsim_board_default_setup(b);
    rec r;
    rec_attach(&r, b, &rec_ops);
    t_uart_init(b, 115200, 0, 0);
    r.fmt = view(b).uart;
    rmw55(b, 6, 0x01); /* nRST low */
    rmw55(b, 6, 0x01 | 0x0C | 0x30);

    CHECK_EQ_INT(cwsim_fault_set(sim, "no-power", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(r.power, 0);
    CHECK(fabs(r.clock - 7384615.38) < 0.01); /* the board still drives HS2 */
    CHECK_EQ_INT(cwsim_target_uart_send(b, 'x', &r.fmt), -1);
    send_and_run(b, "a");
    CHECK_EQ_INT(r.nrx, 0);
    cwsim_fault_clear(sim, "no-power");
    CHECK_EQ_INT(r.power, 1);

    CHECK_EQ_INT(cwsim_fault_set(sim, "no-clock", NULL, err, sizeof err), 0);
    CHECK(r.clock == 0.0);
    cwsim_fault_clear(sim, "no-clock");
    CHECK(r.clock > 7e6);

    CHECK_EQ_INT(cwsim_fault_set(sim, "nrst-open", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_Z);
    cwsim_fault_clear(sim, "nrst-open");
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_LOW);

    CHECK_EQ_INT(cwsim_fault_set(sim, "pdi-open", NULL, err, sizeof err), 0);
    CHECK(r.pins[CWSIM_PIN_PDIC] == CWSIM_Z && r.pins[CWSIM_PIN_PDID] == CWSIM_Z);
    cwsim_fault_clear(sim, "pdi-open");
    CHECK(r.pins[CWSIM_PIN_PDIC] == CWSIM_HIGH && r.pins[CWSIM_PIN_PDID] == CWSIM_HIGH);

    send_and_run(b, "ok");
    CHECK_EQ_INT(r.nrx, 2);
    CHECK_EQ_INT(cwsim_fault_set(sim, "uart-tx-open", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(view(b).uart_to_target, 0);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO2], CWSIM_Z);
    send_and_run(b, "no");
    CHECK_EQ_INT(r.nrx, 2);
    cwsim_fault_clear(sim, "uart-tx-open");

    CHECK_EQ_INT(cwsim_fault_set(sim, "uart-rx-open", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(view(b).uart_from_target, 0);
    cwsim_target_uart_send(b, 'q', &r.fmt);
    cwsim_advance_ns(sim, 1000000);
    CHECK_EQ_INT(t_rx_waiting(b), 0);
    cwsim_fault_clear(sim, "uart-rx-open");

    /* swapped lines: the CW308 routing fails; the reset routing (TIO1 TX, TIO2 RX) works */
    CHECK_EQ_INT(cwsim_fault_set(sim, "uart-swapped", NULL, err, sizeof err), 0);
    CHECK(!view(b).uart_to_target && !view(b).uart_from_target);
    rmw55(b, 0, 0x01);
    rmw55(b, 1, 0x02);
    CHECK(view(b).uart_to_target && view(b).uart_from_target);
    send_and_run(b, "s");
    CHECK_EQ_INT(r.nrx, 3);
    cwsim_fault_clear(sim, "uart-swapped");
    rmw55(b, 0, 0x02);
    rmw55(b, 1, 0x01);

    /* bit-flips=1: every bit after the start bit inverts; the stop bit too: framing error */
    CHECK_EQ_INT(cwsim_fault_set(sim, "bit-flips", "1", err, sizeof err), 0);
    send_and_run(b, "U"); /* 0x55 */
    CHECK_EQ_INT(r.nrx, 4);
    CHECK_EQ_INT(r.rx[3], 0xAA);
    CHECK(r.flags[3] & CWSIM_UART_FRAMING_ERROR);
    cwsim_fault_clear(sim, "bit-flips");

    CHECK_EQ_INT(cwsim_fault_set(sim, "drop-bytes", "1", err, sizeof err), 0);
    send_and_run(b, "dropped");
    CHECK_EQ_INT(r.nrx, 4);
    cwsim_fault_clear(sim, "drop-bytes");

    /* drop-bytes=0.5: repeatable with the same seed */
    int got[2];
    for (int run = 0; run < 2; run++) {
        cwsim_seed(sim, 42);
        CHECK_EQ_INT(cwsim_fault_set(sim, "drop-bytes", "0.5", err, sizeof err), 0);
        int before = r.nrx;
        char buf[101];
        memset(buf, 'd', 100);
        buf[100] = '\0';
        send_and_run(b, buf + 50);
        send_and_run(b, buf + 50);
        got[run] = r.nrx - before;
        r.nrx = before;
    }
    CHECK(got[0] == got[1]);
    CHECK(got[0] > 25 && got[0] < 75);
    cwsim_fault_clear(sim, "drop-bytes");

    CHECK_EQ_INT(cwsim_fault_set(sim, "isp-open", NULL, err, sizeof err), 0);
    rmw55(b, 5, 0x01);
    uint8_t miso = 0;
    CHECK_EQ_INT(cwsim_board_isp_exchange(b, 0x12, 125e3, &miso), -1);
    CHECK_EQ_INT(miso, 0xFF);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_MOSI], CWSIM_Z);
    cwsim_fault_clear(sim, "isp-open");
    CHECK_EQ_INT(cwsim_board_isp_exchange(b, 0x12, 125e3, &miso), 0);
    CHECK_EQ_INT(miso, 0xED);
    rmw55(b, 5, 0x00);
    CHECK_EQ_INT(cwsim_board_isp_exchange(b, 0x12, 125e3, &miso), -1);
    /* the FPGA still drives PDIC and PDID as GPIOs (byte 6 above): that fights the SAM's PDI
     * master and nothing reaches the chip (inferred); released, PDI works */
    CHECK_EQ_INT(cwsim_board_pdi_send(b, 0x99), -1);
    rmw55(b, 6, 0x01);
    CHECK_EQ_INT(cwsim_board_pdi_send(b, 0x99), 0);
    CHECK_EQ_INT(r.rx[0], 0x99);
    CHECK_EQ_INT(cwsim_board_pdi_recv(b, &miso), 0);
    CHECK_EQ_INT(miso, 0x5C);
    CHECK_EQ_INT(cwsim_fault_set(sim, "pdi-open", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_board_pdi_recv(b, &miso), -1);
    CHECK_EQ_INT(miso, 0xFF);
    cwsim_free(sim);
}

static void test_board_faults(void)
{
    char err[200];
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    cwsim_board_default_setup(b);
    CHECK_EQ_INT(cwsim_fault_set(sim, "glitch-active", NULL, err, sizeof err), 0);
    CHECK_EQ_INT(t_rreg1(b, 38), 0x63);
    uint8_t io[8], g[8];
    t_rreg(b, 55, io, 8);
    CHECK_EQ_INT(io[4], 0x03);
    t_rreg(b, 51, g, 8);
    CHECK_EQ_INT(g[7] & 0x03, 0x01);
    CHECK(fabs(view(b).clock_hz - 7384615.38) < 0.01); /* the glitch module's clock */
    /* a new board with the fault set starts with the glitch outputs on */
    cwsim_board *b2 = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(t_rreg1(b2, 38), 0x63);
    /* a SETTINGS reset (NewAE's connect) switches them off */
    t_wreg1(b2, 1, 0x01);
    CHECK_EQ_INT(t_rreg1(b2, 38), 0x03);
    cwsim_free(sim);

    sim = t_sim();
    CHECK_EQ_INT(cwsim_fault_set(sim, "fpga-unprogrammed", NULL, err, sizeof err), 0);
    b = t_board(sim, CWSIM_CWLITE);
    cwsim_target_view v = view(b);
    CHECK(v.power == 0 && v.clock_hz == 0.0 && !v.uart_to_target && !v.uart_from_target);
    CHECK_EQ_INT(v.pins[CWSIM_PIN_TIO1], CWSIM_Z);
    cwsim_free(sim);
}

static void test_nano(void)
{
    cwsim *sim = t_sim();
    cwsim_board *n = t_board(sim, CWSIM_NANO);
    rec r;
    rec_attach(&r, n, &rec_ops);
    CHECK_EQ_INT(r.power, 1);
    CHECK(r.clock == 0.0);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO2], CWSIM_HIGH);
    uint8_t div[3] = {32, 0, 0};
    CHECK_EQ_INT(t_out(n, 0x27, 0, div, 3), 3);
    CHECK(fabs(r.clock - 7.5e6) < 1e-6);
    uint8_t got[3];
    CHECK_EQ_INT(t_in(n, 0x27, 0, got, 3), 3);
    CHECK_EQ_INT(got[0], 32);
    div[0] = 3; /* not a power of two: 64 */
    t_out(n, 0x27, 0, div, 3);
    CHECK(fabs(r.clock - 3.75e6) < 1e-6);
    div[0] = 0;
    t_out(n, 0x27, 0, div, 3);
    CHECK(r.clock == 0.0);
    /* GPIO: "high" = mode 1 then mode 4; mask bits: 2 TIO3, 6 nRST; bit 0 ignored */
    uint8_t m[2] = {0x45, 0};
    t_out(n, 0x25, 1, m, 2);
    t_out(n, 0x25, 4, m, 2);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO3], CWSIM_HIGH);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_HIGH);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_TIO1], CWSIM_Z);
    m[0] = 0x40;
    t_out(n, 0x25, 3, m, 2);
    CHECK_EQ_INT(r.pins[CWSIM_PIN_NRST], CWSIM_LOW);
    m[0] = 0x30;
    t_out(n, 0x25, 1, m, 2);
    CHECK(r.pins[CWSIM_PIN_PDIC] == CWSIM_LOW && r.pins[CWSIM_PIN_PDID] == CWSIM_LOW);
    m[0] = 0x44;
    t_out(n, 0x25, 2, m, 2);
    CHECK(r.pins[CWSIM_PIN_NRST] == CWSIM_Z && r.pins[CWSIM_PIN_TIO3] == CWSIM_Z);
    /* the shared 128-byte buffer: no data means the mask left by the last OUT (0x44) */
    t_out(n, 0x25, 1, NULL, 0);
    CHECK(r.pins[CWSIM_PIN_NRST] == CWSIM_LOW && r.pins[CWSIM_PIN_TIO3] == CWSIM_HIGH);
    uint8_t miso;
    CHECK_EQ_INT(cwsim_board_isp_exchange(n, 1, 125e3, &miso), -1);
    cwsim_board_default_setup(n);
    CHECK(fabs(view(n).clock_hz - 7.5e6) < 1e-6);
    cwsim_free(sim);
}

static int hook_calls;
static int hook(void *ctx, cwsim_board *b, uint8_t bm, uint8_t req, uint16_t val, uint16_t idx,
                uint8_t *data, uint16_t len)
{
    (void)ctx;
    (void)b;
    (void)idx;
    (void)val;
    hook_calls++;
    if (bm & 0x80) {
        if (len < 3)
            return CWSIM_STALL;
        data[0] = req;
        data[1] = 0;
        data[2] = 0;
        return 3;
    }
    return len;
}

static void test_target_api(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    rec r;
    char err[200];
    static const cwsim_target_ops bad = {
        .name = "bad", .uart_rx_pin = CWSIM_PIN_TIO1, .uart_tx_pin = CWSIM_PIN_TIO1};
    CHECK_EQ_INT(cwsim_board_attach_target(b, &bad, NULL, err, sizeof err), -1);
    rec_attach(&r, b, &rec_ops);
    uint64_t t = cwsim_now_ns(sim);
    cwsim_target_wake_at(b, t + 1000);
    cwsim_advance_ns(sim, 999);
    CHECK_EQ_INT(r.woke, 0);
    cwsim_advance_ns(sim, 2);
    CHECK_EQ_INT(r.woke, 1);
    CHECK_EQ_INT(r.woke_at, t + 1000);
    cwsim_advance_ns(sim, 10000);
    CHECK_EQ_INT(r.woke, 1);
    /* tx_ready after each of the chip's frames */
    cwsim_board_default_setup(b);
    cwsim_uart_format f = {115200, 8, CWSIM_PARITY_NONE, 2};
    cwsim_target_uart_send(b, 1, &f);
    cwsim_target_uart_send(b, 2, &f);
    cwsim_advance_ns(sim, 1000000);
    CHECK_EQ_INT(r.ready, 2);
    /* replacing the target destroys the old one */
    rec r2;
    rec_attach(&r2, b, &rec_ops);
    CHECK_EQ_INT(r.destroyed, 1);
    cwsim_board_detach_target(b);
    CHECK_EQ_INT(r2.destroyed, 1);
    CHECK(strcmp(cwsim_pin_name(CWSIM_PIN_PDIC), "pdic") == 0);
    CHECK(strcmp(cwsim_pin_name(CWSIM_PIN_TIO4), "tio4") == 0);
    /* engine hooks for 0x20/0x21 */
    uint8_t buf[8];
    CHECK_EQ_INT(cwsim_board_set_vendor_hook(b, 0x22, hook, NULL), -1);
    CHECK_EQ_INT(cwsim_board_set_vendor_hook(b, 0x20, hook, NULL), 0);
    CHECK_EQ_INT(t_out(b, 0x20, 0x0001, NULL, 0), 0);
    CHECK_EQ_INT(t_in(b, 0x20, 0x0020, buf, 3), 3);
    CHECK_EQ_INT(buf[0], 0x20);
    CHECK_EQ_INT(t_in(b, 0x20, 0x0020, buf, 2), CWSIM_STALL);
    CHECK_EQ_INT(t_in(b, 0x21, 0x0020, buf, 3), 0); /* the board's V2 engine: no status yet */
    CHECK_EQ_INT(hook_calls, 3);
    cwsim_board *n = t_board(sim, CWSIM_NANO);
    cwsim_board_set_vendor_hook(n, 0x20, hook, NULL);
    CHECK_EQ_INT(t_out(n, 0x20, 0x0001, NULL, 0), CWSIM_STALL); /* not in the Nano */
    CHECK_EQ_INT(hook_calls, 3);
    cwsim_free(sim);
}

/* The engines' shared timeout counter (target-protocols.md §1, §B.6, §C.7): 500 ticks at power-on,
 * 0.4 ms a tick, runs down with virtual time, shared default, stop freezes it. */
static void test_engine_timeout(void)
{
    cwsim *sim = t_sim();
    cwsim_board *b = t_board(sim, CWSIM_CWLITE);
    CHECK_EQ_INT(cwsim_board_engine_timeout_default(b), 500);
    CHECK_EQ_INT(cwsim_board_engine_timeout_remaining(b), 0); /* not started */
    cwsim_board_engine_timeout_start(b);
    CHECK_EQ_INT(cwsim_board_engine_timeout_remaining(b), 500);
    cwsim_advance_ns(sim, 100 * CWSIM_ENGINE_TICK_NS);
    CHECK_EQ_INT(cwsim_board_engine_timeout_remaining(b), 400);
    cwsim_board_engine_timeout_stop(b);
    cwsim_advance_ns(sim, 1000 * CWSIM_ENGINE_TICK_NS);
    CHECK_EQ_INT(cwsim_board_engine_timeout_remaining(b), 400); /* frozen */
    cwsim_board_engine_timeout_set_default(b, 10);              /* e.g. an XMEGA SET_PARAM */
    cwsim_board_engine_timeout_start(b);
    cwsim_advance_ns(sim, 11 * CWSIM_ENGINE_TICK_NS);
    CHECK_EQ_INT(cwsim_board_engine_timeout_remaining(b), 0); /* expired, and stays there */
    CHECK_EQ_INT(cwsim_board_engine_timeout_default(b), 10);
    cwsim_free(sim);
}

int main(void)
{
    test_engine_timeout();
    test_default_wiring();
    test_ioread();
    test_uart_paths();
    test_faults();
    test_board_faults();
    test_nano();
    test_target_api();
    return check_report("sim_wiring");
}
