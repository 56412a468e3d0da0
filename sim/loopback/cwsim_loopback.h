/* SPDX-License-Identifier: MIT */
/* The trivial loop-back target chip for libcwsim's tests and `cwlua sim`: a chip model like the
 * others, so it sees only the chip interface (cwsim_chip.h). */
#ifndef CWLUA_SIM_LOOPBACK_CWSIM_LOOPBACK_H
#define CWLUA_SIM_LOOPBACK_CWSIM_LOOPBACK_H

#include "cwsim_chip.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The trivial loop-back target for tests: a chip (RX on TIO2, TX on TIO1, like CW308 targets)
 * that needs power and sends every frame it receives straight back in the same format. It
 * drives TIO1 (its TX) high while powered. 0 ok. */
int cwsim_loopback_attach(cwsim_board *b, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
