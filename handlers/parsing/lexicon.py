"""Loads the keyword data in config/parser/*.yaml once and compiles it into regexes.

All words live in data so a community can extend them without touching code; this module
only knows the file layout (documented in each file's comment header).

Speed: a compiled list whose branches do not all start with a plain character is rewritten
as one branch per start character (`firstchars.derive`), or else gets a look-ahead
prefilter of those characters, so `re` skips most positions in C. The category keyword sets
are scanned with an Aho-Corasick automaton (ahocorasick-rs) of the ways a match can begin
(its first character, and its second where that is bounded), which finds every candidate
start in one C pass, and a small regex per start character run only at those starts; the
small regexes (~480, ~0.15-0.3 ms each to compile) are compiled
on first use of their character unless `CategorySet.compile_all` (`Parser(precompile=True)`)
is called. (One combined regex for a whole keyword set ran ~30% fewer instructions but was
slower and had a far worse p99 in the benchmark: its code is too big for the CPU caches.)
Cue lists whose every match contains one of a few plain texts
(`firstchars.required_texts`) are searched only when the message contains one of them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import ahocorasick_rs

from handlers.parsing.firstchars import (
    derive,
    first_chars,
    prefilter,
    required_texts,
    second_chars,
    specialize,
    specialize_pair,
)

Suppress = tuple["re.Pattern[str] | None", "re.Pattern[str] | None"]  # (when, unless)
Prefer = tuple[str, str, str, frozenset["str | None"]]  # (winner, loser, cue list, roles)
_START = itemgetter(1)  # of an (index, start, end) hit


def default_lexicon_dir() -> Path:
    """config/parser next to the installed `config` package (works in editable installs)."""
    import config

    return Path(config.__file__).resolve().parent / "parser"


def scan(cats: CategorySet, text: str) -> Iterator[re.Match[str]]:
    """Same matches as `re.finditer(cats.pattern, text)` (non-overlapping, leftmost first),
    but only candidate positions are tried, each with the few patterns that can start there."""
    for _start, match in cats.matches(text):
        yield match


@dataclass(slots=True)
class CategorySet:
    """Categories as ONE alternation (`pattern`) with a named group per (category, weight).

    One pass per message instead of one per keyword; `lastgroup` tells which category hit.
    When every pattern's start characters are known, `automaton` finds candidate starts and
    `buckets[char]` holds, in the same order, just the patterns (and of those, just the
    branches) that can start with `char`: at any position only those can match, so the
    result equals a scan with `pattern`. Otherwise `regex` is `pattern` compiled.
    """

    regex: re.Pattern[str] | None  # None when `automaton` is set (or there are no patterns)
    groups: dict[str, tuple[str, int]]  # group name -> (category, weight)
    priority: list[str]
    threshold: int = 1
    # an Aho-Corasick automaton of every way a match can begin (see `_start_keys`)
    automaton: ahocorasick_rs.AhoCorasick | None = None
    start_keys: frozenset[str] = frozenset()  # what `automaton` finds
    # With `gate: true` in the file: an automaton of `gate_texts`, texts that keyword matches
    # must hold (`required_texts`), found in one native pass before the keyword scan. Where none
    # of `gate_needs` (one of which every match holds) is there, the message has no match,
    # whatever candidates it starts; a candidate whose key's `key_needs` are none of them is
    # skipped before `re` runs (most are: 岁 after 10, or 着火 after 着, is nowhere to be seen).
    gate: ahocorasick_rs.AhoCorasick | None = None
    gate_texts: list[str] = field(default_factory=list)
    gate_needs: frozenset[int] | None = None  # indexes into `gate_texts`; None: no such list
    # per key of `automaton`: indexes into `gate_texts`, None where some pattern needs no text
    key_needs: list[frozenset[int] | None] = field(default_factory=list)
    # category -> its rules (when, unless): dropped when a rule's `when` matches and its `unless` does not
    suppress: dict[str, list[Suppress]] = field(default_factory=dict)
    # category -> the categories it drops when it reaches `threshold` (a stabbing is violence,
    # not the casualty it caused)
    outranks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (winner, loser, cue list, roles): when the best category is `loser`, `winner` also scored,
    # the sender has one of `roles` and the cue list matches, `winner` is taken instead
    prefer: list[Prefer] = field(default_factory=list)
    # start character -> regex; filled from `sources` on first use of the character
    buckets: dict[str, re.Pattern[str]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # start character -> regex source
    pattern: str = ""  # the whole alternation, for reference
    _by_source: dict[str, re.Pattern[str]] = field(default_factory=dict)  # equal sources share
    # The keys of `automaton`, in the order of the indexes it reports, and the patterns filed
    # under each start character (group name, pattern), in the order the alternation tries them.
    keys: list[str] = field(default_factory=list)
    entries: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # Per key, made on first use (`_key_regex`): the regex of just the patterns (and of those,
    # the branches) that a match beginning with the key can come from, so that `re` tries a
    # handful of branches at a candidate, not the start character's whole bucket. As the
    # automaton reports a key by index, no one-character string is made and hashed per
    # candidate (most are CJK: CPython caches only Latin-1 ones).
    key_regexes: list[re.Pattern[str] | None] = field(default_factory=list)

    def bucket(self, char: str) -> re.Pattern[str]:
        """The regex for matches starting with `char`, compiled on first use.

        Compiling all of them up front costs ~0.15 ms each (several hundred in all); most
        messages only ever touch the common characters. `compile_all` does it eagerly.
        """
        regex = self.buckets.get(char)
        if regex is None:
            source = self.sources[char]
            regex = self._by_source.get(source)
            if regex is None:
                regex = self._by_source[source] = re.compile(source)
            self.buckets[char] = regex
        return regex

    def compile_all(self) -> None:
        for char in self.sources:
            self.bucket(char)
        for index in range(len(self.keys)):
            self._key_regex(index)

    def _key_regex(self, index: int) -> re.Pattern[str]:
        key = self.keys[index]
        if len(key) == 1:
            source = self.sources[key]
        else:
            first, second = key[0], key[1]
            entries = _pair_entries(key, self.entries[first])
            trimmed = [(name, specialize_pair(pattern, first, second)) for name, pattern in entries]
            source = _bucket_body(trimmed)
        regex = self._by_source.get(source)
        if regex is None:
            regex = self._by_source[source] = re.compile(source)
        self.key_regexes[index] = regex
        return regex

    def hits_within(self, text: str, start: int, end: int) -> Iterator[re.Match[str]]:
        """Matches that start inside `start`..`end` (a hit's span), one per start position.

        The scan of `matches` does not look inside a hit, so a long keyword hides the ones it
        spans: a weak 业主{C}{0,8}(?:吵|闹|围|堵) the strong 拉横幅 and 围堵 in it. The
        classifier asks for them here. Only candidate start characters are tried."""
        if self.automaton is None:
            return
        sources = self.sources
        for pos in range(start + 1, end):
            char = text[pos]
            if char in sources:
                found = self.bucket(char).match(text, pos)
                if found is not None and found.lastgroup is not None:
                    yield found

    def matches(self, text: str) -> list[tuple[int, re.Match[str]]]:
        """(start, match) for every keyword hit, in text order."""
        automaton = self.automaton
        if automaton is None:
            if self.regex is None:
                return []
            return [(m.start(), m) for m in self.regex.finditer(text)]
        out: list[tuple[int, re.Match[str]]] = []
        present: set[int] | None = None
        if self.gate is not None:
            texts = self.gate.find_matches_as_indexes(text, overlapping=True)
            present = {index for index, _start, _end in texts}
            needs = self.gate_needs
            if needs is not None and present.isdisjoint(needs):
                return out
        # Every start of a possible match, found in one native pass. A key is the start character
        # plus, where that set is bounded, the second: most candidates never reach Python.
        found_keys = automaton.find_matches_as_indexes(text, overlapping=True)
        if not found_keys:
            return out
        # Keys of one and two characters ending at the same place come out in either order.
        if len(found_keys) > 1:
            found_keys.sort(key=_START)
        regexes = self.key_regexes
        key_needs = self.key_needs
        pos = 0
        for key, start, _end in found_keys:
            if start < pos:
                continue  # inside the previous match: matches do not overlap, as in finditer
            if present is not None:
                needs = key_needs[key]
                if needs is not None and present.isdisjoint(needs):
                    continue
            found = (regexes[key] or self._key_regex(key)).match(text, start)
            if found is not None:
                out.append((start, found))
                end = found.end()
                pos = end if end > start else start + 1
        return out


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
    # cue list -> a test for "some pattern matches somewhere" (`_searcher`), where it is
    # faster than the compiled regex's own `search`
    cue_search: dict[str, Search] = field(default_factory=dict)
    # cue list -> the least likely texts one of which every match contains (`required_texts`
    # with rare=True), for the one native pass that tells which lists can match a text at all
    cue_needs: dict[str, frozenset[str]] = field(default_factory=dict)
    # dialect word, normalised -> its standard form (dialect.yaml), read before the rules
    dialect: dict[str, str] = field(default_factory=dict)


Search = Callable[[str], "re.Match[str] | None"]


def _anchored(pattern: str) -> bool:
    """The pattern can only match at the start of the text (it begins with ^)."""
    firsts = first_chars(pattern)
    return firsts is not None and firsts.at_start and not firsts.chars


def _searcher(patterns: list[Any], macros: dict[str, str]) -> Search | None:
    """For a list with both ^-anchored and other patterns: match the anchored ones at offset 0
    and search for the rest, or None when the list is not of that kind.

    One regex with a ^ branch is tried by `re` at every position of the text (the ^ branch
    could match under no other rule it knows); without it the rest gets a form whose start
    positions `re` skips to in C (`_skipping`). Only whether there is a match is the same as
    the whole list's `search`, not which: callers use it as a yes/no test."""
    if not patterns:
        return None
    parts = _parts(patterns, macros)
    anchored = [p for p in parts if _anchored(p)]
    if not anchored or len(anchored) == len(parts):
        return None
    head = re.compile("|".join(f"(?:{p})" for p in anchored)).match
    rest = re.compile(_skipping("|".join(f"(?:{p})" for p in parts if p not in anchored))).search

    def search(text: str) -> re.Match[str] | None:
        return head(text) or rest(text)

    return search


def _read(path: Path) -> dict[str, Any]:
    import yaml  # here, not at module level: `import handlers.parsing` stays light

    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_loader())  # a *safe* loader: plain data only
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


