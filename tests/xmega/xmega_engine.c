/* SPDX-License-Identifier: MIT */
/* The board's XPROG engine (target-protocols.md §B.1, §B.2, §B.6, §E) on a simulated CW-Lite:
 * NewAE's host flow against an ATxmega128D4 and an ATxmega16A4, and every documented quirk —
 * the status echo and timeout flag, the RAM buffer offsets and their limits, the CRC no-op,
 * SET_PARAM's length rules, a short WRITE_MEM that still writes, unknown erase and memory
 * types, a command sent as IN, the shared timeout counter, no target, pdi-open, no-power, the
 * FPGA fighting the PDI pins, and the Nano that has no engine. */
#include "check.h"
#include "xmega_host.h"

#define REQ_MEM_READ  0x12 /* cw-usb-protocol.md §2.5 */
#define REQ_MEM_WRITE 0x13
#define REG_IOROUTE   55 /* cw-usb-protocol.md §4.1 */

static void reg_write(cwsim_board *b, unsigned addr, const uint8_t *in, unsigned len)
{
    uint8_t m[8 + 16] = {(uint8_t)len, 0, 0, 0, (uint8_t)addr, 0, 0, 0};
    memcpy(m + 8, in, len);
    CHECK_EQ_INT(cwsim_board_control(b, 0x41, REQ_MEM_WRITE, 0, 0, m, (uint16_t)(8 + len), 1000),
                 (int)(8 + len));
}

/* §B.3: NewAE's find/erase/program/verify/close against the chip. */
static void host_flow(const char *part, const uint8_t sig[3], uint32_t flash_size)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, part, NULL);
    CHECK_EQ_INT(xp_timeout_ms(b, 100), 0); /* find(): 08 FA 00 00 00 */
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 0);
    uint8_t got[256];
    CHECK_EQ_INT(xp_read(b, SIGNATURE, got, 3), 0);
    CHECK_MEM(got, sig, 3);
    CHECK_EQ_INT(xp_erase(b, 1, 0), 0); /* chip erase within 100 ms */
    uint8_t page[256];
    for (int i = 0; i < 256; i++)
        page[i] = (uint8_t)(i * 7 + 1);
    /* the host never sets the page-erase bit (mode 0x02) */
    CHECK_EQ_INT(xp_write(b, 1, 0x02, FLASH, page, 256), 0);
    CHECK_EQ_INT(xp_write(b, 1, 0x02, FLASH + 0x100, page, 100), 0); /* a short last page */
    CHECK_EQ_INT(xp_read(b, FLASH, got, 256), 0);
    CHECK_MEM(got, page, 256);
    CHECK_EQ_INT(xp_read(b, FLASH + 0x100, got, 256), 0);
    CHECK_MEM(got, page, 100);
    CHECK(got[100] == 0xFF && got[255] == 0xFF); /* unloaded bytes unchanged (erased) */
    /* the last flash byte (boot section) reads erased */
    CHECK_EQ_INT(xp_read(b, FLASH + flash_size - 1, got, 1), 0);
    CHECK_EQ_INT(got[0], 0xFF);
    CHECK_EQ_INT(xp_cmd(b, 0x02, NULL, 0), 0); /* close(): LEAVE */
    cwsim_xprog_view v;
    cwsim_xprog_view_get(b, &v);
    CHECK(v.present && !v.link);
    cwsim_free(sim);
}

