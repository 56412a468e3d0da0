/* SPDX-License-Identifier: MIT */
/* The L0, L1 and L4 parts: geometry of target-protocols.md §A.6 rows 0x417, 0x416 and
 * 0x435, and what the model takes from ST's reference manuals [ext] (sim/stm32/
 * stm32_lseries.c, docs/simulator-stm32.md): L0/L1 flash erasing to 0x00 and programming that
 * only sets bits, no mass erase on L0/L1 (a NACK, UNCONFIRMED), L4 double-word programming,
 * the L0/L1 and L4 option-byte layouts with their protection semantics, flash timings, the
 * information block (flash-size register, unique ID) and persistence of the larger option
 * areas. */
#include "check.h"
#include "stm32_host.h"

#define L0     "stm32l051x8"
#define L1     "stm32l151xb"
#define L4     "stm32l433xc"
#define FLASH  0x08000000u
#define OB_L01 0x1FF80000u
#define OB_L4  0x1FFF7800u
#define T_L01  3200000ull /* [ext] 3.2 ms: L0/L1 page erase, word or half-page write */

static int all_of(const uint8_t *b, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return 0;
    return 1;
}

/* After a self-reset (§A.4): a fresh bootloader that needs a new 0x7F (§A.9). */
static int resynced(host *h)
{
    host_wait(h, 5 * MS);
    if (cwsim_stm32_get_mode(h->chip) != CWSIM_STM32_BOOTLOADER)
        return 0;
    return bl_sync(h) == ACK;
}

/* The time from the last byte sent to the last reply byte's stop bit. */
static uint64_t reply_time(const host *h, uint64_t sent)
{
    return h->rx_at[h->rx_len - 1] - sent;
}

/* Extended Erase of a page list longer than stm32_host.h's buffer holds (§A.4 frame). */
static int erase_list(host *h, const unsigned *pages, unsigned n)
{
    static uint8_t b[2 + 2 * 1024 + 1];
    size_t k = 0;
    b[k++] = (uint8_t)((n - 1) >> 8);
    b[k++] = (uint8_t)(n - 1);
    for (unsigned i = 0; i < n; i++) {
        b[k++] = (uint8_t)(pages[i] >> 8);
        b[k++] = (uint8_t)pages[i];
    }
    uint8_t x = 0;
    for (size_t i = 0; i < k; i++)
        x ^= b[i];
    b[k++] = x;
    if (bl_cmd(h, 0x44) != ACK)
        return 1;
    host_send(h, b, k);
    int r = host_byte(h, LONGWAIT);
    return r == ACK ? 0 : r == NACK ? 2 : -1;
}

static int open_bl(host *h, const char *part)
{
    if (host_open(h, part) != 0 || host_bootloader(h) != 0) {
        CHECK(0);
        return -1;
    }
    return 0;
}

