"""Compile the parser (handlers/parsing) with mypyc into handlers/parsing/_build.

    .venv/bin/python scripts/build_native.py [--force]

The package loads the build only while its recorded digest equals the sources' (see
`handlers/parsing/accel.py`), so an edited module falls back to its .py until the next build.
`scripts/bootstrap.sh` runs this when a C compiler and mypyc are there; without them the parser
runs as plain Python, a quarter slower, the same in every result. The build goes to a temporary
directory first and replaces `_build` in one rename: a process starting meanwhile loads the old
build, the new or, for that instant, the .py files; never half of one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "handlers" / "parsing"
# The shared library of the compiled modules: handlers.parsing.gridbot__mypyc, in the build.
GROUP = "handlers.parsing.gridbot"


def _accel() -> ModuleType:
    sys.path.insert(0, str(ROOT))
    os.environ["GRIDBOT_NATIVE"] = "0"  # read the .py files: never the build being replaced
    from handlers.parsing import accel

    return accel


def build(accel: ModuleType, out: Path, work: Path) -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    sources = [str(p.relative_to(ROOT)) for p in accel.compiled_sources(PACKAGE)]
    os.chdir(ROOT)
    extensions = mypycify(sources, opt_level="3", group_name=GROUP, target_dir=str(work / "c"))
    os.chdir(work)  # away from pyproject.toml, which is the project's, not this build's
    setup(
        name="gridbot-parser-native",
        ext_modules=extensions,
        script_args=["-q", "build_ext", "--build-lib", str(work / "lib"), "--build-temp", str(work / "o")],
    )
    built = work / "lib" / "handlers" / "parsing"
    out.mkdir()
    for lib in built.glob("*.so"):
        shutil.copy2(lib, out / lib.name)
    (out / accel.DIGEST_FILE).write_text(accel.source_digest(PACKAGE) + "\n", encoding="ascii")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--force", action="store_true", help="build even when the build is current")
    args = parser.parse_args()
    accel = _accel()
    target = PACKAGE / accel.BUILD_DIR
    if not args.force and accel.build_state(PACKAGE) == "current":
        print(f"parser build is current: {target}")
        return 0
    with tempfile.TemporaryDirectory(prefix="gridbot-native-") as tmp:
        staging = PACKAGE / f".{accel.BUILD_DIR}.new"
        shutil.rmtree(staging, ignore_errors=True)
        build(accel, staging, Path(tmp))
        old = PACKAGE / f".{accel.BUILD_DIR}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    print(f"parser compiled with mypyc: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
