#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""serial_tests.py GROUP --cwlua BIN --rig BIN --shim LIB --serve BIN --work DIR

The serial-adapter tests: cwlua's libserialport backend on a simulated USB serial
adapter (serial_rig: a umockdev tty, the parity shim, a simulated STM32 wired to DTR/RTS/break),
driven by an3155.lua, a small bootloader client run with `cwlua run`. GROUP:
  lines   line settings really applied (8E1 in the shim's log, no parity errors at the chip),
          --gpio-seq entry/exit sequences that put the chip into its bootloader and back into
          its application, stm32flash's own help example, break, port:pin/level
  errors  no such port, permission (dialout), busy, unplugged mid-transfer, a pty, a
          ChipWhisperer's own serial port, bad --gpio-seq
  list    `cwlua list` shows the adapter with VID:PID and description, flags ChipWhisperer ports
  serve   the same client through the adapter to `cwlua sim serve stm32f1 --pty`
Prints "serial_GROUP: N passed, N failed" last; exits 1 on any failure."""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
AN3155 = os.path.join(HERE, 'an3155.lua')
PART_BLOB = 'stm32f100xb.flash'
FLASH_SIZE = 128 * 1024
TIMEOUT = 60  # seconds for one cwlua run: generous for a loaded CI machine (ASan)

# The wiring docs/install.md shows for a USB-TTL adapter: DTR# to NRST, RTS# to BOOT0, both
# directly; the pins are active low, so "dtr" (asserted) holds the chip in reset and "-rts"
# puts BOOT0 high.
DOC_SEQ = '-rts&dtr,-dtr:rts&dtr,-dtr'


def pattern():
    return bytes((i * 7 + 3) & 0xFF for i in range(FLASH_SIZE))


class Checks:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, what, cond, detail=''):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print('%s: FAILED: %s%s' % (self.name, what, ('\n    ' + detail) if detail else ''),
                  file=sys.stderr)
        return cond

    def equal(self, what, got, want):
        return self.check(what, got == want, 'got %r, want %r' % (got, want))


class Run:
    """One cwlua run under the rig."""

    def __init__(self, rc, out, err, riglog, shimlog, seconds):
        self.rc, self.out, self.err, self.seconds = rc, out, err, seconds
        self.riglog, self.shimlog = riglog, shimlog

    def lines(self, prefix):
        return [l for l in self.out.splitlines() if l.startswith(prefix)]

    def events(self, word):
        """rig log events starting with word: [(ms, text)]"""
        out = []
        for l in self.riglog.splitlines():
            ms, _, text = l.partition(' ')
            if text.startswith(word):
                out.append((float(ms), text))
        return out

    def modes(self):
        """the chip's modes in order, without the passing ones"""
        skip = ('chip bootloader', 'chip starting')  # passing states, logged or not by timing
        return [e[len('chip '):] for _, e in self.events('chip') if e not in skip]

    def summary(self):
        ev = self.events('summary')
        if not ev:
            return {}
        return dict(kv.split('=') for kv in ev[-1][1].split()[1:])


class Env:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        os.chmod(self.work, 0o755)
        self.n = 0

    def state(self, blob=True):
        self.n += 1
        d = os.path.join(self.work, 'state%d' % self.n)
        os.makedirs(d)
        if blob:
            # a state folder as the simulator leaves one: its format file (contract.md §5.5;
            # files without it are refused) and the chip's flash
            with open(os.path.join(d, 'format'), 'w') as f:
                f.write('cwlua simulator state 1\n')
            with open(os.path.join(d, PART_BLOB), 'wb') as f:
                f.write(pattern())
        return d

    def env(self, **extra):
        e = dict(os.environ)
        asan = e.get('ASAN_OPTIONS', '')
        # cwlua runs under umockdev's preload (test-harnesses.md §1.4, gotcha 4)
        e['ASAN_OPTIONS'] = ':'.join(filter(None, [asan, 'verify_asan_link_order=0']))
        e.update(extra)
        return e

    def run(self, rig_opts, cwlua_args, actions, state=None, client_uid=None, env=None,
            command=None):
        self.n += 1
        riglog = os.path.join(self.work, 'rig%d.log' % self.n)
        shimlog = os.path.join(self.work, 'shim%d.log' % self.n)
        state = state or self.state()
        cmd = [self.a.rig, '--shim', self.a.shim, '--log', riglog, '--sim-state', state]
        cmd += rig_opts
        if client_uid is not None:
            cmd += ['--client-uid', str(client_uid)]
        # command: a cwlua command of its own (e.g. program) instead of the an3155.lua client
        cmd += ['--', self.a.cwlua] + cwlua_args + (command or ['run', AN3155] + actions)
        e = self.env(PTYSHIM_LOG=shimlog, **(env or {}))
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=e)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as x:
            rc, out, err = 'timeout', x.stdout or '', x.stderr or ''
            out = out.decode() if isinstance(out, bytes) else out
            err = err.decode() if isinstance(err, bytes) else err
        seconds = time.monotonic() - t0

        def read(p):
            try:
                with open(p) as f:
                    return f.read()
            except OSError:
                return ''
        return Run(rc, out, err, read(riglog), read(shimlog), seconds)


