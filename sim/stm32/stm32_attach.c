/* SPDX-License-Identifier: MIT */
/* The STM32 chip behind a simulated board: cwsim_target_ops with the CW308 wiring
 * (target-protocols.md §1.1: chip RX on TIO2 = board TX, chip TX on TIO1 = board RX, BOOT0 on
 * PDIC, reset on nRST). The board owns the chip and frees it at detach or cwsim_free. */
#include "stm32_internal.h"

static void a_power(void *ctx, int on, uint64_t now_ns)
{
    cwsim_stm32 *c = ctx;
    stm32_run(c, now_ns);
    stm32_power(c, on);
    /* the chip's TX pin idles high while powered (the board ignores an unpowered chip) */
    cwsim_target_drive(c->board, CWSIM_PIN_TIO1, on ? CWSIM_HIGH : CWSIM_Z);
    stm32_run(c, now_ns);
    stm32_leave(c);
}

static void a_clock(void *ctx, double hz, uint64_t now_ns)
{
    cwsim_stm32_set_clock(ctx, hz, now_ns);
}

static void a_pin(void *ctx, cwsim_pin pin, cwsim_level level, uint64_t now_ns)
{
    cwsim_stm32 *c = ctx;
    if (pin == CWSIM_PIN_NRST) /* undriven: released (the chip's internal pull-up) */
        cwsim_stm32_set_nrst(c, level == CWSIM_LOW, now_ns);
    else if (pin == CWSIM_PIN_PDIC) /* BOOT0; undriven: low (the CW308's pull-down) */
        cwsim_stm32_set_boot0(c, level == CWSIM_HIGH, now_ns);
}

static void a_uart_rx(void *ctx, const cwsim_uart_frame *frame, uint64_t now_ns)
{
    cwsim_stm32_rx_frame(ctx, frame, now_ns);
}

static void a_wake(void *ctx, uint64_t now_ns)
{
    cwsim_stm32_advance(ctx, now_ns);
}

static void a_destroy(void *ctx)
{
    cwsim_stm32_free(ctx);
}

static const char *a_note(void *ctx)
{
    return cwsim_stm32_note(ctx);
}

static void a_power_trace(void *ctx, double t0_ns, double adc_hz, float *out, size_t n)
{
    cwsim_stm32_power_trace(ctx, t0_ns, adc_hz, out, n);
}

static const cwsim_target_ops stm32_ops = {
    .name = "stm32",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .power = a_power,
    .clock = a_clock,
    .pin = a_pin,
    .uart_rx = a_uart_rx,
    .uart_tx_ready = a_wake,
    .wake = a_wake,
    .destroy = a_destroy,
    .note = a_note,
    .power_trace = a_power_trace,
};

cwsim_stm32 *cwsim_stm32_attach(cwsim_board *b, const char *part, char *err, size_t errlen)
{
    cwsim_stm32 *c;
    if (cwsim_stm32_new(cwsim_board_sim(b), part, &c, err, errlen) != 0)
        return NULL;
    c->board = b;
    if (cwsim_board_attach_target(b, &stm32_ops, c, err, errlen) != 0) {
        cwsim_stm32_free(c);
        return NULL;
    }
    return c;
}
