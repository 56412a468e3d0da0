/* SPDX-License-Identifier: MIT */
/* The board firmware's XPROG engine (XMEGA PDI programming) on vendor request 0x20, as
 * target-protocols.md §B.1/§B.2/§B.6 describes the shipped firmware: the sub-command in wValue's
 * low byte, the 256-byte RAM buffer with its offset in wValue's high byte (GET 0x21 / SET 0x22,
 * swapped relative to the AVR engine, §F.2), the 3-byte status [0x20, status, timed_out], the
 * shared timeout counter reloaded by sub-commands 0x01-0x07 and stopped after them (§1), the
 * CRC sub-command that does nothing, and every bad-input answer of §E.
 *
 * It is board firmware, so it lives inside libcwsim (sim_internal.h): it passes virtual time
 * on the PDI wire itself, 12-bit frames at 500 kHz (§B.2, §B.6), and reaches the chip only
 * through cwsim_board_pdi_send/recv/link (power, pdi-open, pin contention are the wiring's). */
#include "cwsim_engines.h"
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

/* §B.1 sub-commands */
enum {
    X_ENTER = 0x01,
    X_LEAVE = 0x02,
    X_ERASE = 0x03,
    X_WRITE = 0x04,
    X_READ = 0x05,
    X_CRC = 0x06,
    X_SET_PARAM = 0x07,
    X_GET_STATUS = 0x20,
    X_GET_RAMBUF = 0x21,
    X_SET_RAMBUF = 0x22
};
/* §B.1 status values (COLLISION 2 is never produced, §B.2) */
enum { ST_OK = 0, ST_FAILED = 1, ST_TIMEOUT = 3 };
/* §B.1 memory types, erase types, page-mode bits, parameters */
enum { M_APPL = 1, M_BOOT = 2, M_EEPROM = 3, M_FUSE = 4, M_LOCK = 5, M_USERSIG = 6 };
#define PAGE_ERASE_BUF 0x01u
#define PAGE_WRITE     0x02u
enum {
    P_NVMBASE = 0x01,
    P_EEPPAGESIZE = 0x02,
    P_NVMCMD_REG = 0x03,
    P_NVMCSR_REG = 0x04,
    P_TIMEOUT = 0x08
};

/* §B.2 NVM registers (offsets from NVMBASE) and commands, PDI instructions */
#define NVM_CMD    0x0Au
#define NVM_CTRLA  0x0Bu
#define NVM_STATUS 0x0Fu
#define CMDEX      0x01u
enum {
    PDI_LDS_4_1 = 0x0C, /* LDS 4-byte address, 1 byte */
    PDI_STS_4_1 = 0x4C, /* STS 4-byte address, 1 byte */
    PDI_ST_PTR_4 = 0x6B,
    PDI_ST_INC_1 = 0x64,
    PDI_LD_1 = 0x20,
    PDI_LD_INC_1 = 0x24,
    PDI_REPEAT_1 = 0xA0,
    PDI_LDCS_STATUS = 0x80,
    PDI_LDCS_RESET = 0x81,
    PDI_STCS_RESET = 0xC1,
    PDI_STCS_CTRL = 0xC2,
    PDI_KEY = 0xE0
};
static const uint8_t NVM_KEY[8] = {0xFF, 0x88, 0xD8, 0xCD, 0x45, 0xAB, 0x89, 0x12}; /* §B.2 */

/* §B.2 physical layer: 500 kHz PDI_CLK, 8E2 = 12-bit frames; §B.6 guard time 32 bits after
 * C2 02 when the line turns around; switching to transmit waits one clock. */
#define PDI_BIT_NS    2000ull
#define PDI_FRAME_NS  (12 * PDI_BIT_NS)
#define PDI_GUARD_NS  (32 * PDI_BIT_NS)
#define ENTER_WAIT_NS (50000ull + 10000ull) /* §B.2: 50 µs, then PDID high >= 10 µs */
#define IDLE_NS       (24 * PDI_BIT_NS)     /* §B.2: 2 x IDLE = 24 clocks */
#define GARBAGE       0xFFu /* what ReceiveByte returns at a timeout (indeterminate, §B.2) */

typedef struct xprog {
    cwsim_board *b;
    uint8_t rambuf[256];      /* §B.6 xprog_rambuf, persistent between requests */
    uint8_t status;           /* stale until a command sets it (§B.6) */
    uint32_t nvm_base;        /* §B.1 NVMBASE default 0x010001C0 */
    uint16_t ee_page;         /* §B.1 EEPPAGESIZE default 32 */
    uint8_t tpi_cmd, tpi_csr; /* TPI registers (unused by PDI; §B.1 defaults 0x33, 0x32) */
    int link;                 /* the PDI USART runs */
    int tx;                   /* the line is in transmit direction */
    uint64_t commands;
} xprog;

