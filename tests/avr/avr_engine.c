/* SPDX-License-Identifier: MIT */
/* The board's V2/ISP engine: one test per documented quirk (target-protocols.md §C.1-C.3, §C.7,
 * §E, §F, and the shared timeout counter of §1). */
#include "../check.h"
#include "avrtest.h"

#include <math.h>

/* ---- a recording target: every SPI byte, answering in sync (echo, 0x53) ---------------- */

typedef struct recorder {
    uint8_t mosi[8192];
    size_t n;
    uint8_t last;
    int powered, reset_low;
} recorder;

static void r_power(void *ctx, int on, uint64_t now)
{
    (void)now;
    ((recorder *)ctx)->powered = on;
}

static void r_pin(void *ctx, cwsim_pin pin, cwsim_level level, uint64_t now)
{
    (void)now;
    if (pin == CWSIM_PIN_NRST)
        ((recorder *)ctx)->reset_low = level == CWSIM_LOW;
}

static int r_isp(void *ctx, uint8_t mosi, double sck_hz, uint8_t *miso, uint64_t now)
{
    recorder *r = ctx;
    (void)sck_hz;
    (void)now;
    if (r->n < sizeof r->mosi)
        r->mosi[r->n++] = mosi;
    *miso = r->last; /* the echo of the previous byte */
    r->last = mosi;
    return 0;
}

static const cwsim_target_ops rec_ops = {
    .name = "recorder",
    .uart_rx_pin = CWSIM_PIN_TIO2,
    .uart_tx_pin = CWSIM_PIN_TIO1,
    .power = r_power,
    .pin = r_pin,
    .isp_exchange = r_isp,
};

/* a board with the recorder and an engine of its own */
static cwsim_v2 *rec_rig(rig *g, recorder *r)
{
    char err[256];
    memset(r, 0, sizeof *r);
    rig_open(g, NULL, NULL, NULL);
    cwsim_board_attach_target(g->b, &rec_ops, r, err, sizeof err);
    return cwsim_v2_install(g->b, err, sizeof err);
}

