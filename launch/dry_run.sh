#!/usr/bin/env bash
# Shared by the launchers (sourced): `run CMD...` executes CMD, or, when DRY_RUN=1, prints it on one line quoted
# for a POSIX shell so that it can be pasted back.

# sq ARG: ARG quoted for a POSIX shell (bare when it holds only safe characters, else in single quotes).
sq() {
  if [[ "$1" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then printf '%s' "$1"
  else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}

# run CMD...: execute it, or under DRY_RUN=1 print it shell-quoted on one line.
run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then
    local out="" arg
    for arg in "$@"; do out+="$(sq "$arg") "; done
    echo "${out% }"
  else
    "$@"
  fi
}
