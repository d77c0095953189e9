"""`gridbot user add|list`: dashboard accounts (督办平台账号).

Passwords are read twice from the terminal (never echoed), or once from stdin with
--password-stdin; they are stored as scrypt hashes only. Exit codes: 0 ok; 2 bad input; 1 database.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.cli.db_cmd import URL_HELP, error_reason

MIN_PASSWORD = 8


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "user",
        help="督办平台账号管理 / dashboard accounts",
        description="督办平台（/admin）账号管理 / manage dashboard accounts.",
    )
    actions = parser.add_subparsers(dest="user_action", metavar="<action>")

    add = actions.add_parser(
        "add",
        help="新增或重置账号 / add an account (or reset its password and scope)",
        description="新增账号；账号已存在时更新其密码、范围和权限并解除锁定 / add an account; an existing "
        "one gets the new password, scope and permission, and is unlocked.",
    )
    add.add_argument("username", metavar="USERNAME", help="用户名 / user name")
    scope = add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--community", metavar="CODE", help="只看这个社区（社区编码）/ community code")
    scope.add_argument("--street", metavar="NAME", help="看这个街道的所有社区（街道名称）/ street name")
    add.add_argument(
        "--pii",
        action="store_true",
        help="可查看未打码的个人信息（手机号等）/ may see unmasked personal data",
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="从标准输入读取密码（一行）/ read the password from stdin (one line)",
    )
    add.add_argument("--url", help=URL_HELP)
    add.set_defaults(func=_add)

    ls = actions.add_parser(
        "list", help="列出账号 / list accounts", description="列出所有账号 / list accounts (no passwords)."
    )
    ls.add_argument("--url", help=URL_HELP)
    ls.set_defaults(func=_list)

    def _help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    parser.set_defaults(func=_help)


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = getpass.getpass("密码 / password: ")
    second = getpass.getpass("再次输入密码 / repeat password: ")
    if first != second:
        print("两次输入的密码不一致 / passwords do not match", file=sys.stderr)
        return None
    return first


def _add(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session, col, select

    from bot.dashboard.auth import hash_password
    from storage.db import make_engine
    from storage.models import Community, DashboardUser

    username = args.username.strip()
    if not username or len(username) > 64:
        print("用户名不能为空，且不超过 64 个字符 / invalid user name", file=sys.stderr)
        return 2
    password = _read_password(args.password_stdin)
    if password is None:
        return 2
    if len(password) < MIN_PASSWORD:
        print(f"密码至少 {MIN_PASSWORD} 位 / password too short (min {MIN_PASSWORD})", file=sys.stderr)
        return 2
    try:
        engine = make_engine(args.url)
        with Session(engine) as session:
            community_id = None
            street = ""
            if args.community:
                community = session.exec(
                    select(Community).where(col(Community.code) == args.community)
                ).first()
                if community is None:
                    print(f"没有编码为 {args.community} 的社区 / unknown community code", file=sys.stderr)
                    return 2
                community_id = community.id
            else:
                street = args.street.strip()
                known = session.exec(select(Community).where(col(Community.street) == street)).first()
                if known is None:
                    print(f"注意：目前没有社区属于「{street}」/ warning: no community on this street yet")
            user = session.exec(select(DashboardUser).where(col(DashboardUser.username) == username)).first()
            verb = "已更新 / updated" if user is not None else "已创建 / created"
            if user is None:
                user = DashboardUser(username=username, password_hash="")
            user.password_hash = hash_password(password)
            user.community_id = community_id
            user.street = street
            user.can_see_pii = bool(args.pii)
            user.failed_logins = 0
            user.locked_until = None
            session.add(user)
            session.commit()
        engine.dispose()
    except SQLAlchemyError as exc:
        print(f"数据库错误 / database error: {error_reason(exc)}", file=sys.stderr)
        return 1
    where = f"社区 {args.community}" if args.community else f"街道 {street}"
    print(f"账号 {username} {verb}：{where}，{'可查看个人信息' if args.pii else '个人信息打码'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session, col, select

    from storage.db import make_engine
    from storage.models import Community, DashboardUser

    try:
        engine = make_engine(args.url)
        with Session(engine) as session:
            users = session.exec(select(DashboardUser).order_by(col(DashboardUser.username))).all()
            codes = {c.id: c.code for c in session.exec(select(Community)).all()}
        engine.dispose()
    except SQLAlchemyError as exc:
        print(f"数据库错误 / database error: {error_reason(exc)}", file=sys.stderr)
        return 1
    if not users:
        print("还没有账号，请用 gridbot user add 创建 / no accounts yet")
        return 0
    for u in users:
        scope = f"社区 {codes.get(u.community_id, '?')}" if u.community_id is not None else f"街道 {u.street}"
        flags = ["个人信息可见" if u.can_see_pii else "个人信息打码"]
        if u.locked_until is not None:
            flags.append(f"锁定至 {u.locked_until.isoformat(timespec='minutes')}")
        print(f"{u.username}\t{scope}\t{'，'.join(flags)}")
    return 0
