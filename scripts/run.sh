#!/usr/bin/env bash
# The main job on the embedded default: SQLite + the demo roster + a simulated day and week.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/gridbot simulate examples/week.yaml "$@"
