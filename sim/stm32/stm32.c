/* SPDX-License-Identifier: MIT */
/* A simulated STM32: the ROM USART bootloader (ST AN3155) with autobaud, every command of
 * target-protocols.md §A.4 and the bad-input behaviour of §A.8, flash with the part's
 * page/sector layout (§A.6) and the typical timings of §A.7b, option bytes with read-out and
 * write protection, the application model of contract.md §5, and persistence of flash and
 * option bytes in the state folder. docs/simulator-stm32.md describes the model, every
 * UNCONFIRMED choice and the known deviations from real chips.
 *
 * The chip is driven by its inputs (power, nRST, BOOT0, clock, frames on RX) at virtual times
 * that never go back; between inputs it runs its own timers (start-up, flash operations, the
 * transmit line, the application, the autosave). Behind a board the board's wake-up drives
 * those timers (stm32_attach.c); standalone, the caller asks cwsim_stm32_next_event_ns. */
#include "stm32_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- protocol constants (target-protocols.md §A.3, §A.4) ------------------------------------- */

#define ACK  0x79 /* §A.3 */
#define NACK 0x1F /* §A.3 */
#define SYNC 0x7F /* §A.3: autobaud frame */

#define CMD_GET         0x00 /* §A.4 Get */
#define CMD_GET_VERSION 0x01 /* §A.4 Get Version & read protection status */
#define CMD_GET_ID      0x02 /* §A.4 Get ID */
#define CMD_READ        0x11 /* §A.4 Read Memory */
#define CMD_GO          0x21 /* §A.4 Go */
#define CMD_WRITE       0x31 /* §A.4 Write Memory */
#define CMD_ERASE       0x43 /* §A.4 Erase (v2.x, 1-byte pages) */
#define CMD_EXT_ERASE   0x44 /* §A.4 Extended Erase (v3.0+, 2-byte pages) */
#define CMD_WP          0x63 /* §A.4 Write Protect */
#define CMD_WU          0x73 /* §A.4 Write Unprotect */
#define CMD_RP          0x82 /* §A.4 Readout Protect */
#define CMD_RU          0x92 /* §A.4 Readout Unprotect */

#define EXT_MASS  0xFFFFu /* §A.4: 44 -> FF FF 00 mass erase */
#define EXT_BANK1 0xFFFEu /* §A.4: FF FE 01 bank 1 */
#define EXT_BANK2 0xFFFDu /* §A.4: FF FD 02 bank 2 */
#define EXT_RSVD  0xFFF0u /* §A.4: 0xFFF0-0xFFFC reserved */

#define BAUD_MIN 1200.0   /* §A.3: autobaud tested range 1200-115200 */
#define BAUD_MAX 115200.0 /* §A.3 */
#define BAUD_TOL 0.025    /* §A.3: baud mismatch must be < 2.5 % */

#define RAM_BASE 0x20000000u /* §A.6: below "RAM start" the bootloader keeps for itself */

/* ---- timings ------------------------------------------------------------------------------- */

#define NS_PER_MS 1000000ull
/* §A.7b [ext], typical figures: F0/F1/F3 52.5 us per half-word, 20 ms per page, mass 20 ms;
 * F2/F4 16 us per 32-bit word, 16/64/128 KiB sectors 0.4/1.1/2 s, mass about 16 s per MiB. */
#define T_HALFWORD_NS   52500ull
#define T_PAGE_NS       (20 * NS_PER_MS)
#define T_MASS_NS       (20 * NS_PER_MS)
#define T_WORD_F2F4_NS  16000ull
#define T_SECTOR16_NS   (400 * NS_PER_MS)
#define T_SECTOR64_NS   (1100 * NS_PER_MS)
#define T_SECTOR128_NS  (2000 * NS_PER_MS)
#define T_MASS_F2F4_MIB (16000 * NS_PER_MS)
/* Option-byte change (Write Protect/Unprotect, Readout Protect, Write Memory to option bytes):
 * one option page erase plus a few half-words; no figure in the documents (UNCONFIRMED). */
#define T_OPTION_NS (20 * NS_PER_MS)
/* From reset release (or power-up) to the first instruction of the bootloader or the
 * application: not in the documents (UNCONFIRMED); the CW waits 25 ms after reset (§A.2). */
#define T_STARTUP_NS (1 * NS_PER_MS)
/* The application's banner comes after its clock and UART set-up (model choice). */
#define T_BANNER_NS (2 * NS_PER_MS)
/* Autosave after this much quiet time following a flash change (model choice). */
#define T_SAVE_IDLE_NS (200 * NS_PER_MS)

/* contract.md §5: the application's UART is 38400 (SimpleSerial v1) at a 7.3846 MHz board clock
 * (§A.7: the CW firmware's HSE_VALUE 7384600), scaled by the clock it receives. */
#define APP_BAUD      38400.0
#define APP_CLOCK_REF 7384600.0

/* already-synced: the bootloader was left synced by an earlier session at the CW's
 * programming rate, 115200 8E1 (§A.1). */
#define SYNCED_BAUD 115200.0

static const uint64_t NEVER = UINT64_MAX;

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t ns_from_double(double ns)
{
    if (!(ns > 0))
        return 0;
    if (ns >= 1.8e19)
        return UINT64_MAX / 2;
    return (uint64_t)llround(ns);
}

static double slow_erase_factor(const cwsim_stm32 *c)
{
    /* contract.md §5 slow-erase[=F]: erase time x F (default 10), still succeeds */
    if (!cwsim_fault_on(c->sim, "slow-erase"))
        return 1.0;
    double f = cwsim_fault_number(c->sim, "slow-erase");
    return f > 0 ? f : 10.0;
}

static int classic(const cwsim_stm32 *c)
{
    return c->p->page_size != 0; /* F0/F1/F3: pages; F2/F4: sectors */
}

static void mark_dirty(cwsim_stm32 *c)
{
    c->dirty = 1;
    c->save_at = c->now + T_SAVE_IDLE_NS;
}

/* ---- option bytes and protection ----------------------------------------------------------- */

/* Factory option bytes. F0/F1/F3 (§A.6 0x1FFFF800-0x1FFFF80F): RDP, nRDP, USER, nUSER, Data0,
 * nData0, Data1, nData1, WRP0, nWRP0 .. WRP3, nWRP3 [ext: RM0008/RM0091/RM0316]; RDP key 0xA5
 * on F1, 0xAA on F0/F3. F2/F4 (0x1FFFC000-0x1FFFC00F): byte 0 USER, byte 1 RDP (0xAA = level
 * 0), bytes 8-9 nWRP (bit set = sector not protected) [ext: RM0033/RM0090]; the other bytes
 * read 0xFF in this model (UNCONFIRMED layout). */
void stm32_ob_default(const stm32_part *p, uint8_t *ob)
{
    if (stm32_is_l(p)) { /* L0/L1/L4 layouts: stm32_lseries.c */
        stm32l_ob_default(p, ob);
        return;
    }
    memset(ob, 0xFF, 16);
    if (p->page_size != 0) {
        ob[0] = p->family == STM32_F1 ? 0xA5 : 0xAA;
        for (int i = 1; i < 16; i += 2)
            ob[i] = (uint8_t)~ob[i - 1];
    } else {
        ob[0] = 0xEC; /* USER reset value [ext: RM0090 FLASH_OPTCR 0x0FFFAAED] */
        ob[1] = 0xAA;
        ob[8] = 0xFF;
        ob[9] = 0x0F;
    }
}

static uint8_t rdp_key(const cwsim_stm32 *c)
{
    return c->p->family == STM32_F1 ? 0xA5 : 0xAA;
}

