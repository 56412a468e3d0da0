/* SPDX-License-Identifier: MIT */
/* The STM32 parts the simulator models. Every row is target-protocols.md §A.6 (the chip-ID
 * table: PID, stm32flash 0.7 name, flash, page x pages-per-sector, host RAM window, option
 * bytes, system memory) for the part named in contract.md §3, with the part's real flash and RAM
 * size where §A.6 gives the largest part of a PID. Erase command per §A.6 notes (F1 0x43,
 * F0/F2/F3/F4/L0/L1/L4 0x44). Bootloader versions: F100 0x22 is §A.4 [ext]; the others are
 * UNCONFIRMED (not in the documents; 0x22 for F1, 0x31 for the 0x44 parts, since Extended
 * Erase needs v3.0+, §A.4). Flash-size register and unique-ID addresses are [ext] (ST
 * reference manuals RM0091/RM0008/RM0041/RM0033/RM0316/RM0090, not in the documents).
 * The L0/L1/L4 rows are §A.6 rows 0x417, 0x416 and 0x435; their flash-size register, unique
 * ID and information-block addresses are [ext] (RM0377 L0, RM0038 L1, RM0394 L4), as is the
 * L4 option-byte area past §A.6's 0x1FFF780F (see stm32_lseries.c). */
#include "stm32_parts.h"

#include <ctype.h>
#include <string.h>

#define KIB 1024u

/* §A.6: option bytes 0x1FFFF800-0x1FFFF80F on F0/F1/F3, 0x1FFFC000-0x1FFFC00F on F2/F4. */
#define OB_CLASSIC 0x1FFFF800u, 0x1FFFF810u
#define OB_F2F4    0x1FFFC000u, 0x1FFFC010u
/* [ext] RM0091/RM0316 (F0/F3): F_SIZE 0x1FFFF7CC, UID 0x1FFFF7AC; RM0008/RM0041 (F1):
 * F_SIZE 0x1FFFF7E0, UID 0x1FFFF7E8 (all inside system memory); RM0033/RM0090 (F2/F4):
 * F_SIZE 0x1FFF7A22, UID 0x1FFF7A10, after the OTP block 0x1FFF7800-0x1FFF7A0F. */
#define ID_F0F3 0x1FFFF7CCu, 0x1FFFF7ACu, 0u, 0u, 0u, 0u, 0u
#define ID_F1   0x1FFFF7E0u, 0x1FFFF7E8u, 0u, 0u, 0u, 0u, 0u
#define ID_F2F4 0x1FFF7A22u, 0x1FFF7A10u, 0x1FFF7800u, 0x1FFF7A24u, 0x1FFF7800u, 0x1FFF7A10u, 0u
/* §A.6: option bytes 0x1FF80000-0x1FF8001F on L0 (0x417) and L1 cat. 1/2 (0x416). */
#define OB_L0L1 0x1FF80000u, 0x1FF80020u
/* [ext] RM0394 (L4): OPTR, PCROP1SR, PCROP1ER, WRP1AR, WRP1BR, each a double word (value,
 * complement) from 0x1FFF7800 to 0x1FFF7827. §A.6 (stm32flash 0.7) stops at 0x1FFF780F, which
 * leaves out the write-protection areas; the model maps all five. */
#define OB_L4 0x1FFF7800u, 0x1FFF7828u
/* [ext] RM0377 (L0 cat. 3): F_SIZE 0x1FF8007C, U_ID 0x1FF80050/54/64. RM0038 (L1 cat. 1/2):
 * F_SIZE 0x1FF8004C, U_ID 0x1FF80050/54/64. Both in the factory information block after the
 * option bytes; the third U_ID word is 0x14 after the first. */
#define ID_L0 0x1FF8007Cu, 0x1FF80050u, 0x1FF80050u, 0x1FF80080u, 0u, 0u, 0x14u
#define ID_L1 0x1FF8004Cu, 0x1FF80050u, 0x1FF8004Cu, 0x1FF80068u, 0u, 0u, 0x14u
/* [ext] RM0394 (L4): F_SIZE 0x1FFF75E0, UID 0x1FFF7590 (contiguous), after the 1 KiB OTP area
 * 0x1FFF7000-0x1FFF73FF (reads 0xFF: never programmed). */
#define ID_L4 0x1FFF75E0u, 0x1FFF7590u, 0x1FFF7000u, 0x1FFF7600u, 0x1FFF7000u, 0x1FFF7400u, 0u

