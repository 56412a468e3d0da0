#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/luamodule/check.sh BUILD_DIR SOURCE_DIR: `cmake --install` of the component cwlua into a
# scratch prefix, then stock lua5.4 with LUA_PATH (and LUA_CPATH, or neither) into it: require
# "cwlua" programs and verifies the simulator, gives the API 'cwlua run' scripts see as cw,
# finds the recipes from where the module is (also after the prefix is moved), reads the config
# file; Lua 5.1 and a missing C part stop with a message that says why (docs/api.md "Using cwlua
# from your own Lua").
# CWLUA_GUEST_PRELOAD: libraries to preload into lua5.4 (a sanitizer build's runtimes).
set -u
build=$1 src=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; [ -f "$tmp/out" ] && cat "$tmp/out"; }
check() { # check NAME COMMAND...: COMMAND succeeds
    if "${@:2}" >"$tmp/out" 2>&1; then pass; else fail "$1"; fi
}
expect() { # expect NAME FILE TEXT: FILE holds the line TEXT
    if grep -qxF -- "$3" "$2"; then pass; else fail "$1: no line '$3' in:"; cat "$2"; fi
}
export XDG_CONFIG_HOME=$tmp/config XDG_STATE_HOME=$tmp/state CWLUA_PATH='' CWLUA_DEVICE=''
export CWLUA_SYSCONFDIR=$tmp/etc
unset LUA_INIT LUA_INIT_5_4 LUA_PATH_5_4 LUA_CPATH_5_4
lua54() { LD_PRELOAD=${CWLUA_GUEST_PRELOAD:-} lua5.4 "$@"; }
hex=$src/examples/stm32f1-hello/hello.hex

check "cmake --install --component cwlua" cmake --install "$build" --prefix "$tmp/prefix" \
    --component cwlua
cdir=$(cd "$tmp/prefix" && find . -path '*/lua/5.4/cwlua/core.so' | sed 's|^\./||; s|/cwlua/core.so$||')
check "core.so installed under lib/.../lua/5.4/cwlua" test -n "$cdir"
check "Lua files installed" test -f "$tmp/prefix/share/lua/5.4/cwlua/init.lua"

# Only the scratch prefix on the paths: a cwlua installed on the machine must not answer.
lpath() { echo "$1/share/lua/5.4/?.lua;$1/share/lua/5.4/?/init.lua"; }
export LUA_CPATH=''
guest() { # guest PREFIX OUT: the guest script, LUA_PATH into PREFIX
    LUA_PATH=$(lpath "$1") lua54 "$here/guest.lua" "$hex" "$tmp/sim" >"$2" 2>&1
}

if LUA_CPATH="$tmp/prefix/$cdir/?.so" guest "$tmp/prefix" "$tmp/guest.out"; then pass
else fail "guest (LUA_CPATH)"; cat "$tmp/guest.out"; fi
expect "core.so from LUA_CPATH" "$tmp/guest.out" "core: package.cpath"
expect "programmed" "$tmp/guest.out" "program: 368 bytes, verify ok"
expect "verified through an alias" "$tmp/guest.out" "verify: 368 bytes, ok"
expect "a failure returns nil, msg, code" "$tmp/guest.out" \
    "unknown target: nil usage unknown target 'nosuchchip'"
expect "recipes beside the module" "$tmp/guest.out" "recipes: $tmp/prefix/share/cwlua/targets"

# The C folder off package.cpath (a /usr/local install): init.lua loads core.so from beside
# itself through cwlua.layout. Moved, the prefix still finds its recipes.
mv "$tmp/prefix" "$tmp/moved"
if guest "$tmp/moved" "$tmp/moved.out"; then pass; else fail "guest (moved, no LUA_CPATH)"; cat "$tmp/moved.out"; fi
expect "core.so from beside the Lua files" "$tmp/moved.out" "core: beside"
expect "programmed after the move" "$tmp/moved.out" "program: 368 bytes, verify ok"
expect "recipes after the move" "$tmp/moved.out" "recipes: $tmp/moved/share/cwlua/targets"

# The same API as 'cwlua run' scripts see as cw.
LUA_PATH=$(lpath "$tmp/moved") lua54 "$here/api.lua" >"$tmp/api.guest" 2>&1
"$build/bin/cwlua" run "$here/api.lua" >"$tmp/api.run" 2>&1
if [ -s "$tmp/api.run" ] && diff "$tmp/api.run" "$tmp/api.guest" >"$tmp/out"; then pass
else fail "the API differs from cwlua run's (- cwlua run, + lua5.4)"; fi
expect "the API has cw.open" "$tmp/api.guest" "open	function"
expect "the API has cw.flash" "$tmp/api.guest" "flash	table"
expect "the API has cw.simpleserial" "$tmp/api.guest" "simpleserial	table"

# The config file counts as in the binary: cw.open() takes its device.
mkdir -p "$tmp/config/cwlua"
echo 'device = "sim:cw1200"' >"$tmp/config/cwlua/config.lua"
LUA_PATH=$(lpath "$tmp/moved") lua54 -e 'print(require("cwlua").open().kind)' >"$tmp/open.out" 2>&1
expect "cw.open() takes the config file's device" "$tmp/open.out" "cw1200"
rm "$tmp/config/cwlua/config.lua"

# Another Lua, and a missing C part: one message that says why.
if command -v lua5.1 >/dev/null; then
    if ! LUA_PATH=$(lpath "$tmp/moved") lua5.1 -e 'require "cwlua"' >"$tmp/out" 2>&1 &&
        grep -qF "cwlua needs Lua 5.4, and this is Lua 5.1" "$tmp/out"; then pass
    else fail "Lua 5.1 is refused"; fi
fi
rm "$tmp/moved/$cdir/cwlua/core.so"
if ! LUA_PATH=$(lpath "$tmp/moved") lua54 -e 'require "cwlua"' >"$tmp/out" 2>&1 &&
    grep -qF "cwlua: its C part, cwlua/core.so, is not on package.cpath" "$tmp/out"; then pass; else fail "a missing core.so is named"; fi
echo "lua_module: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
