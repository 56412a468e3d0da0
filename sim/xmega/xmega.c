/* SPDX-License-Identifier: MIT */
/* A simulated ATxmega behind its PDI: the link layer (instructions, keys, NVMEN), the NVM
 * controller (commands triggered by CMDEX, by a store into NVM space, by a load with READNVM),
 * page buffers, busy times, lock bits, and the memories, persisted in the state folder.
 *
 * Documents: target-protocols.md §B.2 (the PDI instruction bytes and NVM registers and
 * commands the engine uses), §B.4 (addresses), §B.5 (what the target does); the XMEGA A/D
 * manuals and datasheets [ext] for the instruction encoding, the buffer and lock-bit rules and
 * the timings, marked UNCONFIRMED where the documents do not give them. docs/simulator-xmega.md
 * lists every such choice. */
#include "xmega_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

/* PDI address space (§B.4 [ext]): NVM space below 0x1000000, the data space above it. */
#define A_FLASH   0x0800000u
#define A_EEPROM  0x08C0000u
#define A_PRODSIG 0x08E0200u
#define A_USERSIG 0x08E0400u
#define A_FUSES   0x08F0020u /* FUSEBYTE0..5, then reserved, then LOCKBITS at +7 */
#define A_DATA    0x1000000u
#define D_DEVID   0x0090u /* MCU.DEVID0..2 (§B.3 reads 0x01000090) */
#define D_REVID   0x0093u
#define D_NVM     0x01C0u /* NVM controller (§B.2: NVMBASE default 0x010001C0) */

/* NVM controller register offsets (§B.2). */
enum {
    NVM_ADDR0 = 0x0,
    NVM_DATA0 = 0x4,
    NVM_CMD = 0xA,
    NVM_CTRLA = 0xB,
    NVM_CTRLB = 0xC,
    NVM_INTCTRL = 0xD,
    NVM_STATUS = 0xF,
    NVM_LOCKBITS = 0x10
};
#define NVM_STATUS_BUSY   0x80u /* §B.2 W polls bit 7 */
#define NVM_STATUS_FBUSY  0x40u /* [ext] flash busy */
#define NVM_STATUS_EELOAD 0x02u
#define NVM_STATUS_FLOAD  0x01u
#define CTRLA_CMDEX       0x01u /* §B.2 */

/* NVM commands (§B.2, XMEGANVM.h). */
enum {
    C_NOOP = 0x00,
    C_READ_CAL = 0x02,
    C_READ_USERSIG = 0x03,
    C_READ_FUSE = 0x07,
    C_WRITE_LOCK = 0x08,
    C_ERASE_USERSIG = 0x18,
    C_WRITE_USERSIG = 0x1A,
    C_ERASE_APP = 0x20,
    C_ERASE_APP_PAGE = 0x22,
    C_LOAD_FBUF = 0x23,
    C_WRITE_APP_PAGE = 0x24,
    C_EW_APP_PAGE = 0x25,
    C_ERASE_FBUF = 0x26,
    C_ERASE_BOOT_PAGE = 0x2A,
    C_ERASE_FLASH_PAGE = 0x2B,
    C_WRITE_BOOT_PAGE = 0x2C,
    C_EW_BOOT_PAGE = 0x2D,
    C_WRITE_FLASH_PAGE = 0x2E,
    C_EW_FLASH_PAGE = 0x2F,
    C_ERASE_EEPROM = 0x30,
    C_ERASE_EE_PAGE = 0x32,
    C_LOAD_EBUF = 0x33,
    C_WRITE_EE_PAGE = 0x34,
    C_EW_EE_PAGE = 0x35,
    C_ERASE_EBUF = 0x36,
    C_CHIP_ERASE = 0x40,
    C_READ_NVM = 0x43,
    C_WRITE_FUSE = 0x4C,
    C_ERASE_BOOT = 0x68
};

/* PDI control/status registers (§B.5: STATUS 0, RESET 1, CTRL 2). */
#define PDI_STATUS_NVMEN 0x02u /* §B.2 B polls bit 1 */
#define PDI_RESET_KEY    0x59u /* §B.2 ENTER: C1 59 */
/* §B.2: NVM key 0x1289AB45CDD888FF, sent LSB first after E0. */
static const uint8_t NVM_KEY[8] = {0xFF, 0x88, 0xD8, 0xCD, 0x45, 0xAB, 0x89, 0x12};

/* Busy times [ext: XMEGA A4U/D4 datasheets, "programming time"; UNCONFIRMED]. */
#define T_PAGE_ERASE   (4 * MS)
#define T_PAGE_WRITE   (4 * MS)
#define T_SECTION      (6 * MS) /* application or boot section erase */
#define T_EE_PAGE      (4 * MS) /* EEPROM page erase or write */
#define T_EE_ERASE     (8 * MS) /* the whole EEPROM (UNCONFIRMED) */
#define T_FUSE         (4 * MS) /* fuse or lock-bit write (UNCONFIRMED) */
#define T_BUFFER_ERASE 1000ull  /* page buffer erase: a few CPU clocks */

