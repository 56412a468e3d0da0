/* SPDX-License-Identifier: MIT */
/* The STM32 L0, L1 and L4 parts of the simulator: what differs from the F-series
 * model of stm32.c — the option-byte layouts and their protection semantics, the programming
 * rules and the flash timings. The chip-ID rows are target-protocols.md §A.6 (stm32_parts.c).
 * Everything else here comes from ST's reference manuals and datasheets, not from our
 * documents: marked [ext] (RM0377 L0, RM0038 L1, RM0394 L4), and UNCONFIRMED where the model
 * picks a behaviour (the one that makes a careless host fail). docs/simulator-stm32.md "The L0,
 * L1 and L4 parts" lists them. */
#include "stm32_internal.h"

#include <string.h>

#define NS_PER_MS 1000000ull

/* [ext] L0/L1 datasheets (STM32L051x8, STM32L151xB), "Flash memory and data EEPROM
 * characteristics": tprog 3.2 ms typical for a word or a half-page, page erase also ~3.2 ms.
 * The half-page is 16 words on L0 (64 B), 32 words on L1 (128 B) [ext RM0377/RM0038]. */
#define T_L01_PROG_NS  3200000ull
#define T_L01_ERASE_NS 3200000ull
/* [ext] STM32L433 datasheet: 64-bit programming 81.69 us typ, page (2 KiB) erase 22.02 ms typ,
 * mass erase 22.13 ms typ (recalled figures; verify before relying on them). */
#define T_L4_DWORD_NS 81690ull
#define T_L4_PAGE_NS  22020000ull
#define T_L4_MASS_NS  22130000ull

/* RDP level 0 on every L part: byte 0 of the first option word is 0xAA [ext RM0377/RM0038
 * "RDP", RM0394 FLASH_OPTR.RDP]; 0xCC is level 2 (treated as level 1 here, like the F model). */
#define RDP_LEVEL0 0xAA

static int l01(const stm32_part *p)
{
    return p->family == STM32_L0 || p->family == STM32_L1;
}

/* ---- L0/L1 option bytes -----------------------------------------------------------------------
 * [ext RM0377 §3.4 / RM0038 §3.8 "Option bytes"]: 32-bit words from 0x1FF80000, each holding a
 * 16-bit value in its low half-word and the value's complement in the high half-word:
 *   word 0 (0x1FF80000): RDP in bits 7:0 (0xAA = level 0; factory 0xFF5500AA), bit 8 WPRMOD (L0)
 *   word 1 (0x1FF80004): USER (BOR level, watchdog, reset modes, nBOOT1 on L0)
 *   word 2 (0x1FF80008): WRP1, sectors 0-15; word 3 (0x1FF8000C): WRP2, sectors 16-31; ...
 * A WRP bit SET protects its sector (the opposite of the F-series nWRP/WRP bits, where 0
 * protects) [ext, RM0038/RM0377 WRPx "1: write protection active", recalled]. A sector is
 * pages x pages-per-sector of §A.6 (L0 0x417: 128 B x 32 = 4 KiB; L1: 256 B x 16 = 4 KiB). A
 * word whose complement does not match reads as all ones (UNCONFIRMED; the F model's rule: an
 * option-byte error loads the erased value), so a bad RDP means level 1 and a bad WRP word
 * protects its sixteen sectors. */

/* Factory USER values (UNCONFIRMED, recalled reset values of FLASH_OPTR/FLASH_OBR bits 31:16):
 * L0 0x8070, L1 0x00F8. Nothing in the model reads them. */
#define L0_USER 0x8070u
#define L1_USER 0x00F8u

static unsigned l01_value(const uint8_t *ob, unsigned off)
{
    unsigned v = (unsigned)ob[off] | (unsigned)ob[off + 1] << 8;
    unsigned n = (unsigned)ob[off + 2] | (unsigned)ob[off + 3] << 8;
    return (v ^ n) == 0xFFFFu ? v : 0xFFFFu;
}

static void l01_put(uint8_t *ob, unsigned off, unsigned v)
{
    ob[off] = (uint8_t)v;
    ob[off + 1] = (uint8_t)(v >> 8);
    ob[off + 2] = (uint8_t)~v;
    ob[off + 3] = (uint8_t)(~v >> 8);
}

/* The WRP word covering sector s, and its bit. */
static unsigned l01_wrp_off(unsigned s)
{
    return 8 + 4 * (s / 16);
}

/* ---- L4 option bytes --------------------------------------------------------------------------
 * [ext RM0394 §3.4.1 "Option bytes organization"]: double words from 0x1FFF7800, the 32-bit
 * value first and its complement in the next word:
 *   0x1FFF7800 OPTR (RDP in bits 7:0, 0xAA = level 0)   0x1FFF7808 PCROP1SR
 *   0x1FFF7810 PCROP1ER                                  0x1FFF7818 WRP1AR   0x1FFF7820 WRP1BR
 * WRP1xR: WRP1x_STRT in bits 7:0, WRP1x_END in bits 23:16; pages STRT..END are protected when
 * STRT <= END (two areas; factory STRT 0xFF, END 0x00 = none). Factory values as OpenOCD's
 * stm32l4x table has them for the L43x: OPTR 0xFFEFF8AA, PCROP1SR 0xFFFFFFFF, PCROP1ER 0,
 * WRP1AR/WRP1BR 0x000000FF [ext]. That every value is stored with its complement is
 * UNCONFIRMED; a value whose complement does not match reads as all ones (as on L0/L1). */
