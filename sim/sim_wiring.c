/* SPDX-License-Identifier: MIT */
/* libcwsim wiring: what the register file puts on the 20-pin target connector (power, HS2
 * clock, nRST, PDIC, PDID, TIO1-4, the ISP pins), the UART lines both ways and the target
 * plug-in interface (cwsim_chip.h). Documents: cw-usb-protocol.md §4.1 (IOROUTE), §4.2 (IOREAD),
 * §4.3 (HS2), §5.7 (which USART, signal path), §7.1/§7.2 (Nano); contract.md §5 (faults). A pin
 * left high-Z or routed the wrong way does not reach the target. */
#include "sim_internal.h"

#include <string.h>

const char *cwsim_pin_name(cwsim_pin pin)
{
    static const char *const names[CWSIM_PIN_COUNT] = {"tio1", "tio2", "tio3", "tio4", "nrst",
                                                       "pdic", "pdid", "mosi", "miso", "sck"};
    return (unsigned)pin < CWSIM_PIN_COUNT ? names[pin] : "?";
}

/* ---- the board side (no faults) ------------------------------------------------------------ */

static int board_power(const cwsim_board *b)
{
    if (b->unplugged)
        return 0; /* no USB power, or ENTER_BOOTLOADER turned the target power off (§2.3) */
    if (b->kd->kind == CWSIM_NANO)
        return 1; /* the Nano has no documented target power switch (inferred: always on) */
    /* The power switch is driven by the FPGA: off while it is unconfigured (inferred);
     * IOROUTE byte5 bit1 = 1 switches it off (§4.1) */
    return b->fpga.done && !(b->fpga.reg[55][5] & 0x02);
}

static cwsim_level xio(uint8_t byte6, unsigned shift)
{
    /* §4.1 byte 6: a 2-bit field, low bit = drive enable, high bit = level */
    if (!(((unsigned)byte6 >> shift) & 1u))
        return CWSIM_Z;
    return (((unsigned)byte6 >> (shift + 1)) & 1u) ? CWSIM_HIGH : CWSIM_LOW;
}

/* What the board drives on each connector pin, faults not applied. */
static void board_drive(const cwsim_board *b, cwsim_level out[CWSIM_PIN_COUNT])
{
    for (int i = 0; i < CWSIM_PIN_COUNT; i++)
        out[i] = CWSIM_Z;
    if (b->kd->kind == CWSIM_NANO) {
        /* §7.2: USART1 TX fixed on TIO2 (idles high), RX on TIO1; TIO3, PDIC, PDID, nRST are
         * SAM GPIOs set by 0x25 (mask bits 2, 4, 5, 6) */
        if (!b->unplugged)
            out[CWSIM_PIN_TIO2] = CWSIM_HIGH;
        static const struct {
            unsigned bit;
            cwsim_pin pin;
        } m[4] = {
            {2, CWSIM_PIN_TIO3}, {4, CWSIM_PIN_PDIC}, {5, CWSIM_PIN_PDID}, {6, CWSIM_PIN_NRST}};
        for (int i = 0; i < 4; i++)
            if (b->nano_out & (1u << m[i].bit))
                out[m[i].pin] = (b->nano_level & (1u << m[i].bit)) ? CWSIM_HIGH : CWSIM_LOW;
        return;
    }
    const uint8_t *io = b->fpga.reg[55];
    if (b->fpga.done) {
        if (board_power(b)) {
            for (int k = 0; k < 4; k++) {
                uint8_t m = io[k];
                cwsim_level l = CWSIM_Z;
                /* §4.1 output priority: TX, USIO, (TIO3) USOC then TXO, GPIO if E, else Z */
                if (m & 0x01)
                    l = CWSIM_HIGH; /* UART TX idles high */
                else if (m & 0x04)
                    l = CWSIM_HIGH; /* USI output, idle (USI not simulated) */
                else if (k == 2 && (m & 0x30))
                    l = CWSIM_Z; /* open-collector outputs release the line when idle */
                else if (m & 0x80)
                    l = (m & 0x40) ? CWSIM_HIGH : CWSIM_LOW;
                out[k] = l;
            }
            out[CWSIM_PIN_NRST] = xio(io[6], 0);
            out[CWSIM_PIN_PDID] = xio(io[6], 2);
            out[CWSIM_PIN_PDIC] = xio(io[6], 4);
            if (io[5] & 0x01) { /* AVR/ISP programming enable: the SAM SPI pins (mode 0) */
                out[CWSIM_PIN_MOSI] = CWSIM_LOW;
                out[CWSIM_PIN_SCK] = CWSIM_LOW;
            }
        } else if (io[6] & 0x40) {
            /* power off: everything high-Z, nRST too unless "ignore high-Z" (byte6 bit6,
             * nrst_drive_poweroff) */
            out[CWSIM_PIN_NRST] = xio(io[6], 0);
        }
    }
    if (b->sam_nrst != CWSIM_Z)
        out[CWSIM_PIN_NRST] = b->sam_nrst; /* SAM pin on nRST (MPSSE enable, 0x16/0xB0) */
}