static void status_and_rambuf(void)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, "atxmega128d4", NULL);
    uint8_t s[8];
    /* byte 0 echoes wValue's low byte (0x20), status 0 at power-up; a counter that never ran
     * reads 0, so the timeout flag is set (inferred: a zero-initialized static) */
    CHECK_EQ_INT(xp_in(b, 0x0020, s, 8), 3); /* asking for more yields 3 */
    CHECK(s[0] == 0x20 && s[1] == 0 && s[2] == 1);
    /* wLength shorter than the 3-byte status: the board does not trim it (§1) */
    CHECK_EQ_INT(xp_in(b, 0x0020, s, 2), CWSIM_OVERFLOW);
    /* RAM buffer: offset in wValue's high byte; GET 0x21 / SET 0x22 */
    uint8_t d[64], g[64];
    for (int i = 0; i < 64; i++)
        d[i] = (uint8_t)(0xA0 + i);
    CHECK_EQ_INT(xp_out(b, 0xC022, d, 64), 64);
    CHECK_EQ_INT(xp_in(b, 0xC021, g, 64), 64);
    CHECK_MEM(g, d, 64);
    CHECK_EQ_INT(xp_in(b, 0xF021, g, 16), 16); /* 0xF0 + 16 = 256: the last 16 bytes */
    CHECK_MEM(g, d + 48, 16);
    CHECK_EQ_INT(xp_in(b, 0xF021, g, 17), CWSIM_STALL); /* off + len > 256: STALL */
    uint8_t z[64] = {0};
    CHECK_EQ_INT(xp_out(b, 0xF022, z, 17), 17); /* beyond 256: silently not copied */
    CHECK_EQ_INT(xp_in(b, 0xF021, g, 16), 16);
    CHECK_MEM(g, d + 48, 16);
    uint8_t big[200] = {0};
    CHECK_EQ_INT(xp_out(b, 0x0022, big, 129), CWSIM_STALL); /* > 128: the data stage stalls */
    CHECK_EQ_INT(xp_in(b, 0xC021, g, 64), 64);
    CHECK_MEM(g, d, 64);
    /* SET_RAMBUF and GET_RAMBUF leave the status alone; SET_PARAM unknown id -> FAILED */
    uint8_t p5[5] = {0x05, 0, 0, 0, 0};
    CHECK_EQ_INT(xp_cmd(b, 0x07, p5, 5), 1);
    CHECK_EQ_INT(xp_out(b, 0x0022, d, 8), 8);
    CHECK_EQ_INT(xp_status(b), 1);
    /* SET_PARAM length rules: < 2 bytes FAILED; NVMBASE/TIMEOUT need 5, EEPPAGESIZE 3 */
    uint8_t p[5] = {0x08, 0xFA, 0, 0, 0};
    CHECK_EQ_INT(xp_cmd(b, 0x07, p, 1), 1);
    CHECK_EQ_INT(xp_cmd(b, 0x07, p, 4), 1);
    CHECK_EQ_INT(xp_cmd(b, 0x07, p, 5), 0);
    CHECK_EQ_INT(cwsim_board_engine_timeout_default(b), 250);
    uint8_t e[3] = {0x02, 32, 0};
    CHECK_EQ_INT(xp_cmd(b, 0x07, e, 2), 1);
    CHECK_EQ_INT(xp_cmd(b, 0x07, e, 3), 0);
    uint8_t t[2] = {0x03, 0x33};
    CHECK_EQ_INT(xp_cmd(b, 0x07, t, 2), 0); /* TPI NVMCMD_REG: accepted */
    /* CRC: nothing; the status stays what it was (stale) */
    CHECK_EQ_INT(xp_cmd(b, 0x07, p5, 5), 1);
    CHECK_EQ_INT(xp_cmd(b, 0x06, d, 8), 1);
    /* an unknown sub-command: accepted, nothing, status stale */
    CHECK_EQ_INT(xp_cmd(b, 0x2C, NULL, 0), 1);
    CHECK_EQ_INT(xp_cmd(b, 0x20, NULL, 0), 1); /* GET_STATUS sent as OUT: nothing */
    cwsim_free(sim);
}

/* §B.1: CRC reloads the counter, so a timed-out flag clears without a command running. */
static void crc_reloads_counter(void)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, NULL, NULL);
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 1 | 1 << 8); /* no target: [0x20, 1, 1] */
    /* the RAM-buffer requests and GET_STATUS do not reload it (only 0x01-0x07 do) */
    uint8_t d[4] = {0};
    CHECK_EQ_INT(xp_out(b, 0x0022, d, 4), 4);
    CHECK_EQ_INT(xp_in(b, 0x0021, d, 4), 4);
    CHECK_EQ_INT(xp_status(b), 1 | 1 << 8);
    CHECK_EQ_INT(xp_cmd(b, 0x06, NULL, 0), 1); /* status stale, timed_out 0 */
    /* and the counter is stopped after a command: time passing does not expire it */
    cwsim_advance_ns(sim, 5000 * MS);
    CHECK_EQ_INT(xp_status(b), 1);
    CHECK(cwsim_board_engine_timeout_remaining(b) > 490);
    cwsim_free(sim);
}

/* §E "no target / no PDI answer": ENTER [0x20,1,1]; ERASE/WRITE/READ [0x20,3,1]; LEAVE
 * [0x20,0,1]; each costs the whole timeout in virtual time. */
