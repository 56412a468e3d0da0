/* SPDX-License-Identifier: MIT */
/* The loop-back target (cwsim_loopback.h): a chip that echoes every UART frame it receives, in
 * the sender's format, while powered. Through the chip interface only, like any chip model. */
#include "cwsim_loopback.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct loopback {
    cwsim_board *b;
    int powered;
} loopback;

static void lb_power(void *ctx, int on, uint64_t now_ns)
{
    loopback *l = ctx;
    (void)now_ns;
    l->powered = on;
    cwsim_target_drive(l->b, CWSIM_PIN_TIO1, on ? CWSIM_HIGH : CWSIM_Z); /* its TX idles high */
}

static void lb_rx(void *ctx, const cwsim_uart_frame *f, uint64_t now_ns)
{
    loopback *l = ctx;
    uint8_t v;
    (void)now_ns;
    if (!l->powered)
        return;
    cwsim_uart_frame_decode(f, &f->fmt, &v); /* it listens in the sender's format */
    (void)cwsim_target_uart_send(l->b, v, &f->fmt);
}

static void lb_destroy(void *ctx)
{
    free(ctx);
}

static const cwsim_target_ops loopback_ops = {
    .name = "loopback",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .power = lb_power,
    .uart_rx = lb_rx,
    .destroy = lb_destroy,
};

int cwsim_loopback_attach(cwsim_board *b, char *err, size_t errlen)
{
    loopback *l = calloc(1, sizeof *l);
    if (l == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "cwsim: out of memory");
        return -1;
    }
    l->b = b;
    if (cwsim_board_attach_target(b, &loopback_ops, l, err, errlen) != 0) {
        free(l);
        return -1;
    }
    return 0;
}