static void xerr(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void xerr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint32_t flash_size(const cwsim_xmega *c)
{
    return c->p->app_size + c->p->boot_size;
}

/* contract.md §5 slow-erase[=F]: erase times x F (default 10), still succeeding. */
static double slow(const cwsim_xmega *c)
{
    if (!cwsim_fault_on(c->sim, "slow-erase"))
        return 1.0;
    double f = cwsim_fault_number(c->sim, "slow-erase");
    return f > 0 ? f : 10.0;
}

static void busy_for(cwsim_xmega *c, uint64_t erase_ns, uint64_t write_ns)
{
    uint64_t ns = (uint64_t)((double)erase_ns * slow(c)) + write_ns;
    c->busy_until = c->now + ns;
    c->cnt.flash_ns += ns;
    cwsim_count_flash_ns(c->sim, ns);
    c->dirty = 1;
}

static void app_aes_done(cwsim_xmega *c);

/* Virtual time moves on to now_ns; an encryption due to end by then ends at its own time. */
static void advance(cwsim_xmega *c, uint64_t now_ns)
{
    if (c->aes_end <= now_ns) {
        if (c->aes_end > c->now)
            c->now = c->aes_end;
        app_aes_done(c);
    }
    if (now_ns > c->now)
        c->now = now_ns;
}

int cwsim_xmega_busy(const cwsim_xmega *c, uint64_t now_ns)
{
    return now_ns < c->busy_until;
}

int cwsim_xmega_nvm_enabled(const cwsim_xmega *c, uint64_t now_ns)
{
    return c->powered && c->link && c->nvm_key && now_ns >= c->chip_erase_until;
}

/* Lock bits LB[1:0] (LOCKBITS bits 1:0, [ext]): 11 none, 10 write lock (flash, EEPROM and fuses
 * cannot be written over PDI), 00 read and write lock (nor read: they read 0). 01 is reserved;
 * the model treats it as 00 (UNCONFIRMED). The boot-loader lock bits BLBx only guard the CPU's
 * own SPM/LPM, not the PDI [ext]. */
static int write_locked(const cwsim_xmega *c)
{
    return (c->fuse[7] & 3u) != 3u;
}

static int read_locked(const cwsim_xmega *c)
{
    return (c->fuse[7] & 3u) == 0u || (c->fuse[7] & 3u) == 1u;
}

/* ---- NVM space ---------------------------------------------------------------------------- */

static uint8_t nvm_read(cwsim_xmega *c, uint32_t a)
{
    if (c->nvm_cmd != C_READ_NVM)
        return 0x00; /* NVM space reads need READNVM (§B.2 READ_MEM sends it first) [ext] */
    if (a >= A_FLASH && a < A_FLASH + flash_size(c))
        return read_locked(c) ? 0x00 : c->flash[a - A_FLASH];
    if (a >= A_EEPROM && a < A_EEPROM + c->p->eeprom_size)
        return read_locked(c) ? 0x00 : c->eeprom[a - A_EEPROM];
    if (a >= A_FUSES && a < A_FUSES + 8)
        return c->fuse[a - A_FUSES]; /* readable even when locked (UNCONFIRMED) */
    if (a >= A_USERSIG && a < A_USERSIG + c->p->usersig_size)
        return c->usersig[a - A_USERSIG];
    if (a >= A_PRODSIG && a < A_PRODSIG + XMEGA_PRODSIG)
        return c->prodsig[a - A_PRODSIG];
    return 0xFF; /* unmapped (UNCONFIRMED) */
}

static void ignored(cwsim_xmega *c)
{
    c->cnt.ignored++;
}

/* Flash page operations. section: 0 application only, 1 boot only, 2 either (the generic
 * 0x2B/0x2E/0x2F commands). A section command on the other section's address does nothing
 * (UNCONFIRMED, §B.4 leaves it open). */
static void flash_page_op(cwsim_xmega *c, uint32_t a, int section, int erase, int write)
{
    if (a < A_FLASH || a >= A_FLASH + flash_size(c) || write_locked(c)) {
        ignored(c);
        return;
    }
    uint32_t off = a - A_FLASH;
    int in_boot = off >= c->p->app_size;
    if ((section == 0 && in_boot) || (section == 1 && !in_boot)) {
        ignored(c);
        return;
    }
    uint32_t page = off - off % c->p->flash_page;
    if (erase)
        memset(c->flash + page, 0xFF, c->p->flash_page);
    if (write) {
        /* a page write ANDs the buffer into flash; the buffer is 0xFF again after it (§B.5) */
        for (uint32_t i = 0; i < c->p->flash_page; i++)
            c->flash[page + i] &= c->fbuf[i];
        memset(c->fbuf, 0xFF, sizeof c->fbuf);
        c->fbuf_loaded = 0;
        c->cnt.page_writes++;
    } else {
        c->cnt.page_erases++;
    }
    busy_for(c, erase ? T_PAGE_ERASE : 0, write ? T_PAGE_WRITE : 0);
}

/* EEPROM page operations touch only the bytes whose buffer byte is loaded [ext]. */
static void eeprom_page_op(cwsim_xmega *c, uint32_t a, int erase, int write)
{
    if (a < A_EEPROM || a >= A_EEPROM + c->p->eeprom_size || write_locked(c)) {
        ignored(c);
        return;
    }
    uint32_t pg = c->p->eeprom_page;
    uint32_t page = (a - A_EEPROM) - (a - A_EEPROM) % pg;
    for (uint32_t i = 0; i < pg; i++) {
        if (!(c->ebuf_loaded & (1u << i)))
            continue;
        if (erase)
            c->eeprom[page + i] = 0xFF;
        if (write)
            c->eeprom[page + i] &= c->ebuf[i];
    }
    if (write) {
        memset(c->ebuf, 0xFF, sizeof c->ebuf);
        c->ebuf_loaded = 0;
    }
    c->cnt.eeprom_writes++;
    busy_for(c, erase ? T_EE_PAGE : 0, write ? T_EE_PAGE : 0);
}

static void chip_erase(cwsim_xmega *c)
{
    /* §B.5: flash, EEPROM (unless EESAVE, FUSEBYTE5 bit 3 programmed = 0 [ext]) and lock bits;
     * NVMEN drops while it runs. Fuses and the user signature row stay [ext]. */
    memset(c->flash, 0xFF, flash_size(c));
    if (c->fuse[5] & 0x08u)
        memset(c->eeprom, 0xFF, c->p->eeprom_size);
    c->fuse[7] = 0xFF;
    memset(c->fbuf, 0xFF, sizeof c->fbuf);
    c->fbuf_loaded = 0;
    c->ebuf_loaded = 0;
    c->cnt.chip_erases++;
    busy_for(c, c->p->chip_erase_ns, 0);
    c->chip_erase_until = c->busy_until;
}

/* A store into NVM space with the command in CMD (§B.5 "write-triggered"). */
static void nvm_store(cwsim_xmega *c, uint32_t a, uint8_t v)
{
    uint8_t cmd = c->nvm_cmd;
    if (cmd == C_LOAD_FBUF) {
        if ((a >= A_FLASH && a < A_FLASH + flash_size(c)) ||
            (a >= A_USERSIG && a < A_USERSIG + c->p->usersig_size)) {
            c->fbuf[(a - A_FLASH) % c->p->flash_page] = v; /* low address bits (§B.5) */
            c->fbuf_loaded = 1;
        } else {
            ignored(c);
        }
        return;
    }
    if (cmd == C_LOAD_EBUF) {
        if (a >= A_EEPROM && a < A_EEPROM + c->p->eeprom_size) {
            unsigned i = (a - A_EEPROM) % c->p->eeprom_page;
            c->ebuf[i] = v;
            c->ebuf_loaded |= 1u << i;
        } else {
            ignored(c);
        }
        return;
    }
    if (cmd == C_NOOP || cmd == C_READ_NVM)
        return; /* a plain store into NVM space does nothing */
    if (cwsim_xmega_busy(c, c->now)) {
        ignored(c); /* the controller takes no new command while busy [ext] */
        return;
    }
    switch (cmd) {
    case C_WRITE_APP_PAGE:
        flash_page_op(c, a, 0, 0, 1);
        break;
    case C_EW_APP_PAGE:
        flash_page_op(c, a, 0, 1, 1);
        break;
    case C_ERASE_APP_PAGE:
        flash_page_op(c, a, 0, 1, 0);
        break;
    case C_WRITE_BOOT_PAGE:
        flash_page_op(c, a, 1, 0, 1);
        break;
    case C_EW_BOOT_PAGE:
        flash_page_op(c, a, 1, 1, 1);
        break;
    case C_ERASE_BOOT_PAGE:
        flash_page_op(c, a, 1, 1, 0);
        break;
    case C_WRITE_FLASH_PAGE:
        flash_page_op(c, a, 2, 0, 1);
        break;
    case C_EW_FLASH_PAGE:
        flash_page_op(c, a, 2, 1, 1);
        break;
    case C_ERASE_FLASH_PAGE:
        flash_page_op(c, a, 2, 1, 0);
        break;
    case C_ERASE_APP:
    case C_ERASE_BOOT:
        if (write_locked(c)) {
            ignored(c);
            break;
        }
        if (cmd == C_ERASE_APP)
            memset(c->flash, 0xFF, c->p->app_size);
        else
            memset(c->flash + c->p->app_size, 0xFF, c->p->boot_size);
        c->cnt.page_erases++;
        busy_for(c, T_SECTION, 0);
        break;
    case C_ERASE_EE_PAGE:
        eeprom_page_op(c, a, 1, 0);
        break;
    case C_WRITE_EE_PAGE:
        eeprom_page_op(c, a, 0, 1);
        break;
    case C_EW_EE_PAGE:
        eeprom_page_op(c, a, 1, 1);
        break;
    case C_ERASE_USERSIG:
    case C_WRITE_USERSIG:
        if (write_locked(c)) {
            ignored(c);
            break;
        }
        if (cmd == C_ERASE_USERSIG) {
            memset(c->usersig, 0xFF, sizeof c->usersig);
        } else {
            for (uint32_t i = 0; i < c->p->usersig_size; i++)
                c->usersig[i] &= c->fbuf[i % c->p->flash_page];
            memset(c->fbuf, 0xFF, sizeof c->fbuf);
            c->fbuf_loaded = 0;
        }
        busy_for(c, cmd == C_ERASE_USERSIG ? T_PAGE_ERASE : 0,
                 cmd == C_WRITE_USERSIG ? T_PAGE_WRITE : 0);
        break;
    case C_WRITE_FUSE:
        /* FUSEBYTE n at 0x08F0020 + n takes the stored value; bits the part lacks read 1
         * [ext]. Refused under a write lock; a fuse byte the part lacks ignores it. */
        if (a < A_FUSES || a >= A_FUSES + CWSIM_XMEGA_NFUSES || write_locked(c) ||
            c->p->fuse_mask[a - A_FUSES] == 0) {
            ignored(c);
            break;
        }
        c->fuse[a - A_FUSES] = (uint8_t)(v | (uint8_t)~c->p->fuse_mask[a - A_FUSES]);
        c->cnt.fuse_writes++;
        busy_for(c, 0, T_FUSE);
        break;
    case C_WRITE_LOCK:
        /* lock bits can only be programmed (1 -> 0); only a chip erase sets them again [ext] */
        if (a != A_FUSES + 7) {
            ignored(c);
            break;
        }
        c->fuse[7] &= v;
        c->cnt.fuse_writes++;
        busy_for(c, 0, T_FUSE);
        break;
    default:
        ignored(c); /* CRC and read commands: not triggered by a store */
        break;
    }
}

/* CTRLA.CMDEX with the command in CMD (§B.5 "CMDEX-triggered"). */
static void nvm_cmdex(cwsim_xmega *c)
{
    switch (c->nvm_cmd) {
    case C_CHIP_ERASE:
        if (cwsim_xmega_busy(c, c->now)) {
            ignored(c);
            return;
        }
        chip_erase(c);
        return;
    case C_ERASE_EEPROM:
        /* every EEPROM byte whose page-buffer byte is loaded, in all pages [ext] */
        if (cwsim_xmega_busy(c, c->now) || write_locked(c)) {
            ignored(c);
            return;
        }
        for (uint32_t page = 0; page < c->p->eeprom_size; page += c->p->eeprom_page)
            for (uint32_t i = 0; i < c->p->eeprom_page; i++)
                if (c->ebuf_loaded & (1u << i))
                    c->eeprom[page + i] = 0xFF;
        c->ebuf_loaded = 0;
        c->cnt.eeprom_writes++;
        busy_for(c, T_EE_ERASE, 0);
        return;
    case C_ERASE_FBUF:
        memset(c->fbuf, 0xFF, sizeof c->fbuf);
        c->fbuf_loaded = 0;
        c->busy_until = c->now + T_BUFFER_ERASE;
        return;
    case C_ERASE_EBUF:
        memset(c->ebuf, 0xFF, sizeof c->ebuf);
        c->ebuf_loaded = 0;
        c->busy_until = c->now + T_BUFFER_ERASE;
        return;
    default:
        return; /* CRC commands and the rest: not modelled (the engine never uses them) */
    }
}

/* ---- the PDI bus ---------------------------------------------------------------------------- */

static uint8_t bus_read(cwsim_xmega *c, uint32_t a)
{
    if (!cwsim_xmega_nvm_enabled(c, c->now))
        return 0x00; /* without NVMEN the PDI reaches no bus (UNCONFIRMED value) */
    if (a < A_DATA)
        return nvm_read(c, a);
    uint32_t d = a - A_DATA;
    if (d >= D_DEVID && d < D_DEVID + 3)
        return c->p->signature[d - D_DEVID];
    if (d == D_REVID)
        return 0x00; /* revision A (UNCONFIRMED) */
    if (d >= D_NVM && d < D_NVM + 0x20) {
        switch (d - D_NVM) {
        case NVM_ADDR0:
        case NVM_ADDR0 + 1:
        case NVM_ADDR0 + 2:
            return c->nvm_addr[d - D_NVM - NVM_ADDR0];
        case NVM_DATA0:
        case NVM_DATA0 + 1:
        case NVM_DATA0 + 2:
            return c->nvm_data[d - D_NVM - NVM_DATA0];
        case NVM_CMD:
            return c->nvm_cmd;
        case NVM_CTRLB:
            return c->nvm_ctrlb;
        case NVM_INTCTRL:
            return c->nvm_intctrl;
        case NVM_STATUS: {
            uint8_t s = 0;
            if (cwsim_xmega_busy(c, c->now))
                s |= NVM_STATUS_BUSY | NVM_STATUS_FBUSY;
            if (c->ebuf_loaded)
                s |= NVM_STATUS_EELOAD;
            if (c->fbuf_loaded)
                s |= NVM_STATUS_FLOAD;
            return s;
        }
        case NVM_LOCKBITS:
            return c->fuse[7];
        default:
            return 0x00;
        }
    }
    return 0x00; /* other I/O and SRAM: not modelled */
}

static void bus_write(cwsim_xmega *c, uint32_t a, uint8_t v)
{
    if (!cwsim_xmega_nvm_enabled(c, c->now)) {
        ignored(c);
        return;
    }
    if (a < A_DATA) {
        nvm_store(c, a, v);
        return;
    }
    uint32_t d = a - A_DATA;
    if (d < D_NVM || d >= D_NVM + 0x20)
        return; /* other I/O and SRAM: not modelled */
    switch (d - D_NVM) {
    case NVM_ADDR0:
    case NVM_ADDR0 + 1:
    case NVM_ADDR0 + 2:
        c->nvm_addr[d - D_NVM - NVM_ADDR0] = v;
        break;
    case NVM_DATA0:
    case NVM_DATA0 + 1:
    case NVM_DATA0 + 2:
        c->nvm_data[d - D_NVM - NVM_DATA0] = v;
        break;
    case NVM_CMD:
        c->nvm_cmd = v & 0x7Fu;
        break;
    case NVM_CTRLA:
        if (v & CTRLA_CMDEX)
            nvm_cmdex(c);
        break;
    case NVM_CTRLB:
        c->nvm_ctrlb = v;
        break;
    case NVM_INTCTRL:
        c->nvm_intctrl = v;
        break;
    default:
        break; /* STATUS and LOCKBITS are read-only */
    }
}

/* ---- PDI instructions ([ext] XMEGA manual: opcode in bits 7:5) ----------------------------- */

enum {
    OP_LDS = 0,
    OP_LD = 1,
    OP_STS = 2,
    OP_ST = 3,
    OP_LDCS = 4,
    OP_REPEAT = 5,
    OP_STCS = 6,
    OP_KEY = 7
};
#define OP_NONE 0xFFu

static uint32_t le(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static void reply(cwsim_xmega *c, uint8_t v)
{
    if (c->reply_len < XMEGA_REPLY_MAX)
        c->reply[c->reply_len++] = v;
}

static uint8_t pdi_cs_read(const cwsim_xmega *c, unsigned reg)
{
    switch (reg) {
    case 0: /* STATUS */
        return cwsim_xmega_nvm_enabled(c, c->now) ? PDI_STATUS_NVMEN : 0;
    case 1: /* RESET: 0x01 while the key holds the core in reset (UNCONFIRMED value) */
        return c->reset_key ? 0x01 : 0x00;
    case 2:
        return c->ctrl;
    default:
        return 0x00;
    }
}

/* The bytes of one LD, from *ptr (mode 0), *ptr++ (1) or the pointer itself (2). */
static void do_ld(cwsim_xmega *c, unsigned mode, unsigned size)
{
    unsigned times = c->repeat + 1;
    c->repeat = 0;
    for (unsigned t = 0; t < times; t++) {
        if (mode == 2) {
            for (unsigned i = 0; i < size; i++)
                reply(c, (uint8_t)(c->ptr >> (8 * i)));
            continue;
        }
        for (unsigned i = 0; i < size; i++) {
            reply(c, bus_read(c, c->ptr));
            if (mode == 1)
                c->ptr++;
        }
    }
}

/* An instruction whose opcode and operands are complete. */
static void execute(cwsim_xmega *c)
{
    uint8_t op = c->op;
    unsigned kind = op >> 5;
    c->cnt.instructions++;
    switch (kind) {
    case OP_LDS: {
        uint32_t a = le(c->operand, ((op >> 2) & 3u) + 1);
        for (unsigned i = 0; i <= (op & 3u); i++)
            reply(c, bus_read(c, a + i));
        break;
    }
    case OP_LD:
        do_ld(c, (op >> 2) & 3u, (op & 3u) + 1);
        break;
    case OP_STS: {
        unsigned asz = ((op >> 2) & 3u) + 1;
        uint32_t a = le(c->operand, asz);
        for (unsigned i = 0; i <= (op & 3u); i++)
            bus_write(c, a + i, c->operand[asz + i]);
        break;
    }
    case OP_LDCS:
        reply(c, pdi_cs_read(c, op & 0x0Fu));
        break;
    case OP_STCS:
        if ((op & 0x0Fu) == 1) {
            c->reset_key = c->operand[0] == PDI_RESET_KEY;
        } else if ((op & 0x0Fu) == 2) {
            c->ctrl = c->operand[0];
        }
        break;
    case OP_REPEAT:
        c->repeat = le(c->operand, (op & 3u) + 1);
        break;
    case OP_KEY:
        if (memcmp(c->operand, NVM_KEY, sizeof NVM_KEY) == 0) {
            c->nvm_key = 1;
            c->cnt.nvm_keys++;
        }
        break;
    default:
        break;
    }
    c->op = OP_NONE;
}

/* How many operand bytes follow an opcode (ST's data bytes are counted separately). */
static unsigned operand_len(uint8_t op)
{
    switch (op >> 5) {
    case OP_LDS:
        return ((op >> 2) & 3u) + 1;
    case OP_STS:
        return ((op >> 2) & 3u) + 1 + (op & 3u) + 1;
    case OP_STCS:
        return 1;
    case OP_REPEAT:
        return (op & 3u) + 1;
    case OP_KEY:
        return 8;
    default:
        return 0; /* LD, LDCS; ST takes its data per repetition */
    }
}

static void st_byte(cwsim_xmega *c, uint8_t v)
{
    unsigned mode = (c->op >> 2) & 3u, size = (c->op & 3u) + 1;
    c->operand[c->nop++] = v;
    if (c->nop < size)
        return;
    c->nop = 0;
    if (mode == 2) {
        c->ptr = le(c->operand, size); /* ST ptr: the pointer itself */
    } else {
        for (unsigned i = 0; i < size; i++) {
            bus_write(c, c->ptr, c->operand[i]);
            if (mode == 1)
                c->ptr++;
        }
    }
    if (--c->st_left == 0) {
        c->cnt.instructions++;
        c->op = OP_NONE;
    }
}

int cwsim_xmega_pdi_send(cwsim_xmega *c, uint8_t v, uint64_t now_ns)
{
    advance(c, now_ns);
    if (!c->powered || !c->link)
        return -1;
    c->cnt.pdi_in++;
    if (c->op == OP_NONE) {
        c->reply_len = c->reply_pos = 0; /* a new instruction: an unread reply is gone */
        c->op = v;
        c->nop = 0;
        c->need = operand_len(v);
        if ((v >> 5) == OP_ST) {
            c->st_left = c->repeat + 1;
            c->repeat = 0;
            return 0;
        }
        if (c->need == 0)
            execute(c);
        return 0;
    }
    if ((c->op >> 5) == OP_ST) {
        st_byte(c, v);
        return 0;
    }
    c->operand[c->nop++] = v;
    if (c->nop == c->need)
        execute(c);
    return 0;
}

int cwsim_xmega_pdi_recv(cwsim_xmega *c, uint8_t *v, uint64_t now_ns)
{
    advance(c, now_ns);
    if (!c->powered || !c->link || c->reply_pos >= c->reply_len)
        return -1;
    *v = c->reply[c->reply_pos++];
    c->cnt.pdi_out++;
    return 0;
}

static void app_update(cwsim_xmega *c);

static void pdi_reset_state(cwsim_xmega *c)
{
    c->link = 0;
    c->nvm_key = 0;
    c->reset_key = 0; /* PDI off: the core runs again (UNCONFIRMED: a real PDI times out) */
    c->op = OP_NONE;
    c->nop = c->need = c->st_left = c->repeat = 0;
    c->reply_len = c->reply_pos = 0;
    c->ctrl = 0;
}

void cwsim_xmega_pdi_link(cwsim_xmega *c, int on, uint64_t now_ns)
{
    advance(c, now_ns);
    if (on) {
        if (!c->powered || c->link)
            return;
        pdi_reset_state(c);
        c->link = 1;
        app_update(c);
        return;
    }
    if (c->link) {
        pdi_reset_state(c);
        if (c->dirty)
            (void)cwsim_xmega_save(c, NULL, 0); /* the library never prints: retried at free */
    }
    app_update(c);
}

void cwsim_xmega_set_power(cwsim_xmega *c, int on, uint64_t now_ns)
{
    advance(c, now_ns);
    if (on == c->powered)
        return;
    c->powered = on;
    pdi_reset_state(c);
    c->busy_until = c->chip_erase_until = 0; /* an interrupted operation is not modelled */
    c->nvm_cmd = 0;
    app_update(c);
}

void cwsim_xmega_set_reset(cwsim_xmega *c, int low, uint64_t now_ns)
{
    advance(c, now_ns);
    /* [ext] FUSEBYTE4 bit 4 RSTDISBL programmed (0): the pin no longer resets the chip */
    c->reset_low = low && (c->fuse[4] & 0x10u);
    app_update(c);
}

int cwsim_xmega_in_reset(const cwsim_xmega *c)
{
    return c->reset_key || c->reset_low;
}

int cwsim_xmega_pdi_enabled(const cwsim_xmega *c)
{
    return c->link;
}

/* ---- the application (contract.md §5 --sim-app) ---------------------------------------------- */

static int flash_blank(const cwsim_xmega *c)
{
    uint32_t n = flash_size(c);
    for (uint32_t i = 0; i < n; i++)
        if (c->flash[i] != 0xFF)
            return 0;
    return 1;
}

/* The application runs while the core does: powered, /RESET high, no RESET key, PDI off (the
 * simulator does not execute code; an erased flash runs nothing). It starts afresh, without a
 * start-up delay (model choice), each time that becomes true. */
static void trigger(cwsim_xmega *c, cwsim_level level)
{
    if (c->board != NULL)
        cwsim_target_drive(c->board, CWSIM_PIN_TIO4, level);
}

static void app_update(cwsim_xmega *c)
{
    int run = c->app != 0 && c->powered && !c->reset_low && !c->reset_key && !c->link;
    if (!run) {
        if (c->app_on)
            trigger(c, CWSIM_Z); /* the GPIO is an input again in reset */
        c->app_on = 0;
        c->rxd_full = 0;
        c->txq_len = 0; /* a frame already on the board's wire cannot be called back */
        c->aes_end = UINT64_MAX;
        c->nheld = 0;
        return;
    }
    if (c->app_on || flash_blank(c))
        return;
    c->app_on = 1;
    c->cnt.app_starts++;
    cwsim_ssapp_init(&c->ss, c->app);
    trigger(c, CWSIM_LOW); /* trigger_setup(): PA0 an output, low */
}

/* contract.md §5: 8N1 at the application's nominal baud scaled by the received clock (a wrong clock
 * garbles it, as on hardware); baud-skew=PCT skews it further. */
static cwsim_uart_format app_format(const cwsim_xmega *c)
{
    cwsim_uart_format f;
    f.baud = cwsim_ssapp_baud(c->app) * c->clock_hz / CWSIM_SSAPP_CLOCK_REF *
             (1.0 + cwsim_fault_number(c->sim, "baud-skew") / 100.0);
    f.data_bits = 8;
    f.parity = CWSIM_PARITY_NONE;
    f.stop_halves = 2;
    return f;
}

/* Hand queued reply bytes to the board's wire while it takes them (one shifting, one held). */
static void tx_kick(cwsim_xmega *c)
{
    if (c->board == NULL) {
        c->txq_len = 0; /* standalone: nobody listens */
        return;
    }
    cwsim_uart_format f = app_format(c);
    while (c->txq_len > 0 && cwsim_target_uart_send(c->board, c->txq[c->txq_head], &f) == 0) {
        c->txq_head = (c->txq_head + 1) % XMEGA_TXQ;
        c->txq_len--;
        c->cnt.app_tx++;
    }
}

static void queue_reply(cwsim_xmega *c, const uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n && c->txq_len < XMEGA_TXQ; i++) {
        c->txq[(c->txq_head + c->txq_len) % XMEGA_TXQ] = out[i];
        c->txq_len++;
    }
    tx_kick(c);
}

/* The application reads its receive register when it is not still handing reply bytes to the
 * transmitter (NewAE's putch waits for the data register) nor encrypting. A byte that completes
 * a plaintext runs the encryption first (simpleserial-aes get_pt: trigger_high(), aes_indep_enc,
 * trigger_low(), then the reply): TIO4 is high and the reply waits for the schedule's
 * CWSIM_AES_CYCLES at the core clock (docs/simulator.md "The power model"). */
static void app_poll(cwsim_xmega *c)
{
    while (c->app_on && c->rxd_full && c->txq_len == 0 && c->aes_end == UINT64_MAX) {
        uint8_t out[CWSIM_SSAPP_OUT_MAX];
        c->rxd_full = 0;
        size_t n = cwsim_ssapp_rx(&c->ss, c->rxd, out);
        uint64_t aes_ns = 0;
        if (c->ss.aes_pending) {
            cwsim_uart_format f = app_format(c);
            uint64_t reply = (uint64_t)n * cwsim_uart_frame_ns(&f);
            aes_ns = cwsim_ssapp_aes_start(&c->ss, c->now, c->clock_hz, reply);
        }
        if (aes_ns > 0) {
            c->aes_end = c->now + aes_ns;
            memcpy(c->held, out, n);
            c->nheld = n;
            trigger(c, CWSIM_HIGH);
            if (c->board != NULL)
                cwsim_target_wake_at(c->board, c->aes_end);
            return;
        }
        queue_reply(c, out, n);
    }
}

static void app_aes_done(cwsim_xmega *c)
{
    c->aes_end = UINT64_MAX;
    if (c->board != NULL)
        cwsim_target_wake_at(c->board, UINT64_MAX);
    trigger(c, CWSIM_LOW);
    queue_reply(c, c->held, c->nheld);
    c->nheld = 0;
    app_poll(c); /* a byte that came meanwhile waits in the receive register */
}

void xmega_wake(cwsim_xmega *c, uint64_t now_ns)
{
    advance(c, now_ns);
}

/* The core runs (the application, or whatever the flash holds) when powered, out of reset,
 * not held by the PDI, and clocked. */
void cwsim_xmega_power_trace(const cwsim_xmega *c, double t0_ns, double adc_hz, float *out,
                             size_t n)
{
    int running = c->powered && !c->reset_low && !c->reset_key && !c->link;
    cwsim_ssapp_power(&c->ss, running, c->clock_hz, t0_ns, adc_hz, out, n);
}

void xmega_uart_rx(cwsim_xmega *c, const cwsim_uart_frame *f, uint64_t now_ns)
{
    advance(c, now_ns);
    if (!c->app_on || !(c->clock_hz > 0))
        return; /* contract.md §5: without a clock the application is silent */
    c->cnt.app_rx++;
    uint8_t byte;
    cwsim_uart_format fmt = app_format(c);
    if (cwsim_uart_frame_decode(f, &fmt, &byte) != 0)
        c->cnt.app_rx_errors++; /* a framing error still delivers the byte (FERR set) */
    if (c->rxd_full) {          /* one receive register modelled: overrun loses the byte */
        c->cnt.app_overruns++;
        return;
    }
    c->rxd = byte;
    c->rxd_full = 1;
    app_poll(c);
}

void xmega_uart_tx_ready(cwsim_xmega *c, uint64_t now_ns)
{
    advance(c, now_ns);
    if (!c->app_on)
        return;
    tx_kick(c);
    app_poll(c);
}

void cwsim_xmega_set_clock(cwsim_xmega *c, double hz, uint64_t now_ns)
{
    advance(c, now_ns);
    c->clock_hz = hz > 0 ? hz : 0;
}

int cwsim_xmega_set_app(cwsim_xmega *c, const char *app, char *err, size_t errlen)
{
    int v = cwsim_ssapp_version_of(app);
    if (v == 0 && (app == NULL || strcmp(app, "silent") != 0)) {
        xerr(err, errlen,
             "cwsim xmega: unknown application model '%s'; this chip models silent, ss1-aes, "
             "ss2-aes",
             app != NULL ? app : "(null)");
        return -1;
    }
    if (v != c->app) {
        if (c->app_on)
            trigger(c, CWSIM_Z);
        c->app = v;
        c->app_on = 0;
        c->rxd_full = 0;
        c->txq_len = 0;
        c->aes_end = UINT64_MAX;
        c->nheld = 0;
    }
    app_update(c);
    return 0;
}

int cwsim_xmega_app_running(const cwsim_xmega *c)
{
    return c->app_on;
}

const char *cwsim_xmega_note(const cwsim_xmega *c)
{
    int would_run = c->app != 0 && c->powered && !c->reset_low && !c->reset_key && !c->link;
    return would_run && !c->app_on && flash_blank(c) ? "flash-blank" : NULL;
}

/* ---- memories, persistence ------------------------------------------------------------------ */

static size_t mem_size(const cwsim_xmega *c, cwsim_xmega_mem mem)
{
    switch (mem) {
    case CWSIM_XMEGA_FLASH:
        return flash_size(c);
    case CWSIM_XMEGA_EEPROM:
        return c->p->eeprom_size;
    case CWSIM_XMEGA_FUSES:
        return sizeof c->fuse;
    case CWSIM_XMEGA_USERSIG:
        return c->p->usersig_size;
    case CWSIM_XMEGA_PRODSIG:
        return XMEGA_PRODSIG;
    default:
        return 0;
    }
}

static uint8_t *mem_ptr(cwsim_xmega *c, cwsim_xmega_mem mem, size_t *size)
{
    *size = mem_size(c, mem);
    switch (mem) {
    case CWSIM_XMEGA_FLASH:
        return c->flash;
    case CWSIM_XMEGA_EEPROM:
        return c->eeprom;
    case CWSIM_XMEGA_FUSES:
        return c->fuse;
    case CWSIM_XMEGA_USERSIG:
        return c->usersig;
    case CWSIM_XMEGA_PRODSIG:
        return c->prodsig;
    default:
        return NULL;
    }
}

static const uint8_t *mem_cptr(const cwsim_xmega *c, cwsim_xmega_mem mem, size_t *size)
{
    *size = mem_size(c, mem);
    switch (mem) {
    case CWSIM_XMEGA_FLASH:
        return c->flash;
    case CWSIM_XMEGA_EEPROM:
        return c->eeprom;
    case CWSIM_XMEGA_FUSES:
        return c->fuse;
    case CWSIM_XMEGA_USERSIG:
        return c->usersig;
    case CWSIM_XMEGA_PRODSIG:
        return c->prodsig;
    default:
        return NULL;
    }
}

size_t cwsim_xmega_peek(const cwsim_xmega *c, cwsim_xmega_mem mem, uint32_t addr, uint8_t *buf,
                        size_t len)
{
    size_t size;
    const uint8_t *m = mem_cptr(c, mem, &size);
    if (m == NULL || addr >= size)
        return 0;
    size_t n = len < size - addr ? len : size - addr;
    memcpy(buf, m + addr, n);
    return n;
}

int cwsim_xmega_poke(cwsim_xmega *c, cwsim_xmega_mem mem, uint32_t addr, const uint8_t *buf,
                     size_t len)
{
    size_t size;
    uint8_t *m = mem_ptr(c, mem, &size);
    if (m == NULL || mem == CWSIM_XMEGA_PRODSIG || addr > size || len > size - addr)
        return -1;
    memcpy(m + addr, buf, len);
    c->dirty = 1;
    return 0;
}

static const struct {
    const char *what;
    cwsim_xmega_mem mem;
} BLOBS[] = {{"flash", CWSIM_XMEGA_FLASH},
             {"eeprom", CWSIM_XMEGA_EEPROM},
             {"fuses", CWSIM_XMEGA_FUSES},
             {"usersig", CWSIM_XMEGA_USERSIG}};

static void blob_name(const cwsim_xmega *c, const char *what, char *buf, size_t len)
{
    snprintf(buf, len, "%s.%s", c->p->name, what);
}

static int state_load(cwsim_xmega *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof BLOBS / sizeof BLOBS[0]; i++) {
        char name[64];
        void *data = NULL;
        size_t len = 0, size;
        uint8_t *m = mem_ptr(c, BLOBS[i].mem, &size);
        blob_name(c, BLOBS[i].what, name, sizeof name);
        int r = cwsim_state_load(c->sim, name, &data, &len, err, errlen);
        if (r < 0)
            return -1;
        if (r == 1)
            continue;
        if (len != size) {
            free(data);
            xerr(err, errlen,
                 "cwsim xmega: state blob %s has %zu bytes, expected %zu; remove it to start "
                 "with an erased chip",
                 name, len, size);
            return -1;
        }
        memcpy(m, data, len);
        free(data);
    }
    return 0;
}