@functools.cache
def _loader() -> type:
    """The safe loader that refuses a key given twice (config/yaml_keys.py)."""
    from config.yaml_keys import safe_loader

    return safe_loader()


def _expand(pattern: str, macros: dict[str, str]) -> str:
    for name, value in macros.items():
        pattern = pattern.replace("{" + name + "}", value)
    for name in macros:
        # Macros expand in file order, once: one that names a macro defined above it would be
        # left as the literal text {NAME}, a pattern that silently never matches.
        if "{" + name + "}" in pattern:
            raise ValueError(
                f"lexicon macro {{{name}}} is used by a macro defined after it: "
                f"define the macro that uses {{{name}}} above {name} in cues.yaml"
            )
    return pattern


def _parts(patterns: list[Any], macros: dict[str, str]) -> list[str]:
    """Expanded patterns in the order an alternation tries them."""
    patterns = [str(p) if isinstance(p, int | float) else p for p in patterns]
    for p in patterns:
        if not isinstance(p, str):
            # e.g. an unquoted pattern ending in ":" that YAML read as a mapping
            raise ValueError(f"lexicon pattern must be a string, got {p!r}: quote it in the YAML file")
    parts = [_expand(p, macros) for p in patterns if p.strip()]
    for part in parts:
        if "(?<" in part:
            _check_lookbehind(part)
    # Longest first: at one position the longer phrase should win (煤气味 over 气味).
    parts.sort(key=len, reverse=True)
    return parts


