/* SPDX-License-Identifier: MIT */
/* Simulated AVR (ATmega) target chips for libcwsim. The board's V2/ISP programming engine that
 * programs them is board firmware: cwsim_engines.h.
 *
 * The chip: serial (ISP) programming as the ATmega48A/PA/88A/PA/168A/PA/328/P datasheet
 * describes it — four-byte instructions, echo of the previous bytes, Programming Enable only
 * while /RESET is held low, a clock that must reach the chip (the fuses select it) and an SCK
 * no faster than a quarter of it, flash page buffer ANDed into flash, EEPROM, fuses, lock bits,
 * signature, RDY/BSY.
 *
 * Documents: target-protocols.md §1 (transport, shared timeout counter), §C.1-C.7 (engine,
 * instructions, chip table), §E (bad input), §F; contract.md §5 (simulator, faults);
 * docs/simulator-avr.md (the model, every UNCONFIRMED choice and known deviation).
 *
 * Conventions as in cwsim.h: not thread-safe; functions that can fail take (err, errlen) and
 * write a one-line message there; times are virtual nanoseconds; the library never prints.
 */
#ifndef CWLUA_SIM_AVR_CWSIM_AVR_H
#define CWLUA_SIM_AVR_CWSIM_AVR_H

#include "cwsim_chip.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- parts (target-protocols.md §C.6; fuse layout and defaults: datasheet, see avr_parts.c) ---
 */

typedef struct cwsim_avr_part_info {
    const char *name;     /* contract.md §3 part name, "atmega328p" */
    const char *device;   /* "ATmega328P" */
    uint8_t signature[3]; /* Read Signature bytes 0..2 */
    uint32_t flash_size;  /* bytes */
    uint16_t flash_page;  /* bytes (§C.6 gives page sizes in bytes) */
    uint16_t eeprom_size; /* bytes */
    uint8_t eeprom_page;  /* bytes */
    /* The fuses and lock byte as the simulated part comes (the CW308 board's setting: an
     * external clock from the board, see avr_parts.c), and the bits each byte implements
     * (unimplemented bits read as 1). */
    uint8_t fuse_low, fuse_high, fuse_ext, lock;
    uint8_t ext_mask, lock_mask;
} cwsim_avr_part_info;

size_t cwsim_avr_part_count(void);
const cwsim_avr_part_info *cwsim_avr_part_at(size_t i); /* NULL if out of range */
/* A part name ("atmega328p"), the recipe name "avr" or the PLATFORM alias "CW308_MEGA328P",
 * case-insensitive; the last two mean the reference part atmega328p (contract.md §3). NULL if
 * unknown. */
const cwsim_avr_part_info *cwsim_avr_part_find(const char *name);

/* ---- the chip ------------------------------------------------------------------------------ */

typedef struct cwsim_avr cwsim_avr;

/* Make a standalone chip. Memories come from the state folder of sim when it is open (blobs
 * "<part>.flash", "<part>.eeprom", "<part>.fuses" = low, high, ext, lock), else the chip is
 * new: flash and EEPROM erased (0xFF), the part's fuses and lock. It starts unpowered, /RESET
 * released, no clock. 0 ok. */
int cwsim_avr_new(cwsim *sim, const char *part, cwsim_avr **out, char *err, size_t errlen);
void cwsim_avr_free(cwsim_avr *chip); /* saves first if anything changed; NULL is ignored */
int cwsim_avr_save(cwsim_avr *chip, char *err, size_t errlen); /* 0 ok (also without a folder) */
const cwsim_avr_part_info *cwsim_avr_part(const cwsim_avr *chip);

/* Inputs at virtual time now_ns (never earlier than a time already given). */
void cwsim_avr_set_power(cwsim_avr *chip, int on, uint64_t now_ns);
void cwsim_avr_set_reset(cwsim_avr *chip, int low, uint64_t now_ns);   /* 1: /RESET held low */
void cwsim_avr_set_clock(cwsim_avr *chip, double hz, uint64_t now_ns); /* XTAL1/CLKI; 0 none */
/* One byte on SPI (mode 0, MSB first) at sck_hz, its last bit at now_ns. *miso gets what the
 * chip drives on MISO. Returns 0, or -1 when the chip does not drive MISO (unpowered, not in
 * reset, ISP disabled by its fuses): the line then reads whatever pulls it. */
int cwsim_avr_spi(cwsim_avr *chip, uint8_t mosi, double sck_hz, uint64_t now_ns, uint8_t *miso);

/* Plug a new chip of PART into board b with the CW308 wiring (/RESET = nRST, undriven =
 * released by the chip's pull-up; XTAL1 = HS2; MOSI/MISO/SCK = the ISP pins), programmed by
 * the board's V2 engine (cwsim_engines.h). The board owns the chip: it is saved and freed when
 * detached or at cwsim_free. NULL on error. */
cwsim_avr *cwsim_avr_attach(cwsim_board *b, const char *part, char *err, size_t errlen);

/* ---- simulator-side view (never visible to a host; tests and diagnostics) ----------------- */

typedef enum cwsim_avr_mem {
    CWSIM_AVR_FLASH,
    CWSIM_AVR_EEPROM,
    CWSIM_AVR_FUSES /* 4 bytes: low, high, extended, lock (unimplemented bits read 1) */
} cwsim_avr_mem;
/* Bytes of a memory ignoring lock bits. Returns how many were in range. */
size_t cwsim_avr_peek(const cwsim_avr *chip, cwsim_avr_mem mem, uint32_t addr, uint8_t *buf,
                      size_t len);
/* Set memory contents directly (tests): 0 ok, -1 out of range. Fuses take effect at the next
 * power-up or when the chip leaves programming mode, as written ones do. */
int cwsim_avr_poke(cwsim_avr *chip, cwsim_avr_mem mem, uint32_t addr, const uint8_t *buf,
                   size_t len);
/* The CPU clock the chip runs on now: the fuse-selected source (latched), divided by 8 when
 * CKDIV8 is programmed; 0 when that source has no clock. */
double cwsim_avr_cpu_hz(const cwsim_avr *chip);
int cwsim_avr_programming(const cwsim_avr *chip); /* 1 after a Programming Enable in sync */
int cwsim_avr_busy(const cwsim_avr *chip, uint64_t now_ns); /* RDY/BSY would read busy */

typedef struct cwsim_avr_counters {
    uint64_t spi_bytes;      /* bytes exchanged while powered */
    uint64_t instructions;   /* four-byte instructions decoded and executed */
    uint64_t enables;        /* Programming Enable answered in sync */
    uint64_t garbled;        /* bytes shifted with SCK too fast for the CPU clock */
    uint64_t ignored_writes; /* writes refused: busy, lock bits */
    uint64_t page_writes;    /* flash page writes */
    uint64_t eeprom_writes;  /* EEPROM byte or page writes */
    uint64_t chip_erases;
    uint64_t fuse_writes; /* fuse and lock writes */
    uint64_t flash_ns;    /* time spent erasing and writing */
} cwsim_avr_counters;
void cwsim_avr_counters_get(const cwsim_avr *chip, cwsim_avr_counters *out);

#ifdef __cplusplus
}
#endif

#endif
