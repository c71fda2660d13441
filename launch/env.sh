#!/usr/bin/env bash
# Create or update the project's virtual environment in .venv (sourced by main.sh and test.sh).
# Usage: source launch/env.sh [test]
# Re-runs pip only when setup.cfg changed since the last install, so a second run starts at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3}"
want_test="${1:-}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[rlpjax] creating $VENV with $($PYTHON_BIN --version)"
  "$PYTHON_BIN" -m venv "$VENV"
fi
stamp="$VENV/.rlpjax-installed${want_test:+-test}"
digest="$(cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  echo "[rlpjax] installing rlpjax${want_test:+ with test extras} into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if [ -n "$want_test" ]; then
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
    # The hf extra (torch + transformers) is only for logit cross-checks. Take the CPU build of torch when this
    # machine offers it; otherwise those tests skip with a reason rather than pulling gigabytes of CUDA wheels.
    if "$VENV/bin/python" -m pip install -q "torch==2.13.0" 2>/dev/null; then
      "$VENV/bin/python" -m pip install -q -e "$ROOT[test,hf]"
    else
      echo "[rlpjax] no CPU torch wheel here: Hugging Face cross-check tests will be skipped"
    fi
  else
    "$VENV/bin/python" -m pip install -q -e "$ROOT"
  fi
  echo "$digest" > "$stamp"
fi