def hexs(b):
    return b.hex().upper()


def show(r):
    return 'rc=%r\nstdout:\n%s\nstderr:\n%s\nrig log:\n%s' % (r.rc, r.out, r.err, r.riglog)


# ---- lines ---------------------------------------------------------------------------------

def group_lines(t, env):
    flash16 = hexs(pattern()[:16])

    # 1. No --gpio-seq: nothing is reset, the bootloader is assumed (a chip strapped to boot
    #    into it), Go starts the application. 8E1 reaches the chip: the shim logs the request,
    #    the chip counts no parity errors over commands whose bytes differ between 8N1 and 8E1.
    r = env.run(['--sim-app', 'banner', '--lines-at-start', 'none'],
                ['-d', 'serial:/dev/ttyUSB0'],
                ['info', 'serial', '115200', '8E1', 'enter', 'sync', 'getid',
                 'read', '0x08000000', '16', 'level', 'cts', 'pin', 'rts', 'high', 'exit',
                 'go', '0x08000000'])
    t.equal('assumed: exit 0', r.rc, 0) or print(show(r), file=sys.stderr)
    t.equal('assumed: info', r.lines('info'), [
        'info path=/dev/ttyUSB0 vid=0403 pid=6001 description=FT232R USB UART - A50285BI '
        'chipwhisperer=false gpio_seq=nil'])
    t.equal('assumed: line settings', r.lines('serial'),
            ['serial 115200 8E1 actual=115200 frame_ns=95487'])
    t.check('assumed: the shim saw 8E1 at 115200',
            'speed=115200 bits=8 parity=E stop=1' in r.shimlog, r.shimlog)
    t.equal('assumed: enter does nothing', r.lines('enter'), ['enter assumed'])
    t.equal('assumed: sync', r.lines('sync'), ['sync ack'])
    t.equal('assumed: Get ID', r.lines('getid'), ['getid 0x0420'])
    t.equal('assumed: read of flash', r.lines('read'), ['read 0x08000000 16 ' + flash16])
    t.equal('assumed: CTS as the adapter reports it', r.lines('level'), ['level cts 1'])
    t.equal('assumed: port:pin', r.lines('pin'), ['pin rts high'])
    t.equal('assumed: exit leaves it to Go', r.lines('exit'), ['exit go'])
    t.equal('assumed: Go', r.lines('go'), ['go 0x08000000'])
    s = r.summary()
    t.equal('assumed: no parity or framing errors at the chip', s.get('rx_errors'), '0')
    t.equal('assumed: the chip runs the application after Go', s.get('mode'), 'app')
    t.equal('assumed: the chip was never reset', s.get('resets'), '1')
    changes = [e for _, e in r.events('lines')]
    t.check('assumed: DTR untouched, RTS set by port:pin only',
            all('DTR=0' in e for e in changes) and changes[-1].startswith('lines DTR=0 RTS=1'),
            '\n'.join(changes))

    # 2. The documented wiring and sequence: the port opens with DTR and RTS asserted (chip
    #    held in reset); the entry sequence puts it into its bootloader, the exit sequence
    #    into its application, whose banner arrives.
    r = env.run(['--nrst', 'dtr', '--boot0', 'rts', '--sim-app', 'banner'],
                ['-d', 'serial:/dev/ttyUSB0', '--gpio-seq', DOC_SEQ],
                ['serial', '115200', '8E1', 'enter', 'sync', 'getid', 'read', '0x08000100',
                 '32', 'banner', '38400', 'exit', 'expect-banner'])
    t.equal('sequence: exit 0', r.rc, 0) or print(show(r), file=sys.stderr)
    t.equal('sequence: enter', r.lines('enter'), ['enter sequence'])
    t.equal('sequence: sync', r.lines('sync'), ['sync ack'])
    t.equal('sequence: Get ID', r.lines('getid'), ['getid 0x0420'])
    t.equal('sequence: read of flash', r.lines('read'),
            ['read 0x08000100 32 ' + hexs(pattern()[0x100:0x120])])
    t.equal('sequence: exit', r.lines('exit'), ['exit sequence'])
    t.equal('sequence: the application runs after the exit sequence', r.lines('banner '),
            ['banner cwsim stm32f100xb application'])
    t.equal('sequence: chip modes', r.modes(),
            ['off', 'reset', 'synced', 'reset', 'app'])
    rel = [(ms, e) for ms, e in r.events('lines') if 'nrst=high' in e]
    t.check('sequence: reset released with BOOT0 high, then with BOOT0 low',
            len(rel) >= 2 and 'boot0=high' in rel[0][1] and 'boot0=low' in rel[-1][1],
            r.riglog)
    low = [ms for ms, e in r.events('lines') if 'DTR=1' in e and 'RTS=0' in e]
    t.check('sequence: reset held 100 ms (the \',\')',
            rel and low and 95 <= rel[0][0] - low[0] <= 400, r.riglog)

    # 2b. cwlua program through the adapter, as users run it: the entry sequence, the AN3155
    #     programming of the example firmware, verify, the exit sequence into the new firmware.
    hexfile = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples',
                           'stm32f1-hello', 'hello.hex')
    r = env.run(['--nrst', 'dtr', '--boot0', 'rts'],
                ['-d', 'serial:/dev/ttyUSB0', '--gpio-seq', DOC_SEQ], [],
                command=['program', 'stm32f1', hexfile])
    t.equal('program: exit 0', r.rc, 0) or print(show(r), file=sys.stderr)
    t.check('program: written and verified',
            'programmed 368 bytes into STM32F10xxx Medium-density VL' in r.out
            and r.out.rstrip().endswith('verified'), r.out)
    # the exit sequence leaves reset released with BOOT0 low: the firmware starts (the rig
    # stops with cwlua, before the chip's start-up time has passed)
    last = [e for _, e in r.events('lines')][-1:]
    t.check('program: the exit sequence leaves BOOT0 low and reset released',
            last and 'nrst=high boot0=low' in last[0], r.riglog)
    # without a sequence: the bootloader is assumed and the firmware started with Go
    r = env.run(['--nrst', 'high', '--boot0', 'high'], ['-d', 'serial:/dev/ttyUSB0'], [],
                command=['program', 'stm32f1', hexfile])
    t.equal('program without a sequence: exit 0', r.rc, 0) or print(show(r), file=sys.stderr)
    t.equal('program without a sequence: started with Go', r.modes()[-1:], ['app'])

    # 3. The same wiring without --gpio-seq: the chip stays in reset, the bootloader is not
    #    there; the client says so (exit 4).
    r = env.run(['--nrst', 'dtr', '--boot0', 'rts'], ['-d', 'serial:/dev/ttyUSB0'],
                ['serial', '115200', '8E1', 'enter', 'sync'])
    t.equal('no sequence: exit 4 (target does not answer)', r.rc, 4)
    t.equal('no sequence: message', r.err,
            'cwlua: no reply to the bootloader sync (0x7F): read: nothing received within '
            '100 ms\n')
    t.equal('no sequence: the chip is still in reset', r.summary().get('mode'), 'reset')

    # 4. The application runs first (BOOT0 through an inverter, lines released): the entry
    #    sequence takes the chip from its application into its bootloader.
    r = env.run(['--nrst', 'dtr', '--boot0', '!rts', '--lines-at-start', 'none',
                 '--sim-app', 'banner'],
                ['-d', 'serial:/dev/ttyUSB0', '--gpio-seq', 'rts&dtr,-dtr:-rts&dtr,-dtr'],
                ['serial', '115200', '8E1', 'enter', 'sync', 'getid'])
    t.equal('from the app: exit 0', r.rc, 0) or print(show(r), file=sys.stderr)
    t.equal('from the app: app, then reset, then the bootloader', r.modes(),
            ['off', 'app', 'reset', 'synced'])
    t.equal('from the app: Get ID', r.lines('getid'), ['getid 0x0420'])

    # 5. stm32flash's own help example, -i '-3&-2,2:3&-2,,,2', with GPIO 3 -> rts and 2 -> dtr:
    #    DTR through an inverter to NRST (dtr = released), RTS# to BOOT0. Exit holds the reset
    #    for 300 ms (',,,').
    r = env.run(['--nrst', '!dtr', '--boot0', 'rts', '--lines-at-start', 'none',
                 '--sim-app', 'banner'],
                ['-d', 'serial:/dev/ttyUSB0', '--gpio-seq', '-rts&-dtr,dtr:rts&-dtr,,,dtr'],
                ['serial', '115200', '8E1', 'enter', 'sync', 'getid', 'banner', '38400', 'exit',
                 'expect-banner'])
    t.equal('stm32flash example: exit 0', r.rc, 0) or print(show(r), file=sys.stderr)
    t.equal('stm32flash example: Get ID', r.lines('getid'), ['getid 0x0420'])
    t.equal('stm32flash example: application after exit', r.lines('banner '),
            ['banner cwsim stm32f100xb application'])
    ev = r.events('lines')
    held = [ms for ms, e in ev if 'nrst=low' in e and 'boot0=low' in e]
    rel = [ms for ms, e in ev if 'nrst=high' in e and 'boot0=low' in e]
    t.check('stm32flash example: exit holds reset 300 ms',
            held and rel and 295 <= rel[-1] - held[0] <= 700, r.riglog)

    # 6. brk: a break (TX held low 100 ms) wired to NRST resets the chip into its bootloader.
    r = env.run(['--nrst', 'brk', '--lines-at-start', 'none'],
                ['-d', 'serial:/dev/ttyUSB0', '--gpio-seq', 'brk'],
                ['serial', '115200', '8E1', 'enter', 'sync'])
    t.equal('brk: exit 0', r.rc, 0) or print(show(r), file=sys.stderr)
    on = [ms for ms, e in r.events('lines') if 'BRK=1' in e]
    off = [ms for ms, e in r.events('lines') if 'BRK=0' in e and on and ms > on[0]]
    t.check('brk: a 100 ms break', on and off and 95 <= off[0] - on[0] <= 400, r.riglog)
    t.equal('brk: the chip was reset once more', r.summary().get('resets'), '2')

    # 7. 8N1 instead of 8E1: the sync byte passes (0x7F looks the same), Read Memory does not;
    #    the chip counts the parity errors: the setting really reaches the wire.
    r = env.run([], ['-d', 'serial:/dev/ttyUSB0'],
                ['serial', '115200', '8N1', 'sync', 'read', '0x08000000', '16'])
    t.check('8N1: the shim saw 8N1', 'speed=115200 bits=8 parity=N stop=1' in r.shimlog,
            r.shimlog)
    t.equal('8N1: exit 4', r.rc, 4)
    t.check('8N1: the chip saw parity errors', int(r.summary().get('rx_errors', '0')) > 0,
            r.riglog)