/* Erased value, programming that only sets bits, page erase to 0x00, timings. */
static void l01_flash(const char *part, uint32_t page)
{
    host h;
    if (open_bl(&h, part) != 0)
        return;
    uint8_t d[256], r[256];
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 256), 0);
    CHECK(all_of(r, 256, 0x00)); /* a new chip is erased: 0x00 */
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_SYNCED);

    /* a 256-byte aligned block: whole half-pages, 3.2 ms each (L0 64 B: 4, L1 128 B: 2) */
    fill_pattern(d, sizeof d, 3);
    CHECK_EQ_INT(bl_cmd(&h, 0x31), ACK);
    CHECK_EQ_INT(bl_addr(&h, FLASH), ACK);
    uint8_t blk[258];
    blk[0] = 0xFF;
    uint8_t x = 0xFF;
    for (unsigned i = 0; i < 256; i++) {
        blk[1 + i] = d[i];
        x ^= d[i];
    }
    blk[257] = x;
    host_send(&h, blk, sizeof blk);
    uint64_t sent = h.now;
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    uint64_t t = reply_time(&h, sent), want = (256 / (page / 2)) * T_L01;
    CHECK(t >= want && t < want + 300000);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 256), 0);
    CHECK_MEM(r, d, 256);

    /* a single word (0F 0F 00 01) in page 4 costs one word write */
    uint32_t p4 = FLASH + 4 * page;
    CHECK_EQ_INT(bl_cmd(&h, 0x31), ACK);
    CHECK_EQ_INT(bl_addr(&h, p4), ACK);
    host_send(&h, (const uint8_t[]){0x03, 0x0F, 0x0F, 0x00, 0x01, 0x03 ^ 0x01}, 6);
    sent = h.now;
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    t = reply_time(&h, sent);
    CHECK(t >= T_L01 && t < T_L01 + 300000);
    /* written again without an erase: bits only go 0 -> 1 (the OR, UNCONFIRMED) */
    const uint8_t w2[4] = {0xF0, 0x01, 0x00, 0x02};
    CHECK_EQ_INT(bl_write(&h, p4, w2, 4), 0);
    CHECK_EQ_INT(bl_read(&h, p4, r, 4), 0);
    CHECK_EQ_INT(r[0], 0xFF);
    CHECK_EQ_INT(r[1], 0x0F);
    CHECK_EQ_INT(r[2], 0x00);
    CHECK_EQ_INT(r[3], 0x03);

    /* page erase (Extended Erase list of page 4): the page reads 0x00, 3.2 ms per page; the
     * other pages keep their bytes */
    const unsigned p4list[] = {4};
    CHECK_EQ_INT(bl_cmd(&h, 0x44), ACK);
    host_send(&h, (const uint8_t[]){0x00, 0x00, 0x00, 0x04, 0x04}, 5);
    sent = h.now;
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    t = reply_time(&h, sent);
    CHECK(t >= T_L01 && t < T_L01 + 300000);
    CHECK_EQ_INT(bl_read(&h, p4, r, 4), 0);
    CHECK(all_of(r, 4, 0x00));
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 256), 0);
    CHECK_MEM(r, d, 256);
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, p4list, 1), 0); /* an erased page again: fine */

    /* no mass erase: 44 BB, then FF FF 00 is NACKed and nothing is erased (UNCONFIRMED) */
    CHECK_EQ_INT(bl_mass_erase(&h, 0x44), 2);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 256), 0);
    CHECK_MEM(r, d, 256);
    CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK); /* still synced, waiting for a command */
    CHECK_EQ_INT(host_recv(&h, r, 4, SEC), 4);

    /* every page instead, as stm32flash 0.7 does (§A.10): 511 + 1 pages */
    const cwsim_stm32_part_info *pi = cwsim_stm32_part(h.chip);
    static unsigned pages[512];
    CHECK_EQ_INT(pi->erase_units, 512);
    for (unsigned i = 0; i < 512; i++)
        pages[i] = i;
    sent = h.now;
    CHECK_EQ_INT(erase_list(&h, pages, 511), 0);
    t = reply_time(&h, sent);
    CHECK(t >= 511 * T_L01);
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, pages + 511, 1), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 256), 0);
    CHECK(all_of(r, 256, 0x00));
    /* a page the part does not have: NACK (as on the F-series) */
    const unsigned bad[] = {512};
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, bad, 1), 2);
    /* the erased chip is blank: BOOT0 low halts the core */
    cwsim_stm32_set_boot0(h.chip, 0, h.now);
    host_reset(&h);
    CHECK_EQ_INT(cwsim_stm32_get_mode(h.chip), CWSIM_STM32_HALTED);
    host_close(&h);
}

