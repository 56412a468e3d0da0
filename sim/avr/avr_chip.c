/* SPDX-License-Identifier: MIT */
/* The simulated ATmega: serial programming (ISP) as the ATmega48A/PA/88A/PA/168A/PA/328/P
 * datasheet describes it ("Serial Downloading", "Serial Programming Instruction Set";
 * target-protocols.md §C.5 [ext]).
 *
 * Model (docs/simulator-avr.md has the reasons and every UNCONFIRMED choice):
 *  - Instructions are four bytes, framed from the moment /RESET goes low. MISO echoes the
 *    previous byte (response byte 2 = command byte 1, byte 3 = command byte 2, so 0x53 comes
 *    back during a Programming Enable in sync); byte 4 carries the data of a read, else the
 *    echo of byte 3 (§C.5 "Simulator echo model").
 *  - Only Programming Enable is obeyed until one was answered; /RESET going high ends
 *    programming mode and latches the fuses (datasheet "Latching of Fuses").
 *  - The serial programming logic runs on the CPU clock that the fuses select (CKSEL3..0,
 *    CKDIV8). With no clock the chip holds MISO low and nothing shifts (reads as 00, the
 *    familiar "signature 0x000000" of an AVR without its clock; UNCONFIRMED). SCK high and
 *    low phases must each last more than 2 CPU cycles (3 from 12 MHz), i.e. SCK <= f/4 (f/6):
 *    faster, the chip slips bits and answers garbage.
 *  - Not in reset, unpowered, or ISP disabled by its fuses (RSTDISBL or DWEN programmed, SPIEN
 *    unprogrammed): MISO is not driven.
 *  - Page writes AND the page buffer into flash (so flash needs a chip erase first, §C.5);
 *    the buffer is 0xFF again afterwards. EEPROM writes erase the byte first. Addresses past
 *    the end wrap modulo the memory size (§C.5, UNCONFIRMED per part).
 *  - RDY/BSY: a write keeps the chip busy for the datasheet's wait delay (tWD_FLASH 4.5 ms,
 *    tWD_EEPROM 3.6 ms, tWD_ERASE 9.0 ms, tWD_FUSE 4.5 ms; Table "Minimum Wait Delay Before
 *    Writing the Next Flash or EEPROM Location"). While busy, writes are ignored and memory
 *    reads return 0xFF (data polling; UNCONFIRMED for addresses other than the one written).
 *  - Lock bits (LB2..1): mode 2 (LB1 programmed) ignores flash/EEPROM/fuse writes, mode 3
 *    also reads flash/EEPROM as 0xFF (UNCONFIRMED value). Chip erase clears flash, EEPROM
 *    (unless EESAVE is programmed) and the lock bits; never the fuses. SPIEN cannot be changed
 *    over ISP (datasheet note to the Fuse High Byte table). */
#include "avr_internal.h"

#include <stdlib.h>
#include <string.h>

#define MS 1000000ull
/* datasheet, "Minimum Wait Delay Before Writing the Next Flash or EEPROM Location" */
#define T_WD_FLASH_NS  (4500000ull)
#define T_WD_EEPROM_NS (3600000ull)
#define T_WD_ERASE_NS  (9 * MS)
#define T_WD_FUSE_NS   (4500000ull)

/* Fuse bits (datasheet "Fuse Bits" tables; 0 = programmed) */
#define LOW_CKDIV8    0x80u
#define LOW_CKSEL     0x0Fu
#define HIGH_RSTDISBL 0x80u
#define HIGH_DWEN     0x40u
#define HIGH_SPIEN    0x20u
#define HIGH_EESAVE   0x08u
#define LOCK_LB       0x03u

/* The calibration byte the simulated chips report (per-chip on real parts; UNCONFIRMED). */
#define OSCCAL_VALUE 0x9Au

enum { F_LOW, F_HIGH, F_EXT, F_LOCK };

