"""Browser tests: a real `gridbot serve` subprocess driven by Debian's Chromium through Playwright.

Fixtures
--------
chromium_path  /usr/bin/chromium; the test is skipped when it (or Playwright) is missing, or FAILS
               with a clear message when env CI is set, so CI never silently skips the browser.
gridbot        a running `gridbot serve` (web connector, demo roster, SQLite in a temp data dir);
               `.url`, `.data_dir`, `.restart()`; stopped with SIGTERM at the end of the module.
browser        a headless Chromium (module scope). Never `playwright install`: the system one is used.
artifacts      <repo>/artifacts/ (git-ignored): screenshots of each step.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("GRIDBOT_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
START_TIMEOUT = 45.0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests need Chromium: {reason} (install the Debian package `chromium`)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        _unavailable(f"playwright is not installed: {exc}")
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = REPO / "artifacts"
    path.mkdir(exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gridbot_command() -> list[str]:
    script = Path(sys.executable).parent / "gridbot"
    if script.exists():
        return [str(script)]
    found = shutil.which("gridbot")
    return [found] if found else [sys.executable, "-m", "bot"]


class GridbotServer:
    """`gridbot serve` in a subprocess, on a free port and its own data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDBOT_", "WECOM"))}
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [
            *gridbot_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"gridbot serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"gridbot serve did not answer /healthz within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="module")
def gridbot(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridbotServer]:
    server = GridbotServer(tmp_path_factory.mktemp("serve") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