int cwsim_stm32_read_protected(const cwsim_stm32 *c)
{
    if (stm32_is_l(c->p))
        return stm32l_read_protected(c);
    if (classic(c)) /* a complement mismatch reads as protected, like an option-byte error */
        return !(c->ob[0] == rdp_key(c) && (c->ob[0] ^ c->ob[1]) == 0xFF);
    return c->ob[1] != 0xAA;
}

/* The WRP bit covering sector s on F0/F1/F3: one bit per sector; with more than 32 sectors,
 * bit 31 covers sector 31 and all above it (F1 high-density style; UNCONFIRMED for F303xC). */
static unsigned wrp_bit(unsigned s)
{
    return s < 31 ? s : 31;
}

int cwsim_stm32_write_protected(const cwsim_stm32 *c, unsigned s)
{
    if (s >= c->p->info.protect_units)
        return 0;
    if (stm32_is_l(c->p))
        return stm32l_write_protected(c, s);
    if (!classic(c)) {
        unsigned nwrp = (unsigned)c->ob[8] | ((unsigned)c->ob[9] << 8);
        return ((nwrp >> s) & 1u) == 0;
    }
    unsigned bit = wrp_bit(s);
    unsigned i = 8 + 2 * (bit / 8);
    if ((uint8_t)(c->ob[i] ^ c->ob[i + 1]) != 0xFF)
        return 0; /* complement mismatch: the byte reads 0xFF (UNCONFIRMED simplification) */
    return ((c->ob[i] >> (bit % 8)) & 1u) == 0;
}

static void set_write_protect(cwsim_stm32 *c, unsigned s)
{
    if (s >= c->p->info.protect_units)
        return; /* §A.8: bogus sector numbers are not checked */
    if (stm32_is_l(c->p)) {
        stm32l_set_write_protect(c, s);
        return;
    }
    if (!classic(c)) {
        unsigned nwrp = ((unsigned)c->ob[8] | ((unsigned)c->ob[9] << 8)) & ~(1u << s);
        c->ob[8] = (uint8_t)nwrp;
        c->ob[9] = (uint8_t)(nwrp >> 8);
        return;
    }
    unsigned bit = wrp_bit(s);
    unsigned i = 8 + 2 * (bit / 8);
    c->ob[i] = (uint8_t)(c->ob[i] & ~(1u << (bit % 8)));
    c->ob[i + 1] = (uint8_t)~c->ob[i];
}

static void clear_write_protect(cwsim_stm32 *c)
{
    if (stm32_is_l(c->p)) {
        stm32l_clear_write_protect(c);
        return;
    }
    if (!classic(c)) {
        c->ob[8] = 0xFF;
        c->ob[9] = 0x0F;
        return;
    }
    for (int i = 8; i < 16; i += 2) {
        c->ob[i] = 0xFF;
        c->ob[i + 1] = 0x00;
    }
}

static void set_read_protect(cwsim_stm32 *c)
{
    if (stm32_is_l(c->p)) {
        stm32l_set_read_protect(c);
        return;
    }
    if (classic(c)) { /* any value but the key is level 1 */
        c->ob[0] = 0x00;
        c->ob[1] = 0xFF;
    } else {
        c->ob[1] = 0x00;
    }
}

/* Parse the write-protected fault's SECTORS ("all" or "0-3,7"); sectors out of range are
 * ignored, like Write Protect's codes (§A.8). */
static int apply_wp_fault(cwsim_stm32 *c, const char *v, char *err, size_t errlen)
{
    unsigned n = c->p->info.protect_units;
    if (v == NULL || *v == '\0' || strcmp(v, "all") == 0) {
        for (unsigned s = 0; s < n; s++)
            set_write_protect(c, s);
        return 0;
    }
    const char *q = v;
    for (;;) {
        char *end;
        unsigned long a = strtoul(q, &end, 10), z = a;
        if (end == q)
            goto bad;
        if (*end == '-') {
            q = end + 1;
            z = strtoul(q, &end, 10);
            if (end == q || z < a)
                goto bad;
        }
        for (unsigned long s = a; s <= z && s < n; s++)
            set_write_protect(c, (unsigned)s);
        if (*end == '\0')
            return 0;
        if (*end != ',')
            goto bad;
        q = end + 1;
    }
bad:
    stm32_err(err, errlen,
              "cwsim stm32: bad write-protected sectors '%s'; expected 'all' or a "
              "list like 0-3,7",
              v);
    return -1;
}

/* ---- memory map ---------------------------------------------------------------------------- */

enum region { R_NONE, R_FLASH, R_RAM, R_RAM_RESERVED, R_OB, R_SYSMEM, R_INFO };

/* Which region addr is in, and where that region ends (exclusive). */
static enum region region_of(const cwsim_stm32 *c, uint32_t addr, uint64_t *end)
{
    const cwsim_stm32_part_info *i = &c->p->info;
    struct {
        uint32_t lo, hi;
        enum region r;
    } map[] = {
        {i->flash_start, i->flash_start + i->flash_size, R_FLASH},
        {i->ram_start, i->ram_end, R_RAM},
        {RAM_BASE, i->ram_start, R_RAM_RESERVED},
        {i->option_start, i->option_end, R_OB},
        {i->sysmem_start, i->sysmem_end, R_SYSMEM},
        {c->p->info_start, c->p->info_end, R_INFO},
    };
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (addr >= map[k].lo && addr < map[k].hi) {
            *end = map[k].hi;
            return map[k].r;
        }
    *end = addr;
    return R_NONE;
}

/* The synthesized system memory / device-information bytes: zeros except the flash-size
 * register (KiB, little-endian) and a 96-bit unique ID. The ROM code itself is not modelled. */
static uint8_t sys_byte(const cwsim_stm32 *c, uint32_t a)
{
    uint32_t kib = c->p->info.flash_size / 1024;
    if (a == c->p->fsize_addr)
        return (uint8_t)kib;
    if (a == c->p->fsize_addr + 1)
        return (uint8_t)(kib >> 8);
    /* the third ID word is 8 bytes after the first, or uid_word2 (L0/L1: 0x14) */
    uint32_t w2 = c->p->uid_word2 != 0 ? c->p->uid_word2 : 8;
    uint32_t k = a - c->p->uid_addr;
    if (a >= c->p->uid_addr && (k < 8 || (k >= w2 && k < w2 + 4))) {
        static const uint8_t uid[12] = {'C',  'W',  'S',  'I',  'M',  0,
                                        0x53, 0x54, 0x4D, 0x33, 0x32, 0x01};
        uint8_t v = uid[k < 8 ? k : k - w2 + 8];
        if (k == 5)
            v = (uint8_t)c->p->info.pid;
        return v;
    }
    if (a >= c->p->otp_start && a < c->p->otp_end)
        return 0xFF; /* F2/F4, L4 OTP block, never programmed */
    return 0x00;
}

static uint8_t mem_byte(const cwsim_stm32 *c, uint32_t a, enum region r)
{
    switch (r) {
    case R_FLASH:
        return c->flash[a - c->p->info.flash_start];
    case R_RAM:
    case R_RAM_RESERVED:
        return c->ram[a - RAM_BASE];
    case R_OB:
        return c->ob[a - c->p->info.option_start];
    case R_SYSMEM:
    case R_INFO:
        return sys_byte(c, a);
    default:
        return 0;
    }
}

size_t cwsim_stm32_peek(const cwsim_stm32 *c, uint32_t addr, uint8_t *buf, size_t len)
{
    size_t n = 0;
    while (n < len) {
        uint64_t a = (uint64_t)addr + n, end;
        if (a > UINT32_MAX)
            break;
        enum region r = region_of(c, (uint32_t)a, &end);
        if (r == R_NONE)
            break;
        for (; n < len && (uint64_t)addr + n < end; n++)
            buf[n] = mem_byte(c, (uint32_t)(addr + n), r);
    }
    return n;
}