/* ---- clock and fuses ------------------------------------------------------------------------ */

static double cpu_hz(const cwsim_avr *c)
{
    if (!c->powered)
        return 0.0;
    double f;
    switch (c->latched_low & LOW_CKSEL) {
    case 0x0: /* External Clock on XTAL1/CLKI: the board's HS2 on a CW308 */
        f = c->clock_hz;
        break;
    case 0x2: /* Calibrated Internal RC Oscillator */
        f = 8e6;
        break;
    case 0x3: /* Internal 128 kHz RC Oscillator */
        f = 128e3;
        break;
    default: /* crystal and resonator modes (not fitted on a CW308 AVR target: UNCONFIRMED),
              * 0001 reserved */
        f = 0.0;
        break;
    }
    if (!(c->latched_low & LOW_CKDIV8))
        f /= 8.0;
    return f;
}

double cwsim_avr_cpu_hz(const cwsim_avr *c)
{
    return cpu_hz(c);
}

static int isp_disabled(const cwsim_avr *c)
{
    uint8_t h = c->latched_high;
    return !(h & HIGH_RSTDISBL) || !(h & HIGH_DWEN) || (h & HIGH_SPIEN);
}

static void latch_fuses(cwsim_avr *c)
{
    c->latched_low = c->fuse[F_LOW];
    c->latched_high = c->fuse[F_HIGH];
}

static int busy(const cwsim_avr *c)
{
    return c->now < c->busy_until;
}

int cwsim_avr_busy(const cwsim_avr *c, uint64_t now_ns)
{
    return now_ns < c->busy_until;
}

static void start_op(cwsim_avr *c, uint64_t ns)
{
    c->busy_until = c->now + ns;
    c->cnt.flash_ns += ns;
    cwsim_count_flash_ns(c->sim, ns);
    c->dirty = 1;
}

/* ---- state folder --------------------------------------------------------------------------- */

static void blob_name(const cwsim_avr *c, const char *what, char *buf, size_t len)
{
    snprintf(buf, len, "%s.%s", c->p->name, what);
}

static int load_blob(cwsim_avr *c, const char *what, uint8_t *dst, size_t want, char *err,
                     size_t errlen)
{
    char name[64];
    void *data = NULL;
    size_t len = 0;
    blob_name(c, what, name, sizeof name);
    int r = cwsim_state_load(c->sim, name, &data, &len, err, errlen);
    if (r < 0)
        return -1;
    if (r == 1)
        return 0;
    if (len != want) {
        free(data);
        avr_err(err, errlen,
                "cwsim avr: state blob %s has %zu bytes, expected %zu; remove it to start with "
                "a new chip",
                name, len, want);
        return -1;
    }
    memcpy(dst, data, len);
    free(data);
    return 0;
}

int cwsim_avr_save(cwsim_avr *c, char *err, size_t errlen)
{
    if (c == NULL || !c->dirty || cwsim_state_dir(c->sim) == NULL)
        return 0;
    char name[64];
    blob_name(c, "flash", name, sizeof name);
    if (cwsim_state_save(c->sim, name, c->flash, c->p->flash_size, err, errlen) != 0)
        return -1;
    blob_name(c, "eeprom", name, sizeof name);
    if (cwsim_state_save(c->sim, name, c->eeprom, c->p->eeprom_size, err, errlen) != 0)
        return -1;
    blob_name(c, "fuses", name, sizeof name);
    if (cwsim_state_save(c->sim, name, c->fuse, sizeof c->fuse, err, errlen) != 0)
        return -1;
    c->dirty = 0;
    return 0;
}

/* ---- inputs --------------------------------------------------------------------------------- */

static void advance(cwsim_avr *c, uint64_t now_ns)
{
    if (now_ns > c->now)
        c->now = now_ns;
}

