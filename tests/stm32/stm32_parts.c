/* SPDX-License-Identifier: MIT */
/* The STM32 part table (target-protocols.md §A.6) and name lookup (contract.md §3): every part's
 * ID, flash, RAM, erase command, the flash-size register read through the bootloader, and the
 * recipe/PLATFORM aliases. */
#include "check.h"
#include "stm32_host.h"

typedef struct want {
    const char *name;
    uint16_t pid;
    uint32_t flash_kib;
    uint8_t erase;
    uint32_t ram_start, ram_end;
    uint32_t fsize_addr; /* [ext] reference manuals */
    unsigned units;
    uint32_t ob_size; /* option bytes: 16 (F), 32 (L0/L1 §A.6), 40 (L4 [ext RM0394]) */
    uint8_t erased;   /* 0xFF; L0/L1 0x00 [ext RM0377/RM0038] */
} want;

static const want parts[] = {
    {"stm32f030x6", 0x444, 32, 0x44, 0x20000800, 0x20001000, 0x1FFFF7CC, 32, 16, 0xFF},
    {"stm32f051x8", 0x440, 64, 0x44, 0x20000800, 0x20002000, 0x1FFFF7CC, 64, 16, 0xFF},
    {"stm32f071xb", 0x448, 128, 0x44, 0x20001800, 0x20004000, 0x1FFFF7CC, 64, 16, 0xFF},
    {"stm32f100xb", 0x420, 128, 0x43, 0x20000200, 0x20002000, 0x1FFFF7E0, 128, 16, 0xFF},
    {"stm32f103xb", 0x410, 128, 0x43, 0x20000200, 0x20005000, 0x1FFFF7E0, 128, 16, 0xFF},
    {"stm32f205xe", 0x411, 512, 0x44, 0x20002000, 0x20020000, 0x1FFF7A22, 8, 16, 0xFF},
    {"stm32f303xc", 0x422, 256, 0x44, 0x20001400, 0x2000A000, 0x1FFFF7CC, 128, 16, 0xFF},
    {"stm32f415xg", 0x413, 1024, 0x44, 0x20003000, 0x20020000, 0x1FFF7A22, 12, 16, 0xFF},
    /* the L parts: §A.6 rows 0x417, 0x416, 0x435; flash-size registers [ext] */
    {"stm32l051x8", 0x417, 64, 0x44, 0x20001000, 0x20002000, 0x1FF8007C, 512, 32, 0x00},
    {"stm32l151xb", 0x416, 128, 0x44, 0x20000800, 0x20004000, 0x1FF8004C, 512, 32, 0x00},
    {"stm32l433xc", 0x435, 256, 0x44, 0x20003100, 0x2000C000, 0x1FFF75E0, 128, 40, 0xFF},
};

static int all_of(const uint8_t *b, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != v)
            return 0;
    return 1;
}

static void table(void)
{
    CHECK_EQ_INT(cwsim_stm32_part_count(), sizeof parts / sizeof parts[0]);
    CHECK(cwsim_stm32_part_at(cwsim_stm32_part_count()) == NULL);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        const cwsim_stm32_part_info *p = cwsim_stm32_part_find(parts[i].name);
        CHECK(p != NULL);
        if (p == NULL)
            continue;
        CHECK(strcmp(p->name, parts[i].name) == 0);
        CHECK_EQ_INT(p->pid, parts[i].pid);
        CHECK_EQ_INT(p->flash_start, 0x08000000);
        CHECK_EQ_INT(p->flash_size, parts[i].flash_kib * 1024);
        CHECK_EQ_INT(p->erase_command, parts[i].erase);
        CHECK_EQ_INT(p->ram_start, parts[i].ram_start);
        CHECK_EQ_INT(p->ram_end, parts[i].ram_end);
        CHECK_EQ_INT(p->erase_units, parts[i].units);
        CHECK(p->option_end - p->option_start == parts[i].ob_size);
        CHECK(p->device != NULL && p->device[0] != '\0');
    }
}

