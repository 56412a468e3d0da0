/* SPDX-License-Identifier: MIT */
/* A simulated SimpleSerial AES-128 application for libcwsim's target chips (contract.md §5
 * --sim-app ss1-aes | ss2-aes): what NewAE's simpleserial-aes firmware does, as bytes in and
 * bytes out, with a real AES-128 of the plaintext under the loaded key. The chip model owns
 * everything physical: it decodes UART frames at the application's baud rate scaled by the
 * clock it receives (cwsim_ssapp_baud), feeds each received byte to cwsim_ssapp_rx, and sends
 * the reply bytes in its own UART format.
 *
 * Protocol facts (cw-usb-protocol.md §5.5; NewAE's simpleserial.c and simpleserial-aes.c, read
 * for facts only):
 *  - v1.1 ("ss1-aes", 38400 baud): a command letter, 2 hex digits per data byte (either case),
 *    then '\n' or '\r'. An unknown letter is ignored; an early end of line, a missing end of
 *    line or a bad hex digit drops the command silently. Replies 'r' + upper-case hex + '\n';
 *    every command is acknowledged with 'z' + 2 hex digits + '\n'. Commands: 'v' (ack 01, the
 *    version), 'w' (the command table, 3 bytes each), 'y' (the number of commands), 'k' 16
 *    bytes (key), 'p' 16 bytes (plaintext -> 'r' ciphertext), 'x' (reset, does nothing).
 *  - v2.1 ("ss2-aes", 230400 baud): frames [cmd, scmd, len, data, crc8] COBS-stuffed with a
 *    leading pointer byte and a 0x00 terminator; CRC poly 0x4D, init 0, over cmd..data. The
 *    first four bytes are read one by one (a 0x00 there: error 5 at once), then the command is
 *    checked (unknown: error 1), then len + 1 bytes (a 0x00: error 5), then the terminator
 *    (anything else: error 4), then the CRC (error 2). Every frame ends with an 'e' frame
 *    [e, 1, code, crc]. Commands: 'v' (r [3]), 'w' (r: the command letters), 0x01 AES with
 *    scmd bit 1 = a 16-byte key and bit 0 = a 16-byte plaintext (-> r ciphertext); any other
 *    length: error 4.
 * After reset the key is NewAE's DEFAULT_KEY, the FIPS-197 Appendix B key.
 *
 * Conventions as in cwsim.h: not thread-safe, never prints; the structure is public so that a
 * chip model can embed it. */
#ifndef CWLUA_SIM_CWSIM_SSAPP_H
#define CWLUA_SIM_CWSIM_SSAPP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CWSIM_SSAPP_V1 1 /* SimpleSerial v1.1 */
#define CWSIM_SSAPP_V2 2 /* SimpleSerial v2.1 */

/* contract.md §5: the application's UART runs at these rates with a 7.3846 MHz board clock
 * (NewAE's HSE_VALUE 7384600, target-protocols.md §A.7), scaled by the clock it receives. */
#define CWSIM_SSAPP_CLOCK_REF 7384600.0
#define CWSIM_SSAPP_OUT_MAX   64 /* most reply bytes one received byte can cause */

/* ---- the power model (docs/simulator.md "The power model") ---------------------------------
 *
 * NewAE's simpleserial-aes raises its trigger pin (TIO4 on the 20-pin connector), runs the
 * encryption (aes_indep_enc: tinyAES's Cipher over a key expanded when the key was set), lowers
 * the pin and only then replies. The model gives that encryption a fixed schedule of target
 * cycles, a byte-oriented AES compiled from C, counted from the cycle the trigger rises
 * (cycle 0): CWSIM_AES_CYCLES cycles in all, each operation a call whose loop handles one byte
 * (one column for MixColumns) per iteration and stores its result at a fixed cycle of the
 * iteration. Each stored intermediate leaks its Hamming weight at that cycle; every cycle also
 * draws a baseline current set by the instruction it executes. The chip model owns time: it
 * holds the trigger high and the reply back for the encryption's duration at its clock. */

/* The operations of the schedule; round 0 is the initial AddRoundKey (FIPS-197 §5.1). */
typedef enum cwsim_aes_op {
    CWSIM_AES_ADDROUNDKEY, /* rounds 0-10: state xor round key, bytes 0..15 */
    CWSIM_AES_SUBBYTES,    /* rounds 1-10: the S-box output, bytes 0..15 */
    CWSIM_AES_SHIFTROWS,   /* rounds 1-10: the 12 bytes of rows 1-3 moved (row 0 stays) */
    CWSIM_AES_MIXCOLUMNS,  /* rounds 1-9: the new column, bytes 4c..4c+3 */
    CWSIM_AES_NOPS
} cwsim_aes_op;

#define CWSIM_AES_CYCLES 5078 /* trigger high: cycles 0 .. CWSIM_AES_CYCLES - 1 */
#define CWSIM_AES_NLEAKS 600  /* intermediates one encryption stores */
/* Leakage: k x HW(value) in the units of cwsim_target_ops.power_trace (full-scale ADC fractions
 * at the default gain) at the cycle a value is stored. */
