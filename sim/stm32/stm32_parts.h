/* Internal to the STM32 chip model: the part table (stm32_parts.c) and what the model needs
 * beyond the public cwsim_stm32_part_info. target-protocols.md §A.6, §A.7b. */
#ifndef CWLUA_SIM_STM32_STM32_PARTS_H
#define CWLUA_SIM_STM32_STM32_PARTS_H

#include "cwsim_stm32.h"

#include <stdint.h>

typedef enum stm32_family { STM32_F0, STM32_F1, STM32_F2, STM32_F3, STM32_F4 } stm32_family;

typedef struct stm32_part {
    cwsim_stm32_part_info info;
    stm32_family family;
    uint32_t page_size;        /* erase page (F0/F1/F3); 0: F2/F4 sector layout */
    unsigned pages_per_sector; /* pages per write-protection sector ("pps", §A.6) */
    uint32_t fsize_addr;       /* flash-size register (KiB, 16 bits) [ext: reference manuals] */
    uint32_t uid_addr;         /* 96-bit unique ID [ext: reference manuals] */
    uint32_t info_start;       /* extra read-only block holding them (F2/F4: OTP + IDs); 0: none */
    uint32_t info_end;
} stm32_part;

const stm32_part *stm32_part_lookup(const char *name);
const stm32_part *stm32_part_index(size_t i);
size_t stm32_part_total(void);

/* Sector layout of F2/F4 (§A.6 notes): sector i's offset and size in bytes. */
uint32_t stm32_sector_offset(const stm32_part *p, unsigned i);
uint32_t stm32_sector_size(const stm32_part *p, unsigned i);

#endif
