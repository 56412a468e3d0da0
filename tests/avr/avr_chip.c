/* SPDX-License-Identifier: MIT */
/* The simulated ATmega on its own: serial programming instructions, echo, the clock and SCK
 * conditions, fuses and lock bits, RDY/BSY, persistence (datasheet "Serial Programming";
 * target-protocols.md §C.5, §C.6). */
#include "../check.h"
#include "cwsim.h"
#include "cwsim_avr.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS  1000000ull
#define SCK 125e3

static uint64_t now;

/* One 4-byte instruction; returns the 4 response bytes packed (byte 1 in the top byte). */
static uint32_t ins(cwsim_avr *c, uint8_t a, uint8_t b, uint8_t d, uint8_t e)
{
    uint8_t in[4] = {a, b, d, e}, out[4];
    for (int i = 0; i < 4; i++) {
        now += 64000; /* 8 bits at 125 kHz */
        cwsim_avr_spi(c, in[i], SCK, now, &out[i]);
    }
    return (uint32_t)out[0] << 24 | (uint32_t)out[1] << 16 | (uint32_t)out[2] << 8 | out[3];
}

static uint8_t rd(cwsim_avr *c, uint8_t a, uint8_t b, uint8_t d)
{
    return (uint8_t)ins(c, a, b, d, 0x00);
}