#define CWSIM_AES_LEAK_PER_BIT 0.01

/* One stored intermediate of the schedule. state index = r + 4c (FIPS-197 §3.4). */
typedef struct cwsim_aes_leak {
    uint16_t cycle; /* after the trigger's rising edge */
    uint8_t round;  /* 0..10 */
    uint8_t op;     /* cwsim_aes_op */
    uint8_t byte;   /* the state byte stored */
    uint8_t value;  /* its value, when filled by cwsim_aes128_leaks */
} cwsim_aes_leak;

/* The schedule in cycle order: fills out (room for CWSIM_AES_NLEAKS) with cycle, round, op and
 * byte; value 0. Returns CWSIM_AES_NLEAKS. */
size_t cwsim_aes_schedule(cwsim_aes_leak *out);
/* AES-128 of one block as the schedule runs it: the ciphertext, and the schedule with each
 * intermediate's value (out room for CWSIM_AES_NLEAKS, may be NULL). */
void cwsim_aes128_leaks(const uint8_t key[16], const uint8_t in[16], uint8_t ct[16],
                        cwsim_aes_leak *out);

/* One encryption as it ran on the chip: when, at which clock, and the values it stored, by
 * [round][op][byte] (unused slots 0). */
typedef struct cwsim_ssapp_run {
    uint64_t start_ns;     /* the trigger's rising edge */
    double hz;             /* the core clock */
    uint64_t end_ns;       /* the trigger's falling edge: start + CWSIM_AES_CYCLES cycles */
    uint64_t reply_end_ns; /* its reply has gone out (the firmware waits in putch until then) */
    uint8_t v[11][CWSIM_AES_NOPS][16];
} cwsim_ssapp_run;
#define CWSIM_SSAPP_RUNS 4 /* the last encryptions kept for power_trace */

typedef struct cwsim_ssapp {
    int version; /* CWSIM_SSAPP_V1 or _V2 */
    uint8_t key[16];
    uint8_t buf[262];  /* the command being received (v2: up to 255 data bytes + 6) */
    size_t got;        /* bytes of it so far */
    size_t need;       /* v1: hex digits the command takes; v2: frame length once known */
    int cmd;           /* v1: index of the command being received, -1: waiting for a letter */
    uint64_t commands; /* commands run */
    uint64_t errors;   /* commands dropped (v1) or answered with a non-zero code (v2) */
    /* The power model: the byte cwsim_ssapp_rx was just given ran an encryption (its replies
     * come after it), whose values wait in pending until cwsim_ssapp_aes_start. */
    int aes_pending;
    cwsim_ssapp_run pending;
    cwsim_ssapp_run runs[CWSIM_SSAPP_RUNS]; /* ring, newest at (next - 1) */
    unsigned next, nruns;
    uint64_t encryptions;
} cwsim_ssapp;

/* "ss1-aes" -> CWSIM_SSAPP_V1, "ss2-aes" -> CWSIM_SSAPP_V2, anything else (NULL too) -> 0. */
int cwsim_ssapp_version_of(const char *name);
/* The application's nominal baud rate at CWSIM_SSAPP_CLOCK_REF: 38400 (v1), 230400 (v2). */
double cwsim_ssapp_baud(int version);

/* Start (or restart, after a reset) the application: default key, nothing received. */
void cwsim_ssapp_init(cwsim_ssapp *app, int version);
/* One byte the application read from its UART. The reply bytes it causes, if any, are written
 * to out (room for CWSIM_SSAPP_OUT_MAX); returns how many. */
size_t cwsim_ssapp_rx(cwsim_ssapp *app, uint8_t byte, uint8_t *out);

/* The chip starts the encryption cwsim_ssapp_rx asked for (aes_pending) at now_ns, its core
 * clocked at hz (> 0), and will need reply_ns after it to send the reply: the run is recorded
 * for cwsim_ssapp_power. Returns the encryption's duration in ns (CWSIM_AES_CYCLES at hz):
 * the trigger stays high and the reply waits that long; 0 (nothing recorded) without a clock
 * or a pending encryption. Clears aes_pending. */
uint64_t cwsim_ssapp_aes_start(cwsim_ssapp *app, uint64_t now_ns, double hz, uint64_t reply_ns);
/* The chip's power as cwsim_target_ops.power_trace describes it, for a chip running the
 * application (or any other code: the idle loop) when running is non-zero with its core at
 * hz: sample i at t0_ns + i * 1e9 / adc_hz is the cycle running then. In a recorded
 * encryption: its baseline plus the leak of the value stored in that cycle; after it, until
 * its reply is out, the putch loop's baseline; otherwise the idle loop's. Not running, or no
 * clock (no cycles): 0 outside the recorded encryptions. */
void cwsim_ssapp_power(const cwsim_ssapp *app, int running, double hz, double t0_ns, double adc_hz,
                       float *out, size_t n);

/* AES-128 (FIPS-197) of one block. */
void cwsim_aes128_encrypt(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]);
/* SimpleSerial v2's CRC-8: poly 0x4D, init 0, no reflection, no final XOR. */
uint8_t cwsim_ssapp_crc8(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