# ---- errors --------------------------------------------------------------------------------

def group_errors(t, env):
    def expect(what, r, rc, message, max_seconds=10):
        t.equal(what + ': exit status', r.rc, rc) or print(show(r), file=sys.stderr)
        t.equal(what + ': message', r.err, message)
        t.check(what + ': quick, no hang (%.1f s)' % r.seconds, r.seconds < max_seconds)

    r = env.run([], ['-d', 'serial:/dev/ttyUSB7'], ['info'])
    expect('no such port', r, 3,
           "cwlua: serial:/dev/ttyUSB7: no such port (No such file or directory); check the "
           "path and the cable, and run 'cwlua list' to see the serial ports\n")

    r = env.run([], ['-d', 'serial:/dev/ttyUSB0'], ['info'], client_uid=65534,
                env={'ASAN_OPTIONS': 'verify_asan_link_order=0:detect_leaks=0'})
    expect('permission', r, 3,
           'cwlua: serial:/dev/ttyUSB0: permission denied (Permission denied); add yourself '
           'to the dialout group (sudo usermod -aG dialout $USER), then log out and in again\n')

    r = env.run(['--hold-lock'], ['-d', 'serial:/dev/ttyUSB0'], ['info'])
    expect('busy', r, 3,
           "cwlua: serial:/dev/ttyUSB0: in use by another program (it holds the port's lock); "
           'close the program that has it open: a terminal (screen, minicom, picocom), another '
           'cwlua or stm32flash, or ModemManager, which probes new ports (sudo systemctl stop '
           'ModemManager)\n')

    # the kernel's exclusive mode (TIOCEXCL), as another program (or cwlua itself) sets it
    r = env.run(['--hold-excl'], ['-d', 'serial:/dev/ttyUSB0'], ['info'], client_uid=65534,
                env={'ASAN_OPTIONS': 'verify_asan_link_order=0:detect_leaks=0'})
    expect('exclusive', r, 3,
           'cwlua: serial:/dev/ttyUSB0: in use by another program (Device or resource busy); '
           'close the program that has it open: a terminal (screen, minicom, picocom), another '
           'cwlua or stm32flash, or ModemManager, which probes new ports (sudo systemctl stop '
           'ModemManager)\n')

    # unplugged in the middle of reading flash: a clean error at once, no retries, no hang
    r = env.run(['--unplug-after', '60'], ['-d', 'serial:/dev/ttyUSB0'],
                ['serial', '115200', '8E1', 'sync', 'reads', '0x08000000', '256', '50'])
    expect('unplug', r, 3,
           'cwlua: serial:/dev/ttyUSB0: the adapter is gone (hang-up during a read); plug it '
           'back in, check the cable, and run the command again\n')
    t.check('unplug: some reads worked before', 0 < len(r.lines('reads')) < 50, r.out)
    t.check('unplug: the rig unplugged it', r.events('unplug'), r.riglog)

    # a pty: libserialport cannot drive one (test-harnesses.md §2.1)
    m, s = os.openpty()
    pty = os.ttyname(s)
    r = env.run([], ['-d', 'serial:' + pty], ['info'])
    os.close(s)
    os.close(m)
    expect('pty', r, 3,
           'cwlua: serial:%s: a pseudo-terminal, which libserialport cannot drive (it has no '
           '/sys/class/tty entry); to try a serial adapter without one, run the command under '
           "'cwlua sim adapter PART -- ...'\n" % pty)

    r = env.run([], ['-d', 'serial:' + env.work], ['info'])
    expect('not a device', r, 3, 'cwlua: serial:%s: not a serial port (not a character '
           'device)\n' % env.work)

    # a ChipWhisperer's own CDC serial port: baud rate only, always 8N1 (cw-usb-protocol.md §5.6);
    # its USB identity strings as the board reports them (§1.1)
    cw = ['--port', 'ttyACM0', '--vid', '2b3e', '--pid', 'ace2', '--manufacturer',
          'NewAE Technology Inc.', '--product', 'ChipWhisperer Lite', '--serial',
          '50203120374a38503230343139313036']
    r = env.run(cw, ['-d', 'serial:/dev/ttyACM0'], ['info', 'serial', '38400', '8N1',
                                                    'serial', '115200', '8E1'])
    expect('ChipWhisperer port', r, 3,
           'cwlua: serial:/dev/ttyACM0 is a ChipWhisperer\'s own USB serial port (2b3e:ace2, '
           'ChipWhisperer Lite - 50203120374a38503230343139313036): it carries only the baud '
           'rate and always runs 8N1 (its firmware ignores parity and stop bits), so 8E1 cannot '
           'work through it, nor can the STM32 bootloader (8E1); use the board itself with '
           '-d usb, whose USART bridge sets the whole frame\n')
    t.equal('ChipWhisperer port: flagged', r.lines('info'), [
        'info path=/dev/ttyACM0 vid=2b3e pid=ace2 description=ChipWhisperer Lite - '
        '50203120374a38503230343139313036 chipwhisperer=true gpio_seq=nil'])
    t.equal('ChipWhisperer port: 8N1 is fine', r.lines('serial'),
            ['serial 38400 8N1 actual=38400 frame_ns=260417'])

    # --gpio-seq mistakes are usage errors (exit 2), found before anything is opened
    r = env.run([], ['-d', 'serial:/dev/ttyUSB0', '--gpio-seq', '-3&-2,2:3&-2,,,2'], ['info'])
    expect('numeric GPIO', r, 2,
           "cwlua: --gpio-seq '-3&-2,2:3&-2,,,2': GPIO 3 (column 2) is a sysfs GPIO number, "
           "which cwlua does not support; use the adapter's lines rts, dtr or brk\n")
    r = env.run([], ['-d', 'sim', '--gpio-seq', 'dtr'], ['info'])
    expect('--gpio-seq without a port', r, 2,
           "cwlua: --gpio-seq drives a serial adapter's lines; it needs -d serial:PATH (the "
           "device is 'sim')\n")


