/* SPDX-License-Identifier: MIT */
/* Simulated STM32 target chips for libcwsim: the ROM USART bootloader (ST AN3155), flash with
 * the part's page/sector layout, option bytes, read-out and write protection, and a small
 * application model. One chip works behind a simulated board (cwsim_stm32_attach, CW308
 * wiring) or standalone with virtual time supplied by the caller (cwsim_stm32_new: bytes in,
 * bytes out; this is what `cwlua sim serve` and the C tests use).
 *
 * Documents: target-protocols.md §A.3-A.9 (link layer, commands, chip-ID table A.6, timings
 * A.7b, bad input A.8, simulator notes A.9), contract.md §5 (simulator, faults, --sim-app),
 * docs/simulator-stm32.md (the model, every UNCONFIRMED choice and known deviation).
 *
 * Conventions as in cwsim.h: not thread-safe; functions that can fail take (err, errlen) and
 * write a one-line message there; times are virtual nanoseconds; the library never prints.
 */
#ifndef CWLUA_SIM_STM32_CWSIM_STM32_H
#define CWLUA_SIM_STM32_CWSIM_STM32_H

#include "cwsim_chip.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cwsim_stm32 cwsim_stm32; /* one simulated STM32 chip */

/* ---- parts (target-protocols.md §A.6) -------------------------------------------------------- */

typedef struct cwsim_stm32_part_info {
    const char *name;   /* contract.md §3 part name, "stm32f100xb" */
    const char *device; /* stm32flash 0.7's name for the PID, "STM32F10xxx Medium-density VL" */
    uint16_t pid;       /* what Get ID returns, 0x420 */
    uint8_t bootloader_version; /* Get / Get Version, 0x22 = v2.2 */
    uint8_t erase_command;      /* 0x43 (Erase) or 0x44 (Extended Erase): exactly one */
    uint32_t flash_start;       /* 0x08000000 */
    uint32_t flash_size;        /* bytes; the flash-size register reads this / 1024 */
    uint32_t ram_start;         /* first byte a host may use (the bootloader keeps what's below) */
    uint32_t ram_end;           /* exclusive */
    uint32_t option_start;      /* option bytes */
    uint32_t option_end;        /* exclusive */
    uint32_t sysmem_start;      /* system memory (ROM bootloader) */
    uint32_t sysmem_end;        /* exclusive */
    unsigned erase_units;       /* pages (F0/F1/F3) or sectors (F2/F4) the erase commands number */
    unsigned protect_units;     /* write-protection sectors (Write Protect codes, WRP bits) */
} cwsim_stm32_part_info;

size_t cwsim_stm32_part_count(void);
const cwsim_stm32_part_info *cwsim_stm32_part_at(size_t i); /* NULL if out of range */
/* A part name ("stm32f100xb"), a recipe name ("stm32f1") or a ChipWhisperer PLATFORM alias
 * ("CW308_STM32F1", "CWLITEARM", "CWNANO"), case-insensitive; the last two mean the recipe's
 * reference part (contract.md §3, §5). NULL if unknown. */
const cwsim_stm32_part_info *cwsim_stm32_part_find(const char *name);

/* ---- the chip ----------------------------------------------------------------------------- */

/* Make a standalone chip of PART (any name cwsim_stm32_part_find accepts). Flash, option bytes
 * and protection come from the state folder of sim when it is open (blobs "<part>.flash" and
 * "<part>.optbytes"), else the chip is new: flash erased (0xFF; 0x00 on L0/L1), factory option
 * bytes. The faults read-protected and write-protected[=SECTORS] set that persistent state now;
 * the fault already-synced makes the first boot come up synced. The chip starts unpowered,
 * nRST released, BOOT0 low, no clock, application model "silent". 0 ok. */
int cwsim_stm32_new(cwsim *sim, const char *part, cwsim_stm32 **out, char *err, size_t errlen);
/* Save (if the state folder is open and anything changed) and free. NULL is ignored. */
void cwsim_stm32_free(cwsim_stm32 *chip);
/* Write flash and option bytes to the state folder now, if they changed. 0 ok (also when no
 * folder is open). The chip also saves by itself 200 ms (virtual) after the last change. */
int cwsim_stm32_save(cwsim_stm32 *chip, char *err, size_t errlen);
const cwsim_stm32_part_info *cwsim_stm32_part(const cwsim_stm32 *chip);

/* Plug a new chip of PART into board b with the CW308 wiring: chip RX on TIO2, chip TX on TIO1,
 * BOOT0 = PDIC (undriven = low, the CW308 pull-down), reset = nRST (undriven = released).
 * The board owns the chip: it is saved and freed when detached or at cwsim_free. Returns the
 * chip (to set the application model or look inside), NULL on error. */
cwsim_stm32 *cwsim_stm32_attach(cwsim_board *b, const char *part, char *err, size_t errlen);

/* Application model (contract.md §5 --sim-app): "silent", "banner", or the SimpleSerial AES-128
 * applications "ss1-aes" (v1.1, 38400 baud) and "ss2-aes" (v2.1, 230400 baud) of cwsim_ssapp.h.
 * What runs when reset is released with BOOT0 low, or after Go, and the flash is not blank.
 * 0 ok, -1 unknown name. */
