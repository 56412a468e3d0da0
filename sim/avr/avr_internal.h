/* SPDX-License-Identifier: MIT */
/* Internal to the AVR model: the chip, the V2 engine and the board attachment shared by
 * avr_chip.c, avr_v2.c and avr_attach.c. */
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

struct cwsim_v2 {
    cwsim_board *b;
    uint8_t rambuf[256]; /* §C.7 avr_rambuf */
    uint8_t status[32];  /* §C.7 status_payload */
    unsigned status_len; /* cleared by each GET_STATUS */
    uint32_t cur_addr;   /* CurrentAddress */
    int must_load_ext;   /* MustLoadExtendedAddress */
    int reset_asserted, spi_enabled;
    uint8_t sck_duration;    /* parameter 0x98, default 6 */
    uint8_t reset_polarity;  /* parameter 0x9E, default 1 (active low) */
    uint8_t discharge_delay; /* parameter 0xA4 */
    uint8_t spi_scratch[12]; /* the 4 response bytes sit at [4..7]; READ_* ret index outside
                              * 1..4 reads its neighbours (§E "garbage") */
    uint64_t tmo_end_ns;     /* the shared counter as this engine sees it (slow clock scaled) */
    uint64_t commands, ignored;
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
