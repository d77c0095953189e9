"""Loads the keyword data in config/parser/*.yaml once and compiles it into regexes.

All words live in data so a community can extend them without touching code; this module
only knows the file layout (documented in each file's comment header).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from re import _constants as _sc  # type: ignore[attr-defined]
from re import _parser as _sp  # type: ignore[attr-defined]
from typing import Any

import yaml

try:  # the C loader is several times faster; fall back when libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


def default_lexicon_dir() -> Path:
    """config/parser next to the installed `config` package (works in editable installs)."""
    import config

    return Path(config.__file__).resolve().parent / "parser"


def first_chars(pattern: str) -> frozenset[str] | None:
    """Every character a match of `pattern` can start with; None when that is unbounded.

    Used to build a one-character-class "trigger" regex: Python's `re` tries every branch of
    a big alternation at every position, but finds candidate positions for a character class
    in C. Scanning only candidate positions makes keyword matching several times faster.
    """
    try:
        return _first(list(_sp.parse(pattern).data))
    except Exception:  # unknown opcode layout: just do not prefilter
        return None


def _first(items: list[Any]) -> frozenset[str] | None:
    for index, (op, av) in enumerate(items):
        if op in (_sc.ASSERT, _sc.ASSERT_NOT, _sc.AT):
            continue  # zero width: the next item decides
        if op is _sc.LITERAL:
            return frozenset((chr(av),))
        if op is _sc.IN:
            return _charset(av)
        if op is _sc.SUBPATTERN:
            return _first(list(av[-1].data) + items[index + 1 :])
        if op is _sc.BRANCH:
            out: set[str] = set()
            for branch in av[1]:
                sub = _first(list(branch.data) + items[index + 1 :])
                if sub is None:
                    return None
                out |= sub
            return frozenset(out)
        if op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT):
            low, _high, sub_pattern = av
            head = _first(list(sub_pattern.data))
            if head is None:
                return None
            if low > 0:
                return head
            rest = _first(items[index + 1 :])
            return None if rest is None else head | rest
        return None
    return None  # may match the empty string anywhere


def _charset(av: list[Any]) -> frozenset[str] | None:
    out: set[str] = set()
    for op, value in av:
        if op is _sc.LITERAL:
            out.add(chr(value))
        elif op is _sc.RANGE and value[1] - value[0] < 2000:
            out.update(chr(c) for c in range(value[0], value[1] + 1))
        else:
            return None
    return frozenset(out)


def trigger_for(patterns: list[str]) -> re.Pattern[str] | None:
    chars: set[str] = set()
    for pattern in patterns:
        first = first_chars(pattern)
        if first is None:
            return None
        chars |= first
    if not chars:
        return None
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")


def scan(cats: CategorySet, text: str) -> Iterator[re.Match[str]]:
    """Same matches as `cats.regex.finditer(text)` (non-overlapping, leftmost), but only
    candidate positions are tried, each with the few patterns that can start with that
    character (compiled on first use)."""
    if cats.regex is None:
        return
    if cats.trigger is None:
        yield from cats.regex.finditer(text)
        return
    pos = 0
    length = len(text)
    search = cats.trigger.search
    while pos < length:
        candidate = search(text, pos)
        if candidate is None:
            return
        start = candidate.start()
        found = cats.bucket(text[start]).match(text, start)
        if found is None:
            pos = start + 1
            continue
        yield found
        pos = found.end() if found.end() > start else start + 1


@dataclass(slots=True)
class CategorySet:
    """Categories compiled into ONE alternation regex with a named group per (category, weight).

    One pass per message instead of one per keyword; `lastgroup` tells which category hit.
    """

    regex: re.Pattern[str] | None
    groups: dict[str, tuple[str, int]]  # group name -> (category, weight)
    priority: list[str]
    threshold: int = 1
    trigger: re.Pattern[str] | None = None
    suppress: dict[str, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = field(default_factory=dict)
    # first character -> [(group name, pattern)] in group order; compiled lazily into _compiled
    starts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _compiled: dict[str, re.Pattern[str]] = field(default_factory=dict)

    def bucket(self, char: str) -> re.Pattern[str]:
        regex = self._compiled.get(char)
        if regex is None:
            by_group: dict[str, list[str]] = {}
            for name, pattern in self.starts.get(char, []):
                by_group.setdefault(name, []).append(pattern)
            body = "|".join(f"(?P<{name}>{'|'.join(ps)})" for name, ps in by_group.items())
            regex = re.compile(body or "(?!)")
            self._compiled[char] = regex
        return regex


@dataclass(slots=True)
class Lexicon:
    majors: CategorySet
    basics: CategorySet
    cues: dict[str, re.Pattern[str] | None]
    commands: dict[str, str]  # command word -> code, longest words first
    grade_commands: frozenset[str]
    ratings: list[tuple[str, int]]  # longest first
    ref_prefixes: str
    grade_default: dict[str, str]
    grade_keywords: list[tuple[str, re.Pattern[str] | None]]  # (grade, regex), C first


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_Loader)  # a *safe* loader: plain data only
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def _expand(pattern: str, macros: dict[str, str]) -> str:
    for name, value in macros.items():
        pattern = pattern.replace("{" + name + "}", value)
    return pattern


def _alternation(patterns: list[Any], macros: dict[str, str]) -> str:
    patterns = [str(p) if isinstance(p, int | float) else p for p in patterns]
    for p in patterns:
        if not isinstance(p, str):
            # e.g. an unquoted pattern ending in ":" that YAML read as a mapping
            raise ValueError(f"lexicon pattern must be a string, got {p!r}: quote it in the YAML file")
    parts = [_expand(p, macros) for p in patterns if p.strip()]
    # Longest first: at one position the longer phrase should win (煤气味 over 气味).
    parts.sort(key=len, reverse=True)
    return "|".join(f"(?:{p})" for p in parts)


def _compile_list(patterns: list[Any] | None, macros: dict[str, str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile(_alternation(patterns, macros))


def _category_set(data: dict[str, Any], prefix: str, macros: dict[str, str]) -> CategorySet:
    pieces: list[str] = []
    expanded: list[str] = []
    starts: dict[str, list[tuple[str, str]]] = {}
    groups: dict[str, tuple[str, int]] = {}
    for category, lists in (data.get("categories") or {}).items():
        for strength, weight in (("strong", 2), ("weak", 1)):
            patterns = (lists or {}).get(strength) or []
            if not patterns:
                continue
            name = f"{prefix}_{category}_{strength}"
            groups[name] = (category, weight)
            group_patterns = sorted((_expand(str(p), macros) for p in patterns), key=len, reverse=True)
            expanded.extend(group_patterns)
            for pattern in group_patterns:
                for char in first_chars(pattern) or ():
                    starts.setdefault(char, []).append((name, f"(?:{pattern})"))
            pieces.append(f"(?P<{name}>{_alternation(patterns, macros)})")
    suppress: dict[str, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {}
    for category, rule in (data.get("suppress") or {}).items():
        suppress[category] = (
            _compile_list(rule.get("when"), macros),
            _compile_list(rule.get("unless"), macros),
        )
    cats = CategorySet(
        regex=re.compile("|".join(pieces)) if pieces else None,
        groups=groups,
        priority=list(data.get("priority") or []),
        threshold=int(data.get("threshold", 1)),
        trigger=trigger_for(expanded),
        suppress=suppress,
        starts=starts,
    )
    return cats  # buckets compile on first use: eager compiling triples the import time


def load_lexicon(directory: Path | None = None) -> Lexicon:
    """Read and compile every lexicon file; raises ValueError/re.error on a broken file."""
    directory = directory or default_lexicon_dir()
    cues_data = _read(directory / "cues.yaml")
    macros = {str(k): str(v) for k, v in (cues_data.get("macros") or {}).items()}
    cues = {
        str(name): _compile_list(patterns, macros)
        for name, patterns in cues_data.items()
        if name != "macros" and isinstance(patterns, list)
    }
    cmd_data = _read(directory / "commands.yaml")
    words = [(str(w), str(code)) for code, ws in (cmd_data.get("words") or {}).items() for w in ws]
    words.sort(key=lambda pair: len(pair[0]), reverse=True)
    ratings = sorted(
        ((str(w), int(v)) for w, v in (cmd_data.get("ratings") or {}).items()),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
    grade_data = _read(directory / "grades.yaml")
    grade_keywords = [
        (grade, _compile_list((grade_data.get("keywords") or {}).get(grade), macros))
        for grade in ("C", "B", "A")
    ]
    return Lexicon(
        majors=_category_set(_read(directory / "majors.yaml"), "m", macros),
        basics=_category_set(_read(directory / "basic.yaml"), "b", macros),
        cues=cues,
        commands=dict(words),
        grade_commands=frozenset(str(c) for c in cmd_data.get("grade_commands") or []),
        ratings=ratings,
        ref_prefixes="".join(str(p) for p in cmd_data.get("ref_prefixes") or ["R", "M"]),
        grade_default={str(k): str(v) for k, v in (grade_data.get("default") or {}).items()},
        grade_keywords=grade_keywords,
    )