/* The range addr..addr+len-1 lies inside one region the bootloader may read (§A.8: flash,
 * host RAM, option bytes, system memory; the bootloader's own RAM is refused, as from v2.2,
 * UNCONFIRMED). */
static enum region host_range(const cwsim_stm32 *c, uint32_t addr, uint32_t len)
{
    uint64_t end;
    enum region r = region_of(c, addr, &end);
    if (r == R_NONE || r == R_RAM_RESERVED || (uint64_t)addr + len > end)
        return R_NONE;
    return r;
}

static int flash_blank(const cwsim_stm32 *c)
{
    for (uint32_t i = 0; i < c->p->info.flash_size; i++)
        if (c->flash[i] != stm32_erased(c->p))
            return 0;
    return 1;
}

/* Erase unit u (page or sector) -> write-protection sector. */
static unsigned unit_sector(const cwsim_stm32 *c, unsigned u)
{
    return classic(c) ? u / c->p->pages_per_sector : u;
}

static unsigned unit_of_offset(const cwsim_stm32 *c, uint32_t off)
{
    if (classic(c))
        return off / c->p->page_size;
    unsigned u = 0;
    while (u + 1 < c->p->info.erase_units && stm32_sector_offset(c->p, u + 1) <= off)
        u++;
    return u;
}

static uint64_t unit_erase_ns(const cwsim_stm32 *c, unsigned u)
{
    if (stm32_is_l(c->p))
        return stm32l_page_erase_ns(c->p);
    if (classic(c))
        return T_PAGE_NS;
    uint32_t size = stm32_sector_size(c->p, u);
    return size == 16 * 1024 ? T_SECTOR16_NS : size == 64 * 1024 ? T_SECTOR64_NS : T_SECTOR128_NS;
}

static uint64_t mass_erase_ns(const cwsim_stm32 *c)
{
    if (stm32_is_l(c->p))
        return stm32l_mass_erase_ns(c->p);
    if (classic(c))
        return T_MASS_NS;
    return ns_from_double((double)T_MASS_F2F4_MIB * c->p->info.flash_size / (1024.0 * 1024.0));
}

static void erase_unit(cwsim_stm32 *c, unsigned u)
{
    memset(c->flash + stm32_sector_offset(c->p, u), stm32_erased(c->p), stm32_sector_size(c->p, u));
}

static int any_write_protected(const cwsim_stm32 *c)
{
    for (unsigned s = 0; s < c->p->info.protect_units; s++)
        if (cwsim_stm32_write_protected(c, s))
            return 1;
    return 0;
}

/* ---- persistence --------------------------------------------------------------------------- */

static void blob_name(const cwsim_stm32 *c, const char *what, char *buf, size_t len)
{
    size_t n = strlen(c->p->info.name);
    size_t w = strlen(what);
    if (n + 1 + w + 1 > len) {
        buf[0] = '\0';
        return;
    }
    memcpy(buf, c->p->info.name, n);
    buf[n] = '.';
    memcpy(buf + n + 1, what, w + 1);
}

static int state_load(cwsim_stm32 *c, char *err, size_t errlen)
{
    char name[64];
    void *data = NULL;
    size_t len = 0;
    blob_name(c, "flash", name, sizeof name);
    int r = cwsim_state_load(c->sim, name, &data, &len, err, errlen);
    if (r < 0)
        return -1;
    if (r == 0) {
        if (len != c->p->info.flash_size) {
            free(data);
            stm32_err(err, errlen,
                      "cwsim stm32: state blob %s has %zu bytes, expected %lu; remove it to "
                      "start with an erased chip",
                      name, len, (unsigned long)c->p->info.flash_size);
            return -1;
        }
        memcpy(c->flash, data, len);
        free(data);
    }
    blob_name(c, "optbytes", name, sizeof name);
    r = cwsim_state_load(c->sim, name, &data, &len, err, errlen);
    if (r < 0)
        return -1;
    if (r == 0) {
        if (len != stm32_ob_size(c->p)) {
            free(data);
            stm32_err(err, errlen,
                      "cwsim stm32: state blob %s has %zu bytes, expected %lu; remove it to "
                      "start with factory option bytes",
                      name, len, (unsigned long)stm32_ob_size(c->p));
            return -1;
        }
        memcpy(c->ob, data, len);
        free(data);
    }
    return 0;
}

int cwsim_stm32_save(cwsim_stm32 *c, char *err, size_t errlen)
{
    if (c == NULL || !c->dirty || cwsim_state_dir(c->sim) == NULL)
        return 0;
    char name[64];
    blob_name(c, "flash", name, sizeof name);
    if (cwsim_state_save(c->sim, name, c->flash, c->p->info.flash_size, err, errlen) != 0)
        return -1;
    blob_name(c, "optbytes", name, sizeof name);
    if (cwsim_state_save(c->sim, name, c->ob, stm32_ob_size(c->p), err, errlen) != 0)
        return -1;
    c->dirty = 0;
    c->save_at = NEVER;
    return 0;
}

static void save_now(cwsim_stm32 *c)
{
    /* The library never prints: a failed autosave is counted and retried at the next change,
     * at cwsim_stm32_save and at free. */
    if (cwsim_stm32_save(c, NULL, 0) != 0)
        c->save_failures++;
    c->save_at = NEVER;
}

/* ---- the transmit line --------------------------------------------------------------------- */

