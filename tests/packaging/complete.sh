#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/packaging/complete.sh COMPLETION_FILE 'LINE': the words bash completion offers for LINE
# with the cursor at its end, one per line, as bash would call the function: COMP_LINE and
# COMP_POINT, and COMP_WORDS split at COMP_WORDBREAKS. Plain bash: no bash-completion package.
set -u
# shellcheck source=/dev/null
source "$1" || exit 1
spec=$(complete -p cwlua) || exit 1
[ "$spec" = "complete -F _cwlua cwlua" ] || { echo "registered as: $spec" >&2; exit 1; }
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
# the words as readline makes them: whitespace separates, a wordbreak character is a word
COMP_WORDS=()
word=
for ((i = 0; i < ${#COMP_LINE}; i++)); do
    c=${COMP_LINE:i:1}
    if [[ $c == [[:space:]] ]]; then
        [ -n "$word" ] && COMP_WORDS+=("$word")
        word=
    elif [[ $c == [:=] ]]; then
        [ -n "$word" ] && COMP_WORDS+=("$word")
        COMP_WORDS+=("$c")
        word=
    else
        word+=$c
    fi
done
COMP_WORDS+=("$word")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
_cwlua cwlua "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
printf '%s\n' "${COMPREPLY[@]}"
