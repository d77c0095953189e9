"""Dialect words (config/parser/dialect.yaml) read as standard Chinese by the rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from handlers.parsing import parse
from handlers.parsing.lexicon import default_lexicon_dir
from handlers.parsing.parser import Parser


@pytest.mark.parametrize(
    ("text", "kind", "category"),
    [
        ("救命！我哋棟樓電梯有人困咗喺入面！", "major", "casualty"),
        ("隔壁單元有個阿伯暈低咗，好多人圍住佢，有冇人叫咗白車", "major", "casualty"),
        ("樓下有兩個後生仔打交，打到頭都爆咗", "major", "violence"),
        ("呢度啲垃圾成個禮拜冇人收，臭到死", "basic", "sanitation"),
        ("冇嘢報，今日一切正常", "zero_report", None),
    ],
)
def test_cantonese_reads_as_standard_chinese(text: str, kind: str, category: str | None) -> None:
    result = parse(text, role="leader" if kind == "zero_report" else "resident")
    assert (result.kind, result.category) == (kind, category)


def test_the_message_is_kept_as_written() -> None:
    assert parse("阿伯暈低咗", role="resident").text == "阿伯晕低咗"  # simplified, not translated


def _lexicon_copy(tmp_path: Path) -> Path:
    target = tmp_path / "parser"
    shutil.copytree(default_lexicon_dir(), target)
    return target


def test_the_dialect_file_is_optional(tmp_path: Path) -> None:
    lexicon = _lexicon_copy(tmp_path)
    (lexicon / "dialect.yaml").unlink()
    result = Parser(lexicon).parse("阿伯暈低咗", role="resident")
    assert result.kind != "major"  # 暈低 is no longer read as 晕倒
    assert Parser(lexicon).parse("有个老人晕倒了", role="resident").kind == "major"


def test_a_broken_dialect_file_is_refused_with_its_name(tmp_path: Path) -> None:
    lexicon = _lexicon_copy(tmp_path)
    (lexicon / "dialect.yaml").write_text("words:\n  - 暈低\n  - 咗\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dialect\.yaml"):
        Parser(lexicon)
