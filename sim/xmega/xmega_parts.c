/* SPDX-License-Identifier: MIT */
/* The ATxmega parts the simulator models: target-protocols.md §B.4 (NewAE's supported_xmega
 * table: signature, flash, EEPROM) with the datasheet section layout [ext], because the CW "boot"
 * entries point at the end of flash and look wrong (§B.4). Page sizes: flash 0x100, EEPROM 0x20
 * (§B.4, common). Fuse bytes that exist and their bits, factory values and the chip-erase time
 * are [ext] (Atmel XMEGA A and D manuals and the A4/D4 datasheets, recalled, not in the
 * documents) — UNCONFIRMED, see docs/simulator-xmega.md. */
#include "xmega_internal.h"

#include <ctype.h>
#include <string.h>

#define KIB 1024u
#define MS  1000000ull

static const cwsim_xmega_part_info parts[] = {
    /* §B.4 XMEGA128D4 1E 97 47: CW "flash" 0x22000 = app 128 KiB + boot 8 KiB, EEPROM 0x800.
     * [ext] D manual: no JTAG, so no FUSEBYTE0 and no JTAGEN; FUSEBYTE1 WDWP/WDP (all bits),
     * FUSEBYTE2 BOOTRST (bit 6) and BODPD (bits 1:0), FUSEBYTE4 RSTDISBL (4), STARTUPTIME
     * (3:2), WDLOCK (1), FUSEBYTE5 BODACT (5:4), EESAVE (3), BODLEVEL (2:0). Chip erase of a
     * 128 KiB part: 75 ms [ext]. */
    {"atxmega128d4",
     "ATxmega128D4",
     {0x1E, 0x97, 0x47},
     128 * KIB,
     8 * KIB,
     256,
     2 * KIB,
     32,
     256,
     {0x00, 0xFF, 0x43, 0x00, 0x1E, 0x3F},
     {0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF},
     75 * MS},
    /* §B.4 XMEGA16A4 1E 94 41: CW "flash" 0x5000 = app 16 KiB + boot 4 KiB, EEPROM 0x400.
     * [ext] A manual: FUSEBYTE0 JTAGUSERID, FUSEBYTE4 also JTAGEN (bit 0, programmed at the
     * factory: 0xFE). Chip erase of a 16 KiB part: 45 ms [ext]. */
    {"atxmega16a4",
     "ATxmega16A4",
     {0x1E, 0x94, 0x41},
     16 * KIB,
     4 * KIB,
     256,
     1 * KIB,
     32,
     256,
     {0xFF, 0xFF, 0x43, 0x00, 0x1F, 0x3F},
     {0xFF, 0x00, 0xFF, 0xFF, 0xFE, 0xFF},
     45 * MS},
};

size_t cwsim_xmega_part_count(void)
{
    return sizeof parts / sizeof parts[0];
}

const cwsim_xmega_part_info *cwsim_xmega_part_at(size_t i)
{
    return i < cwsim_xmega_part_count() ? &parts[i] : NULL;
}

static int same(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

const cwsim_xmega_part_info *cwsim_xmega_part_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < cwsim_xmega_part_count(); i++)
        if (same(name, parts[i].name))
            return &parts[i];
    /* contract.md §3: the recipe name and the PLATFORM aliases mean the reference part */
    static const char *const ref[] = {"xmega", "CWLITEXMEGA", "CW303", "CW308_XMEGA"};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++)
        if (same(name, ref[i]))
            return &parts[0];
    return NULL;
}
