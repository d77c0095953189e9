"""The speed-ups of the hot path must not change a single result: derived regexes, the `in`
gates of cue lists and the cheap pre-checks that let address, time and PII extraction skip
a message are all compared with the plain rules."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.parsing import address, default_parser, pii, times
from handlers.parsing.firstchars import derive, first_chars, required_texts
from handlers.parsing.lexicon import _alternation, _read, default_lexicon_dir
from handlers.parsing.numerals import CN_NUM_CHARS

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "messages.jsonl"
# Pieces that exercise the pre-checks: numerals next to markers, times, phone numbers.
PIECES = [
    "7栋", "十二号楼", "3单元", "402室", "7-2-402", "三楼", "11F", "负一层", "1203", "住",
    "明天下午三点", "今晚8点前", "周五前", "11月25日", "8:30", "月底", "今夜", "星期三",
    "13812345678", "138-1234-5678", "010-12345678", "110101199003074514", " ", "，", "前",
    "着火", "没有", "零报告", "重大情况:无", "【通知】", "请大家注意", "待处理", "已处理",
]  # fmt: skip


@cache
def _corpus() -> list[str]:
    if not CORPUS.exists():
        return ["7栋2单元楼道堆放纸箱", "十二号楼三单元二〇三室门口着火了！", "今日巡查无异常，零报告"]
    return [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def _texts() -> st.SearchStrategy[str]:
    soup = st.text(
        alphabet=st.sampled_from("".join(PIECES) + "0123456789一二三十百零幺么号楼栋层室:-"), max_size=30
    )
    parts = st.one_of(st.sampled_from(_corpus()), st.sampled_from(PIECES), soup)
    return st.lists(parts, min_size=1, max_size=4).map("".join)


@cache
def _macros() -> dict[str, str]:
    cues = _read(default_lexicon_dir() / "cues.yaml")
    return {str(k): str(v) for k, v in (cues.get("macros") or {}).items()}


@cache
def _keyword_patterns() -> list[str]:
    out: list[str] = []
    for name in ("majors.yaml", "basic.yaml"):
        for lists in (_read(default_lexicon_dir() / name).get("categories") or {}).values():
            for strength in ("strong", "weak"):
                out.append(_alternation((lists or {}).get(strength) or [], _macros()))
    return [p for p in out if p]


# --- derive -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "char", "rest"),
    [
        ("着火", "着", "火"),
        ("(?<![不没])着火", "着", "(?<=(?<![不没])着)火"),
        ("(?:孩子|小孩|老人)丢了", "小", "(?:孩)丢了"),
        ("[0-9]+岁", "3", "[0-9]{0,}岁"),
        ("a{2,5}?b", "a", "a{1,4}?b"),
        ("a|ab|b", "a", "|b"),
        ("臭", "臭", ""),
        ("xy", "z", "(?!)"),
    ],
)
def test_derive(pattern: str, char: str, rest: str) -> None:
    assert derive(pattern, char) == rest


@pytest.mark.parametrize("pattern", ["(a)b", "x?y", "(?:ab)+c", ".x", "^ab"])
def test_derive_gives_up_on_what_it_does_not_model(pattern: str) -> None:
    chars = "xyab"
    assert all(derive(pattern, c) is None for c in chars)


@settings(max_examples=150, deadline=None)
@given(_texts())
def test_derived_patterns_match_like_the_originals(text: str) -> None:
    for pattern in _keyword_patterns():
        firsts = first_chars(pattern)
        assert firsts is not None
        plain = re.compile(pattern)
        for pos, char in enumerate(text):
            if char not in firsts.chars:
                continue
            rest = derive(pattern, char)
            assert rest is not None
            got = re.compile(f"(?:{rest})").match(text, pos + 1)
            want = plain.match(text, pos)
            assert (got and got.end()) == (want and want.end()), (pattern, text, pos)


# --- required texts and the cue gates -----------------------------------------------------


def test_required_texts() -> None:
    assert required_texts("(?:通知|公告):") == {":"}
    assert required_texts("零报告|重大情况:?无") == {"零报告", "重大情况"}
    assert required_texts("x(?=y)z") == {"xz"}
    assert required_texts("a?b") == {"b"}
    assert required_texts("[ab]+") is None
    # a positive look-around asks the text for its words too; a negative one asks nothing
    assert required_texts("[0-9]+(?=起[^,]{0,6}(?:火|走失))") == {"起"}
    assert required_texts("(?<=共)[0-9]+") == {"共"}
    assert required_texts("[0-9]+(?!起)") is None


@settings(max_examples=300, deadline=None)
@given(_texts())
def test_cue_gates_only_skip_texts_without_a_match(text: str) -> None:
    lexicon = default_parser().lexicon
    for name, needles in lexicon.cue_needs.items():
        regex = lexicon.cues[name]
        assert regex is not None
        if regex.search(text) is not None:
            assert any(needle in text for needle in needles), (name, text)


@settings(max_examples=300, deadline=None)
@given(_texts())
def test_split_cue_searches_find_what_the_whole_list_finds(text: str) -> None:
    lexicon = default_parser().lexicon
    assert {"zero", "ack"} <= set(lexicon.cue_search)  # the lists with ^-anchored patterns
    for name, search in lexicon.cue_search.items():
        regex = lexicon.cues[name]
        assert regex is not None
        for probe in (text, "收到" + text, text + "一切正常", "正常"):
            assert (search(probe) is None) == (regex.search(probe) is None), (name, probe)


# The building and unit rules as first written, with the lookbehind in front: the rewritten
# ones (`address._numeral`) must find the same spans and numbers.
_CN = f"[{CN_NUM_CHARS}]"
_NUM = rf"(?:[0-9]{{1,3}}|{_CN}{{1,4}})"
_PLAIN_BUILDING = re.compile(
    rf"(?<![0-9{CN_NUM_CHARS}./-])(?:第)?({_NUM})\s*(?:号楼|号栋|栋|幢|#)|(?<![0-9./-])([0-9]{{1,3}})\s*座"
)
_PLAIN_UNIT = re.compile(rf"(?<![0-9{CN_NUM_CHARS}~至到-])({_NUM})\s*单元")
_ADDRESS_CHARS = "0123456789第号楼栋院幢#座单元 ./-~至到月一二三十百〇两"
_ADDRESS_SOUP = st.text(alphabet=st.sampled_from(_ADDRESS_CHARS), max_size=16)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(_texts(), _ADDRESS_SOUP))
def test_building_and_unit_rules_match_the_plain_lookbehind_form(text: str) -> None:
    assert [(m.span(), m.group(1) or m.group(2)) for m in _PLAIN_BUILDING.finditer(text)] == [
        (m.span(), m.group(1) or m.group(2) or m.group(3)) for m in address._BUILDING.finditer(text)
    ]
    assert [(m.span(), m[1]) for m in _PLAIN_UNIT.finditer(text)] == [
        (m.span(), m[1]) for m in address._UNIT.finditer(text)
    ]


# --- pre-checks -----------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(_texts())
def test_address_precheck_only_skips_texts_without_an_address(text: str) -> None:
    if not address.may_hold_address(text):
        assert address._building(text) is None
        assert address._unit(text) is None
        assert address._floor(text) is None
        assert address._room(text, True) is None
        assert address._TRIPLE.search(text) is None


@settings(max_examples=500, deadline=None)
@given(_texts())
def test_time_anchor_only_skips_texts_without_a_time(text: str) -> None:
    if times._ANCHOR.search(text) is None:
        accepted = [m for m in times._TIME.finditer(text) if m.end() > m.start() and times._accept(m, text)]
        assert accepted == []


@settings(max_examples=500, deadline=None)
@given(_texts())
def test_pii_precheck_only_skips_texts_without_pii(text: str) -> None:
    if pii._DIGIT_RUN.search(text) is None:
        assert list(pii._PII.finditer(text)) == []
