#!/usr/bin/env bash
# The main job on embedded defaults: installs into .venv if needed, then runs `rlpjax main` (extra flags pass through).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec "$VENV/bin/rlpjax" main "$@"