/* The TIO the board's USART TX reaches (§4.1 TX bit, TIO3 TXO), or -1. */
static int board_tx_pin_ok(const cwsim_board *b, cwsim_pin p)
{
    if (b->kd->kind == CWSIM_NANO)
        return !b->unplugged && p == CWSIM_PIN_TIO2;
    if (!b->fpga.done || !board_power(b) || p > CWSIM_PIN_TIO4)
        return 0; /* §5.7: no target serial without a loaded bitstream (inferred) */
    uint8_t m = b->fpga.reg[55][p];
    if (m & 0x01)
        return 1;
    return p == CWSIM_PIN_TIO3 && !(m & 0x04) && !(m & 0x10) && (m & 0x20);
}

/* The TIO the board's USART RX listens to: the first of TIO1..4 with the RX bit; the HDL makes
 * TIO4 RX read TIO3 (§4.1). */
static int board_rx_pin(const cwsim_board *b)
{
    if (b->kd->kind == CWSIM_NANO)
        return b->unplugged ? -1 : CWSIM_PIN_TIO1;
    if (!b->fpga.done)
        return -1;
    for (int k = 0; k < 4; k++)
        if (b->fpga.reg[55][k] & 0x02)
            return k == 3 ? CWSIM_PIN_TIO3 : k;
    return -1;
}

/* ---- between the connector and the chip (faults) ------------------------------------------ */

static cwsim_pin chip_rx(const cwsim_board *b)
{
    return b->tops != NULL ? b->tops->uart_rx_pin : CWSIM_PIN_TIO2;
}

static cwsim_pin chip_tx(const cwsim_board *b)
{
    return b->tops != NULL ? b->tops->uart_tx_pin : CWSIM_PIN_TIO1;
}

/* The connector pin a chip pin is wired to: uart-swapped crosses the chip's RX and TX. */
static cwsim_pin board_pin_of(const cwsim_board *b, cwsim_pin p)
{
    if (sim_fault_on(b->sim, F_UART_SWAPPED)) {
        if (p == chip_rx(b))
            return chip_tx(b);
        if (p == chip_tx(b))
            return chip_rx(b);
    }
    return p;
}

static int wire_open(const cwsim_board *b, cwsim_pin p)
{
    const cwsim *s = b->sim;
    if (p == chip_rx(b) && sim_fault_on(s, F_UART_TX_OPEN))
        return 1;
    if (p == chip_tx(b) && sim_fault_on(s, F_UART_RX_OPEN))
        return 1;
    switch (p) {
    case CWSIM_PIN_NRST:
        return sim_fault_on(s, F_NRST_OPEN);
    case CWSIM_PIN_PDIC:
    case CWSIM_PIN_PDID:
        return sim_fault_on(s, F_PDI_OPEN);
    case CWSIM_PIN_MOSI:
    case CWSIM_PIN_MISO:
    case CWSIM_PIN_SCK:
        return sim_fault_on(s, F_ISP_OPEN);
    case CWSIM_PIN_TIO4:
        return sim_fault_on(s, F_TRIGGER_OPEN); /* the trigger line (contract.md §5) */
    default:
        return 0;
    }
}

static int chip_power(const cwsim_board *b)
{
    return board_power(b) && !sim_fault_on(b->sim, F_NO_POWER);
}

int wiring_to_target(const cwsim_board *b)
{
    cwsim_pin p = chip_rx(b);
    return !wire_open(b, p) && board_tx_pin_ok(b, board_pin_of(b, p));
}

int wiring_from_target(const cwsim_board *b)
{
    cwsim_pin p = chip_tx(b);
    return !wire_open(b, p) && board_rx_pin(b) == (int)board_pin_of(b, p);
}

void wiring_view(const cwsim_board *b, cwsim_target_view *v)
{
    cwsim_level drive[CWSIM_PIN_COUNT];
    memset(v, 0, sizeof *v);
    board_drive(b, drive);
    v->power = chip_power(b);
    v->clock_hz = board_power(b) && !sim_fault_on(b->sim, F_NO_CLOCK) ? board_hs2_hz(b) : 0.0;
    for (int p = 0; p < CWSIM_PIN_COUNT; p++)
        v->pins[p] = wire_open(b, (cwsim_pin)p) ? CWSIM_Z : drive[board_pin_of(b, (cwsim_pin)p)];
    v->uart_to_target = wiring_to_target(b);
    v->uart_from_target = wiring_from_target(b);
    v->uart = b->usart.fmt;
    v->uart_enabled = b->usart.configured && b->usart.tx_enabled;
}

