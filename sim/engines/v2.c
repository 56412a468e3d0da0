/* SPDX-License-Identifier: MIT */
/* The board's V2/ISP engine (naeusb V2Protocol/ISPProtocol/ISPTarget as target-protocols.md §C
 * documents them), as a vendor hook on bRequest 0x21. Board firmware, so it sees the board's
 * private state (sim_internal.h): the shared control buffer, the SAM pin on nRST, the slow
 * clock.
 *
 * Quirks kept on purpose (each has a C test in tests/avr/):
 *  - payloads are little-endian (§C.1, §F.1);
 *  - ISP commands must have exactly their size, else they are dropped without a status
 *    (§C.3); unchecked ones (LOAD_ADDRESS, SET/GET_PARAMETER) read stale bytes of the shared
 *    128-byte buffer (§1);
 *  - the status is consume-once: GET_STATUS returns it and clears it (§C.1, §F.3); byte 0 is
 *    stale for LOAD_ADDRESS, SET/GET_PARAMETER, RESET_PROTECTION and unknown commands;
 *  - RAM buffer: SET = 0x21, GET = 0x22, offset in wValue's high byte (§C.1, §F.2);
 *  - one LOAD_ADDRESS, word addresses for flash, auto-increment, extended address re-armed at
 *    64 Ki-word boundaries and by bit 31; the page commit uses the address at command start
 *    (§C.3, §F.4);
 *  - every request reloads the timeout counter shared with the XPROG engine from the shared
 *    default; ENTER gives up when it runs out, so an earlier XMEGA TIMEOUT of 100 ms leaves no
 *    sync attempt with NewAE's delays (§1, §C.3 "Timing trap"); after a completion wait the
 *    counter is set to 100 ticks;
 *  - SCK from SCK_DURATION through the SAM SPI divider, which stops at 255: at 96 MHz nothing
 *    below 376 kHz (§C.1 "silently uses divider 255"); the slow clock (0x22/0x01) slows SCK,
 *    every delay and every tick by the same factor (§C.2). */
#include "cwsim_engines.h"
#include "sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cwsim_v2 {
    cwsim_board *b;
    uint8_t rambuf[256]; /* §C.7 avr_rambuf */
    uint8_t status[32];  /* §C.7 status_payload */
    unsigned status_len; /* cleared by each GET_STATUS */
    uint32_t cur_addr;   /* CurrentAddress */
    int must_load_ext;   /* MustLoadExtendedAddress */
    int reset_asserted, spi_enabled;
    uint8_t sck_duration;    /* parameter 0x98, default 6 */
    uint8_t reset_polarity;  /* parameter 0x9E, default 1 (active low) */
    uint8_t discharge_delay; /* parameter 0xA4 */
    uint8_t spi_scratch[12]; /* the 4 response bytes sit at [4..7]; READ_* ret index outside
                              * 1..4 reads its neighbours (§E "garbage") */
    uint64_t tmo_end_ns;     /* the shared counter as this engine sees it (slow clock scaled) */
    int miso_dead;           /* the last byte met no chip driving MISO: it read 0xFF */
    uint64_t commands, ignored;
};

/* §C.1 command codes (STK500v2 numbering) */
enum {
    CMD_SIGN_ON = 0x01,
    CMD_SET_PARAMETER = 0x02,
    CMD_GET_PARAMETER = 0x03,
    CMD_LOAD_ADDRESS = 0x06,
    CMD_RESET_PROTECTION = 0x0A,
    CMD_ENTER_PROGMODE_ISP = 0x10,
    CMD_LEAVE_PROGMODE_ISP = 0x11,
    CMD_CHIP_ERASE_ISP = 0x12,
    CMD_PROGRAM_FLASH_ISP = 0x13,
    CMD_READ_FLASH_ISP = 0x14,
    CMD_PROGRAM_EEPROM_ISP = 0x15,
    CMD_READ_EEPROM_ISP = 0x16,
    CMD_PROGRAM_FUSE_ISP = 0x17,
    CMD_READ_FUSE_ISP = 0x18,
    CMD_PROGRAM_LOCK_ISP = 0x19,
    CMD_READ_LOCK_ISP = 0x1A,
    CMD_READ_SIGNATURE_ISP = 0x1B,
    CMD_READ_OSCCAL_ISP = 0x1C,
    CMD_SPI_MULTI = 0x1D,
    REQ_GET_STATUS = 0x20, /* IN */
    REQ_SET_RAMBUF = 0x21, /* OUT, offset in wValue >> 8 */
    REQ_GET_RAMBUF = 0x22  /* IN, offset in wValue >> 8 */
};

