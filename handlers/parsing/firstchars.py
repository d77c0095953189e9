"""Where can a match of a lexicon regex start? A small reader of regex *source text*.

`first_chars(pattern)` returns every character a (non-empty) match can start with, plus
whether the pattern may also match at the very start of the text (a leading `^`). With that
set the parser builds prefilters: `(?=[...])` in front of a cue list, and the per-character
buckets of the keyword scan. Python's `re` cannot skip positions for an alternation whose
branches start with look-behinds or groups; with the prefilter it rejects them in C.

Only the regex subset the lexicon uses is modelled exactly (literals, escapes, classes,
groups, look-arounds, quantifiers, alternation, anchors). `.`, `\\w`, `\\s`, negated classes
and back-references count as "any character"; inline flags and conditionals cannot be read.
Either way, when that decides the first character the answer is None: "no prefilter", and
the caller runs the plain regex. A wrong answer would silently drop matches, so the reader
errs on the side of None, and tests compare prefiltered scans with plain `re` scans.
No private `re` internals are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUANT = re.compile(r"\{([0-9]*)(?:(,)([0-9]*))?\}")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_MAX_RANGE = 2000  # a class range wider than this is treated as unbounded


class Unknown(Exception):
    """The pattern uses something this reader does not model: no prefilter."""


@dataclass(frozen=True, slots=True)
class Firsts:
    """A match can start only at a character in `chars`, or at offset 0 when `at_start`."""

    chars: frozenset[str]
    at_start: bool = False


@dataclass(slots=True)
class _Info:
    chars: set[str] | None  # None: any character
    nullable: bool  # may match the empty string (then what follows also decides)
    at_start: bool = False  # a branch is anchored with ^ / \A before consuming anything


def first_chars(pattern: str) -> Firsts | None:
    """The characters any match of `pattern` starts with; None when unbounded or unknown."""
    try:
        reader = _Reader(pattern)
        info = reader.alternation()
        if reader.pos != len(pattern):
            raise Unknown("unbalanced parenthesis")
    except Unknown:
        return None
    if info.nullable or info.chars is None:
        return None  # may match the empty string, or start with any character
    return Firsts(frozenset(info.chars), info.at_start)


def char_class(chars: frozenset[str] | set[str]) -> str:
    """A regex character class matching exactly `chars`."""
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


def prefilter(pattern: str) -> str:
    """`pattern` behind a look-ahead that rejects impossible start positions (same matches)."""
    firsts = first_chars(pattern)
    if firsts is None:
        return pattern
    if not firsts.chars:
        return pattern if firsts.at_start else "(?!)"
    gate = f"(?={char_class(firsts.chars)})"
    if firsts.at_start:
        gate = f"(?:^|{gate})"
    return f"{gate}(?:{pattern})"


class _Reader:
    """Recursive descent over the pattern text, computing first sets on the way."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0

    def _peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def alternation(self) -> _Info:
        out = self.sequence()
        while self._peek() == "|":
            self.pos += 1
            branch = self.sequence()
            out = _Info(
                _union(out.chars, branch.chars), out.nullable or branch.nullable, out.at_start or branch.at_start
            )
        return out

    def sequence(self) -> _Info:
        chars: set[str] | None = set()
        at_start = False
        open_ = True  # every item so far may have matched the empty string
        while self.pos < len(self.src) and self._peek() not in "|)":
            item = self.quantified()
            if not open_:
                continue  # already decided; keep reading to find the end of the branch
            if item is _START:
                at_start = True
                open_ = False  # anything after ^ is only tried at offset 0
                continue
            chars = _union(chars, item.chars)
            at_start = at_start or item.at_start
            if not item.nullable:
                open_ = False
        return _Info(chars, open_, at_start)

    def quantified(self) -> _Info:
        item = self.atom()
        low = 1
        char = self._peek()
        if char in ("*", "?"):
            low = 0
            self.pos += 1
        elif char == "+":
            self.pos += 1
        elif char == "{":
            match = _QUANT.match(self.src, self.pos)
            if match is not None and (match.group(1) or match.group(2)):
                low = int(match.group(1) or 0)
                high = match.group(3)
                if match.group(2) is None:
                    high = match.group(1)
                if high not in (None, "") and int(high) == 0:
                    item = _EMPTY
                self.pos = match.end()
            else:
                return item  # a literal "{": read as the next atom
        else:
            return item
        if self._peek() in ("?", "+"):
            self.pos += 1  # lazy or possessive: same first characters
        if item is _START:
            raise Unknown("quantified anchor")
        if low == 0:
            return _Info(item.chars, True, item.at_start)
        return item

    def atom(self) -> _Info:
        char = self._peek()
        self.pos += 1
        if char == "(":
            return self.group()
        if char == "[":
            return _Info(self.char_set(), False)
        if char == "\\":
            return self.escape()
        if char == "^":
            return _START
        if char == "$":
            return _EMPTY
        if char == ".":
            return _Info(None, False)
        if char in "*+?":
            raise Unknown("nothing to repeat")
        return _Info({char}, False)

    def group(self) -> _Info:
        lookaround = False
        if self.src.startswith("?", self.pos):
            rest = self.src[self.pos + 1 : self.pos + 4]
            if rest.startswith((":", ">")):  # non-capturing or atomic
                self.pos += 2
            elif rest.startswith("P<"):
                end = self.src.find(">", self.pos)
                if end < 0:
                    raise Unknown("bad group name")
                self.pos = end + 1
            elif rest.startswith(("=", "!")):
                self.pos += 2
                lookaround = True
            elif rest.startswith(("<=", "<!")):
                self.pos += 3
                lookaround = True
            elif rest.startswith("#"):
                end = self.src.find(")", self.pos)
                if end < 0:
                    raise Unknown("unterminated comment")
                self.pos = end + 1
                return _EMPTY
            else:
                raise Unknown("flags, back-reference or conditional")
        inner = self.alternation()
        if self._peek() != ")":
            raise Unknown("unbalanced parenthesis")
        self.pos += 1
        return _EMPTY if lookaround else inner

    def escape(self) -> _Info:
        char = self._peek()
        if not char:
            raise Unknown("trailing backslash")
        self.pos += 1
        if char in "bBZ":
            return _EMPTY
        if char == "A":
            return _START
        escaped = self._escaped_char(char)
        return _Info(None if escaped is None else {escaped}, False)

    def _escaped_char(self, char: str) -> str | None:
        """The character after a backslash (already consumed); None for a class (\\d \\s \\w ...)
        or a back-reference, which may stand for any character."""
        if char in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[char]
        if char in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[char]
            digits = self.src[self.pos : self.pos + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise Unknown("bad hex escape")
            self.pos += width
            return chr(int(digits, 16))
        if char == "N":
            raise Unknown("named character escape")
        if char.isascii() and char.isalnum():
            while self._peek().isdigit():  # \12: a back-reference or an octal escape
                self.pos += 1
            return None  # \d \s \w \D \S \W, back-references
        return char

    def char_set(self) -> set[str] | None:
        out: set[str] | None = set()
        if self._peek() == "^":
            self.pos += 1
            out = None  # a negated class: any character, as far as this reader cares
        first = True
        while True:
            char = self._peek()
            if not char:
                raise Unknown("unterminated class")
            self.pos += 1
            if char == "]" and not first:
                return out
            first = False
            if char == "\\":
                escaped = self._peek()
                if not escaped:
                    raise Unknown("trailing backslash")
                self.pos += 1
                low = self._escaped_char(escaped)
            else:
                low = char
            if self._peek() == "-" and self.src[self.pos + 1 : self.pos + 2] not in ("]", ""):
                self.pos += 1
                high: str | None = self._peek()
                self.pos += 1
                if high == "\\":
                    escaped = self._peek()
                    self.pos += 1
                    high = self._escaped_char(escaped)
                if low is None or high is None or ord(high) < ord(low):
                    raise Unknown("bad range")
                if out is not None and ord(high) - ord(low) <= _MAX_RANGE:
                    out.update(chr(c) for c in range(ord(low), ord(high) + 1))
                else:
                    out = None
            elif low is None or out is None:
                out = None
            else:
                out.add(low)


def _union(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    return None if a is None or b is None else a | b


_EMPTY = _Info(set(), True)  # zero width: look-arounds, $, \b
_START = _Info(set(), True, True)  # ^ or \A: the branch only matches at offset 0
