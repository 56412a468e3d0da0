/* SPDX-License-Identifier: MIT */
/* libcwsim faults: the --sim-fault NAME[=VALUE] table of contract.md §5, parsed and validated.
 * Board and wiring faults act here; chip faults are stored for the target chips of later
 * issues (cwsim_fault_on/_number/_value). */
#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { VK_FLAG, VK_COUNT, VK_PROB, VK_PCT, VK_VER, VK_FACTOR, VK_SECTORS };

/* Order = enum sim_fault_id. contract.md §5 lists them all. */
static const cwsim_fault_info infos[F_COUNT] = {
    {"no-power", "", NULL, "the target gets no power", 1, 0},
    {"no-clock", "", NULL, "the target gets no clock on HS2", 1, 0},
    {"uart-rx-open", "", NULL,
     "the target's TX never reaches the board (e.g. a CW506 routing switch off)", 1, 0},
    {"uart-tx-open", "", NULL, "the board's TX never reaches the target", 1, 0},
    {"uart-swapped", "", NULL, "the target's RX and TX lines are swapped", 1, 0},
    {"pdi-open", "", NULL, "PDIC and PDID do not reach the target", 1, 0},
    {"isp-open", "", NULL, "MOSI, MISO and SCK do not reach the target", 1, 0},
    {"boot0-stuck-low", "", NULL, "the chip's boot pin stays low whatever is driven", 0, 0},
    {"nrst-open", "", NULL, "nRST does not reach the target", 1, 0},
    {"baud-skew", "PCT", NULL, "the application's UART runs PCT percent off (-50..50)", 0, 0},
    {"bit-flips", "P", NULL, "each UART bit flips with probability P, both directions", 1, 0},
    {"drop-bytes", "P", NULL, "each UART byte is lost with probability P, both directions", 1, 0},
    {"already-synced", "", NULL, "the bootloader is synced at start; any nRST pulse clears it", 0,
     0},
    {"read-protected", "", NULL, "the chip is read-protected (kept in the state folder)", 0, 1},
    {"write-protected", "SECTORS", "all",
     "sectors (e.g. 0-3,7 or all) are write-protected (kept in the state folder)", 0, 1},
    {"slow-erase", "F", "10", "erase takes F times the datasheet time and still succeeds", 0, 0},
    {"fpga-unprogrammed", "", NULL, "the board's FPGA is not configured (power-up state)", 1, 0},
    {"old-firmware", "VER", "0.20.0", "the board runs firmware VER (MAJ.MIN[.DBG])", 1, 0},
    {"usb-stall-after", "N", NULL, "USB transfer N+1 and every later one stalls", 1, 0},
    {"usb-timeout-after", "N", NULL, "USB transfer N+1 and every later one times out", 1, 0},
    {"unplug-after", "N", NULL, "the board is unplugged before USB transfer N+1", 1, 0},
    {"glitch-active", "", NULL,
     "glitch outputs left on as a notebook would (MOSFETs on, HS2 = glitch clock)", 1, 0},
    {"pll-unlocked", "", NULL, "the Husky's clock PLL never locks: no target or ADC clock", 1, 0},
    {"trigger-open", "", NULL, "TIO4 never reaches the board: the ADC never triggers on it", 1, 0},
};

static const int vks[F_COUNT] = {VK_FLAG,  VK_FLAG,  VK_FLAG,    VK_FLAG,   VK_FLAG, VK_FLAG,
                                 VK_FLAG,  VK_FLAG,  VK_FLAG,    VK_PCT,    VK_PROB, VK_PROB,
                                 VK_FLAG,  VK_FLAG,  VK_SECTORS, VK_FACTOR, VK_FLAG, VK_VER,
                                 VK_COUNT, VK_COUNT, VK_COUNT,   VK_FLAG,   VK_FLAG, VK_FLAG};

const cwsim_fault_info *cwsim_fault_table(size_t *count)
{
    if (count != NULL)
        *count = F_COUNT;
    return infos;
}

static int fault_id(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(infos[i].name, name) == 0)
            return i;
    return -1;
}

static void unknown_fault(const char *name, char *err, size_t errlen)
{
    char list[600];
    size_t n = 0;
    list[0] = '\0';
    for (int i = 0; i < F_COUNT && n < sizeof list; i++) {
        int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", infos[i].name);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    sim_err(err, errlen, "cwsim: unknown fault '%s'; valid faults: %s", name ? name : "(null)",
            list);
}