/* §C.1 status codes */
enum {
    ST_OK = 0x00,
    ST_CMD_TOUT = 0x80,
    ST_RDY_BSY_TOUT = 0x81,
    ST_CMD_FAILED = 0xC0,
    ST_CMD_UNKNOWN = 0xC9
};

/* §C.3 programming mode bits */
#define MODE_PAGED       0x01u
#define MODE_WORD_TIMED  0x02u
#define MODE_WORD_VALUE  0x04u
#define MODE_WORD_RDYBSY 0x08u
#define MODE_PAGE_TIMED  0x10u
#define MODE_PAGE_VALUE  0x20u
#define MODE_PAGE_RDYBSY 0x40u
#define MODE_COMMIT      0x80u
#define HIGH_BYTE_BIT    0x08u /* flash load/read low <-> high byte (0x40/0x48, 0x20/0x28) */

#define RAMBUF_SIZE       256u
#define ISP_TIMEOUT_TICKS 100u /* §C.3: the counter after any completion wait (40 ms) */

/* §C.1 SIGN_ON reply: [0x01, 0x00, 13, "CWLITE_AVRISP"] */
static const char SIGN_ON_NAME[] = "CWLITE_AVRISP";

/* §C.1 SCK_DURATION -> frequency, the AVRISP mkII table. Entries 0..7 are the ones the
 * document gives; 8..163 are filled geometrically between 96 386 Hz and the last entry's 51 Hz
 * (UNCONFIRMED: the real table is not in the documents; nothing cwlua sends uses them). */
static double sck_requested(uint8_t d)
{
    static const double table[8] = {8e6, 4e6, 2e6, 1e6, 500e3, 250e3, 125e3, 96386.0};
    if (d < 8)
        return table[d];
    if (d < 164)
        return 96386.0 * pow(51.0 / 96386.0, (double)(d - 7) / 156.0);
    return 0.0; /* read past the table: undefined (§E); modelled as "too slow" (divider 255) */
}

/* MCK now and nominally: the slow clock switches the SAM to its crystal (§C.2). */
static double mck_now(const cwsim_v2 *e)
{
    return (double)usart_mck(e->b);
}

static double slow_factor(const cwsim_v2 *e)
{
    return (double)e->b->kd->mck_hz / mck_now(e);
}

double cwsim_v2_sck_hz(const cwsim_v2 *e)
{
    /* the divider is computed for the nominal MCK and clamped to 1..255 (§C.1: "If the SPI
     * divider cannot reach the requested rate, the firmware silently uses divider 255") */
    double req = sck_requested(e->sck_duration);
    double div = req > 0 ? ceil((double)e->b->kd->mck_hz / req) : 255.0;
    if (div < 1)
        div = 1;
    if (div > 255)
        div = 255;
    return mck_now(e) / div;
}

/* ---- time: delays and the shared timeout counter ---------------------------------------- */

static void wait_ns(cwsim_v2 *e, uint64_t ns)
{
    if (ns > 0)
        sim_pass_usb(e->b, ns);
}

static void wait_ms(cwsim_v2 *e, unsigned ms)
{
    wait_ns(e, (uint64_t)((double)ms * 1e6 * slow_factor(e)));
}

static void tmo_load(cwsim_v2 *e, uint32_t ticks)
{
    e->tmo_end_ns =
        cwsim_now_ns(e->b->sim) + (uint64_t)((double)ticks * CWSIM_ENGINE_TICK_NS * slow_factor(e));
}

static int tmo_left(const cwsim_v2 *e)
{
    return cwsim_now_ns(e->b->sim) < e->tmo_end_ns;
}

/* ---- the wire --------------------------------------------------------------------------- */

