/* SPDX-License-Identifier: MIT */
/* libcwsim fault table and PRNG tests (contract.md §5 --sim-fault, --sim-seed): parsing,
 * validation, defaults, the error that lists valid names, and repeatable random numbers. */
#include "simtest.h"

static void test_table(void)
{
    size_t n = 0;
    const cwsim_fault_info *t = cwsim_fault_table(&n);
    CHECK_EQ_INT(n, 24);
    static const char *const names[] = {
        "no-power",          "no-clock",       "uart-rx-open",    "uart-tx-open",
        "uart-swapped",      "pdi-open",       "isp-open",        "boot0-stuck-low",
        "nrst-open",         "baud-skew",      "bit-flips",       "drop-bytes",
        "already-synced",    "read-protected", "write-protected", "slow-erase",
        "fpga-unprogrammed", "old-firmware",   "usb-stall-after", "usb-timeout-after",
        "unplug-after",      "glitch-active",  "pll-unlocked",    "trigger-open"};
    int ok = 1;
    for (size_t i = 0; i < n && i < 24; i++)
        ok &= strcmp(t[i].name, names[i]) == 0 && t[i].summary != NULL && t[i].arg != NULL;
    CHECK(ok);
    int live = 0, persistent = 0;
    for (size_t i = 0; i < n; i++) {
        live += t[i].live;
        persistent += t[i].persistent;
    }
    CHECK_EQ_INT(live, 18);
    CHECK_EQ_INT(persistent, 2);
}

static void test_parse(void)
{
    cwsim *sim = t_sim();
    char err[800];
    CHECK_EQ_INT(cwsim_fault_set(sim, "no-such-fault", NULL, err, sizeof err), -1);
    CHECK(strstr(err, "unknown fault 'no-such-fault'") != NULL);
    CHECK(strstr(err, "uart-swapped") != NULL && strstr(err, "glitch-active") != NULL);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "bogus=3", err, sizeof err), -1);
    CHECK(strstr(err, "valid faults: no-power, no-clock") != NULL);
    CHECK_EQ_INT(cwsim_fault_set(sim, NULL, NULL, err, sizeof err), -1);
    /* flags take no value */
    CHECK_EQ_INT(cwsim_fault_set(sim, "no-power", "1", err, sizeof err), -1);
    CHECK(strstr(err, "takes no value") != NULL);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "no-power", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_on(sim, "no-power"), 1);
    CHECK(cwsim_fault_value(sim, "no-power") != NULL);
    /* values */
    CHECK_EQ_INT(cwsim_fault_set(sim, "usb-stall-after", NULL, err, sizeof err), -1);
    CHECK(strstr(err, "needs a value: usb-stall-after=N") != NULL);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "usb-stall-after=-1", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "usb-stall-after=1.5", err, sizeof err), -1);
    CHECK(strstr(err, "expected a whole number from 0 to 4294967295") != NULL);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "usb-stall-after=x", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "usb-stall-after=100", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "usb-stall-after") == 100.0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "bit-flips=1.5", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "bit-flips=0.001", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "bit-flips") == 0.001);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "drop-bytes=", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "baud-skew=-3.5", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "baud-skew") == -3.5);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "baud-skew=60", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "slow-erase", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "slow-erase") == 10.0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "slow-erase=0", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "write-protected", err, sizeof err), 0);
    CHECK(strcmp(cwsim_fault_value(sim, "write-protected"), "all") == 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "write-protected=0-3,7", err, sizeof err), 0);
    CHECK(strcmp(cwsim_fault_value(sim, "write-protected"), "0-3,7") == 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "write-protected=3-1", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "write-protected=a", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "old-firmware", err, sizeof err), 0);
    CHECK(strcmp(cwsim_fault_value(sim, "old-firmware"), "0.20.0") == 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "old-firmware=1.2", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "old-firmware=1", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "old-firmware=1.2.3.4", err, sizeof err), -1);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "old-firmware=0.300", err, sizeof err), -1);
    CHECK(strstr(err, "MAJ.MIN[.DBG]") != NULL);
    /* the chip faults are stored here and acted on by the chip models */
    CHECK_EQ_INT(cwsim_fault_parse(sim, "already-synced", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "read-protected", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "boot0-stuck-low", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_on(sim, "already-synced"), 1);
    /* clear */
    CHECK_EQ_INT(cwsim_fault_clear(sim, "no-power"), 0);
    CHECK_EQ_INT(cwsim_fault_on(sim, "no-power"), 0);
    CHECK(cwsim_fault_value(sim, "no-power") == NULL);
    CHECK_EQ_INT(cwsim_fault_clear(sim, "nope"), -1);
    CHECK_EQ_INT(cwsim_fault_on(sim, "nope"), 0);
    CHECK(cwsim_fault_number(sim, "nope") == 0.0);
    /* a tiny error buffer is fine; NULL too */
    char small[8];
    CHECK_EQ_INT(cwsim_fault_set(sim, "zz", NULL, small, sizeof small), -1);
    CHECK_EQ_INT(strlen(small), 7);
    CHECK_EQ_INT(cwsim_fault_set(sim, "zz", NULL, NULL, 0), -1);
    cwsim_free(sim);
}

/* Every numeric value is parsed strictly: no wrap-around (2^64 - 1 was taken as 0), no sign,
 * space, hexadecimal, NaN, infinity or trailing garbage; each refusal is one line that names
 * the fault and the range it accepts. */
