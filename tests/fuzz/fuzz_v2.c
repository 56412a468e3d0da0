/* SPDX-License-Identifier: MIT */
/* fuzz_v2: the board's V2/ISP engine (sim/engines/v2.c) on vendor request 0x21, with a simulated
 * ATmega behind it, driven through cwsim_board_control as a host would (target-protocols.md
 * §C.1-C.4 framing and host flow, §E bad input).
 *
 * Input: byte 0 picks the part, byte 1 the start conditions, then operations until the input
 * ends: a code byte and its arguments. Raw requests reach every wValue and length; helpers send
 * a known command with its exact payload size (others are dropped, §C.3) and read its status,
 * fill the RAM buffer, or enter programming mode with NewAE's parameters.
 *
 * Findings besides crashes and sanitizer reports: a transfer result outside cwsim.h's contract,
 * and an engine or chip left unable to do NewAE's entry — with the engine's parameters, the
 * shared timeout and the part's fuses put back, ENTER and a signature read must work. */
#include "cwsim_avr.h"
#include "fuzz_usb.h"

#define V2      0x21
#define REG_IOR 55 /* IOROUTE; byte 5 bit 0 routes the SAM SPI pins (cw-usb-protocol.md §4.1) */

/* NewAE's ENTER payload (§C.4) */
static const uint8_t ENTER_CW[11] = {0xC8, 0x64, 0x19, 0x20, 0x00, 0x53,
                                     0x03, 0xAC, 0x53, 0x00, 0x00};

/* The commands with a fixed payload size (§C.3) and the others a host sends. */
static const struct {
    uint8_t cmd, len;
} COMMANDS[16] = {
    {0x10, 11}, {0x11, 2}, {0x12, 6}, {0x13, 9}, {0x15, 9}, {0x14, 3}, {0x16, 3}, {0x17, 4},
    {0x19, 4},  {0x18, 5}, {0x1A, 5}, {0x1B, 5}, {0x1C, 5}, {0x02, 2}, {0x03, 1}, {0x06, 4},
};

/* SET_RAMBUF is 0x21, GET_RAMBUF 0x22 (§C.1) */
static const fz_engine ENGINE = {V2, 0x21, 0x22};

static int status(cwsim_board *b, uint8_t st[32])
{
    memset(st, 0, 32);
    return fz_in(b, V2, 0x20, st, 32);
}

/* An OUT command, then GET_STATUS: status[1], or -1 without a status. */
static int command(cwsim_board *b, uint8_t cmd, const uint8_t *p, uint16_t len)
{
    uint8_t st[32];
    fz_out(b, V2, cmd, p, len);
    return status(b, st) >= 2 ? st[1] : -1;
}

/* IOROUTE byte 5 (cw-usb-protocol.md §4.1): bit 0 routes the SAM SPI pins to the target
 * (setAVRISPMode), bit 1 switches target power off. Read, change, write (cw-usb-protocol.md §2.5
 * memory requests). */
static void ioroute_byte5(cwsim_board *b, uint8_t set, uint8_t clear)
{
    uint8_t rd[8] = {8, 0, 0, 0, REG_IOR, 0, 0, 0}, wr[16] = {8, 0, 0, 0, REG_IOR, 0, 0, 0};
    fz_out(b, 0x12, 0, rd, 8);
    fz_in(b, 0x12, 0, wr + 8, 8);
    wr[8 + 5] = (uint8_t)((wr[8 + 5] | set) & ~clear);
    fz_out(b, 0x13, 0, wr, 16);
}

static void operation(cwsim *sim, cwsim_board *b, fz *f)
{
    uint8_t op = fz_u8(f), buf[256];
    if (fz_engine_op(sim, b, &ENGINE, op, f))
        return;
    switch (op & 7u) {
    case 2: { /* a command with its exact payload size, then its status */
        uint8_t i = fz_u8(f) % 16u, len = COMMANDS[i].len;
        memset(buf, 0, len);
        fz_bytes(f, buf, len);
        command(b, COMMANDS[i].cmd, buf, len);
        break;
    }
    case 6: /* ENTER as NewAE sends it */
        command(b, 0x10, ENTER_CW, sizeof ENTER_CW);
        break;
    default: { /* the XPROG engine's SET_PARAM TIMEOUT: the shared counter's default (§1) */
        uint8_t p[5];
        fz_timeout_param(f, p);
        fz_out(b, 0x20, 0x0007, p, 5);
        break;
    }
    }
}