# ---- list ----------------------------------------------------------------------------------

def run_list(env, rig_opts, json_out):
    cmd = [env.a.rig] + rig_opts + ['--', env.a.cwlua, 'list'] + (['--json'] if json_out else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env.env())
    return p


def group_list(t, env):
    p = run_list(env, [], False)
    t.equal('list: exit 0', p.returncode, 0) or print(p.stderr, file=sys.stderr)
    t.check('list: the adapter with description and VID:PID',
            re.search(r'^  /dev/ttyUSB0\s+FT232R USB UART - A50285BI \[0403:6001\]$', p.stdout,
                      re.M), p.stdout)
    p = run_list(env, [], True)
    ports = json.loads(p.stdout).get('ports', []) if p.returncode == 0 else []
    mine = [x for x in ports if x.get('path') == '/dev/ttyUSB0']
    t.check('list --json: the adapter', mine and mine[0].get('vid') == '0403' and
            mine[0].get('pid') == '6001' and mine[0].get('serial') == 'A50285BI', p.stdout)
    cw = ['--port', 'ttyACM0', '--vid', '2b3e', '--pid', 'ace2', '--product',
          'ChipWhisperer Lite', '--serial', 'FAKE0001']
    p = run_list(env, cw, False)
    t.check('list: a ChipWhisperer port is flagged',
            re.search(r"^  /dev/ttyACM0\s+ChipWhisperer Lite - FAKE0001 \[2b3e:ace2\] "
                      r"\(a ChipWhisperer's own serial port: 8N1 only; program through -d "
                      r"usb\)$", p.stdout, re.M), p.stdout)
    p = run_list(env, cw, True)
    ports = json.loads(p.stdout).get('ports', []) if p.returncode == 0 else []
    mine = [x for x in ports if x.get('path') == '/dev/ttyACM0']
    t.check('list --json: chipwhisperer true', mine and mine[0].get('chipwhisperer') is True,
            p.stdout)


