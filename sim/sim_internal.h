/* SPDX-License-Identifier: MIT */
/* libcwsim private declarations: the board, FPGA, USART and wiring state shared by the sim_*.c
 * files and the firmware's engines (engines/). The board's own: no chip model includes it
 * (they see cwsim_chip.h). Not installed; only cwsim.h is public. Section numbers refer to
 * cw-usb-protocol.md unless they say docs/reference/contract.md. */
#ifndef CWLUA_SIM_SIM_INTERNAL_H
#define CWLUA_SIM_SIM_INTERNAL_H

#include "cwsim.h"

#include <stdarg.h>
#include <stdint.h>

#define SIM_MAX_BOARDS 16

/* §5.4: CIRCBUFSIZE = 200 in all released firmware (one slot stays empty: 199 usable); 128 in
 * firmware older than the SERIAL_200_BUFFER feature (§2.4). */
#define SIM_CIRCBUF_MAX 200

typedef struct sim_circbuf {
    uint8_t data[SIM_CIRCBUF_MAX];
    uint16_t size; /* 200 (or 128 on old firmware); capacity size - 1 */
    uint16_t head, tail;
} sim_circbuf;

/* sim_usart.c */
void circ_init(sim_circbuf *c, uint16_t size);
unsigned circ_count(const sim_circbuf *c);
int circ_push(sim_circbuf *c, uint8_t v); /* 0 ok, -1 full (byte dropped) */
int circ_pop(sim_circbuf *c, uint8_t *v); /* 0 ok, -1 empty */

/* ---- per-kind constants (§1, §7) --------------------------------------------------------- */

/* Firmware features of §2.4 that change what the board answers. */
enum sim_feature {
    FEAT_WCID,          /* MS OS 2.0 descriptor request 0xC0/0x01 */
    FEAT_CDC,           /* 0x31 CDC settings */
    FEAT_TX_IN_WAIT,    /* 0x1B/0x18 */
    FEAT_RESET,         /* 0x22/0x10 */
    FEAT_LOCK_RESET,    /* 0x22/0x11 */
    FEAT_BUILD_DATE,    /* 0x40 */
    FEAT_SERIAL_200,    /* 200-byte USART buffers (else 128) */
    FEAT_MPSSE,         /* 0x22/0x42 */
    FEAT_TARGET_SPI,    /* 0x35 */
    FEAT_MPSSE_ENABLED, /* 0x22 IN 0x42 */
    FEAT_ERR_LED,       /* 0x22 IN status, 0x22/0x12 (inferred: the error word came with it) */
    FEAT_COUNT
};

typedef struct sim_kind_desc {
    cwsim_kind kind;
    const char *name;
    uint16_t pid;
    const char *product;
    uint8_t fw[3];          /* bundled firmware version (§1.1, §7.1) */
    const char *build_date; /* 0x40 reply, 20 characters (§2.3) */
    int high_speed;         /* §1.1: Lite, Pro, Husky HS; Nano FS only */
    uint8_t ep_in, ep_out;  /* vendor bulk (§1.2) */
    uint8_t cdc_in, cdc_out, cdc_notify;
    unsigned max_power_ma; /* §1.1 */
    uint32_t mck_hz;       /* SAM master clock: USART baud base (§5.1) */
    int has_fpga;
    int addr_bits;                 /* FPGA register address bits: 6 Lite/Pro, 8 Husky (§2.5) */
    uint32_t bitstream_payload;    /* bytes after the sync word in the bundled bitstream (§3.1) */
    uint32_t feat_min[FEAT_COUNT]; /* version (maj<<16|min<<8|dbg) a feature appears; 0: never */
} sim_kind_desc;

const sim_kind_desc *sim_kind_desc_get(cwsim_kind kind);
uint32_t sim_version_u32(const uint8_t v[3]);

/* ---- faults ------------------------------------------------------------------------------ */

