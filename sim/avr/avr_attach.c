/* SPDX-License-Identifier: MIT */
/* The AVR chip behind a simulated board, with the CW308 wiring (target-protocols.md §1.1: /RESET
 * on nRST, SPI on MOSI/MISO/SCK; the clock on HS2 into XTAL1/CLKI). The board's V2 engine
 * (sim/engines/v2.c, installed when the board is added) programs it. The board owns the chip and
 * frees it at detach or cwsim_free. */
#include "avr_internal.h"

#include <stdlib.h>

typedef struct avr_attachment {
    cwsim_avr *chip;
} avr_attachment;

static void a_power(void *ctx, int on, uint64_t now_ns)
{
    avr_attachment *a = ctx;
    cwsim_avr_set_power(a->chip, on, now_ns);
}

static void a_clock(void *ctx, double hz, uint64_t now_ns)
{
    avr_attachment *a = ctx;
    cwsim_avr_set_clock(a->chip, hz, now_ns);
}

static void a_pin(void *ctx, cwsim_pin pin, cwsim_level level, uint64_t now_ns)
{
    avr_attachment *a = ctx;
    if (pin == CWSIM_PIN_NRST) /* undriven: released (the chip's internal pull-up) */
        cwsim_avr_set_reset(a->chip, level == CWSIM_LOW, now_ns);
}

static int a_isp(void *ctx, uint8_t mosi, double sck_hz, uint8_t *miso, uint64_t now_ns)
{
    avr_attachment *a = ctx;
    /* the SCK rate is a property of the wire: the chip needs it to know whether it keeps up */
    return cwsim_avr_spi(a->chip, mosi, sck_hz, now_ns, miso);
}

static void a_destroy(void *ctx)
{
    avr_attachment *a = ctx;
    cwsim_avr_free(a->chip);
    free(a);
}

static const cwsim_target_ops avr_ops = {
    .name = "avr",
    .uart_rx_pin = CWSIM_PIN_TIO2, /* the AVR's USART (unused by the model) as on a CW308 */
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .power = a_power,
    .clock = a_clock,
    .pin = a_pin,
    .isp_exchange = a_isp,
    .destroy = a_destroy,
};

cwsim_avr *cwsim_avr_attach(cwsim_board *b, const char *part, char *err, size_t errlen)
{
    avr_attachment *a = calloc(1, sizeof *a);
    if (a == NULL) {
        avr_err(err, errlen, "cwsim avr: out of memory");
        return NULL;
    }
    if (cwsim_avr_new(cwsim_board_sim(b), part, &a->chip, err, errlen) != 0) {
        free(a);
        return NULL;
    }
    if (cwsim_board_attach_target(b, &avr_ops, a, err, errlen) != 0) {
        cwsim_avr_free(a->chip);
        free(a);
        return NULL;
    }
    return a->chip;
}