def _check_lookbehind(pattern: str) -> None:
    """Compile a pattern with a look-behind now. Keyword regexes are compiled per start
    character on first use, and the reader of `firstchars` does not check a look-behind's width:
    a look-behind of varying width would otherwise fail only when a message reached it."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"词库规则有误 (bad lexicon pattern) {pattern!r}: {exc}") from exc


def _alternation(patterns: list[Any], macros: dict[str, str]) -> str:
    return "|".join(f"(?:{p})" for p in _parts(patterns, macros))


def _compile_list(patterns: list[Any] | None, macros: dict[str, str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile(_skipping(_alternation(patterns, macros)))


def _skipping(source: str) -> str:
    """`source` in a form whose start positions `re` finds itself (same matches).

    `re` skips to candidate positions when every branch starts with a literal character;
    a look-ahead gate (`prefilter`) instead runs the matcher at every position. So, where
    every pattern can be derived, the list becomes one branch per start character c:
    `c(?:rest of the patterns after c)`. Otherwise the gate is kept.
    """
    gated = prefilter(source)
    if gated == source:
        return source  # re skips positions already, or the start is unknown
    firsts = first_chars(source)
    if firsts is None or firsts.at_start:
        return gated
    branches = []
    for char in sorted(firsts.chars):
        rest = derive(source, char)
        if rest is None:
            return gated
        branches.append(f"{re.escape(char)}(?:{rest})")
    return "|".join(branches)


def _category_set(data: dict[str, Any], prefix: str, macros: dict[str, str]) -> CategorySet:
    pieces: list[str] = []
    groups: dict[str, tuple[str, int]] = {}
    starts: dict[str, list[tuple[str, str]]] | None = {}  # None: some start is unknown
    for category, lists in (data.get("categories") or {}).items():
        for strength, weight in (("strong", 2), ("weak", 1)):
            patterns = (lists or {}).get(strength) or []
            if not patterns:
                continue
            name = f"{prefix}_{category}_{strength}"
            groups[name] = (category, weight)
            pieces.append(f"(?P<{name}>{_alternation(patterns, macros)})")
            if starts is not None:
                starts = _add_starts(starts, name, patterns, macros)
    suppress: dict[str, list[Suppress]] = {}
    for category, rules in (data.get("suppress") or {}).items():
        # one rule ({when, unless}) or a list of them
        for rule in rules if isinstance(rules, list) else [rules]:
            suppress.setdefault(category, []).append(
                (_compile_list(rule.get("when"), macros), _compile_list(rule.get("unless"), macros))
            )
    outranks = {
        str(category): tuple(str(other) for other in others or [])
        for category, others in (data.get("outranks") or {}).items()
    }
    prefer: list[Prefer] = [
        (str(rule["category"]), str(rule["over"]), str(rule["cue"]), frozenset(rule.get("roles") or [None]))
        for rule in data.get("prefer") or []
    ]
    automaton = gate = gate_needs = None
    gate_texts: list[str] = []
    key_needs: list[frozenset[int] | None] = []
    key_list: list[str] = []
    start_keys: frozenset[str] = frozenset()
    sources: dict[str, str] = {}
    if starts:
        keys: set[str] = set()
        for char, entries in starts.items():
            sources[char] = _bucket_body([(name, specialize(pattern, char)) for name, pattern in entries])
            keys |= _start_keys(char, [pattern for _name, pattern in entries])
        key_list = sorted(keys)  # the automaton reports a hit by its key's index in this list
        automaton = _automaton(key_list)
        start_keys = frozenset(keys)
        if data.get("gate"):
            whole = required_texts("|".join(pieces), rare=True)
            gate, gate_texts, gate_needs, key_needs = _gates(whole, key_list, starts)
    return CategorySet(
        # the one-regex form is only needed without an automaton: compiling it is slow
        regex=re.compile("|".join(pieces)) if pieces and automaton is None else None,
        pattern="|".join(pieces),
        groups=groups,
        priority=list(data.get("priority") or []),
        threshold=int(data.get("threshold", 1)),
        automaton=automaton,
        start_keys=start_keys,
        gate=gate,
        gate_texts=gate_texts,
        gate_needs=gate_needs,
        key_needs=key_needs,
        suppress=suppress,
        outranks=outranks,
        prefer=prefer,
        sources=sources,
        keys=key_list,  # empty without an automaton
        entries=starts or {},
        key_regexes=[None] * len(key_list),
    )


def _automaton(keys: list[str]) -> ahocorasick_rs.AhoCorasick:
    """An Aho-Corasick automaton of `keys` that reports every occurrence, overlaps included."""
    return ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MatchKind.Standard)


def _add_starts(
    starts: dict[str, list[tuple[str, str]]], name: str, patterns: list[Any], macros: dict[str, str]
) -> dict[str, list[tuple[str, str]]] | None:
    """File each pattern of group `name` under every character it can start with, in the
    order `_alternation` tries them; None when a start is unknown (then no automaton at all)."""
    for pattern in _parts(patterns, macros):
        firsts = first_chars(pattern)
        if firsts is None or firsts.at_start:
            return None
        for char in firsts.chars:
            starts.setdefault(char, []).append((name, pattern))
    return starts


def _gates(
    whole: frozenset[str] | None, keys: list[str], starts: dict[str, list[tuple[str, str]]]
) -> tuple[ahocorasick_rs.AhoCorasick | None, list[str], frozenset[int] | None, list[frozenset[int] | None]]:
    """`CategorySet.gate`, `gate_needs` and `key_needs`: `whole` is what every match needs."""
    per_key = [_key_texts(key, starts[key[0]]) for key in keys]
    texts = sorted(set(whole or ()).union(*(needs for needs in per_key if needs is not None)))
    if not texts:
        return None, [], None, []
    index = {text: number for number, text in enumerate(texts)}

    def indexes(needs: frozenset[str] | None) -> frozenset[int] | None:
        return None if needs is None else frozenset(index[text] for text in needs)

    automaton = ahocorasick_rs.AhoCorasick(texts, matchkind=ahocorasick_rs.MatchKind.Standard)
    return automaton, texts, indexes(whole), [indexes(needs) for needs in per_key]


def _key_texts(key: str, entries: list[tuple[str, str]]) -> frozenset[str] | None:
    """Texts one of which every match beginning with `key` holds, other than the key's own;
    None where that is not known. Each pattern's rarest texts, asked again with the key as
    given where they are the key's own (老人|孩子 in 老人倒在…, under the key 老人)."""
    if len(key) > 1:
        entries = _pair_entries(key, entries)
    texts: set[str] = set()
    for _name, pattern in entries:
        found = _rare_texts(pattern)
        if found is not None and any(text in key for text in found):
            found = required_texts(pattern, given=key)
        if found is None or any(text in key for text in found):
            return None
        texts |= found
    return frozenset(texts)


