#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/packaging/packaging.sh BUILD_DIR: the Debian packages of this build, made with cpack into
# a scratch folder and checked as Debian and a user would (docs/install.md "Debian packages"):
#   - two packages; cwlua's Depends has no GLib or umockdev, cwlua-sim's has umockdev and the
#     cwlua of the same version; both carry the build's version;
#   - lintian reports no errors (its output is printed either way);
#   - unpacked into a scratch root (dpkg-deb -x, nothing installed on the machine): the binaries
#     are stripped and keep their build ID, the files are where Debian wants them, the
#     unpacked cwlua programs the simulator with the packaged example and finds its recipes
#     beside itself, `sim attach` and `sim adapter` run from the root; Debian's lua5.4 with
#     LUA_PATH and LUA_CPATH into the root does `require "cwlua"`, cw.open("sim") and
#     cw.flash.program(..., { board = b });
#   - `man -l` renders every page without warnings, cwlua(1) with every command, global option,
#     device spec, exit status, environment variable and file that the help tables have;
#   - bash completion (plain bash) offers stm32f1 and CW308_STM32F1 after `cwlua program `, a
#     user's own recipe, devices, attached boards, fault names and files by extension; zsh's
#     offers the targets too.
# Prints "packaging: N passed, N failed" (tests/check.h's format).
set -u
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { # check NAME COMMAND...
    if "${@:2}" >"$tmp/out" 2>&1; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAIL: $1"; cat "$tmp/out"; fi
}
has() { # has TEXT_FILE FIXED_STRING: a line of the file contains the string
    grep -qF -- "$2" "$1" || { echo "'$2' not in $1:"; head -c 3000 "$1"; return 1; }
}
export XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/state CWLUA_SYSCONFDIR=$tmp/etc CWLUA_PATH=
unset CWLUA_DEVICE CWLUA_CONFIG CWLUA_BITSTREAM

# --- the packages --------------------------------------------------------------------------
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1
status=$?
check "cpack -G DEB" bash -c "cat '$tmp/cpack.log'; exit $status"
check "cpack: no warnings (CPackConfig.cmake holds our texts as they are)" bash -c \
    "! grep -i -A4 warning '$tmp/cpack.log'"
main=$(ls "$tmp"/pkg/cwlua_*.deb 2>/dev/null)
sim=$(ls "$tmp"/pkg/cwlua-sim_*.deb 2>/dev/null)
if [ -z "$main" ] || [ -z "$sim" ]; then
    echo "FAIL: cpack made no cwlua and cwlua-sim packages"; ls -l "$tmp/pkg"
    echo "packaging: $passed passed, $((failed + 1)) failed"
    exit 1
fi
version=$(cat "$build/cwlua_version.txt")-1
control() { dpkg-deb -f "$1" "$2"; }
check "both packages carry the build's version" test \
    "$(control "$main" Version) $(control "$sim" Version)" = "$version $version"
check "cwlua's Depends: the C libraries, no GLib, no umockdev" bash -c \
    "d=\$(dpkg-deb -f '$main' Depends); echo \"\$d\"; [[ \$d == *libusb-1.0* && \$d == *liblua5.4* \
     && \$d != *glib* && \$d != *umockdev* ]]"
check "cwlua-sim's Depends: umockdev, GLib, the same cwlua" bash -c \
    "d=\$(dpkg-deb -f '$sim' Depends); echo \"\$d\"; [[ \$d == *'umockdev,'* && \$d == *libglib2.0* \
     && \$d == *'cwlua (= $version)'* ]]"
check "real descriptions" bash -c "dpkg-deb -f '$main' Description | grep -q ChipWhisperer \
    && dpkg-deb -f '$sim' Description | grep -q umockdev"

# lintian: no error; warnings and notes are shown in the test's output
lintian --fail-on error --display-info "$main" "$sim" >"$tmp/lintian" 2>&1
status=$?
grep -v '^running with root privileges' "$tmp/lintian"
check "lintian: no errors" test "$status" -eq 0

# --- a scratch root ------------------------------------------------------------------------
root=$tmp/root
check "dpkg-deb -x" bash -c "dpkg-deb -x '$main' '$root' && dpkg-deb -x '$sim' '$root'"
for f in usr/bin/cwlua usr/bin/cwlua-sim-attach usr/bin/cwlua-sim-serve usr/bin/cwlua-sim-adapter \
    usr/share/cwlua/targets/stm32f1.lua lib/udev/rules.d/60-cwlua.rules \
    usr/share/man/man1/cwlua.1.gz usr/share/man/man1/cwlua-sim-attach.1.gz \
    usr/share/man/man1/cwlua-sim-serve.1.gz usr/share/man/man1/cwlua-sim-adapter.1.gz \
    usr/share/bash-completion/completions/cwlua usr/share/zsh/vendor-completions/_cwlua \
    usr/share/doc/cwlua/copyright usr/share/doc/cwlua/changelog.Debian.gz \
    usr/share/doc/cwlua/changelog.gz usr/share/doc/cwlua/README.md \
    usr/share/doc/cwlua/docs/install.md usr/share/doc/cwlua/examples/lab/aes_kat.lua \
    usr/share/doc/cwlua/examples/stm32f1-hello/hello.hex usr/share/doc/cwlua-sim/copyright; do
    check "in a package: /$f" test -f "$root/$f"