/* ---- the PDI wire ------------------------------------------------------------------------- */

static void wire(xprog *x, uint64_t ns)
{
    x->b->cnt.wire_ns += ns;
    sim_run_until(x->b->sim, x->b->sim->now + ns);
}

static int expired(const xprog *x)
{
    return cwsim_board_engine_timeout_remaining(x->b) == 0;
}

/* Byte sends have no timeout (§B.2). */
static void send(xprog *x, uint8_t v)
{
    if (!x->tx) {
        wire(x, PDI_BIT_NS);
        x->tx = 1;
    }
    wire(x, PDI_FRAME_NS);
    (void)cwsim_board_pdi_send(x->b, v);
}

static void send_addr(xprog *x, uint32_t a)
{
    for (int i = 0; i < 4; i++)
        send(x, (uint8_t)(a >> (8 * i)));
}

/* ReceiveByte: waits for a frame until the timeout counter reaches 0, then returns an
 * indeterminate value (§B.2). */
static uint8_t recv(xprog *x)
{
    uint64_t need = PDI_FRAME_NS;
    if (x->tx) {
        x->tx = 0;
        need += PDI_GUARD_NS;
    }
    if (expired(x))
        return GARBAGE;
    uint64_t now = x->b->sim->now, end = x->b->engine_timeout_end_ns;
    uint8_t v;
    if (cwsim_board_pdi_recv(x->b, &v) != 0 || now + need > end) {
        wire(x, end > now ? end - now : 0); /* nothing came: wait the counter out */
        return GARBAGE;
    }
    wire(x, need);
    return v;
}

/* "STS CMD c" / "STS CTRLA CMDEX" (§B.2) */
static void sts(xprog *x, uint32_t a, uint8_t v)
{
    send(x, PDI_STS_4_1);
    send_addr(x, a);
    send(x, v);
}

static void nvm_cmd(xprog *x, uint8_t c)
{
    sts(x, x->nvm_base | NVM_CMD, c);
}

static void cmdex(xprog *x)
{
    sts(x, x->nvm_base | NVM_CTRLA, CMDEX);
}

/* W: wait until the NVM controller is idle (§B.2): pointer to STATUS, LD until bit 7 = 0. The
 * counter is checked before the value, so garbage after a timeout never passes. */
static int wait_nvm(xprog *x)
{
    send(x, PDI_ST_PTR_4);
    send_addr(x, x->nvm_base | NVM_STATUS);
    for (;;) {
        send(x, PDI_LD_1);
        uint8_t s = recv(x);
        if (expired(x))
            return 0;
        if (!(s & 0x80u))
            return 1;
    }
}

