/* SPDX-License-Identifier: MIT */
/* Simulated ATxmega target chips for libcwsim. The board's XPROG (PDI) programming engine that
 * programs them is board firmware: cwsim_engines.h.
 *
 * The chip: the PDI link (instructions LDS/STS/LD/ST/LDCS/STCS/KEY/REPEAT, the RESET and NVM
 * keys, NVMEN), the NVM controller (CMD, CTRLA.CMDEX, STATUS.BUSY, page buffers) over flash with
 * application and boot sections, EEPROM, fuses, lock bits, signature and user signature, with
 * the busy times of the datasheets.
 *
 * Documents: target-protocols.md §1 (transport, shared timeout counter), §B.1-B.6 (framing,
 * sub-commands and their PDI bytes, host flow, chip table, target model, engine state), §E (bad
 * input), §F; contract.md §5 (simulator, faults); docs/simulator-xmega.md (the model, every
 * UNCONFIRMED choice and known deviation).
 *
 * Conventions as in cwsim.h: not thread-safe; functions that can fail take (err, errlen) and
 * write a one-line message there; times are virtual nanoseconds; the library never prints.
 */
#ifndef CWLUA_SIM_XMEGA_CWSIM_XMEGA_H
#define CWLUA_SIM_XMEGA_CWSIM_XMEGA_H

#include "cwsim_chip.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- parts (target-protocols.md §B.4) -------------------------------------------------------- */

#define CWSIM_XMEGA_NFUSES 6 /* FUSEBYTE0..5 at 0x08F0020 + n (§B.4) */

typedef struct cwsim_xmega_part_info {
    const char *name;      /* contract.md §3 part name, "atxmega128d4" */
    const char *device;    /* "ATxmega128D4" */
    uint8_t signature[3];  /* MCU.DEVID0..2 at data 0x0090 (§B.4) */
    uint32_t app_size;     /* application section, bytes (incl. the application table) */
    uint32_t boot_size;    /* boot section, right after it */
    uint32_t flash_page;   /* bytes */
    uint32_t eeprom_size;  /* bytes */
    uint32_t eeprom_page;  /* bytes */
    uint32_t usersig_size; /* user signature row, bytes (one flash page) */
    uint8_t fuse_mask[CWSIM_XMEGA_NFUSES];    /* bits the part has; 0: no such fuse byte */
    uint8_t fuse_default[CWSIM_XMEGA_NFUSES]; /* factory values (unused bits read 1) */
    uint64_t chip_erase_ns;                   /* datasheet chip-erase time */
} cwsim_xmega_part_info;

size_t cwsim_xmega_part_count(void);
const cwsim_xmega_part_info *cwsim_xmega_part_at(size_t i); /* NULL if out of range */
/* A part name ("atxmega16a4"), the recipe name "xmega" or a ChipWhisperer PLATFORM alias
 * ("CWLITEXMEGA", "CW303", "CW308_XMEGA"), case-insensitive; the last ones mean the reference
 * part atxmega128d4 (contract.md §3, §5). NULL if unknown. */
const cwsim_xmega_part_info *cwsim_xmega_part_find(const char *name);

/* ---- the chip ----------------------------------------------------------------------------- */

typedef struct cwsim_xmega cwsim_xmega;

/* Make a standalone chip of PART. Flash, EEPROM, fuses, lock bits and the user signature come
 * from the state folder of sim when it is open (blobs "<part>.flash", "<part>.eeprom",
 * "<part>.fuses", "<part>.usersig"), else the chip is new: memories erased (0xFF), factory
 * fuses, no lock. The faults read-protected (lock bits LB = 00) and write-protected (LB = 10)
 * set that persistent state now. The chip starts unpowered with its PDI off. 0 ok. */
int cwsim_xmega_new(cwsim *sim, const char *part, cwsim_xmega **out, char *err, size_t errlen);
/* Save (if the state folder is open and anything changed) and free. NULL is ignored. */
void cwsim_xmega_free(cwsim_xmega *chip);
/* Write the memories to the state folder now, if they changed. 0 ok (also without a folder).
 * The chip also saves when its PDI link goes down. */
int cwsim_xmega_save(cwsim_xmega *chip, char *err, size_t errlen);
const cwsim_xmega_part_info *cwsim_xmega_part(const cwsim_xmega *chip);

/* Plug a new chip of PART into board b with the CW308/CW303 wiring: PDI_CLK (= /RESET) on PDIC,
 * PDI_DATA on PDID, nothing on nRST (target-protocols.md §1.1). The board owns the chip: it is
 * saved and freed when detached or at cwsim_free. NULL on error. */
cwsim_xmega *cwsim_xmega_attach(cwsim_board *b, const char *part, char *err, size_t errlen);