static void no_target(const char *part, const char *fault)
{
    cwsim *sim;
    const char *faults[2] = {fault, NULL};
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, part, fault ? faults : NULL);
    uint64_t t0 = cwsim_now_ns(sim);
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 1 | 1 << 8);
    uint64_t dt = cwsim_now_ns(sim) - t0;
    CHECK(dt >= 200 * MS && dt < 203 * MS); /* power-on default: 500 ticks = 200 ms */
    CHECK_EQ_INT(xp_timeout_ms(b, 100), 0);
    t0 = cwsim_now_ns(sim);
    CHECK_EQ_INT(xp_erase(b, 1, 0), 3 | 1 << 8);
    dt = cwsim_now_ns(sim) - t0;
    CHECK(dt >= 100 * MS && dt < 103 * MS);
    uint8_t d[4] = {1, 2, 3, 4}, g[4];
    CHECK_EQ_INT(xp_write(b, 1, 0x03, FLASH, d, 4), 3 | 1 << 8);
    CHECK_EQ_INT(xp_read(b, FLASH, g, 4), 3 | 1 << 8);
    CHECK_MEM(g, d, 4); /* W timed out before any read: the RAM buffer is unchanged */
    CHECK_EQ_INT(xp_cmd(b, 0x02, NULL, 0), 0 | 1 << 8);
    cwsim_free(sim);
}

/* The FPGA driving PDIC as a GPIO fights the SAM's PDI clock: nothing reaches the chip. */
static void pin_contention(void)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, "atxmega128d4", NULL);
    uint8_t io[8] = {0x02, 0x01, 0, 0, 0, 0, 0x30, 0}; /* byte 6: PDIC enabled, high */
    reg_write(b, REG_IOROUTE, io, 8);
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 1 | 1 << 8);
    io[6] = 0x20; /* high_z: only the enable bit cleared (cw-usb-protocol.md §4.1) */
    reg_write(b, REG_IOROUTE, io, 8);
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 0);
    cwsim_free(sim);
}

static void nano_has_no_engine(void)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_NANO, NULL, NULL);
    uint8_t s[3];
    CHECK_EQ_INT(xp_in(b, 0x0020, s, 3), CWSIM_STALL);
    CHECK_EQ_INT(xp_out(b, 0x0001, NULL, 0), CWSIM_STALL);
    cwsim_xprog_view v;
    cwsim_xprog_view_get(b, &v);
    CHECK(!v.present);
    cwsim_free(sim);
}

/* Husky and CW1200 have it too (the CW1200: unconfirmed, §1 table). */
static void other_boards(void)
{
    cwsim_kind kinds[2] = {CWSIM_HUSKY, CWSIM_CW1200};
    for (int i = 0; i < 2; i++) {
        cwsim *sim;
        cwsim_board *b = xp_world(&sim, kinds[i], "atxmega16a4", NULL);
        CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 0);
        uint8_t g[3];
        static const uint8_t sig[3] = {0x1E, 0x94, 0x41};
        CHECK_EQ_INT(xp_read(b, SIGNATURE, g, 3), 0);
        CHECK_MEM(g, sig, 3);
        cwsim_free(sim);
    }
}

/* §B.2 WRITE_MEM with fewer than 8 bytes: FAILED, and the write still happens with what the
 * shared buffer holds from the previous request. */
