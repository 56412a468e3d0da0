#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""libcwsim's layering, checked on the sources and on the built library.

usage: layering.py SIMDIR [--nm NM --lib LIBCWSIM.a] [--edges]

The parts of sim/ (sim/CMakeLists.txt and docs/simulator.md "Inside libcwsim" explain them):
  board        sim/*.c, sim/*.h and sim/engines/: USB, FPGA, USART, wiring, faults, state,
               virtual time, and the firmware's XPROG and V2 engines
  interface    sim/chip/: the chip interface, all a chip sees of the board and the world
  ssapp        sim/ssapp/: the SimpleSerial application model that chips share
  chip:NAME    sim/stm32, sim/xmega, sim/avr, sim/loopback: one chip model each
  composition  sim/sim_targets.c: part name -> chip, the one place that knows every chip

Rules, on the transitive closure of the #include "..." edges:
  - a chip, ssapp and the interface reach only the interface, ssapp and their own folder:
    never sim_internal.h, cwsim.h, the engines or another chip;
  - ssapp and the interface reach nothing outside themselves;
  - the board reaches no chip, no ssapp and not the composition;
  - the graph of parts has no cycle.
With --lib, the same on the symbols the library's objects use from each other (what the
linker resolves), where a chip may use of the board only the functions the interface declares.
--edges lists every include edge. Exit 0 when every rule holds.
"""
import os
import re
import subprocess
import sys

CHIPS = ("stm32", "xmega", "avr", "loopback")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def part_of(rel):
    top = rel.split("/")[0]
    if rel == "sim_targets.c":
        return "composition"
    if "/" not in rel or top == "engines":
        return "board"
    if top == "chip":
        return "interface"
    if top == "ssapp":
        return "ssapp"
    if top in CHIPS:
        return "chip:" + top
    sys.exit(f"layering: {rel}: a folder this check does not know; add it to CHIPS or part_of")


def allowed(src, dst):
    """May part src use part dst (include its headers, call its functions)?"""
    if src == dst or src == "composition":
        return True
    if src.startswith("chip:"):
        return dst in ("interface", "ssapp")
    if src == "board":
        return dst == "interface"
    return False  # interface, ssapp: nothing outside themselves


def find_cycle(edges):
    """A cycle in the part graph (self-loops aside), as a list of parts, or None."""
    graph = {}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
    state = {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                c = visit(m, path + [m])
                if c:
                    return c
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n, [n])
            if c:
                return c
    return None


def main(argv):
    args = argv[1:]
    show = "--edges" in args
    args = [a for a in args if a != "--edges"]
    opts = dict(zip(args[1::2], args[2::2]))
    sim = args[0]
    problems = []

    files = {}  # basename -> path relative to sim/
    for root, _, names in os.walk(sim):
        for n in names:
            if n.endswith((".c", ".h")):
                rel = os.path.relpath(os.path.join(root, n), sim)
                if n in files:
                    problems.append(f"{rel} and {files[n]}: one name, two files")
                files[n] = rel

    # ---- includes
    inc = {}
    for rel in sorted(files.values()):
        with open(os.path.join(sim, rel), encoding="utf-8") as f:
            names = INCLUDE.findall(f.read())
        inc[rel] = []
        for name in names:
            base = os.path.basename(name)
            if base not in files:
                problems.append(f'{rel}: #include "{name}" is no file of sim/')
                continue
            inc[rel].append(files[base])
            if show:
                print(f"{rel} -> {files[base]}")
    part_edges = set()
    for rel in inc:
        seen, todo, via = set(), list(inc[rel]), {d: rel for d in inc[rel]}
        while todo:
            d = todo.pop()
            if d in seen:
                continue
            seen.add(d)
            for e in inc[d]:
                via.setdefault(e, d)
                todo.append(e)
        src = part_of(rel)
        for d in sorted(seen):
            dst = part_of(d)
            part_edges.add((src, dst))
            if not allowed(src, dst):
                chain, n = [d], d
                while via[n] != rel:
                    n = via[n]
                    chain.append(n)
                path = " -> ".join([rel] + chain[::-1])
                problems.append(f"{src} reaches {dst}: {path}")
    cycle = find_cycle(part_edges)
    if cycle:
        problems.append("include cycle between parts: " + " -> ".join(cycle))
    nedges = sum(len(v) for v in inc.values())

    # ---- symbols the library's objects take from each other
    nrefs = 0
    if "--lib" in opts:
        interface = set()
        chip_h = os.path.join(sim, "chip", "cwsim_chip.h")
        if os.path.exists(chip_h):
            with open(chip_h, encoding="utf-8") as f:
                interface = set(re.findall(r"\b(cwsim_\w+)\s*\(", f.read()))
        out = subprocess.run([opts.get("--nm", "nm"), "-A", opts["--lib"]], check=True,
                             capture_output=True, text=True).stdout
        defined, used = {}, []
        for line in out.splitlines():
            m = re.match(r"^[^:]+:([^:]+\.c)\.o:\s*(?:[0-9a-fA-F]+)?\s+([A-Za-z])\s+(\S+)$", line)
            if not m:
                continue
            member, kind, sym = m.groups()
            if os.path.basename(member) not in files:
                problems.append(f"library member {member}: no source of that name in sim/")
                continue
            src = files[os.path.basename(member)]
            if kind == "U":
                used.append((src, sym))
            elif kind.isupper():
                defined[sym] = src
        link_edges = set()
        for src, sym in used:
            if sym not in defined:
                continue  # libc, libm, the sanitizers
            nrefs += 1
            a, b = part_of(src), part_of(defined[sym])
            link_edges.add((a, b))
            ok = allowed(a, b) or (a.startswith("chip:") and b == "board" and sym in interface)
            if not ok:
                problems.append(f"{src} ({a}) uses {sym} from {defined[sym]} ({b})")
        cycle = find_cycle(link_edges)
        if cycle:
            problems.append("link-time cycle between parts: " + " -> ".join(cycle))

    for p in problems:
        print("layering: " + p)
    if problems:
        return 1
    print(f"layering: ok ({len(files)} files, {nedges} include edges"
          + (f", {nrefs} symbol references" if "--lib" in opts else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
