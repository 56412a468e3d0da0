/* SPDX-License-Identifier: MIT */
/* NewAE's AVR host flow (target-protocols.md §C.4) end to end on a simulated CW-Lite: find (ISP
 * routing, ENTER, signature), erase, program page by page through the RAM buffer, verify with
 * 256-byte reads, close; for both reference parts, with the memories kept in a state folder.
 * Also XMEGA then AVR on the same board (the shared timeout trap, §1, §C.3) when the XMEGA
 * part exists in this libcwsim, and the flow on a Husky clocked by its PLL. */
#include "../check.h"
#include "avrtest.h"

#include <unistd.h>

static void flow(const char *part, uint32_t flash_size, const uint8_t sig_want[3], const char *dir)
{
    rig g;
    rig_open(&g, part, dir, NULL);
    uint8_t sig[3];
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    CHECK_EQ_INT(v2_signature(g.b, sig), 0);
    CHECK_MEM(sig, sig_want, 3);
    CHECK_EQ_INT(v2_chip_erase(g.b), 0);
    /* an image of 3 pages and a bit, from address 0 */
    unsigned n = 3 * 128 + 10;
    uint8_t *img = malloc(n), *back = malloc(256);
    for (unsigned i = 0; i < n; i++)
        img[i] = (uint8_t)(i ^ 0x5A);
    v2_load_address(g.b, 0); /* once: the board increments (§C.4) */
    for (unsigned off = 0; off < n; off += 128) {
        unsigned k = n - off < 128 ? n - off : 128;
        CHECK_EQ_INT(v2_program_page(g.b, img + off, k), 0);
    }
    v2_load_address(g.b, 0);
    for (unsigned off = 0; off < n; off += 256) {
        unsigned k = n - off < 256 ? n - off : 256;
        CHECK_EQ_INT(v2_read_flash(g.b, back, 256), 0); /* always 256 (§C.4) */
        CHECK_MEM(back, img + off, k);
    }
    uint8_t last;
    cwsim_avr_peek(g.chip, CWSIM_AVR_FLASH, flash_size - 1, &last, 1);
    CHECK_EQ_INT(last, 0xFF);
    CHECK_EQ_INT(v2_leave(g.b), 0);
    isp_route(g.b, 0);
    cwsim_target_view tv;
    cwsim_board_target_view(g.b, &tv);
    CHECK_EQ_INT(tv.pins[CWSIM_PIN_NRST], CWSIM_Z); /* released */
    rig_close(&g);
    /* the state folder kept the flash */
    rig_open(&g, part, dir, NULL);
    uint8_t first[4];
    cwsim_avr_peek(g.chip, CWSIM_AVR_FLASH, 0, first, 4);
    CHECK_MEM(first, img, 4);
    rig_close(&g);
    free(img);
    free(back);
}

static void xmega_then_avr(void)
{
    rig g;
    char err[512];
    rig_open(&g, NULL, NULL, NULL);
    if (cwsim_attach_part(g.b, "atxmega128d4", NULL, err, sizeof err) != 0) {
        printf("avr_board: XMEGA then AVR skipped: no XMEGA part in this libcwsim yet (%s)\n", err);
        rig_close(&g);
        return;
    }
    /* NewAE's XMEGA find() starts with SET_PARAM TIMEOUT 250 ticks (§B.3) */
    CHECK_EQ_INT(xprog_set_timeout(g.b, 250), 5);
    CHECK_EQ_INT(cwsim_board_engine_timeout_default(g.b), 250);
    /* the same board now programs an AVR: NewAE's ENTER fails (§C.3 trap) */
    CHECK(cwsim_avr_attach(g.b, "atmega328p", err, sizeof err) != NULL);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
    /* the fix cwlua's recipe applies: the shared default back to 500 ticks, through XPROG */
    if (xprog_set_timeout(g.b, 500) == 5) {
        CHECK_EQ_INT(cwsim_board_engine_timeout_default(g.b), 500);
        CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
        v2_leave(g.b);
    } else {
        printf("avr_board: the XPROG engine left with the XMEGA part; timeout fix not run\n");
    }
    rig_close(&g);
}

/* The same ISP flow on a Husky: the AVR runs on the clock its CDCI6214 PLL makes (7.37 MHz
 * after default_setup, cw-usb-protocol.md §4.9.4); with the PLL unlocked it has none. */
static void husky(void)
{
    rig g;
    static const uint8_t sig328[3] = {0x1E, 0x95, 0x0F};
    rig_open_on(&g, CWSIM_HUSKY, "atmega328p", NULL, NULL);
    cwsim_target_view tv;
    cwsim_board_target_view(g.b, &tv);
    CHECK(tv.clock_hz > 7.37e6 && tv.clock_hz < 7.3702e6);
    uint8_t sig[3];
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    CHECK_EQ_INT(v2_signature(g.b, sig), 0);
    CHECK_MEM(sig, sig328, 3);
    CHECK_EQ_INT(v2_leave(g.b), 0);
    rig_close(&g);
    static const char *const unlocked[] = {"pll-unlocked", NULL};
    rig_open_on(&g, CWSIM_HUSKY, "atmega328p", NULL, unlocked);
    cwsim_board_target_view(g.b, &tv);
    CHECK(tv.clock_hz == 0.0);
    CHECK(v2_cmd(g.b, 0x10, ENTER_CW, 11) != 0); /* no clock: the chip does not answer */
    rig_close(&g);
}

int main(void)
{
    char dir[] = "/tmp/cwlua-avr-board.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    static const uint8_t sig328[3] = {0x1E, 0x95, 0x0F}, sig168[3] = {0x1E, 0x94, 0x0B};
    flow("atmega328p", 32768, sig328, dir);
    flow("atmega168pa", 16384, sig168, dir);
    flow("CW308_MEGA328P", 32768, sig328, dir);
    xmega_then_avr();
    husky();
    static const char *const blobs[] = {"atmega328p.flash",   "atmega328p.eeprom",
                                        "atmega328p.fuses",   "atmega168pa.flash",
                                        "atmega168pa.eeprom", "atmega168pa.fuses"};
    char path[256];
    for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, blobs[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/.lock", dir);
    unlink(path);
    rmdir(dir);
    return check_report("avr_board");
}
