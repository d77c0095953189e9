"""The speed-ups must not change a single match: prefiltered regexes, the bucketed keyword
scan, the NFKC fast path and the no-empty-match time regex are compared with plain `re`."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.parsing import default_parser
from handlers.parsing.firstchars import (
    first_chars,
    prefilter,
    required_texts,
    second_chars,
    specialize,
    specialize_pair,
)
from handlers.parsing.lexicon import CategorySet, _alternation, _read, default_lexicon_dir, scan
from handlers.parsing.normalize import nfkc
from handlers.parsing.times import _TIME

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "messages.jsonl"


@pytest.mark.parametrize(
    ("pattern", "chars", "at_start"),
    [
        ("abc", "a", False),
        ("(?<!x)(?<!yz)ab(?!c)", "a", False),
        ("(?:a|b)c|d", "abd", False),
        ("a?b", "ab", False),
        ("x{0,3}y", "xy", False),
        ("x{2}y", "x", False),
        ("[a-c]x", "abc", False),
        (r"\.a|\u4e00", ".一", False),
        ("(?P<n>a)|b", "ab", False),
        ("^(?:好|嗯)", "", True),
        ("(?:^a)?b", "b", True),
        ("{y", "{", False),
        ("a[^b]?c", "a", False),
        (r"a\Wb", "a", False),
    ],
)
def test_first_chars(pattern: str, chars: str, at_start: bool) -> None:
    firsts = first_chars(pattern)
    assert firsts is not None
    assert firsts.chars == frozenset(chars)
    assert firsts.at_start == at_start


@pytest.mark.parametrize(
    "pattern",
    ["a*", "a?", r"\d", r"\s*x", "[^a]b", ".x", "(?i)a", "(?P<n>x)?(?P=n)y", "(?=a)", "(?(1)a|b)", "x|"],
)
def test_first_chars_unknown_or_unbounded(pattern: str) -> None:
    assert first_chars(pattern) is None


def test_second_chars() -> None:
    assert second_chars("abc") == {"a": frozenset("b")}
    assert second_chars("(?<![不没])着火") == {"着": frozenset("火")}
    assert second_chars("a|ab") == {"a": None}  # may end after one character
    assert second_chars("没(?!有)") == {"没": None}
    assert second_chars("x?y") == {"x": frozenset("y"), "y": None}
    assert second_chars("[0-9]+岁") == dict.fromkeys("0123456789", frozenset("0123456789岁"))
    assert second_chars(r"\d") is None


def test_specialize_keeps_only_branches_that_can_start() -> None:
    assert specialize("(?:孩子|小孩|老人)[^,]{0,3}丢了", "小") == "(?:小孩)[^,]{0,3}丢了"
    assert specialize("(?<!x)(?:ab|cd)e|cf", "c") == "(?<!x)(?:cd)e|cf"
    assert specialize("(?:ab|c)?d", "d") == "(?:ab|c)?d"  # a skippable group stays whole
    assert specialize("(a|b)c", "a") == "(a|b)c"  # capturing groups are never touched


def test_specialize_pair_keeps_the_branches_that_can_begin_with_both_characters() -> None:
    assert specialize_pair("(?:孩子|小孩|小狗)[^,]{0,3}丢了", "小", "孩") == "(?:小孩)[^,]{0,3}丢了"
    assert specialize_pair("ab|ac|a", "a", "b") == "ab|a"  # a may end after one character
    assert specialize_pair("(?<!x)(?:ab|ad)e|cf", "a", "d") == "(?<!x)(?:ad)e"
    assert specialize_pair("(?:ab|a)c", "a", "c") == "(?:a)c"  # what follows the group counts
    assert specialize_pair("(?:a|b)?c", "c", "x") == "(?:a|b)?c"  # a skippable group stays whole
    assert specialize_pair("(?>ab|ac)d", "a", "c") == "(?>ac)d"  # atomic stays atomic
    assert specialize_pair("(a|b)c", "a", "c") == "(a|b)c"  # capturing groups are never touched


def test_prefilter_skips_literal_lists_and_gates_the_rest() -> None:
    assert prefilter("(?:防止)|(?:预防)") == "(?:防止)|(?:预防)"  # re finds these itself
    assert prefilter("(?:(?<!从)没有)|(?:无)") == "(?=[无没])(?:(?:(?<!从)没有)|(?:无))"
    assert prefilter("^x|y?z") == "(?:^|(?=[yz]))(?:^x|y?z)"
    assert prefilter(r"\s*x") == r"\s*x"


def test_every_cue_list_has_known_start_characters() -> None:
    """A list whose possible first characters are unknown (a leading \\s, a `.`) gets neither
    the start-character rewrite nor a look-ahead gate: `re` then runs it in full at every
    position of every message. Write such a pattern with its characters listed instead."""
    cues = _read(default_lexicon_dir() / "cues.yaml")
    macros = {str(k): str(v) for k, v in (cues.get("macros") or {}).items()}
    for name, patterns in cues.items():
        if name == "macros" or not isinstance(patterns, list):
            continue
        for pattern in patterns:
            firsts = first_chars(_alternation([pattern], macros))
            assert firsts is not None and firsts.chars is not None, (name, pattern)


# --- equivalence with plain `re` over the real lexicon ------------------------------------


@cache
def _corpus() -> list[str]:
    if not CORPUS.exists():
        return ["7栋2单元楼道堆放纸箱", "十二号楼三单元二〇三室门口着火了！", "今日巡查无异常，零报告"]
    import json

    return [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


@cache
def _lists() -> list[tuple[str, re.Pattern[str], re.Pattern[str]]]:
    """(name, compiled as the parser uses it, plain alternation) for every cue list."""
    directory = default_lexicon_dir()
    cues = _read(directory / "cues.yaml")
    macros = {str(k): str(v) for k, v in (cues.get("macros") or {}).items()}
    lexicon = default_parser().lexicon
    out = []
    for name, patterns in cues.items():
        compiled = lexicon.cues.get(name)
        if name != "macros" and isinstance(patterns, list) and compiled is not None:
            out.append((name, compiled, re.compile(_alternation(patterns, macros))))
    return out


@cache
def _labelled() -> list[str]:
    """Every eighth text of the labelled set (tests/parser/data): a few thousand real messages."""
    import json

    path = Path(__file__).resolve().parent / "data" / "second_author.jsonl"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line)["text"] for line in lines[::8]]


@cache
def _alphabet() -> str:
    lexicon = default_parser().lexicon
    chars = set("".join(_corpus())) | set(",。;!?:\n 0123456789")
    for cats in (lexicon.majors, lexicon.basics):
        chars |= set(cats.sources)
        for key in cats.start_keys:
            chars |= set(key)
        chars |= set("".join(required_texts(cats.pattern, rare=True) or ()))  # what a `gate` looks for
        chars |= set("".join(cats.gate_texts))
    chars |= set("".join("".join(needs) for needs in lexicon.cue_needs.values()))
    return "".join(sorted(chars))


def _texts() -> st.SearchStrategy[str]:
    corpus = st.sampled_from(_corpus())
    soup = st.text(alphabet=st.sampled_from(_alphabet()), max_size=40)
    return st.lists(st.one_of(corpus, soup), min_size=1, max_size=3).map("".join)


def _same_scan(cats: CategorySet, text: str) -> None:
    plain = [(m.span(), m.lastgroup) for m in re.finditer(cats.pattern, text)]
    assert [(m.span(), m.lastgroup) for _pos, m in cats.matches(text)] == plain
    assert [(m.span(), m.lastgroup) for m in scan(cats, text)] == plain


def test_keyword_scan_equals_plain_regex_on_corpus() -> None:
    lexicon = default_parser().lexicon
    for text in _corpus():
        for cats in (lexicon.majors, lexicon.basics):
            _same_scan(cats, text)


@pytest.mark.parametrize(
    "text",
    [
        "😀😀楼道着火了",  # astral characters: the automaton counts characters, not UTF-8 bytes
        "a😀b煤气泄漏😀着火,12岁小孩掉下去了",
        "𠀀𠀁着火了有人被困",
        "é一é一着火了",  # Latin-1 and CJK mixed
        "电话1381234567812岁孩子不见了",  # a long digit run right before 12岁
        "8栋1502室门口有200多人聚集",
    ],
)
def test_keyword_scan_equals_plain_regex_on_mixed_scripts(text: str) -> None:
    lexicon = default_parser().lexicon
    for cats in (lexicon.majors, lexicon.basics):
        _same_scan(cats, text)
    assert lexicon.majors.matches(text), "each of these has a major keyword"


@settings(max_examples=300, deadline=None)
@given(_texts())
def test_keyword_scan_equals_plain_regex(text: str) -> None:
    lexicon = default_parser().lexicon
    for cats in (lexicon.majors, lexicon.basics):
        _same_scan(cats, text)


@settings(max_examples=300, deadline=None)
@given(_texts())
def test_prefiltered_cues_equal_plain_regex(text: str) -> None:
    for name, compiled, plain in _lists():
        got = [m.span() for m in compiled.finditer(text)]
        assert got == [m.span() for m in plain.finditer(text)], name


def _same_cue_lists(text: str) -> None:
    cues = default_parser()._classifier._cues
    for name, _compiled, plain in _lists():
        assert [m.span() for m in cues.iter(name, text)] == [m.span() for m in plain.finditer(text)], name
        if name in cues.search:
            assert (cues.search[name](text) is None) == (plain.search(text) is None), name


@settings(max_examples=300, deadline=None)
@given(_texts())
def test_gated_cue_lists_find_what_plain_regexes_find(text: str) -> None:
    """The cue gate (one native pass for the texts each list needs) only skips searches that
    would find nothing: each list's search and scan give what its plain alternation gives."""
    _same_cue_lists(text)