static cwsim_avr *chip_new(cwsim *sim, const char *part)
{
    cwsim_avr *c = NULL;
    char err[256];
    if (cwsim_avr_new(sim, part, &c, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return c;
}

/* power, 7.37 MHz clock, /RESET low, Programming Enable */
static int enter(cwsim_avr *c)
{
    cwsim_avr_set_power(c, 1, now);
    cwsim_avr_set_clock(c, 7.3728e6, now);
    cwsim_avr_set_reset(c, 1, now += 20 * MS);
    return (int)((ins(c, 0xAC, 0x53, 0x00, 0x00) >> 8) & 0xFF);
}

static void wait_ready(cwsim_avr *c)
{
    while (rd(c, 0xF0, 0x00, 0x00) & 1)
        now += MS;
}

static void test_parts(void)
{
    const cwsim_avr_part_info *p = cwsim_avr_part_find("atmega328p");
    CHECK(p != NULL && p->signature[1] == 0x95 && p->signature[2] == 0x0F);
    CHECK(p != NULL && p->flash_size == 32768 && p->flash_page == 128 && p->eeprom_size == 1024);
    CHECK(cwsim_avr_part_find("AVR") == p);
    CHECK(cwsim_avr_part_find("cw308_mega328p") == p);
    p = cwsim_avr_part_find("atmega168pa");
    CHECK(p != NULL && p->signature[1] == 0x94 && p->signature[2] == 0x0B);
    CHECK(p != NULL && p->flash_size == 16384 && p->eeprom_size == 512 && p->fuse_ext == 0xF9);
    CHECK(cwsim_avr_part_find("atmega1284") == NULL);
    /* datasheet high fuse defaults; the CW308 low fuse (external clock, no CKDIV8) */
    CHECK_EQ_INT(cwsim_avr_part_find("atmega328p")->fuse_high, 0xD9);
    CHECK_EQ_INT(cwsim_avr_part_find("atmega328p")->fuse_low, 0xE0);
}

static void test_enable_and_echo(void)
{
    cwsim *sim = NULL;
    cwsim_new(&sim, NULL, 0);
    cwsim_avr *c = chip_new(sim, "atmega328p");
    uint8_t miso;
    /* unpowered, and powered but not in reset: MISO not driven */
    CHECK_EQ_INT(cwsim_avr_spi(c, 0xAC, SCK, now, &miso), -1);
    cwsim_avr_set_power(c, 1, now);
    cwsim_avr_set_clock(c, 7.3728e6, now);
    CHECK_EQ_INT(cwsim_avr_spi(c, 0xAC, SCK, now, &miso), -1);
    CHECK_EQ_INT(miso, 0xFF);
    /* in reset: echo of the previous byte; 0x53 comes back in byte 3 */
    cwsim_avr_set_reset(c, 1, now += 20 * MS);
    uint32_t r = ins(c, 0xAC, 0x53, 0x00, 0x00);
    CHECK_EQ_INT((r >> 16) & 0xFF, 0xAC);
    CHECK_EQ_INT((r >> 8) & 0xFF, 0x53);
    CHECK(cwsim_avr_programming(c));
    /* reads: signature, calibration, fuses, lock */
    CHECK_EQ_INT(rd(c, 0x30, 0x00, 0x00), 0x1E);
    CHECK_EQ_INT(rd(c, 0x30, 0x00, 0x01), 0x95);
    CHECK_EQ_INT(rd(c, 0x30, 0x00, 0x02), 0x0F);
    CHECK_EQ_INT(rd(c, 0x50, 0x00, 0x00), 0xE0);
    CHECK_EQ_INT(rd(c, 0x58, 0x08, 0x00), 0xD9);
    CHECK_EQ_INT(rd(c, 0x50, 0x08, 0x00), 0xFF);
    CHECK_EQ_INT(rd(c, 0x58, 0x00, 0x00), 0xFF);
    /* a non-read echoes byte 3 in byte 4 */
    CHECK_EQ_INT(ins(c, 0x4D, 0x00, 0x00, 0x00) & 0xFF, 0x00);
    /* /RESET high ends programming mode; instructions are then ignored until enabled again */
    cwsim_avr_set_reset(c, 0, now += MS);
    CHECK(!cwsim_avr_programming(c));
    cwsim_avr_set_reset(c, 1, now += 20 * MS);
    CHECK_EQ_INT(rd(c, 0x30, 0x00, 0x01), 0x01); /* not enabled: byte 4 echoes byte 3 */
    cwsim_avr_free(c);
    cwsim_free(sim);
}

static void test_clock_conditions(void)
{
    cwsim *sim = NULL;
    cwsim_new(&sim, NULL, 0);
    cwsim_avr *c = chip_new(sim, "atmega328p");
    uint8_t miso;
    /* no clock (external clock selected, none fed): MISO held low, nothing shifts */
    cwsim_avr_set_power(c, 1, now);
    cwsim_avr_set_reset(c, 1, now += 20 * MS);
    CHECK(cwsim_avr_cpu_hz(c) == 0.0);
    CHECK_EQ_INT(ins(c, 0xAC, 0x53, 0x00, 0x00), 0);
    CHECK(!cwsim_avr_programming(c));
    /* a clock: SCK must stay below f/4 */
    cwsim_avr_set_clock(c, 7.3728e6, now);
    CHECK_EQ_INT(cwsim_avr_spi(c, 0xAC, 2e6, now, &miso), 0); /* 2 MHz > 1.84 MHz */
    uint8_t out[4], in[4] = {0xAC, 0x53, 0x00, 0x00};
    for (int i = 0; i < 4; i++)
        cwsim_avr_spi(c, in[i], 2e6, now += MS, &out[i]);
    CHECK(out[2] != 0x53);
    CHECK(!cwsim_avr_programming(c));
    cwsim_avr_counters cnt;
    cwsim_avr_counters_get(c, &cnt);
    CHECK(cnt.garbled >= 4);
    for (int i = 0; i < 4; i++)
        cwsim_avr_spi(c, in[i], 1e6, now += MS, &out[i]);
    CHECK_EQ_INT(out[2], 0x53);
    CHECK(cwsim_avr_programming(c));
    /* CKDIV8: 921.6 kHz, so 376 kHz is too fast, 62.5 kHz fine (after the fuse is latched) */
    ins(c, 0xAC, 0xA0, 0x00, 0x60);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0x50, 0x00, 0x00), 0x60);
    CHECK(cwsim_avr_cpu_hz(c) > 7e6); /* not yet: latched when programming mode ends */
    cwsim_avr_set_reset(c, 0, now += MS);
    CHECK(cwsim_avr_cpu_hz(c) > 900e3 && cwsim_avr_cpu_hz(c) < 930e3);
    cwsim_avr_set_reset(c, 1, now += 20 * MS);
    for (int i = 0; i < 4; i++)
        cwsim_avr_spi(c, in[i], 376e3, now += MS, &out[i]);
    CHECK(out[2] != 0x53);
    for (int i = 0; i < 4; i++)
        cwsim_avr_spi(c, in[i], 62.5e3, now += MS, &out[i]);
    CHECK_EQ_INT(out[2], 0x53);
    /* a crystal clock source: no crystal on the rig, no clock */
    ins(c, 0xAC, 0xA0, 0x00, 0xFF);
    wait_ready(c);
    cwsim_avr_set_reset(c, 0, now += MS);
    CHECK(cwsim_avr_cpu_hz(c) == 0.0);
    cwsim_avr_set_reset(c, 1, now += 20 * MS);
    CHECK_EQ_INT(ins(c, 0xAC, 0x53, 0x00, 0x00), 0);
    cwsim_avr_free(c);
    cwsim_free(sim);
}