static void short_write_still_writes(void)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, "atxmega128d4", NULL);
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 0);
    CHECK_EQ_INT(xp_erase(b, 1, 0), 0);
    uint8_t d[4] = {0x11, 0x22, 0x33, 0x44};
    CHECK_EQ_INT(xp_write(b, 1, 0x03, FLASH + 0x200, d, 4), 0);
    /* the 8-byte header is now in the shared buffer: change the RAM buffer's first 2 bytes
     * (which overwrites only the shared buffer's first 2), then send a 2-byte WRITE_MEM */
    uint8_t e[2] = {0x10, 0x20};
    CHECK_EQ_INT(xp_out(b, 0x0022, e, 2), 2);
    uint8_t hdr[8] = {1, 0x03};
    CHECK_EQ_INT(xp_cmd(b, 0x04, hdr, 2), 1);
    uint8_t g[4];
    CHECK_EQ_INT(xp_read(b, FLASH + 0x200, g, 4), 0);
    /* no page erase: the page write ANDs the new bytes into the old ones (§B.5) */
    uint8_t want[4] = {0x11 & 0x10, 0x22 & 0x20, 0x33, 0x44};
    CHECK_MEM(g, want, 4);
    /* len > 256 is clamped to 256 */
    uint8_t hdr2[8] = {1, 0x03, 0, 0x03, 0x80, 0, 0x00, 0x02}; /* 512 bytes at 0x0800300 */
    uint8_t page[256];
    memset(page, 0x5A, sizeof page);
    for (uint16_t off = 0; off < 256; off += 64)
        CHECK_EQ_INT(xp_out(b, (uint16_t)(0x22 | off << 8), page + off, 64), 64);
    CHECK_EQ_INT(xp_cmd(b, 0x04, hdr2, 8), 0);
    uint8_t g2[256];
    CHECK_EQ_INT(xp_read(b, FLASH + 0x300, g2, 256), 0);
    CHECK_MEM(g2, page, 256);
    CHECK_EQ_INT(xp_read(b, FLASH + 0x400, g2, 256), 0);
    CHECK_EQ_INT(g2[0], 0xFF);
    /* ERASE payload < 5 bytes: FAILED */
    CHECK_EQ_INT(xp_cmd(b, 0x03, d, 4), 1);
    /* an unknown erase type runs NOOP: status 0, nothing erased */
    CHECK_EQ_INT(xp_erase(b, 9, FLASH + 0x300), 0);
    CHECK_EQ_INT(xp_read(b, FLASH + 0x300, g2, 256), 0);
    CHECK_MEM(g2, page, 256);
    cwsim_free(sim);
}

/* Memory types: APPL on a boot address does nothing (UNCONFIRMED, §B.4), BOOT writes it, an
 * unknown type (7) is the generic flash page write 0x2E that works anywhere (§E). */
static void memory_types(void)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, "atxmega16a4", NULL);
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 0);
    CHECK_EQ_INT(xp_erase(b, 1, 0), 0);
    uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8}, g[8];
    const uint32_t boot = FLASH + 0x4000; /* 16 KiB application section */
    CHECK_EQ_INT(xp_write(b, 1, 0x03, boot, d, 8), 0);
    CHECK_EQ_INT(xp_read(b, boot, g, 8), 0);
    CHECK_EQ_INT(g[0], 0xFF);
    CHECK_EQ_INT(xp_write(b, 2, 0x03, boot, d, 8), 0);
    CHECK_EQ_INT(xp_read(b, boot, g, 8), 0);
    CHECK_MEM(g, d, 8);
    CHECK_EQ_INT(xp_write(b, 7, 0x03, FLASH + 0x100, d, 8), 0);
    CHECK_EQ_INT(xp_read(b, FLASH + 0x100, g, 8), 0);
    CHECK_MEM(g, d, 8);
    CHECK_EQ_INT(xp_write(b, 2, 0x03, FLASH + 0x200, d, 8), 0); /* BOOT on an app address */
    CHECK_EQ_INT(xp_read(b, FLASH + 0x200, g, 8), 0);
    CHECK_EQ_INT(g[0], 0xFF);
    /* EEPROM: page-wise, only the loaded bytes; erase type 4 erases all of it */
    uint8_t ee[32];
    for (int i = 0; i < 32; i++)
        ee[i] = (uint8_t)(0x80 + i);
    CHECK_EQ_INT(xp_write(b, 3, 0x03, EEPROM + 0x40, ee, 32), 0);
    CHECK_EQ_INT(xp_write(b, 3, 0x03, EEPROM + 0x65, d, 3), 0);
    uint8_t eg[64];
    CHECK_EQ_INT(xp_read(b, EEPROM + 0x40, eg, 64), 0);
    CHECK_MEM(eg, ee, 32);
    CHECK(eg[0x24] == 0xFF && eg[0x25] == 1 && eg[0x27] == 3 && eg[0x28] == 0xFF);
    CHECK_EQ_INT(xp_erase(b, 4, EEPROM), 0);
    CHECK_EQ_INT(xp_read(b, EEPROM + 0x40, eg, 64), 0);
    CHECK(eg[0] == 0xFF && eg[0x25] == 0xFF);
    /* fuses (type 4) and lock bits (type 5): byte writes of rambuf[0] */
    uint8_t f = 0xBF; /* FUSEBYTE2 BOOTRST programmed */
    CHECK_EQ_INT(xp_write(b, 4, 0, FUSES + 2, &f, 1), 0);
    uint8_t fuses[8];
    CHECK_EQ_INT(xp_read(b, FUSES, fuses, 8), 0);
    CHECK_EQ_INT(fuses[2], 0xBF);
    uint8_t lock = 0xFE; /* LB = 10: write lock */
    CHECK_EQ_INT(xp_write(b, 5, 0, FUSES + 7, &lock, 1), 0);
    CHECK_EQ_INT(xp_read(b, FUSES, fuses, 8), 0);
    CHECK_EQ_INT(fuses[7], 0xFE);
    /* under a write lock, flash writes are ignored: the board still says OK (§B.5) */
    CHECK_EQ_INT(xp_write(b, 1, 0x03, FLASH + 0x300, d, 8), 0);
    CHECK_EQ_INT(xp_read(b, FLASH + 0x300, g, 8), 0);
    CHECK_EQ_INT(g[0], 0xFF);
    CHECK_EQ_INT(xp_erase(b, 1, 0), 0); /* chip erase clears the lock bits */
    CHECK_EQ_INT(xp_read(b, FUSES, fuses, 8), 0);
    CHECK_EQ_INT(fuses[7], 0xFF);
    CHECK_EQ_INT(fuses[2], 0xBF); /* fuses stay */
    cwsim_free(sim);
}