static size_t count_seq(const recorder *r, const uint8_t *seq, size_t k)
{
    size_t hits = 0;
    for (size_t i = 0; i + k <= r->n; i++)
        if (memcmp(r->mosi + i, seq, k) == 0)
            hits++;
    return hits;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_sign_on_and_unknown(void)
{
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    uint8_t buf[64], st[32];
    int n = v2_in(g.b, 0x01, buf, 64);
    CHECK_EQ_INT(n, 16);
    CHECK(buf[0] == 0x01 && buf[1] == 0x00 && buf[2] == 13 &&
          memcmp(buf + 3, "CWLITE_AVRISP", 13) == 0);
    /* a reply is not cut to wLength: asking for less overflows (§C.1, §E) */
    CHECK_EQ_INT(v2_in(g.b, 0x01, buf, 8), CWSIM_OVERFLOW);
    /* SIGN_ON as OUT does nothing: no status */
    v2_out(g.b, 0x01, NULL, 0);
    CHECK_EQ_INT(v2_status(g.b, st), 0);
    /* unknown command: [stale, 0xC9] (§C.1 "other") */
    v2_out(g.b, 0x50, NULL, 0);
    CHECK_EQ_INT(v2_status(g.b, st), 2);
    CHECK_EQ_INT(st[1], 0xC9);
    rig_close(&g);
    /* every board but the Nano has the engine from the start, whatever target is attached */
    rig_open(&g, NULL, NULL, NULL);
    CHECK(cwsim_v2_of(g.b) != NULL);
    char perr[256];
    CHECK_EQ_INT(cwsim_attach_part(g.b, "stm32f100xb", NULL, perr, sizeof perr), 0);
    CHECK_EQ_INT(v2_in(g.b, 0x01, buf, 64), 16);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
    v2_leave(g.b);
    rig_close(&g);
    /* the Nano has no engine: 0x21 stalls */
    cwsim *sim = NULL;
    cwsim_new(&sim, NULL, 0);
    cwsim_board *nano = cwsim_board_add(sim, CWSIM_NANO, NULL, NULL, 0);
    char err[256];
    CHECK(cwsim_avr_attach(nano, "atmega328p", err, sizeof err) != NULL);
    CHECK_EQ_INT(v2_in(nano, 0x01, buf, 64), CWSIM_STALL);
    cwsim_free(sim);
}

static void test_status_consume_once_and_stale(void)
{
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    uint8_t st[32];
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    /* consume-once: a second read is empty (§C.1, §F.3) */
    CHECK_EQ_INT(v2_status(g.b, st), 0);
    /* ISP commands put their code in byte 0; LOAD_ADDRESS keeps the old byte 0 */
    uint8_t a[4] = {0, 0, 0, 0};
    v2_out(g.b, 0x06, a, 4);
    CHECK_EQ_INT(v2_status(g.b, st), 2);
    CHECK(st[0] == 0x10 && st[1] == 0x00);
    /* GET_STATUS with wLength below the pending length: overflow (§E, inferred) */
    uint8_t p5[5] = {4, 0x30, 0x00, 0x00, 0x00};
    v2_out(g.b, 0x1B, p5, 5);
    CHECK_EQ_INT(v2_in(g.b, 0x20, st, 2), CWSIM_OVERFLOW);
    /* GET/SET_PARAMETER: 3-byte status with stale byte 0; read-only and unknown ids fail */
    uint8_t gp = 0x98;
    v2_out(g.b, 0x03, &gp, 1);
    CHECK_EQ_INT(v2_status(g.b, st), 3);
    CHECK(st[0] == 0x1B && st[1] == 0 && st[2] == 6);
    uint8_t sp[2] = {0x94, 50};
    v2_out(g.b, 0x02, sp, 2);
    CHECK_EQ_INT(v2_status(g.b, st), 2);
    CHECK_EQ_INT(st[1], 0xC0);
    sp[0] = 0x98;
    sp[1] = 3;
    CHECK_EQ_INT(v2_cmd(g.b, 0x02, sp, 2), 0);
    gp = 0x77;
    CHECK_EQ_INT(v2_cmd(g.b, 0x03, &gp, 1), 0xC0);
    /* RESET_PROTECTION: a dummy OK */
    CHECK_EQ_INT(v2_cmd(g.b, 0x0A, NULL, 0), 0);
    v2_leave(g.b);
    rig_close(&g);
}

static void test_exact_sizes(void)
{
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    uint8_t st[32], big[16] = {0};
    cwsim_v2_view v;
    /* every ISP command with one byte too few or too many: dropped, no status (§C.3) */
    static const struct {
        uint8_t cmd, len;
    } sizes[] = {{0x10, 11}, {0x11, 2}, {0x12, 6}, {0x13, 9}, {0x14, 3}, {0x15, 9}, {0x16, 3},
                 {0x17, 4},  {0x18, 5}, {0x19, 4}, {0x1A, 5}, {0x1B, 5}, {0x1C, 5}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        v2_out(g.b, sizes[i].cmd, big, (uint16_t)(sizes[i].len - 1));
        CHECK_EQ_INT(v2_status(g.b, st), 0);
        v2_out(g.b, sizes[i].cmd, big, (uint16_t)(sizes[i].len + 1));
        CHECK_EQ_INT(v2_status(g.b, st), 0);
    }
    /* a command sent as IN sees a zero-length payload: ENTER is dropped */
    uint8_t buf[8];
    CHECK_EQ_INT(v2_in(g.b, 0x10, buf, 8), 0);
    CHECK_EQ_INT(v2_status(g.b, st), 0);
    CHECK(!cwsim_avr_programming(g.chip));
    /* SPI_MULTI: a no-op without status */
    v2_out(g.b, 0x1D, big, 4);
    CHECK_EQ_INT(v2_status(g.b, st), 0);
    rig_close(&g);
    /* LOAD_ADDRESS is unchecked: with 1 byte it reads 3 stale bytes of the shared buffer */
    recorder r;
    cwsim_v2 *e = rec_rig(&g, &r);
    uint8_t four[4] = {0x11, 0x22, 0x33, 0x44};
    v2_out(g.b, 0x06, four, 4);
    uint8_t one = 0x55;
    v2_out(g.b, 0x06, &one, 1);
    cwsim_v2_view_get(e, &v);
    CHECK_EQ_INT(v.current_address, 0x44332255u);
    cwsim_v2_remove(e);
    rig_close(&g);
}

static void test_rambuf(void)
{
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    uint8_t data[256], back[256];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    /* SET = 0x21, GET = 0x22 with the offset in wValue's high byte (§C.1, §F.2) */
    v2_set_rambuf(g.b, data, 256);
    v2_get_rambuf(g.b, back, 256);
    CHECK_MEM(back, data, 256);
    /* GET beyond 256 stalls; SET beyond 256 is ignored */
    CHECK_EQ_INT(v2_in(g.b, 0xC122, back, 64), CWSIM_STALL);
    uint8_t z[64] = {0};
    CHECK_EQ_INT(v2_out(g.b, 0xC121, z, 64), 64);
    v2_get_rambuf(g.b, back, 256);
    CHECK_MEM(back, data, 256);
    /* the buffer transfers leave the status alone */
    uint8_t st[32];
    CHECK_EQ_INT(v2_status(g.b, st), 0);
    /* an OUT data stage over 128 bytes stalls (§1) */
    uint8_t big[200] = {0};
    CHECK_EQ_INT(cwsim_board_control(g.b, 0x41, V2, 0x21, 0, big, 200, T_MS), CWSIM_STALL);
    rig_close(&g);
}

/* program two pages with one LOAD_ADDRESS and read them back in one READ: word addressing,
 * auto-increment, little-endian counts (§C.3, §F.1, §F.4) */
static void test_word_addressing(void)
{
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    CHECK_EQ_INT(v2_chip_erase(g.b), 0);
    uint8_t img[256], back[256];
    for (int i = 0; i < 256; i++)
        img[i] = (uint8_t)(255 - i);
    v2_load_address(g.b, 0);
    CHECK_EQ_INT(v2_program_page(g.b, img, 128), 0);
    CHECK_EQ_INT(v2_program_page(g.b, img + 128, 128), 0);
    uint8_t flash[256];
    cwsim_avr_peek(g.chip, CWSIM_AVR_FLASH, 0, flash, 256);
    CHECK_MEM(flash, img, 256);
    v2_load_address(g.b, 0);
    CHECK_EQ_INT(v2_read_flash(g.b, back, 256), 0);
    CHECK_MEM(back, img, 256);
    /* LOAD_ADDRESS is a word address, little-endian: 0x40 = byte 0x80 */
    uint8_t la[4] = {0x40, 0x00, 0x00, 0x00};
    v2_cmd(g.b, 0x06, la, 4);
    CHECK_EQ_INT(v2_read_flash(g.b, back, 4), 0);
    CHECK_MEM(back, img + 128, 4);
    /* count is little-endian: 0x0101 = 257 > 256 fails with 0xC0 */
    uint8_t rd[3] = {0x01, 0x01, 0x20};
    CHECK_EQ_INT(v2_cmd(g.b, 0x14, rd, 3), 0xC0);
    uint8_t pg[9] = {0x01, 0x01, 0xC1, 0x06, 0x40, 0x4C, 0x20, 0xFF, 0xFF};
    CHECK_EQ_INT(v2_cmd(g.b, 0x13, pg, 9), 0xC0);
    /* EEPROM: byte addresses, advancing every byte */
    uint8_t ee[4] = {1, 2, 3, 4};
    v2_set_rambuf(g.b, ee, 4);
    uint8_t pe[9] = {4, 0, 0xC1, 0x05, 0xC1, 0xC2, 0xA0, 0xFF, 0xFF};
    v2_load_address(g.b, 8);
    CHECK_EQ_INT(v2_cmd(g.b, 0x15, pe, 9), 0);
    uint8_t eback[8];
    cwsim_avr_peek(g.chip, CWSIM_AVR_EEPROM, 8, eback, 4);
    CHECK_MEM(eback, ee, 4); /* one EEPROM page committed at the start address */
    v2_load_address(g.b, 8);
    uint8_t re[3] = {8, 0, 0xA0};
    CHECK_EQ_INT(v2_cmd(g.b, 0x16, re, 3), 0);
    v2_get_rambuf(g.b, eback, 8);
    CHECK_MEM(eback, ee, 4);
    CHECK_EQ_INT(eback[4], 0xFF);
    v2_leave(g.b);
    rig_close(&g);
}

/* the page commit uses the address at command start; flash bytes toggle 0x40/0x48 */
static void test_commit_address_and_toggle(void)
{
    rig g;
    recorder r;
    cwsim_v2 *e = rec_rig(&g, &r);
    CHECK(e != NULL);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    uint8_t data[4] = {0x11, 0x22, 0x33, 0x44};
    v2_load_address(g.b, 0x0123);
    r.n = 0;
    v2_set_rambuf(g.b, data, 4);
    uint8_t pg[9] = {4, 0, 0x91, 0x06, 0x40, 0x4C, 0x20, 0xFF, 0xFF}; /* paged, timed, commit */
    v2_cmd(g.b, 0x13, pg, 9);
    static const uint8_t want[] = {0x40, 0x01, 0x23, 0x11, 0x48, 0x01, 0x23, 0x22, 0x40, 0x01,
                                   0x24, 0x33, 0x48, 0x01, 0x24, 0x44, 0x4C, 0x01, 0x23, 0x00};
    CHECK_EQ_INT(r.n, sizeof want);
    CHECK_MEM(r.mosi, want, sizeof want);
    cwsim_v2_view v;
    cwsim_v2_view_get(e, &v);
    CHECK_EQ_INT(v.current_address, 0x0125);
    /* READ toggles 0x20/0x28 and advances every second byte */
    v2_load_address(g.b, 0x10);
    r.n = 0;
    uint8_t rd[3] = {3, 0, 0x20};
    v2_cmd(g.b, 0x14, rd, 3);
    static const uint8_t rwant[] = {0x20, 0x00, 0x10, 0x00, 0x28, 0x00,
                                    0x10, 0x00, 0x20, 0x00, 0x11, 0x00};
    CHECK_EQ_INT(r.n, sizeof rwant);
    CHECK_MEM(r.mosi, rwant, sizeof rwant);
    cwsim_v2_remove(e);
    rig_close(&g);
}

/* bit 31 of LOAD_ADDRESS and a 64 Ki-word crossing send Load Extended Address (§C.3, §C.7) */
static void test_extended_address(void)
{
    rig g;
    recorder r;
    cwsim_v2 *e = rec_rig(&g, &r);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    v2_load_address(g.b, 0x8001FFFFu);
    cwsim_v2_view v;
    cwsim_v2_view_get(e, &v);
    CHECK(v.must_load_extended);
    r.n = 0;
    uint8_t rd[3] = {4, 0, 0x20};
    v2_cmd(g.b, 0x14, rd, 3);
    static const uint8_t ext1[4] = {0x4D, 0x00, 0x01, 0x00}, ext2[4] = {0x4D, 0x00, 0x02, 0x00};
    CHECK_EQ_INT(count_seq(&r, ext1, 4), 1);
    CHECK_EQ_INT(count_seq(&r, ext2, 4), 1); /* crossing from word 0x1FFFF to 0x20000 */
    CHECK_EQ_INT(r.mosi[0], 0x4D);
    cwsim_v2_view_get(e, &v);
    CHECK(!v.must_load_extended);
    CHECK_EQ_INT(v.current_address & 0xFFFFFFu, 0x020001);
    /* ENTER zeroes the address but does not clear a pending extended load */
    v2_load_address(g.b, 0x80000000u);
    v2_cmd(g.b, 0x10, ENTER_CW, 11);
    cwsim_v2_view_get(e, &v);
    CHECK(v.must_load_extended && v.current_address == 0);
    cwsim_v2_remove(e);
    rig_close(&g);
}

/* Successive PROGRAMs after one LOAD_ADDRESS, as NewAE's writeMemory sends them (§C.4): each
 * page is committed at the address its command started at, and a page that ends on a 64 Ki-word
 * boundary is committed before the Load Extended Address that the next command sends first
 * (§C.3, §C.7). cwlua relies on this to send LOAD_ADDRESS once per contiguous run. */
static void test_programs_follow_the_address(void)
{
    rig g;
    recorder r;
    cwsim_v2 *e = rec_rig(&g, &r);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    uint8_t data[4] = {0x11, 0x22, 0x33, 0x44};
    uint8_t pg[9] = {4, 0, 0x91, 0x06, 0x40, 0x4C, 0x20, 0xFF, 0xFF}; /* paged, timed, commit */
    v2_load_address(g.b, 0x8000FFFEu); /* the last two words below 64 Ki, extended byte 0 */
    v2_set_rambuf(g.b, data, 4);
    r.n = 0;
    CHECK_EQ_INT(v2_cmd(g.b, 0x13, pg, 9), 0);
    static const uint8_t first[] = {0x4D, 0x00, 0x00, 0x00, 0x40, 0xFF, 0xFE, 0x11,
                                    0x48, 0xFF, 0xFE, 0x22, 0x40, 0xFF, 0xFF, 0x33,
                                    0x48, 0xFF, 0xFF, 0x44, 0x4C, 0xFF, 0xFE, 0x00};
    CHECK_EQ_INT(r.n, sizeof first);
    CHECK_MEM(r.mosi, first, sizeof first);
    cwsim_v2_view v;
    cwsim_v2_view_get(e, &v);
    CHECK(v.must_load_extended);
    CHECK_EQ_INT(v.current_address & 0xFFFFFFu, 0x010000);
    /* the next command, without a LOAD_ADDRESS, goes on at word 0x10000 */
    r.n = 0;
    CHECK_EQ_INT(v2_cmd(g.b, 0x13, pg, 9), 0);
    static const uint8_t second[] = {0x4D, 0x00, 0x01, 0x00, 0x40, 0x00, 0x00, 0x11,
                                     0x48, 0x00, 0x00, 0x22, 0x40, 0x00, 0x01, 0x33,
                                     0x48, 0x00, 0x01, 0x44, 0x4C, 0x00, 0x00, 0x00};
    CHECK_EQ_INT(r.n, sizeof second);
    CHECK_MEM(r.mosi, second, sizeof second);
    cwsim_v2_view_get(e, &v);
    CHECK(!v.must_load_extended);
    CHECK_EQ_INT(v.current_address & 0xFFFFFFu, 0x010002);
    cwsim_v2_remove(e);
    rig_close(&g);
}

/* READ_FUSE with a return index outside 1..4 gives a byte from outside the response (§E) */
static void test_ret_index(void)
{
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    CHECK_EQ_INT(v2_read4(g.b, 0x18, 4, 0x50, 0x00, 0x00, 0x00), 0xE0); /* low fuse */
    CHECK_EQ_INT(v2_read4(g.b, 0x18, 4, 0x58, 0x08, 0x00, 0x00), 0xD9); /* high */
    CHECK_EQ_INT(v2_read4(g.b, 0x18, 4, 0x50, 0x08, 0x00, 0x00), 0xFF); /* extended */
    CHECK_EQ_INT(v2_read4(g.b, 0x1A, 4, 0x58, 0x00, 0x00, 0x00), 0xFF); /* lock */
    CHECK_EQ_INT(v2_read4(g.b, 0x1C, 4, 0x38, 0x00, 0x00, 0x00), 0x9A); /* calibration */
    CHECK_EQ_INT(v2_read4(g.b, 0x18, 2, 0x50, 0x00, 0x00, 0x00), 0x50); /* echo of byte 1 */
    int garbage = v2_read4(g.b, 0x18, 0, 0x50, 0x00, 0x00, 0x00);
    CHECK(garbage >= 0); /* a byte, but not from the response */
    v2_leave(g.b);
    rig_close(&g);
}

/* §1, §C.3 timing trap: the counter shared with XPROG; NewAE's delays need > 125 ms */
static void test_timeout_trap(void)
{
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    CHECK_EQ_INT(cwsim_board_engine_timeout_default(g.b), 500);
    /* what an XMEGA session leaves: 250 ticks = 100 ms (§B.3) */
    cwsim_board_engine_timeout_set_default(g.b, 250);
    uint64_t t0 = cwsim_now_ns(g.sim);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
    CHECK(!cwsim_avr_programming(g.chip));
    CHECK(cwsim_now_ns(g.sim) - t0 >= 125 * MS); /* exec 25 + stab 100, then no attempt */
    /* ENTER ends with /RESET asserted even when it fails (§C.4) */
    cwsim_target_view tv;
    cwsim_board_target_view(g.b, &tv);
    CHECK_EQ_INT(tv.pins[CWSIM_PIN_NRST], CWSIM_LOW);
    /* shorter delays fit in 100 ms */
    uint8_t quick[11] = {0xC8, 0x19, 0x05, 0x20, 0x00, 0x53, 0x03, 0xAC, 0x53, 0x00, 0x00};
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, quick, 11), 0);
    v2_leave(g.b);
    /* the default back at 500 ticks: NewAE's delays work again */
    cwsim_board_engine_timeout_set_default(g.b, 500);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    /* every request reloads the counter, GET_STATUS and the RAM buffer included */
    cwsim_advance_ns(g.sim, 300 * MS);
    CHECK_EQ_INT(cwsim_board_engine_timeout_remaining(g.b), 0);
    uint8_t st[32];
    v2_status(g.b, st);
    CHECK(cwsim_board_engine_timeout_remaining(g.b) > 490);
    cwsim_advance_ns(g.sim, 300 * MS);
    uint8_t z = 0;
    v2_out(g.b, 0x21, &z, 1);
    CHECK(cwsim_board_engine_timeout_remaining(g.b) > 490);
    /* after a completion wait the counter holds 100 ticks (§C.3) */
    cwsim_board_engine_timeout_set_default(g.b, 5000);
    uint8_t page[128];
    memset(page, 0x12, sizeof page);
    v2_load_address(g.b, 0);
    v2_set_rambuf(g.b, page, 128);
    uint8_t pp[9] = {128, 0, 0xC1, 0x06, 0x40, 0x4C, 0x20, 0xFF, 0xFF};
    v2_out(g.b, 0x13, pp, 9);
    CHECK(cwsim_board_engine_timeout_remaining(g.b) <= 100);
    CHECK_EQ_INT(v2_status(g.b, st), 2);
    v2_leave(g.b);
    /* RDY/BSY never ready (MISO high, nothing connected): 0x81 once the counter runs out */
    const char *open_isp[] = {"isp-open", NULL};
    rig_close(&g);
    rig_open(&g, "atmega328p", NULL, open_isp);
    uint8_t er[6] = {0x19, 0x01, 0xAC, 0x80, 0x00, 0x00};
    t0 = cwsim_now_ns(g.sim);
    CHECK_EQ_INT(v2_cmd(g.b, 0x12, er, 6), 0x81);
    CHECK(cwsim_now_ns(g.sim) - t0 >= 200 * MS);
    rig_close(&g);
}