/* B: wait until the NVM bus is enabled (§B.2): LDCS STATUS until bit 1 (NVMEN). */
static int wait_bus(xprog *x)
{
    for (;;) {
        send(x, PDI_LDCS_STATUS);
        uint8_t s = recv(x);
        if (expired(x))
            return 0;
        if (s & 0x02u)
            return 1;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- sub-commands (§B.2) ------------------------------------------------------------------ */

static void cmd_enter(xprog *x)
{
    wire(x, ENTER_WAIT_NS);
    (void)cwsim_board_pdi_link(x->b, 1); /* the chip hears it only when the lines reach it */
    x->link = 1;
    x->tx = 1;
    wire(x, IDLE_NS);
    send(x, PDI_STCS_RESET);
    send(x, 0x59); /* RESET key: hold the core in reset */
    send(x, PDI_STCS_CTRL);
    send(x, 0x02); /* guard time 32 bits */
    send(x, PDI_KEY);
    for (size_t i = 0; i < sizeof NVM_KEY; i++)
        send(x, NVM_KEY[i]);
    x->status = wait_bus(x) ? ST_OK : ST_FAILED;
}

static void cmd_leave(xprog *x)
{
    (void)wait_bus(x); /* result ignored */
    for (;;) {
        send(x, PDI_STCS_RESET);
        send(x, 0x00);
        send(x, PDI_LDCS_RESET);
        uint8_t r = recv(x);
        if (r == 0x00 || expired(x))
            break;
    }
    (void)cwsim_board_pdi_link(x->b, 0); /* disable the USART, tri-state PDIC/PDID */
    x->link = 0;
    x->status = ST_OK;
}

static void cmd_erase(xprog *x, const uint8_t *p, uint16_t len)
{
    /* §B.2 erase type -> NVM command; other types run NOOP */
    static const uint8_t map[9] = {0x00, 0x40, 0x20, 0x68, 0x30, 0x22, 0x2A, 0x32, 0x18};
    if (len < 5) {
        x->status = ST_FAILED;
        return;
    }
    x->status = ST_OK;
    uint8_t c = p[0] < sizeof map ? map[p[0]] : 0x00;
    uint32_t a = le32(p + 1);
    if (!wait_nvm(x)) {
        x->status = ST_TIMEOUT;
        return;
    }
    if (c == 0x40) {
        nvm_cmd(x, 0x40);
        cmdex(x);
    } else if (c == 0x30) {
        nvm_cmd(x, 0x36); /* erase the EEPROM page buffer */
        cmdex(x);
        if (!wait_nvm(x)) {
            x->status = ST_TIMEOUT;
            return;
        }
        nvm_cmd(x, 0x33); /* load it with a full page, so that every byte is erased */
        send(x, PDI_ST_PTR_4);
        send_addr(x, a);
        send(x, PDI_REPEAT_1);
        send(x, (uint8_t)(x->ee_page - 1));
        send(x, PDI_ST_INC_1);
        for (unsigned i = 0; i < x->ee_page; i++)
            send(x, 0x00);
        nvm_cmd(x, 0x30);
        cmdex(x);
    } else {
        nvm_cmd(x, c);
        sts(x, a, 0x00); /* the dummy write to addr triggers it */
    }
    if (!wait_bus(x))
        x->status = ST_TIMEOUT;
}

static void cmd_write(xprog *x, const uint8_t *p, uint16_t len)
{
    x->status = len < 8 ? ST_FAILED : ST_OK; /* §B.2: and execution continues */
    uint8_t type = p[0], mode = p[1];
    uint32_t a = le32(p + 2);
    unsigned n = le16(p + 6);
    if (n > 256)
        n = 256;
    uint8_t load = 0x23, erase_buf = 0x26, write = 0x2E, byte_cmd = 0;
    switch (type) {
    case M_APPL:
        write = 0x24;
        break;
    case M_BOOT:
        write = 0x2C;
        break;
    case M_EEPROM:
        load = 0x33;
        erase_buf = 0x36;
        write = 0x35;
        break;
    case M_USERSIG:
        write = 0x1A;
        break;
    case M_FUSE:
        byte_cmd = 0x4C;
        break;
    case M_LOCK:
        byte_cmd = 0x08;
        break;
    default:
        break; /* any other type, 7 included: generic flash page write 0x2E (§B.1, §E) */
    }
    if (byte_cmd != 0) {
        if (!wait_nvm(x)) {
            x->status = ST_TIMEOUT;
            return;
        }
        nvm_cmd(x, byte_cmd);
        sts(x, a, x->rambuf[0]);
        return;
    }
    if (mode & PAGE_ERASE_BUF) {
        if (!wait_nvm(x)) {
            x->status = ST_TIMEOUT;
            return;
        }
        nvm_cmd(x, erase_buf);
        cmdex(x);
    }
    if (n > 0) {
        if (!wait_nvm(x)) {
            x->status = ST_TIMEOUT;
            return;
        }
        nvm_cmd(x, load);
        send(x, PDI_ST_PTR_4);
        send_addr(x, a);
        send(x, PDI_REPEAT_1);
        send(x, (uint8_t)(n - 1));
        send(x, PDI_ST_INC_1);
        for (unsigned i = 0; i < n; i++)
            send(x, x->rambuf[i]);
    }
    if (mode & PAGE_WRITE) {
        if (!wait_nvm(x)) {
            x->status = ST_TIMEOUT;
            return;
        }
        nvm_cmd(x, write);
        sts(x, a, 0x00);
    }
}

static void cmd_read(xprog *x, const uint8_t *p)
{
    /* no length check on the payload (§B.2): a short one reads stale buffer bytes */
    uint32_t a = le32(p + 1);
    unsigned n = le16(p + 5);
    if (n > 256)
        n = 256;
    if (!wait_nvm(x)) {
        x->status = ST_TIMEOUT;
        return;
    }
    nvm_cmd(x, 0x43); /* READNVM */
    if (n > 1) {
        send(x, PDI_ST_PTR_4);
        send_addr(x, a);
        send(x, PDI_REPEAT_1);
        send(x, (uint8_t)(n - 1));
        send(x, PDI_LD_INC_1);
        for (unsigned i = 0; i < n; i++)
            x->rambuf[i] = recv(x);
    } else {
        send(x, PDI_LDS_4_1);
        send_addr(x, a);
        x->rambuf[0] = recv(x);
    }
    x->status = expired(x) ? ST_TIMEOUT : ST_OK;
}

static void cmd_set_param(xprog *x, const uint8_t *p, uint16_t len)
{
    x->status = ST_FAILED;
    if (len < 2)
        return;
    switch (p[0]) {
    case P_NVMBASE:
        if (len < 5)
            return;
        x->nvm_base = le32(p + 1);
        break;
    case P_EEPPAGESIZE:
        if (len < 3)
            return;
        x->ee_page = le16(p + 1);
        break;
    case P_NVMCMD_REG:
        x->tpi_cmd = p[1];
        break;
    case P_NVMCSR_REG:
        x->tpi_csr = p[1];
        break;
    case P_TIMEOUT:
        if (len < 5)
            return;
        /* the new default for every later XMEGA and AVR command (§B.2, §1) */
        cwsim_board_engine_timeout_set_default(x->b, le32(p + 1));
        break;
    default:
        return; /* 0x05 "unknown" and anything else */
    }
    x->status = ST_OK;
}

/* Sub-commands 0x01-0x07 reload the timeout counter first and stop it afterwards (§B.2). */
static void command(xprog *x, uint8_t sub, const uint8_t *p, uint16_t len)
{
    cwsim_board_engine_timeout_start(x->b);
    x->commands++;
    switch (sub) {
    case X_ENTER:
        cmd_enter(x);
        break;
    case X_LEAVE:
        cmd_leave(x);
        break;
    case X_ERASE:
        cmd_erase(x, p, len);
        break;
    case X_WRITE:
        cmd_write(x, p, len);
        break;
    case X_READ:
        cmd_read(x, p);
        break;
    case X_SET_PARAM:
        cmd_set_param(x, p, len);
        break;
    default:
        break; /* X_CRC: nothing, status unchanged (§B.1) */
    }
    cwsim_board_engine_timeout_stop(x->b);
}

static int hook(void *ctx, cwsim_board *b, uint8_t bm, uint8_t req, uint16_t val, uint16_t idx,
                uint8_t *data, uint16_t len)
{
    xprog *x = ctx;
    uint8_t sub = (uint8_t)(val & 0xFFu);
    unsigned off = val >> 8;
    (void)req;
    (void)idx;
    if (bm & 0x80u) { /* IN: only the "read" sub-codes answer */
        if (sub == X_GET_STATUS) {
            /* byte 0 echoes the current wValue's low byte (§B.1); the board does not trim a
             * reply to wLength: a shorter wLength overflows (§1) */
            uint8_t r[3] = {sub, x->status, (uint8_t)(expired(x) ? 1 : 0)};
            memcpy(data, r, len < 3 ? len : 3);
            return 3;
        }
        if (sub == X_GET_RAMBUF) {
            if (off + len > sizeof x->rambuf)
                return CWSIM_STALL; /* §B.1 */
            memcpy(data, x->rambuf + off, len);
            return len;
        }
        if (sub >= X_ENTER && sub <= X_SET_PARAM) {
            /* §1: a command sent as IN runs (with no payload: the shared buffer holds what
             * earlier requests left) and the request then stalls */
            command(x, sub, b->ctrlbuf, 0);
        }
        return CWSIM_STALL;
    }
    /* OUT: data is the board's shared 128-byte buffer */
    if (sub == X_SET_RAMBUF) {
        if (off + len <= sizeof x->rambuf) /* else silently not copied (§B.1) */
            memcpy(x->rambuf + off, data, len);
        return len;
    }
    if (sub >= X_ENTER && sub <= X_SET_PARAM)
        command(x, sub, data, len);
    return len; /* anything else: accepted, nothing happens, status stale (§E) */
}

int cwsim_xprog_install(cwsim_board *b, char *err, size_t errlen)
{
    if (b->kd->kind == CWSIM_NANO) {
        sim_err(err, errlen, "cwsim: the CW-Nano firmware has no XPROG engine");
        return -1;
    }
    xprog *x = calloc(1, sizeof *x);
    if (x == NULL) {
        sim_err(err, errlen, "cwsim: out of memory");
        return -1;
    }
    x->b = b;
    x->nvm_base = 0x010001C0u; /* §B.1 defaults */
    x->ee_page = 32;
    x->tpi_cmd = 0x33;
    x->tpi_csr = 0x32;
    free(b->xprog);
    b->xprog = x;
    return cwsim_board_set_vendor_hook(b, 0x20, hook, x);
}

void sim_xprog_free(cwsim_board *b)
{
    free(b->xprog);
    b->xprog = NULL;
}

void cwsim_xprog_view_get(const cwsim_board *b, cwsim_xprog_view *out)
{
    const xprog *x = b->xprog;
    memset(out, 0, sizeof *out);
    if (x == NULL)
        return;
    out->present = 1;
    out->status = x->status;
    out->link = x->link;
    out->nvm_base = x->nvm_base;
    out->ee_page = x->ee_page;
    memcpy(out->rambuf, x->rambuf, sizeof out->rambuf);
    out->commands = x->commands;
}