static void leave_programming(cwsim_avr *c)
{
    c->prog_enabled = 0;
    c->nin = 0;
    latch_fuses(c);
    /* the library never prints: a failed save is retried at the next release and at free */
    (void)cwsim_avr_save(c, NULL, 0);
}

void cwsim_avr_set_power(cwsim_avr *c, int on, uint64_t now_ns)
{
    advance(c, now_ns);
    on = on != 0;
    if (on == c->powered)
        return;
    c->powered = on;
    c->prog_enabled = 0;
    c->nin = 0;
    c->last_in = 0;
    c->busy_until = 0; /* an interrupted write is not modelled: it completes */
    if (on)
        latch_fuses(c); /* "latched on Power-up in Normal mode" */
}

void cwsim_avr_set_reset(cwsim_avr *c, int low, uint64_t now_ns)
{
    advance(c, now_ns);
    low = low != 0;
    if (low == c->reset_low)
        return;
    c->reset_low = low;
    if (low) { /* programming framing starts at /RESET low */
        c->prog_enabled = 0;
        c->nin = 0;
    } else {
        leave_programming(c);
    }
}

void cwsim_avr_set_clock(cwsim_avr *c, double hz, uint64_t now_ns)
{
    advance(c, now_ns);
    c->clock_hz = hz > 0 ? hz : 0.0;
}

/* ---- instructions --------------------------------------------------------------------------- */

static int lock_mode_writes_ok(const cwsim_avr *c)
{
    return (c->fuse[F_LOCK] & LOCK_LB) == LOCK_LB; /* mode 1: no lock */
}

static int lock_mode_reads_ok(const cwsim_avr *c)
{
    return (c->fuse[F_LOCK] & LOCK_LB) != 0; /* mode 3 (LB2 and LB1 programmed) hides memory */
}

static uint32_t flash_word(const cwsim_avr *c, uint8_t hi, uint8_t lo)
{
    uint32_t w = ((uint32_t)c->ext_addr << 16) | ((uint32_t)hi << 8) | lo;
    return w % (c->p->flash_size / 2);
}

/* The byte a read instruction puts out in its fourth byte; in[0..2] are known. */
static uint8_t read_data(cwsim_avr *c)
{
    const uint8_t *in = c->in;
    const cwsim_avr_part_info *p = c->p;
    switch (in[0]) {
    case 0x20: /* Read Program Memory, low byte */
    case 0x28: /* high byte */
        if (busy(c) || !lock_mode_reads_ok(c))
            return 0xFF;
        return c->flash[flash_word(c, in[1], in[2]) * 2 + (in[0] == 0x28)];
    case 0xA0: /* Read EEPROM Memory */
        if (busy(c) || !lock_mode_reads_ok(c))
            return 0xFF;
        return c->eeprom[(((uint32_t)in[1] << 8) | in[2]) % p->eeprom_size];
    case 0xF0: /* Poll RDY/BSY: bit0 */
        return busy(c) ? 0x01 : 0x00;
    case 0x30: /* Read Signature Byte (readable also when locked) */
        return (in[2] & 3u) < 3 ? p->signature[in[2] & 3u] : 0xFF;
    case 0x38: /* Read Calibration Byte */
        return OSCCAL_VALUE;
    case 0x50: /* Read Fuse bits (00) / Extended Fuse bits (08) */
        if (in[1] == 0x00)
            return c->fuse[F_LOW];
        if (in[1] == 0x08)
            return c->fuse[F_EXT];
        return in[2];
    case 0x58: /* Read Lock bits (00) / Fuse High bits (08) */
        if (in[1] == 0x00)
            return c->fuse[F_LOCK];
        if (in[1] == 0x08)
            return c->fuse[F_HIGH];
        return in[2];
    default:
        return in[2];
    }
}

