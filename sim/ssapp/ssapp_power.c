/* SPDX-License-Identifier: MIT */
/* The power model of the simulated SimpleSerial AES application (cwsim_ssapp.h; the cycle table
 * and the units are in docs/simulator.md "The power model").
 *
 * The encryption NewAE's simpleserial-aes runs between trigger_high() and trigger_low() is
 * tinyAES's Cipher over a key expanded when the key was set (simpleserial-aes.c get_pt,
 * aes-independant.c; read for facts only): an initial AddRoundKey, nine rounds of SubBytes,
 * ShiftRows, MixColumns and AddRoundKey, and a last round without MixColumns. The schedule
 * models that code compiled for a small core: each pass is a function call (entry, a loop,
 * exit), the loop handles one byte per iteration (one column for MixColumns) and stores its
 * result at a fixed cycle of the iteration. The cycle counts are a model choice of the order a
 * byte-oriented C AES takes on a Cortex-M or an XMEGA (some thousands of cycles), chosen so
 * that the first round's SubBytes lies well inside the first 750 cycles (3000 samples of an
 * ADC clocked at 4x the target): they are not measured on a chip.
 *
 * Each cycle executes one instruction of a class (load, store, ALU, branch, push/pop) whose
 * current is the baseline; a store of an intermediate adds k x HW(value) for that cycle. */
#include "ssapp_internal.h"

#include <math.h>
#include <string.h>

/* ---- the schedule -------------------------------------------------------------------------- */

/* Instruction classes, one letter per cycle in the patterns below:
 *   a ALU, l load, s store (of an intermediate when in a pass's loop body), b branch (a taken
 *   branch refills the pipeline), p push/pop. */
#define PROLOGUE  "sabbppppaaallabbppaa" /* after trigger_high's store: calls into Cipher */
#define EPILOGUE  "ppppbbaalsaabb"       /* returns, then trigger_low's store */
#define ROUNDLOOP "aabb"                 /* the round counter */

typedef struct pass {
    const char *entry, *body, *exit;
    unsigned items; /* loop iterations */
} pass;

/* body: one iteration; its 's' cycles store the intermediates in order (MixColumns: the
 * column's 4 bytes) */
static const pass PASSES[CWSIM_AES_NOPS] = {
    [CWSIM_AES_ADDROUNDKEY] = {"bbppaa", "llaaasbb", "ppbb", 16},
    [CWSIM_AES_SUBBYTES] = {"bbppaa", "lllaasabb", "ppbb", 16},
    [CWSIM_AES_SHIFTROWS] = {"bbpa", "llsa", "ppbb", 12},
    [CWSIM_AES_MIXCOLUMNS] = {"bbppaa",
                              "llllaaaaaaaaaaaas"
                              "aaaaaas"
                              "aaaaaas"
                              "aaaas",
                              "ppbb", 4},
};

static unsigned slen(const char *s)
{
    return (unsigned)strlen(s);
}

static unsigned pass_cycles(unsigned op)
{
    const pass *p = &PASSES[op];
    return slen(p->entry) + p->items * slen(p->body) + slen(p->exit);
}

/* the passes of a round: round 0 is the initial AddRoundKey, round 10 has no MixColumns */
static unsigned round_ops(unsigned round, unsigned ops[4])
{
    if (round == 0) {
        ops[0] = CWSIM_AES_ADDROUNDKEY;
        return 1;
    }
    unsigned n = 0;
    ops[n++] = CWSIM_AES_SUBBYTES;
    ops[n++] = CWSIM_AES_SHIFTROWS;
    if (round < 10)
        ops[n++] = CWSIM_AES_MIXCOLUMNS;
    ops[n++] = CWSIM_AES_ADDROUNDKEY;
    return n;
}

/* What cycle c (0 = the trigger's rising edge) does: its class, and whether it stores an
 * intermediate (returns 1 and fills round, op, byte). */
typedef struct cycle_info {
    char cls;
    unsigned round, op, byte;
} cycle_info;

