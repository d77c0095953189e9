"""`gridbot roster check|import FILE`: validate a roster (YAML or 花名册 .xlsx/.csv) and load it into the DB.

Exit codes: 0 ok; 2 invalid roster (the Chinese message on stderr); 1 database problem.
Phone numbers are only ever printed masked (138****5678).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from bot.cli.db_cmd import URL_HELP, error_reason

if TYPE_CHECKING:  # imported in the commands: keeps `gridbot --help` fast
    from config.roster import Roster

FILE_HELP = "花名册文件：.yaml / .xlsx / .csv（格式见 config/ROSTER.md）/ roster file"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "roster",
        help="花名册校验与导入 / validate and import the roster",
        description="花名册（网格、人员、督办、规则）校验与导入 / validate and import the roster.",
    )
    actions = parser.add_subparsers(dest="roster_action", metavar="<action>")

    check = actions.add_parser(
        "check",
        help="校验花名册并显示统计 / validate a roster and print a summary",
        description="校验花名册并显示统计（手机号打码）/ validate and summarise (phones masked).",
    )
    check.add_argument("file", metavar="FILE", help=FILE_HELP)
    check.add_argument(
        "-v", "--verbose", action="store_true", help="逐个列出网格和人员 / list every grid and person"
    )
    check.set_defaults(func=_check)

    imp = actions.add_parser(
        "import",
        help="校验并导入花名册到数据库 / validate and import a roster into the database",
        description="校验花名册，必要时升级数据库，然后在一个事务中导入；重复导入不会产生重复数据 / "
        "validate, upgrade the database if needed, apply in one transaction (idempotent).",
    )
    imp.add_argument("file", metavar="FILE", help=FILE_HELP)
    imp.add_argument("--url", help=URL_HELP)
    imp.set_defaults(func=_import)

    codes = actions.add_parser(
        "codes",
        help="列出未认领人员的认领码 / list claim codes of roster people not yet bound to WeChat",
        description="列出花名册中尚未绑定微信号的人员及其 6 位认领码（手机号打码）。把认领码当面或电话"
        "交给本人，由其私聊机器人发送「#认领 认领码」。认领码由密钥算出：环境变量 GRIDBOT_SECRET，"
        "否则为 SQLite 数据库旁的 secret.key（PostgreSQL：$GRIDBOT_DATA_DIR/secret.key）；须与运行中的"
        "服务相同 / list each unbound roster person's claim code; the secret must be the service's.",
    )
    codes.add_argument(
        "names", nargs="*", metavar="NAME", help="只列这些人（姓名、微信名或编码）/ only these"
    )
    codes.add_argument("--url", help=URL_HELP)
    codes.set_defaults(func=_codes)

    def _help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    parser.set_defaults(func=_help)


def _load(path: str) -> Roster | None:
    from config.roster import RosterError, load_roster

    try:
        return load_roster(path)
    except RosterError as exc:
        print(str(exc), file=sys.stderr)
        return None


def _details(roster: Roster) -> list[str]:
    from config.roster import person_line

    lines = []
    for community in roster.communities:
        lines.append(f"{community.name}（{community.code}，{community.street or '街道未填'}）")
        for ref in community.supervisors:
            lines.append(f"  {ref.level}级督办 {ref.title or ''} {person_line(roster.person(ref.person))}")
        for grid in community.grids:
            chiefs = "、".join(person_line(roster.person(s.person)) for s in grid.supervisors) or "未指定"
            lines.append(f"  {grid.name}（{grid.code}）综合网格长：{chiefs}")
            for micro in grid.micro_grids:
                kind = "商户" if micro.kind == "merchant" else "住宅"
                members = "、".join(roster.person(m).name for m in micro.members) or "无"
                lines.append(
                    f"    {micro.name}［{kind}］群「{micro.room_topic or '未填'}」"
                    f" 微网格长 {person_line(roster.person(micro.leader))}；成员 {members}"
                )
    return lines


def _check(args: argparse.Namespace) -> int:
    from config.roster import summarize

    roster = _load(args.file)
    if roster is None:
        return 2
    print(f"花名册 {args.file} 校验通过 / roster OK")
    for line in summarize(roster) + (_details(roster) if args.verbose else []):
        print(line)
    return 0


def _import(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from config.roster import apply_roster, summarize
    from storage.db import describe_url, make_engine, resolve_url
    from storage.migrate import upgrade

    roster = _load(args.file)
    if roster is None:
        return 2
    where = describe_url(resolve_url(args.url))
    try:
        revision = upgrade(args.url)
        engine = make_engine(args.url)
        try:
            with Session(engine) as session:
                summary = apply_roster(session, roster)
                session.commit()
        finally:
            engine.dispose()
    except (SQLAlchemyError, OSError) as exc:
        print(
            f"导入失败，数据库未改动 / import failed, nothing written ({where}): {error_reason(exc)}",
            file=sys.stderr,
        )
        return 1
    print(f"花名册 {args.file} 已导入 {where}（数据库版本 {revision}）/ imported")
    for line in summarize(roster) + summary.lines():
        print(line)
    return 0


def _codes(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from config.roster import mask_phone
    from handlers.identity import ENV_SECRET, claim_codes, claim_secret, secret_file
    from storage.db import describe_url, make_engine, resolve_url
    from storage.store import Store

    url = resolve_url(args.url)
    wanted = set(args.names)
    try:
        engine = make_engine(args.url)
        try:
            secret = claim_secret(url)
            with Session(engine) as session:
                rows = claim_codes(Store(session), secret)
        finally:
            engine.dispose()
    except (SQLAlchemyError, OSError) as exc:
        print(f"读取失败 / cannot read ({describe_url(url)}): {error_reason(exc)}", file=sys.stderr)
        return 1
    if wanted:
        rows = [r for r in rows if wanted & {r.person.name, r.person.wechat_name, r.person.code}]
    source = f"环境变量 {ENV_SECRET}" if os.environ.get(ENV_SECRET) else f"文件 {secret_file(url)}"
    print(f"未认领微信号的花名册人员 {len(rows)} 人（{describe_url(url)}；认领码密钥：{source}）")
    if not rows:
        return 0
    print("请当面或电话把认领码交给本人，由其私聊机器人发送「#认领 认领码」；不要发到群里。")
    print("姓名\t角色\t手机\t认领码")
    for row in rows:
        name = row.person.name
        if row.person.wechat_name and row.person.wechat_name != name:
            name += f"（微信名 {row.person.wechat_name}）"
        print(f"{name}\t{row.role}\t{mask_phone(row.person.phone) or '—'}\t{row.code}")
    return 0