/* Double-word programming, mass erase, timings. */
static void l4_flash(void)
{
    host h;
    if (open_bl(&h, L4) != 0)
        return;
    uint8_t d[256], r[256];
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 256), 0);
    CHECK(all_ff(r, 256));
    fill_pattern(d, sizeof d, 11);
    d[0] = 0x00; /* not all-0xFF: rewriting this double word must be refused */

    /* 256 bytes: 32 double words, 81.69 us each [ext] */
    CHECK_EQ_INT(bl_cmd(&h, 0x31), ACK);
    CHECK_EQ_INT(bl_addr(&h, FLASH), ACK);
    uint8_t blk[258];
    blk[0] = 0xFF;
    uint8_t x = 0xFF;
    for (unsigned i = 0; i < 256; i++) {
        blk[1 + i] = d[i];
        x ^= d[i];
    }
    blk[257] = x;
    host_send(&h, blk, sizeof blk);
    uint64_t sent = h.now;
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    uint64_t t = reply_time(&h, sent);
    CHECK(t >= 32 * 81690ull && t < 32 * 81690ull + 300000);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 256), 0);
    CHECK_MEM(r, d, 256);

    /* a length that is not a multiple of 8: NACK after the data, nothing written */
    const uint8_t four[4] = {1, 2, 3, 4};
    CHECK_EQ_INT(bl_write(&h, FLASH + 0x800, four, 4), 3);
    CHECK_EQ_INT(bl_read(&h, FLASH + 0x800, r, 8), 0);
    CHECK(all_ff(r, 8));
    const uint8_t twelve[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    CHECK_EQ_INT(bl_write(&h, FLASH + 0x800, twelve, 12), 3);
    CHECK_EQ_INT(bl_read(&h, FLASH + 0x800, r, 12), 0);
    CHECK(all_ff(r, 12));
    /* an address that is not double-word aligned: NACK after the address */
    const uint8_t eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_EQ_INT(bl_write(&h, FLASH + 0x804, eight, 8), 2);
    CHECK_EQ_INT(bl_write(&h, FLASH + 0x808, eight, 8), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH + 0x808, r, 8), 0);
    CHECK_MEM(r, eight, 8);
    /* RAM takes words as before */
    CHECK_EQ_INT(bl_write(&h, 0x20004000, four, 4), 0);
    CHECK_EQ_INT(bl_write(&h, 0x20004004, four, 4), 0);

    /* a double word that is not erased: refused, unless the new value is all zeros
     * (RM0394 PROGERR [ext]); nothing of the block is written */
    uint8_t two[16];
    memset(two, 0x09, 8);
    memcpy(two + 8, eight, 8);
    CHECK_EQ_INT(bl_write(&h, FLASH + 0x808, two, 16), 3); /* 0x808 programmed, 0x810 not */
    CHECK_EQ_INT(bl_read(&h, FLASH + 0x808, r, 16), 0);
    CHECK_MEM(r, eight, 8);
    CHECK(all_ff(r + 8, 8));
    const uint8_t zeros[8] = {0};
    CHECK_EQ_INT(bl_write(&h, FLASH + 0x808, zeros, 8), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH + 0x808, r, 8), 0);
    CHECK(all_of(r, 8, 0x00));

    /* page erase: 22.02 ms per 2 KiB page [ext] */
    const unsigned p1[] = {1};
    sent = h.now;
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, p1, 1), 0);
    t = reply_time(&h, sent);
    CHECK(t >= 22020000ull && t < 22020000ull + 2 * MS); /* + the list on the wire */
    CHECK_EQ_INT(bl_read(&h, FLASH + 0x808, r, 8), 0);
    CHECK(all_ff(r, 8));
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 8), 0);
    CHECK_MEM(r, d, 8);

    /* the L4 has a mass erase: 22.13 ms [ext] */
    CHECK_EQ_INT(bl_cmd(&h, 0x44), ACK);
    host_send(&h, (const uint8_t[]){0xFF, 0xFF, 0x00}, 3);
    sent = h.now;
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    t = reply_time(&h, sent);
    CHECK(t >= 22130000ull && t < 22130000ull + 300000);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 256), 0);
    CHECK(all_ff(r, 256));
    /* a single bank: bank erases are NACKed, as on the F-series */
    CHECK_EQ_INT(bl_cmd(&h, 0x44), ACK);
    host_send(&h, (const uint8_t[]){0xFF, 0xFE, 0x01}, 3);
    CHECK_EQ_INT(host_reply(&h), NACK);
    host_close(&h);
}