/* What makes ENTER fail: no clock, no power, open ISP lines, nRST open, SCK too fast */
static void test_enter_failures(void)
{
    static const char *const faults[][2] = {
        {"no-clock", NULL}, {"no-power", NULL}, {"isp-open", NULL}, {"nrst-open", NULL}};
    for (size_t i = 0; i < 4; i++) {
        rig g;
        rig_open(&g, "atmega328p", NULL, faults[i]);
        CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
        /* the raw answer to Programming Enable, read through READ_SIGNATURE's 4 bytes */
        int b3 = v2_read4(g.b, 0x1B, 3, 0xAC, 0x53, 0x00, 0x00);
        CHECK_EQ_INT(b3, i == 0 ? 0x00 : 0xFF); /* no clock: MISO held low; others: undriven */
        rig_close(&g);
    }
    /* HS2 off on the board: the same as no clock */
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    uint8_t ext;
    reg_rw(g.b, 38, &ext, 1, 0);
    ext = (uint8_t)(ext & ~0x60u);
    reg_rw(g.b, 38, &ext, 1, 1);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
    rig_close(&g);
    /* no ISP routing (IOROUTE byte 5 bit 0 clear) */
    rig_open(&g, "atmega328p", NULL, NULL);
    isp_route(g.b, 0);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
    isp_route(g.b, 1);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    v2_leave(g.b);
    /* SCK: SCK_DURATION 0 = 8 MHz > 7.37 MHz / 4 fails; 3 = 1 MHz works */
    uint8_t sp[2] = {0x98, 0};
    v2_cmd(g.b, 0x02, sp, 2);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
    int b3 = v2_read4(g.b, 0x1B, 3, 0xAC, 0x53, 0x00, 0x00);
    CHECK(b3 != 0x53 && b3 != 0x00 && b3 != 0xFF); /* garbled, not silent */
    sp[1] = 3;
    v2_cmd(g.b, 0x02, sp, 2);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    v2_leave(g.b);
    rig_close(&g);
}

