/* SPDX-License-Identifier: MIT */
/* The --sim-* options (cwsim.h cwsim_option_table): the one list every simulator front end takes,
 * with the text its --help shows. contract.md §3 lists them, §5 says what each sets. */
#include "cwsim.h"

static const cwsim_option_info OPTIONS[CWSIM_OPT_COUNT] = {
    {CWSIM_OPT_TARGET, "sim-target", "PART", 0, "the chip on the board (a part, recipe or alias)"},
    {CWSIM_OPT_STATE, "sim-state", "DIR", 0,
     "folder for chip memories (default $XDG_STATE_HOME/cwlua/sim)"},
    {CWSIM_OPT_FAULT, "sim-fault", "NAME[=VALUE]", 1,
     "inject a fault (repeatable); 'cwlua sim faults' lists them"},
    {CWSIM_OPT_USB_LATENCY, "sim-usb-latency", "MS", 0,
     "cost of one control transfer, 0 to 10000 (default 0.5)"},
    {CWSIM_OPT_SEED, "sim-seed", "N", 0, "seed for random faults and the ADC's noise"},
    {CWSIM_OPT_NOISE, "sim-noise", "SIGMA", 0,
     "the ADC's Gaussian noise, 0 to 1 full scale (default 0.01)"},
    {CWSIM_OPT_APP, "sim-app", "APP", 0,
     "the flashed application (silent, banner,\n"
     "ss1-aes, ss2-aes: SimpleSerial v1.1 / v2.1 AES-128)"},
};

const cwsim_option_info *cwsim_option_table(size_t *count)
{
    if (count != NULL)
        *count = CWSIM_OPT_COUNT;
    return OPTIONS;
}