/* A command sent as IN runs, then stalls (§1). */
static void command_as_in(void)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, "atxmega128d4", NULL);
    uint8_t s[3];
    CHECK_EQ_INT(xp_in(b, 0x0001, s, 3), CWSIM_STALL);
    cwsim_xprog_view v;
    cwsim_xprog_view_get(b, &v);
    CHECK(v.link && v.status == 0 && v.commands == 1);
    CHECK_EQ_INT(xp_in(b, 0x0003, s, 3), CWSIM_STALL); /* ERASE with no payload: FAILED */
    CHECK_EQ_INT(xp_status(b), 1);
    cwsim_free(sim);
}

/* The shared counter (§1): SET_PARAM's timeout is the default for later commands and for the
 * AVR engine too; a chip erase longer than it reports TIMEOUT while the chip goes on. */
static void chip_erase_against_timeout(void)
{
    cwsim *sim;
    cwsim_board *b = xp_world(&sim, CWSIM_CWLITE, "atxmega128d4", NULL);
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 0);
    CHECK_EQ_INT(xp_timeout_ms(b, 50), 0);
    CHECK_EQ_INT(cwsim_board_engine_timeout_default(b), 125);
    uint64_t t0 = cwsim_now_ns(sim);
    CHECK_EQ_INT(xp_erase(b, 1, 0), 3 | 1 << 8); /* 75 ms erase, 50 ms counter */
    CHECK(cwsim_now_ns(sim) - t0 < 55 * MS);
    /* NVMEN is down until the erase ends: LEAVE's wait for the bus absorbs the rest */
    CHECK_EQ_INT(xp_cmd(b, 0x02, NULL, 0), 0);
    CHECK(cwsim_now_ns(sim) - t0 >= 75 * MS);
    CHECK_EQ_INT(xp_cmd(b, 0x01, NULL, 0), 0);
    CHECK_EQ_INT(xp_timeout_ms(b, 100), 0);
    CHECK_EQ_INT(xp_erase(b, 1, 0), 0);
    CHECK_EQ_INT(xp_erase(b, 2, 0), 0); /* the CW fallback: application section */
    cwsim_free(sim);
}

int main(void)
{
    static const uint8_t sig128[3] = {0x1E, 0x97, 0x47}, sig16[3] = {0x1E, 0x94, 0x41};
    host_flow("atxmega128d4", sig128, 0x22000);
    host_flow("CWLITEXMEGA", sig128, 0x22000);
    host_flow("atxmega16a4", sig16, 0x5000);
    status_and_rambuf();
    crc_reloads_counter();
    no_target(NULL, NULL);
    no_target("stm32f100xb", NULL); /* a chip that does not speak PDI */
    no_target("atxmega128d4", "pdi-open");
    no_target("atxmega128d4", "no-power");
    pin_contention();
    nano_has_no_engine();
    other_boards();
    short_write_still_writes();
    memory_types();
    command_as_in();
    chip_erase_against_timeout();
    return check_report("xmega_engine");
}
