/* SPDX-License-Identifier: MIT */
/* The XMEGA chip model on its own, driven byte by byte over PDI as the board's engine would
 * (target-protocols.md §B.2 instruction bytes, §B.4 addresses, §B.5 target model): parts and
 * aliases, the keys and NVMEN, NVM commands and their triggers, the page buffers (AND into
 * flash; only loaded EEPROM bytes), section commands, lock bits, chip erase (NVMEN low, EESAVE),
 * busy times and slow-erase, a repeated LD, and the state folder. */
#include "check.h"
#include "cwsim.h"
#include "cwsim_xmega.h"

#include <stdlib.h>
#include <unistd.h>

#define MS    1000000ull
#define NVM   0x010001C0u /* §B.2 NVMBASE */
#define FLASH 0x0800000u
#define EE    0x08C0000u
#define FUSES 0x08F0020u

typedef struct pdi {
    cwsim_xmega *c;
    uint64_t now;
} pdi;

static void tx(pdi *p, uint8_t v)
{
    p->now += 24000; /* one 12-bit frame at 500 kHz (§B.6) */
    CHECK_EQ_INT(cwsim_xmega_pdi_send(p->c, v, p->now), 0);
}

static int rx(pdi *p)
{
    uint8_t v;
    p->now += 24000;
    return cwsim_xmega_pdi_recv(p->c, &v, p->now) == 0 ? v : -1;
}

static void tx_addr(pdi *p, uint32_t a)
{
    for (int i = 0; i < 4; i++)
        tx(p, (uint8_t)(a >> (8 * i)));
}

static void sts(pdi *p, uint32_t a, uint8_t v)
{
    tx(p, 0x4C);
    tx_addr(p, a);
    tx(p, v);
}

static int lds(pdi *p, uint32_t a)
{
    tx(p, 0x0C);
    tx_addr(p, a);
    return rx(p);
}

static void enter(pdi *p)
{
    cwsim_xmega_pdi_link(p->c, 1, p->now);
    tx(p, 0xC1);
    tx(p, 0x59);
    tx(p, 0xC2);
    tx(p, 0x02);
    static const uint8_t key[8] = {0xFF, 0x88, 0xD8, 0xCD, 0x45, 0xAB, 0x89, 0x12};
    tx(p, 0xE0);
    for (int i = 0; i < 8; i++)
        tx(p, key[i]);
}

static void cmd(pdi *p, uint8_t c)
{
    sts(p, NVM | 0x0A, c);
}

static void wait_idle(pdi *p)
{
    while (1) {
        sts(p, NVM | 0x0A, 0x00);
        int s = lds(p, NVM | 0x0F);
        if (s >= 0 && !(s & 0x80))
            return;
        p->now += 100000;
    }
}

static void load(pdi *p, uint8_t c, uint32_t a, const uint8_t *d, unsigned n)
{
    cmd(p, c);
    tx(p, 0x6B);
    tx_addr(p, a);
    tx(p, 0xA0);
    tx(p, (uint8_t)(n - 1));
    tx(p, 0x64);
    for (unsigned i = 0; i < n; i++)
        tx(p, d[i]);
}

static int read1(pdi *p, uint32_t a)
{
    cmd(p, 0x43);
    return lds(p, a);
}

static void parts(void)
{
    CHECK_EQ_INT(cwsim_xmega_part_count(), 2);
    CHECK(cwsim_xmega_part_find("ATXMEGA16A4") == cwsim_xmega_part_at(1));
    const char *refs[] = {"xmega", "CWLITEXMEGA", "cw303", "CW308_XMEGA", "atxmega128d4"};
    for (int i = 0; i < 5; i++)
        CHECK(cwsim_xmega_part_find(refs[i]) == cwsim_xmega_part_at(0));
    CHECK(cwsim_xmega_part_find("atxmega128a4u") == NULL);
    const cwsim_xmega_part_info *d4 = cwsim_xmega_part_at(0);
    CHECK(d4->signature[0] == 0x1E && d4->signature[1] == 0x97 && d4->signature[2] == 0x47);
    CHECK_EQ_INT(d4->app_size + d4->boot_size, 0x22000); /* §B.4 CW "flash" */
    CHECK_EQ_INT(d4->eeprom_size, 0x800);
}

