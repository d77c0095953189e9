#!/usr/bin/env bash
# Creates .venv (if missing) and installs GridBot with its dev extras. Idempotent and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.gridbot-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi
# The parser compiled with mypyc (a quarter less time a message; without a C compiler it runs as
# plain Python, with the same results). Quick when the build is current.
if command -v cc >/dev/null 2>&1; then
  if ! .venv/bin/python scripts/build_native.py >.venv/native-build.log 2>&1; then
    echo "bootstrap: the compiled parser did not build (.venv/native-build.log); using plain Python" >&2
  fi
fi