static const stm32_part parts[] = {
    /* §A.6 row 0x444 (CW "STM32F03xx4/03xx6", CWNANO): 32 KiB, 1 KiB x 4, RAM 0x20000800-
     * 0x20001000, system memory 0x1FFFEC00-0x1FFFF800. */
    {{"stm32f030x6", "STM32F03xx4/6", 0x444, 0x31, 0x44, 0x08000000u, 32 * KIB, 0x20000800u,
      0x20001000u, OB_CLASSIC, 0x1FFFEC00u, 0x1FFFF800u, 32, 8},
     STM32_F0,
     1 * KIB,
     4,
     ID_F0F3},
    /* §A.6 row 0x440: 64 KiB, 1 KiB x 4, RAM 0x20000800-0x20002000, system memory
     * 0x1FFFEC00-0x1FFFF800. */
    {{"stm32f051x8", "STM32F030x8/F05xxx", 0x440, 0x31, 0x44, 0x08000000u, 64 * KIB, 0x20000800u,
      0x20002000u, OB_CLASSIC, 0x1FFFEC00u, 0x1FFFF800u, 64, 16},
     STM32_F0,
     1 * KIB,
     4,
     ID_F0F3},
    /* §A.6 row 0x448 (CW308_STM32F0): 128 KiB, 2 KiB x 2, RAM 0x20001800-0x20004000, system
     * memory 0x1FFFC800-0x1FFFF800. */
    {{"stm32f071xb", "STM32F070xB/F071xx/F72xx", 0x448, 0x31, 0x44, 0x08000000u, 128 * KIB,
      0x20001800u, 0x20004000u, OB_CLASSIC, 0x1FFFC800u, 0x1FFFF800u, 64, 32},
     STM32_F0,
     2 * KIB,
     2,
     ID_F0F3},
    /* §A.6 row 0x420 (CW308_STM32F1): 128 KiB, 1 KiB x 4, RAM 0x20000200-0x20002000, system
     * memory 0x1FFFF000-0x1FFFF800; bootloader v2.2 (§A.4 [ext]). */
    {{"stm32f100xb", "STM32F10xxx Medium-density VL", 0x420, 0x22, 0x43, 0x08000000u, 128 * KIB,
      0x20000200u, 0x20002000u, OB_CLASSIC, 0x1FFFF000u, 0x1FFFF800u, 128, 32},
     STM32_F1,
     1 * KIB,
     4,
     ID_F1},
    /* §A.6 row 0x410: 128 KiB, 1 KiB x 4, RAM 0x20000200-0x20005000, system memory
     * 0x1FFFF000-0x1FFFF800. */
    {{"stm32f103xb", "STM32F10xxx Medium-density", 0x410, 0x22, 0x43, 0x08000000u, 128 * KIB,
      0x20000200u, 0x20005000u, OB_CLASSIC, 0x1FFFF000u, 0x1FFFF800u, 128, 32},
     STM32_F1,
     1 * KIB,
     4,
     ID_F1},
    /* §A.6 row 0x411 (CW308_STM32F2): F2/F4 sectors x 1, 512 KiB on the xE part (sectors
     * 0-7), RAM 0x20002000-0x20020000, system memory 0x1FFF0000-0x1FFF7800. */
    {{"stm32f205xe", "STM32F2xxxx", 0x411, 0x31, 0x44, 0x08000000u, 512 * KIB, 0x20002000u,
      0x20020000u, OB_F2F4, 0x1FFF0000u, 0x1FFF7800u, 8, 8},
     STM32_F2,
     0,
     1,
     ID_F2F4},
    /* §A.6 row 0x422 (CW308_STM32F3, CWLITEARM): 256 KiB, 2 KiB x 2, RAM 0x20001400-
     * 0x2000A000, system memory 0x1FFFD800-0x1FFFF800. */
    {{"stm32f303xc", "STM32F302xB(C)/F303xB(C)/F358xx", 0x422, 0x31, 0x44, 0x08000000u, 256 * KIB,
      0x20001400u, 0x2000A000u, OB_CLASSIC, 0x1FFFD800u, 0x1FFFF800u, 128, 64},
     STM32_F3,
     2 * KIB,
     2,
     ID_F0F3},
    /* §A.6 row 0x413 (CW308_STM32F4): 1 MiB, F2/F4 sectors x 1 (sectors 0-11), RAM
     * 0x20003000-0x20020000, option bytes 0x1FFFC000-0x1FFFC00F, system memory
     * 0x1FFF0000-0x1FFF7800. */
    {{"stm32f415xg", "STM32F40xxx/41xxx", 0x413, 0x31, 0x44, 0x08000000u, 1024 * KIB, 0x20003000u,
      0x20020000u, OB_F2F4, 0x1FFF0000u, 0x1FFF7800u, 12, 12},
     STM32_F4,
     0,
     1,
     ID_F2F4},
    /* §A.6 row 0x417 (STM32L05xxx/06xxx): 64 KiB, 128 B x 32, RAM 0x20001000-0x20002000,
     * option bytes 0x1FF80000-0x1FF8001F, system memory 0x1FF00000-0x1FF01000; Extended
     * Erase (§A.6 notes) without mass erase (stm32_lseries.c). 512 pages, 16 WRP sectors. */
    {{"stm32l051x8", "STM32L05xxx/06xxx", 0x417, 0x31, 0x44, 0x08000000u, 64 * KIB, 0x20001000u,
      0x20002000u, OB_L0L1, 0x1FF00000u, 0x1FF01000u, 512, 16},
     STM32_L0,
     128,
     32,
     ID_L0},
    /* §A.6 row 0x416, STM32L1xxx6(8/B) (the CW's "STM32F10xxx XL-density" label is wrong,
     * §A.6 notes): 128 KiB, 256 B x 16, RAM 0x20000800-0x20004000, option bytes
     * 0x1FF80000-0x1FF8001F, system memory 0x1FF00000-0x1FF01000. 512 pages, 32 WRP
     * sectors. */
    {{"stm32l151xb", "STM32L1xxx6(8/B)", 0x416, 0x31, 0x44, 0x08000000u, 128 * KIB, 0x20000800u,
      0x20004000u, OB_L0L1, 0x1FF00000u, 0x1FF01000u, 512, 32},
     STM32_L1,
     256,
     16,
     ID_L1},
    /* §A.6 row 0x435 (STM32L43xxx/44xxx; CW's L4 target, unknown to the CW's list): 256 KiB,
     * 2 KiB x 1, RAM 0x20003100-0x2000C000, system memory 0x1FFF0000-0x1FFF7000. 128 pages,
     * each its own WRP unit. */
    {{"stm32l433xc", "STM32L43xxx/44xxx", 0x435, 0x31, 0x44, 0x08000000u, 256 * KIB, 0x20003100u,
      0x2000C000u, OB_L4, 0x1FFF0000u, 0x1FFF7000u, 128, 128},
     STM32_L4,
     2 * KIB,
     1,
     ID_L4},
};