/* §C.1, §C.2: the SPI divider stops at 255; the slow clock stretches SCK, delays, ticks */
static void test_sck_and_slow_clock(void)
{
    rig g;
    recorder r;
    cwsim_v2 *e = rec_rig(&g, &r);
    CHECK(fabs(cwsim_v2_sck_hz(e) - 96e6 / 255) < 1); /* 125 kHz asked, 376 kHz made */
    uint8_t sp[2] = {0x98, 3};
    v2_cmd(g.b, 0x02, sp, 2);
    CHECK(fabs(cwsim_v2_sck_hz(e) - 1e6) < 1);
    sp[1] = 200; /* past the table: the divider's limit */
    v2_cmd(g.b, 0x02, sp, 2);
    CHECK(fabs(cwsim_v2_sck_hz(e) - 96e6 / 255) < 1);
    sp[1] = 6;
    v2_cmd(g.b, 0x02, sp, 2);
    CHECK_EQ_INT(cwsim_board_control(g.b, 0x41, 0x22, 0x01, 0, NULL, 0, T_MS), 0);
    double slow = cwsim_v2_sck_hz(e);
    CHECK(slow < 30e3 && slow > 20e3);
    uint64_t t0 = cwsim_now_ns(g.sim);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_SLOW, 11), 0);
    uint64_t dt = cwsim_now_ns(g.sim) - t0;
    CHECK(dt > 12 * 16 * MS); /* (exec 2 + stab 10) ms x 16 */
    v2_leave(g.b);
    cwsim_board_control(g.b, 0x41, 0x22, 0x02, 0, NULL, 0, T_MS);
    CHECK(fabs(cwsim_v2_sck_hz(e) - 96e6 / 255) < 1);
    cwsim_v2_remove(e);
    rig_close(&g);

    /* a chip on a slow clock (CKDIV8: 921 kHz) needs the slow clock (§C.2) */
    rig_open(&g, "atmega328p", NULL, NULL);
    uint8_t f[4] = {0x60, 0xD9, 0xFF, 0xFF};
    cwsim_avr_poke(g.chip, CWSIM_AVR_FUSES, 0, f, 4);
    /* re-latch: power cycle the target */
    uint8_t io[8];
    reg_rw(g.b, REG_IOR, io, 8, 0);
    io[5] |= 0x02;
    reg_rw(g.b, REG_IOR, io, 8, 1);
    io[5] &= (uint8_t)~0x02u;
    reg_rw(g.b, REG_IOR, io, 8, 1);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
    cwsim_board_control(g.b, 0x41, 0x22, 0x01, 0, NULL, 0, T_MS);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_SLOW, 11), 0);
    uint8_t sig[3];
    CHECK_EQ_INT(v2_signature(g.b, sig), 0);
    CHECK(sig[0] == 0x1E && sig[1] == 0x95 && sig[2] == 0x0F);
    v2_leave(g.b);
    cwsim_board_control(g.b, 0x41, 0x22, 0x02, 0, NULL, 0, T_MS);
    rig_close(&g);
}

