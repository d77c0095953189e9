"""Signs of major situations inside frames (tests/parser/data/frames.yaml).

Each sign is written inside every frame, so a rule has to hold for the sign and the frame
apart, not for the one sentence someone labelled: 未发现燃气泄漏 and 去年那次燃气泄漏之后 are
never major; 7栋燃气泄漏了！ and 燃气泄漏了，快来人 always are, as gas.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from handlers.parsing import Parser

_FRAMES_FILE = Path(__file__).resolve().parent / "data" / "frames.yaml"
FRAMES = yaml.safe_load(_FRAMES_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def parser() -> Parser:
    return Parser()


def test_a_sign_denied_past_elsewhere_or_imagined_is_never_major(parser: Parser) -> None:
    negated = FRAMES["negated"]
    texts = [frame.format(x=sign) for sign in negated["signs"] for frame in negated["frames"]]
    majors = [text for text in texts if parser.parse(text, role="leader").kind == "major"]
    assert len(texts) > 500 and not majors, majors[:20]


@pytest.mark.parametrize("category", sorted(FRAMES["reported"]["signs"]))
def test_a_sign_told_as_it_happens_is_major_of_its_category(parser: Parser, category: str) -> None:
    reported = FRAMES["reported"]
    wrong = []
    for sign in reported["signs"][category]:
        for frame in reported["frames"]:
            text = frame.format(p=sign)
            got = parser.parse(text, role="resident")
            if (got.kind, got.category) != ("major", category):
                wrong.append(f"{text}: {got.kind} {got.category}")
    assert not wrong, "\n".join(wrong)