void cwsim_board_target_view(const cwsim_board *b, cwsim_target_view *out)
{
    wiring_view(b, out);
}

const char *cwsim_board_target_note(const cwsim_board *b)
{
    if (b->tops == NULL || b->tops->note == NULL)
        return NULL;
    return b->tops->note(b->tctx);
}

/* The level on a connector pin as the board reads it back (register 59): the board's own drive,
 * else the chip's (when powered and wired), else low: an undriven input reads 0 (unconfirmed). */
cwsim_level wiring_pin_level(const cwsim_board *b, cwsim_pin bp)
{
    cwsim_level drive[CWSIM_PIN_COUNT];
    board_drive(b, drive);
    if (drive[bp] != CWSIM_Z)
        return drive[bp];
    if (b->tops != NULL && chip_power(b)) {
        cwsim_pin p = board_pin_of(b, bp); /* the swap is its own inverse */
        if (!wire_open(b, p) && b->tdrive[p] != CWSIM_Z)
            return b->tdrive[p];
    }
    return CWSIM_LOW;
}

/* Tell the target what changed since it was last told. */
void wiring_update(cwsim_board *b)
{
    adc_update(b); /* power, routing and faults change what the trigger input sees */
    if (b->tops == NULL || b->updating)
        return;
    b->updating = 1;
    cwsim_target_view v;
    wiring_view(b, &v);
    uint64_t now = b->sim->now;
    const cwsim_target_ops *o = b->tops;
    int all = !b->seen_valid;
    if ((all || v.power != b->seen.power) && o->power != NULL)
        o->power(b->tctx, v.power, now);
    if ((all || v.clock_hz != b->seen.clock_hz) && o->clock != NULL)
        o->clock(b->tctx, v.clock_hz, now);
    for (int p = 0; p < CWSIM_PIN_COUNT; p++)
        if ((all || v.pins[p] != b->seen.pins[p]) && o->pin != NULL && b->tops == o)
            o->pin(b->tctx, (cwsim_pin)p, v.pins[p], now);
    b->seen = v;
    b->seen_valid = 1;
    b->updating = 0;
}

/* ---- UART frames on the wire ---------------------------------------------------------------- */

/* contract.md §5 drop-bytes=P (per byte) and bit-flips=P (per bit), both directions. */
void wiring_fault_frame(cwsim_board *b, cwsim_uart_frame *f, int *dropped)
{
    cwsim *s = b->sim;
    *dropped = 0;
    if (sim_fault_on(s, F_DROP_BYTES) && sim_chance(s, sim_fault_num(s, F_DROP_BYTES))) {
        *dropped = 1;
        return;
    }
    if (sim_fault_on(s, F_BIT_FLIPS)) {
        double p = sim_fault_num(s, F_BIT_FLIPS);
        for (unsigned i = 1; i < f->nslots; i++) /* the start bit's edge starts the frame */
            if (sim_chance(s, p))
                f->levels = (uint16_t)(f->levels ^ (1u << i));
    }
}

void wiring_deliver_to_target(cwsim_board *b, const cwsim_uart_frame *frame)
{
    if (b->tops == NULL || b->tops->uart_rx == NULL || !chip_power(b) || !wiring_to_target(b))
        return;
    cwsim_uart_frame f = *frame;
    int dropped;
    wiring_fault_frame(b, &f, &dropped);
    if (dropped)
        return;
    b->cnt.uart_from_board++;
    b->tops->uart_rx(b->tctx, &f, b->sim->now);
}

static void wire_start(cwsim_board *b, const cwsim_uart_frame *f)
{
    b->wire.active = 1;
    b->wire.frame = *f;
    b->wire.end = b->sim->now + cwsim_uart_frame_ns(&f->fmt);
}

void wire_done(cwsim_board *b)
{
    cwsim_uart_frame f = b->wire.frame;
    b->wire.active = 0;
    b->cnt.uart_to_board++;
    if (wiring_from_target(b)) {
        int dropped;
        wiring_fault_frame(b, &f, &dropped);
        if (!dropped)
            usart_rx_frame(b, &f);
    }
    if (b->wire.hold_full) {
        b->wire.hold_full = 0;
        wire_start(b, &b->wire.hold);
    }
    if (b->tops != NULL && b->tops->uart_tx_ready != NULL)
        b->tops->uart_tx_ready(b->tctx, b->sim->now);
}