static uint8_t spi(cwsim_v2 *e, uint8_t mosi)
{
    double sck = cwsim_v2_sck_hz(e);
    uint64_t ns = (uint64_t)ceil(8e9 / sck);
    wait_ns(e, ns);
    e->miso_dead = 1;
    if (!e->spi_enabled)
        return 0xFF; /* SPI off: nothing is clocked out (UNCONFIRMED what the SAM returns) */
    e->b->cnt.wire_ns += ns;
    uint8_t miso = 0xFF;
    e->miso_dead = cwsim_board_isp_exchange(e->b, mosi, sck, &miso) != 0;
    return miso;
}

/* One 4-byte poll of the completion waits: the last response byte; *dead stays 1 only when no
 * byte met a chip driving MISO. */
static uint8_t poll4(cwsim_v2 *e, uint8_t a, uint8_t b, uint8_t c, uint8_t d, int *dead)
{
    const uint8_t out[4] = {a, b, c, d};
    uint8_t r = 0xFF;
    for (int i = 0; i < 4; i++) {
        r = spi(e, out[i]);
        *dead &= e->miso_dead;
    }
    return r;
}

/* A poll that met no chip driving MISO read 0xFF throughout, and so will every later one: while
 * the engine polls it holds SPI, /RESET and the routing still, and the host, waiting for its
 * request, changes neither power nor wiring. The wait can then only end when the counter runs
 * out, so the polls left are passed at once (their time, their wire time), exactly as polling
 * would: a host that set the shared timeout to its maximum (0xFFFFFFFF ticks, about 20 days)
 * would otherwise keep the simulator polling for hours of real time. The firmware itself does
 * poll that long. */
static void skip_dead_polls(cwsim_v2 *e, uint64_t poll_ns, uint64_t poll_wire_ns)
{
    uint64_t now = cwsim_now_ns(e->b->sim);
    if (poll_ns == 0 || now >= e->tmo_end_ns)
        return;
    uint64_t n = (e->tmo_end_ns - now + poll_ns - 1) / poll_ns;
    e->b->cnt.wire_ns += n * poll_wire_ns;
    wait_ns(e, n * poll_ns);
}

static void spi4(cwsim_v2 *e, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t resp[4])
{
    uint8_t r0 = spi(e, a), r1 = spi(e, b), r2 = spi(e, c), r3 = spi(e, d);
    if (resp != NULL) {
        resp[0] = r0;
        resp[1] = r1;
        resp[2] = r2;
        resp[3] = r3;
    }
}

/* §C.2: PARAM_RESET_POLARITY 1 drives /RESET low to assert; released = input (high-Z). */
static void set_reset(cwsim_v2 *e, int asserted)
{
    cwsim_board *b = e->b;
    e->reset_asserted = asserted;
    if (!asserted)
        b->sam_nrst = CWSIM_Z;
    else
        b->sam_nrst = e->reset_polarity ? CWSIM_LOW : CWSIM_HIGH;
    wiring_update(b);
}

static void load_extended(cwsim_v2 *e)
{
    spi4(e, 0x4D, 0x00, (uint8_t)(e->cur_addr >> 16), 0x00, NULL);
    e->must_load_ext = 0;
}

static uint8_t wait_rdybsy(cwsim_v2 *e)
{
    uint8_t r;
    do {
        uint64_t t0 = cwsim_now_ns(e->b->sim), w0 = e->b->cnt.wire_ns;
        int dead = 1;
        r = poll4(e, 0xF0, 0x00, 0x00, 0x00, &dead);
        if (dead && (r & 0x01) && tmo_left(e))
            skip_dead_polls(e, cwsim_now_ns(e->b->sim) - t0, e->b->cnt.wire_ns - w0);
    } while ((r & 0x01) && tmo_left(e));
    return tmo_left(e) ? ST_OK : ST_RDY_BSY_TOUT;
}

/* §C.3 completion wait: exactly one of the word or paged bits selects it (mode without the
 * paged and commit bits); afterwards the counter holds 100 ticks. */