static void write_fuse(cwsim_avr *c, int which, uint8_t v)
{
    /* the fuses (not the lock bits) are locked when LB1 is programmed */
    if (busy(c) || (which != F_LOCK && !(c->fuse[F_LOCK] & 0x01))) {
        c->cnt.ignored_writes++;
        return;
    }
    switch (which) {
    case F_HIGH: /* SPIEN is not accessible in serial programming mode */
        v = (uint8_t)((v & ~HIGH_SPIEN) | (c->fuse[F_HIGH] & HIGH_SPIEN));
        break;
    case F_EXT:
        v |= (uint8_t)~c->p->ext_mask;
        break;
    case F_LOCK: /* lock bits can only be programmed (cleared); chip erase clears them */
        v = (uint8_t)(c->fuse[F_LOCK] & (v | (uint8_t)~c->p->lock_mask));
        break;
    default:
        break;
    }
    c->fuse[which] = v;
    c->cnt.fuse_writes++;
    start_op(c, T_WD_FUSE_NS);
}

static void chip_erase(cwsim_avr *c)
{
    if (busy(c)) {
        c->cnt.ignored_writes++;
        return;
    }
    memset(c->flash, 0xFF, c->p->flash_size);
    if (c->fuse[F_HIGH] & HIGH_EESAVE) /* EESAVE unprogrammed: EEPROM erased too */
        memset(c->eeprom, 0xFF, c->p->eeprom_size);
    c->fuse[F_LOCK] = 0xFF;
    c->cnt.chip_erases++;
    uint64_t t = T_WD_ERASE_NS;
    /* contract.md §5 slow-erase[=F]: erase time x F (default 10), still succeeds */
    if (cwsim_fault_on(c->sim, "slow-erase")) {
        double f = cwsim_fault_number(c->sim, "slow-erase");
        t = (uint64_t)((double)t * (f > 0 ? f : 10.0));
    }
    start_op(c, t);
}

static void write_page(cwsim_avr *c)
{
    const cwsim_avr_part_info *p = c->p;
    if (busy(c) || !lock_mode_writes_ok(c)) {
        c->cnt.ignored_writes++;
        return;
    }
    uint32_t words = p->flash_page / 2u;
    uint32_t w = flash_word(c, c->in[1], c->in[2]) & ~(words - 1);
    for (uint32_t i = 0; i < p->flash_page; i++)
        c->flash[w * 2 + i] &= c->page[i];
    memset(c->page, 0xFF, p->flash_page);
    c->cnt.page_writes++;
    start_op(c, T_WD_FLASH_NS);
}

static void execute(cwsim_avr *c)
{
    const uint8_t *in = c->in;
    const cwsim_avr_part_info *p = c->p;
    if (!c->prog_enabled) {
        if (in[0] == 0xAC && in[1] == 0x53) { /* Programming Enable, in sync */
            c->prog_enabled = 1;
            c->cnt.enables++;
            c->cnt.instructions++;
        }
        return;
    }
    c->cnt.instructions++;
    uint32_t eaddr = (((uint32_t)in[1] << 8) | in[2]) % p->eeprom_size;
    switch (in[0]) {
    case 0xAC:
        if (in[1] == 0x80)
            chip_erase(c);
        else if (in[1] == 0xA0)
            write_fuse(c, F_LOW, in[3]);
        else if (in[1] == 0xA8)
            write_fuse(c, F_HIGH, in[3]);
        else if (in[1] == 0xA4)
            write_fuse(c, F_EXT, in[3]);
        else if (in[1] == 0xE0)
            write_fuse(c, F_LOCK, in[3]);
        break;
    case 0x4D: /* Load Extended Address */
        c->ext_addr = in[2];
        break;
    case 0x40: /* Load Program Memory Page, low byte */
    case 0x48: /* high byte; only the page-offset bits of the address matter */
    {
        uint32_t words = p->flash_page / 2u;
        uint32_t off = ((((uint32_t)in[1] << 8) | in[2]) & (words - 1)) * 2 + (in[0] == 0x48);
        c->page[off] = in[3];
        break;
    }
    case 0x4C: /* Write Program Memory Page */
        write_page(c);
        break;
    case 0xC0: /* Write EEPROM Memory (byte) */
        if (busy(c) || !lock_mode_writes_ok(c)) {
            c->cnt.ignored_writes++;
            break;
        }
        c->eeprom[eaddr] = in[3];
        c->cnt.eeprom_writes++;
        start_op(c, T_WD_EEPROM_NS);
        break;
    case 0xC1: /* Load EEPROM Memory Page (page access) */
    {
        unsigned i = in[2] & (p->eeprom_page - 1u);
        c->epage[i] = in[3];
        c->epage_loaded = (uint16_t)(c->epage_loaded | (1u << i));
        break;
    }
    case 0xC2: /* Write EEPROM Memory Page: the loaded bytes (UNCONFIRMED: others unchanged) */
        if (busy(c) || !lock_mode_writes_ok(c)) {
            c->cnt.ignored_writes++;
            break;
        }
        eaddr &= ~(uint32_t)(p->eeprom_page - 1u);
        for (unsigned i = 0; i < p->eeprom_page; i++)
            if (c->epage_loaded & (1u << i))
                c->eeprom[eaddr + i] = c->epage[i];
        c->epage_loaded = 0;
        c->cnt.eeprom_writes++;
        start_op(c, T_WD_EEPROM_NS);
        break;
    default: /* reads were answered while shifting; unknown instructions do nothing */
        break;
    }
}

