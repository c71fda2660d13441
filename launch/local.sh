#!/usr/bin/env bash
# Start N local `rlpjax train` processes as one multi-process JAX job (CPU collectives through gloo), wait for all
# of them, and fail if any fails (the others are then stopped, since they would wait forever in a collective).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: launch/local.sh [--dry-run] N [rlpjax train arguments...]

Starts N processes of `rlpjax train ARGS` on this machine as one JAX job and waits for all of them.
Each process gets RLPJAX_COORDINATOR=127.0.0.1:PORT, RLPJAX_NUM_PROCESSES=N and RLPJAX_PROCESS_ID=i, which
rlpjax/train/distributed.py reads. SIGTERM/SIGINT are forwarded to every process (they save and exit 0).

Options:
  --dry-run   print the exact commands instead of running them
  --help      show this help

Environment:
  RLPJAX_LOCAL_DEVICES  CPU devices per process (sets XLA_FLAGS and jax_num_cpu_devices); default 1
  RLPJAX_PORT           coordinator port; default: a free port
  JAX_PLATFORMS         default cpu
  PYTHON                interpreter; default .venv/bin/python of this repository, else python3 on PATH
USAGE
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --dry-run) dry_run=1; shift ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "launch/local.sh: error: the first argument must be the number of processes (a positive integer); see --help" >&2
  exit 2
fi
num_processes="$1"; shift
# The interpreter: $PYTHON, else this checkout's .venv, else python3 on PATH (rlpjax installed there).
python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then python_bin="$ROOT/.venv/bin/python"; else python_bin="$(command -v python3 || true)"; fi
fi
if [ -z "$python_bin" ] || ! "$python_bin" -c 'import rlpjax' 2>/dev/null; then
  echo "launch/local.sh: error: no Python with rlpjax installed (looked at \$PYTHON, $ROOT/.venv, python3); run" \
       "'bash launch/test.sh' once or set PYTHON=/path/to/python" >&2
  exit 2
fi
local_devices="${RLPJAX_LOCAL_DEVICES:-1}"
port="${RLPJAX_PORT:-$("$python_bin" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
# Replace any device-count flag already in XLA_FLAGS (a parent may force another count).
xla_flags="$(printf '%s' "${XLA_FLAGS:-}" | sed -E 's/--xla_force_host_platform_device_count=[0-9]+//g') --xla_force_host_platform_device_count=$local_devices"

commands=()
for ((i = 0; i < num_processes; i++)); do
  cmd=(env "JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}" "XLA_FLAGS=${xla_flags# }" "RLPJAX_COORDINATOR=127.0.0.1:$port"
       "RLPJAX_NUM_PROCESSES=$num_processes" "RLPJAX_PROCESS_ID=$i" "RLPJAX_LOCAL_DEVICES=$local_devices"
       "$python_bin" -m rlpjax.cli train "$@")
  commands+=("$(printf '%q ' "${cmd[@]}")")
done

if [ "$dry_run" = 1 ]; then
  printf '%s\n' "${commands[@]}"
  exit 0
fi

cd "$ROOT"
pids=()
forward() { for pid in "${pids[@]}"; do kill -s "$1" "$pid" 2>/dev/null || true; done; }
trap 'forward TERM' TERM
trap 'forward INT' INT
for command in "${commands[@]}"; do
  eval "$command" &
  pids+=("$!")
done

status=0
remaining=("${pids[@]}")
while [ ${#remaining[@]} -gt 0 ]; do
  code=0
  wait -n "${remaining[@]}" || code=$?
  alive=()
  for pid in "${remaining[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  if [ ${#alive[@]} -eq ${#remaining[@]} ]; then
    continue  # `wait` returned for a forwarded signal, not for an exit
  fi
  remaining=("${alive[@]+"${alive[@]}"}")
  if [ "$code" -ne 0 ] && [ "$status" -eq 0 ]; then
    status=$code
    echo "launch/local.sh: error: a process exited with status $code; stopping the other ${#remaining[@]}" >&2
    for pid in "${remaining[@]+"${remaining[@]}"}"; do kill -s TERM "$pid" 2>/dev/null || true; done
  fi
done
exit "$status"