cwsim_uart_frame cwsim_stm32_frame(uint8_t byte, const cwsim_uart_format *fmt)
{
    cwsim_uart_frame f;
    memset(&f, 0, sizeof f);
    f.byte = byte;
    f.fmt = *fmt;
    unsigned db = fmt->data_bits, slot = 1, ones = 0; /* slot 0: the start bit, low */
    uint16_t lv = 0;
    for (unsigned i = 0; i < db; i++, slot++)
        if (((unsigned)byte >> i) & 1u) {
            lv = (uint16_t)(lv | (1u << slot));
            ones++;
        }
    if (fmt->parity != CWSIM_PARITY_NONE) {
        unsigned p = fmt->parity == CWSIM_PARITY_ODD    ? (ones & 1u) ^ 1u
                     : fmt->parity == CWSIM_PARITY_EVEN ? (ones & 1u)
                     : fmt->parity == CWSIM_PARITY_MARK ? 1u
                                                        : 0u;
        if (p)
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

static void tx_kick(cwsim_stm32 *c)
{
    if (c->line_busy || c->txq_len == 0 || c->mode == CWSIM_STM32_OFF)
        return;
    const stm32_txent *e = &c->txq[c->txq_head];
    c->line_frame = cwsim_stm32_frame(e->byte, &e->fmt);
    c->txq_head = (c->txq_head + 1) % STM32_TXQ;
    c->txq_len--;
    c->line_busy = 1;
    c->line_end = c->now + cwsim_uart_frame_ns(&c->line_frame.fmt);
    if (c->board != NULL)
        (void)cwsim_target_uart_send(c->board, c->line_frame.byte, &c->line_frame.fmt);
}

static void tx_put(cwsim_stm32 *c, uint8_t byte, const cwsim_uart_format *fmt)
{
    if (c->txq_len == STM32_TXQ)
        return; /* cannot happen: replies are at most 258 bytes, the banner is short */
    stm32_txent *e = &c->txq[(c->txq_head + c->txq_len) % STM32_TXQ];
    e->byte = byte;
    e->fmt = *fmt;
    c->txq_len++;
    tx_kick(c);
}

static void line_done(cwsim_stm32 *c)
{
    c->line_busy = 0;
    c->cnt.tx_bytes++;
    if (c->board == NULL && c->tx_fn != NULL)
        c->tx_fn(c->tx_ctx, &c->line_frame, c->line_end);
    tx_kick(c);
}

static void bl_send(cwsim_stm32 *c, uint8_t byte)
{
    tx_put(c, byte, &c->fmt);
}

static void bl_ack(cwsim_stm32 *c)
{
    c->cnt.acks++;
    bl_send(c, ACK);
}

static void bl_nack(cwsim_stm32 *c)
{
    c->cnt.nacks++;
    bl_send(c, NACK);
    c->phase = PH_CMD; /* §A.9: back to waiting for a command */
}

/* ---- running states ------------------------------------------------------------------------ */

static int app_ss(const cwsim_stm32 *c)
{
    return c->app == STM32_APP_SS1 || c->app == STM32_APP_SS2;
}

/* The SimpleSerial application's trigger pin: TIO4 on the CW308 (simpleserial-aes's
 * trigger_high/trigger_low). */
static void trigger(cwsim_stm32 *c, cwsim_level level)
{
    if (c->board != NULL)
        cwsim_target_drive(c->board, CWSIM_PIN_TIO4, level);
}

/* Reset or power loss: everything volatile stops. A frame already on the board's wire cannot
 * be called back; standalone, the frame being shifted is cut. */
static void chip_stop(cwsim_stm32 *c)
{
    if (c->aes_end != NEVER || app_ss(c))
        trigger(c, CWSIM_Z); /* the GPIO is an input again after a reset */
    c->aes_end = NEVER;
    c->nheld = 0;
    c->txq_len = 0;
    c->line_busy = 0;
    c->rdr_full = 0;
    c->op = OP_NONE;
    c->after = AFTER_NONE;
    c->app_at = NEVER;
    c->phase = PH_CMD;
}

/* Reset released (nRST, power-up, system reset): the chip starts T_STARTUP_NS later. */
static void chip_release(cwsim_stm32 *c)
{
    chip_stop(c);
    c->mode = CWSIM_STM32_STARTING;
    c->start_at = c->now + T_STARTUP_NS;
    c->cnt.resets++;
}

static cwsim_uart_format bl_format(double baud)
{
    cwsim_uart_format f;
    f.baud = baud;
    f.data_bits = 8;
    f.parity = CWSIM_PARITY_EVEN; /* §A.3: 8 data bits, even parity, 1 stop */
    f.stop_halves = 2;
    return f;
}

static void app_enter(cwsim_stm32 *c)
{
    if (flash_blank(c)) { /* erased vectors: the core locks up in a fault */
        c->mode = CWSIM_STM32_HALTED;
        return;
    }
    c->mode = CWSIM_STM32_APP;
    if (c->app == STM32_APP_BANNER)
        c->app_at = c->now + T_BANNER_NS;
    if (c->app == STM32_APP_SS1)
        cwsim_ssapp_init(&c->ss, CWSIM_SSAPP_V1);
    if (c->app == STM32_APP_SS2)
        cwsim_ssapp_init(&c->ss, CWSIM_SSAPP_V2);
    if (app_ss(c))
        trigger(c, CWSIM_LOW); /* trigger_setup(): the pin an output, low */
}

/* contract.md §5: the application's UART, 8N1 at its nominal rate (38400 for the banner and
 * SimpleSerial v1, 230400 for v2) scaled by the received clock; baud-skew=PCT skews it
 * further. */
static cwsim_uart_format app_format(const cwsim_stm32 *c)
{
    cwsim_uart_format f;
    double nominal = c->app == STM32_APP_SS2 ? cwsim_ssapp_baud(CWSIM_SSAPP_V2) : APP_BAUD;
    f.baud = nominal * c->clock_hz / APP_CLOCK_REF *
             (1.0 + cwsim_fault_number(c->sim, "baud-skew") / 100.0);
    f.data_bits = 8;
    f.parity = CWSIM_PARITY_NONE;
    f.stop_halves = 2;
    return f;
}

/* The SimpleSerial application read a byte; its replies go out in its own format. A byte that
 * completes a plaintext runs the encryption first (simpleserial-aes get_pt: trigger_high(),
 * aes_indep_enc, trigger_low(), then the reply): TIO4 is high and the reply waits for the
 * schedule's CWSIM_AES_CYCLES at the core clock (docs/simulator.md "The power model"). */
static void app_byte(cwsim_stm32 *c, uint8_t byte)
{
    uint8_t out[CWSIM_SSAPP_OUT_MAX];
    size_t n = cwsim_ssapp_rx(&c->ss, byte, out);
    cwsim_uart_format f = app_format(c);
    uint64_t aes_ns = 0;
    if (c->ss.aes_pending) {
        uint64_t reply = (uint64_t)n * cwsim_uart_frame_ns(&f);
        aes_ns = cwsim_ssapp_aes_start(&c->ss, c->now, c->clock_hz, reply);
    }
    if (aes_ns > 0) {
        c->aes_end = c->now + aes_ns;
        memcpy(c->held, out, n);
        c->nheld = n;
        trigger(c, CWSIM_HIGH);
        return;
    }
    for (size_t i = 0; i < n; i++)
        tx_put(c, out[i], &f);
}

static void app_aes_done(cwsim_stm32 *c)
{
    c->aes_end = NEVER;
    trigger(c, CWSIM_LOW);
    cwsim_uart_format f = app_format(c);
    for (size_t i = 0; i < c->nheld; i++)
        tx_put(c, c->held[i], &f);
    c->nheld = 0;
}

static void chip_boot(cwsim_stm32 *c)
{
    c->start_at = NEVER;
    /* BOOT0 as it is when the start-up delay ends (a real chip latches it a few clock cycles
     * after reset release; sampling later lets a board set PDIC and nRST in either order at
     * one instant). contract.md §5 boot0-stuck-low: the chip never sees it high. */
    c->boot_bl = c->boot0_high && !cwsim_fault_on(c->sim, "boot0-stuck-low");
    if (c->synced_pending) {
        /* contract.md §5 already-synced: an earlier session synced the bootloader and left it in
         * the middle of a command: its host's next sync 0x7F (§A.2 note) was taken as a
         * command byte, so the bootloader waits for the complement and NACKs whatever comes
         * next (§A.3). stm32flash then warns "the interface was not closed properly". */
        c->synced_pending = 0;
        c->mode = CWSIM_STM32_SYNCED;
        c->fmt = bl_format(SYNCED_BAUD);
        c->cmd = SYNC;
        c->phase = PH_CMD_COMP;
        return;
    }
    if (c->boot_bl) {
        c->mode = CWSIM_STM32_BOOTLOADER;
        return;
    }
    app_enter(c);
}

static void app_banner(cwsim_stm32 *c)
{
    c->app_at = NEVER;
    if (c->mode != CWSIM_STM32_APP || !(c->clock_hz > 0))
        return; /* contract.md §5: without a clock the application is silent */
    cwsim_uart_format f = app_format(c);
    const char *s = c->banner;
    for (; *s != '\0'; s++)
        tx_put(c, (uint8_t)*s, &f);
}

/* stm32flash's reset (§A.10): a stub in RAM that writes 0x05FA0004 (SYSRESETREQ) to AIRCR
 * 0xE000ED0C. The simulator does not execute code; a Go into RAM whose first 64 bytes hold both
 * literals is taken as that stub and performs a system reset, any other RAM code halts. */
static int ram_resets(const cwsim_stm32 *c, uint32_t addr)
{
    int aircr = 0, key = 0;
    for (uint32_t a = addr & ~3u; a + 4 <= c->p->info.ram_end && a < addr + 64; a += 4) {
        const uint8_t *m = c->ram + (a - RAM_BASE);
        uint32_t w =
            (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24;
        aircr |= w == 0xE000ED0Cu;
        key |= w == 0x05FA0004u;
    }
    return aircr && key;
}

static void do_after(cwsim_stm32 *c)
{
    int what = c->after;
    c->after = AFTER_NONE;
    if (what == AFTER_RESET) { /* §A.4 self-reset; §A.9: drop sync, re-evaluate BOOT0 */
        chip_release(c);
        return;
    }
    /* Go (§A.4): the simulator does not execute code (contract.md §5) */
    uint64_t end;
    enum region r = region_of(c, c->go_addr, &end);
    chip_stop(c);
    if (r == R_FLASH) {
        app_enter(c);
    } else if (ram_resets(c, c->go_addr)) {
        chip_release(c);
    } else {
        c->mode = CWSIM_STM32_HALTED;
    }
}

/* ---- bootloader commands ------------------------------------------------------------------- */

static void start_op(cwsim_stm32 *c, int op, uint64_t ns, int counts_as_flash)
{
    c->op = op;
    c->op_end = c->now + ns;
    if (counts_as_flash && ns > 0) {
        c->cnt.flash_ns += ns;
        cwsim_count_flash_ns(c->sim, ns);
    }
}

static void bl_get(cwsim_stm32 *c)
{
    /* §A.4: N = number of command codes, then the version and the codes; a chip lists
     * exactly one of 0x43/0x44 (§A.6 notes). */
    const uint8_t cmds[] = {CMD_GET,   CMD_GET_VERSION,          CMD_GET_ID, CMD_READ, CMD_GO,
                            CMD_WRITE, c->p->info.erase_command, CMD_WP,     CMD_WU,   CMD_RP,
                            CMD_RU};
    bl_ack(c);
    bl_send(c, (uint8_t)sizeof cmds);
    bl_send(c, c->p->info.bootloader_version);
    for (size_t i = 0; i < sizeof cmds; i++)
        bl_send(c, cmds[i]);
    bl_ack(c);
}

static void bl_command(cwsim_stm32 *c)
{
    uint8_t cmd = c->cmd;
    int rdp = cwsim_stm32_read_protected(c);
    c->got = 0;
    switch (cmd) {
    case CMD_GET:
        bl_get(c);
        return;
    case CMD_GET_VERSION: /* §A.4: version, two option bytes 0x00 0x00 */
        bl_ack(c);
        bl_send(c, c->p->info.bootloader_version);
        bl_send(c, 0x00);
        bl_send(c, 0x00);
        bl_ack(c);
        return;
    case CMD_GET_ID: /* §A.4: N = 1, PID big-endian */
        bl_ack(c);
        bl_send(c, 0x01);
        bl_send(c, (uint8_t)(c->p->info.pid >> 8));
        bl_send(c, (uint8_t)c->p->info.pid);
        bl_ack(c);
        return;
    default:
        break;
    }
    /* Everything else is refused under read protection, except Readout Unprotect (§A.8: one
     * NACK after the command; two NACKs on some products is UNCONFIRMED). */
    int known = cmd == CMD_READ || cmd == CMD_GO || cmd == CMD_WRITE ||
                cmd == c->p->info.erase_command || cmd == CMD_WP || cmd == CMD_WU ||
                cmd == CMD_RP || cmd == CMD_RU;
    if (!known || (rdp && cmd != CMD_RU)) {
        bl_nack(c);
        return;
    }
    bl_ack(c);
    switch (cmd) {
    case CMD_READ:
    case CMD_GO:
    case CMD_WRITE:
        c->phase = PH_ADDR;
        break;
    case CMD_ERASE:
    case CMD_EXT_ERASE:
        c->phase = PH_ERASE_N;
        break;
    case CMD_WP:
        c->phase = PH_WP_N;
        break;
    case CMD_WU:
        start_op(c, OP_WU, T_OPTION_NS, 0);
        break;
    case CMD_RP:
        start_op(c, OP_RP, T_OPTION_NS, 0);
        break;
    default: /* CMD_RU: mass erase, then the second ACK (§A.4; UNCONFIRMED order) */
        start_op(c, OP_RU, ns_from_double((double)mass_erase_ns(c) * slow_erase_factor(c)), 1);
        break;
    }
}

static void bl_address(cwsim_stm32 *c)
{
    const uint8_t *b = c->buf;
    c->phase = PH_CMD;
    if ((uint8_t)(b[0] ^ b[1] ^ b[2] ^ b[3]) != b[4]) { /* §A.3: XOR of the 4 bytes */
        bl_nack(c);
        return;
    }
    uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    enum region r = host_range(c, a, 1);
    c->addr = a;
    c->got = 0;
    switch (c->cmd) {
    case CMD_READ:
        if (r == R_NONE) { /* §A.8: invalid address -> NACK */
            bl_nack(c);
            return;
        }
        bl_ack(c);
        c->phase = PH_READ_LEN;
        return;
    case CMD_GO: /* flash or host RAM only (option bytes / system memory: NACK, §A.4) */
        if (r != R_FLASH && r != R_RAM) {
            bl_nack(c);
            return;
        }
        bl_ack(c);
        c->go_addr = a;
        c->after = AFTER_GO;
        return;
    default: /* CMD_WRITE: writable and word-aligned (§A.4; §A.8 NACK choice, UNCONFIRMED);
                L4 flash: double-word aligned (stm32_lseries.c, UNCONFIRMED) */
        if ((r != R_FLASH && r != R_RAM && r != R_OB) || (a & 3u) != 0 ||
            (r == R_FLASH && (a & (stm32l_write_align(c->p) - 1)) != 0)) {
            bl_nack(c);
            return;
        }
        bl_ack(c);
        c->phase = PH_WRITE_N;
        return;
    }
}

static void bl_read(cwsim_stm32 *c)
{
    uint8_t n = c->buf[0];
    c->phase = PH_CMD;
    if ((c->buf[1] ^ n) != 0xFF) { /* §A.3: the length's complement */
        bl_nack(c);
        return;
    }
    uint32_t len = (uint32_t)n + 1;
    if (host_range(c, c->addr, len) == R_NONE) { /* end past the region: NACK (UNCONFIRMED) */
        bl_nack(c);
        return;
    }
    uint8_t data[256];
    cwsim_stm32_peek(c, c->addr, data, len);
    bl_ack(c);
    for (uint32_t i = 0; i < len; i++)
        bl_send(c, data[i]);
}

static void bl_write(cwsim_stm32 *c, uint8_t checksum)
{
    c->phase = PH_CMD;
    if (c->xsum != checksum) { /* §A.8: data checksum wrong -> NACK at the end of the block */
        bl_nack(c);
        return;
    }
    enum region r = host_range(c, c->addr, c->count);
    if ((c->count & 3u) != 0 || r == R_NONE) { /* §A.4 multiple of 4; range (UNCONFIRMED) */
        bl_nack(c);
        return;
    }
    if (r == R_RAM) {
        memcpy(c->ram + (c->addr - RAM_BASE), c->buf, c->count);
        bl_ack(c);
        return;
    }
    if (r == R_OB) {
        start_op(c, OP_WRITE_OB, T_OPTION_NS, 0);
        return;
    }
    /* Flash: bytes in write-protected sectors are acknowledged and kept (§A.8); time per
     * half-word or word actually programmed (§A.7b). */
    uint32_t off = c->addr - c->p->info.flash_start, programmed = 0;
    if (stm32l_write_refused(c, off, c->buf, c->count)) { /* L4 double words (lseries.c) */
        bl_nack(c);
        return;
    }
    for (uint32_t i = 0; i < c->count; i++)
        if (!cwsim_stm32_write_protected(c, unit_sector(c, unit_of_offset(c, off + i))))
            programmed++;
    uint64_t ns =
        classic(c) ? (programmed + 1) / 2 * T_HALFWORD_NS : (programmed + 3) / 4 * T_WORD_F2F4_NS;
    if (stm32_is_l(c->p))
        ns = programmed != 0 ? stm32l_program_ns(c, off, c->count) : 0;
    start_op(c, OP_WRITE_FLASH, ns, 1);
}

static void erase_list_done(cwsim_stm32 *c, uint8_t checksum)
{
    c->phase = PH_CMD;
    if (c->xsum != checksum || c->list_bad) { /* bad page numbers: NACK, nothing erased
                                                 (UNCONFIRMED) */
        bl_nack(c);
        return;
    }
    /* §A.8: pages in write-protected sectors are acknowledged and not erased */
    uint64_t ns = 0;
    for (unsigned u = 0; u < c->p->info.erase_units; u++) {
        if (!(c->map[u / 8] & (1u << (u % 8))))
            continue;
        if (cwsim_stm32_write_protected(c, unit_sector(c, u)))
            c->map[u / 8] = (uint8_t)(c->map[u / 8] & ~(1u << (u % 8)));
        else
            ns += unit_erase_ns(c, u);
    }
    c->mass = 0;
    start_op(c, OP_ERASE, ns_from_double((double)ns * slow_erase_factor(c)), 1);
}

static void erase_mass(cwsim_stm32 *c)
{
    /* With any sector write-protected the mass erase is acknowledged and erases nothing
     * (§A.8 "ACK, not erased"; that it erases nothing at all is UNCONFIRMED). */
    c->mass = !any_write_protected(c);
    memset(c->map, 0, sizeof c->map); /* no page list either */
    uint64_t ns = c->mass ? ns_from_double((double)mass_erase_ns(c) * slow_erase_factor(c)) : 0;
    start_op(c, OP_ERASE, ns, 1);
}

static void list_add(cwsim_stm32 *c, unsigned u)
{
    if (u >= c->p->info.erase_units || u >= 8 * sizeof c->map)
        c->list_bad = 1;
    else
        c->map[u / 8] = (uint8_t)(c->map[u / 8] | (1u << (u % 8)));
}

static void bl_erase_byte(cwsim_stm32 *c, uint8_t b)
{
    int ext = c->p->info.erase_command == CMD_EXT_ERASE;
    switch (c->phase) {
    case PH_ERASE_N:
        c->buf[c->got++] = b;
        if (!ext) {
            if (b == 0xFF) { /* §A.4: 43 -> FF 00 global erase */
                c->special = EXT_MASS;
                c->phase = PH_ERASE_SPECIAL;
                return;
            }
            c->count = (unsigned)b + 1;
        } else {
            if (c->got < 2)
                return;
            unsigned n = (unsigned)c->buf[0] << 8 | c->buf[1];
            if (n >= EXT_RSVD) { /* §A.4 special codes */
                c->special = n;
                c->phase = PH_ERASE_SPECIAL;
                return;
            }
            c->count = n + 1;
        }
        c->xsum = ext ? (uint8_t)(c->buf[0] ^ c->buf[1]) : b;
        c->listed = 0;
        c->got = 0;
        c->list_bad = 0;
        memset(c->map, 0, sizeof c->map);
        c->phase = PH_ERASE_LIST;
        return;
    case PH_ERASE_SPECIAL:
        c->phase = PH_CMD;
        if (!ext) {
            if (b != 0x00) { /* §A.8: 43 FF then not 00 is UNCONFIRMED: NACK, no erase */
                bl_nack(c);
                return;
            }
            erase_mass(c);
            return;
        }
        if (b != (uint8_t)(c->buf[0] ^ c->buf[1])) { /* FF FF 00, FF FE 01, FF FD 02 */
            bl_nack(c);
            return;
        }
        if (c->special == EXT_MASS && (!stm32_is_l(c->p) || stm32l_mass_erase(c->p))) {
            erase_mass(c);
            return;
        }
        /* L0/L1: no mass erase (§A.6 notes; the NACK is UNCONFIRMED, stm32_lseries.c) */
        /* EXT_BANK1/EXT_BANK2 on these single-bank parts, and the reserved codes: NACK
         * (UNCONFIRMED). */
        bl_nack(c);
        return;
    default: /* PH_ERASE_LIST */
        if (c->listed >= c->count) {
            erase_list_done(c, b);
            return;
        }
        c->xsum ^= b;
        if (!ext) {
            list_add(c, b);
            c->listed++;
            return;
        }
        c->buf[c->got++] = b;
        if (c->got == 2) { /* §A.4: page numbers MSB first */
            list_add(c, (unsigned)c->buf[0] << 8 | c->buf[1]);
            c->got = 0;
            c->listed++;
        }
        return;
    }
}

static void bl_wp_byte(cwsim_stm32 *c, uint8_t b)
{
    if (c->phase == PH_WP_N) {
        c->count = (unsigned)b + 1;
        c->xsum = b;
        c->listed = 0;
        memset(c->map, 0, sizeof c->map);
        c->phase = PH_WP_LIST;
        return;
    }
    if (c->listed < c->count) {
        c->xsum ^= b;
        c->map[b / 8] = (uint8_t)(c->map[b / 8] | (1u << (b % 8)));
        c->listed++;
        return;
    }
    c->phase = PH_CMD;
    if (c->xsum != b) { /* §A.3: XOR of N and the codes */
        bl_nack(c);
        return;
    }
    start_op(c, OP_WP, T_OPTION_NS, 0);
}

/* One byte the bootloader read from its receive register. */
static void bl_byte(cwsim_stm32 *c, uint8_t b)
{
    switch (c->phase) {
    case PH_CMD:
        c->cmd = b;
        c->phase = PH_CMD_COMP;
        return;
    case PH_CMD_COMP:
        c->phase = PH_CMD;
        if ((b ^ c->cmd) != 0xFF) { /* §A.3: command + complement, else NACK */
            bl_nack(c);
            return;
        }
        bl_command(c);
        return;
    case PH_ADDR:
        c->buf[c->got++] = b;
        if (c->got == 5)
            bl_address(c);
        return;
    case PH_READ_LEN:
        c->buf[c->got++] = b;
        if (c->got == 2)
            bl_read(c);
        return;
    case PH_WRITE_N: /* §A.3: N is not complemented, it is in the XOR */
        c->count = (unsigned)b + 1;
        c->xsum = b;
        c->got = 0;
        c->phase = PH_WRITE_DATA;
        return;
    case PH_WRITE_DATA:
        if (c->got < c->count) {
            c->buf[c->got++] = b;
            c->xsum ^= b;
            return;
        }
        bl_write(c, b);
        return;
    case PH_WP_N:
    case PH_WP_LIST:
        bl_wp_byte(c, b);
        return;
    default:
        bl_erase_byte(c, b);
        return;
    }
}

/* A flash or option-byte operation finished: apply it, send the final ACK. */
static void op_finish(cwsim_stm32 *c)
{
    int op = c->op;
    c->op = OP_NONE;
    uint32_t off = c->addr - c->p->info.flash_start;
    switch (op) {
    case OP_WRITE_FLASH:
        /* §A.9: programming only clears bits (the AND of old and new contents); on L0/L1,
           whose flash erases to 0x00, it only sets them (the OR; UNCONFIRMED, lseries.c) */
        for (uint32_t i = 0; i < c->count; i++)
            if (!cwsim_stm32_write_protected(c, unit_sector(c, unit_of_offset(c, off + i))))
                c->flash[off + i] = stm32_erased(c->p) == 0x00 ? c->flash[off + i] | c->buf[i]
                                                               : c->flash[off + i] & c->buf[i];
        mark_dirty(c);
        break;
    case OP_WRITE_OB: /* overwrites the bytes written (UNCONFIRMED), then a system reset */
        memcpy(c->ob + (c->addr - c->p->info.option_start), c->buf, c->count);
        c->after = AFTER_RESET;
        break;
    case OP_ERASE:
        if (c->mass) {
            memset(c->flash, stm32_erased(c->p), c->p->info.flash_size);
        } else {
            for (unsigned u = 0; u < c->p->info.erase_units; u++)
                if (c->map[u / 8] & (1u << (u % 8)))
                    erase_unit(c, u);
        }
        mark_dirty(c);
        break;
    case OP_WP: /* listed sectors are added to the protected ones (UNCONFIRMED) */
        for (unsigned s = 0; s < 8 * sizeof c->map; s++)
            if (c->map[s / 8] & (1u << (s % 8)))
                set_write_protect(c, s);
        c->after = AFTER_RESET;
        break;
    case OP_WU:
        clear_write_protect(c);
        c->after = AFTER_RESET;
        break;
    case OP_RP:
        set_read_protect(c);
        c->after = AFTER_RESET;
        break;
    default: /* OP_RU: flash erased; F0/F1/F3 option bytes back to factory (option page erased
                and rewritten), F2/F4 and L0/L1/L4 only RDP back to level 0 */
        memset(c->flash, stm32_erased(c->p), c->p->info.flash_size);
        if (stm32_is_l(c->p))
            stm32l_clear_read_protect(c);
        else if (classic(c))
            stm32_ob_default(c->p, c->ob);
        else
            c->ob[1] = 0xAA;
        c->after = AFTER_RESET;
        break;
    }
    bl_ack(c);
    if (c->after == AFTER_RESET) { /* protection is state worth keeping at once */
        c->dirty = 1;
        save_now(c);
    }
}

/* ---- the event loop ------------------------------------------------------------------------ */

static int cpu_free(const cwsim_stm32 *c)
{
    return c->mode == CWSIM_STM32_SYNCED && c->op == OP_NONE && c->txq_len == 0 &&
           c->after == AFTER_NONE;
}

/* The SimpleSerial application polls its receive register, except while it is still handing
 * reply bytes to the transmitter (its putch blocks). */
static int app_free(const cwsim_stm32 *c)
{
    return c->mode == CWSIM_STM32_APP && app_ss(c) && c->txq_len == 0 && c->aes_end == NEVER;
}

/* The bootloader reads its receive register whenever it is not busy; so does the application. */
static void cpu_poll(cwsim_stm32 *c)
{
    while (c->rdr_full && (cpu_free(c) || app_free(c))) {
        c->rdr_full = 0;
        if (c->mode == CWSIM_STM32_APP)
            app_byte(c, c->rdr);
        else
            bl_byte(c, c->rdr);
    }
}

uint64_t cwsim_stm32_next_event_ns(const cwsim_stm32 *c)
{
    uint64_t t = NEVER;
    if (c->mode == CWSIM_STM32_STARTING && c->start_at < t)
        t = c->start_at;
    if (c->line_busy && c->line_end < t)
        t = c->line_end;
    if (c->op != OP_NONE && c->op_end < t)
        t = c->op_end;
    if (c->app_at < t)
        t = c->app_at;
    if (c->aes_end < t)
        t = c->aes_end;
    if (c->dirty && c->save_at < t && cwsim_state_dir(c->sim) != NULL)
        t = c->save_at;
    return t;
}

static void run_due(cwsim_stm32 *c)
{
    if (c->mode == CWSIM_STM32_STARTING && c->start_at <= c->now)
        chip_boot(c);
    if (c->line_busy && c->line_end <= c->now)
        line_done(c);
    if (c->op != OP_NONE && c->op_end <= c->now)
        op_finish(c);
    if (c->app_at <= c->now)
        app_banner(c);
    if (c->aes_end <= c->now)
        app_aes_done(c);
    if (c->dirty && c->save_at <= c->now)
        save_now(c);
    /* Go and self-resets act when the last reply byte has left the pin */
    if (c->after != AFTER_NONE && c->txq_len == 0 && !c->line_busy && c->op == OP_NONE)
        do_after(c);
    cpu_poll(c);
}

void stm32_run(cwsim_stm32 *c, uint64_t now_ns)
{
    for (;;) {
        uint64_t t = cwsim_stm32_next_event_ns(c);
        if (t > now_ns)
            break;
        if (t > c->now)
            c->now = t;
        run_due(c);
    }
    if (now_ns > c->now)
        c->now = now_ns;
}

void cwsim_stm32_advance(cwsim_stm32 *c, uint64_t now_ns)
{
    stm32_run(c, now_ns);
    stm32_leave(c);
}

/* ---- inputs -------------------------------------------------------------------------------- */

void stm32_power(cwsim_stm32 *c, int on)
{
    on = on != 0;
    if (on == c->powered)
        return;
    c->powered = on;
    if (!on) {
        chip_stop(c);
        c->mode = CWSIM_STM32_OFF;
        memset(c->ram, 0, c->ram_size);
        return;
    }
    if (c->nrst_low)
        c->mode = CWSIM_STM32_RESET;
    else
        chip_release(c);
}

void stm32_nrst(cwsim_stm32 *c, int low)
{
    low = low != 0;
    if (low == c->nrst_low)
        return;
    c->nrst_low = low;
    if (!c->powered)
        return;
    if (low) {
        chip_stop(c);
        c->mode = CWSIM_STM32_RESET;
        c->synced_pending = 0; /* contract.md §5: any nRST pulse clears already-synced */
    } else {
        chip_release(c);
    }
}

void stm32_rx(cwsim_stm32 *c, const cwsim_uart_frame *f)
{
    c->cnt.rx_frames++;
    if (c->mode == CWSIM_STM32_BOOTLOADER) {
        /* §A.3 autobaud: the bootloader times the 0x7F frame from the start bit's falling edge
         * to the falling edge of data bit 7 (8 bit times); anything else is ignored (§A.9). */
        if (f->levels & 1u)
            return;
        unsigned i = 1;
        while (i < f->nslots && !(((f->levels >> (i - 1)) & 1u) && !((f->levels >> i) & 1u)))
            i++;
        if (i >= f->nslots || !(f->fmt.baud > 0))
            return;
        double baud = f->fmt.baud * 8.0 / (double)i;
        if (baud < BAUD_MIN * (1 - BAUD_TOL) || baud > BAUD_MAX * (1 + BAUD_TOL))
            return;
        cwsim_uart_format fmt = bl_format(baud);
        uint8_t byte;
        if (cwsim_uart_frame_decode(f, &fmt, &byte) != 0 || byte != SYNC)
            return;
        c->fmt = fmt;
        c->mode = CWSIM_STM32_SYNCED;
        c->phase = PH_CMD;
        bl_ack(c);
        return;
    }
    if (c->mode == CWSIM_STM32_APP && app_ss(c)) {
        if (!(c->clock_hz > 0))
            return; /* contract.md §5: without a clock the application does not run */
        /* sampled at the application's own rate: a wrong board clock garbles it. A framing
         * error still delivers the byte (the USART moves it to DR and only sets FE) */
        cwsim_uart_format fmt = app_format(c);
        uint8_t byte;
        if (cwsim_uart_frame_decode(f, &fmt, &byte) != 0)
            c->cnt.rx_errors++;
        if (c->rdr_full) { /* one receive register: overrun loses the byte */
            c->cnt.rx_overruns++;
            return;
        }
        c->rdr = byte;
        c->rdr_full = 1;
        cpu_poll(c);
        return;
    }
    if (c->mode != CWSIM_STM32_SYNCED)
        return; /* the silent/banner application ignores its input */
    uint8_t byte;
    if (cwsim_uart_frame_decode(f, &c->fmt, &byte) != 0) {
        /* parity or framing error: the byte is discarded (UNCONFIRMED; docs) */
        c->cnt.rx_errors++;
        return;
    }
    if (c->rdr_full) { /* contract.md §5: the receive register holds one byte; overrun loses it */
        c->cnt.rx_overruns++;
        return;
    }
    c->rdr = byte;
    c->rdr_full = 1;
    cpu_poll(c);
}

void stm32_leave(cwsim_stm32 *c)
{
    if (c->board != NULL)
        cwsim_target_wake_at(c->board, cwsim_stm32_next_event_ns(c));
}

void cwsim_stm32_set_power(cwsim_stm32 *c, int on, uint64_t now_ns)
{
    stm32_run(c, now_ns);
    stm32_power(c, on);
    stm32_run(c, now_ns);
    stm32_leave(c);
}

void cwsim_stm32_set_nrst(cwsim_stm32 *c, int low, uint64_t now_ns)
{
    stm32_run(c, now_ns);
    stm32_nrst(c, low);
    stm32_run(c, now_ns);
    stm32_leave(c);
}

void cwsim_stm32_set_boot0(cwsim_stm32 *c, int high, uint64_t now_ns)
{
    stm32_run(c, now_ns);
    c->boot0_high = high != 0;
    stm32_leave(c);
}

void cwsim_stm32_set_clock(cwsim_stm32 *c, double hz, uint64_t now_ns)
{
    stm32_run(c, now_ns);
    c->clock_hz = hz > 0 ? hz : 0;
    stm32_leave(c);
}

void cwsim_stm32_rx_frame(cwsim_stm32 *c, const cwsim_uart_frame *f, uint64_t now_ns)
{
    stm32_run(c, now_ns);
    if (f != NULL && c->powered)
        stm32_rx(c, f);
    stm32_run(c, now_ns);
    stm32_leave(c);
}

void cwsim_stm32_rx_byte(cwsim_stm32 *c, uint8_t byte, const cwsim_uart_format *fmt,
                         uint64_t now_ns)
{
    cwsim_uart_frame f = cwsim_stm32_frame(byte, fmt);
    cwsim_stm32_rx_frame(c, &f, now_ns);
}

void cwsim_stm32_set_tx(cwsim_stm32 *c, cwsim_stm32_tx_fn fn, void *ctx)
{
    c->tx_fn = fn;
    c->tx_ctx = ctx;
}

int cwsim_stm32_set_app(cwsim_stm32 *c, const char *app, char *err, size_t errlen)
{
    if (app != NULL && strcmp(app, "silent") == 0) {
        c->app = STM32_APP_SILENT;
        return 0;
    }
    if (app != NULL && strcmp(app, "banner") == 0) {
        c->app = STM32_APP_BANNER;
        return 0;
    }
    int ss = cwsim_ssapp_version_of(app);
    if (ss != 0) {
        c->app = ss == CWSIM_SSAPP_V2 ? STM32_APP_SS2 : STM32_APP_SS1;
        return 0;
    }
    stm32_err(err, errlen,
              "cwsim stm32: unknown application model '%s'; this chip models silent, banner, "
              "ss1-aes, ss2-aes",
              app != NULL ? app : "(null)");
    return -1;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

int cwsim_stm32_new(cwsim *sim, const char *part, cwsim_stm32 **out, char *err, size_t errlen)
{
    *out = NULL;
    const stm32_part *p = stm32_part_lookup(part);
    if (p == NULL) {
        char list[400];
        size_t n = 0;
        list[0] = '\0';
        for (size_t i = 0; i < stm32_part_total() && n < sizeof list; i++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                             stm32_part_index(i)->info.name);
            if (w < 0)
                break;
            n += (size_t)w;
        }
        stm32_err(err, errlen, "cwsim stm32: unknown part '%s'; known parts: %s",
                  part != NULL ? part : "(null)", list);
        return -1;
    }
    cwsim_stm32 *c = calloc(1, sizeof *c);
    if (c == NULL)
        goto oom;
    c->sim = sim;
    c->p = p;
    c->ram_size = p->info.ram_end - RAM_BASE;
    c->flash = malloc(p->info.flash_size);
    c->ram = calloc(1, c->ram_size);
    if (c->flash == NULL || c->ram == NULL)
        goto oom;
    memset(c->flash, stm32_erased(p), p->info.flash_size); /* a new chip is erased */
    stm32_ob_default(p, c->ob);
    c->mode = CWSIM_STM32_OFF;
    c->start_at = NEVER;
    c->app_at = NEVER;
    c->aes_end = NEVER;
    c->save_at = NEVER;
    c->fmt = bl_format(SYNCED_BAUD);
    snprintf(c->banner, sizeof c->banner, "cwsim %s application\r\n", p->info.name);
    if (cwsim_state_dir(sim) != NULL && state_load(c, err, errlen) != 0) {
        cwsim_stm32_free(c);
        return -1;
    }
    /* contract.md §5: read-protected and write-protected set persistent chip state */
    if (cwsim_fault_on(sim, "read-protected") && !cwsim_stm32_read_protected(c)) {
        set_read_protect(c);
        c->dirty = 1;
    }
    if (cwsim_fault_on(sim, "write-protected")) {
        uint8_t before[sizeof c->ob];
        memcpy(before, c->ob, sizeof before);
        if (apply_wp_fault(c, cwsim_fault_value(sim, "write-protected"), err, errlen) != 0) {
            cwsim_stm32_free(c);
            return -1;
        }
        if (memcmp(before, c->ob, sizeof before) != 0)
            c->dirty = 1;
    }
    if (c->dirty && cwsim_stm32_save(c, err, errlen) != 0) {
        c->dirty = 0;
        cwsim_stm32_free(c);
        return -1;
    }
    c->synced_pending = cwsim_fault_on(sim, "already-synced");
    *out = c;
    return 0;
oom:
    cwsim_stm32_free(c);
    stm32_err(err, errlen, "cwsim stm32: out of memory");
    return -1;
}

void cwsim_stm32_free(cwsim_stm32 *c)
{
    if (c == NULL)
        return;
    if (c->flash != NULL && c->dirty)
        save_now(c);
    free(c->flash);
    free(c->ram);
    free(c);
}

const cwsim_stm32_part_info *cwsim_stm32_part(const cwsim_stm32 *c)
{
    return &c->p->info;
}

cwsim_stm32_mode cwsim_stm32_get_mode(const cwsim_stm32 *c)
{
    return c->mode;
}

/* The core runs code (the bootloader or an application) only when it is out of reset, started
 * and clocked; a halted (locked-up) core draws a constant current. */
void cwsim_stm32_power_trace(const cwsim_stm32 *c, double t0_ns, double adc_hz, float *out,
                             size_t n)
{
    int running = c->powered && (c->mode == CWSIM_STM32_APP || c->mode == CWSIM_STM32_BOOTLOADER ||
                                 c->mode == CWSIM_STM32_SYNCED);
    cwsim_ssapp_power(&c->ss, running, c->clock_hz, t0_ns, adc_hz, out, n);
}

const char *cwsim_stm32_note(const cwsim_stm32 *c)
{
    if (c->mode == CWSIM_STM32_HALTED && c->app != STM32_APP_SILENT && flash_blank(c))
        return "flash-blank";
    return NULL;
}

cwsim_uart_format cwsim_stm32_bootloader_format(const cwsim_stm32 *c)
{
    return c->fmt;
}

void cwsim_stm32_counters_get(const cwsim_stm32 *c, cwsim_stm32_counters *out)
{
    *out = c->cnt;
}