#define L4_OPTR   0x00u
#define L4_PCR1S  0x08u
#define L4_PCR1E  0x10u
#define L4_WRP1A  0x18u
#define L4_WRP1B  0x20u
#define WRP_RANGE 0x00FF00FFu

static uint32_t l4_value(const uint8_t *ob, unsigned off)
{
    uint32_t v = 0, n = 0;
    for (unsigned i = 0; i < 4; i++) {
        v |= (uint32_t)ob[off + i] << (8 * i);
        n |= (uint32_t)ob[off + 4 + i] << (8 * i);
    }
    return (v ^ n) == 0xFFFFFFFFu ? v : 0xFFFFFFFFu;
}

static void l4_put(uint8_t *ob, unsigned off, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        ob[off + i] = (uint8_t)(v >> (8 * i));
        ob[off + 4 + i] = (uint8_t)(~v >> (8 * i));
    }
}

static int l4_area_has(uint32_t wrp, unsigned s)
{
    unsigned strt = wrp & 0xFFu, end = (wrp >> 16) & 0xFFu;
    return strt <= end && s >= strt && s <= end;
}

/* ---- what stm32.c calls -------------------------------------------------------------------- */

void stm32l_ob_default(const stm32_part *p, uint8_t *ob)
{
    memset(ob, 0, stm32_ob_size(p));
    if (p->family == STM32_L4) {
        l4_put(ob, L4_OPTR, 0xFFEFF8AAu);
        l4_put(ob, L4_PCR1S, 0xFFFFFFFFu);
        l4_put(ob, L4_PCR1E, 0x00000000u);
        l4_put(ob, L4_WRP1A, 0x000000FFu);
        l4_put(ob, L4_WRP1B, 0x000000FFu);
        return;
    }
    l01_put(ob, 0, RDP_LEVEL0); /* 0xFF5500AA [ext: OpenOCD stm32lx OPTION_BYTE_0_PR0] */
    l01_put(ob, 4, p->family == STM32_L0 ? L0_USER : L1_USER);
    for (unsigned off = 8; off + 4 <= stm32_ob_size(p); off += 4)
        l01_put(ob, off, 0); /* WRP words: nothing protected */
}

int stm32l_read_protected(const cwsim_stm32 *c)
{
    unsigned rdp =
        c->p->family == STM32_L4 ? l4_value(c->ob, L4_OPTR) & 0xFFu : l01_value(c->ob, 0) & 0xFFu;
    return rdp != RDP_LEVEL0;
}

/* s is in range (the caller checks protect_units) */
int stm32l_write_protected(const cwsim_stm32 *c, unsigned s)
{
    if (c->p->family == STM32_L4)
        return l4_area_has(l4_value(c->ob, L4_WRP1A), s) ||
               l4_area_has(l4_value(c->ob, L4_WRP1B), s);
    unsigned off = l01_wrp_off(s);
    if (off + 4 > stm32_ob_size(c->p))
        return 0;
    return (l01_value(c->ob, off) >> (s % 16)) & 1u;
}

/* Write Protect (0x63) and the write-protected fault. L0/L1: set the sector's WRP bit. L4 has
 * two page ranges, not a bit per sector: area A grows to cover the page (the hull of what it
 * covered and s; UNCONFIRMED how the ROM maps a sector list onto the areas). */
void stm32l_set_write_protect(cwsim_stm32 *c, unsigned s)
{
    if (c->p->family == STM32_L4) {
        uint32_t v = l4_value(c->ob, L4_WRP1A);
        unsigned strt = v & 0xFFu, end = (v >> 16) & 0xFFu;
        if (strt > end) {
            strt = s;
            end = s;
        } else {
            strt = s < strt ? s : strt;
            end = s > end ? s : end;
        }
        l4_put(c->ob, L4_WRP1A, (v & ~WRP_RANGE) | strt | (uint32_t)end << 16);
        return;
    }
    unsigned off = l01_wrp_off(s);
    if (off + 4 > stm32_ob_size(c->p))
        return;
    l01_put(c->ob, off, l01_value(c->ob, off) | 1u << (s % 16));
}

/* Write Unprotect (0x73): every WRP word the part uses cleared (L0/L1), both areas disabled
 * (L4). */
void stm32l_clear_write_protect(cwsim_stm32 *c)
{
    if (c->p->family == STM32_L4) {
        l4_put(c->ob, L4_WRP1A, (l4_value(c->ob, L4_WRP1A) & ~WRP_RANGE) | 0xFFu);
        l4_put(c->ob, L4_WRP1B, (l4_value(c->ob, L4_WRP1B) & ~WRP_RANGE) | 0xFFu);
        return;
    }
    for (unsigned s = 0; s < c->p->info.protect_units; s += 16) {
        unsigned off = l01_wrp_off(s);
        if (off + 4 <= stm32_ob_size(c->p))
            l01_put(c->ob, off, 0);
    }
}