/* word mode and value polling (§C.3 mode bits), and value-poll falling back to timed */
static void test_completion_modes(void)
{
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0);
    CHECK_EQ_INT(v2_chip_erase(g.b), 0);
    /* EEPROM in word mode with RDY/BSY per byte: cmd1 0xC0 writes a byte at a time */
    uint8_t ee[3] = {0x10, 0x20, 0x30};
    v2_set_rambuf(g.b, ee, 3);
    v2_load_address(g.b, 0);
    uint8_t pe[9] = {3, 0, 0x08, 0x05, 0xC0, 0x00, 0xA0, 0xFF, 0xFF};
    CHECK_EQ_INT(v2_cmd(g.b, 0x15, pe, 9), 0);
    uint8_t back[3];
    cwsim_avr_peek(g.chip, CWSIM_AVR_EEPROM, 0, back, 3);
    CHECK_MEM(back, ee, 3);
    /* word mode, value polling: reads return 0xFF while busy, then the value */
    ee[0] = 0x44;
    v2_set_rambuf(g.b, ee, 1);
    v2_load_address(g.b, 5);
    uint8_t pv[9] = {1, 0, 0x04, 0x05, 0xC0, 0x00, 0xA0, 0xFF, 0xFF};
    CHECK_EQ_INT(v2_cmd(g.b, 0x15, pv, 9), 0);
    cwsim_avr_peek(g.chip, CWSIM_AVR_EEPROM, 5, back, 1);
    CHECK_EQ_INT(back[0], 0x44);
    /* paged flash with value polling but every byte 0xFF (no poll address): timed instead */
    uint8_t ff[128];
    memset(ff, 0xFF, sizeof ff);
    v2_set_rambuf(g.b, ff, 128);
    v2_load_address(g.b, 0x100);
    uint8_t pf[9] = {128, 0, 0xA1, 0x06, 0x40, 0x4C, 0x20, 0xFF, 0xFF};
    CHECK_EQ_INT(v2_cmd(g.b, 0x13, pf, 9), 0);
    /* value polling on a disconnected chip (0xFF = the poll value for ever): 0x80 */
    v2_leave(g.b);
    rig_close(&g);
    const char *open_isp[] = {"isp-open", NULL};
    rig_open(&g, "atmega328p", NULL, open_isp);
    uint8_t one = 0x12;
    v2_set_rambuf(g.b, &one, 1);
    v2_load_address(g.b, 1);
    uint8_t pw[9] = {1, 0, 0x04, 0x05, 0xC0, 0x00, 0xA0, 0xFF, 0xFF};
    CHECK_EQ_INT(v2_cmd(g.b, 0x15, pw, 9), 0x80);
    rig_close(&g);
}