@functools.lru_cache(maxsize=8192)
def _rare_texts(pattern: str) -> frozenset[str] | None:
    return required_texts(pattern, rare=True)


def _start_keys(char: str, patterns: list[str]) -> set[str]:
    """How a match of any of `patterns` can begin when it starts with `char`: `char` and each
    possible second character, or `char` alone when what follows it is unbounded (or a
    match may end right after it)."""
    follow: set[str] = set()
    for pattern in patterns:
        pairs = second_chars(pattern)
        chars = None if pairs is None else pairs.get(char, frozenset())
        if chars is None:
            return {char}
        follow |= chars
    return {char + second for second in follow}


def _pair_entries(key: str, entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Of a first character's `entries`, those a match beginning with the two characters of
    `key` can come from."""
    first, second = key[0], key[1]
    kept = []
    for name, pattern in entries:
        follow = (second_chars(pattern) or {}).get(first)
        if follow is None or second in follow:
            kept.append((name, pattern))
    return kept


def _bucket_body(entries: list[tuple[str, str]]) -> str:
    """Alternation of one start character's patterns, one named group per run of a group."""
    runs: list[tuple[str, list[str]]] = []
    for name, pattern in entries:
        if runs and runs[-1][0] == name:
            runs[-1][1].append(pattern)
        else:
            runs.append((name, [pattern]))
    return "|".join(f"(?P<{name}>{'|'.join(f'(?:{p})' for p in ps)})" for name, ps in runs)


def load_lexicon(directory: Path | None = None) -> Lexicon:
    """Read and compile every lexicon file; raises ValueError/re.error on a broken file."""
    directory = directory or default_lexicon_dir()
    cues_data = _read(directory / "cues.yaml")
    macros = {str(k): str(v) for k, v in (cues_data.get("macros") or {}).items()}
    cue_lists = {
        str(name): patterns
        for name, patterns in cues_data.items()
        if name != "macros" and isinstance(patterns, list)
    }
    cues = {name: _compile_list(patterns, macros) for name, patterns in cue_lists.items()}
    cue_search = {
        name: search for name, patterns in cue_lists.items() if (search := _searcher(patterns, macros))
    }
    cue_needs = {
        name: needs
        for name, patterns in cue_lists.items()
        if patterns and (needs := required_texts(_alternation(patterns, macros), rare=True))
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
    dialect_path = directory / "dialect.yaml"
    dialect = _dialect(_read(dialect_path)) if dialect_path.exists() else {}
    return Lexicon(
        majors=_category_set(_read(directory / "majors.yaml"), "m", macros),
        basics=_category_set(_read(directory / "basic.yaml"), "b", macros),
        cues=cues,
        cue_search=cue_search,
        cue_needs=cue_needs,
        commands=dict(words),
        grade_commands=frozenset(str(c) for c in cmd_data.get("grade_commands") or []),
        ratings=ratings,
        ref_prefixes="".join(str(p) for p in cmd_data.get("ref_prefixes") or ["R", "M"]),
        grade_default={str(k): str(v) for k, v in (grade_data.get("default") or {}).items()},
        grade_keywords=grade_keywords,
        dialect=dialect,
    )


def _dialect(data: dict[str, Any]) -> dict[str, str]:
    """dialect.yaml's `words`, keyed by their normalised form (the text the rules read)."""
    from handlers.parsing.normalize import nfkc, to_simplified

    words = data.get("words") or {}
    if not isinstance(words, dict):
        raise ValueError("dialect.yaml: `words` must map a dialect word to its standard form")
    return {to_simplified(nfkc(str(k))): str(v) for k, v in words.items() if str(k).strip()}