def test_gated_cue_lists_find_what_plain_regexes_find_on_corpus() -> None:
    """The same on every corpus message and the labelled set: random texts seldom hold what a
    rare list (news, drills) needs, these do."""
    for text in _corpus() + _labelled():
        _same_cue_lists(text)


def test_the_cue_gate_skips_lists_whose_texts_are_absent() -> None:
    cues = default_parser()._classifier._cues
    assert cues.absent("news", "楼道灯坏了,麻烦物业来修一下")
    assert not cues.absent("news", "看新闻说隔壁小区着火了")
    assert cues.search["news"]("看新闻说隔壁小区着火了") is not None


def test_bucket_sources_compile() -> None:
    lexicon = default_parser().lexicon
    for cats in (lexicon.majors, lexicon.basics):
        cats.compile_all()
        assert set(cats.buckets) == set(cats.sources)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
def test_nfkc_fast_path(text: str) -> None:
    # NFKC, but for circled list numbers, which become (1) rather than a bare 1
    circled = re.sub("[\u2460-\u2473]", lambda m: f"({ord(m.group(0)) - 0x245F})", text)
    assert nfkc(text) == unicodedata.normalize("NFKC", circled)


def test_circled_list_numbers_keep_apart() -> None:
    assert nfkc("①7栋②⑳") == "(1)7栋(2)(20)"