done
check "the udev rule: uaccess and the plugdev system group" bash -c \
    "grep -q 'TAG+=\"uaccess\"' '$root/lib/udev/rules.d/60-cwlua.rules' \
     && grep -q 'GROUP=\"plugdev\"' '$root/lib/udev/rules.d/60-cwlua.rules'"
check "DEP-5 copyright" has "$root/usr/share/doc/cwlua/copyright" \
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
elf_ok() { # elf_ok FILE: no symbol table, a GNU build ID
    readelf -S "$1" | grep -q ' \.symtab ' && { echo "$1: not stripped"; return 1; }
    readelf -n "$1" | grep -q 'Build ID' || { echo "$1: no build ID"; return 1; }
}
for f in "$root"/usr/bin/* "$root"/usr/libexec/cwlua/*.so; do
    check "stripped, with a build ID: ${f#"$root"}" elf_ok "$f"
done

cw=$root/usr/bin/cwlua
check "the unpacked cwlua says the package's version" bash -c \
    "'$cw' --version | grep -qxF 'cwlua ${version%-1}'"
check "the unpacked cwlua finds its recipes beside itself" bash -c \
    "'$cw' targets | grep -qF 'from: built-in $root/usr/share/cwlua/targets/stm32f1.lua'"
check "the unpacked cwlua programs the simulator with the packaged example" \
    "$cw" -d sim --sim-state "$tmp/sim" program stm32f1 \
    "$root/usr/share/doc/cwlua/examples/stm32f1-hello/hello.hex"
check "the unpacked sim attach: a simulated board for the unpacked cwlua" bash -c \
    "'$cw' sim attach cwlite@50203120 -- '$cw' list | grep -q 'cwlite  50203120'"
check "the unpacked sim adapter finds its shim" \
    "$cw" sim adapter stm32f1 --sim-state "$tmp/sim" -- sh -c 'test -n "$CWLUA_SIM_ADAPTER"'

# Debian's lua5.4, the module from the root: its Lua files and core.so (multiarch folder)
core=$(find "$root/usr/lib" -path '*/lua/5.4/cwlua/core.so' | head -1)
check "the module's C part: .../lua/5.4/cwlua/core.so" test -n "$core"
cat >"$tmp/stock.lua" <<'LUA'
local cw = require "cwlua"
local b <close> = assert(cw.open("sim", { target = "stm32f100xb" }))
local r = assert(cw.flash.program("stm32f1", arg[1], { board = b, quiet = true }))
assert(r.verify == "ok", "verify: " .. tostring(r.verify))
print("programmed", r.bytes)
LUA
# a sanitizer build's core.so needs the sanitizers' runtimes, which Debian's lua5.4 lacks:
# CWLUA_GUEST_PRELOAD names them (tests/CMakeLists.txt), as for the lua_module test
check "lua5.4: require \"cwlua\" from the root programs the simulator" bash -c \
    "LD_PRELOAD='${CWLUA_GUEST_PRELOAD:-}' LUA_PATH='$root/usr/share/lua/5.4/?.lua;$root/usr/share/lua/5.4/?/init.lua' \
     LUA_CPATH='${core%/cwlua/core.so}/?.so' \
     lua5.4 '$tmp/stock.lua' '$root/usr/share/doc/cwlua/examples/stm32f1-hello/hello.hex' \
     | grep -qx 'programmed.368'"

# --- the manual pages ----------------------------------------------------------------------
man_text() { # man_text PAGE: the rendered page, plain
    MANWIDTH=100 man -l "$root/usr/share/man/man1/$1.1.gz" 2>/dev/null | sed 's/.\x08//g'
}
for page in cwlua cwlua-sim-attach cwlua-sim-serve cwlua-sim-adapter; do
    man_text "$page" >"$tmp/$page.txt"
    check "man -l $page: renders with its name" has "$tmp/$page.txt" "$page - "
    check "man -l $page: no warnings from groff" bash -c \
        "w=\$(MANWIDTH=100 man --warnings -l '$root/usr/share/man/man1/$page.1.gz' 2>&1 >/dev/null); \
         echo \"\$w\"; [ -z \"\$w\" ]"
done
"$cw" --help >"$tmp/help.txt"
# the commands of `cwlua --help`: the lines between "commands:" and the blank line after them
sed -n '/^commands:/,/^$/p' "$tmp/help.txt" | sed -n 's/^  \([a-z]\+\).*/\1/p' >"$tmp/commands"
check "cwlua --help lists commands" test "$(wc -l <"$tmp/commands")" -ge 16
while read -r c; do
    check "man cwlua: a section for '$c'" grep -qx "   $c" "$tmp/cwlua.txt"
