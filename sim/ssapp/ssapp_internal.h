/* SPDX-License-Identifier: MIT */
/* Internal to the SimpleSerial application model: what the protocol (ssapp.c) and the power
 * model (ssapp_power.c) share. */
#ifndef CWLUA_SIM_SSAPP_SSAPP_INTERNAL_H
#define CWLUA_SIM_SSAPP_SSAPP_INTERNAL_H

#include "cwsim_ssapp.h"

/* AES-128 of one block pass by pass, keeping what each pass stores: v[round][op][byte]. */
void ssapp_aes_run(const uint8_t key[16], const uint8_t in[16], uint8_t ct[16],
                   uint8_t v[11][CWSIM_AES_NOPS][16]);

#endif