uint8_t avr_chip_spi_out(cwsim_avr *c, uint8_t mosi, double sck_hz, uint64_t now, int *driven)
{
    advance(c, now);
    *driven = 0;
    if (!c->powered)
        return 0xFF;
    c->cnt.spi_bytes++;
    if (!c->reset_low || isp_disabled(c))
        return 0xFF; /* MISO is an ordinary pin: the chip does not drive it */
    *driven = 1;
    double f = cpu_hz(c);
    if (f <= 0.0)
        return 0x00; /* no clock: MISO held low, nothing shifts (UNCONFIRMED) */
    double limit = f < 12e6 ? f / 4.0 : f / 6.0;
    if (sck_hz > limit) {
        /* the chip misses SCK edges: its shift register slips a bit and no instruction is
         * decoded; what comes back is the echo one bit off */
        uint8_t out = (uint8_t)((unsigned)(c->last_in << 1) | (mosi >> 7));
        c->last_in = mosi;
        c->nin = 0;
        c->cnt.garbled++;
        return out;
    }
    uint8_t out;
    switch (c->nin) {
    case 0:
        out = c->last_in;
        break;
    case 1:
        out = c->in[0];
        break;
    case 2:
        out = c->in[1];
        break;
    default:
        out = c->prog_enabled ? read_data(c) : c->in[2];
        break;
    }
    c->in[c->nin++] = mosi;
    c->last_in = mosi;
    if (c->nin == 4) {
        c->nin = 0;
        execute(c);
    }
    return out;
}

int cwsim_avr_spi(cwsim_avr *c, uint8_t mosi, double sck_hz, uint64_t now_ns, uint8_t *miso)
{
    int driven;
    uint8_t v = avr_chip_spi_out(c, mosi, sck_hz, now_ns, &driven);
    *miso = driven ? v : 0xFF;
    return driven ? 0 : -1;
}

/* ---- view ----------------------------------------------------------------------------------- */

int cwsim_avr_programming(const cwsim_avr *c)
{
    return c->prog_enabled;
}

static uint8_t *mem_of(const cwsim_avr *c, cwsim_avr_mem mem, uint32_t *size)
{
    switch (mem) {
    case CWSIM_AVR_FLASH:
        *size = c->p->flash_size;
        return c->flash;
    case CWSIM_AVR_EEPROM:
        *size = c->p->eeprom_size;
        return c->eeprom;
    default:
        *size = 4;
        return (uint8_t *)(uintptr_t)c->fuse;
    }
}