static uint8_t wait_complete(cwsim_v2 *e, uint8_t mode, uint16_t poll_addr, uint8_t poll_value,
                             uint8_t delay_ms, uint8_t read_cmd)
{
    uint8_t r = ST_OK;
    switch (mode & (uint8_t) ~(MODE_PAGED | MODE_COMMIT)) {
    case MODE_WORD_TIMED:
    case MODE_PAGE_TIMED:
        wait_ms(e, delay_ms);
        break;
    case MODE_WORD_VALUE:
    case MODE_PAGE_VALUE: {
        uint8_t v;
        do {
            uint64_t t0 = cwsim_now_ns(e->b->sim), w0 = e->b->cnt.wire_ns;
            int dead = 1;
            v = poll4(e, read_cmd, (uint8_t)(poll_addr >> 8), (uint8_t)poll_addr, 0x00, &dead);
            if (dead && v == poll_value && tmo_left(e))
                skip_dead_polls(e, cwsim_now_ns(e->b->sim) - t0, e->b->cnt.wire_ns - w0);
        } while (v == poll_value && tmo_left(e));
        if (!tmo_left(e))
            r = ST_CMD_TOUT;
        break;
    }
    case MODE_WORD_RDYBSY:
    case MODE_PAGE_RDYBSY:
        r = wait_rdybsy(e);
        break;
    default:
        break;
    }
    tmo_load(e, ISP_TIMEOUT_TICKS);
    /* the board's shared counter shows the same (seen by tests and the XPROG engine's view) */
    uint32_t d = cwsim_board_engine_timeout_default(e->b);
    cwsim_board_engine_timeout_set_default(e->b, ISP_TIMEOUT_TICKS);
    cwsim_board_engine_timeout_start(e->b);
    cwsim_board_engine_timeout_set_default(e->b, d);
    return r;
}

/* ---- status ----------------------------------------------------------------------------- */

static void status2(cwsim_v2 *e, uint8_t cmd, uint8_t result)
{
    e->status[0] = cmd;
    e->status[1] = result;
    e->status_len = 2;
}

static void status_stale(cwsim_v2 *e, uint8_t result) /* byte 0 left as it was */
{
    e->status[1] = result;
    e->status_len = 2;
}

/* ---- commands --------------------------------------------------------------------------- */

static void cmd_enter(cwsim_v2 *e, const uint8_t *d)
{
    /* d: timeout (ignored), stab, exec, synch loops, byte delay, poll value, poll index, cmd */
    unsigned stab = d[1], exec = d[2], loops = d[3], bdelay = d[4];
    uint8_t pval = d[5], pidx = d[6];
    e->cur_addr = 0;
    wait_ms(e, exec);
    e->spi_enabled = 1;
    set_reset(e, 1);
    wait_ms(e, stab);
    int ok = 0;
    while (loops > 0 && tmo_left(e)) {
        loops--;
        uint8_t resp[4];
        for (int i = 0; i < 4; i++) {
            wait_ms(e, bdelay);
            resp[i] = spi(e, d[7 + i]);
        }
        if (pidx == 0 || (pidx <= 4 && resp[pidx - 1] == pval)) {
            ok = 1;
            break;
        }
        set_reset(e, 0);
        wait_ms(e, stab);
        set_reset(e, 1);
        wait_ms(e, stab);
    }
    status2(e, CMD_ENTER_PROGMODE_ISP, ok ? ST_OK : ST_CMD_FAILED);
}

static void cmd_leave(cwsim_v2 *e, const uint8_t *d)
{
    wait_ms(e, d[0]);
    set_reset(e, 0);
    e->spi_enabled = 0;
    wait_ms(e, d[1]);
    status2(e, CMD_LEAVE_PROGMODE_ISP, ST_OK);
}

static void cmd_chip_erase(cwsim_v2 *e, const uint8_t *d)
{
    uint8_t r = ST_OK;
    spi4(e, d[2], d[3], d[4], d[5], NULL);
    if (d[1] == 0)
        wait_ms(e, d[0]);
    else
        r = wait_rdybsy(e);
    status2(e, CMD_CHIP_ERASE_ISP, r);
}

static void advance_address(cwsim_v2 *e, int flash, unsigned i)
{
    if ((i & 1u) || !flash) {
        e->cur_addr++;
        if (flash && (e->cur_addr & 0xFFFFu) == 0)
            e->must_load_ext = 1; /* 64 Ki-word boundary (§C.3) */
    }
}

