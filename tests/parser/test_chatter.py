"""The two second opinions (handlers/parsing/chatter.py): the chatter model on basic versus chat,
the alarm model on a major the rules' words missed."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from handlers.parsing import Parser
from handlers.parsing.chatter import ChatterModel, Opinions, features
from handlers.parsing.lexicon import default_lexicon_dir

CHAT = "昨天带孙子去公园放风筝，风大得很，玩得可开心了"  # the rules: other
LAMP = "麻烦问一下，12栋东边那个路灯是不是该换了，晚上一片漆黑"  # the rules: basic facility
MAJOR = "路灯杆倒了砸到人了，头上流了好多血，快打120"


def _lexicon_with(tmp_path: Path, model: str | None, name: str = "chatter.tsv") -> Path:
    """A copy of the shipped lexicon with `model` as its `name` (None: no such model)."""
    target = tmp_path / "lexicon"
    shutil.copytree(default_lexicon_dir(), target)
    (target / name).unlink(missing_ok=True)
    if model is not None:
        (target / name).write_text(model, encoding="utf-8")
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
    for text in (
        CHAT,
        LAMP,
        "七栋二单元 楼道灯坏了!!!",
        "7栋2单元，楼道灯坏了！！！",
        "a_b c?d",
        "🔥" * 300,
        "1,000元 12栋",
    ):
        for role in (None, "leader"):
            want = model.bias + sum(model.weights.get(f, model.unseen) for f in features(text, role))
            assert model.score(text, role) == pytest.approx(want)
    assert model.score("七栋二单元 楼道灯坏了", None) == pytest.approx(
        model.score("7栋2单元，楼道灯坏了", None)
    )
    # a number of two digits reads as one numeral, as the same number in words does
    assert model.score("十栋楼道灯坏了", None) == pytest.approx(model.score("10栋楼道灯坏了", None))
    assert model.score("二十三栋楼道灯坏了", None) == pytest.approx(model.score("23栋楼道灯坏了", None))


def test_a_broken_model_file_is_reported_by_line(tmp_path: Path) -> None:
    path = tmp_path / "chatter.tsv"
    path.write_text("# m\nbias\t0\nunseen\t0\nthreshold\t16\n路灯\tnot-a-number\n", encoding="utf-8")
    with pytest.raises(ValueError, match="第 5 行"):
        ChatterModel.load(path)
    path.write_text("# m\nbias\t0\n路灯\t1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="threshold"):
        ChatterModel.load(path)
    assert ChatterModel.load(tmp_path / "absent.tsv") is None


# A major told in words the rules have no sign for (a neighbour's cry heard through a wall), and
# the same words with the danger explained away.
UNHEARD = "隔壁阿姨喊了一声就没动静了，咚的一下，敲墙也不回"
EXPLAINED = "楼上两口子又打起来了，嘴上打，没动手"


def test_the_alarm_model_raises_what_the_rules_miss_when_sure(tmp_path: Path) -> None:
    rules = Parser(_lexicon_with(tmp_path / "a", None, "alarm.tsv"))
    assert rules.alarm is None and rules.parse(UNHEARD, role="resident").kind != "major"

    sure = Parser(_lexicon_with(tmp_path / "b", _model({"没动": 80, "动静": 80}, 50), "alarm.tsv"))
    raised = sure.parse(UNHEARD, role="resident")
    assert raised.kind == "major" and raised.category is not None
    assert sure.parse(CHAT, role="resident").kind == "other"  # unseen words: not sure
    assert sure.parse("#查询 R12", role="resident").kind == "command"  # never asked

    unsure = Parser(_lexicon_with(tmp_path / "c", _model({"没动": 20, "动静": 20}, 50), "alarm.tsv"))
    assert unsure.parse(UNHEARD, role="resident").kind != "major"


def test_the_alarm_model_defers_to_what_the_rules_know(tmp_path: Path) -> None:
    """Signs the rules explained away (没动手), news, drills, thanks and a thing already dealt
    with stay as the rules read them, however sure the model is."""
    model = _model({"打起": 99, "动手": 99, "着火": 99, "找到": 99}, 50)
    sure = Parser(_lexicon_with(tmp_path, model, "alarm.tsv"))
    assert sure.parse(EXPLAINED, role="resident").kind != "major"
    assert sure.parse("今天社区搞了消防演练，模拟3号楼着火疏散", role="leader").kind != "major"
    assert sure.parse("谢谢大家帮忙找，老人已经找到了，平安到家", role="resident").kind != "major"


def test_the_shipped_alarm_model_loads() -> None:
    parser = Parser()
    model = parser.alarm
    assert model is not None and len(model.weights) > 10000 and model.threshold >= 40
    assert parser.alarm_input("#查询 R12", "resident") is None
    assert parser.alarm_input("五单元电梯里有个老人倒了,不动了", None)


def test_one_walk_gives_both_models_scores() -> None:
    """`Opinions.scores` reads both models in one walk: it must agree with each model's own."""
    parser = Parser()
    chatter, alarm = parser.chatter, parser.alarm
    assert chatter is not None and alarm is not None
    both = Opinions(chatter, alarm)
    only_alarm = Opinions(None, alarm)
    for text in (CHAT, LAMP, MAJOR, UNHEARD, "七栋二单元 楼道灯坏了!!!", "a_b c?d", "🔥" * 300, ""):
        for role in (None, "leader", "resident"):
            chat, alarmed = both.scores(text, role)
            assert chat == pytest.approx(chatter.score(text, role))
            assert alarmed == pytest.approx(alarm.score(text, role))
            assert only_alarm.scores(text, role)[1] == pytest.approx(alarm.score(text, role))
