"""Supervisors' dashboard (督办平台) under /admin: today's reports, compliance, tickets, incidents,
points, ledger downloads (台账) and roster import, plus a read-only JSON API.

`mount_dashboard(web_app, session_factory, clock, secret)` registers every route on the service's
aiohttp application. Accounts are DashboardUser rows (`gridbot user add`); each sees only its own
community or street.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports bot.dashboard.ledgers without paying for aiohttp
    from aiohttp import web
    from sqlmodel import Session

    from handlers.clock import Clock


def mount_dashboard(
    web_app: web.Application,
    session_factory: Callable[[], Session],
    clock: Clock,
    secret: bytes,
    *,
    data_dir: Path | None = None,
) -> None:
    """Register the dashboard under /admin on `web_app`.

    `secret` signs session cookies and CSRF tokens (at least 16 random bytes, the same on every
    worker, kept across restarts or everyone is logged out). `data_dir` is where the connectors
    store photos (default $GRIDBOT_DATA_DIR or ./data); only files inside it are ever served.
    """
    from bot.dashboard.web import DASHBOARD_KEY, Dashboard

    folder = data_dir if data_dir is not None else Path(os.environ.get("GRIDBOT_DATA_DIR") or "data")
    dashboard = Dashboard(session_factory, clock, secret, folder)
    web_app[DASHBOARD_KEY] = dashboard
    web_app.router.add_routes(dashboard.routes())


__all__ = ["mount_dashboard"]
