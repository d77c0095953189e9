"""A process-wide cache of the roster's slow-changing facts (grids, people, roles, supervisors).

Every inbound message needs to know its grid, its sender and the sender's roles; asking the
database each time costs several queries per message. The cache holds detached, read-only copies
and forgets everything after `ttl` seconds (so a roster imported by another process is seen
within that time) or at once when this process changes a binding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlmodel import SQLModel

T = TypeVar("T")
M = TypeVar("M", bound=SQLModel)

MISSING = object()


def detached_copy(obj: M) -> M:
    """A transient copy safe to share across sessions; never add it to a session."""
    return type(obj)(**obj.model_dump())


class RosterCache:
    def __init__(self, ttl: float = 30.0, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._now = now
        self._data: dict[Hashable, Any] = {}
        self._born = now()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The cached value for `key`, loading (and caching) it on a miss."""
        if self._now() - self._born > self.ttl:
            self.clear()
        value = self._data.get(key, MISSING)
        if value is not MISSING:
            self.hits += 1
            return value
        self.misses += 1
        value = load()
        self._data[key] = value
        return value

    def peek(self, key: Hashable) -> Any:
        """The cached value for `key`, or MISSING: never loads, for a look that must not touch the
        database (and expired counts as missing)."""
        if self._now() - self._born > self.ttl:
            return MISSING
        return self._data.get(key, MISSING)

    def put(self, key: Hashable, value: Any) -> None:
        """Cache a fact this process knows without asking (e.g. a person it just created)."""
        self._data[key] = value

    def forget(self, key: Hashable) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()
        self._born = self._now()
