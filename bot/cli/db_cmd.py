"""`gridbot db upgrade|current`: create, upgrade and inspect the database schema (alembic, in-package)."""

from __future__ import annotations

import argparse
import sys

# The database modules (SQLAlchemy, alembic) are imported inside the commands: `gridbot --help`
# and unrelated subcommands should not pay for them.

URL_HELP = (
    "数据库地址；默认取环境变量 GRIDBOT_DATABASE_URL，否则为 $GRIDBOT_DATA_DIR/gridbot.sqlite3 / "
    "database URL (default: $GRIDBOT_DATABASE_URL, else the embedded SQLite file)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db",
        help="数据库建库与升级 / create or upgrade the database",
        description="数据库结构管理 / database schema management (alembic, shipped in the package).",
    )
    actions = parser.add_subparsers(dest="db_action", metavar="<action>")

    up = actions.add_parser(
        "upgrade",
        help="创建或升级数据库到最新版本 / create or upgrade the database to the latest revision",
        description="创建或升级数据库到最新版本，并显示版本号 / upgrade to head and print the revision.",
    )
    up.add_argument("--url", help=URL_HELP)
    up.set_defaults(func=_upgrade)

    cur = actions.add_parser(
        "current",
        help="显示数据库当前版本 / show the database's revision",
        description="显示数据库当前版本；已是最新时退出码 0，否则 1 / "
        "print the revision; exit 0 at head, 1 otherwise.",
    )
    cur.add_argument("--url", help=URL_HELP)
    cur.set_defaults(func=_current)

    def _help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    parser.set_defaults(func=_help)


def error_reason(exc: BaseException) -> str:
    """First line of an exception: enough to act on, no traceback."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(url: str | None, exc: Exception) -> int:
    from storage.db import describe_url, resolve_url

    print(
        f"数据库 {describe_url(resolve_url(url))} 操作失败 / database error: {error_reason(exc)}",
        file=sys.stderr,
    )
    return 1


def _upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import describe_url, resolve_url
    from storage.migrate import upgrade

    try:
        revision = upgrade(args.url)
    except (SQLAlchemyError, OSError) as exc:
        return _fail(args.url, exc)
    print(f"数据库 {describe_url(resolve_url(args.url))} 已是最新版本 / at revision: {revision} (head)")
    return 0


def _current(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import describe_url, resolve_url
    from storage.migrate import current, head

    try:
        revision = current(args.url)
    except (SQLAlchemyError, OSError) as exc:
        return _fail(args.url, exc)
    latest = head()
    where = describe_url(resolve_url(args.url))
    if revision is None:
        print(f"数据库 {where} 尚未初始化，请运行 gridbot db upgrade / empty database (head is {latest})")
        return 1
    if revision != latest:
        print(f"数据库 {where} 版本 {revision}，最新为 {latest}，请运行 gridbot db upgrade / behind head")
        return 1
    print(f"数据库 {where} 版本 {revision} (head)，已是最新 / up to date")
    return 0
