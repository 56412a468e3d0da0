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

typedef struct cwsim_ssapp {
    int version; /* CWSIM_SSAPP_V1 or _V2 */
    uint8_t key[16];
    uint8_t buf[262];  /* the command being received (v2: up to 255 data bytes + 6) */
    size_t got;        /* bytes of it so far */
    size_t need;       /* v1: hex digits the command takes; v2: frame length once known */
    int cmd;           /* v1: index of the command being received, -1: waiting for a letter */
    uint64_t commands; /* commands run */
    uint64_t errors;   /* commands dropped (v1) or answered with a non-zero code (v2) */
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

/* AES-128 (FIPS-197) of one block. */
void cwsim_aes128_encrypt(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]);
/* SimpleSerial v2's CRC-8: poly 0x4D, init 0, no reflection, no final XOR. */
uint8_t cwsim_ssapp_crc8(const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif
