"""Loads the keyword data in config/parser/*.yaml once and compiles it into regexes.

All words live in data so a community can extend them without touching code; this module
only knows the file layout (documented in each file's comment header).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
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


@dataclass(slots=True)
class CategorySet:
    """Categories compiled into ONE alternation regex with a named group per (category, weight).

    One pass per message instead of one per keyword; `lastgroup` tells which category hit.
    """

    regex: re.Pattern[str] | None
    groups: dict[str, tuple[str, int]]  # group name -> (category, weight)
    priority: list[str]
    threshold: int = 1
    suppress: dict[str, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = field(default_factory=dict)


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
        data = yaml.load(fh, Loader=_Loader)  # noqa: S506 - CSafeLoader/SafeLoader only
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
    groups: dict[str, tuple[str, int]] = {}
    for category, lists in (data.get("categories") or {}).items():
        for strength, weight in (("strong", 2), ("weak", 1)):
            patterns = (lists or {}).get(strength) or []
            if not patterns:
                continue
            name = f"{prefix}_{category}_{strength}"
            groups[name] = (category, weight)
            pieces.append(f"(?P<{name}>{_alternation(patterns, macros)})")
    suppress: dict[str, tuple[re.Pattern[str] | None, re.Pattern[str] | None]] = {}
    for category, rule in (data.get("suppress") or {}).items():
        suppress[category] = (
            _compile_list(rule.get("when"), macros),
            _compile_list(rule.get("unless"), macros),
        )
    return CategorySet(
        regex=re.compile("|".join(pieces)) if pieces else None,
        groups=groups,
        priority=list(data.get("priority") or []),
        threshold=int(data.get("threshold", 1)),
        suppress=suppress,
    )


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
