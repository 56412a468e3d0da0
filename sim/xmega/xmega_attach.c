/* SPDX-License-Identifier: MIT */
/* The XMEGA chip behind a simulated board: cwsim_target_ops with the CW308/CW303 wiring
 * (target-protocols.md §1.1: PDI_CLK = /RESET on PDIC, PDI_DATA on PDID; nRST unused). The board
 * owns the chip and frees it at detach or cwsim_free. The UART pins are declared as on every
 * CW308 target (RX TIO2 = board TX, TX TIO1 = board RX); the application model (--sim-app
 * ss1-aes | ss2-aes) uses them, clocked by HS2. */
#include "xmega_internal.h"

static void a_power(void *ctx, int on, uint64_t now_ns)
{
    cwsim_xmega_set_power(ctx, on, now_ns);
}

static void a_clock(void *ctx, double hz, uint64_t now_ns)
{
    cwsim_xmega_set_clock(ctx, hz, now_ns);
}

static void a_pin(void *ctx, cwsim_pin pin, cwsim_level level, uint64_t now_ns)
{
    /* PDIC as a GPIO (not the engine's PDI_CLK): low holds /RESET; undriven, the chip's pull-up
     * releases it [ext]. nRST is not wired to the XMEGA (reset goes through PDIC, §1.2). */
    if (pin == CWSIM_PIN_PDIC)
        cwsim_xmega_set_reset(ctx, level == CWSIM_LOW, now_ns);
}

static int a_pdi_send(void *ctx, uint8_t byte, uint64_t now_ns)
{
    return cwsim_xmega_pdi_send(ctx, byte, now_ns);
}

static int a_pdi_recv(void *ctx, uint8_t *byte, uint64_t now_ns)
{
    return cwsim_xmega_pdi_recv(ctx, byte, now_ns);
}

static void a_pdi_link(void *ctx, int on, uint64_t now_ns)
{
    cwsim_xmega_pdi_link(ctx, on, now_ns);
}

static void a_uart_rx(void *ctx, const cwsim_uart_frame *frame, uint64_t now_ns)
{
    xmega_uart_rx(ctx, frame, now_ns);
}

static void a_uart_tx_ready(void *ctx, uint64_t now_ns)
{
    xmega_uart_tx_ready(ctx, now_ns);
}

static void a_wake(void *ctx, uint64_t now_ns)
{
    xmega_wake(ctx, now_ns);
}

static void a_power_trace(void *ctx, double t0_ns, double adc_hz, float *out, size_t n)
{
    cwsim_xmega_power_trace(ctx, t0_ns, adc_hz, out, n);
}

static void a_destroy(void *ctx)
{
    cwsim_xmega_free(ctx);
}

static const char *a_note(void *ctx)
{
    return cwsim_xmega_note(ctx);
}

static const cwsim_target_ops xmega_ops = {
    .name = "xmega",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .power = a_power,
    .clock = a_clock,
    .pin = a_pin,
    .uart_rx = a_uart_rx,
    .uart_tx_ready = a_uart_tx_ready,
    .wake = a_wake,
    .pdi_send = a_pdi_send,
    .pdi_recv = a_pdi_recv,
    .pdi_link = a_pdi_link,
    .destroy = a_destroy,
    .note = a_note,
    .power_trace = a_power_trace,
};

cwsim_xmega *cwsim_xmega_attach(cwsim_board *b, const char *part, char *err, size_t errlen)
{
    cwsim_xmega *c;
    if (cwsim_xmega_new(cwsim_board_sim(b), part, &c, err, errlen) != 0)
        return NULL;
    c->board = b;
    if (cwsim_board_attach_target(b, &xmega_ops, c, err, errlen) != 0) {
        cwsim_xmega_free(c);
        return NULL;
    }
    return c;
}