static int pass_cycle(unsigned op, unsigned c, cycle_info *ci)
{
    const pass *p = &PASSES[op];
    unsigned entry = slen(p->entry), body = slen(p->body);
    if (c < entry) {
        ci->cls = p->entry[c];
        return 0;
    }
    c -= entry;
    if (c >= p->items * body) {
        ci->cls = p->exit[c - p->items * body];
        return 0;
    }
    unsigned item = c / body, q = c % body;
    ci->cls = p->body[q];
    if (ci->cls != 's')
        return 0;
    unsigned k = 0; /* which store of the iteration */
    for (unsigned j = 0; j < q; j++)
        k += p->body[j] == 's';
    ci->op = op;
    if (op == CWSIM_AES_MIXCOLUMNS)
        ci->byte = 4 * item + k;
    else if (op == CWSIM_AES_SHIFTROWS) /* rows 1..3, columns 0..3: byte r + 4c */
        ci->byte = 1 + item / 4 + 4 * (item % 4);
    else
        ci->byte = item;
    return 1;
}

static int aes_cycle(unsigned c, cycle_info *ci)
{
    memset(ci, 0, sizeof *ci);
    if (c < slen(PROLOGUE)) {
        ci->cls = PROLOGUE[c];
        return 0;
    }
    c -= slen(PROLOGUE);
    for (unsigned round = 0; round <= 10; round++) {
        if (round > 0) {
            if (c < slen(ROUNDLOOP)) {
                ci->cls = ROUNDLOOP[c];
                return 0;
            }
            c -= slen(ROUNDLOOP);
        }
        unsigned ops[4], n = round_ops(round, ops);
        for (unsigned i = 0; i < n; i++) {
            unsigned len = pass_cycles(ops[i]);
            if (c < len) {
                ci->round = round;
                return pass_cycle(ops[i], c, ci);
            }
            c -= len;
        }
    }
    ci->cls = c < slen(EPILOGUE) ? EPILOGUE[c] : 'a';
    return 0;
}

size_t cwsim_aes_schedule(cwsim_aes_leak *out)
{
    /* the passes add up to CWSIM_AES_CYCLES, or the header lies: no schedule at all */
    unsigned total = slen(PROLOGUE) + slen(EPILOGUE);
    for (unsigned round = 0; round <= 10; round++) {
        unsigned ops[4], k = round_ops(round, ops);
        total += round > 0 ? slen(ROUNDLOOP) : 0;
        for (unsigned i = 0; i < k; i++)
            total += pass_cycles(ops[i]);
    }
    if (total != CWSIM_AES_CYCLES)
        return 0;
    size_t n = 0;
    for (unsigned c = 0; c < CWSIM_AES_CYCLES && n < CWSIM_AES_NLEAKS; c++) {
        cycle_info ci;
        if (!aes_cycle(c, &ci))
            continue;
        out[n].cycle = (uint16_t)c;
        out[n].round = (uint8_t)ci.round;
        out[n].op = (uint8_t)ci.op;
        out[n].byte = (uint8_t)ci.byte;
        out[n].value = 0;
        n++;
    }
    return n;
}

void cwsim_aes128_leaks(const uint8_t key[16], const uint8_t in[16], uint8_t ct[16],
                        cwsim_aes_leak *out)
{
    uint8_t v[11][CWSIM_AES_NOPS][16];
    ssapp_aes_run(key, in, ct, v);
    if (out == NULL)
        return;
    size_t n = cwsim_aes_schedule(out);
    for (size_t i = 0; i < n; i++)
        out[i].value = v[out[i].round][out[i].op][out[i].byte];
}

/* ---- the chip's runs ------------------------------------------------------------------------ */

static uint64_t ns_of_cycles(double cycles, double hz)
{
    return (uint64_t)llround(cycles * 1e9 / hz);
}

uint64_t cwsim_ssapp_aes_start(cwsim_ssapp *a, uint64_t now_ns, double hz, uint64_t reply_ns)
{
    int pending = a->aes_pending;
    a->aes_pending = 0;
    if (!pending || !(hz > 0))
        return 0;
    cwsim_ssapp_run *r = &a->runs[a->next];
    *r = a->pending;
    r->start_ns = now_ns;
    r->hz = hz;
    r->end_ns = now_ns + ns_of_cycles(CWSIM_AES_CYCLES, hz);
    r->reply_end_ns = r->end_ns + reply_ns;
    a->next = (a->next + 1) % CWSIM_SSAPP_RUNS;
    if (a->nruns < CWSIM_SSAPP_RUNS)
        a->nruns++;
    a->encryptions++;
    return r->end_ns - now_ns;
}