/* Readout Protect (0x82): RDP byte 0x00, i.e. level 1 (the value OpenOCD's stm32lx writes,
 * OPTION_BYTE_0_PR1 0xFFFF0000 [ext]); on the L4 the same byte of OPTR. */
void stm32l_set_read_protect(cwsim_stm32 *c)
{
    if (c->p->family == STM32_L4) {
        uint32_t v = (uint32_t)c->ob[0] | (uint32_t)c->ob[1] << 8 | (uint32_t)c->ob[2] << 16 |
                     (uint32_t)c->ob[3] << 24;
        l4_put(c->ob, L4_OPTR, v & ~0xFFu);
        return;
    }
    l01_put(c->ob, 0, ((unsigned)c->ob[1] << 8) & 0xFF00u);
}

/* After Readout Unprotect: RDP back to level 0; the other option bytes (write protection
 * included) are kept (UNCONFIRMED, as the F2/F4 model does). */
void stm32l_clear_read_protect(cwsim_stm32 *c)
{
    if (c->p->family == STM32_L4) {
        uint32_t v = (uint32_t)c->ob[0] | (uint32_t)c->ob[1] << 8 | (uint32_t)c->ob[2] << 16 |
                     (uint32_t)c->ob[3] << 24;
        l4_put(c->ob, L4_OPTR, (v & ~0xFFu) | RDP_LEVEL0);
        return;
    }
    l01_put(c->ob, 0, (((unsigned)c->ob[1] << 8) & 0xFF00u) | RDP_LEVEL0);
}

/* Mass erase: the L4 bootloader does it (FF FF 00); the L0/L1 have no mass erase — stm32flash
 * 0.7 flags them "no mass erase" and erases every page (§A.6 notes, §A.10). What their
 * bootloaders answer to 44 BB, FF FF 00 is UNCONFIRMED (§A.6): the model NACKs after the
 * checksum and erases nothing. */
int stm32l_mass_erase(const stm32_part *p)
{
    return !l01(p);
}

/* Write Memory into flash. L4 programs 64-bit double words [ext RM0394 §3.3.7]: the model
 * NACKs an address or a length that is not a multiple of 8 (UNCONFIRMED; AN3155 only asks for
 * multiples of 4, the L4 bootloader might pad instead), and a double word that is not erased
 * unless the new value is all zeros (RM0394 PROGERR: "not 0xFFFF FFFF before programming,
 * except when writing 0x0000 0000"); nothing is written then (UNCONFIRMED: the ROM may have
 * written the double words before the bad one). Double words in write-protected pages are
 * skipped (acknowledged, kept, §A.8). L0/L1 take any word-aligned multiple of 4 (§A.4). */
unsigned stm32l_write_align(const stm32_part *p)
{
    return p->family == STM32_L4 ? 8u : 4u;
}

int stm32l_write_refused(const cwsim_stm32 *c, uint32_t off, const uint8_t *data, uint32_t len)
{
    if (c->p->family != STM32_L4)
        return 0;
    if ((off | len) & 7u)
        return 1;
    uint32_t sector = c->p->page_size * c->p->pages_per_sector;
    for (uint32_t i = 0; i < len; i += 8) {
        if (cwsim_stm32_write_protected(c, (off + i) / sector))
            continue;
        int erased = 1, zero = 1;
        for (uint32_t k = 0; k < 8; k++) {
            erased &= c->flash[off + i + k] == 0xFF;
            zero &= data[i + k] == 0x00;
        }
        if (!erased && !zero)
            return 1;
    }
    return 0;
}

/* Time to program len bytes from flash offset off (§A.7b covers only the F-series). L0/L1: a
 * half-page wholly inside the block is one half-page write, other words one word write each,
 * 3.2 ms either way (UNCONFIRMED that the ROM uses half-page programming). L4: 81.69 us per
 * double word. */
uint64_t stm32l_program_ns(const cwsim_stm32 *c, uint32_t off, uint32_t len)
{
    if (len == 0)
        return 0;
    if (c->p->family == STM32_L4)
        return (uint64_t)((len + 7) / 8) * T_L4_DWORD_NS;
    uint32_t half = c->p->page_size / 2, end = off + len, writes = 0;
    for (uint32_t a = off; a < end;) {
        if (a % half == 0 && a + half <= end) {
            writes++;
            a += half;
        } else {
            writes++;
            a = (a & ~3u) + 4;
        }
    }
    return (uint64_t)writes * T_L01_PROG_NS;
}

uint64_t stm32l_page_erase_ns(const stm32_part *p)
{
    return p->family == STM32_L4 ? T_L4_PAGE_NS : T_L01_ERASE_NS;
}

/* L4: the mass erase time. L0/L1 have none; their Readout Unprotect erases every page (the
 * time of a page erase each, UNCONFIRMED). */
uint64_t stm32l_mass_erase_ns(const stm32_part *p)
{
    return p->family == STM32_L4 ? T_L4_MASS_NS : (uint64_t)p->info.erase_units * T_L01_ERASE_NS;
}
