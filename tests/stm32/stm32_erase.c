/* SPDX-License-Identifier: MIT */
/* Erase (0x43) and Extended Erase (0x44) of target-protocols.md §A.4 on the part's layout (§A.6),
 * with the §A.7b typical timings, the slow-erase fault (contract.md §5), the bad-input paths of
 * §A.8 (checksums, page numbers, special codes), and bytes lost while the bootloader erases. */
#include "check.h"
#include "stm32_host.h"

/* Put a non-blank word at the start of each of the given pages/sectors. */
static void mark(host *h, const uint32_t *addrs, size_t n)
{
    const uint8_t w[4] = {0x12, 0x34, 0x56, 0x78};
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(bl_write(h, addrs[i], w, 4), 0);
}

static int blank_at(host *h, uint32_t a)
{
    uint8_t r[4];
    return bl_read(h, a, r, 4) == 0 && all_ff(r, 4);
}

/* The time from the last byte the host sent to the end of the reply's stop bit. */
static uint64_t reply_time(host *h, uint64_t sent)
{
    return h->rx_at[h->rx_len - 1] - sent;
}

static void erase43(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    /* F100: 1 KiB pages (§A.6) */
    const uint32_t pages[] = {0x08000000, 0x08000400, 0x08000800,
                              0x08000C00, 0x08002800, 0x0801FC00};
    mark(&h, pages, 6);
    const unsigned list[] = {0, 2, 127};
    CHECK_EQ_INT(bl_erase_pages(&h, 0x43, list, 3), 0);
    CHECK(blank_at(&h, 0x08000000));
    CHECK(!blank_at(&h, 0x08000400));
    CHECK(blank_at(&h, 0x08000800));
    CHECK(!blank_at(&h, 0x08000C00));
    CHECK(!blank_at(&h, 0x08002800));
    CHECK(blank_at(&h, 0x0801FC00));

    /* timing: 20 ms per page (§A.7b typical), counted once per page */
    CHECK_EQ_INT(bl_cmd(&h, 0x43), ACK);
    host_send(&h, (const uint8_t[]){0x02, 0x01, 0x01, 0x03, 0x01}, 5); /* pages 1, 1, 3 */
    uint64_t sent = h.now;
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
    uint64_t t = reply_time(&h, sent);
    CHECK(t >= 40 * MS && t < 40 * MS + 200000);
    CHECK(blank_at(&h, 0x08000400));
    CHECK(blank_at(&h, 0x08000C00));

    /* bad checksum: NACK, nothing erased */
    CHECK_EQ_INT(bl_cmd(&h, 0x43), ACK);
    host_send(&h, (const uint8_t[]){0x00, 0x0A, 0x00}, 3);
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), NACK);
    CHECK(!blank_at(&h, 0x08002800));
    /* a page number the part does not have: NACK, nothing erased (UNCONFIRMED) */
    const unsigned badlist[] = {10, 128};
    CHECK_EQ_INT(bl_erase_pages(&h, 0x43, badlist, 2), 2);
    CHECK(!blank_at(&h, 0x08002800));
    /* 43 FF then not 00: NACK, nothing erased (§A.8 UNCONFIRMED) */
    CHECK_EQ_INT(bl_cmd(&h, 0x43), ACK);
    host_send(&h, (const uint8_t[]){0xFF, 0x01}, 2);
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), NACK);
    CHECK(!blank_at(&h, 0x08002800));

    /* global erase 43 FF 00: everything, 20 ms */
    mark(&h, pages, 6);
    CHECK_EQ_INT(bl_cmd(&h, 0x43), ACK);
    host_send(&h, (const uint8_t[]){0xFF, 0x00}, 2);
    sent = h.now;
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
    t = reply_time(&h, sent);
    CHECK(t >= 20 * MS && t < 20 * MS + 200000);
    uint8_t *all = malloc(128 * 1024);
    if (all != NULL) {
        CHECK_EQ_INT(cwsim_stm32_peek(h.chip, 0x08000000, all, 128 * 1024), 128 * 1024);
        CHECK(all_ff(all, 128 * 1024));
        free(all);
    }
    /* 0x44 is not this chip's erase command */
    CHECK_EQ_INT(bl_cmd(&h, 0x44), NACK);
    cwsim_stm32_counters cnt;
    cwsim_stm32_counters_get(h.chip, &cnt);
    CHECK(cnt.flash_ns >= 20 * MS * 5);
    host_close(&h);
}