done <"$tmp/commands"
sed -n 's/^  \(-., \)\?\(--[a-z-]\+\).*/\2/p' "$tmp/help.txt" >"$tmp/options"
while read -r o; do
    check "man cwlua: option $o" grep -qE -- "^       (-., )?$o([ =[]|$)" "$tmp/cwlua.txt"
done <"$tmp/options"
for w in usb:SERIAL serial:PATH sim:BOARD CWLUA_DEVICE CWLUA_PATH CWLUA_BITSTREAM XDG_CONFIG_HOME \
    XDG_STATE_HOME /lib/udev/rules.d/60-cwlua.rules CW308_STM32F1 uart-rx-open; do
    check "man cwlua: $w" has "$tmp/cwlua.txt" "$w"
done
for s in 0 1 2 3 4 5 130 143; do
    check "man cwlua: exit status $s" grep -qE "^       $s +[a-z]" "$tmp/cwlua.txt"
done

# --- shell completion ----------------------------------------------------------------------
bash_file=$root/usr/share/bash-completion/completions/cwlua
complete_bash() { # complete_bash 'LINE' WORD...: each WORD is offered
    local offered
    offered=$(PATH="$root/usr/bin:$PATH" bash "$here/complete.sh" "$bash_file" "$1") || return 1
    shift
    for w; do
        grep -qxF -- "$w" <<<"$offered" || { echo "'$w' not offered:"; echo "$offered"; return 1; }
    done
}
not_offered() { # not_offered 'LINE' WORD: WORD is not offered
    local offered
    offered=$(PATH="$root/usr/bin:$PATH" bash "$here/complete.sh" "$bash_file" "$1") || return 1
    ! grep -qxF -- "$2" <<<"$offered" || { echo "'$2' offered"; return 1; }
}
check "bash: 'cwlua program ' offers stm32f1 and CW308_STM32F1" \
    complete_bash "cwlua program " stm32f1 CW308_STM32F1
check "bash: commands" complete_bash "cwlua " program verify doctor sim help
check "bash: a command's options" complete_bash "cwlua program --" --chip --format --device
check "bash: an option's values" complete_bash "cwlua program stm32f1 x.hex --format " hex elf bin
check "bash: -d" complete_bash "cwlua -d " usb sim sim:husky
check "bash: -d sim:" complete_bash "cwlua -d sim:" cwlite cw1200 husky nano
check "bash: --sim-fault" complete_bash "cwlua -d sim --sim-fault " uart-rx-open write-protected=
check "bash: --sim-fault=" complete_bash "cwlua -d sim --sim-fault=uart-r" uart-rx-open
check "bash: sim subcommands" complete_bash "cwlua sim " attach serve adapter faults
mkdir -p "$tmp/mine" "$tmp/files"
sed 's/"stm32f1"/"myboard"/; s/CW308_STM32F1/MY_BOARD_F1/' "$src/targets/stm32f1.lua" \
    >"$tmp/mine/myboard.lua"
check "bash: a recipe of one's own, with -s" \
    complete_bash "cwlua -s $tmp/mine program " myboard MY_BOARD_F1 stm32f1
mkdir -p "$XDG_CONFIG_HOME/cwlua/targets"
cp "$tmp/mine/myboard.lua" "$XDG_CONFIG_HOME/cwlua/targets/"
check "bash: a recipe of one's own, in the user folder" complete_bash "cwlua verify " myboard
touch "$tmp/files/fw.hex" "$tmp/files/fw.elf" "$tmp/files/notes.txt" "$tmp/files/lab.lua"
check "bash: firmware files by extension" \
    complete_bash "cwlua program stm32f1 $tmp/files/" "$tmp/files/fw.hex" "$tmp/files/fw.elf"
check "bash: not a text file for firmware" not_offered "cwlua program stm32f1 $tmp/files/" \
    "$tmp/files/notes.txt"
check "bash: Lua scripts for run" complete_bash "cwlua run $tmp/files/" "$tmp/files/lab.lua"
check "bash: usb:SERIAL of an attached board" bash -c \
    "PATH='$root/usr/bin:$PATH' cwlua sim attach cwlite@50203120 -- \
     bash '$here/complete.sh' '$bash_file' 'cwlua -d usb:' | grep -qx 50203120"

check "zsh: _cwlua parses" zsh -n "$root/usr/share/zsh/vendor-completions/_cwlua"
PATH="$root/usr/bin:$PATH" zsh -f "$here/complete.zsh" "$root/usr/share/zsh/vendor-completions" \
    "cwlua program " >"$tmp/zsh.txt" 2>&1
check "zsh: 'cwlua program ' offers stm32f1 and CW308_STM32F1" bash -c \
    "{ grep -qw stm32f1 '$tmp/zsh.txt' && grep -qw CW308_STM32F1 '$tmp/zsh.txt'; } \
     || { cat '$tmp/zsh.txt'; false; }"

echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
