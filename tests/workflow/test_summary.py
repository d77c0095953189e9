"""What the pipeline stores of a parse is `to_json()` without the texts, field for field."""

from __future__ import annotations

from dataclasses import fields

import pytest

from handlers.parsing import Parser, ParseResult
from handlers.pipeline import _summary

KEPT = {f.name for f in fields(ParseResult)} - {"text", "masked_text", "pii"}


@pytest.mark.parametrize(
    "text",
    [
        "#办结 R3 R4 已修好 B",
        "明天下午3点前5号楼2单元301室漏水，电话13812345678",
        "今日巡查无异常，零报告",
        "#评价 R1 5",
        "3号楼着火了",
        "哈哈",
    ],
)
def test_summary_is_to_json_without_texts(text: str) -> None:
    parsed = Parser().parse(text)
    data = parsed.to_json()
    assert _summary(parsed) == {name: data[name] for name in KEPT}