/* Option bytes, flash-size register and unique ID as the host reads them. */
static void l_info_block(void)
{
    host h;
    uint8_t r[64];
    /* L0/L1: 32-bit words, value in the low half-word, complement in the high one */
    const char *const l01[] = {L0, L1};
    for (int k = 0; k < 2; k++) {
        if (open_bl(&h, l01[k]) != 0)
            return;
        CHECK_EQ_INT(bl_read(&h, OB_L01, r, 32), 0);
        CHECK_MEM(r, ((const uint8_t[]){0xAA, 0x00, 0x55, 0xFF}), 4); /* RDP level 0 */
        CHECK_EQ_INT(r[4] ^ r[6], 0xFF);                              /* USER + complement */
        CHECK_EQ_INT(r[5] ^ r[7], 0xFF);
        for (int w = 2; w < 8; w++)
            CHECK_MEM(r + 4 * w, ((const uint8_t[]){0x00, 0x00, 0xFF, 0xFF}), 4);
        /* the area ends at 0x1FF8001F (§A.6) */
        CHECK_EQ_INT(bl_read(&h, OB_L01 + 0x1C, r, 8), 3);
        CHECK_EQ_INT(bl_read(&h, OB_L01 + 0x20, r, 4), 2);
        /* unique ID: words at 0x1FF80050, 0x1FF80054 and 0x1FF80064 [ext] */
        uint8_t id[4];
        CHECK_EQ_INT(bl_read(&h, 0x1FF80050, id, 4), 0);
        CHECK_MEM(id, "CWSI", 4);
        CHECK_EQ_INT(bl_read(&h, 0x1FF80064, id, 4), 0);
        CHECK_MEM(id, "M32\x01", 4);
        CHECK_EQ_INT(bl_read(&h, 0x1FF80058, id, 4), 0);
        CHECK(all_of(id, 4, 0x00));
        /* system memory 0x1FF00000-0x1FF01000 (§A.6) */
        CHECK_EQ_INT(bl_read(&h, 0x1FF00FFC, id, 4), 0);
        CHECK_EQ_INT(bl_read(&h, 0x1FF01000, id, 4), 2);
        /* Get: the Extended Erase, bootloader 0x31 (UNCONFIRMED) */
        uint8_t g[16];
        CHECK_EQ_INT(bl_cmd(&h, 0x00), ACK);
        CHECK_EQ_INT(host_recv(&h, g, 14, SEC), 14);
        CHECK_EQ_INT(g[1], 0x31);
        CHECK_EQ_INT(g[8], 0x44);
        host_close(&h);
    }
    /* L4: double words, value then complement, 0x1FFF7800-0x1FFF7827 [ext RM0394] */
    if (open_bl(&h, L4) != 0)
        return;
    CHECK_EQ_INT(bl_read(&h, OB_L4, r, 40), 0);
    CHECK_MEM(r, ((const uint8_t[]){0xAA, 0xF8, 0xEF, 0xFF, 0x55, 0x07, 0x10, 0x00}), 8);
    CHECK_MEM(r + 0x18, ((const uint8_t[]){0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF}), 8);
    CHECK_MEM(r + 0x20, ((const uint8_t[]){0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF}), 8);
    CHECK_EQ_INT(bl_read(&h, OB_L4 + 0x28, r, 4), 2);
    /* OTP 0x1FFF7000-0x1FFF73FF reads 0xFF; unique ID at 0x1FFF7590 */
    CHECK_EQ_INT(bl_read(&h, 0x1FFF7000, r, 16), 0);
    CHECK(all_ff(r, 16));
    CHECK_EQ_INT(bl_read(&h, 0x1FFF7590, r, 12), 0);
    CHECK_MEM(r, "CWSIM", 5);
    CHECK_EQ_INT(r[5], 0x35); /* the PID's low byte */
    host_close(&h);
}