#define NPARTS (sizeof parts / sizeof parts[0])

/* contract.md §3 and §5: recipe names and ChipWhisperer PLATFORM aliases -> reference parts (the L
 * recipes have no PLATFORM alias: no ChipWhisperer target carries an L part). */
static const struct {
    const char *alias;
    const char *part;
} aliases[] = {
    {"stm32f0", "stm32f071xb"},       {"stm32f1", "stm32f100xb"},
    {"stm32f2", "stm32f205xe"},       {"stm32f3", "stm32f303xc"},
    {"stm32f4", "stm32f415xg"},       {"cw308_stm32f0", "stm32f071xb"},
    {"cwnano", "stm32f030x6"},        {"cw308_stm32f1", "stm32f100xb"},
    {"cw308_stm32f2", "stm32f205xe"}, {"cw308_stm32f3", "stm32f303xc"},
    {"cwlitearm", "stm32f303xc"},     {"cw308_stm32f4", "stm32f415xg"},
    {"stm32l0", "stm32l051x8"},       {"stm32l1", "stm32l151xb"},
    {"stm32l4", "stm32l433xc"},
};

static int same_nocase(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

const stm32_part *stm32_part_lookup(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (same_nocase(name, aliases[i].alias)) {
            name = aliases[i].part;
            break;
        }
    for (size_t i = 0; i < NPARTS; i++)
        if (same_nocase(name, parts[i].info.name))
            return &parts[i];
    return NULL;
}

const stm32_part *stm32_part_index(size_t i)
{
    return i < NPARTS ? &parts[i] : NULL;
}

size_t stm32_part_total(void)
{
    return NPARTS;
}

/* §A.6 notes: F2/F4 sectors are 16, 16, 16, 16, 64, then 128 KiB. */
uint32_t stm32_sector_size(const stm32_part *p, unsigned i)
{
    if (p->page_size != 0)
        return p->page_size;
    return i < 4 ? 16 * KIB : i == 4 ? 64 * KIB : 128 * KIB;
}

uint32_t stm32_sector_offset(const stm32_part *p, unsigned i)
{
    if (p->page_size != 0)
        return i * p->page_size;
    if (i <= 4)
        return i * 16 * KIB;
    return 128 * KIB * (i - 4);
}

size_t cwsim_stm32_part_count(void)
{
    return NPARTS;
}

const cwsim_stm32_part_info *cwsim_stm32_part_at(size_t i)
{
    return i < NPARTS ? &parts[i].info : NULL;
}

const cwsim_stm32_part_info *cwsim_stm32_part_find(const char *name)
{
    const stm32_part *p = stm32_part_lookup(name);
    return p != NULL ? &p->info : NULL;
}