static void erase44(void)
{
    host h;
    if (host_open(&h, "stm32f415xg") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    /* F4 sectors (§A.6 notes): 0-3 16 KiB, 4 64 KiB, 5-11 128 KiB */
    const uint32_t sec[] = {0x08000000, 0x08004000, 0x0800C000, 0x08010000,
                            0x08020000, 0x080E0000, 0x080FFFFC};
    mark(&h, sec, 7);
    CHECK_EQ_INT(bl_cmd(&h, 0x44), ACK); /* sectors 0 and 5 */
    host_send(&h, (const uint8_t[]){0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x04}, 7);
    uint64_t sent = h.now;
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
    uint64_t t = reply_time(&h, sent);
    CHECK(t >= 2400 * MS && t < 2400 * MS + 200000); /* 0.4 s + 2 s (§A.7b) */
    CHECK(blank_at(&h, 0x08000000));
    CHECK(!blank_at(&h, 0x08004000));
    CHECK(!blank_at(&h, 0x0800C000));
    CHECK(!blank_at(&h, 0x08010000));
    CHECK(blank_at(&h, 0x08020000));
    CHECK(!blank_at(&h, 0x080E0000));
    /* sector 4 (64 KiB): 1.1 s; sector 11, the last: 2 s */
    const unsigned l2[] = {4, 11};
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, l2, 2), 0);
    CHECK(blank_at(&h, 0x08010000));
    CHECK(blank_at(&h, 0x080E0000));
    CHECK(blank_at(&h, 0x080FFFFC));
    CHECK(!blank_at(&h, 0x08004000));

    /* special codes: bank erases on a single-bank part and the reserved codes NACK
     * (UNCONFIRMED); a wrong checksum after FF FF NACKs; nothing is erased */
    static const uint8_t special[][3] = {{0xFF, 0xFE, 0x01}, {0xFF, 0xFD, 0x02},
                                         {0xFF, 0xF0, 0x0F}, {0xFF, 0xFC, 0x03},
                                         {0xFF, 0xFF, 0x01}, {0xFF, 0xFF, 0xFF}};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        CHECK_EQ_INT(bl_cmd(&h, 0x44), ACK);
        host_send(&h, special[i], 3);
        CHECK_EQ_INT(host_byte(&h, LONGWAIT), NACK);
    }
    CHECK(!blank_at(&h, 0x08004000));
    /* sector 12 does not exist on a 1 MiB part: NACK, sector 1 stays */
    const unsigned bad[] = {1, 12};
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, bad, 2), 2);
    CHECK(!blank_at(&h, 0x08004000));
    /* list checksum wrong */
    CHECK_EQ_INT(bl_cmd(&h, 0x44), ACK);
    host_send(&h, (const uint8_t[]){0x00, 0x00, 0x00, 0x01, 0x00}, 5);
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), NACK);
    CHECK(!blank_at(&h, 0x08004000));

    /* mass erase 44 FF FF 00: about 16 s for 1 MiB (§A.7b) */
    CHECK_EQ_INT(bl_cmd(&h, 0x44), ACK);
    host_send(&h, (const uint8_t[]){0xFF, 0xFF, 0x00}, 3);
    sent = h.now;
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
    t = reply_time(&h, sent);
    CHECK(t >= 16 * SEC && t < 16 * SEC + 200000);
    CHECK(blank_at(&h, 0x08004000));
    CHECK_EQ_INT(bl_cmd(&h, 0x43), NACK); /* not this chip's */
    host_close(&h);

    /* an F0 with 0x44 and 1 KiB pages: page numbers, not sectors */
    if (host_open(&h, "stm32f030x6") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    const uint32_t p[] = {0x08007C00, 0x08007800};
    mark(&h, p, 2);
    const unsigned l3[] = {31};
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, l3, 1), 0);
    CHECK(blank_at(&h, 0x08007C00));
    CHECK(!blank_at(&h, 0x08007800));
    const unsigned l4[] = {32};
    CHECK_EQ_INT(bl_erase_pages(&h, 0x44, l4, 1), 2);
    host_close(&h);
}

