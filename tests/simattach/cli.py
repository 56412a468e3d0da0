#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""cli.py - the command line of cwlua-sim-attach (`cwlua sim attach`): usage errors, the exit
status of COMMAND passed through, signals, the child's environment, clean-up.

    /usr/bin/python3 cli.py PATH/TO/cwlua-sim-attach SCRATCH_DIR

The last line is "cli: N passed, N failed"; the exit status is 0 when nothing failed. Exit
codes are the helper's contract: COMMAND's (128+N for signal N), 2 usage error, 3 set-up
failure, 126/127 COMMAND cannot be run / not found (as env(1)).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

passed = failed = 0


def ok(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL %s%s" % (what, (": " + detail) if detail else ""))
    sys.stdout.flush()


def main():
    helper, scratch = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    state = tempfile.mkdtemp(prefix="state.", dir=scratch)
    st = ["--sim-state", state]

    def run(args, env=None, timeout=30):
        p = subprocess.run([helper] + args, capture_output=True, text=True, env=env,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def usage(what, args, needle):
        rc, out, err = run(args)
        lines = err.strip().splitlines()
        ok("%s: exit status 2" % what, rc == 2, "got %d, stderr %r" % (rc, err))
        ok("%s: one line 'cwlua sim attach: ...' with a hint" % what,
           len(lines) == 1 and lines[0].startswith("cwlua sim attach: ") and
           "run 'cwlua sim attach --help'" in lines[0], "stderr %r" % err)
        ok("%s: names the problem (%r)" % (what, needle), needle in err, "stderr %r" % err)

    rc, out, err = run(["--help"])
    ok("--help exits 0", rc == 0, "got %d" % rc)
    ok("--help reads as `cwlua sim attach` usage",
       out.startswith("usage: cwlua sim attach [--sim-"), out[:80])
    usage_lines = out.split("\n\n")[0]
    ok("--help's usage line ends with the SPECs and the command, within 100 columns",
       usage_lines.endswith(" SPEC... -- COMMAND [ARGS...]") and
       all(len(line) <= 100 for line in usage_lines.split("\n")), usage_lines)
    options = ("--sim-target", "--sim-state", "--sim-fault", "--sim-usb-latency", "--sim-seed",
               "--sim-noise", "--sim-app")
    ok("--help documents the SPEC grammar and every -d sim option, in the usage line too",
       all(s in out for s in ("BOARD[:PART][@SERIAL]", "cwlite, cw1200, husky or nano")) and
       all(("\n  %s " % o) in out and ("[%s " % o) in usage_lines for o in options), out)

    usage("no arguments", [], "missing '--'")
    usage("unknown board", ["cwtoaster", "--", "true"], "unknown board 'cwtoaster'")
    usage("missing --", ["cwlite", "true"], "missing '--'")
    usage("no command", st + ["cwlite", "--"], "no command")
    usage("no board", st + ["--", "true"], "no board")
    # a part may be a recipe name or a ChipWhisperer alias (contract.md §5), so case is allowed;
    # a name that is neither is refused, listing the known parts
    usage("unknown part", ["cwlite:STM32F999", "--", "true"], "unknown target part 'STM32F999'")
    usage("bad part name", ["cwlite:9x", "--", "true"], "bad part name")
    usage("empty serial", ["cwlite@", "--", "true"], "bad serial")
    usage("serial with a space", ["cwlite@a b", "--", "true"], "bad serial")
    usage("same serial twice", ["cwlite@abc", "nano@abc", "--", "true"], "'abc'")
    usage("unknown option", ["--sim-bogus", "cwlite", "--", "true"], "'--sim-bogus'")
    usage("option without value", ["cwlite", "--sim-seed", "--", "true"], "needs a value")
    usage("bad seed", ["--sim-seed", "x1", "cwlite", "--", "true"], "--sim-seed")
    usage("bad latency", ["--sim-usb-latency=-1", "cwlite", "--", "true"], "--sim-usb-latency")
    usage("unknown fault", st + ["--sim-fault", "no-such-fault", "cwlite", "--", "true"],
          "no-such-fault")

    rc, out, err = run(st + ["cwlite:stm32f100xb@0123abcd", "--", "true"])
    ok("a SPEC with PART and SERIAL is accepted", rc == 0, "got %d, stderr %r" % (rc, err))
    rc, out, err = run(st + ["--sim-seed", "7", "--sim-usb-latency", "0", "--sim-fault",
                             "usb-stall-after=100", "cwlite", "husky", "nano", "cw1200",
                             "--", "true"])
    ok("every board kind, options and a fault are accepted", rc == 0,
       "got %d, stderr %r" % (rc, err))

    rc, out, err = run(st + ["cwlite", "--", "sh", "-c", "exit 7"])
    ok("COMMAND's exit status is passed through (7)", rc == 7, "got %d" % rc)
    rc, out, err = run(st + ["cwlite", "--", "sh", "-c", "kill -TERM $$"])
    ok("COMMAND killed by SIGTERM gives 128+15", rc == 143, "got %d" % rc)
    rc, out, err = run(st + ["cwlite", "--", "no-such-command-cwlua"])
    ok("COMMAND not found gives 127", rc == 127, "got %d, stderr %r" % (rc, err))
    ok("... with a message naming it", "no-such-command-cwlua" in err, err)
    rc, out, err = run(st + ["cwlite", "--", scratch])
    ok("COMMAND not executable gives 126", rc == 126, "got %d, stderr %r" % (rc, err))

    # The child's environment: umockdev's preload, the testbed, ASan's link-order check off
    env = dict(os.environ)
    env.pop("ASAN_OPTIONS", None)
    env["LD_PRELOAD"] = ""
    rc, out, err = run(st + ["cwlite", "--", "sh", "-c",
                             'echo "$LD_PRELOAD|$UMOCKDEV_DIR|$ASAN_OPTIONS"'], env=env)
    pre, root, asan = (out.strip().split("|") + ["", "", ""])[:3]
    ok("child runs under libumockdev-preload.so.0", "libumockdev-preload.so.0" in pre, pre)
    ok("child has UMOCKDEV_DIR set to the testbed", root != "", out)
    ok("child gets ASAN_OPTIONS=verify_asan_link_order=0 when unset",
       asan == "verify_asan_link_order=0", asan)
    ok("the testbed is removed afterwards", root != "" and not os.path.exists(root), root)
    rc, out, err = run(st + ["cwlite", "--", "sh", "-c",
                             "cat /sys/bus/usb/devices/1-1/idProduct "
                             "/sys/bus/usb/devices/1-1/product"])
    ok("the board is in the child's sysfs", out.split("\n")[:2] == ["ace2", "ChipWhisperer Lite"],
       repr(out))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    rc, out, err = run(st + ["cwlite", "--", "sh", "-c", 'echo "$ASAN_OPTIONS"'], env=env)
    ok("existing ASAN_OPTIONS are kept, the link-order check added",
       out.strip() == "detect_leaks=0:verify_asan_link_order=0", out)

    # A signal sent to the helper alone is passed on to COMMAND (once COMMAND says it runs)
    p = subprocess.Popen([helper] + st + ["cwlite", "--", "sh", "-c", "echo ready; exec sleep 30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ok("COMMAND started", p.stdout.readline() == b"ready\n")
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    ok("SIGTERM to the helper ends COMMAND: 128+15", rc == 143, "got %d" % rc)
    ok("... promptly", time.monotonic() - t0 < 5)

    # The state folder is locked while in use: a second helper on it is a set-up failure
    p = subprocess.Popen([helper] + st + ["cwlite", "--", "sh", "-c", "echo ready; exec sleep 30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ok("first helper started", p.stdout.readline() == b"ready\n")
    rc, out, err = run(st + ["cwlite", "--", "true"])
    p.terminate()
    p.wait(timeout=20)
    ok("a state folder in use: exit status 3", rc == 3, "got %d, stderr %r" % (rc, err))
    ok("... with the reason on one line", err.startswith("cwlua sim attach: ") and
       len(err.strip().splitlines()) == 1, repr(err))

    shutil.rmtree(state, ignore_errors=True)
    print("cli: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
