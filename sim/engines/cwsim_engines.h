/* SPDX-License-Identifier: MIT */
/* The board firmware's programming engines in libcwsim, and the timeout counter they share:
 * XPROG (XMEGA PDI programming) on vendor request 0x20 and V2/ISP (AVR serial programming) on
 * 0x21. They are board parts, not chip models (NewAE's XPROGNewAE.c and V2Protocol.c run on the
 * board's SAM): libcwsim gives every board but the Nano both when the board is added, and they
 * reach the chip only through the wiring (cwsim_board_pdi_send/recv/link and
 * cwsim_board_isp_exchange in cwsim.h), so they talk to whatever chip is attached, or to nobody.
 *
 * The XPROG engine: the board firmware's XPROG command set on vendor request 0x20 (sub-command
 * in wValue's low byte, the 256-byte RAM buffer with its offset in wValue's high byte, the
 * 3-byte status with its timeout flag, the shared timeout counter). The V2 engine: the board
 * firmware's STK500v2-like command set on vendor request 0x21 (little-endian payloads,
 * exact-size commands, consume-once status, the RAM buffer, word addressing with
 * auto-increment, the shared timeout counter, the SAM slow clock).
 *
 * Documents: target-protocols.md §1 (transport, shared timeout counter), §B.1-B.6 (XPROG
 * framing, sub-commands and their PDI bytes, engine state), §C.1-C.7 (V2 engine), §E (bad
 * input), §F; docs/simulator-xmega.md and docs/simulator-avr.md (the engines, every UNCONFIRMED
 * choice).
 *
 * Conventions as in cwsim.h (which includes this header). */
#ifndef CWLUA_SIM_ENGINES_CWSIM_ENGINES_H
#define CWLUA_SIM_ENGINES_CWSIM_ENGINES_H

#include "cwsim_chip.h" /* cwsim_board */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the shared timeout counter (target-protocols.md §1) ------------------------------------ */

/* The engines' shared timeout counter (target-protocols.md §1 "Shared timeout counter", §B.6,
 * §C.7): TC0 ticks at 2500 Hz (0.4 ms); the XPROG and V2 engines share one counter and one default
 * (power-on 500 ticks = 200 ms), so an XMEGA session's SET_PARAM can break a later AVR entry.
 * start reloads the counter from the default at the current virtual time; it then runs down
 * with virtual time to 0 and stays there; stop freezes it (the XPROG engine stops it after
 * each command, the V2 engine never does). */
void cwsim_board_engine_timeout_set_default(cwsim_board *b, uint32_t ticks);
uint32_t cwsim_board_engine_timeout_default(const cwsim_board *b);
void cwsim_board_engine_timeout_start(cwsim_board *b);
void cwsim_board_engine_timeout_stop(cwsim_board *b);
uint32_t cwsim_board_engine_timeout_remaining(const cwsim_board *b); /* ticks; 0 = expired */
#define CWSIM_ENGINE_TICK_NS 400000u                                 /* 1 / 2500 Hz */

/* ---- the board's XPROG engine (target-protocols.md §B.1, §B.2, §B.6) ------------------------ */

/* libcwsim gives every board but the Nano this engine when the board is added (its firmware
 * lacks it: requests 0x20 stall, cw-usb-protocol.md §2.3). Its PDI goes through
 * cwsim_board_pdi_send/recv/link, so it talks to whatever chip is attached, or to nobody. */
int cwsim_xprog_install(cwsim_board *b, char *err, size_t errlen); /* 0 ok, -1 Nano/no memory */

typedef struct cwsim_xprog_view {
    int present;         /* the board has the engine */
    uint8_t status;      /* XPROG_Status of the last command (0 OK, 1 FAILED, 3 TIMEOUT) */
    int link;            /* the PDI USART runs (between ENTER and LEAVE) */
    uint32_t nvm_base;   /* NVMBASE parameter, 0x010001C0 */
    uint16_t ee_page;    /* EEPPAGESIZE parameter, 32 */
    uint8_t rambuf[256]; /* xprog_rambuf */
    uint64_t commands;   /* sub-commands 0x01-0x07 run */
} cwsim_xprog_view;
void cwsim_xprog_view_get(const cwsim_board *b, cwsim_xprog_view *out);

/* ---- the board's V2/ISP engine (target-protocols.md §C.1-C.3, §C.7) ------------------------ */

typedef struct cwsim_v2 cwsim_v2;

/* Give board b the V2 engine: a vendor hook on bRequest 0x21 whose SPI goes through
 * cwsim_board_isp_exchange (routing, power, isp-open) and whose /RESET is the SAM pin on nRST.
 * libcwsim does this for every board but the Nano when the board is added (engines.c), so
 * it answers whatever target is attached, or none; a board that has one gets it back. NULL on
 * error (the Nano has no engine). */
cwsim_v2 *cwsim_v2_install(cwsim_board *b, char *err, size_t errlen);
cwsim_v2 *cwsim_v2_of(cwsim_board *b); /* the board's engine, NULL if none */
/* Remove the hook from the board and free the engine (the board does it at cwsim_free). NULL
 * is ignored. */
void cwsim_v2_remove(cwsim_v2 *e);
/* The SCK frequency the SAM SPI produces now (SCK_DURATION, the divider limit, slow clock). */
double cwsim_v2_sck_hz(const cwsim_v2 *e);

typedef struct cwsim_v2_view {
    uint32_t current_address; /* LOAD_ADDRESS, auto-incremented */
    int must_load_extended;   /* the next access sends Load Extended Address first */
    int reset_asserted;       /* /RESET driven to its active level */
    int spi_enabled;
    uint8_t sck_duration;   /* parameter 0x98 */
    uint8_t reset_polarity; /* parameter 0x9E */
    unsigned status_len;    /* bytes the next GET_STATUS returns */
    uint8_t status[32];
    uint64_t commands; /* OUT commands run (not SET_RAMBUF) */
    uint64_t ignored;  /* commands with a wrong payload size, silently dropped */
} cwsim_v2_view;
void cwsim_v2_view_get(const cwsim_v2 *e, cwsim_v2_view *out);

#ifdef __cplusplus
}
#endif

#endif