/* NewAE's entry on what the input left: the fuses back to the part's (latched by a target
 * power cycle: a fuse that slows or stops the chip's clock legitimately defeats NewAE's SCK),
 * the engine's parameters and the shared timeout back to their defaults, LEAVE, ENTER, read
 * the signature (§C.4). */
static void check_alive(cwsim *sim, cwsim_board *b, cwsim_avr *chip)
{
    const cwsim_avr_part_info *part = cwsim_avr_part(chip);
    const uint8_t fuses[4] = {part->fuse_low, part->fuse_high, part->fuse_ext, part->lock};
    uint8_t had[4];
    cwsim_avr_peek(chip, CWSIM_AVR_FUSES, 0, had, 4);
    fz_trace("check: fuses %02X %02X %02X %02X, CPU %.0f Hz, programming %d\n", had[0], had[1],
             had[2], had[3], cwsim_avr_cpu_hz(chip), cwsim_avr_programming(chip));
    if (cwsim_avr_poke(chip, CWSIM_AVR_FUSES, 0, fuses, 4) != 0)
        fz_finding("cannot reset the fuses");
    ioroute_byte5(b, 0x02, 0);
    cwsim_advance_ns(sim, 10 * FZ_MS);
    ioroute_byte5(b, 0, 0x02);
    cwsim_advance_ns(sim, 10 * FZ_MS);
    const uint8_t tmo[5] = {0x08, 0xF4, 0x01, 0, 0}; /* the power-on 500 ticks */
    fz_out(b, 0x20, 0x0007, tmo, 5);
    const uint8_t sck[2] = {0x98, 6}, pol[2] = {0x9E, 1}, leave[2] = {1, 1};
    int s1 = command(b, 0x02, sck, 2), s2 = command(b, 0x02, pol, 2),
        s3 = command(b, 0x11, leave, 2), s4 = command(b, 0x10, ENTER_CW, sizeof ENTER_CW);
    uint8_t sig[3];
    int ok = s1 == 0 && s2 == 0 && s3 == 0 && s4 == 0;
    for (uint8_t i = 0; i < 3 && ok; i++) {
        const uint8_t p[5] = {4, 0x30, 0x00, i, 0x00};
        uint8_t st[32];
        fz_out(b, V2, 0x1B, p, 5);
        ok = status(b, st) == 4 && st[0] == 0x1B && st[1] == 0;
        sig[i] = st[2];
    }
    if (!ok || memcmp(sig, part->signature, 3) != 0)
        fz_finding("%s: after the input, NewAE's entry gives statuses %d %d %d %d%s", part->name,
                   s1, s2, s3, s4, ok ? " and a wrong signature" : ", no signature");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size, 0};
    cwsim *sim;
    char err[512];
    uint8_t which = fz_u8(&f), setup = fz_u8(&f);
    const cwsim_avr_part_info *part = cwsim_avr_part_at(which % cwsim_avr_part_count());
    if (cwsim_new(&sim, err, sizeof err) != 0)
        fz_finding("cwsim_new: %s", err);
    cwsim_board *b =
        cwsim_board_add(sim, (setup & 1) ? CWSIM_CW1200 : CWSIM_CWLITE, NULL, err, sizeof err);
    if (b == NULL)
        fz_finding("cwsim_board_add: %s", err);
    cwsim_board_default_setup(b); /* HS2 = 7.37 MHz: the chip's clock */
    cwsim_avr *chip = cwsim_avr_attach(b, part->name, err, sizeof err);
    if (chip == NULL)
        fz_finding("cwsim_avr_attach(%s): %s", part->name, err);
    ioroute_byte5(b, 0x01, 0); /* setAVRISPMode(on) (§C.2) */

    while (fz_more(&f))
        operation(sim, b, &f);
    check_alive(sim, b, chip);

    cwsim_free(sim);
    return 0;
}
