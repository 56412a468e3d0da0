/* SPDX-License-Identifier: MIT */
/* A small AN3155 host for the STM32 chip tests: drives a standalone cwsim_stm32 with virtual
 * time, as a board would (frames back to back at the host's baud, replies collected with the
 * time their stop bit ended). target-protocols.md §A.3/§A.4 framing. Include after check.h. */
#ifndef CWLUA_TESTS_STM32_STM32_HOST_H
#define CWLUA_TESTS_STM32_STM32_HOST_H

#include "cwsim.h"
#include "cwsim_stm32.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS       1000000ull
#define SEC      1000000000ull
#define ACK      0x79 /* §A.3 */
#define NACK     0x1F /* §A.3 */
#define NOREPLY  (-1)
#define HOST_RX  8192
#define LONGWAIT (3600 * SEC) /* virtual: costs nothing */

typedef struct host {
    cwsim *sim;
    cwsim_stm32 *chip;
    cwsim_uart_format fmt; /* the host UART */
    uint64_t now;
    uint8_t rx[HOST_RX];
    uint64_t rx_at[HOST_RX];
    unsigned rx_err[HOST_RX];
    size_t rx_len, rx_pos;
    char dir[128]; /* state folder, "" if none */
} host;

static inline cwsim_uart_format host_format(double baud, uint8_t parity)
{
    cwsim_uart_format f;
    f.baud = baud;
    f.data_bits = 8;
    f.parity = parity;
    f.stop_halves = 2;
    return f;
}

static inline void host_on_tx(void *ctx, const cwsim_uart_frame *frame, uint64_t end_ns)
{
    host *h = ctx;
    if (h->rx_len == HOST_RX)
        return;
    uint8_t b = 0;
    h->rx_err[h->rx_len] = cwsim_uart_frame_decode(frame, &h->fmt, &b);
    h->rx[h->rx_len] = b;
    h->rx_at[h->rx_len] = end_ns;
    h->rx_len++;
}

/* A new world with a state folder (when dir is not NULL: a fresh mktemp folder is made when
 * dir is "", else dir is reused) and the faults given (NULL-terminated list, may be NULL).
 * Returns 0, or -1 with the error printed. */
static inline int host_open_in(host *h, const char *part, const char *dir,
                               const char *const *faults)
{
    char err[512] = "";
    memset(h, 0, sizeof *h);
    h->fmt = host_format(115200, CWSIM_PARITY_EVEN); /* §A.1/§A.3: 115200 8E1 */
    if (cwsim_new(&h->sim, err, sizeof err) != 0)
        goto fail;
    for (size_t i = 0; faults != NULL && faults[i] != NULL; i++)
        if (cwsim_fault_parse(h->sim, faults[i], err, sizeof err) != 0)
            goto fail;
    if (dir != NULL) {
        if (dir[0] == '\0') {
            snprintf(h->dir, sizeof h->dir, "/tmp/cwlua-stm32-test.XXXXXX");
            if (mkdtemp(h->dir) == NULL) {
                snprintf(err, sizeof err, "mkdtemp failed");
                goto fail;
            }
        } else {
            snprintf(h->dir, sizeof h->dir, "%s", dir);
        }
        if (cwsim_state_open(h->sim, h->dir, err, sizeof err) != 0)
            goto fail;
    }
    if (cwsim_stm32_new(h->sim, part, &h->chip, err, sizeof err) != 0)
        goto fail;
    cwsim_stm32_set_tx(h->chip, host_on_tx, h);
    return 0;
fail:
    fprintf(stderr, "host_open(%s): %s\n", part, err);
    if (h->sim != NULL)
        cwsim_free(h->sim);
    h->sim = NULL;
    return -1;
}

static inline int host_open(host *h, const char *part)
{
    return host_open_in(h, part, NULL, NULL);
}

/* Free the chip and the world (keeps the state folder's files). */
static inline void host_close(host *h)
{
    cwsim_stm32_free(h->chip);
    h->chip = NULL;
    cwsim_free(h->sim);
    h->sim = NULL;
}