enum sim_fault_id {
    F_NO_POWER,
    F_NO_CLOCK,
    F_UART_RX_OPEN,
    F_UART_TX_OPEN,
    F_UART_SWAPPED,
    F_PDI_OPEN,
    F_ISP_OPEN,
    F_BOOT0_STUCK_LOW,
    F_NRST_OPEN,
    F_BAUD_SKEW,
    F_BIT_FLIPS,
    F_DROP_BYTES,
    F_ALREADY_SYNCED,
    F_READ_PROTECTED,
    F_WRITE_PROTECTED,
    F_SLOW_ERASE,
    F_FPGA_UNPROGRAMMED,
    F_OLD_FIRMWARE,
    F_USB_STALL_AFTER,
    F_USB_TIMEOUT_AFTER,
    F_UNPLUG_AFTER,
    F_GLITCH_ACTIVE,
    F_PLL_UNLOCKED,
    F_TRIGGER_OPEN,
    F_COUNT
};

typedef struct sim_fault {
    int on;
    double num;
    char text[64];
    uint8_t ver[3]; /* old-firmware */
} sim_fault;

/* ---- FPGA (§2.5, §3, §4) ------------------------------------------------------------------ */

#define SIM_REG_BYTES 16
#define EXTCLK_HZ     0.0 /* HS1 (the target's clock into the board) is not simulated */

enum { LOCK_FREE, LOCK_USB, LOCK_BLOCKIN, LOCK_CTRLMEM }; /* §2.5 bus lock states we need */
enum { BULK_OUT_REG, BULK_OUT_BITSTREAM, BULK_OUT_TARGET_BITSTREAM };
enum { POST_NONE, POST_RESET, POST_BOOTLOADER };

typedef struct sim_fpga {
    int done;                        /* DONE pin: configured */
    uint8_t reg[256][SIM_REG_BYTES]; /* register storage by (address, byte index) */
    unsigned addr, bytecnt;          /* ALE-latched address and byte counter (§2.5) */
    /* CLKGEN DCM (§4.8): the M/D actually loaded, not the staging bytes 1/2 of register 6 */
    unsigned dcm_mul, dcm_div;
    int dcm_done;
    /* configuration engine (§3) */
    int program_b_low;
    int synced;
    uint32_t shift;
    uint32_t after_sync;
    unsigned ff_run;
    uint32_t prog_hz;
    uint64_t pr_bytes; /* partial-reconfiguration bytes seen on register 52 */
} sim_fpga;

/* ---- USART bridge (§5) ------------------------------------------------------------------- */

typedef struct sim_usart {
    int configured; /* a valid INIT since reset */
    int tx_enabled, rx_enabled;
    uint32_t req_baud;
    uint8_t stop_idx, parity_idx, data_bits;
    cwsim_uart_format fmt;
    sim_circbuf rx, tx;
    /* transmitter: holding register + shift register (SAM USART) */
    int thr_full;
    uint8_t thr;
    int shift_active;
    cwsim_uart_frame shift_frame;
    uint64_t shift_end;
    uint32_t rx_dropped, tx_dropped;
    int cdc_enabled;
    sim_circbuf cdc; /* bundled firmware's copy of RX for the CDC port (§5.6) */
    uint8_t line_coding[7];
} sim_usart;

/* The chip's TX line towards the board. */
typedef struct sim_wire {
    int active;
    cwsim_uart_frame frame;
    uint64_t end;
    int hold_full;
    cwsim_uart_frame hold;
} sim_wire;

/* ---- the Husky's CDCI6214 PLL (§4.9) ------------------------------------------------------ */

#define SIM_PLL_NREGS 0x47 /* §4.9.2: registers 0x00-0x46 */

typedef struct sim_pll {
    uint16_t reg[SIM_PLL_NREGS];
    uint8_t result[3]; /* the firmware's [status][lo][hi] that IN 0x29 returns (§4.9.1) */
    /* The VCO calibrates when the chip powers up and at each reset or recalibration pulse; the
     * loop then locks once the calibration time has passed, for the settings it started with. */
    uint64_t cal_end;    /* virtual time the last calibration ends */
    uint16_t cal_key[3]; /* 0x01 input select, 0x1B ip_rdiv, 0x1D PSFB/divider it was for */
    uint64_t wake;       /* the lock bit rises then: the chip's clock changes; UINT64_MAX none */
} sim_pll;

/* ---- the OpenADC capture path (§4.10; sim_adc.c) ------------------------------------------ */

enum { ADC_IDLE, ADC_WAIT, ADC_RUN, ADC_DONE };

typedef struct sim_adc {
    int state;       /* ADC_IDLE; ADC_WAIT armed (STATUS bit 0); ADC_RUN triggered; ADC_DONE */
    int arm_in;      /* SETTINGS bit 3 as last seen */
    int arm_pending; /* a rising edge of bit 3 not yet taken (no ADC clock to take it) */
    int armed;       /* the trigger unit waits for the trigger level (edge mode: saw it inactive) */
    uint64_t arm_ns; /* the FIFO restarted */
    uint64_t go_ns;  /* the first sample of the capture: trigger + OFFSET clocks */
    uint64_t end_ns; /* the last sample is in */
    double hz;       /* ADC clock, taken at the trigger */
    unsigned dec;    /* DECIMATE + 1 */
    uint64_t s0;     /* Lite/Pro: samples written since arming before go */
    uint32_t pre, post;           /* samples before go (Husky) and from go on */
    double scale;                 /* the amplifier's gain against the default's */
    int match;                    /* the trigger input at its active level, last seen */
    uint64_t match_since, dur_ns; /* TRIGGER_DUR: time at the active level since arming */
    int done_flag;                /* Husky CAPTURE_DONE (89) */
    uint8_t *data;                /* the read-out after the sync byte */
    size_t len, pos, cap;         /* bytes held; next one register 3 gives; allocated */
    float *buf;                   /* the chip's samples */
    size_t bufcap;
} sim_adc;

/* ---- the board --------------------------------------------------------------------------- */

struct cwsim_board {
    cwsim *sim;
    size_t index;
    const sim_kind_desc *kd;
    char serial[128];
    uint8_t fw[3];
    uint8_t desc[256];
    size_t desc_len;
    uint8_t desc_other[256]; /* other-speed configuration */
    size_t desc_other_len;

    /* USB device state */
    int config;            /* bConfigurationValue, 0 = not configured */
    int unplugged;         /* unplug-after, or ENTER_BOOTLOADER */
    uint64_t reenum_until; /* absent until this time after 0x22/0x10; 0 none */
    unsigned generation;
    uint64_t transfers;
    uint8_t halt[2][16];  /* [in][ep number] */
    uint8_t ctrlbuf[128]; /* §2.1 ctrlbuffer[128], shared by all OUT requests */
    int post;             /* action after the status stage: POST_RESET, POST_BOOTLOADER */

    /* openadc handler state (§2.5) */
    int lock;
    uint32_t ctrl_read_len;
    uint32_t bulk_in_left;
    int bulk_out_mode;
    uint8_t bulk_pending[1024]; /* MAIN_LOOPBACK_SIZE (§2.5) */
    size_t bulk_pending_len;

    /* SAM (default handler) */
    uint16_t errors; /* §5.4 error word: bit0 RX overflow, bit1 TX overflow */
    uint8_t led;
    int slow_clock;
    int mpsse;
    uint8_t cdc_flags;
    cwsim_level sam_nrst; /* SAM pin on nRST (MPSSE, 0xB0); Z normally */

    sim_fpga fpga;
    sim_adc adc;
    sim_usart usart;