/* Standalone inputs, each at virtual time now_ns (never earlier than one already given). */
void cwsim_xmega_set_power(cwsim_xmega *chip, int on, uint64_t now_ns);
/* /RESET as a plain pin (PDIC driven low by a GPIO while the PDI is off): 1 held low. */
void cwsim_xmega_set_reset(cwsim_xmega *chip, int low, uint64_t now_ns);
/* The clock on XTAL1 (the board's HS2), Hz; 0: none. Only the application uses it. */
void cwsim_xmega_set_clock(cwsim_xmega *chip, double hz, uint64_t now_ns);
/* The application model (contract.md §5 --sim-app): "silent" (the default: the chip ignores its
 * UART), "ss1-aes" or "ss2-aes" (cwsim_ssapp.h: SimpleSerial AES-128 on the UART, RX on TIO2,
 * TX on TIO1, 8N1 at the application's baud x clock / CWSIM_SSAPP_CLOCK_REF). It runs while
 * the chip is powered, /RESET is high, the PDI is off and the flash is not blank, and starts
 * afresh each time that becomes true. 0 ok, -1 unknown name ("banner" is not modelled). */
int cwsim_xmega_set_app(cwsim_xmega *chip, const char *app, char *err, size_t errlen);
int cwsim_xmega_app_running(const cwsim_xmega *chip); /* 1 while the application runs */
/* "flash-blank" while an application model other than "silent" would run (powered, out of
 * reset, PDI off) but the flash is erased; else NULL (cwsim_target_ops.note). */
const char *cwsim_xmega_note(const cwsim_xmega *chip);
/* The chip's power as the board's ADC sees it (cwsim_target_ops.power_trace; the model of
 * cwsim_ssapp_power): n samples, sample i at t0_ns + i * 1e9 / adc_hz. */
void cwsim_xmega_power_trace(const cwsim_xmega *chip, double t0_ns, double adc_hz, float *out,
                             size_t n);
/* The PDI master takes (1) or releases (0) PDI_CLK/PDI_DATA. */
void cwsim_xmega_pdi_link(cwsim_xmega *chip, int on, uint64_t now_ns);
/* One PDI frame from the master. 0 ok, -1 the chip's PDI is off (the frame is lost). */
int cwsim_xmega_pdi_send(cwsim_xmega *chip, uint8_t byte, uint64_t now_ns);
/* The next frame the chip has to send. 0 ok, -1 it has nothing to send (PDI_DATA undriven). */
int cwsim_xmega_pdi_recv(cwsim_xmega *chip, uint8_t *byte, uint64_t now_ns);

/* ---- simulator-side view (never visible to a host; tests and diagnostics) ----------------- */

typedef enum cwsim_xmega_mem {
    CWSIM_XMEGA_FLASH,   /* application + boot section, from offset 0 */
    CWSIM_XMEGA_EEPROM,  /* from offset 0 */
    CWSIM_XMEGA_FUSES,   /* 8 bytes as at 0x08F0020: FUSEBYTE0..5, reserved (0xFF), LOCKBITS */
    CWSIM_XMEGA_USERSIG, /* user signature row */
    CWSIM_XMEGA_PRODSIG  /* production signature row (read-only; calibration bytes) */
} cwsim_xmega_mem;
/* Bytes of a memory ignoring lock bits. Returns how many were in range. */
size_t cwsim_xmega_peek(const cwsim_xmega *chip, cwsim_xmega_mem mem, uint32_t addr, uint8_t *buf,
                        size_t len);
/* Set memory contents directly (tests). 0 ok, -1 out of range or read-only. */
int cwsim_xmega_poke(cwsim_xmega *chip, cwsim_xmega_mem mem, uint32_t addr, const uint8_t *buf,
                     size_t len);
int cwsim_xmega_pdi_enabled(const cwsim_xmega *chip);                  /* PDI link up */
int cwsim_xmega_nvm_enabled(const cwsim_xmega *chip, uint64_t now_ns); /* PDI STATUS.NVMEN */
int cwsim_xmega_busy(const cwsim_xmega *chip, uint64_t now_ns);        /* NVM STATUS.BUSY */
int cwsim_xmega_in_reset(const cwsim_xmega *chip); /* RESET key held, or /RESET low */

typedef struct cwsim_xmega_counters {
    uint64_t pdi_in, pdi_out; /* frames received and sent while the PDI was on */
    uint64_t instructions;    /* PDI instructions executed */
    uint64_t nvm_keys;        /* correct NVM keys */
    uint64_t chip_erases;
    uint64_t page_erases;   /* flash page or section erases */
    uint64_t page_writes;   /* flash page writes (incl. erase+write) */
    uint64_t eeprom_writes; /* EEPROM page writes and erases */
    uint64_t fuse_writes;   /* fuse and lock-bit writes */
    uint64_t ignored;       /* NVM operations refused: busy, lock bits, wrong section */
    uint64_t flash_ns;      /* time spent erasing and writing */
    uint64_t app_starts;    /* times the application started */
    uint64_t app_rx;        /* frames the running application received on its UART */
    uint64_t app_rx_errors; /* of them with a framing error (the byte is still read) */
    uint64_t app_overruns;  /* of them lost: the receive register was full */
    uint64_t app_tx;        /* reply bytes handed to the board's wire */
} cwsim_xmega_counters;
void cwsim_xmega_counters_get(const cwsim_xmega *chip, cwsim_xmega_counters *out);

#ifdef __cplusplus
}
#endif

#endif
