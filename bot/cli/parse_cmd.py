"""`gridbot parse`: parse chat messages from JSON lines (or one --text) and print the result.

Input, one JSON object a line: {"text": ..., "chat": "group"|"private", "role": ..., "at": ISO}
(chat, role, at optional). Output: one JSON object per input line, same order, flushed per
line. A line that cannot be parsed yields {"error": "..."} and the run continues; errors
never echo the message text, so no personal data reaches the terminal or logs.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any, TextIO

HELP = "解析聊天消息为结构化结果 / parse chat messages into structured results"
DESCRIPTION = """解析聊天消息（JSON 行输入，每行输出一个 JSON 对象）。
Parse chat messages: reads JSON lines on stdin, writes one JSON object per input line.

输入 / input:
  {"text": "7栋楼道堆放纸箱", "chat": "group", "role": "leader", "at": "2026-11-23T10:00:00+08:00"}
  chat: group（群聊）| private（私聊），可省略 / optional, default group
  role: leader | member | resident | merchant | supervisor，可省略 / optional
  at:   消息时间（ISO 8601），用于解析“明天下午三点” / message time for time expressions
输出 / output: kind, category, building, unit, floor, room, handled, command, args,
  masked_text, times, grade_hint, pii …；无法解析的行输出 {"error": "..."}（不含原文）。"""

_CHATS = ("group", "private")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "parse",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--text", help="解析一条消息并格式化输出 / parse one message and pretty-print it")
    parser.add_argument("--chat", default="group", choices=_CHATS, help="与 --text 一起用 / with --text")
    parser.add_argument(
        "--role", default=None, help="发送者角色，与 --text 一起用 / sender role, with --text"
    )
    parser.add_argument("--at", default=None, help="消息时间 ISO 8601，与 --text 一起用 / message time")
    parser.set_defaults(func=run)


def _parse_at(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError('"at" must be an ISO 8601 datetime string')
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError('"at" is not a valid ISO 8601 datetime') from None


def _request(line: str) -> tuple[str, str, str | None, datetime | None]:
    """Validate one input line; ValueError messages are safe to print (no message text)."""
    if not line.strip():
        raise ValueError('empty line: expected a JSON object with a "text" field')
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    text = data.get("text")
    if not isinstance(text, str):
        raise ValueError('"text" must be a string' if "text" in data else 'missing "text" field')
    chat = data.get("chat") or "group"
    if chat not in _CHATS:
        raise ValueError('"chat" must be "group" or "private"')
    role = data.get("role")
    if role is not None and not isinstance(role, str):
        raise ValueError('"role" must be a string')
    return text, chat, role, _parse_at(data.get("at"))


def process_stream(lines: TextIO, out: TextIO) -> int:
    """Parse every line; returns the number of error lines written."""
    from handlers.parsing import default_parser

    parser = default_parser()
    errors = 0
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        try:
            text, chat, role, at = _request(line)
        except ValueError as exc:
            record: dict[str, Any] = {"error": str(exc)}
            errors += 1
        else:
            record = parser.parse(text, chat=chat, role=role, now=at).to_json()
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return errors


def run(args: argparse.Namespace) -> int:
    # Surrogate escapes keep a line with invalid UTF-8 a line (it becomes U+FFFD later).
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(encoding="utf-8", errors="surrogateescape")
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    if args.text is not None:
        from handlers.parsing import parse

        try:
            at = _parse_at(args.at)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        result = parse(args.text, chat=args.chat, role=args.role, now=at)
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return 0
    process_stream(sys.stdin, sys.stdout)
    return 0


def main() -> int:
    """`python -m bot.cli.parse_cmd`: same as `gridbot parse`, without the other subcommands."""
    top = argparse.ArgumentParser(prog="gridbot")
    register(top.add_subparsers(dest="command"))
    args = top.parse_args(["parse", *sys.argv[1:]])
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
