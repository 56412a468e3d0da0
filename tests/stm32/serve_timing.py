#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""serve_timing.py CWLUA: `cwlua sim serve stm32f1 --pty` answers in time for clients such as
stm32flash, which give each answer half a second (VTIME 5 in its serial_posix.c) and have no
second try at a lost first sync (AN3155 sync: 0x7F, then ACK 0x79).

1. The first 0x7F, written the moment the pty is announced, is answered: the chip is already
   in its bootloader then, as on a board at rest (a chip that is still starting loses it).
2. A state folder whose disk stalls does not stall the answers: the chip's autosave (200 ms
   after a write) runs into a FIFO nobody reads, standing in for a disk that takes seconds,
   and a Get command right after it is still answered.

Prints "stm32_serve_timing: N passed, N failed"; exits non-zero on a failure.
"""
import os
import select
import signal
import subprocess
import sys
import tempfile
import termios
import time
import tty

NAME = "stm32_serve_timing"
ANSWER_S = 0.5  # stm32flash's limit for each answer
passed = failed = 0


def check(what, ok):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"{NAME}: FAILED: {what}", file=sys.stderr)


def start(cwlua, state):
    srv = subprocess.Popen([cwlua, "sim", "serve", "stm32f1", "--pty", "--sim-state", state],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    path = srv.stdout.readline().decode().strip()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    a = termios.tcgetattr(fd)
    a[4] = a[5] = termios.B115200
    termios.tcsetattr(fd, termios.TCSANOW, a)
    return srv, fd


def answer(fd, n, limit):
    """Up to n bytes, as long as each comes within limit seconds of the previous one."""
    got = b""
    while len(got) < n:
        r, _, _ = select.select([fd], [], [], limit)
        if not r:
            break
        got += os.read(fd, n - len(got))
    return got


def xor(data):
    x = 0
    for b in data:
        x ^= b
    return x


def main():
    cwlua = sys.argv[1]
    with tempfile.TemporaryDirectory() as work:
        # 1. the first sync, at once
        srv, fd = start(cwlua, os.path.join(work, "s1"))
        os.write(fd, b"\x7f")
        got = answer(fd, 1, ANSWER_S)
        check(f"the first 0x7F written at once is answered with ACK (got {got.hex() or 'nothing'})",
              got == b"\x79")
        os.close(fd)
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait(timeout=30)
        check(f"server exits 0 ({srv.stderr.read().decode().strip()})", rc == 0)

        # 2. a stalled disk: the autosave's temporary file is a FIFO nobody reads yet
        state = os.path.join(work, "s2")
        srv, fd = start(cwlua, state)
        stall = os.path.join(state, f".stm32f100xb.flash.{srv.pid}.tmp")
        os.mkfifo(stall)
        os.write(fd, b"\x7f")
        check("sync", answer(fd, 1, ANSWER_S) == b"\x79")
        data = bytes(range(256))
        steps = [b"\x31\xce", bytes([8, 0, 0, 0, 8]), bytes([255]) + data + bytes([255 ^ xor(data)])]
        for step in steps:  # Write Memory: 256 bytes at 0x08000000 (the chip saves 200 ms later)
            os.write(fd, step)
            check(f"write memory step {step[:2].hex()} answered with ACK",
                  answer(fd, 1, ANSWER_S) == b"\x79")
        time.sleep(0.4)  # the autosave is due and has opened the FIFO
        for i in range(3):
            os.write(fd, b"\x00\xff")  # Get: ACK, N=11, version, 12 commands, ACK
            got = answer(fd, 15, ANSWER_S)
            check(f"Get {i + 1} answered in time while the disk stalls (got {got.hex()})",
                  len(got) == 15 and got[0] == 0x79 and got[-1] == 0x79)
        # let the disk go on: read what the autosave wrote into the FIFO
        r = os.open(stall, os.O_RDONLY | os.O_NONBLOCK)
        deadline = time.monotonic() + 10
        saved = b""
        while time.monotonic() < deadline:
            sel, _, _ = select.select([r], [], [], 0.5)
            if sel:
                chunk = os.read(r, 65536)
                saved += chunk
                if not chunk and saved:
                    break
        os.close(r)
        check(f"the autosave wrote the flash (got {len(saved)} bytes)",
              len(saved) == 131072 and saved[:256] == data)
        os.close(fd)
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=30)  # its status: the save into a FIFO fails at fsync, as it should
    print(f"{NAME}: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
