#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/install.sh BUILD_DIR: `cmake --install` into a scratch prefix, then check that the
# installed binary runs, finds its built-in recipes beside it (<prefix>/share/cwlua/targets)
# even after the whole prefix is moved, and still resolves aliases; that the manual pages,
# completion and documentation are installed, and nothing only the Debian packages carry.
set -u
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { # check NAME COMMAND...
    if "${@:2}" >"$tmp/out" 2>&1; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAIL: $1"; cat "$tmp/out"; fi
}
export XDG_CONFIG_HOME=$tmp/config CWLUA_PATH= CWLUA_SYSCONFDIR=$tmp/etc CWLUA_CONFIG=
check "cmake --install" cmake --install "$build" --prefix "$tmp/prefix"
check "binary installed" test -x "$tmp/prefix/bin/cwlua"
check "recipes installed" test -f "$tmp/prefix/share/cwlua/targets/stm32f1.lua"
# what packaging/ makes and installs; zsh's folder for a prefix other than /usr
for f in share/man/man1/cwlua.1.gz share/man/man1/cwlua-sim-attach.1.gz \
    share/bash-completion/completions/cwlua share/zsh/site-functions/_cwlua \
    share/doc/cwlua/README.md share/doc/cwlua/examples/lab/aes_kat.lua \
    share/cwlua/udev/60-cwlua.rules; do
    check "installed: $f" test -f "$tmp/prefix/$f"
done
check "no package-only files in an install from source" bash -c \
    "! ls '$tmp/prefix/share/doc/cwlua/copyright' '$tmp/prefix/share/doc/cwlua/changelog.Debian.gz' \
     2>/dev/null"
# A component install (as the lua_module test does) stays in its prefix: the package's udev
# rule has an absolute folder and is written only into a staging folder (DESTDIR).
check "a component install stays in its prefix" bash -c \
    "cmake --install '$build' --component cwlua --prefix '$tmp/comp' >/dev/null \
     && ! grep -v '^$tmp/comp/' '$build/install_manifest_cwlua.txt'"
check "targets from install" bash -c "'$tmp/prefix/bin/cwlua' targets | grep -qF \
'from: built-in $tmp/prefix/share/cwlua/targets/stm32f1.lua'"
mv "$tmp/prefix" "$tmp/moved"
check "targets after moving the prefix" bash -c "'$tmp/moved/bin/cwlua' targets --json | grep -qF \
'\"path\":\"$tmp/moved/share/cwlua/targets/stm32f1.lua\"'"
check "version from install" "$tmp/moved/bin/cwlua" --version
# the adapter helper finds its LD_PRELOAD shim relative to itself, also after the move
check "sim adapter from install" bash -c "XDG_STATE_HOME='$tmp/state' '$tmp/moved/bin/cwlua' \
sim adapter stm32f1 -- sh -c 'test -n \"\$CWLUA_SIM_ADAPTER\"'"
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