static void cmd_program(cwsim_v2 *e, uint8_t cmd, const uint8_t *d)
{
    unsigned count = (unsigned)d[0] | ((unsigned)d[1] << 8); /* little-endian (§C.1) */
    uint8_t mode = d[2], delay = d[3], cmd1 = d[4], cmd2 = d[5], cmd3 = d[6];
    int flash = cmd == CMD_PROGRAM_FLASH_ISP;
    uint8_t poll_value = flash ? d[7] : d[8];
    if (count > RAMBUF_SIZE) {
        status2(e, cmd, ST_CMD_FAILED);
        return;
    }
    uint16_t page_start = (uint16_t)(e->cur_addr & 0xFFFFu);
    uint16_t poll_addr = 0; /* 0 = none, so word 0 never serves (§C.3) */
    uint8_t r = ST_OK;
    for (unsigned i = 0; i < count; i++) {
        if (e->must_load_ext)
            load_extended(e);
        uint8_t v = e->rambuf[i];
        spi4(e, cmd1, (uint8_t)(e->cur_addr >> 8), (uint8_t)e->cur_addr, v, NULL);
        if (flash)
            cmd1 ^= HIGH_BYTE_BIT;
        if (poll_addr == 0 && v != poll_value) {
            if ((i & 1u) && flash)
                cmd3 |= HIGH_BYTE_BIT;
            poll_addr = (uint16_t)(e->cur_addr & 0xFFFFu);
        }
        if (!(mode & MODE_PAGED)) {
            r = wait_complete(e, mode, poll_addr, poll_value, delay, cmd3);
            if (r != ST_OK)
                break;
            poll_addr = 0;
        }
        advance_address(e, flash, i);
    }
    if (r == ST_OK && (mode & MODE_PAGED) && (mode & MODE_COMMIT)) {
        spi4(e, cmd2, (uint8_t)(page_start >> 8), (uint8_t)page_start, 0x00, NULL);
        if (poll_addr == 0) /* value polling needs an address: timed instead (§C.3) */
            mode = (uint8_t)((mode & ~MODE_PAGE_VALUE) | MODE_PAGE_TIMED);
        r = wait_complete(e, mode, poll_addr, poll_value, delay, cmd3);
    }
    status2(e, cmd, r);
}

static void cmd_read(cwsim_v2 *e, uint8_t cmd, const uint8_t *d)
{
    unsigned count = (unsigned)d[0] | ((unsigned)d[1] << 8);
    uint8_t rcmd = d[2];
    int flash = cmd == CMD_READ_FLASH_ISP;
    if (count > RAMBUF_SIZE) {
        status2(e, cmd, ST_CMD_FAILED);
        return;
    }
    for (unsigned i = 0; i < count; i++) {
        if (e->must_load_ext)
            load_extended(e);
        spi(e, rcmd);
        spi(e, (uint8_t)(e->cur_addr >> 8));
        spi(e, (uint8_t)e->cur_addr);
        e->rambuf[i] = spi(e, 0x00);
        if (flash)
            rcmd ^= HIGH_BYTE_BIT;
        advance_address(e, flash, i);
    }
    status2(e, cmd, ST_OK);
}

static void cmd_read_fls(cwsim_v2 *e, uint8_t cmd, const uint8_t *d)
{
    /* d: ret index (1-based), 4 command bytes; status [cmd, 0, response[ret-1], 0]. An index
     * outside 1..4 reads the neighbours of the 4-byte response (§E: garbage). */
    uint8_t *resp = e->spi_scratch + 4;
    spi4(e, d[1], d[2], d[3], d[4], resp);
    e->status[0] = cmd;
    e->status[1] = ST_OK;
    e->status[2] = e->spi_scratch[(3u + d[0]) % sizeof e->spi_scratch];
    e->status[3] = ST_OK;
    e->status_len = 4;
}

static int param_get(const cwsim_v2 *e, uint8_t id, uint8_t *v)
{
    switch (id) { /* §C.1 parameter table (V2ProtocolParams.c) */
    case 0x80:    /* build number low */
    case 0x81:    /* build number high */
    case 0x90:    /* hardware version */
    case 0xA1:    /* STATUS_TGT_CONN */
        *v = 0;
        return 0;
    case 0x91: /* software major */
        *v = 1;
        return 0;
    case 0x92: /* software minor */
        *v = 0x17;
        return 0;
    case 0x94: /* VTARGET: 3.3 V */
        *v = 33;
        return 0;
    case 0x98:
        *v = e->sck_duration;
        return 0;
    case 0x9E:
        *v = e->reset_polarity;
        return 0;
    case 0xA4:
        *v = e->discharge_delay;
        return 0;
    default:
        return -1;
    }
}