static void link_and_keys(void)
{
    cwsim *sim;
    char err[256];
    CHECK_EQ_INT(cwsim_new(&sim, err, sizeof err), 0);
    cwsim_xmega *c;
    CHECK_EQ_INT(cwsim_xmega_new(sim, "atxmega128d4", &c, err, sizeof err), 0);
    pdi p = {c, 0};
    uint8_t v;
    /* unpowered: the PDI does not start, nothing answers */
    cwsim_xmega_pdi_link(c, 1, 0);
    CHECK_EQ_INT(cwsim_xmega_pdi_send(c, 0x80, 1000), -1);
    cwsim_xmega_set_power(c, 1, 1000);
    CHECK_EQ_INT(cwsim_xmega_pdi_send(c, 0x80, 2000), -1); /* the link was never taken */
    cwsim_xmega_pdi_link(c, 1, 3000);
    p.now = 3000;
    tx(&p, 0x80); /* LDCS STATUS before the NVM key: NVMEN 0 */
    CHECK_EQ_INT(rx(&p), 0x00);
    CHECK_EQ_INT(rx(&p), -1); /* nothing more to send */
    tx(&p, 0xC1);
    tx(&p, 0x59);
    CHECK(cwsim_xmega_in_reset(c));
    tx(&p, 0x81);
    CHECK_EQ_INT(rx(&p), 0x01);
    /* a wrong key leaves NVMEN off; reads of NVM give nothing */
    tx(&p, 0xE0);
    for (int i = 0; i < 8; i++)
        tx(&p, 0x00);
    tx(&p, 0x80);
    CHECK_EQ_INT(rx(&p), 0x00);
    CHECK_EQ_INT(lds(&p, 0x01000090), 0x00);
    enter(&p);
    tx(&p, 0x80);
    CHECK_EQ_INT(rx(&p), 0x02);
    CHECK(cwsim_xmega_nvm_enabled(c, p.now));
    /* signature in data space; a repeated LD *ptr++ returns all three */
    tx(&p, 0x6B);
    tx_addr(&p, 0x01000090);
    tx(&p, 0xA0);
    tx(&p, 2);
    tx(&p, 0x24);
    CHECK_EQ_INT(rx(&p), 0x1E);
    CHECK_EQ_INT(rx(&p), 0x97);
    CHECK_EQ_INT(rx(&p), 0x47);
    /* NVM space needs READNVM */
    cmd(&p, 0x00);
    CHECK_EQ_INT(lds(&p, FLASH), 0x00);
    CHECK_EQ_INT(read1(&p, FLASH), 0xFF);
    /* LEAVE: RESET cleared, link down */
    tx(&p, 0xC1);
    tx(&p, 0x00);
    tx(&p, 0x81);
    CHECK_EQ_INT(rx(&p), 0x00);
    cwsim_xmega_pdi_link(c, 0, p.now);
    CHECK(!cwsim_xmega_pdi_enabled(c) && !cwsim_xmega_in_reset(c));
    CHECK_EQ_INT(cwsim_xmega_pdi_recv(c, &v, p.now + 1000), -1);
    cwsim_xmega_free(c);
    cwsim_free(sim);
}

