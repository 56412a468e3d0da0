/* SPDX-License-Identifier: MIT */
/* Internal to the STM32 chip model: the chip structure shared by stm32.c (the model) and
 * stm32_attach.c (the board adapter). */
#ifndef CWLUA_SIM_STM32_STM32_INTERNAL_H
#define CWLUA_SIM_STM32_STM32_INTERNAL_H

#include "cwsim_ssapp.h"
#include "cwsim_stm32.h"
#include "stm32_parts.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#define STM32_TXQ 1024 /* reply bytes waiting for the TX pin (a Read reply is 257) */

/* ss1/ss2: the SimpleSerial AES application of sim/ssapp/ssapp.c (v1.1 / v2.1) */
enum stm32_app { STM32_APP_SILENT, STM32_APP_BANNER, STM32_APP_SS1, STM32_APP_SS2 };

/* What the bootloader expects next (target-protocols.md §A.4 exchanges). */
enum stm32_phase {
    PH_CMD,           /* a command byte */
    PH_CMD_COMP,      /* its complement */
    PH_ADDR,          /* 4 address bytes + XOR (Read, Go, Write) */
    PH_READ_LEN,      /* N, N ^ 0xFF */
    PH_WRITE_N,       /* N */
    PH_WRITE_DATA,    /* N + 1 bytes, then the XOR of N and the data */
    PH_ERASE_N,       /* 0x43: N or 0xFF; 0x44: two bytes */
    PH_ERASE_SPECIAL, /* the checksum after a global / special code */
    PH_ERASE_LIST,    /* page numbers, then the checksum */
    PH_WP_N,          /* Write Protect: N */
    PH_WP_LIST        /* sector codes, then the checksum */
};

enum stm32_op { OP_NONE, OP_WRITE_FLASH, OP_WRITE_OB, OP_ERASE, OP_WP, OP_WU, OP_RP, OP_RU };
enum stm32_after { AFTER_NONE, AFTER_RESET, AFTER_GO };

typedef struct stm32_txent {
    uint8_t byte;
    cwsim_uart_format fmt;
} stm32_txent;

struct cwsim_stm32 {
    cwsim *sim;
    const stm32_part *p;
    cwsim_board *board; /* NULL: standalone */
    cwsim_stm32_tx_fn tx_fn;
    void *tx_ctx;
    uint64_t now;

    /* memories */
    uint8_t *flash;
    uint8_t *ram; /* from 0x20000000 to ram_end, the bootloader's own part included */
    uint32_t ram_size;
    uint8_t ob[STM32_OB_MAX]; /* the part's option bytes (stm32_ob_size: 16, 32 or 40) */
    int dirty;
    uint64_t save_at;
    uint64_t save_failures;

    /* inputs */
    int powered, nrst_low, boot0_high;
    double clock_hz;

    /* running state */
    cwsim_stm32_mode mode;
    uint64_t start_at;  /* STARTING ends */
    int boot_bl;        /* BOOT0 as sampled at start-up */
    int synced_pending; /* already-synced fault, until the first boot or an nRST pulse */
    int app;            /* enum stm32_app */
    char banner[64];
    uint64_t app_at; /* banner due */
    cwsim_ssapp ss;  /* STM32_APP_SS1/SS2: the SimpleSerial application's state */
    /* an encryption running (trigger high) until aes_end; its reply waits in held */
    uint64_t aes_end;
    uint8_t held[CWSIM_SSAPP_OUT_MAX];
    size_t nheld;

    /* bootloader */
    cwsim_uart_format fmt; /* after autobaud */
    int rdr_full;          /* the one-byte receive register */
    uint8_t rdr;
    int phase; /* enum stm32_phase */
    uint8_t cmd;
    uint8_t buf[260];
    unsigned got, count, listed, special;
    uint8_t xsum;
    int list_bad, mass;
    uint32_t addr, go_addr;
    uint8_t map[128]; /* pages/sectors named by an Erase or Write Protect list */
    int op;           /* enum stm32_op, busy until op_end */
    uint64_t op_end;
    int after; /* enum stm32_after, once the last reply byte is out */

    /* transmit */
    stm32_txent txq[STM32_TXQ];
    size_t txq_head, txq_len;
    int line_busy;
    uint64_t line_end;
    cwsim_uart_frame line_frame;

    cwsim_stm32_counters cnt;
};

/* Run timers up to now_ns / tell the board when to wake us next. */
void stm32_run(cwsim_stm32 *c, uint64_t now_ns);
void stm32_leave(cwsim_stm32 *c);
void stm32_power(cwsim_stm32 *c, int on);
void stm32_nrst(cwsim_stm32 *c, int low);
void stm32_rx(cwsim_stm32 *c, const cwsim_uart_frame *f);
void stm32_ob_default(const stm32_part *p, uint8_t *ob);

/* The L0/L1/L4 differences (stm32_lseries.c). */
void stm32l_ob_default(const stm32_part *p, uint8_t *ob);
int stm32l_read_protected(const cwsim_stm32 *c);
int stm32l_write_protected(const cwsim_stm32 *c, unsigned sector);
void stm32l_set_write_protect(cwsim_stm32 *c, unsigned sector);
void stm32l_clear_write_protect(cwsim_stm32 *c);
void stm32l_set_read_protect(cwsim_stm32 *c);
void stm32l_clear_read_protect(cwsim_stm32 *c);
int stm32l_mass_erase(const stm32_part *p);
unsigned stm32l_write_align(const stm32_part *p);
int stm32l_write_refused(const cwsim_stm32 *c, uint32_t off, const uint8_t *data, uint32_t len);
uint64_t stm32l_program_ns(const cwsim_stm32 *c, uint32_t off, uint32_t len);
uint64_t stm32l_page_erase_ns(const stm32_part *p);
uint64_t stm32l_mass_erase_ns(const stm32_part *p);

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void
stm32_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