static int param_set(cwsim_v2 *e, uint8_t id, uint8_t v)
{
    switch (id) { /* the writable ones */
    case 0x98:
        e->sck_duration = v;
        return 0;
    case 0x9E:
        e->reset_polarity = v;
        return 0;
    case 0xA4:
        e->discharge_delay = v;
        return 0;
    default:
        return -1;
    }
}

/* One command with its payload (d points into the shared 128-byte buffer: bytes past len are
 * whatever earlier requests left there). */
static void run_command(cwsim_v2 *e, uint8_t cmd, const uint8_t *d, unsigned len)
{
    static const struct {
        uint8_t cmd;
        uint8_t len;
    } exact[] = {
        {CMD_ENTER_PROGMODE_ISP, 11}, {CMD_LEAVE_PROGMODE_ISP, 2}, {CMD_CHIP_ERASE_ISP, 6},
        {CMD_PROGRAM_FLASH_ISP, 9},   {CMD_PROGRAM_EEPROM_ISP, 9}, {CMD_READ_FLASH_ISP, 3},
        {CMD_READ_EEPROM_ISP, 3},     {CMD_PROGRAM_FUSE_ISP, 4},   {CMD_PROGRAM_LOCK_ISP, 4},
        {CMD_READ_FUSE_ISP, 5},       {CMD_READ_LOCK_ISP, 5},      {CMD_READ_SIGNATURE_ISP, 5},
        {CMD_READ_OSCCAL_ISP, 5},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        if (exact[i].cmd == cmd && exact[i].len != len) {
            e->ignored++; /* §C.3: silently ignored, no status */
            return;
        }
    }
    e->commands++;
    uint8_t v;
    switch (cmd) {
    case CMD_SIGN_ON: /* as OUT: nothing (§C.1) */
    case CMD_SPI_MULTI:
        break;
    case CMD_SET_PARAMETER:
        status_stale(e, param_set(e, d[0], d[1]) == 0 ? ST_OK : ST_CMD_FAILED);
        break;
    case CMD_GET_PARAMETER:
        if (param_get(e, d[0], &v) == 0) {
            e->status[1] = ST_OK;
            e->status[2] = v;
            e->status_len = 3;
        } else {
            status_stale(e, ST_CMD_FAILED);
        }
        break;
    case CMD_LOAD_ADDRESS:
        e->cur_addr = (uint32_t)d[0] | ((uint32_t)d[1] << 8) | ((uint32_t)d[2] << 16) |
                      ((uint32_t)d[3] << 24);
        if (e->cur_addr & 0x80000000u)
            e->must_load_ext = 1;
        status_stale(e, ST_OK);
        break;
    case CMD_RESET_PROTECTION:
        status_stale(e, ST_OK);
        break;
    case CMD_ENTER_PROGMODE_ISP:
        cmd_enter(e, d);
        break;
    case CMD_LEAVE_PROGMODE_ISP:
        cmd_leave(e, d);
        break;
    case CMD_CHIP_ERASE_ISP:
        cmd_chip_erase(e, d);
        break;
    case CMD_PROGRAM_FLASH_ISP:
    case CMD_PROGRAM_EEPROM_ISP:
        cmd_program(e, cmd, d);
        break;
    case CMD_READ_FLASH_ISP:
    case CMD_READ_EEPROM_ISP:
        cmd_read(e, cmd, d);
        break;
    case CMD_PROGRAM_FUSE_ISP:
    case CMD_PROGRAM_LOCK_ISP:
        spi4(e, d[0], d[1], d[2], d[3], NULL); /* no completion wait (§C.1) */
        status2(e, cmd, ST_OK);
        break;
    case CMD_READ_FUSE_ISP:
    case CMD_READ_LOCK_ISP:
    case CMD_READ_SIGNATURE_ISP:
    case CMD_READ_OSCCAL_ISP:
        cmd_read_fls(e, cmd, d);
        break;
    default:
        status_stale(e, ST_CMD_UNKNOWN);
        break;
    }
}

static int copy_in(uint8_t *data, uint16_t len, const uint8_t *src, size_t n)
{
    /* the reply is not cut to wLength: a longer one overflows at the USB level (§C.1) */
    memcpy(data, src, n < len ? n : len);
    return (int)n;
}

