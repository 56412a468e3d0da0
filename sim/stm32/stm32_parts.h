/* SPDX-License-Identifier: MIT */
/* Internal to the STM32 chip model: the part table (stm32_parts.c) and what the model needs
 * beyond the public cwsim_stm32_part_info. target-protocols.md §A.6, §A.7b. */
#ifndef CWLUA_SIM_STM32_STM32_PARTS_H
#define CWLUA_SIM_STM32_STM32_PARTS_H

#include "cwsim_stm32.h"

#include <stdint.h>

typedef enum stm32_family {
    STM32_F0,
    STM32_F1,
    STM32_F2,
    STM32_F3,
    STM32_F4,
    STM32_L0, /* the L parts: stm32_lseries.c, docs/simulator-stm32.md "L0, L1 and L4" */
    STM32_L1,
    STM32_L4
} stm32_family;

/* The largest option-byte area of a modelled part (L4: 0x1FFF7800-0x1FFF7827 [ext RM0394]). */
#define STM32_OB_MAX 40

typedef struct stm32_part {
    cwsim_stm32_part_info info;
    stm32_family family;
    uint32_t page_size;        /* erase page (F0/F1/F3); 0: F2/F4 sector layout */
    unsigned pages_per_sector; /* pages per write-protection sector ("pps", §A.6) */
    uint32_t fsize_addr;       /* flash-size register (KiB, 16 bits) [ext: reference manuals] */
    uint32_t uid_addr;         /* 96-bit unique ID [ext: reference manuals] */
    uint32_t info_start;       /* extra read-only block holding them (F2/F4: OTP + IDs); 0: none */
    uint32_t info_end;
    uint32_t otp_start; /* inside the info block: OTP bytes that read 0xFF; 0: none */
    uint32_t otp_end;
    uint32_t uid_word2; /* offset of the unique ID's third word: 0 = 8 (contiguous); L0/L1 0x14
                           [ext RM0377/RM0038 U_ID] */
} stm32_part;

const stm32_part *stm32_part_lookup(const char *name);

/* L0, L1, L4 (stm32_lseries.c) */
static inline int stm32_is_l(const stm32_part *p)
{
    return p->family == STM32_L0 || p->family == STM32_L1 || p->family == STM32_L4;
}

/* L0/L1 flash erases to 0x00, everything else to 0xFF [ext: RM0377/RM0038 "erased state"]. */
static inline uint8_t stm32_erased(const stm32_part *p)
{
    return p->family == STM32_L0 || p->family == STM32_L1 ? 0x00 : 0xFF;
}

static inline uint32_t stm32_ob_size(const stm32_part *p)
{
    return p->info.option_end - p->info.option_start;
}
const stm32_part *stm32_part_index(size_t i);
size_t stm32_part_total(void);

/* Sector layout of F2/F4 (§A.6 notes): sector i's offset and size in bytes. */
uint32_t stm32_sector_offset(const stm32_part *p, unsigned i);
uint32_t stm32_sector_size(const stm32_part *p, unsigned i);

#endif
