"""The parser's compiled build (mypyc, `scripts/build_native.py`): loaded only while it was built
from the sources as they are, and giving exactly what the .py files give."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import handlers.parsing
from handlers.parsing import accel

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(handlers.parsing.__file__).parent
CORPORA = [
    ROOT.parent / "shared" / "corpus" / "messages.jsonl",
    Path(__file__).parent / "data" / "second_author.jsonl",
]


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "parsing"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("# loader\n")
    (pkg / "accel.py").write_text("# loader\n")
    (pkg / "rules.py").write_text("X = 1\n")
    return pkg


def _record(pkg: Path) -> None:
    (pkg / accel.BUILD_DIR).mkdir(exist_ok=True)
    (pkg / accel.BUILD_DIR / accel.DIGEST_FILE).write_text(accel.source_digest(pkg) + "\n")


def test_digest_follows_the_compiled_modules_only(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    before = accel.source_digest(pkg)
    (pkg / "__init__.py").write_text("# edited loader\n")
    assert accel.source_digest(pkg) == before  # not compiled: no rebuild needed
    (pkg / "rules.py").write_text("X = 2\n")
    assert accel.source_digest(pkg) != before
    changed = accel.source_digest(pkg)
    (pkg / "more.py").write_text("")
    assert accel.source_digest(pkg) != changed  # a new module is a new build too


def test_a_build_is_used_only_while_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDBOT_NATIVE", raising=False)
    monkeypatch.setattr(accel, "state", accel.state)  # restored after: the real package's
    pkg = _package(tmp_path)
    path = [str(pkg)]
    assert accel.build_state(pkg) == "absent"
    assert not accel.enable(path) and path == [str(pkg)]
    assert accel.state == "absent" and "no compiled build" in accel.describe()
    _record(pkg)
    assert accel.build_state(pkg) == "current"
    monkeypatch.setenv("GRIDBOT_NATIVE", "0")
    assert not accel.enable(path) and path == [str(pkg)]  # switched off
    assert "GRIDBOT_NATIVE=0" in accel.describe()
    monkeypatch.delenv("GRIDBOT_NATIVE")
    assert accel.enable(path) and path == [str(pkg / accel.BUILD_DIR), str(pkg)]
    (pkg / "rules.py").write_text("X = 3\n")  # edited after the build
    path = [str(pkg)]
    assert accel.build_state(pkg) == "stale"
    assert not accel.enable(path) and path == [str(pkg)]
    assert "older than the sources" in accel.describe()  # in the start-up log, not at import


def _parse_corpora(native: bool) -> tuple[bool, list[str]]:
    lines = []
    for corpus in CORPORA:
        for line in corpus.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            fields = {k: item[k] for k in ("text", "chat", "role") if k in item}
            # one message time for both runs: a stretch (三日内) is counted from it to the minute
            lines.append(json.dumps({**fields, "at": "2026-11-23T10:00:00+08:00"}, ensure_ascii=False))
    script = (
        "import sys, handlers.parsing as p; from bot.cli import main; "
        "print(int(p.NATIVE), file=sys.stderr); sys.argv = ['gridbot', 'parse']; main()"
    )
    env = {**os.environ, "GRIDBOT_NATIVE": "1" if native else "0"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        input="\n".join(lines),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stderr.strip().endswith("1"), done.stdout.splitlines()


def test_compiled_build_gives_what_the_sources_give() -> None:
    state = accel.build_state(PACKAGE)
    if state != "current":
        if os.environ.get("CI"):  # bootstrap builds it in CI: its absence there is a fault
            pytest.fail(f"no current compiled parser build in CI ({state}): scripts/build_native.py")
        pytest.skip(f"compiled parser build {state}: run scripts/build_native.py")
    used, compiled = _parse_corpora(native=True)
    assert used
    used, plain = _parse_corpora(native=False)
    assert not used
    assert len(compiled) > 2500
    assert compiled == plain