/* The shared timeout at its maximum (0xFFFFFFFF ticks, about 20 days) and a completion wait
 * that can only end with it: RDY/BSY with SPI off (CHIP_ERASE before ENTER), RDY/BSY and value
 * polling with the ISP lines open. The firmware polls all that time; the simulator passes it
 * at once, at the same virtual time and with the same result as polling (a fuzz finding: it
 * used to poll through it, hours of real time for one request). */
static void test_dead_polls(void)
{
    const uint64_t max_ns = 0xFFFFFFFFull * CWSIM_ENGINE_TICK_NS;
    const uint64_t poll_ns = 4 * 21250; /* 4 bytes at SCK 376 kHz (divider 255, §C.1) */
    uint8_t er[6] = {0x19, 0x01, 0xAC, 0x80, 0x00, 0x00};
    rig g;
    rig_open(&g, "atmega328p", NULL, NULL);
    cwsim_board_engine_timeout_set_default(g.b, 0xFFFFFFFFu);
    uint64_t t0 = cwsim_now_ns(g.sim);
    CHECK_EQ_INT(v2_cmd(g.b, 0x12, er, 6), 0x81);
    uint64_t took = cwsim_now_ns(g.sim) - t0;
    CHECK(took >= max_ns && took < max_ns + poll_ns + 10 * MS);
    cwsim_counters c;
    cwsim_board_counters_get(g.b, &c);
    CHECK_EQ_INT(c.wire_ns, 0); /* SPI off: nothing on the wire */
    rig_close(&g);

    const char *open_isp[] = {"isp-open", NULL};
    rig_open(&g, "atmega328p", NULL, open_isp);
    cwsim_board_engine_timeout_set_default(g.b, 0xFFFFFFFFu);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0); /* no answer: SPI stays on */
    t0 = cwsim_now_ns(g.sim);
    CHECK_EQ_INT(v2_cmd(g.b, 0x12, er, 6), 0x81);
    took = cwsim_now_ns(g.sim) - t0;
    CHECK(took >= max_ns && took < max_ns + poll_ns + 10 * MS);
    cwsim_board_counters_get(g.b, &c);
    CHECK(c.wire_ns >= max_ns); /* SPI on: the skipped polls' bytes count as wire time */
    uint8_t one = 0x12;
    v2_set_rambuf(g.b, &one, 1);
    v2_load_address(g.b, 1);
    uint8_t pw[9] = {1, 0, 0x04, 0x05, 0xC0, 0x00, 0xA0, 0xFF, 0xFF};
    t0 = cwsim_now_ns(g.sim);
    CHECK_EQ_INT(v2_cmd(g.b, 0x15, pw, 9), 0x80);
    took = cwsim_now_ns(g.sim) - t0;
    CHECK(took >= max_ns && took < max_ns + poll_ns + 10 * MS);
    rig_close(&g);

    /* a short timeout ends exactly where polling one poll at a time ends: whole polls after the
     * CHIP_ERASE instruction, the first at or past the counter's end */
    rig_open(&g, "atmega328p", NULL, open_isp);
    CHECK_EQ_INT(v2_cmd(g.b, 0x10, ENTER_CW, 11), 0xC0);
    uint8_t st[32];
    uint64_t start = cwsim_now_ns(g.sim);
    v2_out(g.b, 0x12, er, 6);
    uint64_t end = cwsim_now_ns(g.sim);
    CHECK_EQ_INT(v2_status(g.b, st), 2);
    CHECK_EQ_INT(st[1], 0x81);
    /* the request: half the control latency, the instruction, polls, half the latency */
    uint64_t lat = cwsim_usb_latency_ns(g.sim);
    uint64_t polls_from = start + lat / 2 + poll_ns, deadline = start + lat / 2 + 500 * 400000ull;
    uint64_t n = (deadline - polls_from + poll_ns - 1) / poll_ns;
    CHECK_EQ_INT(end, polls_from + n * poll_ns + (lat - lat / 2));
    rig_close(&g);
}

int main(void)
{
    test_sign_on_and_unknown();
    test_status_consume_once_and_stale();
    test_exact_sizes();
    test_rambuf();
    test_word_addressing();
    test_commit_address_and_toggle();
    test_extended_address();
    test_programs_follow_the_address();
    test_ret_index();
    test_timeout_trap();
    test_enter_failures();
    test_sck_and_slow_clock();
    test_completion_modes();
    test_dead_polls();
    return check_report("avr_engine");
}