static void nvm_operations(const char *fault)
{
    cwsim *sim;
    char err[256];
    CHECK_EQ_INT(cwsim_new(&sim, err, sizeof err), 0);
    if (fault != NULL)
        CHECK_EQ_INT(cwsim_fault_parse(sim, fault, err, sizeof err), 0);
    cwsim_xmega *c;
    CHECK_EQ_INT(cwsim_xmega_new(sim, "atxmega16a4", &c, err, sizeof err), 0);
    pdi p = {c, 0};
    cwsim_xmega_set_power(c, 1, 0);
    enter(&p);
    uint8_t d[4] = {0x0F, 0xF0, 0x33, 0xCC};
    /* a page write without an erase ANDs the buffer into flash (§B.5) */
    uint8_t pre[4] = {0x3C, 0x3C, 0xFF, 0x00};
    CHECK_EQ_INT(cwsim_xmega_poke(c, CWSIM_XMEGA_FLASH, 0x100, pre, 4), 0);
    load(&p, 0x23, FLASH + 0x100, d, 4);
    cmd(&p, 0x24);
    sts(&p, FLASH + 0x100, 0);
    CHECK(cwsim_xmega_busy(c, p.now));
    uint64_t t0 = p.now;
    wait_idle(&p);
    CHECK(p.now - t0 >= 4 * MS); /* page write [ext] */
    uint8_t got[4];
    cwsim_xmega_peek(c, CWSIM_XMEGA_FLASH, 0x100, got, 4);
    uint8_t want[4] = {0x0C, 0x30, 0x33, 0x00};
    CHECK_MEM(got, want, 4);
    /* erase app page: back to 0xFF; a boot-page command on the app address does nothing */
    cmd(&p, 0x2A);
    sts(&p, FLASH + 0x100, 0);
    wait_idle(&p);
    cwsim_xmega_peek(c, CWSIM_XMEGA_FLASH, 0x100, got, 4);
    CHECK_MEM(got, want, 4);
    cmd(&p, 0x22);
    t0 = p.now;
    sts(&p, FLASH + 0x100, 0);
    wait_idle(&p);
    CHECK(p.now - t0 >= (fault ? 40 : 4) * MS); /* slow-erase: x10 */
    cwsim_xmega_peek(c, CWSIM_XMEGA_FLASH, 0x100, got, 4);
    CHECK(got[0] == 0xFF && got[3] == 0xFF);
    /* EEPROM: only loaded bytes are erased and written */
    uint8_t ee[32];
    memset(ee, 0x11, sizeof ee);
    CHECK_EQ_INT(cwsim_xmega_poke(c, CWSIM_XMEGA_EEPROM, 0x20, ee, 32), 0);
    load(&p, 0x33, EE + 0x22, d, 2);
    cmd(&p, 0x35);
    sts(&p, EE + 0x20, 0);
    wait_idle(&p);
    cwsim_xmega_peek(c, CWSIM_XMEGA_EEPROM, 0x20, ee, 32);
    CHECK(ee[0] == 0x11 && ee[1] == 0x11 && ee[2] == 0x0F && ee[3] == 0xF0 && ee[4] == 0x11);
    /* fuses: unused bits read 1; a missing fuse byte ignores writes */
    cmd(&p, 0x4C);
    sts(&p, FUSES + 2, 0x00);
    wait_idle(&p);
    CHECK_EQ_INT(read1(&p, FUSES + 2), 0xBC);
    cmd(&p, 0x4C);
    sts(&p, FUSES + 3, 0x00);
    wait_idle(&p);
    CHECK_EQ_INT(read1(&p, FUSES + 3), 0xFF);
    /* lock bits only go 1 -> 0; LB = 00 makes flash and EEPROM read 0 over PDI */
    CHECK_EQ_INT(cwsim_xmega_poke(c, CWSIM_XMEGA_FLASH, 0, d, 4), 0);
    cmd(&p, 0x08);
    sts(&p, FUSES + 7, 0xFC);
    wait_idle(&p);
    cmd(&p, 0x08);
    sts(&p, FUSES + 7, 0xFF);
    wait_idle(&p);
    CHECK_EQ_INT(read1(&p, FUSES + 7), 0xFC);
    CHECK_EQ_INT(read1(&p, FLASH), 0x00);
    CHECK_EQ_INT(read1(&p, 0x010001D0), 0xFC); /* NVM LOCKBITS register */
    /* chip erase: NVMEN low while it runs; flash, EEPROM (EESAVE unprogrammed), lock bits */
    cmd(&p, 0x40);
    sts(&p, NVM | 0x0B, 0x01);
    tx(&p, 0x80);
    CHECK_EQ_INT(rx(&p), 0x00);
    t0 = p.now;
    while (!cwsim_xmega_nvm_enabled(c, p.now))
        p.now += MS;
    CHECK(p.now - t0 >= (fault ? 440 : 44) * MS); /* 45 ms for a 16 KiB part [ext] */
    CHECK_EQ_INT(read1(&p, FUSES + 7), 0xFF);
    CHECK_EQ_INT(read1(&p, FLASH), 0xFF);
    CHECK_EQ_INT(read1(&p, EE + 0x22), 0xFF);
    CHECK_EQ_INT(read1(&p, FUSES + 2), 0xBC); /* fuses stay */
    cwsim_xmega_counters cnt;
    cwsim_xmega_counters_get(c, &cnt);
    CHECK_EQ_INT(cnt.chip_erases, 1);
    CHECK(cnt.ignored >= 2);
    cwsim_xmega_free(c);
    cwsim_free(sim);
}

