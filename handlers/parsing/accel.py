"""Use the parser's compiled build (mypyc) when it was built from exactly these sources.

`scripts/build_native.py` compiles the modules of this package with mypyc into `_build/`
(C extensions, same behaviour, about a quarter less time per message). This module decides,
before the package imports its submodules, whether to load them from there: only when the
digest recorded at build time equals the digest of the .py files now, so an edited rule module
is never shadowed by a stale build. Otherwise, or with GRIDBOT_NATIVE=0, or on an interpreter
the build does not fit, the .py files are used, as they always can be.

Keyword data (config/parser/*.yaml) is read at run time either way: editing it needs no build.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

BUILD_DIR = "_build"
DIGEST_FILE = "digest"
# Not compiled: this loader and the package's __init__, which runs it.
NOT_COMPILED = frozenset({"__init__.py", "accel.py"})
# What `enable` found: 'current' (used), 'stale', 'absent' or 'off' (GRIDBOT_NATIVE=0). Told by
# `describe` to whoever logs it once logging is set up: at import time a line would go to bare
# stderr, outside the service's log format.
state = "absent"


def compiled_sources(package_dir: Path) -> list[Path]:
    """The modules a build compiles, in a fixed order."""
    return sorted(p for p in package_dir.glob("*.py") if p.name not in NOT_COMPILED)


def source_digest(package_dir: Path) -> str:
    """sha256 over the names and contents of the compiled modules."""
    digest = hashlib.sha256()
    for path in compiled_sources(package_dir):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def build_state(package_dir: Path) -> str:
    """'current', 'stale' or 'absent': whether `_build` holds a build of these sources."""
    try:
        recorded = (package_dir / BUILD_DIR / DIGEST_FILE).read_text(encoding="ascii").strip()
    except OSError:
        return "absent"
    return "current" if recorded == source_digest(package_dir) else "stale"


def enable(package_path: list[str]) -> bool:
    """Put a current build first on the package's `__path__`; True when it is used."""
    global state
    if os.environ.get("GRIDBOT_NATIVE", "1") == "0" or not package_path:
        state = "off"
        return False
    package_dir = Path(package_path[0])
    state = build_state(package_dir)
    if state != "current":
        return False
    package_path.insert(0, str(package_dir / BUILD_DIR))
    return True


def describe() -> str:
    """One line for the service's start-up log: which parser runs, and why."""
    return {
        "current": "parser compiled with mypyc",
        "stale": "parser as plain Python: its compiled build is older than the sources "
        "(rebuild: .venv/bin/python scripts/build_native.py)",
        "absent": "parser as plain Python (no compiled build: scripts/build_native.py)",
        "off": "parser as plain Python (GRIDBOT_NATIVE=0)",
    }[state]
