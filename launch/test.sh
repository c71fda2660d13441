#!/usr/bin/env bash
# The test suite: installs into .venv with the test extras if needed, then runs pytest (extra args pass through).
# Tests run on CPU with 8 virtual devices (set in tests/conftest.py), two workers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" test
cd "$ROOT"
exec "$VENV/bin/python" -m pytest -n 2 --dist loadfile -q "$@"
