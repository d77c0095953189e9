"""The chatter model: a second opinion on basic versus chat (handlers/parsing/chatter.py)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from handlers.parsing import Parser
from handlers.parsing.chatter import ChatterModel, features
from handlers.parsing.lexicon import default_lexicon_dir

CHAT = "昨天带孙子去公园放风筝，风大得很，玩得可开心了"  # the rules: other
LAMP = "麻烦问一下，12栋东边那个路灯是不是该换了，晚上一片漆黑"  # the rules: basic facility
MAJOR = "路灯杆倒了砸到人了，头上流了好多血，快打120"


def _lexicon_with(tmp_path: Path, model: str | None) -> Path:
    """A copy of the shipped lexicon with `model` as its chatter.tsv (None: no model)."""
    target = tmp_path / "lexicon"
    shutil.copytree(default_lexicon_dir(), target)
    (target / "chatter.tsv").unlink(missing_ok=True)
    if model is not None:
        (target / "chatter.tsv").write_text(model, encoding="utf-8")
    return target


def _model(weights: dict[str, float], threshold: float = 16) -> str:
    lines = ["# test model", "bias\t0", "unseen\t0", f"threshold\t{threshold}"]
    return "\n".join(lines + [f"{f}\t{w}" for f, w in weights.items()]) + "\n"


def test_the_shipped_model_loads_and_is_asked() -> None:
    parser = Parser()
    model = parser.chatter
    assert model is not None and len(model.weights) > 5000
    assert all(math.isfinite(v) for v in (model.bias, model.unseen, model.threshold))
    assert parser.chatter_input(CHAT, "resident")  # chat the rules read: open to its opinion
    assert parser.chatter_input("#查询 R12", "resident") is None  # a command: never asked
    assert parser.chatter_input("通知：明天上午9点停水，请大家提前储水", "supervisor") is None  # a notice


def test_it_turns_chat_into_a_report_and_a_report_into_chat_when_sure(tmp_path: Path) -> None:
    rules = Parser(_lexicon_with(tmp_path / "a", None))
    assert rules.chatter is None
    assert rules.parse(CHAT, role="resident").kind == "other"
    assert (rules.parse(LAMP, role="resident").kind, rules.parse(LAMP).category) == ("basic", "facility")

    sure = Parser(_lexicon_with(tmp_path / "b", _model({"风筝": 50, "路灯": -50})))
    flipped = sure.parse(CHAT, role="resident")
    assert (flipped.kind, flipped.category, flipped.handled) == ("basic", "other", False)
    assert sure.parse(LAMP, role="resident").kind == "other"
    assert sure.parse(MAJOR, role="resident").kind == "major"  # never its call

    unsure = Parser(_lexicon_with(tmp_path / "c", _model({"风筝": 10, "路灯": -10})))
    assert unsure.parse(CHAT, role="resident").kind == "other"
    assert unsure.parse(LAMP, role="resident").kind == "basic"


def test_the_role_counts(tmp_path: Path) -> None:
    parser = Parser(_lexicon_with(tmp_path, _model({"ROLE=leader": 50})))
    assert parser.parse(CHAT, role="leader").kind == "basic"
    assert parser.parse(CHAT, role="resident").kind == "other"


def test_score_reads_what_training_reads() -> None:
    """`score` walks the text in place; training counts `features`: the two must agree, and
    numerals, punctuation and spacing must not matter."""
    model = Parser().chatter
    assert model is not None
    for text in (CHAT, LAMP, "七栋二单元 楼道灯坏了!!!", "7栋2单元，楼道灯坏了！！！", "a_b c?d", "🔥" * 300):
        for role in (None, "leader"):
            want = model.bias + sum(model.weights.get(f, model.unseen) for f in features(text, role))
            assert model.score(text, role) == pytest.approx(want)
    assert model.score("七栋二单元 楼道灯坏了", None) == pytest.approx(
        model.score("7栋2单元，楼道灯坏了", None)
    )


def test_a_broken_model_file_is_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "chatter.tsv"
    path.write_text("# m\nbias\t0\nunseen\t0\nthreshold\t16\n路灯\tnot-a-number\n", encoding="utf-8")
    with pytest.raises(ValueError, match="第 5 行"):
        ChatterModel.load(path)
    path.write_text("# m\nbias\t0\n路灯\t1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="threshold"):
        ChatterModel.load(path)
    assert ChatterModel.load(tmp_path / "absent.tsv") is None
