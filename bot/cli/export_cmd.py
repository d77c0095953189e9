"""`gridbot export`: write the ledgers (台账) of a date range to an .xlsx file or CSV (.zip).

Exit codes: 0 ok; 2 bad arguments (unknown grid or community, dates); 1 database or file error.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bot.cli.db_cmd import URL_HELP, error_reason


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD / expected YYYY-MM-DD: {text}") from exc


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="导出台账（巡查、事项、重大情况、积分）/ export the ledgers",
        description="导出台账：巡查台账、事项台账、重大情况台账、积分台账。xlsx 每个台账一个工作表；"
        "csv 为 UTF-8（带 BOM），多个台账打包为 zip / export the ledgers as .xlsx (one sheet each) or CSV.",
    )
    parser.add_argument(
        "--from", dest="first", type=_day, required=True, metavar="DATE", help="开始日期 / first day"
    )
    parser.add_argument(
        "--to", dest="last", type=_day, required=True, metavar="DATE", help="结束日期（含）/ last day"
    )
    parser.add_argument(
        "--grid",
        action="append",
        metavar="CODE",
        help="只导出这些微网格（编码，可重复）/ micro-grid code, repeatable",
    )
    parser.add_argument("--community", metavar="CODE", help="只导出这个社区 / only this community")
    parser.add_argument(
        "--ledger",
        action="append",
        choices=("patrol", "tickets", "incidents", "points"),
        help="只导出这些台账（可重复，默认全部）/ ledgers to include (default all)",
    )
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", help="文件格式 / file format")
    parser.add_argument("--out", required=True, metavar="PATH", help="输出文件 / output file")
    parser.add_argument("--pii", action="store_true", help="不打码个人信息 / do not mask personal data")
    parser.add_argument("--url", help=URL_HELP)
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session, col, select

    from bot.dashboard.ledgers import LEDGER_KEYS, LedgerRequest, all_communities, build_ledgers, render
    from bot.dashboard.queries import Viewer
    from handlers.clock import SHANGHAI
    from storage.db import make_engine
    from storage.models import Community, CompGrid, MicroGrid

    if args.last < args.first:
        print("结束日期不能早于开始日期 / --to is before --from", file=sys.stderr)
        return 2
    try:
        engine = make_engine(args.url)
        with Session(engine) as session:
            if args.community:
                community = session.exec(
                    select(Community).where(col(Community.code) == args.community)
                ).first()
                if community is None or community.id is None:
                    print(f"没有编码为 {args.community} 的社区 / unknown community", file=sys.stderr)
                    return 2
                communities = frozenset({community.id})
            else:
                communities = all_communities(session)
            grid_ids = None
            if args.grid:
                rows = session.exec(
                    select(MicroGrid.code, col(MicroGrid.id), CompGrid.community_id)
                    .join(CompGrid, col(CompGrid.id) == col(MicroGrid.comp_grid_id))
                    .where(col(MicroGrid.code).in_(args.grid))
                ).all()
                found = {code: (gid, cid) for code, gid, cid in rows}
                unknown = [c for c in args.grid if c not in found or found[c][1] not in communities]
                if unknown:
                    print(f"未知的微网格编码 / unknown grid codes: {', '.join(unknown)}", file=sys.stderr)
                    return 2
                grid_ids = [gid for c in args.grid if (gid := found[c][0]) is not None]
            req = LedgerRequest(args.first, args.last, grid_ids, args.ledger or LEDGER_KEYS)
            ledgers = build_ledgers(session, Viewer(communities, pii=args.pii), req, SHANGHAI)
        engine.dispose()
        _, _, data = render(ledgers, req, args.format)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except SQLAlchemyError as exc:
        print(f"数据库错误 / database error: {error_reason(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"无法写入文件 / cannot write {args.out}: {error_reason(exc)}", file=sys.stderr)
        return 1
    counts = "，".join(f"{ledger.title} {len(ledger.rows)} 行" for ledger in ledgers)
    print(f"已导出 / exported {out}: {counts}")
    return 0