int cwsim_xmega_save(cwsim_xmega *c, char *err, size_t errlen)
{
    if (c == NULL || !c->dirty || cwsim_state_dir(c->sim) == NULL)
        return 0;
    for (size_t i = 0; i < sizeof BLOBS / sizeof BLOBS[0]; i++) {
        char name[64];
        size_t size;
        const uint8_t *m = mem_cptr(c, BLOBS[i].mem, &size);
        blob_name(c, BLOBS[i].what, name, sizeof name);
        if (cwsim_state_save(c->sim, name, m, size, err, errlen) != 0)
            return -1;
    }
    c->dirty = 0;
    return 0;
}

int cwsim_xmega_new(cwsim *sim, const char *part, cwsim_xmega **out, char *err, size_t errlen)
{
    const cwsim_xmega_part_info *p = cwsim_xmega_part_find(part);
    *out = NULL;
    if (p == NULL) {
        xerr(err, errlen, "cwsim xmega: unknown part '%s'", part != NULL ? part : "(null)");
        return -1;
    }
    cwsim_xmega *c = calloc(1, sizeof *c);
    if (c == NULL) {
        xerr(err, errlen, "cwsim xmega: out of memory");
        return -1;
    }
    c->sim = sim;
    c->p = p;
    c->aes_end = UINT64_MAX;
    c->flash = malloc(p->app_size + p->boot_size);
    c->eeprom = malloc(p->eeprom_size);
    if (c->flash == NULL || c->eeprom == NULL) {
        cwsim_xmega_free(c);
        xerr(err, errlen, "cwsim xmega: out of memory");
        return -1;
    }
    memset(c->flash, 0xFF, p->app_size + p->boot_size);
    memset(c->eeprom, 0xFF, p->eeprom_size);
    memcpy(c->fuse, p->fuse_default, CWSIM_XMEGA_NFUSES);
    c->fuse[6] = 0xFF;
    c->fuse[7] = 0xFF;
    memset(c->usersig, 0xFF, sizeof c->usersig);
    memset(c->fbuf, 0xFF, sizeof c->fbuf);
    memset(c->ebuf, 0xFF, sizeof c->ebuf);
    for (size_t i = 0; i < XMEGA_PRODSIG; i++) /* calibration and lot bytes: a fixed pattern */
        c->prodsig[i] = (uint8_t)(0x40 + i * 3);
    c->op = OP_NONE;
    if (cwsim_state_dir(sim) != NULL && state_load(c, err, errlen) != 0) {
        cwsim_xmega_free(c);
        return -1;
    }
    /* contract.md §5: persistent protection faults set the lock bits LB now [ext encoding] */
    if (cwsim_fault_on(sim, "read-protected") && (c->fuse[7] & 3u) != 0) {
        c->fuse[7] &= 0xFCu;
        c->dirty = 1;
    }
    if (cwsim_fault_on(sim, "write-protected") && (c->fuse[7] & 3u) == 3u) {
        c->fuse[7] &= 0xFEu;
        c->dirty = 1;
    }
    if (c->dirty && cwsim_xmega_save(c, err, errlen) != 0) {
        cwsim_xmega_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void cwsim_xmega_free(cwsim_xmega *c)
{
    if (c == NULL)
        return;
    if (c->flash != NULL && c->eeprom != NULL && c->dirty)
        (void)cwsim_xmega_save(c, NULL, 0);
    free(c->flash);
    free(c->eeprom);
    free(c);
}

const cwsim_xmega_part_info *cwsim_xmega_part(const cwsim_xmega *c)
{
    return c->p;
}

void cwsim_xmega_counters_get(const cwsim_xmega *c, cwsim_xmega_counters *out)
{
    *out = c->cnt;
}
