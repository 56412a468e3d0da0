/* SPDX-License-Identifier: MIT */
/* fuzz_an3155: the simulated STM32's ROM bootloader (sim/stm32, ST AN3155) fed by a host that
 * the input scripts, through the standalone chip API of cwsim_stm32.h (bytes in, bytes out,
 * virtual time: what `cwlua sim serve` drives). target-protocols.md §A.3/§A.4 framing.
 *
 * Input: byte 0 picks the part, byte 1 the start conditions (faults, application, BOOT0), then
 * operations until the input ends. Each operation is a code byte (low 4 bits: what; bit 7: do
 * not let the chip finish before the next one, so bytes can arrive while it is busy) and its
 * arguments. Helpers compute the complements and XOR checksums, so the fuzzer reaches the
 * commands' later stages; raw bytes and damaged frames reach the error paths.
 *
 * Findings besides crashes and sanitizer reports: a chip that keeps scheduling events without
 * end (a hang of `sim serve`), and a chip that no longer boots into a bootloader that syncs and
 * answers Get ID with its product ID after a power cycle with BOOT0 high. */
#include "cwsim.h"
#include "cwsim_stm32.h"
#include "fuzz.h"

#include <string.h>

#define MS        1000000ull
#define ACK       0x79        /* §A.3 */
#define DRAIN_NS  (2000 * MS) /* how long the host lets the chip run after an operation */
#define MAX_STEPS 1000000u    /* events in one drain before it counts as a hang */

typedef struct host {
    cwsim *sim;
    cwsim_stm32 *chip;
    cwsim_uart_format fmt;
    uint64_t now;
    uint8_t last[8]; /* the last bytes the chip sent (a ring) */
    unsigned got;
} host;

static void on_tx(void *ctx, const cwsim_uart_frame *frame, uint64_t end_ns)
{
    host *h = ctx;
    uint8_t b = 0;
    (void)end_ns;
    (void)cwsim_uart_frame_decode(frame, &h->fmt, &b);
    fz_trace(" %02X", b);
    h->last[h->got++ % sizeof h->last] = b;
}

/* Let the chip run until it has nothing to do within DRAIN_NS. */
static void drain(host *h)
{
    uint64_t limit = h->now + DRAIN_NS;
    for (unsigned steps = 0;; steps++) {
        uint64_t t = cwsim_stm32_next_event_ns(h->chip);
        if (t > limit)
            break;
        if (steps == MAX_STEPS)
            fz_finding("the chip scheduled %u events within %llu ms of virtual time", steps,
                       (unsigned long long)(DRAIN_NS / MS));
        if (t > h->now)
            h->now = t;
        cwsim_stm32_advance(h->chip, h->now);
    }
}

static void wait(host *h, uint64_t ns)
{
    h->now += ns;
    cwsim_stm32_advance(h->chip, h->now);
}

static void send(host *h, const uint8_t *b, size_t n)
{
    uint64_t frame = cwsim_uart_frame_ns(&h->fmt);
    for (size_t i = 0; i < n; i++) {
        h->now += frame;
        cwsim_stm32_rx_byte(h->chip, b[i], &h->fmt, h->now);
    }
}

static void send1(host *h, uint8_t b)
{
    send(h, &b, 1);
}

static uint8_t xor_of(const uint8_t *b, size_t n)
{
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= b[i];
    return x;
}

/* The host UART rates an operation may switch to: the bootloader autobauds 1200..115200 within
 * 2.5 % (§A.3); the others are outside that. */
static const double BAUDS[8] = {115200, 57600, 9600, 1200, 230400, 118000, 112000, 600};

static void boot(host *h, int boot0)
{
    cwsim_stm32_set_boot0(h->chip, boot0, h->now);
    cwsim_stm32_set_power(h->chip, 1, h->now);
    wait(h, 5 * MS);
}

