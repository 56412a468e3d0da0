/* SPDX-License-Identifier: MIT */
/* The board firmware's programming engines as a whole: which board gets which (the Nano none),
 * and the timeout counter the XPROG and V2 engines share (TC0 in the SAM firmware). The engines
 * themselves are xprog.c and v2.c; cwsim_engines.h documents all three. */
#include "cwsim_engines.h"
#include "sim_internal.h"

/* The board-side programming engines a board gets when it is added: XPROG on bRequest 0x20
 * (xprog.c) and V2/ISP on 0x21 (v2.c), not on the Nano, whose firmware
 * lacks them (cw-usb-protocol.md §2.3; on the CW1200 they are unconfirmed). */
void sim_board_engines_add(cwsim_board *b)
{
    if (cwsim_board_kind(b) != CWSIM_NANO) {
        (void)cwsim_xprog_install(b, NULL, 0); /* fails only without memory: 0x20 then stalls */
        (void)cwsim_v2_install(b, NULL, 0);    /* likewise for 0x21 */
    }
}

void sim_board_engines_free(cwsim_board *b)
{
    sim_xprog_free(b);
    cwsim_v2_remove(cwsim_v2_of(b));
}

/* ---- the engines' shared timeout counter (target-protocols.md §1, §B.6, §C.7) ---------------- */

void cwsim_board_engine_timeout_set_default(cwsim_board *b, uint32_t ticks)
{
    b->engine_timeout_default = ticks;
}

uint32_t cwsim_board_engine_timeout_default(const cwsim_board *b)
{
    return b->engine_timeout_default;
}

void cwsim_board_engine_timeout_start(cwsim_board *b)
{
    b->engine_timeout_stopped = 0;
    b->engine_timeout_end_ns =
        cwsim_now_ns(b->sim) + (uint64_t)b->engine_timeout_default * CWSIM_ENGINE_TICK_NS;
}

uint32_t cwsim_board_engine_timeout_remaining(const cwsim_board *b)
{
    if (b->engine_timeout_stopped)
        return b->engine_timeout_left;
    uint64_t now = cwsim_now_ns(b->sim);
    if (now >= b->engine_timeout_end_ns)
        return 0;
    return (uint32_t)((b->engine_timeout_end_ns - now + CWSIM_ENGINE_TICK_NS - 1) /
                      CWSIM_ENGINE_TICK_NS);
}

void cwsim_board_engine_timeout_stop(cwsim_board *b)
{
    b->engine_timeout_left = cwsim_board_engine_timeout_remaining(b);
    b->engine_timeout_stopped = 1;
}
