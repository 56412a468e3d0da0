/* SPDX-License-Identifier: MIT */
/* Internal to the AVR model: the chip and the board attachment shared by avr_chip.c and
 * avr_attach.c. */
#ifndef CWLUA_SIM_AVR_AVR_INTERNAL_H
#define CWLUA_SIM_AVR_AVR_INTERNAL_H

#include "cwsim_avr.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

struct cwsim_avr {
    cwsim *sim;
    const cwsim_avr_part_info *p;
    uint8_t *flash;
    uint8_t *eeprom;
    uint8_t fuse[4];                   /* low, high, ext, lock as stored (unimplemented bits 1) */
    uint8_t latched_low, latched_high; /* clock and ISP settings in force (datasheet "Latching
                                        * of Fuses": at power-up and when leaving programming) */
    int dirty;

    /* inputs */
    int powered, reset_low;
    double clock_hz;

    /* serial programming */
    int prog_enabled; /* a Programming Enable was answered in sync since /RESET went low */
    uint8_t in[4];    /* bytes of the instruction being shifted in */
    unsigned nin;
    uint8_t last_in;  /* the shift register's content before the next byte */
    uint8_t ext_addr; /* Load Extended Address */
    uint8_t *page;    /* flash page buffer (page bytes), 0xFF after a page write */
    uint8_t epage[16];
    uint16_t epage_loaded; /* bit i: EEPROM page buffer byte i loaded */
    uint64_t busy_until;   /* RDY/BSY */
    uint64_t now;

    cwsim_avr_counters cnt;
};

/* chip (avr_chip.c) */
uint8_t avr_chip_spi_out(cwsim_avr *c, uint8_t mosi, double sck_hz, uint64_t now, int *driven);

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void
avr_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
