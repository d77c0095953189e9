#!/usr/bin/env bash
# The main job on the embedded default: `gridbot serve` with SQLite in ./data, the demo roster and
# the web chat simulator on http://127.0.0.1:8080/ . Extra arguments go to `gridbot serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/gridbot serve "$@"