int cwsim_target_uart_send(cwsim_board *b, uint8_t byte, const cwsim_uart_format *fmt)
{
    if (fmt == NULL || fmt->baud <= 0 || fmt->data_bits < 5 || fmt->data_bits > 8 ||
        fmt->parity > CWSIM_PARITY_SPACE || fmt->stop_halves < 2 || fmt->stop_halves > 4)
        return -1;
    if (!chip_power(b))
        return -1; /* an unpowered chip sends nothing */
    cwsim_uart_frame f = uart_make_frame(byte, fmt);
    if (!b->wire.active) {
        wire_start(b, &f);
        return 0;
    }
    if (!b->wire.hold_full) {
        b->wire.hold = f;
        b->wire.hold_full = 1;
        return 0;
    }
    return -1;
}

int cwsim_target_uart_busy(const cwsim_board *b)
{
    return b->wire.active;
}

void cwsim_target_drive(cwsim_board *b, cwsim_pin pin, cwsim_level level)
{
    if ((unsigned)pin < CWSIM_PIN_COUNT) {
        b->tdrive[pin] = level;
        adc_update(b); /* TIO4 (or another trigger source) may have fired the ADC's trigger */
    }
}

void cwsim_target_wake_at(cwsim_board *b, uint64_t at_ns)
{
    b->wake_at = at_ns;
}

/* ---- attaching targets ---------------------------------------------------------------------- */

void target_destroy(cwsim_board *b)
{
    const cwsim_target_ops *o = b->tops;
    void *ctx = b->tctx;
    b->tops = NULL;
    b->tctx = NULL;
    b->seen_valid = 0;
    memset(&b->wire, 0, sizeof b->wire);
    b->wake_at = UINT64_MAX;
    for (int i = 0; i < CWSIM_PIN_COUNT; i++)
        b->tdrive[i] = CWSIM_Z;
    if (o != NULL && o->destroy != NULL)
        o->destroy(ctx);
}

int cwsim_board_attach_target(cwsim_board *b, const cwsim_target_ops *ops, void *ctx, char *err,
                              size_t errlen)
{
    if (ops == NULL || (unsigned)ops->uart_rx_pin > CWSIM_PIN_TIO4 ||
        (unsigned)ops->uart_tx_pin > CWSIM_PIN_TIO4 || ops->uart_rx_pin == ops->uart_tx_pin) {
        sim_err(err, errlen, "cwsim: a target needs ops with distinct UART pins among TIO1..TIO4");
        return -1;
    }
    target_destroy(b);
    b->tops = ops;
    b->tctx = ctx;
    wiring_update(b);
    return 0;
}

void cwsim_board_detach_target(cwsim_board *b)
{
    target_destroy(b);
}

/* ---- ISP and PDI lines (stubs for the XMEGA/AVR issues) ------------------------------------- */

int cwsim_board_isp_exchange(cwsim_board *b, uint8_t mosi, double sck_hz, uint8_t *miso)
{
    *miso = 0xFF; /* an unconnected MISO reads high (inferred) */
    if (b->kd->kind == CWSIM_NANO || !b->fpga.done || !(b->fpga.reg[55][5] & 0x01))
        return -1; /* §4.1 byte5 bit0 connects the SAM ISP/SPI pins */
    if (!chip_power(b) || wire_open(b, CWSIM_PIN_MOSI) || b->tops == NULL ||
        b->tops->isp_exchange == NULL)
        return -1;
    return b->tops->isp_exchange(b->tctx, mosi, sck_hz, miso, b->sim->now);
}

/* PDI needs both lines (PDI_CLK on PDIC, PDI_DATA on PDID, target-protocols.md §1.1), a powered
 * chip, and no FPGA GPIO driving either pin against the SAM (IOROUTE byte 6 enable bits 2 and
 * 4, cw-usb-protocol.md §4.1; inferred contention). */
static int pdi_connected(const cwsim_board *b)
{
    if (b->kd->kind == CWSIM_NANO || !chip_power(b) || wire_open(b, CWSIM_PIN_PDID) ||
        wire_open(b, CWSIM_PIN_PDIC) || b->tops == NULL)
        return 0;
    if (b->fpga.done && (b->fpga.reg[55][6] & 0x14))
        return 0;
    return 1;
}

int cwsim_board_pdi_send(cwsim_board *b, uint8_t byte)
{
    if (!pdi_connected(b) || b->tops->pdi_send == NULL)
        return -1;
    return b->tops->pdi_send(b->tctx, byte, b->sim->now);
}

int cwsim_board_pdi_recv(cwsim_board *b, uint8_t *byte)
{
    *byte = 0xFF;
    if (!pdi_connected(b) || b->tops->pdi_recv == NULL)
        return -1;
    return b->tops->pdi_recv(b->tctx, byte, b->sim->now);
}

int cwsim_board_pdi_link(cwsim_board *b, int on)
{
    int ok = pdi_connected(b);
    if (b->tops != NULL && b->tops->pdi_link != NULL && (ok || !on))
        b->tops->pdi_link(b->tctx, on, b->sim->now);
    return ok ? 0 : -1;
}
