"""Process-wide settings of the SQLite library, made before the first connection opens.

SQLite keeps memory statistics by default (SQLITE_CONFIG_MEMSTATUS): every allocation and free
inside the library takes a mutex and updates counters. Nothing here reads them, and SQLite's own
list of recommended options turns them off ("SQLITE_DEFAULT_MEMSTATUS=0 … causes the sqlite3_malloc()
interfaces to run much faster"). The sqlite3 module offers no way to configure the library, so
`tune` calls the library itself through ctypes: `sqlite3_shutdown`, `sqlite3_config`,
`sqlite3_initialize`, the documented sequence for configuring it after it started.

Measured with callgrind on the workflow benchmark (SQLite, saturated, batches of 16, 2,000
messages): 1.894–1.900 G instructions before, 1.825 G after, 3.8% fewer.

Shutting the library down is allowed only with no connection open, so `tune` runs once per
process, at its start: `gridbot` (`bot.cli.run`), the benchmarks, and the test suite's conftest.
It does nothing when the sqlite3 module uses a copy of SQLite other than the shared
libsqlite3 this process loaded (a statically linked build), or off Linux, where that cannot be
checked. Behaviour is the same either way; only the statistics functions stop counting.
"""

from __future__ import annotations

import ctypes
import sqlite3  # loads the library the module uses, before it is looked for below
from pathlib import Path

SQLITE_OK = 0
SQLITE_CONFIG_MEMSTATUS = 9

# What `tune` did, for the service's start-up log: "not run", "memory statistics off" or why not.
state = "not run"


def _loaded_library() -> str | None:
    """The path of the shared libsqlite3 mapped into this process, if there is one (Linux)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return None
    for line in maps.read_text().splitlines():
        fields = line.split(maxsplit=5)  # address perms offset dev inode [path]
        if len(fields) == 6 and "/libsqlite3.so" in fields[5]:
            return fields[5].strip()
    return None


def tune() -> str:
    """Turn SQLite's memory statistics off for this process. Call before any connection opens;
    later calls do nothing. Returns (and keeps in `state`) what happened."""
    global state
    if state != "not run":
        return state
    path = _loaded_library()
    if path is None:
        state = "left as built: the sqlite3 module uses no shared libsqlite3 here"
        return state
    lib = ctypes.CDLL(path)  # the copy already mapped: dlopen gives the same one
    major, minor, patch = sqlite3.sqlite_version_info
    if lib.sqlite3_libversion_number() != major * 1_000_000 + minor * 1_000 + patch:
        state = f"left as built: {path} is not the version the sqlite3 module reports"
        return state
    codes = (
        lib.sqlite3_shutdown(),
        lib.sqlite3_config(SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)),
        lib.sqlite3_initialize(),
    )
    state = "memory statistics off" if codes == (SQLITE_OK,) * 3 else f"left as built: result codes {codes}"
    return state
