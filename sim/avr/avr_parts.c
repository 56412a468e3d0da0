/* SPDX-License-Identifier: MIT */
/* AVR parts for the simulator: target-protocols.md §C.6 (signatures, flash and EEPROM sizes and
 * pages, from NewAE's supported_avr table) plus the fuse layout of the ATmega48A/PA/88A/PA/
 * 168A/PA/328/P datasheet (Atmel-8271, "Memory Programming": Fuse Bits, Table 28-5..28-9 in
 * DS40002061A; 8025I-AVR-02/09 Tables 25-5..25-9).
 *
 * Fuse defaults. The datasheet's factory values are low 0x62 (CKDIV8 programmed, CKOUT
 * unprogrammed, SUT1..0 = 10, CKSEL3..0 = 0010: the internal 8 MHz RC oscillator divided by 8),
 * high 0xD9 (328/P: RSTDISBL, DWEN unprogrammed, SPIEN programmed, WDTON, EESAVE unprogrammed,
 * BOOTSZ1..0 = 00, BOOTRST unprogrammed) or 0xDF (48/88/168: BODLEVEL2..0 = 111), extended
 * 0xFF (328/P: BODLEVEL2..0 = 111; 48: SELFPRGEN unprogrammed) or 0xF9 (88/168: BOOTSZ1..0 = 00,
 * BOOTRST = 1), lock 0xFF (no lock). target-protocols.md §C.6 confirms 0x62/0xD9/0xFF for the
 * ATmega328P [ext].
 * A CW308 target runs from the board's clock on HS2 (NewAE's firmware assumes 7.37 MHz for its
 * 38400 baud), which needs CKSEL3..0 = 0000 "External Clock" (datasheet §9.8 / 8025I §8.8,
 * Table 8-15/9-14) and CKDIV8 unprogrammed; keeping SUT1..0 = 10 (6 CK + 14 CK + 65 ms, the
 * slowest start-up, datasheet Table 9-15) and CKOUT unprogrammed gives low = 0xE0. The
 * simulated parts come with 0xE0: UNCONFIRMED which value NewAE programs (the source
 * repositories do not say, §C.6), but any external-clock setting behaves the same here. */
#include "avr_internal.h"

#include <ctype.h>
#include <string.h>

/* CW308 setting: external clock, no divide-by-8 (see above; UNCONFIRMED exact value) */
#define CW308_LOW 0xE0u

static const cwsim_avr_part_info parts[] = {
    /* name, device, signature, flash, page, eeprom, epage, low, high, ext, lock, ext mask,
     * lock mask */
    {"atmega328p",
     "ATmega328P",
     {0x1E, 0x95, 0x0F},
     32768,
     128,
     1024,
     4,
     CW308_LOW,
     0xD9,
     0xFF,
     0xFF,
     0x07,
     0x3F},
    {"atmega328",
     "ATmega328",
     {0x1E, 0x95, 0x14},
     32768,
     128,
     1024,
     4,
     CW308_LOW,
     0xD9,
     0xFF,
     0xFF,
     0x07,
     0x3F},
    {"atmega168pa",
     "ATmega168PA",
     {0x1E, 0x94, 0x0B},
     16384,
     128,
     512,
     4,
     CW308_LOW,
     0xDF,
     0xF9,
     0xFF,
     0x07,
     0x3F},
    {"atmega168a",
     "ATmega168A",
     {0x1E, 0x94, 0x06},
     16384,
     128,
     512,
     4,
     CW308_LOW,
     0xDF,
     0xF9,
     0xFF,
     0x07,
     0x3F},
    {"atmega88pa",
     "ATmega88PA",
     {0x1E, 0x93, 0x0F},
     8192,
     64,
     512,
     4,
     CW308_LOW,
     0xDF,
     0xF9,
     0xFF,
     0x07,
     0x3F},
    {"atmega88a",
     "ATmega88A",
     {0x1E, 0x93, 0x0A},
     8192,
     64,
     512,
     4,
     CW308_LOW,
     0xDF,
     0xF9,
     0xFF,
     0x07,
     0x3F},
    /* the 48s have no boot section: one extended-fuse bit (SELFPRGEN), lock bits LB2..1 only */
    {"atmega48pa",
     "ATmega48PA",
     {0x1E, 0x92, 0x0A},
     4096,
     64,
     256,
     4,
     CW308_LOW,
     0xDF,
     0xFF,
     0xFF,
     0x01,
     0x03},
    {"atmega48a",
     "ATmega48A",
     {0x1E, 0x92, 0x05},
     4096,
     64,
     256,
     4,
     CW308_LOW,
     0xDF,
     0xFF,
     0xFF,
     0x01,
     0x03},
};

size_t cwsim_avr_part_count(void)
{
    return sizeof parts / sizeof parts[0];
}

const cwsim_avr_part_info *cwsim_avr_part_at(size_t i)
{
    return i < cwsim_avr_part_count() ? &parts[i] : NULL;
}

static int same_nocase(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

const cwsim_avr_part_info *cwsim_avr_part_find(const char *name)
{
    if (name == NULL)
        return NULL;
    /* contract.md §3: the recipe name and the PLATFORM alias mean the reference part */
    if (same_nocase(name, "avr") || same_nocase(name, "CW308_MEGA328P"))
        return &parts[0];
    for (size_t i = 0; i < cwsim_avr_part_count(); i++)
        if (same_nocase(name, parts[i].name))
            return &parts[i];
    return NULL;
}