static void aliases(void)
{
    static const char *const a[][2] = {
        {"stm32f0", "stm32f071xb"},       {"stm32f1", "stm32f100xb"},
        {"stm32f2", "stm32f205xe"},       {"stm32f3", "stm32f303xc"},
        {"stm32f4", "stm32f415xg"},       {"CW308_STM32F0", "stm32f071xb"},
        {"CWNANO", "stm32f030x6"},        {"CW308_STM32F1", "stm32f100xb"},
        {"CW308_STM32F2", "stm32f205xe"}, {"CW308_STM32F3", "stm32f303xc"},
        {"CWLITEARM", "stm32f303xc"},     {"CW308_STM32F4", "stm32f415xg"},
        {"cwlitearm", "stm32f303xc"},     {"STM32F100XB", "stm32f100xb"},
        {"Stm32F1", "stm32f100xb"},       {"stm32l0", "stm32l051x8"},
        {"STM32L1", "stm32l151xb"},       {"stm32l4", "stm32l433xc"},
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        const cwsim_stm32_part_info *p = cwsim_stm32_part_find(a[i][0]);
        CHECK(p != NULL && strcmp(p->name, a[i][1]) == 0);
    }
    CHECK(cwsim_stm32_part_find("stm32f9") == NULL);
    CHECK(cwsim_stm32_part_find("") == NULL);
    CHECK(cwsim_stm32_part_find(NULL) == NULL);
    CHECK(cwsim_stm32_part_find("atxmega128d4") == NULL);
}

/* Get ID, Get and the flash-size register through the bootloader, per part. */
static void through_bootloader(void)
{
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        host h;
        if (host_open(&h, parts[i].name) != 0) {
            CHECK(0);
            continue;
        }
        CHECK_EQ_INT(host_bootloader(&h), 0);
        uint8_t r[8];
        CHECK_EQ_INT(bl_cmd(&h, 0x02), ACK);
        CHECK_EQ_INT(host_recv(&h, r, 4, SEC), 4);
        CHECK_EQ_INT(r[0], 1);
        CHECK_EQ_INT(r[1] << 8 | r[2], parts[i].pid);
        CHECK_EQ_INT(r[3], ACK);
        /* Get lists exactly one erase command, the part's */
        uint8_t g[16];
        CHECK_EQ_INT(bl_cmd(&h, 0x00), ACK);
        CHECK_EQ_INT(host_recv(&h, g, 14, SEC), 14);
        CHECK_EQ_INT(g[0], 11);
        CHECK_EQ_INT(g[8], parts[i].erase);
        CHECK_EQ_INT(g[13], ACK);
        /* the flash-size register reads the part's real size in KiB */
        uint8_t fs[2] = {0, 0};
        CHECK_EQ_INT(bl_read(&h, parts[i].fsize_addr, fs, 2), 0);
        CHECK_EQ_INT(fs[0] | fs[1] << 8, parts[i].flash_kib);
        uint8_t peek[2] = {0, 0};
        CHECK_EQ_INT(cwsim_stm32_peek(h.chip, parts[i].fsize_addr, peek, 2), 2);
        CHECK_MEM(peek, fs, 2);
        /* a new chip is erased: first and last flash bytes 0xFF (L0/L1: 0x00) */
        uint8_t fl[4];
        CHECK_EQ_INT(bl_read(&h, 0x08000000, fl, 4), 0);
        CHECK(all_of(fl, 4, parts[i].erased));
        CHECK_EQ_INT(bl_read(&h, 0x08000000 + parts[i].flash_kib * 1024 - 4, fl, 4), 0);
        CHECK(all_of(fl, 4, parts[i].erased));
        /* one past the end is not flash */
        CHECK_EQ_INT(bl_read(&h, 0x08000000 + parts[i].flash_kib * 1024, fl, 4), 2);
        host_close(&h);
    }
}

static void unknown_part(void)
{
    cwsim *sim;
    cwsim_stm32 *c = (cwsim_stm32 *)1;
    char err[300] = "";
    CHECK_EQ_INT(cwsim_new(&sim, err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_stm32_new(sim, "stm32f999", &c, err, sizeof err), -1);
    CHECK(c == NULL);
    CHECK(strstr(err, "unknown part 'stm32f999'") != NULL);
    CHECK(strstr(err, "stm32f415xg") != NULL);
    cwsim_free(sim);
}

int main(void)
{
    table();
    aliases();
    through_bootloader();
    unknown_part();
    return check_report("stm32_parts");
}
