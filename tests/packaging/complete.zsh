# SPDX-License-Identifier: MIT
# tests/packaging/complete.zsh FPATH_DIR 'LINE': what zsh's completion lists for LINE, typed
# at an interactive zsh (on a pseudo-terminal, zsh/zpty) that loads _cwlua from FPATH_DIR; the
# listing is printed without terminal control sequences. Run with `zsh -f`.
setopt extendedglob
zmodload zsh/zpty || exit 1
zpty z 'stty cols 200 rows 100; TERM=dumb zsh -f -i'
zpty -w z "PS1='PROMPT> '; fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "LISTMAX=1000; print READY"
zpty -r z out '*READY*'
zpty -w -n z "$2"$'\t'
# the listing comes after the completion ran (it calls cwlua): read until zsh is quiet
local all= chunk
integer idle=0
while (( idle < 20 )); do
  if zpty -r -t z chunk; then all+=$chunk; idle=0; else sleep 0.1; (( idle++ )); fi
done
zpty -d z
print -r -- "${all//$'\e'\[[0-9;?]#[a-zA-Z]/}"