    /* Husky */
    sim_pll pll; /* the CDCI6214 behind ctrl 0x29 (sim_husky_pll.c) */
    uint8_t smc_fast;
    /* Nano (§7.2) */
    uint8_t nano_out, nano_level; /* GPIO output enable / level, by 0x25 mask bits */
    uint8_t nano_clkdiv;
    uint8_t nano_adc[5];
    uint32_t nano_samples;
    uint8_t nano_glitch[8];
    uint8_t nano_done;
    /* Pro/Husky streaming: accepted, not simulated */
    uint8_t stream[12];

    /* wiring and target */
    const cwsim_target_ops *tops;
    void *tctx;
    cwsim_target_view seen; /* what the target was last told */
    int seen_valid;
    int updating; /* inside wiring_update: target callbacks do not recurse */
    cwsim_level tdrive[CWSIM_PIN_COUNT];
    sim_wire wire;
    uint64_t wake_at;

    cwsim_vendor_hook hook[2];
    void *hook_ctx[2];
    void *xprog; /* the XPROG engine (sim/engines/xprog.c), owned by the board */
    /* the programming engines' shared timeout counter (target-protocols.md §1, §B.6, §C.7) */
    uint32_t engine_timeout_default; /* ticks; power-on 500 */
    uint64_t engine_timeout_end_ns;  /* when the running counter reaches 0 */
    uint32_t engine_timeout_stopped; /* 1: stopped, engine_timeout_left holds its value */
    uint32_t engine_timeout_left;

    cwsim_counters cnt;
};

struct cwsim {
    uint64_t now;
    uint64_t usb_latency;
    cwsim_board *boards[SIM_MAX_BOARDS];
    size_t nboards;
    unsigned next_serial;
    sim_fault fault[F_COUNT];
    uint64_t rng[4];
    uint64_t noise_rng[4]; /* the ADC's noise stream (cwsim_seed seeds both) */
    double noise;          /* --sim-noise: sigma in full-scale units */
    double noise_spare;    /* Box-Muller makes normals in pairs: the second one */
    int noise_has_spare;
    cwsim_counters cnt; /* world-level: wait_ns, flash_ns; the rest is summed from boards */
    /* state folder */
    char *state_dir;
    int state_fd;
    cwsim_state_writer state_writer; /* NULL: cwsim_state_write in the caller's thread */
    void *state_writer_ctx;
};

