#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""'cwlua shell' and 'cwlua term' on a pseudo-terminal, typed at as a person would (an
expect-style test with Python's standard pty module; no extra packages).

    pty_lab.py CWLUA_BINARY SOURCE_DIR

shell: the banner and prompt, expressions, a multi-line chunk, the board global, an error,
history recall with the up arrow, exit with Ctrl-D and a saved history file. term: the banner
of the simulated application after --reset, the escape key's reset and quit, bytes echoed by a
loop-back target (Ctrl-C goes to the target), SIGTERM, the terminal restored every time, and
--log. The last line is "lab_pty: N passed, N failed".
"""
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import termios
import time

BIN, SRC = sys.argv[1], sys.argv[2]
HELLO = os.path.join(SRC, "examples/stm32f1-hello/hello.hex")
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what, flush=True)


class Session:
    """A program on a new pty: send(), expect(), wait()."""

    def __init__(self, args, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(BIN, [BIN] + args, env)
        self.buf = b""
        self.restored = None
        # the pty's settings before the program changes them, to compare after it exits
        self.initial = termios.tcgetattr(self.fd)

    def send(self, data):
        time.sleep(0.1)  # a person's pace: libedit may drop what comes before it reads
        os.write(self.fd, data.encode("latin-1") if isinstance(data, str) else data)

    def _fill(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the program closed the pty
            return False
        if not chunk:
            return False
        self.buf += chunk
        return True

    def expect(self, text, timeout=15.0):
        """Wait until text appeared; consume up to its end. Returns True if it did."""
        want = text.encode("latin-1") if isinstance(text, str) else text
        end = time.monotonic() + timeout
        while want not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not self._fill(left):
                print("  (waited for %r, got %r)" % (want, self.buf[-300:]), flush=True)
                return False
        self.buf = self.buf[self.buf.index(want) + len(want):]
        return True

    def lflag(self):
        return termios.tcgetattr(self.fd)[3]

    def wait(self, timeout=20.0, kill=True):
        """The exit status (signal: 128 + number), or None if it did not end in time."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self._fill(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.restored = termios.tcgetattr(self.fd) == self.initial
                return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else \
                    128 + os.WTERMSIG(status)
        if kill:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        return None

    def close(self):
        os.close(self.fd)


def environment(state):
    env = dict(os.environ)
    env.update(XDG_STATE_HOME=state, XDG_CONFIG_HOME=os.path.join(state, "config"),
               CWLUA_PATH="", CWLUA_DEVICE="", TERM="xterm",
               CWLUA_SYSCONFDIR=os.path.join(state, "etc"), CWLUA_CONFIG="")
    return env