@settings(max_examples=200, deadline=None)
@given(_texts())
def test_time_regex_skips_only_empty_matches(text: str) -> None:
    plain = re.compile(_TIME.pattern[: _TIME.pattern.rindex("(?(month)")])
    expected = [m.span() for m in plain.finditer(text) if m.end() > m.start()]
    assert [m.span() for m in _TIME.finditer(text)] == expected


def test_the_majors_gate_skips_messages_without_a_needed_text() -> None:
    """majors.yaml sets `gate: true`: 楼, 水 and 小区 start major keywords, but without one of the
    texts every major keyword needs, no keyword scan runs (and none could match)."""
    majors = default_parser().lexicon.majors
    assert majors.gate is not None and default_parser().lexicon.basics.gate is None
    assert majors.gate_needs is not None
    for text in ("楼道灯坏了", "小区停水了", "11号楼02室"):
        assert majors.automaton is not None and majors.automaton.find_matches_as_indexes(text)
        found = {index for index, _start, _end in majors.gate.find_matches_as_indexes(text, overlapping=True)}
        assert found.isdisjoint(majors.gate_needs)
        assert majors.matches(text) == []
    assert majors.matches("楼下有人晕倒了")  # 晕倒 passes the gate and is a keyword


def test_a_candidate_key_is_tried_only_with_a_text_its_patterns_need() -> None:
    """Under the key 12 (12岁…) every pattern needs more than the digits: 岁 among others; under
    the key 老人 (老人倒在…) the texts after it, not 老人 itself."""
    majors = default_parser().lexicon.majors

    def needs(key: str) -> set[str]:
        found = majors.key_needs[majors.keys.index(key)]
        assert found is not None
        return {majors.gate_texts[index] for index in found}

    assert "岁" in needs("12") and not any(text in "12" for text in needs("12"))
    assert "倒在" in needs("老人") and not any(text in "老人" for text in needs("老人"))
    # a candidate skipped for want of 岁 still leaves the real match after it
    assert [m.group() for _start, m in majors.matches("12号楼的12岁孩子不见了")] != []
    assert majors.matches("12号楼12层") == []


def test_the_gate_texts_are_the_rarest_a_match_needs() -> None:
    """For `in` tests the fewest texts win; for the majors' Aho-Corasick gate, where many texts
    cost no more than one, the least likely: 了 is in nearly every message."""
    pattern = "(?:伤着|弄伤|划伤)了"
    assert required_texts(pattern) == {"了"}
    assert required_texts(pattern, rare=True) == {"伤着", "弄伤", "划伤"}
    assert required_texts("(?:水|河水|洪水)(?:漫|涌|灌)", rare=True) == {"漫", "涌", "灌"}