size_t cwsim_avr_peek(const cwsim_avr *c, cwsim_avr_mem mem, uint32_t addr, uint8_t *buf,
                      size_t len)
{
    uint32_t size;
    const uint8_t *m = mem_of(c, mem, &size);
    if (addr >= size)
        return 0;
    size_t n = len < size - addr ? len : size - addr;
    memcpy(buf, m + addr, n);
    return n;
}

int cwsim_avr_poke(cwsim_avr *c, cwsim_avr_mem mem, uint32_t addr, const uint8_t *buf, size_t len)
{
    uint32_t size;
    uint8_t *m = mem_of(c, mem, &size);
    if (addr > size || len > size - addr)
        return -1;
    memcpy(m + addr, buf, len);
    if (mem == CWSIM_AVR_FUSES) {
        c->fuse[F_EXT] |= (uint8_t)~c->p->ext_mask;
        c->fuse[F_LOCK] |= (uint8_t)~c->p->lock_mask;
    }
    c->dirty = 1;
    return 0;
}

void cwsim_avr_counters_get(const cwsim_avr *c, cwsim_avr_counters *out)
{
    *out = c->cnt;
}

const cwsim_avr_part_info *cwsim_avr_part(const cwsim_avr *c)
{
    return c->p;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

int cwsim_avr_new(cwsim *sim, const char *part, cwsim_avr **out, char *err, size_t errlen)
{
    *out = NULL;
    const cwsim_avr_part_info *p = cwsim_avr_part_find(part);
    if (p == NULL) {
        char list[300];
        size_t n = 0;
        list[0] = '\0';
        for (size_t i = 0; i < cwsim_avr_part_count() && n < sizeof list; i++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "",
                             cwsim_avr_part_at(i)->name);
            if (w < 0)
                break;
            n += (size_t)w;
        }
        avr_err(err, errlen, "cwsim avr: unknown part '%s'; known parts: %s",
                part != NULL ? part : "(null)", list);
        return -1;
    }
    cwsim_avr *c = calloc(1, sizeof *c);
    if (c == NULL) {
        avr_err(err, errlen, "cwsim avr: out of memory");
        return -1;
    }
    c->sim = sim;
    c->p = p;
    c->flash = malloc(p->flash_size);
    c->eeprom = malloc(p->eeprom_size);
    c->page = malloc(p->flash_page);
    if (c->flash == NULL || c->eeprom == NULL || c->page == NULL) {
        cwsim_avr_free(c);
        avr_err(err, errlen, "cwsim avr: out of memory");
        return -1;
    }
    memset(c->flash, 0xFF, p->flash_size);
    memset(c->eeprom, 0xFF, p->eeprom_size);
    memset(c->page, 0xFF, p->flash_page);
    memset(c->epage, 0xFF, sizeof c->epage);
    c->fuse[F_LOW] = p->fuse_low;
    c->fuse[F_HIGH] = p->fuse_high;
    c->fuse[F_EXT] = p->fuse_ext;
    c->fuse[F_LOCK] = p->lock;
    if (cwsim_state_dir(sim) != NULL &&
        (load_blob(c, "flash", c->flash, p->flash_size, err, errlen) != 0 ||
         load_blob(c, "eeprom", c->eeprom, p->eeprom_size, err, errlen) != 0 ||
         load_blob(c, "fuses", c->fuse, sizeof c->fuse, err, errlen) != 0)) {
        cwsim_avr_free(c);
        return -1;
    }
    latch_fuses(c);
    *out = c;
    return 0;
}

void cwsim_avr_free(cwsim_avr *c)
{
    if (c == NULL)
        return;
    if (c->flash != NULL && c->eeprom != NULL)
        (void)cwsim_avr_save(c, NULL, 0);
    free(c->flash);
    free(c->eeprom);
    free(c->page);
    free(c);
}