/* L0/L1 protection: WRP bits set = protected, RDP 0xAA with its complement. */
static void l01_protection(const char *part)
{
    host h;
    if (open_bl(&h, part) != 0)
        return;
    const cwsim_stm32_part_info *pi = cwsim_stm32_part(h.chip);
    uint32_t sector = pi->flash_size / pi->protect_units; /* 4 KiB on both (§A.6) */
    CHECK_EQ_INT(sector, 4096);
    uint8_t d[16], r[16];
    fill_pattern(d, sizeof d, 7);
    for (unsigned s = 0; s < pi->protect_units; s++)
        CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, s), 0);

    /* Write Protect sector 1 (and a bogus 200): ACK, ACK, reset; WRP1 bit 1 set */
    CHECK_EQ_INT(bl_cmd(&h, 0x63), ACK);
    host_send(&h, (const uint8_t[]){0x01, 0x01, 200, 0x01 ^ 0x01 ^ 200}, 4);
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 1), 1);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 0), 0);
    CHECK_EQ_INT(bl_read(&h, OB_L01 + 8, r, 4), 0);
    CHECK_MEM(r, ((const uint8_t[]){0x02, 0x00, 0xFD, 0xFF}), 4);
    /* a write into it is acknowledged and kept (§A.8); so is a page erase */
    CHECK_EQ_INT(bl_write(&h, FLASH + sector, d, 16), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH + sector, r, 16), 0);
    CHECK(all_of(r, 16, 0x00));
    CHECK_EQ_INT(bl_write(&h, FLASH, d, 16), 0);
    unsigned page0 = 0;
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, &page0, 1), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 16), 0);
    CHECK(all_of(r, 16, 0x00));

    /* Write Unprotect: WRP words back to 0 */
    CHECK_EQ_INT(bl_cmd(&h, 0x73), ACK);
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 1), 0);
    CHECK_EQ_INT(bl_read(&h, OB_L01 + 8, r, 4), 0);
    CHECK_MEM(r, ((const uint8_t[]){0x00, 0x00, 0xFF, 0xFF}), 4);

    /* Write Memory to the option bytes: WRP with a wrong complement reads as all ones: all
     * sixteen sectors of that word protected (UNCONFIRMED) */
    CHECK_EQ_INT(bl_write(&h, OB_L01 + 8, (const uint8_t[]){0x01, 0x00, 0x00, 0x00}, 4), 0);
    CHECK(resynced(&h));
    for (unsigned s = 0; s < 16; s++)
        CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, s), 1);
    CHECK_EQ_INT(bl_write(&h, OB_L01 + 8, (const uint8_t[]){0x00, 0x00, 0xFF, 0xFF}, 4), 0);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 0), 0);

    /* Readout Protect: RDP 0x00 with its complement (OpenOCD's PR1 0xFFFF0000) */
    CHECK_EQ_INT(bl_write(&h, FLASH, d, 16), 0);
    CHECK_EQ_INT(bl_cmd(&h, 0x82), ACK);
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 1);
    CHECK_EQ_INT(cwsim_stm32_peek(h.chip, OB_L01, r, 4), 4);
    CHECK_MEM(r, ((const uint8_t[]){0x00, 0x00, 0xFF, 0xFF}), 4);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 4), 1);
    CHECK_EQ_INT(bl_cmd(&h, 0x44), NACK);
    /* Readout Unprotect: every page erased to 0x00 (512 x 3.2 ms, UNCONFIRMED), RDP 0xAA */
    CHECK_EQ_INT(bl_cmd(&h, 0x92), ACK);
    uint64_t sent = h.now;
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
    uint64_t t = reply_time(&h, sent);
    CHECK(t >= 512 * T_L01 && t < 512 * T_L01 + 300000);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 16), 0);
    CHECK(all_of(r, 16, 0x00));
    CHECK_EQ_INT(bl_read(&h, OB_L01, r, 4), 0);
    CHECK_MEM(r, ((const uint8_t[]){0xAA, 0x00, 0x55, 0xFF}), 4);

    /* an RDP whose complement does not match: read protection on (UNCONFIRMED) */
    CHECK_EQ_INT(bl_write(&h, OB_L01, (const uint8_t[]){0xAA, 0x00, 0x00, 0xFF}, 4), 0);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 1);
    host_close(&h);
}

