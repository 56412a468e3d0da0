/* SPDX-License-Identifier: MIT */
/* libcwsim USART bridge as shipped (cw-usb-protocol.md §5): 7-byte INIT with the SAM's fractional
 * baud divider, ENABLE/DISABLE, 200-byte RX/TX circular buffers (199 usable) that every INIT
 * empties (bundled firmware, §0/§5.1), drop-newest overflow with the error bits, and UART frames
 * that take start + data + parity + stop bits of virtual time at the real baud. */
#include "sim_internal.h"

#include <math.h>
#include <string.h>

/* ---- frames -------------------------------------------------------------------------------- */

static unsigned parity_bit(uint8_t byte, unsigned data_bits, unsigned parity)
{
    unsigned ones = 0;
    for (unsigned i = 0; i < data_bits; i++)
        ones += ((unsigned)byte >> i) & 1u;
    switch (parity) {
    case CWSIM_PARITY_ODD:
        return (ones & 1u) ? 0u : 1u;
    case CWSIM_PARITY_EVEN:
        return ones & 1u;
    case CWSIM_PARITY_MARK:
        return 1;
    default: /* space */
        return 0;
    }
}

cwsim_uart_frame uart_make_frame(uint8_t byte, const cwsim_uart_format *fmt)
{
    cwsim_uart_frame f;
    memset(&f, 0, sizeof f);
    f.byte = byte;
    f.fmt = *fmt;
    unsigned db = fmt->data_bits;
    unsigned slot = 1; /* slot 0: start bit, low */
    uint16_t lv = 0;
    for (unsigned i = 0; i < db; i++, slot++)
        if (((unsigned)byte >> i) & 1u)
            lv = (uint16_t)(lv | (1u << slot));
    if (fmt->parity != CWSIM_PARITY_NONE) {
        if (parity_bit(byte, db, fmt->parity))
            lv = (uint16_t)(lv | (1u << slot));
        slot++;
    }
    unsigned stops = fmt->stop_halves >= 3 ? 2u : 1u;
    for (unsigned i = 0; i < stops; i++, slot++)
        lv = (uint16_t)(lv | (1u << slot));
    f.levels = lv;
    f.nslots = (uint8_t)slot;
    return f;
}

uint64_t cwsim_uart_frame_ns(const cwsim_uart_format *fmt)
{
    if (fmt->baud <= 0)
        return 0;
    unsigned halves = 2u * (1u + fmt->data_bits + (fmt->parity != CWSIM_PARITY_NONE ? 1u : 0u)) +
                      fmt->stop_halves;
    return (uint64_t)llround((double)halves * 1e9 / (2.0 * fmt->baud));
}

static unsigned level_at(const cwsim_uart_frame *f, double t_bits)
{
    if (t_bits < 0)
        return 1;
    double slot = floor(t_bits);
    if (slot >= (double)f->nslots)
        return 1; /* idle line after the frame */
    return (f->levels >> (unsigned)slot) & 1u;
}

unsigned cwsim_uart_frame_decode(const cwsim_uart_frame *f, const cwsim_uart_format *rx,
                                 uint8_t *byte)
{
    double ratio = (rx->baud > 0 && f->fmt.baud > 0) ? f->fmt.baud / rx->baud : 1.0;
    unsigned flags = 0;
    unsigned k = 0;
    if (level_at(f, 0.5 * ratio) != 0)
        flags |= CWSIM_UART_FRAMING_ERROR; /* no valid start bit at its centre */
    k++;
    unsigned v = 0;
    for (unsigned i = 0; i < rx->data_bits; i++, k++)
        v |= level_at(f, ((double)k + 0.5) * ratio) << i;
    if (rx->parity != CWSIM_PARITY_NONE) {
        unsigned p = level_at(f, ((double)k + 0.5) * ratio);
        if (p != parity_bit((uint8_t)v, rx->data_bits, rx->parity))
            flags |= CWSIM_UART_PARITY_ERROR;
        k++;
    }
    if (level_at(f, ((double)k + 0.5) * ratio) != 1)
        flags |= CWSIM_UART_FRAMING_ERROR;
    if (byte != NULL)
        *byte = (uint8_t)v;
    return flags;
}

/* §5.1 baud accuracy: over = 16 if MCK >= 16*baud else 8;
 * cd_fp = floor((8*MCK + over*baud/2) / (over*baud)); CD = cd_fp >> 3, FP = cd_fp & 7;
 * actual = MCK / (over * (CD + FP/8)); CD must be in 1..65535. */
