"""Hardening fixtures: the demo roster in the test database (see tests/workflow/harness.py)."""

from __future__ import annotations

from tests.workflow.harness import roster_loaded

__all__ = ["roster_loaded"]
