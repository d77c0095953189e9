"""Property-based and stress tests: the parser never raises and always returns a valid kind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.parsing import mask_pii, parse
from handlers.parsing.result import KINDS

CONFIG = Path(__file__).resolve().parents[2] / "config"

ROLES = st.sampled_from([None, "leader", "member", "resident", "merchant", "supervisor"])
CHUNKS = st.sampled_from(
    ["着火", "零报告", "#", "＃", "/", "无", "没有", "7栋", "十二号楼", "「", "」", "\n- - - - - -\n",
     "138", "1234", "5678", "@", "\u2005", "明天下午三点", "前", "R12", "單元", "\ud800", "\x00", "。", "，"]
)  # fmt: skip


def _check(text: str, role: str | None) -> None:
    result = parse(text, role=role)
    assert result.kind in KINDS
    assert isinstance(result.masked_text, str)
    result.to_json()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None)), ROLES)
def test_arbitrary_unicode_never_raises(text: str, role: str | None) -> None:
    _check(text, role)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=())), ROLES)
def test_surrogates_and_controls_never_raise(text: str, role: str | None) -> None:
    _check(text, role)
    assert isinstance(mask_pii(text), str)


@settings(max_examples=300, deadline=None)
@given(st.lists(CHUNKS, max_size=30).map("".join), ROLES)
def test_keyword_soup_never_raises(text: str, role: str | None) -> None:
    _check(text, role)


@settings(max_examples=100, deadline=None)
@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.text(max_size=20))
def test_mobile_never_leaks(phone: str, noise: str) -> None:
    masked = parse(f"电话 {phone} {noise}").masked_text
    assert phone not in masked


def test_one_megabyte_message() -> None:
    big = ("楼道堆放杂物，电话13812345678。" * 40000)[:1_000_000]
    started = time.perf_counter()
    result = parse(big, role="resident")
    elapsed = time.perf_counter() - started
    assert result.kind in KINDS
    assert "13812345678" not in result.masked_text
    assert result.masked_text.count("138****5678") > 30000  # masked all the way through
    assert elapsed < 5.0


def test_non_string_input_does_not_raise() -> None:
    assert parse(None).kind == "other"
    assert parse(12345).kind in KINDS


@pytest.mark.parametrize("path", sorted(CONFIG.rglob("*.yaml")), ids=lambda p: p.name)
def test_config_files_read_the_same_without_libyaml(path: Path) -> None:
    """The parser reads its YAML with libyaml where PyYAML has it, else with the pure loader,
    which is stricter (an unquoted `没有?大碍` in a flow list is an error to it): the data must
    be the same either way, or a machine without libyaml would not start."""
    text = path.read_text(encoding="utf-8")
    pure = yaml.load(text, Loader=yaml.SafeLoader)
    assert pure == yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def test_a_key_given_twice_in_a_parser_file_is_refused(tmp_path: Path) -> None:
    """YAML would keep the later `fire:` under `suppress:` and drop every rule of the earlier
    without a word; the parser refuses to start instead, naming the key and the line."""
    import shutil

    from handlers.parsing import Parser

    shutil.copytree(CONFIG / "parser", tmp_path / "parser")
    majors = tmp_path / "parser" / "majors.yaml"
    text = majors.read_text(encoding="utf-8")
    repeated = text.replace("suppress:\n", "suppress:\n  fire:\n    - when: [烟花]\n", 1)
    majors.write_text(repeated, encoding="utf-8")
    with pytest.raises(yaml.constructor.ConstructorError, match="重复的键「fire」") as caught:
        Parser(tmp_path / "parser")
    assert caught.value.problem_mark is not None and "majors.yaml" in str(caught.value)
    Parser(CONFIG / "parser")  # the files as shipped have no such repeat


def test_a_look_behind_of_varying_width_is_refused_at_load(tmp_path: Path) -> None:
    """Keyword regexes are compiled per start character on first use: a look-behind that `re`
    refuses (of varying width) must stop the parser at load, not turn every message that reaches
    it into `other` later."""
    import shutil

    from handlers.parsing import Parser

    shutil.copytree(CONFIG / "parser", tmp_path / "parser")
    majors = tmp_path / "parser" / "majors.yaml"
    text = majors.read_text(encoding="utf-8")
    broken = text.replace("    weak:\n", "    weak:\n      - 越来越冲(?<!(?:病|痴呆)越来越冲)\n", 1)
    majors.write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError, match="词库规则有误"):
        Parser(tmp_path / "parser")


def test_a_macro_that_uses_a_later_macro_is_refused_at_load(tmp_path: Path) -> None:
    """Macros expand once, in file order: a macro naming one defined above it (as C is) would stay
    the literal text {C} and never match. The parser refuses to start instead, naming the macro."""
    import shutil

    from handlers.parsing import Parser

    shutil.copytree(CONFIG / "parser", tmp_path / "parser")
    cues = tmp_path / "parser" / "cues.yaml"
    text = cues.read_text(encoding="utf-8")
    # the last macro (after C), then a cue that uses it
    late = text.replace("negation:\n", "  LATE: '着火{C}{0,4}了'\nnegation:\n  - '{LATE}'\n", 1)
    cues.write_text(late, encoding="utf-8")
    with pytest.raises(ValueError, match=r"\{C\} is used by a macro defined after it"):
        Parser(tmp_path / "parser")