static int baud_divider(uint32_t req, uint32_t mck, unsigned *over, unsigned *cd_fp)
{
    if (req == 0)
        return -1;
    uint64_t ov = (uint64_t)mck >= 16ull * req ? 16u : 8u;
    uint64_t d = ov * req;
    uint64_t cf = (8ull * mck + d / 2) / d;
    uint64_t cd = cf >> 3;
    if (cd < 1 || cd > 65535)
        return -1;
    *over = (unsigned)ov;
    *cd_fp = (unsigned)cf;
    return 0;
}

static double divider_baud(uint32_t mck, unsigned over, unsigned cd_fp)
{
    double cd = (double)(cd_fp >> 3) + (double)(cd_fp & 7u) / 8.0;
    return (double)mck / ((double)over * cd);
}

int cwsim_uart_baud_actual(uint32_t requested, uint32_t mck_hz, double *actual)
{
    unsigned over, cd_fp;
    if (baud_divider(requested, mck_hz, &over, &cd_fp) != 0)
        return -1;
    if (actual != NULL)
        *actual = divider_baud(mck_hz, over, cd_fp);
    return 0;
}

/* The master clock the USART divides: 0x22/0x01 SLOW_CLOCK_ON switches the SAM to its 12 MHz
 * crystal with the ÷2 prescaler, 6 MHz (§2.3, inferred from conf_clock.h; assumed the same on
 * every board). The divider registers keep their values, so the baud scales with it. */
uint32_t usart_mck(const cwsim_board *b)
{
    return b->slow_clock ? 6000000u : b->kd->mck_hz;
}

/* ---- circular buffers (§5.4) -------------------------------------------------------------- */

void circ_init(sim_circbuf *c, uint16_t size)
{
    c->size = size;
    c->head = c->tail = 0;
}

unsigned circ_count(const sim_circbuf *c)
{
    return (unsigned)((c->head + c->size - c->tail) % c->size);
}

int circ_push(sim_circbuf *c, uint8_t v)
{
    uint16_t next = (uint16_t)((c->head + 1) % c->size);
    if (next == c->tail)
        return -1; /* full: one slot stays empty, the new byte is dropped */
    c->data[c->head] = v;
    c->head = next;
    return 0;
}

int circ_pop(sim_circbuf *c, uint8_t *v)
{
    if (c->head == c->tail)
        return -1;
    *v = c->data[c->tail];
    c->tail = (uint16_t)((c->tail + 1) % c->size);
    return 0;
}

/* ---- state ----------------------------------------------------------------------------- */

static uint16_t circ_size(const cwsim_board *b)
{
    /* §5.4: 200 in released firmware; 128 before SERIAL_200_BUFFER (§2.4) */
    return usb_feature(b, FEAT_SERIAL_200) ? 200u : 128u;
}

void usart_reset(cwsim_board *b)
{
    sim_usart *u = &b->usart;
    int cdc = u->cdc_enabled;
    memset(u, 0, sizeof *u);
    u->cdc_enabled = cdc;
    uint16_t n = circ_size(b);
    circ_init(&u->rx, n);
    circ_init(&u->tx, n);
    circ_init(&u->cdc, 200); /* §5.6 the bundled firmware's second 200-byte buffer */
    /* ASF UDI_CDC_DEFAULT_RATE/STOPBITS/PARITY/DATABITS: 115200 8N1 (inferred) */
    static const uint8_t lc[7] = {0x00, 0xC2, 0x01, 0x00, 0, 0, 8};
    memcpy(u->line_coding, lc, sizeof lc);
}

static void usart_set_format(cwsim_board *b, double baud)
{
    sim_usart *u = &b->usart;
    u->fmt.baud = baud;
    u->fmt.data_bits = u->data_bits;
    u->fmt.parity = u->parity_idx;
    u->fmt.stop_halves = (uint8_t)(u->stop_idx == 1 ? 3 : u->stop_idx == 2 ? 4 : 2);
}

/* §5.1 INIT: 7 bytes [baud u32][stop 0/1/2][parity 0..4][data bits 5..8]; out-of-range
 * values fall back to 1 stop bit, no parity, 8 bits. The USART is reset (RX and TX off, the
 * frame on the line is abandoned), and the bundled firmware empties RX, TX and the CDC copy on
 * every INIT. A baud whose divider CD falls outside 1..65535 leaves the USART unconfigured. */
void usart_init_cmd(cwsim_board *b, const uint8_t *cfg)
{
    sim_usart *u = &b->usart;
    uint32_t baud =
        (uint32_t)cfg[0] | (uint32_t)cfg[1] << 8 | (uint32_t)cfg[2] << 16 | (uint32_t)cfg[3] << 24;
    u->tx_enabled = u->rx_enabled = 0;
    u->shift_active = 0;
    u->thr_full = 0;
    circ_init(&u->rx, circ_size(b));
    circ_init(&u->tx, circ_size(b));
    circ_init(&u->cdc, 200);
    u->req_baud = baud;
    u->stop_idx = cfg[4] <= 2 ? cfg[4] : 0;
    u->parity_idx = cfg[5] <= 4 ? cfg[5] : 0;
    u->data_bits = (cfg[6] >= 5 && cfg[6] <= 8) ? cfg[6] : 8;
    unsigned over, cd_fp;
    if (baud_divider(baud, usart_mck(b), &over, &cd_fp) != 0) {
        u->configured = 0; /* §5.1: INIT fails silently, after the reset */
        return;
    }
    u->configured = 1;
    usart_set_format(b, divider_baud(usart_mck(b), over, cd_fp));
}