/* contract.md §5 slow-erase[=F]: erase time x F (default 10), still succeeds */
static void slow_erase(void)
{
    static const struct {
        const char *fault;
        uint64_t page_ns;
    } cases[] = {{"slow-erase", 200 * MS}, {"slow-erase=3", 60 * MS}, {NULL, 20 * MS}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const f[] = {cases[i].fault, NULL};
        host h;
        if (host_open_in(&h, "stm32f100xb", NULL, f) != 0 || host_bootloader(&h) != 0) {
            CHECK(0);
            continue;
        }
        const uint32_t a[] = {0x08000000};
        mark(&h, a, 1);
        CHECK_EQ_INT(bl_cmd(&h, 0x43), ACK);
        host_send(&h, (const uint8_t[]){0x00, 0x00, 0x00}, 3);
        uint64_t sent = h.now;
        CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
        uint64_t t = reply_time(&h, sent);
        CHECK(t >= cases[i].page_ns && t < cases[i].page_ns + 200000);
        CHECK(blank_at(&h, 0x08000000));
        /* mass erase scales too */
        CHECK_EQ_INT(bl_cmd(&h, 0x43), ACK);
        host_send(&h, (const uint8_t[]){0xFF, 0x00}, 2);
        sent = h.now;
        CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
        t = reply_time(&h, sent);
        CHECK(t >= cases[i].page_ns && t < cases[i].page_ns + 200000);
        /* programming does not: a 4-byte write takes 2 x 52.5 us */
        CHECK_EQ_INT(bl_cmd(&h, 0x31), ACK);
        CHECK_EQ_INT(bl_addr(&h, 0x08000000), ACK);
        host_send(&h, (const uint8_t[]){0x03, 0x00, 0x00, 0x00, 0x00, 0x03}, 6);
        sent = h.now;
        CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
        t = reply_time(&h, sent);
        CHECK(t >= 2 * 52500 && t < 2 * 52500 + 200000);
        host_close(&h);
    }
}

/* contract.md §5: the receive register holds one byte; while the bootloader erases, the first byte
 * that arrives waits there and the rest are lost. */
static void overrun_while_erasing(void)
{
    host h;
    if (host_open(&h, "stm32f100xb") != 0 || host_bootloader(&h) != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(bl_cmd(&h, 0x43), ACK);
    host_send(&h, (const uint8_t[]){0xFF, 0x00}, 2); /* mass erase: 20 ms */
    /* a host that does not wait for the ACK: Get Version, then Get ID */
    host_send(&h, (const uint8_t[]){0x01, 0xFE, 0x02, 0xFD}, 4);
    CHECK_EQ_INT(host_byte(&h, LONGWAIT), ACK);
    cwsim_stm32_counters cnt;
    cwsim_stm32_counters_get(h.chip, &cnt);
    CHECK_EQ_INT(cnt.rx_overruns, 3);
    uint8_t r[8];
    CHECK_EQ_INT(host_recv(&h, r, 1, 100 * MS), 0); /* 0x01 waits for its complement */
    host_send1(&h, 0xFE);
    CHECK_EQ_INT(host_recv(&h, r, 5, SEC), 5);
    CHECK_EQ_INT(r[0], ACK);
    CHECK_EQ_INT(r[1], 0x22);
    host_close(&h);
}

int main(void)
{
    erase43();
    erase44();
    slow_erase();
    overrun_while_erasing();
    return check_report("stm32_erase");
}