int cwsim_stm32_set_app(cwsim_stm32 *chip, const char *app, char *err, size_t errlen);

/* ---- standalone use: the caller is the board -------------------------------------------- */

/* Called for each frame the chip puts on its TX pin, when its stop bit ends (end_ns). */
typedef void (*cwsim_stm32_tx_fn)(void *ctx, const cwsim_uart_frame *frame, uint64_t end_ns);
void cwsim_stm32_set_tx(cwsim_stm32 *chip, cwsim_stm32_tx_fn fn, void *ctx);

/* Inputs, each at virtual time now_ns (never earlier than a time already passed to the chip).
 * Each call first runs the chip up to now_ns. */
void cwsim_stm32_set_power(cwsim_stm32 *chip, int on, uint64_t now_ns);
void cwsim_stm32_set_nrst(cwsim_stm32 *chip, int low, uint64_t now_ns); /* 1: held in reset */
void cwsim_stm32_set_boot0(cwsim_stm32 *chip, int high, uint64_t now_ns);
void cwsim_stm32_set_clock(cwsim_stm32 *chip, double hz, uint64_t now_ns); /* 0: none */
/* A frame whose stop bit ended at now_ns arrived on the chip's RX pin. */
void cwsim_stm32_rx_frame(cwsim_stm32 *chip, const cwsim_uart_frame *frame, uint64_t now_ns);
/* The same for a clean frame of byte in format fmt. */
void cwsim_stm32_rx_byte(cwsim_stm32 *chip, uint8_t byte, const cwsim_uart_format *fmt,
                         uint64_t now_ns);
/* Run the chip up to now_ns (timers, transmit, flash operations). */
void cwsim_stm32_advance(cwsim_stm32 *chip, uint64_t now_ns);
/* When the chip next has something to do; UINT64_MAX: nothing until an input. */
uint64_t cwsim_stm32_next_event_ns(const cwsim_stm32 *chip);

/* A clean UART frame (slot 0 start bit, data LSB first, parity, stop; cwsim.h's layout). */
cwsim_uart_frame cwsim_stm32_frame(uint8_t byte, const cwsim_uart_format *fmt);

/* ---- simulator-side view (never visible to a host; tests and diagnostics) ---------------- */

typedef enum cwsim_stm32_mode {
    CWSIM_STM32_OFF,        /* unpowered */
    CWSIM_STM32_RESET,      /* nRST held low */
    CWSIM_STM32_STARTING,   /* reset released, not yet running */
    CWSIM_STM32_BOOTLOADER, /* ROM bootloader, waiting for the 0x7F sync */
    CWSIM_STM32_SYNCED,     /* ROM bootloader, synced */
    CWSIM_STM32_APP,        /* the application model runs */
    CWSIM_STM32_HALTED      /* blank flash (erased vectors) or unknown code in RAM after Go */
} cwsim_stm32_mode;
cwsim_stm32_mode cwsim_stm32_get_mode(const cwsim_stm32 *chip);
/* "flash-blank" while an application model other than "silent" is chosen and the chip halted
 * at start-up on an erased flash; else NULL (cwsim_target_ops.note). */
const char *cwsim_stm32_note(const cwsim_stm32 *chip);
/* The chip's power as the board's ADC sees it (cwsim_target_ops.power_trace; the model of
 * cwsim_ssapp_power): n samples, sample i at t0_ns + i * 1e9 / adc_hz. */
void cwsim_stm32_power_trace(const cwsim_stm32 *chip, double t0_ns, double adc_hz, float *out,
                             size_t n);

/* Bytes at addr..addr+len-1 as the CPU sees them (flash, RAM, option bytes, system memory with
 * the flash-size register and unique ID), ignoring read protection. Returns the number of
 * leading bytes that are mapped. */
size_t cwsim_stm32_peek(const cwsim_stm32 *chip, uint32_t addr, uint8_t *buf, size_t len);
int cwsim_stm32_read_protected(const cwsim_stm32 *chip);
/* 1 if write-protection sector `sector` is protected (out of range: 0). */
int cwsim_stm32_write_protected(const cwsim_stm32 *chip, unsigned sector);
/* The chip's own UART format (the bootloader's after autobaud; the application's). */
cwsim_uart_format cwsim_stm32_bootloader_format(const cwsim_stm32 *chip);

typedef struct cwsim_stm32_counters {
    uint64_t rx_frames;   /* frames that reached the RX pin */
    uint64_t rx_errors;   /* of those, discarded for a parity or framing error */
    uint64_t rx_overruns; /* lost: the receive register was full (busy bootloader) */
    uint64_t tx_bytes;    /* frames sent */
    uint64_t acks, nacks; /* bootloader replies 0x79 / 0x1F */
    uint64_t resets;      /* boots (power-up, nRST, self-reset after option changes) */
    uint64_t flash_ns;    /* time spent erasing and programming */
} cwsim_stm32_counters;
void cwsim_stm32_counters_get(const cwsim_stm32 *chip, cwsim_stm32_counters *out);

#ifdef __cplusplus
}
#endif

#endif