static void test_flash_eeprom(void)
{
    cwsim *sim = NULL;
    cwsim_new(&sim, NULL, 0);
    cwsim_avr *c = chip_new(sim, "atmega168pa");
    CHECK_EQ_INT(enter(c), 0x53);
    /* load a page (64 words) and write it at word 64 */
    for (uint8_t w = 0; w < 64; w++) {
        ins(c, 0x40, 0x00, w, (uint8_t)(w * 2));
        ins(c, 0x48, 0x00, w, (uint8_t)(w * 2 + 1));
    }
    ins(c, 0x4C, 0x00, 0x40, 0x00);
    CHECK(cwsim_avr_busy(c, now));
    CHECK_EQ_INT(rd(c, 0x20, 0x00, 0x40), 0xFF); /* data polling: 0xFF while busy */
    uint32_t r = ins(c, 0xF0, 0x00, 0x00, 0x00);
    CHECK_EQ_INT(r & 1, 1);
    now += 5 * MS;
    CHECK_EQ_INT(rd(c, 0xF0, 0x00, 0x00) & 1, 0);
    CHECK_EQ_INT(rd(c, 0x20, 0x00, 0x41), 0x02);
    CHECK_EQ_INT(rd(c, 0x28, 0x00, 0x41), 0x03);
    uint8_t buf[4];
    cwsim_avr_peek(c, CWSIM_AVR_FLASH, 128, buf, 4);
    CHECK(buf[0] == 0 && buf[1] == 1 && buf[2] == 2 && buf[3] == 3);
    /* writing again without an erase ANDs the buffer in; the buffer was reset to 0xFF */
    ins(c, 0x40, 0x00, 0x00, 0xF0);
    ins(c, 0x4C, 0x00, 0x40, 0x00);
    now += 5 * MS;
    cwsim_avr_peek(c, CWSIM_AVR_FLASH, 128, buf, 4);
    CHECK(buf[0] == 0x00 && buf[1] == 0x01 && buf[2] == 0x02);
    /* a write while busy is ignored */
    ins(c, 0x40, 0x00, 0x00, 0x00);
    ins(c, 0x4C, 0x00, 0x00, 0x00);
    ins(c, 0x4C, 0x00, 0x80, 0x00);
    cwsim_avr_counters cnt;
    cwsim_avr_counters_get(c, &cnt);
    CHECK_EQ_INT(cnt.ignored_writes, 1);
    now += 5 * MS;
    /* EEPROM: byte write (erases first), page load + write */
    ins(c, 0xC0, 0x00, 0x10, 0x5A);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x10), 0x5A);
    ins(c, 0xC0, 0x00, 0x10, 0xA5);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x10), 0xA5);
    ins(c, 0xC1, 0x00, 0x00, 0x11);
    ins(c, 0xC1, 0x00, 0x02, 0x33);
    ins(c, 0xC2, 0x00, 0x20, 0x00);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x20), 0x11);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x21), 0xFF);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x22), 0x33);
    /* addresses past the end wrap */
    CHECK_EQ_INT(rd(c, 0xA0, 0x02, 0x10), 0xA5);
    /* chip erase: flash, EEPROM (EESAVE unprogrammed), lock; not the fuses */
    ins(c, 0xAC, 0xE0, 0x00, 0xFC);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0x58, 0x00, 0x00), 0xFC);
    ins(c, 0xAC, 0x80, 0x00, 0x00);
    CHECK(cwsim_avr_busy(c, now));
    now += 8 * MS;
    CHECK(cwsim_avr_busy(c, now)); /* tWD_ERASE 9 ms */
    now += 2 * MS;
    CHECK_EQ_INT(rd(c, 0x20, 0x00, 0x41), 0xFF);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x10), 0xFF);
    CHECK_EQ_INT(rd(c, 0x58, 0x00, 0x00), 0xFF);
    CHECK_EQ_INT(rd(c, 0x58, 0x08, 0x00), 0xDF);
    cwsim_avr_free(c);
    cwsim_free(sim);
}