def shell(tmp):
    env = environment(tmp)
    s = Session(["-d", "sim", "--sim-target", "stm32f1", "--sim-state",
                 os.path.join(tmp, "sim"), "shell"], env)
    check(s.expect("shell, Lua 5.4; board: cwlite"), "shell: banner names the board")
    check(s.expect("> "), "shell: prompt")
    s.send("1 + 1\r")
    check(s.expect("2\r\n"), "shell: an expression prints its value")
    # libedit drops what was typed before its prompt: wait for each prompt, as a person does
    s.expect("> ")
    s.send("for i = 1, 2 do\r")
    check(s.expect(">> "), "shell: an unfinished chunk continues with '>>'")
    s.send("print(i * 10) end\r")
    check(s.expect("10\r\n20\r\n"), "shell: the multi-line chunk ran")
    s.expect("> ")
    s.send("board:clock()\r")
    check(s.expect("7384615.3846154\tclkgen\r\n"), "shell: 'board' is the -d board")
    s.expect("> ")
    s.send("error('boom')\r")
    check(s.expect("stdin:1: boom"), "shell: an error is reported, the shell goes on")
    s.expect("> ")
    s.send("\x1b[A\x1b[A\r")  # up twice: board:clock() again
    check(s.expect("7384615.3846154\tclkgen\r\n"), "shell: the up arrow recalls history")
    s.expect("> ")
    # Ctrl-C stops a running chunk, twice in one session, and the shell goes on
    for n in (1, 2):
        s.send("while true do end\r")
        time.sleep(0.3)
        s.send("\x03")
        check(s.expect("interrupted"), "shell: Ctrl-C stops a running chunk (%d)" % n)
        s.expect("> ")
    s.send("print(40 + 2)\r")
    check(s.expect("42\r\n"), "shell: the session goes on after Ctrl-C")
    s.expect("> ")
    # libedit may drop keys typed while it sets the terminal up after printing the prompt: a
    # person who sees no effect presses Ctrl-D again
    status = None
    for _ in range(5):
        time.sleep(0.2)
        s.send("\x04")
        status = s.wait(4.0, kill=False)
        if status is not None:
            break
    if status is None:
        status = s.wait(1.0)
    check(status == 0, "shell: Ctrl-D leaves with status 0 (got %r)" % status)
    check(s.restored, "shell: the terminal is as it was")
    s.close()
    hist = os.path.join(tmp, "cwlua", "shell_history")
    text = open(hist, encoding="latin-1").read() if os.path.exists(hist) else ""
    check("board:clock()" in text, "shell: history saved in $XDG_STATE_HOME/cwlua/shell_history")

    s = Session(["-d", "sim", "--sim-state", os.path.join(tmp, "sim"), "shell"], env)
    check(s.expect("> "), "shell: prompt again")
    s.send("exit(3)\r")
    status = s.wait()
    check(status == 3, "shell: exit(3) leaves with status 3 (got %r)" % status)
    s.close()


def term(tmp):
    env = environment(tmp)
    state = os.path.join(tmp, "sim")
    r = subprocess.run([BIN, "-q", "-d", "sim", "--sim-state", state, "program", "stm32f1",
                        HELLO], env=env, capture_output=True, text=True)
    check(r.returncode == 0, "term: programmed the example (%s)" % r.stderr.strip())
    log = os.path.join(tmp, "term.log")
    s = Session(["-d", "sim", "--sim-target", "stm32f1", "--sim-app", "banner", "--sim-state",
                 state, "term", "--reset", "--log", log], env)
    check(s.expect("Ctrl-] then q quits"), "term: says how to quit")
    check(s.expect("cwsim stm32f100xb application\r"), "term: the banner after --reset")
    lf = s.lflag()
    check(not lf & termios.ICANON and not lf & termios.ECHO and not lf & termios.ISIG,
          "term: the terminal is in raw mode")
    s.send("\x1dr")
    check(s.expect("term: reset"), "term: Ctrl-] r resets")
    check(s.expect("cwsim stm32f100xb application\r"), "term: ... and the banner comes again")
    s.send("\x1dq")
    status = s.wait()
    check(status == 0, "term: Ctrl-] q quits with status 0 (got %r)" % status)
    check(s.restored, "term: the terminal is restored after quitting")
    s.close()
    text = open(log, encoding="latin-1").read() if os.path.exists(log) else ""
    check(text.count("cwsim stm32f100xb application") == 2, "term: --log has both banners")

    s = Session(["-d", "sim", "--sim-target", "loopback", "--sim-state", state, "term"], env)
    check(s.expect("quits"), "term: loopback started")
    s.send("abc\x03xyz")
    check(s.expect("abc\x03xyz"), "term: typed bytes, Ctrl-C included, reach the target")
    s.send("\x1d\x1d")
    check(s.expect("\x1d"), "term: Ctrl-] Ctrl-] sends one Ctrl-]")
    os.kill(s.pid, signal.SIGTERM)
    status = s.wait()
    check(status is not None and status != 0, "term: SIGTERM ends it (got %r)" % status)
    check(s.restored, "term: the terminal is restored after SIGTERM")
    s.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        shell(tmp)
        term(tmp)
    print("lab_pty: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
