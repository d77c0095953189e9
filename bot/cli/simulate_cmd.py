"""`gridbot simulate SCENARIO.yaml`: a scripted day or week on a virtual clock."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "simulate",
        help="按场景模拟运行（虚拟时钟） / run a scenario on a virtual clock",
        description="用真实的处理流程和定时任务在虚拟时钟上运行场景文件，\n"
        "每条机器人发出的消息输出一行 JSON。\n"
        "Run the real handlers and scheduled jobs on a virtual clock; one JSON line per bot message.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", type=Path, help="场景文件 / scenario YAML")
    parser.add_argument(
        "--url", help="数据库地址（默认临时 SQLite）/ database URL (default: a temporary SQLite file)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.simulate import ScenarioError, run_scenario
    from config.roster import RosterError

    try:
        asyncio.run(run_scenario(args.scenario, sys.stdout, args.url))
    except (ScenarioError, RosterError) as exc:
        print(f"gridbot simulate: {exc}", file=sys.stderr)
        return 2
    return 0