/* Value ranges (contract.md §5 --sim-fault). A count of USB transfers beyond 2^32 - 1 means
 * "never" in any real run; the bound keeps it exact as a double and as a uint64_t. A factor
 * above 1000 would overflow the chips' nanosecond erase times. Sector numbers stop at 65535:
 * no part has more, and larger numbers would overflow strtoul's range checks. */
#define COUNT_MAX   4294967295.0
#define FACTOR_MAX  1000.0
#define SECTORS_MAX 65535ul

/* A whole number written in decimal digits only (no sign, space, "0x" or exponent), <= max.
 * Digits are accumulated while the value stays within max, so nothing wraps. */
static int parse_count(const char *s, double max, double *out)
{
    double v = 0;
    if (*s == '\0')
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (double)(*p - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

/* A decimal number as a person writes one: [-]digits[.digits][e[+-]digits] (or .digits).
 * strtod alone would also take leading spaces, '+', hexadecimal, "inf" and "nan". */
int sim_parse_decimal(const char *s, int allow_minus, double *out)
{
    const char *p = s;
    if (*p == '-' && allow_minus)
        p++;
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (*p == '.') {
        size_t frac = strspn(p + 1, "0123456789");
        digits += frac;
        p += 1 + frac;
    }
    if (digits == 0)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t exp = strspn(p, "0123456789");
        if (exp == 0)
            return -1;
        p += exp;
    }
    if (*p != '\0')
        return -1;
    char *end;
    double v = strtod(s, &end);
    if (end != p || !isfinite(v))
        return -1; /* beyond double's range (an underflow is just a tiny number) */
    *out = v;
    return 0;
}

static int parse_version(const char *s, uint8_t ver[3])
{
    double part[3] = {0, 0, 0};
    int n = 0;
    const char *p = s;
    for (;;) {
        size_t len = strspn(p, "0123456789");
        if (len == 0 || len > 3)
            return -1;
        char num[4];
        memcpy(num, p, len);
        num[len] = '\0';
        if (parse_count(num, 255, &part[n]) != 0)
            return -1;
        n++;
        p += len;
        if (*p == '\0')
            break;
        if (*p != '.' || n == 3)
            return -1;
        p++;
    }
    if (n < 2)
        return -1;
    for (int i = 0; i < 3; i++)
        ver[i] = (uint8_t)part[i];
    return 0;
}

/* What each kind of value accepts: every bad value gets one line naming the fault and this
 * (contract.md §5). Order = the VK_ enum. */
static const char *const value_what[] = {"",
                                         "a whole number from 0 to 4294967295",
                                         "a probability from 0 to 1 (e.g. 1e-4)",
                                         "a percentage from -50 to 50",
                                         "a version MAJ.MIN[.DBG], each part 0 to 255",
                                         "a factor above 0, at most 1000",
                                         "'all' or sectors 0 to 65535 like 0-3,7"};

/* One sector number of a SECTORS list: digits only, <= SECTORS_MAX; *end is set past it. */
static int parse_sector(const char *p, unsigned long *out, const char **end)
{
    size_t len = strspn(p, "0123456789");
    unsigned long v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        v = v * 10 + (unsigned long)(p[i] - '0');
        if (v > SECTORS_MAX)
            return -1;
    }
    *out = v;
    *end = p + len;
    return 0;
}

