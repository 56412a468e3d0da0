/* SPDX-License-Identifier: MIT */
/* Attaching a target chip by part name: one place for every way of reaching the simulator (the
 * in-process backend, cwlua sim attach). A part name, a recipe name or a ChipWhisperer
 * PLATFORM alias (contract.md §5: "wherever a PART is asked for, a recipe name or alias also
 * works"). */
#include "cwsim.h"
#include "cwsim_avr.h"
#include "cwsim_loopback.h"
#include "cwsim_ssapp.h"
#include "cwsim_stm32.h"
#include "cwsim_xmega.h"

#include <stdio.h>
#include <string.h>

int cwsim_attach_part(cwsim_board *b, const char *part, const char *app, char *err, size_t errlen)
{
    if (strcmp(part, "loopback") == 0)
        return cwsim_loopback_attach(b, err, errlen);
    if (cwsim_stm32_part_find(part) != NULL) {
        cwsim_stm32 *chip = cwsim_stm32_attach(b, part, err, errlen);
        if (chip == NULL)
            return -1;
        if (app != NULL && cwsim_stm32_set_app(chip, app, err, errlen) != 0)
            return -1;
        return 0;
    }
    if (cwsim_xmega_part_find(part) != NULL) { /* XMEGA parts, "xmega", CWLITEXMEGA, ... */
        /* silent (the default), ss1-aes, ss2-aes; no banner model for the XMEGA */
        if (app != NULL && strcmp(app, "silent") != 0 && cwsim_ssapp_version_of(app) == 0) {
            if (err != NULL)
                snprintf(err, errlen,
                         "the simulated XMEGA has no application model '%s'; it models silent, "
                         "ss1-aes, ss2-aes",
                         app);
            return -1;
        }
        cwsim_xmega *chip = cwsim_xmega_attach(b, part, err, errlen);
        if (chip == NULL)
            return -1;
        if (app != NULL && cwsim_xmega_set_app(chip, app, err, errlen) != 0)
            return -1;
        return 0;
    }
    if (cwsim_avr_part_find(part) != NULL) { /* AVR parts, "avr", CW308_MEGA328P (contract.md §3) */
        if (app != NULL && strcmp(app, "silent") != 0) {
            if (err != NULL)
                snprintf(err, errlen,
                         "the simulated AVR has no application model '%s'; only silent", app);
            return -1;
        }
        return cwsim_avr_attach(b, part, err, errlen) != NULL ? 0 : -1;
    }
    if (err != NULL) {
        size_t used = (size_t)snprintf(err, errlen, "unknown target part '%s'; known: ", part);
        for (size_t i = 0; i < cwsim_stm32_part_count() && used < errlen; i++)
            used +=
                (size_t)snprintf(err + used, errlen - used, "%s, ", cwsim_stm32_part_at(i)->name);
        for (size_t i = 0; i < cwsim_avr_part_count() && used < errlen; i++)
            used += (size_t)snprintf(err + used, errlen - used, "%s, ", cwsim_avr_part_at(i)->name);
        for (size_t i = 0; i < cwsim_xmega_part_count() && used < errlen; i++)
            used +=
                (size_t)snprintf(err + used, errlen - used, "%s, ", cwsim_xmega_part_at(i)->name);
        if (used < errlen)
            snprintf(err + used, errlen - used, "loopback");
    }
    return -1;
}