static void test_strict_values(void)
{
    cwsim *sim = t_sim();
    char err[800];
    static const struct {
        const char *spec, *range;
    } bad[] = {
        {"unplug-after=18446744073709551615", "from 0 to 4294967295"},
        {"unplug-after=18446744073709551616", "from 0 to 4294967295"},
        {"unplug-after=4294967296", "from 0 to 4294967295"},
        {"usb-stall-after=-1", "from 0 to 4294967295"},
        {"usb-stall-after=+1", "from 0 to 4294967295"},
        {"usb-stall-after= 1", "from 0 to 4294967295"},
        {"usb-stall-after=1 ", "from 0 to 4294967295"},
        {"usb-timeout-after=0x10", "from 0 to 4294967295"},
        {"usb-timeout-after=1e3", "from 0 to 4294967295"},
        {"usb-timeout-after=1.0", "from 0 to 4294967295"},
        {"usb-timeout-after=", "from 0 to 4294967295"},
        {"usb-timeout-after=nan", "from 0 to 4294967295"},
        {"bit-flips=nan", "from 0 to 1"},
        {"bit-flips=inf", "from 0 to 1"},
        {"bit-flips=-0.1", "from 0 to 1"},
        {"bit-flips=-0", "from 0 to 1"},
        {"bit-flips=0x1p-3", "from 0 to 1"},
        {"bit-flips= 0.5", "from 0 to 1"},
        {"bit-flips=0.5x", "from 0 to 1"},
        {"bit-flips=1e", "from 0 to 1"},
        {"bit-flips=.", "from 0 to 1"},
        {"drop-bytes=1e400", "from 0 to 1"},
        {"drop-bytes=1.0000001", "from 0 to 1"},
        {"baud-skew=-50.1", "from -50 to 50"},
        {"baud-skew=--5", "from -50 to 50"},
        {"baud-skew=+5", "from -50 to 50"},
        {"baud-skew=-inf", "from -50 to 50"},
        {"slow-erase=1001", "above 0, at most 1000"},
        {"slow-erase=1e300", "above 0, at most 1000"},
        {"slow-erase=inf", "above 0, at most 1000"},
        {"slow-erase=-1", "above 0, at most 1000"},
        {"old-firmware=256.0", "each part 0 to 255"},
        {"old-firmware=1.2.300", "each part 0 to 255"},
        {"old-firmware=18446744073709551617.1", "each part 0 to 255"},
        {"old-firmware=1.-2", "each part 0 to 255"},
        {"write-protected=99999999999999999999", "sectors 0 to 65535"},
        {"write-protected=65536", "sectors 0 to 65535"},
        {"write-protected=0-65536", "sectors 0 to 65535"},
        {"write-protected=1,", "sectors 0 to 65535"},
        {"write-protected=-3", "sectors 0 to 65535"},
        {"unplug-after=000000000000000000000000000000000000000000000000000000000000000000001",
         "from 0 to 4294967295"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = cwsim_fault_parse(sim, bad[i].spec, err, sizeof err);
        char name[64];
        snprintf(name, sizeof name, "fault '%.*s'", (int)strcspn(bad[i].spec, "="), bad[i].spec);
        int ok = rc == -1 && strstr(err, name) != NULL && strstr(err, bad[i].range) != NULL &&
                 strchr(err, '\n') == NULL;
        if (!ok)
            fprintf(stderr, "%s: rc %d, '%s'\n", bad[i].spec, rc, err);
        CHECK(ok);
    }
    /* a refused value leaves the fault as it was */
    CHECK_EQ_INT(cwsim_fault_on(sim, "unplug-after"), 0);
    /* the edges of each range are accepted, exactly */
    CHECK_EQ_INT(cwsim_fault_parse(sim, "unplug-after=4294967295", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "unplug-after") == 4294967295.0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "unplug-after=0", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "unplug-after") == 0.0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "usb-stall-after=007", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "usb-stall-after") == 7.0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "bit-flips=1e-5", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "bit-flips") == 1e-5);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "bit-flips=.5", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "bit-flips=1", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "drop-bytes=0", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "drop-bytes=2E-3", err, sizeof err), 0);
    CHECK(cwsim_fault_number(sim, "drop-bytes") == 2e-3);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "baud-skew=-50", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "baud-skew=50", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "slow-erase=1000", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "slow-erase=0.5", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "old-firmware=255.255.255", err, sizeof err), 0);
    CHECK_EQ_INT(cwsim_fault_parse(sim, "write-protected=0-65535", err, sizeof err), 0);
    cwsim_free(sim);
}

static void test_prng(void)
{
    cwsim *a = t_sim(), *b = t_sim();
    uint64_t x[8], y[8];
    for (int i = 0; i < 8; i++) {
        x[i] = cwsim_random_u64(a);
        y[i] = cwsim_random_u64(b);
    }
    CHECK_MEM(x, y, sizeof x); /* default seed 1 in both */
    cwsim_seed(a, 1);
    CHECK(cwsim_random_u64(a) == x[0]);
    cwsim_seed(a, 2);
    CHECK(cwsim_random_u64(a) != x[0]);
    int ok = 1;
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double u = cwsim_random_unit(b);
        ok &= u >= 0.0 && u < 1.0;
        sum += u;
    }
    CHECK(ok);
    CHECK(sum > 4800 && sum < 5200);
    cwsim_free(a);
    cwsim_free(b);
}

int main(void)
{
    test_table();
    test_parse();
    test_strict_values();
    test_prng();
    return check_report("sim_faults");
}
