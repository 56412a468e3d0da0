/* SPDX-License-Identifier: MIT */
/* Internal to the XMEGA model: the chip (xmega.c), its board attachment (xmega_attach.c) and
 * the part table (xmega_parts.c). The board's XPROG engine (sim/engines/xprog.c) reaches the
 * chip only through the wiring (cwsim_target_ops). */
#ifndef CWLUA_SIM_XMEGA_XMEGA_INTERNAL_H
#define CWLUA_SIM_XMEGA_XMEGA_INTERNAL_H

#include "cwsim_ssapp.h"
#include "cwsim_xmega.h"

#include <stdint.h>

#define XMEGA_PAGE_MAX   512 /* largest flash page of a modelled part */
#define XMEGA_EEPAGE_MAX 32
#define XMEGA_REPLY_MAX  320 /* bytes a repeated LD can queue (REPEAT count is one byte + 1) */
#define XMEGA_PRODSIG    64  /* production signature row bytes modelled */
#define XMEGA_TXQ        256 /* application reply bytes waiting for the TX pin */

struct cwsim_xmega {
    cwsim *sim;
    cwsim_board *board; /* when attached */
    const cwsim_xmega_part_info *p;
    uint8_t *flash; /* app_size + boot_size */
    uint8_t *eeprom;
    uint8_t fuse[8]; /* as at 0x08F0020: FUSEBYTE0..5, reserved, LOCKBITS */
    uint8_t usersig[XMEGA_PAGE_MAX];
    uint8_t prodsig[XMEGA_PRODSIG];
    int dirty;

    /* inputs */
    int powered, reset_low;
    uint64_t now;

    /* PDI link (XMEGA manual "Program and Debug Interface" [ext]; target-protocols.md §B.5) */
    int link;      /* PDI enabled: the master holds PDI_DATA/PDI_CLK */
    int reset_key; /* RESET register holds 0x59: the core is kept in reset */
    int nvm_key;   /* the NVM key was given: NVMEN (unless a chip erase runs) */
    uint8_t ctrl;  /* PDI CTRL (guard time) */
    uint8_t op;    /* instruction being received; 0xFF: none */
    uint8_t operand[8];
    unsigned nop, need; /* operand bytes received / expected */
    uint32_t ptr;
    unsigned repeat;  /* further repetitions of the next LD/ST */
    unsigned st_left; /* data bytes of a (repeated) ST still to come */
    uint8_t reply[XMEGA_REPLY_MAX];
    unsigned reply_len, reply_pos;

    /* NVM controller (registers at data 0x01C0, target-protocols.md §B.2) */
    uint8_t nvm_addr[3], nvm_data[3], nvm_cmd, nvm_ctrlb, nvm_intctrl;
    uint64_t busy_until;       /* STATUS.BUSY */
    uint64_t chip_erase_until; /* NVMEN low while a chip erase runs (§B.5) */
    uint8_t fbuf[XMEGA_PAGE_MAX];
    int fbuf_loaded;
    uint8_t ebuf[XMEGA_EEPAGE_MAX];
    uint32_t ebuf_loaded; /* bit i: EEPROM page buffer byte i loaded */

    /* the application (contract.md §5 --sim-app; docs/simulator-xmega.md "Application") */
    int app;         /* 0: silent; CWSIM_SSAPP_V1 / _V2: SimpleSerial AES */
    int app_on;      /* it runs: powered, out of reset, PDI off, flash not blank */
    double clock_hz; /* the clock on XTAL1 (the board's HS2); 0: none */
    cwsim_ssapp ss;
    uint8_t rxd; /* USART receive register */
    int rxd_full;
    uint8_t txq[XMEGA_TXQ]; /* reply bytes not yet handed to the board's wire */
    unsigned txq_head, txq_len;
    /* an encryption running (trigger high) until aes_end; its reply waits in held */
    uint64_t aes_end;
    uint8_t held[CWSIM_SSAPP_OUT_MAX];
    size_t nheld;

    cwsim_xmega_counters cnt;
};

/* The board's UART wiring (xmega_attach.c): a frame on the chip's RX pin, the TX line free. */
void xmega_uart_rx(cwsim_xmega *c, const cwsim_uart_frame *f, uint64_t now_ns);
void xmega_uart_tx_ready(cwsim_xmega *c, uint64_t now_ns);
/* The board's wake-up: the end of an encryption. */
void xmega_wake(cwsim_xmega *c, uint64_t now_ns);

#endif