# ---- serve ---------------------------------------------------------------------------------

def group_serve(t, env):
    state = env.state()
    serve = subprocess.Popen([env.a.cwlua, 'sim', 'serve', 'stm32f1', '--pty', '--sim-state',
                              state], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env.env())
    try:
        pty = serve.stdout.readline().strip()
        if not t.check('serve: a pty path', pty.startswith('/dev/'), serve.stderr.read()
                       if serve.poll() is not None else pty):
            return
        r = env.run(['--relay', pty], ['-d', 'serial:/dev/ttyUSB0'],
                    ['serial', '115200', '8E1', 'enter', 'sync', 'getid', 'read', '0x08000000',
                     '16', 'exit'], state=env.state(blob=False))
        t.equal('serve: exit 0', r.rc, 0) or print(show(r), file=sys.stderr)
        t.equal('serve: enter (assumed)', r.lines('enter'), ['enter assumed'])
        t.equal('serve: sync', r.lines('sync'), ['sync ack'])
        t.equal('serve: Get ID', r.lines('getid'), ['getid 0x0420'])
        t.equal('serve: read of flash', r.lines('read'),
                ['read 0x08000000 16 ' + hexs(pattern()[:16])])
        t.equal('serve: exit (Go is the caller\'s)', r.lines('exit'), ['exit go'])
        t.check('serve: the shim saw 8E1', 'parity=E' in r.shimlog, r.shimlog)
        # 8N1 does not get through to the chip of `cwlua sim serve` either
        r = env.run(['--relay', pty], ['-d', 'serial:/dev/ttyUSB0'],
                    ['serial', '115200', '8N1', 'sync', 'read', '0x08000000', '16'],
                    state=env.state(blob=False))
        t.equal('serve: 8N1 is refused (exit 4)', r.rc, 4)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('group', choices=['lines', 'errors', 'list', 'serve'])
    for o in ('cwlua', 'rig', 'shim', 'serve', 'work'):
        ap.add_argument('--' + o, required=True)
    a = ap.parse_args()
    name = 'serial_' + a.group
    t = Checks(name)
    env = Env(a)
    try:
        globals()['group_' + a.group](t, env)
    except Exception as e:  # a broken test is a failure, not a crash without a summary
        import traceback
        traceback.print_exc()
        t.check('no exception (%s)' % e, False)
    print('%s: %d passed, %d failed' % (name, t.passed, t.failed))
    sys.exit(1 if t.failed else 0)


if __name__ == '__main__':
    main()