/* Remove a state folder made by host_open_in (its blobs, its lock and format files). */
static inline void host_remove_dir(const char *dir)
{
    char cmd[300];
    if (dir[0] == '\0' || strncmp(dir, "/tmp/cwlua-stm32-test.", 22) != 0)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static inline void host_wait(host *h, uint64_t ns)
{
    h->now += ns;
    cwsim_stm32_advance(h->chip, h->now);
}

/* Power up with BOOT0 as given and let the chip start. */
static inline void host_boot(host *h, int boot0)
{
    cwsim_stm32_set_boot0(h->chip, boot0, h->now);
    cwsim_stm32_set_power(h->chip, 1, h->now);
    host_wait(h, 5 * MS);
}

/* nRST low for 10 ms then released (CW pulse, §A.2), then 25 ms. */
static inline void host_reset(host *h)
{
    cwsim_stm32_set_nrst(h->chip, 1, h->now);
    host_wait(h, 10 * MS);
    cwsim_stm32_set_nrst(h->chip, 0, h->now);
    host_wait(h, 25 * MS);
}

static inline void host_flush(host *h)
{
    h->rx_pos = h->rx_len;
}

/* Bytes go out back to back; each reaches the chip when its stop bit ends. */
static inline void host_send(host *h, const uint8_t *b, size_t n)
{
    uint64_t frame = cwsim_uart_frame_ns(&h->fmt);
    for (size_t i = 0; i < n; i++) {
        h->now += frame;
        cwsim_stm32_rx_byte(h->chip, b[i], &h->fmt, h->now);
    }
}

static inline void host_send1(host *h, uint8_t b)
{
    host_send(h, &b, 1);
}

/* Wait (virtual time) until n bytes came or timeout_ns passed; returns how many came. */
static inline size_t host_recv(host *h, uint8_t *out, size_t n, uint64_t timeout_ns)
{
    uint64_t limit = h->now + timeout_ns;
    while (h->rx_len - h->rx_pos < n) {
        uint64_t t = cwsim_stm32_next_event_ns(h->chip);
        if (t > limit) {
            h->now = limit;
            cwsim_stm32_advance(h->chip, h->now);
            break;
        }
        if (t > h->now)
            h->now = t;
        cwsim_stm32_advance(h->chip, h->now);
    }
    size_t got = h->rx_len - h->rx_pos;
    if (got > n)
        got = n;
    if (out != NULL)
        memcpy(out, h->rx + h->rx_pos, got);
    h->rx_pos += got;
    return got;
}

/* One reply byte within timeout, or NOREPLY. */
static inline int host_byte(host *h, uint64_t timeout_ns)
{
    uint8_t b;
    return host_recv(h, &b, 1, timeout_ns) == 1 ? b : NOREPLY;
}

static inline int host_reply(host *h)
{
    return host_byte(h, 1 * SEC);
}

/* ---- AN3155 exchanges (§A.4) ---------------------------------------------------------------- */

static inline int bl_sync(host *h)
{
    host_send1(h, 0x7F);
    return host_reply(h);
}

static inline int bl_cmd(host *h, uint8_t cmd)
{
    uint8_t b[2] = {cmd, (uint8_t)(cmd ^ 0xFF)};
    host_send(h, b, 2);
    return host_reply(h);
}

static inline int bl_addr(host *h, uint32_t a)
{
    uint8_t b[5] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a, 0};
    b[4] = (uint8_t)(b[0] ^ b[1] ^ b[2] ^ b[3]);
    host_send(h, b, 5);
    return host_reply(h);
}

/* Read Memory: 0 ok; else 1, 2, 3 = the stage that NACKed (command, address, length), or -1
 * no reply. */
static inline int bl_read(host *h, uint32_t a, uint8_t *buf, unsigned n)
{
    int r = bl_cmd(h, 0x11);
    if (r != ACK)
        return r == NACK ? 1 : -1;
    r = bl_addr(h, a);
    if (r != ACK)
        return r == NACK ? 2 : -1;
    uint8_t l[2] = {(uint8_t)(n - 1), (uint8_t)((n - 1) ^ 0xFF)};
    host_send(h, l, 2);
    r = host_reply(h);
    if (r != ACK)
        return r == NACK ? 3 : -1;
    return host_recv(h, buf, n, 1 * SEC) == n ? 0 : -1;
}

/* Write Memory: 0 ok; 1, 2, 3 = the stage that NACKed (command, address, data), -1 no reply. */
static inline int bl_write(host *h, uint32_t a, const uint8_t *d, unsigned n)
{
    int r = bl_cmd(h, 0x31);
    if (r != ACK)
        return r == NACK ? 1 : -1;
    r = bl_addr(h, a);
    if (r != ACK)
        return r == NACK ? 2 : -1;
    uint8_t blk[258];
    blk[0] = (uint8_t)(n - 1);
    uint8_t x = blk[0];
    for (unsigned i = 0; i < n; i++) {
        blk[1 + i] = d[i];
        x ^= d[i];
    }
    blk[1 + n] = x;
    host_send(h, blk, n + 2);
    r = host_byte(h, LONGWAIT);
    return r == ACK ? 0 : r == NACK ? 3 : -1;
}

/* Erase (0x43) or Extended Erase (0x44) of a page list; 0 ok, 1/2 stage NACKed, -1 none. */
static inline int bl_erase_pages(host *h, uint8_t cmd, const unsigned *pages, unsigned n)
{
    int r = bl_cmd(h, cmd);
    if (r != ACK)
        return r == NACK ? 1 : -1;
    uint8_t b[600];
    size_t k = 0;
    if (cmd == 0x43) {
        b[k++] = (uint8_t)(n - 1);
        for (unsigned i = 0; i < n; i++)
            b[k++] = (uint8_t)pages[i];
    } else {
        b[k++] = (uint8_t)((n - 1) >> 8);
        b[k++] = (uint8_t)(n - 1);
        for (unsigned i = 0; i < n; i++) {
            b[k++] = (uint8_t)(pages[i] >> 8);
            b[k++] = (uint8_t)pages[i];
        }
    }
    uint8_t x = 0;
    for (size_t i = 0; i < k; i++)
        x ^= b[i];
    b[k++] = x;
    host_send(h, b, k);
    r = host_byte(h, LONGWAIT);
    return r == ACK ? 0 : r == NACK ? 2 : -1;
}

/* Global erase: 43 FF 00 or 44 FF FF 00 (§A.4). */
static inline int bl_mass_erase(host *h, uint8_t cmd)
{
    int r = bl_cmd(h, cmd);
    if (r != ACK)
        return r == NACK ? 1 : -1;
    if (cmd == 0x43) {
        const uint8_t b[2] = {0xFF, 0x00};
        host_send(h, b, 2);
    } else {
        const uint8_t b[3] = {0xFF, 0xFF, 0x00};
        host_send(h, b, 3);
    }
    r = host_byte(h, LONGWAIT);
    return r == ACK ? 0 : r == NACK ? 2 : -1;
}

/* Power up in the bootloader and sync; 0 ok. */
static inline int host_bootloader(host *h)
{
    host_boot(h, 1);
    return bl_sync(h) == ACK ? 0 : -1;
}

static inline void fill_pattern(uint8_t *b, size_t n, unsigned seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
}

static inline int all_ff(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0xFF)
            return 0;
    return 1;
}

#endif
