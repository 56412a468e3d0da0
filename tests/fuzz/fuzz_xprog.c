/* SPDX-License-Identifier: MIT */
/* fuzz_xprog: the board's XPROG engine (sim/engines/xprog.c) on vendor request 0x20, with a
 * simulated ATxmega behind it, driven through cwsim_board_control as a host would
 * (target-protocols.md §B.1 framing, §B.3 host flow, §E bad input).
 *
 * Input: byte 0 picks the board and the part, byte 1 the start conditions (faults), then
 * operations until the input ends: a code byte and its arguments. Raw requests reach every
 * wValue and length; helpers send a sub-command and read its status, or fill the RAM buffer.
 *
 * Findings besides crashes and sanitizer reports: a transfer result outside cwsim.h's contract,
 * and an engine or chip left unable to do NewAE's find() — with the engine's parameters and
 * the lock bits put back, ENTER and a signature read must give OK and the part's signature. */
#include "cwsim_xmega.h"
#include "fuzz_usb.h"

#define XPROG     0x20
#define SIGNATURE 0x01000090u /* §B.4: MCU.DEVID0..2 */

/* SET_RAMBUF is 0x22, GET_RAMBUF 0x21 (§B.1) */
static const fz_engine ENGINE = {XPROG, 0x22, 0x21};

static const cwsim_kind KINDS[4] = {CWSIM_CWLITE, CWSIM_CW1200, CWSIM_HUSKY, CWSIM_CWLITE};

/* A sub-command with its payload, then GET_STATUS (§B.1: [0x20, status, timed out]). */
static int command(cwsim_board *b, uint8_t sub, const uint8_t *p, uint16_t len)
{
    fz_out(b, XPROG, sub, p, len);
    uint8_t s[3] = {0};
    if (fz_in(b, XPROG, 0x0020, s, 3) != 3)
        return -1;
    return s[1] | s[2] << 8;
}

static void operation(cwsim *sim, cwsim_board *b, fz *f)
{
    uint8_t op = fz_u8(f), buf[256];
    if (fz_engine_op(sim, b, &ENGINE, op, f))
        return;
    switch (op & 7u) {
    case 2: { /* a sub-command 0x01..0x07 with up to 15 payload bytes, then its status */
        uint8_t sub = (uint8_t)(fz_u8(f) % 8u), len = fz_u8(f) % 16u;
        memset(buf, 0, len);
        fz_bytes(f, buf, len);
        command(b, sub, buf, len);
        break;
    }
    case 6: { /* SET_PARAM TIMEOUT, then its status */
        uint8_t p[5];
        fz_timeout_param(f, p);
        command(b, 0x07, p, 5);
        break;
    }
    default: { /* WRITE_MEM / READ_MEM of a page (§B.1 layouts) at a fuzzed type and address */
        uint8_t p[8];
        p[0] = fz_u8(f) % 8u;
        p[1] = fz_u8(f);
        uint32_t addr = fz_u32(f);
        uint16_t len = (uint16_t)(fz_u16(f) % 300u);
        for (int i = 0; i < 4; i++)
            p[2 + i] = (uint8_t)(addr >> (8 * i));
        p[6] = (uint8_t)len;
        p[7] = (uint8_t)(len >> 8);
        if (op & 8u) {
            command(b, 0x04, p, 8);
        } else { /* READ_MEM: type, address, length */
            uint8_t r[7] = {p[0], p[2], p[3], p[4], p[5], p[6], p[7]};
            command(b, 0x05, r, 7);
        }
        break;
    }
    }
}

/* NewAE's find() on what the input left: parameters and lock bits back to their defaults,
 * LEAVE, ENTER, read the signature. */
static void check_alive(cwsim_board *b, cwsim_xmega *chip)
{
    const cwsim_xmega_part_info *part = cwsim_xmega_part(chip);
    uint8_t lock = 0xFF;
    if (cwsim_xmega_poke(chip, CWSIM_XMEGA_FUSES, 7, &lock, 1) != 0)
        fz_finding("cannot reset the lock bits");
    const uint8_t tmo[5] = {0x08, 0xFA, 0, 0, 0}, base[5] = {0x01, 0xC0, 0x01, 0x00, 0x01},
                  page[3] = {0x02, 32, 0};
    int s1 = command(b, 0x07, tmo, 5), s2 = command(b, 0x07, base, 5),
        s3 = command(b, 0x07, page, 3), s4 = command(b, 0x02, NULL, 0),
        s5 = command(b, 0x01, NULL, 0);
    const uint8_t rd[7] = {0x01, 0x90, 0x00, 0x00, 0x01, 3, 0};
    int s6 = command(b, 0x05, rd, 7);
    uint8_t sig[3] = {0};
    fz_in(b, XPROG, 0x0021, sig, 3);
    /* LEAVE waits for a bus that is not there when the link is already down: it may time out.
     * SET_PARAM runs under the old default, which may be 0: its timed-out flag may be set. */
    (void)s4;
    if ((s1 & 0xFF) != 0 || s2 != 0 || s3 != 0 || s5 != 0 || s6 != 0 ||
        memcmp(sig, part->signature, 3) != 0)
        fz_finding("%s: after the input, find() gives statuses %04X %04X %04X %04X %04X %04X and "
                   "signature %02X %02X %02X",
                   part->name, s1, s2, s3, s4, s5, s6, sig[0], sig[1], sig[2]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size, 0};
    cwsim *sim;
    char err[512];
    uint8_t which = fz_u8(&f), setup = fz_u8(&f);
    const cwsim_xmega_part_info *part = cwsim_xmega_part_at(which % cwsim_xmega_part_count());
    if (cwsim_new(&sim, err, sizeof err) != 0)
        fz_finding("cwsim_new: %s", err);
    if (((setup & 1) && cwsim_fault_set(sim, "read-protected", NULL, err, sizeof err) != 0) ||
        ((setup & 2) && cwsim_fault_set(sim, "write-protected", NULL, err, sizeof err) != 0))
        fz_finding("cwsim_fault_set: %s", err);
    cwsim_board *b = cwsim_board_add(sim, KINDS[(which >> 4) & 3u], NULL, err, sizeof err);
    if (b == NULL)
        fz_finding("cwsim_board_add: %s", err);
    if (setup & 4)
        cwsim_board_default_setup(b);
    cwsim_xmega *chip = cwsim_xmega_attach(b, part->name, err, sizeof err);
    if (chip == NULL)
        fz_finding("cwsim_xmega_attach(%s): %s", part->name, err);

    while (fz_more(&f))
        operation(sim, b, &f);
    check_alive(b, chip);

    cwsim_free(sim);
    return 0;
}