static int v2_hook(void *ctx, cwsim_board *b, uint8_t bm, uint8_t req, uint16_t val, uint16_t idx,
                   uint8_t *data, uint16_t len)
{
    cwsim_v2 *e = ctx;
    uint8_t cmd = (uint8_t)(val & 0xFFu);
    unsigned off = val >> 8;
    (void)req;
    (void)idx;
    /* §1, §C.1: every request on 0x21 reloads the shared counter from the shared default */
    cwsim_board_engine_timeout_start(b);
    tmo_load(e, cwsim_board_engine_timeout_default(b));
    if (bm & 0x80) {
        switch (cmd) {
        case CMD_SIGN_ON: {
            uint8_t r[3 + sizeof SIGN_ON_NAME - 1] = {0x01, 0x00,
                                                      (uint8_t)(sizeof SIGN_ON_NAME - 1)};
            memcpy(r + 3, SIGN_ON_NAME, sizeof SIGN_ON_NAME - 1);
            return copy_in(data, len, r, sizeof r);
        }
        case REQ_GET_STATUS: {
            unsigned n = e->status_len;
            e->status_len = 0; /* consume-once */
            return copy_in(data, len, e->status, n);
        }
        case REQ_GET_RAMBUF:
            if (off + len > RAMBUF_SIZE)
                return CWSIM_STALL;
            memcpy(data, e->rambuf + off, len);
            return len;
        default:
            /* §1: a command sent as IN sees a zero-length payload and stale buffer bytes */
            run_command(e, cmd, b->ctrlbuf, 0);
            return 0;
        }
    }
    if (cmd == REQ_SET_RAMBUF) {
        if (off + len <= RAMBUF_SIZE)
            memcpy(e->rambuf + off, data, len);
        return len;
    }
    run_command(e, cmd, data, len);
    return len;
}

/* ---- life cycle ------------------------------------------------------------------------- */

cwsim_v2 *cwsim_v2_of(cwsim_board *b)
{
    return b->hook[1] == v2_hook ? b->hook_ctx[1] : NULL;
}

cwsim_v2 *cwsim_v2_install(cwsim_board *b, char *err, size_t errlen)
{
    cwsim_v2 *have = cwsim_v2_of(b);
    if (have != NULL)
        return have; /* one engine per board */
    if (cwsim_board_kind(b) == CWSIM_NANO) {
        /* the Nano's firmware registers no V2 handler (target-protocols.md §1) */
        sim_err(err, errlen, "cwsim avr: the CW-Nano has no V2/ISP engine");
        return NULL;
    }
    cwsim_v2 *e = calloc(1, sizeof *e);
    if (e == NULL) {
        sim_err(err, errlen, "cwsim avr: out of memory");
        return NULL;
    }
    e->b = b;
    e->sck_duration = 6;   /* §C.1 default: 125 kHz */
    e->reset_polarity = 1; /* active low */
    if (cwsim_board_set_vendor_hook(b, 0x21, v2_hook, e) != 0) {
        free(e);
        sim_err(err, errlen, "cwsim avr: cannot hook bRequest 0x21");
        return NULL;
    }
    return e;
}

void cwsim_v2_remove(cwsim_v2 *e)
{
    if (e == NULL)
        return;
    if (e->b->hook[1] == v2_hook && e->b->hook_ctx[1] == e) {
        (void)cwsim_board_set_vendor_hook(e->b, 0x21, NULL, NULL);
        if (e->reset_asserted) { /* the engine goes away with the chip: release the SAM pin */
            e->b->sam_nrst = CWSIM_Z;
        }
    }
    free(e);
}

void cwsim_v2_view_get(const cwsim_v2 *e, cwsim_v2_view *out)
{
    memset(out, 0, sizeof *out);
    out->current_address = e->cur_addr;
    out->must_load_extended = e->must_load_ext;
    out->reset_asserted = e->reset_asserted;
    out->spi_enabled = e->spi_enabled;
    out->sck_duration = e->sck_duration;
    out->reset_polarity = e->reset_polarity;
    out->status_len = e->status_len;
    memcpy(out->status, e->status, sizeof out->status);
    out->commands = e->commands;
    out->ignored = e->ignored;
}