/* EESAVE (FUSEBYTE5 bit 3 programmed) keeps the EEPROM through a chip erase [ext]. */
static void eesave(void)
{
    cwsim *sim;
    char err[256];
    CHECK_EQ_INT(cwsim_new(&sim, err, sizeof err), 0);
    cwsim_xmega *c;
    CHECK_EQ_INT(cwsim_xmega_new(sim, "atxmega128d4", &c, err, sizeof err), 0);
    uint8_t f5 = 0xF7, e = 0x42;
    CHECK_EQ_INT(cwsim_xmega_poke(c, CWSIM_XMEGA_FUSES, 5, &f5, 1), 0);
    CHECK_EQ_INT(cwsim_xmega_poke(c, CWSIM_XMEGA_EEPROM, 7, &e, 1), 0);
    pdi p = {c, 0};
    cwsim_xmega_set_power(c, 1, 0);
    enter(&p);
    cmd(&p, 0x40);
    sts(&p, NVM | 0x0B, 0x01);
    p.now += 100 * MS;
    CHECK_EQ_INT(read1(&p, EE + 7), 0x42);
    cwsim_xmega_free(c);
    cwsim_free(sim);
}

/* The state folder keeps the memories; read-protected sets LB = 00 there. */
static void persistence(void)
{
    char dir[] = "/tmp/cwlua-xmega-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char err[256];
    for (int round = 0; round < 2; round++) {
        cwsim *sim;
        CHECK_EQ_INT(cwsim_new(&sim, err, sizeof err), 0);
        CHECK_EQ_INT(cwsim_state_open(sim, dir, err, sizeof err), 0);
        if (round == 1)
            CHECK_EQ_INT(cwsim_fault_parse(sim, "read-protected", err, sizeof err), 0);
        cwsim_xmega *c;
        CHECK_EQ_INT(cwsim_xmega_new(sim, "atxmega16a4", &c, err, sizeof err), 0);
        uint8_t v[8];
        if (round == 0) {
            CHECK_EQ_INT(cwsim_xmega_poke(c, CWSIM_XMEGA_EEPROM, 3, (const uint8_t *)"keep", 4), 0);
        } else {
            cwsim_xmega_peek(c, CWSIM_XMEGA_EEPROM, 3, v, 4);
            CHECK_MEM(v, "keep", 4);
            cwsim_xmega_peek(c, CWSIM_XMEGA_FUSES, 0, v, 8);
            CHECK_EQ_INT(v[7], 0xFC);
        }
        cwsim_xmega_free(c);
        cwsim_free(sim);
    }
    char cmdline[128];
    snprintf(cmdline, sizeof cmdline, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmdline), 0);
}

int main(void)
{
    parts();
    link_and_keys();
    nvm_operations(NULL);
    nvm_operations("slow-erase");
    eesave();
    persistence();
    return check_report("xmega_chip");
}