static int parse_sectors(const char *s)
{
    if (strcmp(s, "all") == 0)
        return 0;
    const char *p = s;
    for (;;) {
        const char *end;
        unsigned long a, z;
        if (parse_sector(p, &a, &end) != 0)
            return -1;
        if (*end == '-') {
            if (parse_sector(end + 1, &z, &end) != 0 || z < a)
                return -1;
        }
        if (*end == '\0')
            return 0;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

int cwsim_fault_set(cwsim *sim, const char *name, const char *value, char *err, size_t errlen)
{
    int id = fault_id(name);
    if (id < 0) {
        unknown_fault(name, err, errlen);
        return -1;
    }
    const cwsim_fault_info *d = &infos[id];
    int vk = vks[id];
    sim_fault f;
    memset(&f, 0, sizeof f);
    f.on = 1;
    if (vk == VK_FLAG) {
        if (value != NULL) {
            sim_err(err, errlen, "cwsim: fault '%s' takes no value (got '%s')", name, value);
            return -1;
        }
    } else {
        if (value == NULL)
            value = d->deflt;
        if (value == NULL) {
            sim_err(err, errlen, "cwsim: fault '%s' needs a value: %s=%s", name, name, d->arg);
            return -1;
        }
        if (strlen(value) >= sizeof f.text) {
            sim_err(err, errlen, "cwsim: bad value for fault '%s' (%zu characters); expected %s",
                    name, strlen(value), value_what[vk]);
            return -1;
        }
        snprintf(f.text, sizeof f.text, "%s", value);
        int bad = 0;
        switch (vk) {
        case VK_COUNT:
            bad = parse_count(value, COUNT_MAX, &f.num) != 0;
            break;
        case VK_PROB:
            bad = sim_parse_decimal(value, 0, &f.num) != 0 || f.num < 0 || f.num > 1;
            break;
        case VK_PCT:
            bad = sim_parse_decimal(value, 1, &f.num) != 0 || f.num < -50 || f.num > 50;
            break;
        case VK_FACTOR:
            bad = sim_parse_decimal(value, 0, &f.num) != 0 || f.num <= 0 || f.num > FACTOR_MAX;
            break;
        case VK_VER:
            bad = parse_version(value, f.ver) != 0;
            break;
        case VK_SECTORS:
            bad = parse_sectors(value) != 0;
            break;
        default:
            break;
        }
        if (bad) {
            sim_err(err, errlen, "cwsim: bad value '%s' for fault '%s'; expected %s", value, name,
                    value_what[vk]);
            return -1;
        }
    }
    sim->fault[id] = f;
    for (size_t i = 0; i < sim->nboards; i++) {
        sim_fault_apply_board(sim->boards[i], id);
        wiring_update(sim->boards[i]);
    }
    return 0;
}

int cwsim_fault_parse(cwsim *sim, const char *spec, char *err, size_t errlen)
{
    char name[64];
    if (spec == NULL) {
        unknown_fault(spec, err, errlen);
        return -1;
    }
    const char *eq = strchr(spec, '=');
    size_t n = eq != NULL ? (size_t)(eq - spec) : strlen(spec);
    if (n >= sizeof name) {
        unknown_fault(spec, err, errlen);
        return -1;
    }
    memcpy(name, spec, n);
    name[n] = '\0';
    return cwsim_fault_set(sim, name, eq != NULL ? eq + 1 : NULL, err, errlen);
}

int cwsim_fault_clear(cwsim *sim, const char *name)
{
    int id = fault_id(name);
    if (id < 0)
        return -1;
    memset(&sim->fault[id], 0, sizeof sim->fault[id]);
    for (size_t i = 0; i < sim->nboards; i++) {
        cwsim_board *b = sim->boards[i];
        if (id == F_OLD_FIRMWARE)
            sim_fault_apply_board(b, id); /* back to the bundled version */
        wiring_update(b);
    }
    return 0;
}

int cwsim_fault_on(const cwsim *sim, const char *name)
{
    int id = fault_id(name);
    return id >= 0 && sim->fault[id].on;
}

double cwsim_fault_number(const cwsim *sim, const char *name)
{
    int id = fault_id(name);
    return id >= 0 && sim->fault[id].on ? sim->fault[id].num : 0.0;
}

const char *cwsim_fault_value(const cwsim *sim, const char *name)
{
    int id = fault_id(name);
    if (id < 0 || !sim->fault[id].on)
        return NULL;
    return sim->fault[id].text;
}

int sim_fault_on(const cwsim *sim, int id)
{
    return sim->fault[id].on;
}

double sim_fault_num(const cwsim *sim, int id)
{
    return sim->fault[id].num;
}

/* Board state a fault changes when it is set (or when a board is added with it set). */
void sim_fault_apply_board(cwsim_board *b, int id)
{
    const sim_fault *f = &b->sim->fault[id];
    switch (id) {
    case F_FPGA_UNPROGRAMMED:
        if (f->on && b->kd->has_fpga)
            fpga_unconfigure(b);
        break;
    case F_OLD_FIRMWARE:
        memcpy(b->fw, f->on ? f->ver : b->kd->fw, 3);
        /* Firmware older than SERIAL_200_BUFFER has 128-byte buffers (§5.4), a fresh boot */
        usart_reset(b);
        usb_build_descriptors(b);
        break;
    case F_GLITCH_ACTIVE:
        if (f->on)
            board_glitch_active(b);
        break;
    default:
        break;
    }
}