/* ---- the current ---------------------------------------------------------------------------- */

/* The baseline of each instruction class, in full-scale ADC units at the default gain (the
 * mean of a long trace is near 0). */
static double class_level(char cls)
{
    switch (cls) {
    case 'l':
        return 0.045;
    case 's':
        return 0.07;
    case 'b':
        return -0.05;
    case 'p':
        return 0.06;
    default:
        return 0.0;
    }
}

/* Within a cycle the current peaks at the clock edge and decays: phase in [0, 1). The term
 * averages to 0 over a cycle. */
static double edge(double phase)
{
    return 0.04 * (exp(-4.0 * phase) - 0.2454);
}

/* Outside an encryption the firmware spins in a loop: reading the USART's status for the next
 * byte (idle), or waiting for the transmitter while it sends the reply (putch). */
#define IDLE_LOOP  "lalbb"
#define PUTCH_LOOP "llasbb"

/* cycle index and phase of time dt_ns at hz; a sample at a cycle's very start counts as in it
 * (the ADC clock is often an exact multiple of the target's) */
static void cycle_at(double dt_ns, double hz, double *cycle, double *phase)
{
    double x = dt_ns * hz * 1e-9;
    double c = floor(x + 1e-6);
    double f = x - c;
    *cycle = c;
    *phase = f < 0 ? 0 : f >= 1 ? 0.999999 : f;
}

static double loop_level(const char *loop, double t_ns, double hz)
{
    double c, phase;
    cycle_at(t_ns, hz, &c, &phase);
    double n = (double)strlen(loop);
    double k = fmod(c, n);
    if (k < 0)
        k += n;
    return 0.8 * class_level(loop[(size_t)k]) + edge(phase);
}

/* The current of cycle c of run r, without the clock-edge term: its instruction's class and
 * the leak of the value it stores. */
static double cycle_level(const cwsim_ssapp_run *r, unsigned c)
{
    cycle_info ci;
    double v = 0;
    if (aes_cycle(c, &ci)) {
        uint8_t x = r->v[ci.round][ci.op][ci.byte];
        unsigned hw = 0;
        for (; x != 0; x &= (uint8_t)(x - 1))
            hw++;
        v = CWSIM_AES_LEAK_PER_BIT * hw;
    }
    return v + class_level(ci.cls);
}

void cwsim_ssapp_power(const cwsim_ssapp *a, int running, double hz, double t0_ns, double adc_hz,
                       float *out, size_t n)
{
    double step = adc_hz > 0 ? 1e9 / adc_hz : 0;
    const cwsim_ssapp_run *last_run = NULL; /* several samples fall in one cycle: keep its level */
    unsigned last_cycle = 0;
    double last_level = 0;
    for (size_t i = 0; i < n; i++) {
        double t = t0_ns + (double)i * step, v = 0;
        const cwsim_ssapp_run *r = NULL;
        for (unsigned k = 1; k <= a->nruns && r == NULL; k++) { /* newest first */
            r = &a->runs[(a->next + CWSIM_SSAPP_RUNS - k) % CWSIM_SSAPP_RUNS];
            if (t < (double)r->start_ns || t >= (double)r->reply_end_ns)
                r = NULL;
        }
        if (r != NULL && t < (double)r->end_ns) {
            double c, phase;
            cycle_at(t - (double)r->start_ns, r->hz, &c, &phase);
            unsigned cyc = c < 0                      ? 0
                           : c > CWSIM_AES_CYCLES - 1 ? CWSIM_AES_CYCLES - 1
                                                      : (unsigned)c;
            if (r != last_run || cyc != last_cycle) {
                last_run = r;
                last_cycle = cyc;
                last_level = cycle_level(r, cyc);
            }
            v = last_level + edge(phase);
        } else if (r != NULL) {
            v = loop_level(PUTCH_LOOP, t, r->hz);
        } else if (running && hz > 0) {
            v = loop_level(IDLE_LOOP, t, hz);
        }
        out[i] = (float)v;
    }
}