/* L4 protection: two page ranges WRP1AR/WRP1BR, RDP in OPTR. */
static void l4_protection(void)
{
    host h;
    if (open_bl(&h, L4) != 0)
        return;
    uint8_t d[16], r[16];
    fill_pattern(d, sizeof d, 13);
    /* Write Protect pages 5 and 3: area A becomes 3..5 (the hull, UNCONFIRMED) */
    CHECK_EQ_INT(bl_cmd(&h, 0x63), ACK);
    host_send(&h, (const uint8_t[]){0x01, 0x05, 0x03, 0x01 ^ 0x05 ^ 0x03}, 4);
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    CHECK(resynced(&h));
    for (unsigned s = 0; s < 8; s++)
        CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, s), s >= 3 && s <= 5);
    CHECK_EQ_INT(bl_read(&h, OB_L4 + 0x18, r, 8), 0);
    CHECK_MEM(r, ((const uint8_t[]){0x03, 0x00, 0x05, 0x00, 0xFC, 0xFF, 0xFA, 0xFF}), 8);
    /* area B set through the option bytes: pages 9..10 */
    CHECK_EQ_INT(bl_write(&h, OB_L4 + 0x20,
                          (const uint8_t[]){0x09, 0x00, 0x0A, 0x00, 0xF6, 0xFF, 0xF5, 0xFF}, 8),
                 0);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 9), 1);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 10), 1);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 11), 0);
    /* a write into page 4 is acknowledged and kept; a mass erase erases nothing (§A.8) */
    CHECK_EQ_INT(bl_write(&h, FLASH, d, 16), 0);
    CHECK_EQ_INT(bl_write(&h, FLASH + 4 * 2048, d, 16), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH + 4 * 2048, r, 16), 0);
    CHECK(all_ff(r, 16));
    CHECK_EQ_INT(bl_mass_erase(&h, 0x44), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 16), 0);
    CHECK_MEM(r, d, 16);
    /* Write Unprotect: both areas off */
    CHECK_EQ_INT(bl_cmd(&h, 0x73), ACK);
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    CHECK(resynced(&h));
    for (unsigned s = 0; s < 128; s++)
        CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, s), 0);
    /* Readout Protect / Unprotect: RDP byte of OPTR; the unprotect mass-erases (22.13 ms) */
    CHECK_EQ_INT(bl_cmd(&h, 0x82), ACK);
    CHECK_EQ_INT(host_byte(&h, SEC), ACK);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 1);
    CHECK_EQ_INT(cwsim_stm32_peek(h.chip, OB_L4, r, 8), 8);
    CHECK_MEM(r, ((const uint8_t[]){0x00, 0xF8, 0xEF, 0xFF, 0xFF, 0x07, 0x10, 0x00}), 8);
    CHECK_EQ_INT(bl_cmd(&h, 0x92), ACK);
    uint64_t sent = h.now;
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
    uint64_t t = reply_time(&h, sent);
    CHECK(t >= 22130000ull && t < 22130000ull + 300000);
    CHECK(resynced(&h));
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 0);
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 16), 0);
    CHECK(all_ff(r, 16));
    host_close(&h);
}

/* The persistent faults and the state folder with the larger option areas. */
static void l_state(void)
{
    host h;
    const char *const wp[] = {"write-protected=1-2", NULL};
    if (host_open_in(&h, L0, "", wp) != 0) {
        CHECK(0);
        return;
    }
    char dir[128];
    snprintf(dir, sizeof dir, "%s", h.dir);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 1), 1);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 2), 1);
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 3), 0);
    host_close(&h);
    char path[200];
    snprintf(path, sizeof path, "%s/%s.optbytes", dir, L0);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(fseek(f, 0, SEEK_END) == 0);
        CHECK_EQ_INT(ftell(f), 32);
        fclose(f);
    }
    /* reopened without the fault: still protected, flash still 0x00 */
    if (host_open_in(&h, L0, dir, NULL) != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, 2), 1);
    uint8_t r[8];
    CHECK_EQ_INT(bl_read(&h, FLASH, r, 8), 0);
    CHECK(all_of(r, 8, 0x00));
    host_close(&h);
    host_remove_dir(dir);

    /* L4: write-protected=0-3,7 is one range, 0..7 (two areas cannot hold a list); the
     * optbytes blob is 40 bytes; read-protected sets RDP 0x00 */
    const char *const l4f[] = {"write-protected=0-3,7", "read-protected", NULL};
    if (host_open_in(&h, L4, "", l4f) != 0) {
        CHECK(0);
        return;
    }
    snprintf(dir, sizeof dir, "%s", h.dir);
    for (unsigned s = 0; s < 10; s++)
        CHECK_EQ_INT(cwsim_stm32_write_protected(h.chip, s), s <= 7);
    CHECK_EQ_INT(cwsim_stm32_read_protected(h.chip), 1);
    host_close(&h);
    snprintf(path, sizeof path, "%s/%s.optbytes", dir, L4);
    f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(fseek(f, 0, SEEK_END) == 0);
        CHECK_EQ_INT(ftell(f), 40);
        fclose(f);
    }
    host_remove_dir(dir);
}

int main(void)
{
    l01_flash(L0, 128); /* §A.6 0x417: 128-byte pages */
    l01_flash(L1, 256); /* §A.6 0x416: 256-byte pages */
    l4_flash();
    l_info_block();
    l01_protection(L0);
    l01_protection(L1);
    l4_protection();
    l_state();
    return check_report("stm32_lparts");
}
