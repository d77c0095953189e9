"""Phrasings beyond the corpus: staff notices of drills, people trapped in a lift, falling objects."""

from __future__ import annotations

import pytest

from handlers.parsing import parse


@pytest.mark.parametrize(
    ("text", "role", "kind", "category"),
    [
        ("本周六上午9点小区组织消防演练，请大家准时参加", "leader", "other", None),
        ("明天下午社区有防诈骗讲座，请各位居民准时参加", "member", "other", None),
        ("3单元的电梯困人了！里面有老人和小孩", "resident", "major", "casualty"),
        ("快来人，电梯里被困了两个人，按警铃没人应", "resident", "major", "casualty"),
        ("外墙瓷砖掉下来了，砸坏了一辆车，幸好没人", "resident", "basic", "safety"),
        ("楼上有人高空抛物，差点砸到小孩", "resident", "basic", "safety"),
    ],
)
def test_phrasing(text: str, role: str, kind: str, category: str | None) -> None:
    result = parse(text, role=role)
    assert (result.kind, result.category) == (kind, category)


def test_no_one_trapped_is_not_major() -> None:
    assert parse("电梯今天检修，没有困人的情况", role="leader").kind != "major"