static void test_fuses_and_lock(void)
{
    cwsim *sim = NULL;
    cwsim_new(&sim, NULL, 0);
    cwsim_avr *c = chip_new(sim, "atmega328p");
    CHECK_EQ_INT(enter(c), 0x53);
    /* SPIEN cannot be changed over ISP; unused extended bits read 1 */
    ins(c, 0xAC, 0xA8, 0x00, 0xF9); /* SPIEN (bit 5) unprogrammed: ignored */
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0x58, 0x08, 0x00), 0xD9);
    ins(c, 0xAC, 0xA4, 0x00, 0x05);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0x50, 0x08, 0x00), 0xFD);
    /* EESAVE programmed: chip erase keeps the EEPROM */
    ins(c, 0xAC, 0xA8, 0x00, 0xD1);
    wait_ready(c);
    ins(c, 0xC0, 0x00, 0x00, 0x42);
    wait_ready(c);
    ins(c, 0xAC, 0x80, 0x00, 0x00);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x00), 0x42);
    /* lock mode 2: writes ignored, reads fine; fuses locked; lock bits only go down */
    ins(c, 0xAC, 0xE0, 0x00, 0xFE);
    wait_ready(c);
    ins(c, 0xAC, 0xE0, 0x00, 0xFF);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0x58, 0x00, 0x00), 0xFE);
    ins(c, 0xC0, 0x00, 0x00, 0x17);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x00), 0x42);
    ins(c, 0xAC, 0xA0, 0x00, 0x62);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0x50, 0x00, 0x00), 0xE0);
    /* lock mode 3: reads hidden too; the signature stays readable */
    ins(c, 0xAC, 0xE0, 0x00, 0xFC);
    wait_ready(c);
    CHECK_EQ_INT(rd(c, 0xA0, 0x00, 0x00), 0xFF);
    CHECK_EQ_INT(rd(c, 0x30, 0x00, 0x01), 0x95);
    /* RSTDISBL programmed (poked, as a parallel programmer would): ISP gone at next power-up */
    uint8_t f[4] = {0xE0, 0x59, 0xFF, 0xFF};
    cwsim_avr_poke(c, CWSIM_AVR_FUSES, 0, f, 4);
    cwsim_avr_set_reset(c, 0, now += MS);
    cwsim_avr_set_reset(c, 1, now += 20 * MS);
    uint8_t miso;
    CHECK_EQ_INT(cwsim_avr_spi(c, 0xAC, SCK, now, &miso), -1);
    cwsim_avr_free(c);
    cwsim_free(sim);
}

static void test_state(void)
{
    char dir[] = "/tmp/cwlua-avr-test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char err[256];
    cwsim *sim = NULL;
    cwsim_new(&sim, NULL, 0);
    CHECK_EQ_INT(cwsim_state_open(sim, dir, err, sizeof err), 0);
    cwsim_avr *c = chip_new(sim, "atmega328p");
    enter(c);
    ins(c, 0xC0, 0x00, 0x05, 0x77);
    wait_ready(c);
    ins(c, 0xAC, 0xA0, 0x00, 0xD0);
    wait_ready(c);
    cwsim_avr_set_reset(c, 0, now += MS); /* leaving programming mode saves */
    cwsim_avr_free(c);
    cwsim_free(sim);
    sim = NULL;
    cwsim_new(&sim, NULL, 0);
    CHECK_EQ_INT(cwsim_state_open(sim, dir, err, sizeof err), 0);
    c = chip_new(sim, "atmega328p");
    uint8_t v[4];
    cwsim_avr_peek(c, CWSIM_AVR_EEPROM, 5, v, 1);
    CHECK_EQ_INT(v[0], 0x77);
    cwsim_avr_peek(c, CWSIM_AVR_FUSES, 0, v, 4);
    CHECK_EQ_INT(v[0], 0xD0);
    cwsim_avr_free(c);
    cwsim_state_remove(sim, "atmega328p.flash", NULL, 0);
    cwsim_state_remove(sim, "atmega328p.eeprom", NULL, 0);
    cwsim_state_remove(sim, "atmega328p.fuses", NULL, 0);
    cwsim_free(sim);
    rmdir(dir);
}

int main(void)
{
    test_parts();
    test_enable_and_echo();
    test_clock_conditions();
    test_flash_eeprom();
    test_fuses_and_lock();
    test_state();
    return check_report("avr_chip");
}