/* One operation; returns 0 to let the chip finish afterwards, 1 not to. */
static int operation(host *h, fz *f, uint8_t erase_cmd)
{
    uint8_t op = fz_u8(f), buf[600];
    fz_trace("\nop %02X:", op);
    switch (op & 0x0F) {
    case 0: { /* raw bytes */
        size_t n = fz_bytes(f, buf, (size_t)(fz_u8(f) % 64u) + 1);
        send(h, buf, n);
        break;
    }
    case 1: { /* a command and its complement */
        uint8_t c = fz_u8(f);
        buf[0] = c;
        buf[1] = (uint8_t)~c;
        send(h, buf, 2);
        break;
    }
    case 2: /* an address and its checksum */
        fz_bytes(f, buf, 4);
        buf[4] = xor_of(buf, 4);
        send(h, buf, 5);
        break;
    case 3: { /* a write block: N, N+1 bytes, checksum */
        size_t n = (size_t)fz_u8(f) + 1;
        buf[0] = (uint8_t)(n - 1);
        memset(buf + 1, 0, n);
        fz_bytes(f, buf + 1, n);
        buf[n + 1] = xor_of(buf, n + 1);
        send(h, buf, n + 2);
        break;
    }
    case 4: { /* an erase list in the part's form: 0x43 1-byte, 0x44 2-byte page numbers */
        size_t n = (size_t)(fz_u8(f) % 64u) + 1, k = 0;
        if (erase_cmd == 0x44) {
            buf[k++] = (uint8_t)((n - 1) >> 8);
            buf[k++] = (uint8_t)(n - 1);
            for (size_t i = 0; i < n; i++) {
                uint16_t page = fz_u16(f);
                buf[k++] = (uint8_t)(page >> 8);
                buf[k++] = (uint8_t)page;
            }
        } else {
            buf[k++] = (uint8_t)(n - 1);
            for (size_t i = 0; i < n; i++)
                buf[k++] = fz_u8(f);
        }
        buf[k] = xor_of(buf, k);
        send(h, buf, k + 1);
        break;
    }
    case 5: { /* a read length and its complement */
        uint8_t n = fz_u8(f);
        buf[0] = n;
        buf[1] = (uint8_t)~n;
        send(h, buf, 2);
        break;
    }
    case 6: { /* wait, up to about a minute */
        uint64_t t = fz_u8(f);
        wait(h, t * t * MS);
        break;
    }
    case 7: /* the autobaud byte */
        send1(h, 0x7F);
        break;
    case 8: { /* a damaged frame: some bit slots flipped */
        uint8_t b = fz_u8(f);
        cwsim_uart_frame fr = cwsim_stm32_frame(b, &h->fmt);
        fr.levels ^= fz_u16(f);
        h->now += cwsim_uart_frame_ns(&h->fmt);
        cwsim_stm32_rx_frame(h->chip, &fr, h->now);
        break;
    }
    case 9: { /* an nRST pulse */
        uint8_t a = fz_u8(f);
        cwsim_stm32_set_boot0(h->chip, a & 1, h->now);
        cwsim_stm32_set_nrst(h->chip, 1, h->now);
        wait(h, (uint64_t)(a >> 1) * 100000u);
        cwsim_stm32_set_nrst(h->chip, 0, h->now);
        break;
    }
    case 10: { /* a power cycle */
        uint8_t a = fz_u8(f);
        cwsim_stm32_set_power(h->chip, 0, h->now);
        wait(h, (uint64_t)(a >> 1) * 100000u);
        boot(h, a & 1);
        break;
    }
    case 11: { /* another host UART rate and parity */
        uint8_t a = fz_u8(f);
        h->fmt.baud = BAUDS[a & 7u];
        h->fmt.parity = (a & 8u) ? CWSIM_PARITY_NONE : CWSIM_PARITY_EVEN;
        h->fmt.stop_halves = (a & 16u) ? 4 : 2;
        break;
    }
    case 12: /* the board clock on the chip (its application needs one) */
        cwsim_stm32_set_clock(h->chip, (fz_u8(f) & 1) ? 7370000.0 : 0.0, h->now);
        break;
    default: /* one raw byte */
        send1(h, fz_u8(f));
        break;
    }
    return op >> 7;
}

/* After a power cycle with BOOT0 high, the bootloader syncs and Get ID answers with the part's
 * PID (§A.4: ACK, N = 1, PID big-endian, ACK). */
static void check_alive(host *h, const cwsim_stm32_part_info *part)
{
    cwsim_stm32_set_power(h->chip, 0, h->now);
    wait(h, 10 * MS);
    h->fmt.baud = 115200;
    h->fmt.parity = CWSIM_PARITY_EVEN;
    h->fmt.stop_halves = 2;
    boot(h, 1);
    drain(h);
    h->got = 0;
    send1(h, 0x7F);
    drain(h);
    const uint8_t get_id[2] = {0x02, 0xFD};
    send(h, get_id, 2);
    drain(h);
    const uint8_t want[6] = {ACK, ACK, 0x01, (uint8_t)(part->pid >> 8), (uint8_t)part->pid, ACK};
    if (h->got != sizeof want || memcmp(h->last, want, sizeof want) != 0)
        fz_finding("%s: after a power cycle, sync and Get ID gave %u bytes (%02X %02X %02X %02X "
                   "%02X %02X), not 79 79 01 %02X %02X 79",
                   part->name, h->got, h->last[0], h->last[1], h->last[2], h->last[3], h->last[4],
                   h->last[5], part->pid >> 8, part->pid & 0xFF);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = {data, size, 0};
    host h;
    char err[512];
    memset(&h, 0, sizeof h);
    const cwsim_stm32_part_info *part = cwsim_stm32_part_at(fz_u8(&f) % cwsim_stm32_part_count());
    uint8_t setup = fz_u8(&f);
    if (cwsim_new(&h.sim, err, sizeof err) != 0)
        fz_finding("cwsim_new: %s", err);
    if (((setup & 1) && cwsim_fault_set(h.sim, "read-protected", NULL, err, sizeof err) != 0) ||
        ((setup & 2) && cwsim_fault_set(h.sim, "write-protected", (setup & 4) ? "all" : "0-1", err,
                                        sizeof err) != 0) ||
        ((setup & 8) && cwsim_fault_set(h.sim, "slow-erase", NULL, err, sizeof err) != 0) ||
        ((setup & 16) && cwsim_fault_set(h.sim, "already-synced", NULL, err, sizeof err) != 0))
        fz_finding("cwsim_fault_set: %s", err);
    if (cwsim_stm32_new(h.sim, part->name, &h.chip, err, sizeof err) != 0)
        fz_finding("cwsim_stm32_new(%s): %s", part->name, err);
    if ((setup & 32) &&
        cwsim_stm32_set_app(h.chip, (setup & 64) ? "ss1-aes" : "banner", err, sizeof err) != 0)
        fz_finding("cwsim_stm32_set_app: %s", err);
    cwsim_stm32_set_tx(h.chip, on_tx, &h);
    h.fmt.baud = 115200; /* §A.1: the CW programs at 115200 8E1 */
    h.fmt.data_bits = 8;
    h.fmt.parity = CWSIM_PARITY_EVEN;
    h.fmt.stop_halves = 2;
    boot(&h, !(setup & 128));

    while (fz_more(&f))
        if (operation(&h, &f, part->erase_command) == 0)
            drain(&h);
    drain(&h);
    check_alive(&h, part);

    cwsim_stm32_free(h.chip);
    cwsim_free(h.sim);
    return 0;
}