/* §5.1 ENABLE/DISABLE. Only a configured USART shifts anything. */
void usart_enable(cwsim_board *b, int on)
{
    b->usart.tx_enabled = on;
    b->usart.rx_enabled = on;
    usart_tx_service(b);
}

/* §5.6 CDC SET_LINE_CODING: only the baud rate takes effect, the rest falls back to 8N1
 * (inferred from code). Reconfigures like an INIT and enables the USART (inferred). */
void usart_line_coding(cwsim_board *b, const uint8_t *lc)
{
    uint8_t cfg[7] = {lc[0], lc[1], lc[2], lc[3], 0, 0, 8};
    memcpy(b->usart.line_coding, lc, 7);
    usart_init_cmd(b, cfg);
    usart_enable(b, 1);
}

/* 0x22/0x01, 0x22/0x02: the master clock changed under a programmed divider. */
void usart_refresh(cwsim_board *b)
{
    sim_usart *u = &b->usart;
    if (!u->configured)
        return;
    unsigned over, cd_fp;
    if (baud_divider(u->req_baud, b->kd->mck_hz, &over, &cd_fp) != 0)
        return;
    usart_set_format(b, divider_baud(usart_mck(b), over, cd_fp));
}

static void start_shift(cwsim_board *b, uint8_t v)
{
    sim_usart *u = &b->usart;
    u->shift_active = 1;
    u->shift_frame = uart_make_frame(v, &u->fmt);
    u->shift_end = b->sim->now + cwsim_uart_frame_ns(&u->fmt);
}

/* The SAM transmitter: shift register + holding register (THR); the TX-ready interrupt moves
 * bytes from the circular buffer into THR while TX is enabled. */
void usart_tx_service(cwsim_board *b)
{
    sim_usart *u = &b->usart;
    for (;;) {
        if (!u->configured)
            return;
        if (!u->shift_active && u->thr_full) {
            u->thr_full = 0;
            start_shift(b, u->thr);
            continue;
        }
        uint8_t v;
        if (u->tx_enabled && !u->thr_full && circ_pop(&u->tx, &v) == 0) {
            u->thr = v;
            u->thr_full = 1;
            continue;
        }
        return;
    }
}

/* §5.2: a byte from 0x1A (or the CDC OUT endpoint) goes straight to THR when the transmitter is
 * ready, else into the TX buffer; into a full buffer it is dropped and error bit1 is set. */
void usart_putchar(cwsim_board *b, uint8_t v)
{
    sim_usart *u = &b->usart;
    if (u->configured && u->tx_enabled && !u->thr_full && circ_count(&u->tx) == 0) {
        u->thr = v;
        u->thr_full = 1;
        usart_tx_service(b);
        return;
    }
    if (circ_push(&u->tx, v) != 0) {
        u->tx_dropped++;
        b->errors |= 0x02; /* §5.4 error word bit1: USART TX overflow */
        b->cnt.uart_tx_dropped++;
        return;
    }
    usart_tx_service(b);
}

void usart_tx_done(cwsim_board *b)
{
    sim_usart *u = &b->usart;
    cwsim_uart_frame f = u->shift_frame;
    u->shift_active = 0;
    b->cnt.uart_to_target++;
    wiring_deliver_to_target(b, &f);
    usart_tx_service(b);
}

/* A frame from the target reached the board's RX pin. §5.4: stored like a good byte even with
 * a parity or framing error (generic_isr ignores them); into a full buffer it is dropped and
 * error bit0 is set. The bundled firmware also copies it to the CDC buffer (§5.6). */
void usart_rx_frame(cwsim_board *b, const cwsim_uart_frame *f)
{
    sim_usart *u = &b->usart;
    if (!u->configured || !u->rx_enabled)
        return;
    uint8_t v;
    cwsim_uart_frame_decode(f, &u->fmt, &v);
    b->cnt.uart_rx++;
    if (circ_push(&u->rx, v) != 0) {
        u->rx_dropped++;
        b->errors |= 0x01; /* §5.4 error word bit0: USART RX overflow */
        b->cnt.uart_rx_dropped++;
    }
    if (u->cdc_enabled)
        (void)circ_push(&u->cdc, v); /* full: dropped (inferred) */
}