/* errors into the caller's buffer */
void sim_err(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* time */
void sim_run_until(cwsim *sim, uint64_t deadline);
uint64_t sim_next_event(const cwsim *sim);      /* UINT64_MAX: none */
void sim_pass_usb(cwsim_board *b, uint64_t ns); /* time inside a transfer */

/* faults */
int sim_fault_on(const cwsim *sim, int id);
double sim_fault_num(const cwsim *sim, int id);
/* A decimal number as a person writes one ([-]digits[.digits][e[+-]digits]); 0 ok, -1 for
 * anything else (spaces, '+', hexadecimal, inf, nan, trailing text, out of double's range). */
int sim_parse_decimal(const char *s, int allow_minus, double *out);
void sim_fault_apply_board(cwsim_board *b, int id);
int sim_chance(cwsim *sim, double p);
double sim_noise_gauss(cwsim *sim); /* N(0, 1) from the noise stream */

/* USB (sim_usb.c) */
void usb_build_descriptors(cwsim_board *b);
int usb_feature(const cwsim_board *b, int feat);
int usb_control(cwsim_board *b, uint8_t bm, uint8_t req, uint16_t val, uint16_t idx, uint8_t *data,
                uint16_t len, unsigned timeout_ms);
int usb_bulk(cwsim_board *b, uint8_t ep, uint8_t *data, int len, unsigned timeout_ms);
void sam_reset(cwsim_board *b); /* SAM state as after power-up/0x22/0x10 */

/* FPGA (sim_fpga.c) */
void fpga_power_up(cwsim_board *b, int configured);
void fpga_regs_reset(cwsim_board *b);
void fpga_unconfigure(cwsim_board *b);
void fpga_latch(cwsim_board *b, unsigned addr);
uint8_t fpga_read_byte(cwsim_board *b);
void fpga_write_byte(cwsim_board *b, uint8_t v);
uint8_t fpga_peek_byte(const cwsim_board *b, unsigned addr, unsigned idx);
void fpga_config_byte(cwsim_board *b, uint8_t v);
void fpga_program_b(cwsim_board *b, int low);
double fpga_clkgen_hz(const cwsim_board *b);
double fpga_adc_hz(const cwsim_board *b);
int fpga_clkgen_locked(const cwsim_board *b);
int fpga_trigger_input(const cwsim_board *b); /* the trigger module's input (§4.4), 1 = high */
double board_hs2_hz(const cwsim_board *b);
void board_default_setup(cwsim_board *b);
void board_glitch_active(cwsim_board *b);

/* ADC capture (sim_adc.c) */
void adc_reset(cwsim_board *b);                /* FPGA reset or unconfigured: idle, FIFO empty */
void adc_free(cwsim_board *b);                 /* with the board */
void adc_update(cwsim_board *b);               /* an input of the trigger unit may have changed */
uint64_t adc_next_event(const cwsim_board *b); /* the capture's end; UINT64_MAX none */
void adc_event(cwsim_board *b);
uint8_t adc_status(const cwsim_board *b); /* STATUS bits 1..0 */
uint32_t adc_retsamples(const cwsim_board *b);
uint32_t adc_trigger_dur(const cwsim_board *b);
uint8_t adc_read_byte(cwsim_board *b, unsigned idx); /* register 3, byte idx of an access */
uint8_t adc_peek_byte(const cwsim_board *b, unsigned idx);

/* Husky PLL (sim_husky_pll.c) */
void husky_pll_power_up(cwsim_board *b);
void husky_pll_ctrl_out(cwsim_board *b, const uint8_t *data, uint16_t len); /* OUT 0x29 */
void husky_pll_ctrl_in(cwsim_board *b, uint8_t resp[3]);                    /* IN 0x29 */
double husky_pll_hz(const cwsim_board *b, int channel); /* output channel 1..4; 0 when off */
int husky_pll_locked(const cwsim_board *b);
void husky_pll_default_setup(cwsim_board *b); /* the registers of §4.9.4's table, locked */

/* USART (sim_usart.c) */
void usart_reset(cwsim_board *b);
void usart_init_cmd(cwsim_board *b, const uint8_t *cfg7);
void usart_enable(cwsim_board *b, int on);
void usart_putchar(cwsim_board *b, uint8_t v);
void usart_tx_service(cwsim_board *b);
void usart_tx_done(cwsim_board *b);
void usart_rx_frame(cwsim_board *b, const cwsim_uart_frame *f);
void usart_line_coding(cwsim_board *b, const uint8_t *lc7);
void usart_refresh(cwsim_board *b);
uint32_t usart_mck(const cwsim_board *b);
cwsim_uart_frame uart_make_frame(uint8_t byte, const cwsim_uart_format *fmt);

/* wiring (sim_wiring.c) */
void wiring_view(const cwsim_board *b, cwsim_target_view *v);
void wiring_update(cwsim_board *b);
int wiring_to_target(const cwsim_board *b);
int wiring_from_target(const cwsim_board *b);
cwsim_level wiring_pin_level(const cwsim_board *b, cwsim_pin pin); /* what register 59 reads */
void wiring_deliver_to_target(cwsim_board *b, const cwsim_uart_frame *f);
void wire_done(cwsim_board *b);
void wiring_fault_frame(cwsim_board *b, cwsim_uart_frame *f, int *dropped);
void target_destroy(cwsim_board *b);

/* board-side programming engines (sim/engines/engines.c): installed when a board is added, freed
 * with it */
void sim_board_engines_add(cwsim_board *b);
void sim_board_engines_free(cwsim_board *b);
void sim_xprog_free(cwsim_board *b); /* sim/engines/xprog.c */

#endif
