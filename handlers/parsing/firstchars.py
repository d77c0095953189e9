"""Where can a match of a lexicon regex start? A small reader of regex *source text*.

`first_chars(pattern)` returns every character a match can start with, plus whether the
pattern may also match at the very start of the text (a leading `^`). With that set the
parser builds prefilters: `(?=[...])` in front of a cue list, and the per-character buckets
of the keyword scan (`specialize` trims a bucket's patterns to the branches that can start
with its character). Python's `re` cannot skip positions for an alternation whose branches
start with look-behinds or groups; with the prefilter it rejects them in C.

Only the regex subset the lexicon uses is modelled exactly (literals, escapes, classes,
groups, look-arounds, quantifiers, alternation, anchors). `.`, `\\w`, `\\s`, negated classes
and back-references count as "any character"; inline flags, conditionals and named-character
escapes cannot be read. Either way, when that decides the first character the answer is
None: "no prefilter", and the caller runs the plain regex. A wrong answer would silently
drop matches, so the reader errs on the side of None, and tests compare prefiltered scans
with plain `re` scans. No private `re` internals are used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

_QUANT = re.compile(r"\{([0-9]*)(?:(,)([0-9]*))?\}")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_MAX_RANGE = 2000  # a class range wider than this counts as "any character"


class Unknown(Exception):
    """The pattern uses something this reader does not model: no prefilter."""


class Firsts(NamedTuple):
    """A match can start only at a character in `chars`, or at offset 0 when `at_start`."""

    chars: frozenset[str]
    at_start: bool = False


# --- syntax tree --------------------------------------------------------------------------
# Plain classes rather than dataclasses: they are created at import, and this stays cheap.


class _Node:
    __slots__ = ("end", "info", "pairs", "start")

    def __init__(self, start: int, end: int) -> None:
        self.start = start  # source span
        self.end = end
        self.info: _Info | None = None  # memo of `_info`
        # memo of `_pairs`, by what follows: a bucket's patterns are asked once per key
        self.pairs: dict[frozenset[str] | None, dict[str, frozenset[str] | None]] | None = None


class _Char(_Node):
    """One consumed character from `chars` (None: any character)."""

    __slots__ = ("chars",)

    def __init__(self, start: int, end: int, chars: frozenset[str] | None) -> None:
        super().__init__(start, end)
        self.chars = chars


class _Zero(_Node):
    """Zero width: look-arounds, `$`, `\\b`, comments. `held`: what a positive look-around
    asks of the text around (for `required_texts`), else None."""

    __slots__ = ("held",)

    def __init__(self, start: int, end: int, held: _Alt | None = None) -> None:
        super().__init__(start, end)
        self.held = held


class _Start(_Node):
    """`^` or `\\A`: only at offset 0."""

    __slots__ = ()


class _Seq(_Node):
    __slots__ = ("items",)

    def __init__(self, start: int, end: int, items: list[_Node]) -> None:
        super().__init__(start, end)
        self.items = items


class _Alt(_Node):
    __slots__ = ("branches",)

    def __init__(self, start: int, end: int, branches: list[_Seq]) -> None:
        super().__init__(start, end)
        self.branches = branches


class _Group(_Node):
    __slots__ = ("alt", "capturing")

    def __init__(self, start: int, end: int, alt: _Alt, capturing: bool) -> None:
        super().__init__(start, end)
        self.alt = alt
        self.capturing = capturing


class _Repeat(_Node):
    __slots__ = ("high", "item", "low")

    def __init__(self, start: int, end: int, item: _Node, low: int, high: int | None) -> None:
        super().__init__(start, end)
        self.item = item
        self.low = low
        self.high = high


# --- analysis ---------------------------------------------------------------------------


class _Info(NamedTuple):
    chars: frozenset[str] | None  # None: any character
    nullable: bool  # may match the empty string (then what follows also decides)
    at_start: bool = False  # a branch is anchored with ^ / \A before consuming anything


_EMPTY_INFO = _Info(frozenset(), True)


def _union(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return None if a is None or b is None else a | b


def _info(node: _Node) -> _Info:
    if node.info is None:
        node.info = _compute_info(node)
    return node.info


def _compute_info(node: _Node) -> _Info:
    if isinstance(node, _Char):
        return _Info(node.chars, False)
    if isinstance(node, _Zero):
        return _EMPTY_INFO
    if isinstance(node, _Start):
        return _Info(frozenset(), False, True)
    if isinstance(node, _Group):
        return _info(node.alt)
    if isinstance(node, _Repeat):
        if node.high == 0:
            return _EMPTY_INFO
        inner = _info(node.item)
        return _Info(inner.chars, inner.nullable or node.low == 0, inner.at_start)
    if isinstance(node, _Alt):
        out = _Info(frozenset(), False)
        for index, branch in enumerate(node.branches):
            info = _info(branch)
            if index == 0:
                out = info
            else:
                out = _Info(
                    _union(out.chars, info.chars),
                    out.nullable or info.nullable,
                    out.at_start or info.at_start,
                )
        return out
    if isinstance(node, _Seq):
        chars: frozenset[str] | None = frozenset()
        at_start = False
        for item in node.items:
            if isinstance(item, _Start):
                return _Info(chars, False, True)  # anything after ^ is only tried at offset 0
            info = _info(item)
            chars = _union(chars, info.chars)
            at_start = at_start or info.at_start
            if not info.nullable:
                return _Info(chars, False, at_start)
        return _Info(chars, True, at_start)
    raise Unknown(type(node).__name__)  # pragma: no cover


def _has_capture(node: _Node) -> bool:
    if isinstance(node, _Group):
        return node.capturing or _has_capture(node.alt)
    if isinstance(node, _Alt):
        return any(_has_capture(b) for b in node.branches)
    if isinstance(node, _Seq):
        return any(_has_capture(i) for i in node.items)
    if isinstance(node, _Repeat):
        return _has_capture(node.item)
    return False


# --- public -----------------------------------------------------------------------------


def first_chars(pattern: str) -> Firsts | None:
    """The characters any match of `pattern` starts with; None when unbounded or unknown."""
    try:
        info = _info(_parse(pattern))
    except Unknown:
        return None
    if info.nullable or info.chars is None:
        return None  # may match the empty string, or start with any character
    return Firsts(info.chars, info.at_start)


@lru_cache(maxsize=4096)
def second_chars(pattern: str) -> dict[str, frozenset[str] | None] | None:
    """For each character a match can start with, the characters that can come second
    (None: any character, or the match may end after one character); None when unknown.
    Cached: the caller must not modify the dict."""
    try:
        if first_chars(pattern) is None:
            return None
        return _pairs(_parse(pattern), None)
    except Unknown:
        return None


_Pairs = dict[str, frozenset[str] | None]


def _merge(into: _Pairs, more: _Pairs) -> None:
    for char, follow in more.items():
        into[char] = _union(into[char], follow) if char in into else follow


def _pairs(node: _Node, after: frozenset[str] | None) -> _Pairs:
    """First character -> possible second characters, for `node` followed by text that
    starts with a character from `after` (None: anything, including the end). Memoised on
    the node: the caller must not modify the dict."""
    memo = node.pairs
    if memo is None:
        memo = node.pairs = {}
    found = memo.get(after)
    if found is None:
        found = memo[after] = _compute_pairs(node, after)
    return found


def _compute_pairs(node: _Node, after: frozenset[str] | None) -> _Pairs:
    if isinstance(node, _Char):
        if node.chars is None:
            raise Unknown("any first character")
        return dict.fromkeys(node.chars, after)
    if isinstance(node, _Zero):
        return {}
    if isinstance(node, _Group):
        return _pairs(node.alt, after)
    if isinstance(node, _Alt):
        out: _Pairs = {}
        for branch in node.branches:
            _merge(out, _pairs(branch, after))
        return out
    if isinstance(node, _Seq):
        out = {}
        for index, item in enumerate(node.items):
            _merge(out, _pairs(item, _first_of(node.items[index + 1 :], after)))
            if not _info(item).nullable:
                break
        return out
    if isinstance(node, _Repeat):
        if node.high == 0:
            return {}
        if _info(node.item).nullable:
            raise Unknown("repeated empty match")
        again = node.high is None or node.high > 1
        return _pairs(node.item, _union(_info(node.item).chars, after) if again else after)
    raise Unknown(type(node).__name__)  # ^ and anything else: no second-character filter


def _first_of(items: list[_Node], after: frozenset[str] | None) -> frozenset[str] | None:
    """What the sequence `items` followed by `after` can start with."""
    chars: frozenset[str] | None = frozenset()
    for item in items:
        if isinstance(item, _Start):
            return chars  # ^ after a character never matches
        info = _info(item)
        chars = _union(chars, info.chars)
        if not info.nullable:
            return chars
    return _union(chars, after)


def char_class(chars: frozenset[str] | set[str]) -> str:
    """A regex character class matching exactly `chars`."""
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


def prefilter(pattern: str) -> str:
    """`pattern` behind a look-ahead that rejects impossible start positions (same matches).

    Returned unchanged when `re` skips positions on its own already: every branch starts
    with a plain literal character, so `re` derives the start characters itself (and a
    look-ahead would only slow it down), or the start is unknown.
    """
    try:
        tree = _parse(pattern)
        info = _info(tree)
    except Unknown:
        return pattern
    if info.nullable or info.chars is None or _literal_starts(tree):
        return pattern
    if not info.chars:
        return pattern if info.at_start else "(?!)"
    gate = f"(?={char_class(info.chars)})"
    if info.at_start:
        gate = f"(?:^|{gate})"
    return f"{gate}(?:{pattern})"


def specialize(pattern: str, char: str) -> str:
    """`pattern` without the alternation branches that cannot start a match at `char`.

    At a position holding `char` the result matches exactly what `pattern` matches: only
    branches that fail there anyway are dropped (a branch is kept when it may be empty, or
    its start is unknown). Patterns with capturing groups are returned unchanged.
    """
    try:
        if _captures(pattern):
            return pattern
        return _trim_alt(pattern, _parse(pattern), lambda node, _after: _may_start(node, char), None)
    except Unknown:
        return pattern


def specialize_pair(pattern: str, first: str, second: str) -> str:
    """`pattern` without the branches that cannot start a match with `first` then `second`.

    `specialize` one character further: at a position holding `first` followed by `second`,
    the result matches exactly what `pattern` matches there. A branch is kept when it may be
    empty, may end after `first`, or what follows `first` in it is unknown. Patterns with
    capturing groups are returned unchanged.
    """
    try:
        if _captures(pattern):
            return pattern

        def keep(node: _Node, after: frozenset[str] | None) -> bool:
            return _may_start_pair(node, first, second, after)

        return _trim_alt(pattern, _parse(pattern), keep, None)
    except Unknown:
        return pattern


def _may_start_pair(node: _Node, first: str, second: str, after: frozenset[str] | None) -> bool:
    if not _may_start(node, first):
        return False
    info = _info(node)
    if info.nullable or info.at_start or info.chars is None:
        return True
    try:
        follow = _pairs(node, after).get(first)
    except Unknown:
        return True
    return follow is None or second in follow


def required_texts(pattern: str, *, rare: bool = False, given: str = "") -> frozenset[str] | None:
    """Strings one of which every text with a match of `pattern` holds (within the match, or
    where a positive look-around asks for it: `[0-9]+(?=起火)`); None when unknown.

    Per branch the longest run of plain characters, or, when a group with such texts in
    every branch needs fewer of them, that group's texts (`(?:通知|公告):` → {":"}). A
    cheap `in` test of these rules a message out without running the regex.

    `rare=True` picks, instead of the fewest texts, the ones least likely in a message: for an
    Aho-Corasick gate, where many texts cost no more than one. `(?:伤着|弄伤|划伤)了` then needs
    one of 伤着, 弄伤, 划伤 rather than 了, which nearly every message holds. Texts inside
    `given` (what is known to be there already) count as certain: never the rarest.
    """
    likelihood: _Likelihood = None
    if given:

        def likelihood(texts: frozenset[str]) -> float:
            return math.inf if any(text in given for text in texts) else _likelihood(texts)

    elif rare:
        likelihood = _likelihood
    try:
        return _required_alt(_parse(pattern), likelihood)
    except Unknown:
        return None


# Characters and words in most chat messages: a gate on them rules out nothing.
_COMMON_CHARS = frozenset(
    "了上不人在有一是的我他她这那个们没被把从下来去说要就也都还很好大小多里到给让用拿打头手天家楼门水火车"
)
_COMMON_WORDS = frozenset(
    {
        "一直",
        "东西",
        "下来",
        "上来",
        "起来",
        "出来",
        "进去",
        "下去",
        "现在",
        "今天",
        "已经",
        "没有",
        "不是",
        "什么",
        "怎么",
        "大家",
        "我们",
        "他们",
        "有人",
        "一个",
        "这个",
        "那个",
        "楼道",
        "坏了",
    }
)


def _likelihood(texts: frozenset[str]) -> float:
    """A rough chance that a message holds one of `texts` (lower is rarer): only the order of
    these figures matters, and only to the speed of the gate."""
    total = 0.0
    for text in texts:
        if text in _COMMON_WORDS or (len(text) == 1 and text in _COMMON_CHARS):
            total += 1.0
        elif len(text) == 1 or all(char in _COMMON_CHARS for char in text):
            total += 0.1
        else:
            total += 0.02 if len(text) == 2 else 0.005
    return total


_Likelihood = Callable[[frozenset[str]], float] | None


def _required_alt(alt: _Alt, likelihood: _Likelihood = None) -> frozenset[str] | None:
    out: set[str] = set()
    for branch in alt.branches:
        texts = _required_seq(branch, likelihood)
        if texts is None:
            return None
        out |= texts
    return frozenset(out)


def _required_seq(seq: _Seq, likelihood: _Likelihood = None) -> frozenset[str] | None:
    options: list[frozenset[str]] = []
    run = longest = ""
    for item in seq.items:
        if isinstance(item, _Zero):
            if item.held is not None:  # (?=…起) or (?<=共): the text holds it, if not the match
                texts = _required_alt(item.held, likelihood)
                if texts:
                    options.append(texts)
            continue  # consumes nothing: the characters around it are adjacent in the text
        if isinstance(item, _Char) and item.chars is not None and len(item.chars) == 1:
            run += next(iter(item.chars))
            continue
        longest, run = max(longest, run, key=len), ""
        group = item.item if isinstance(item, _Repeat) and item.low >= 1 else item
        if isinstance(group, _Group) and not _info(group).nullable:
            texts = _required_alt(group.alt, likelihood)
            if texts:
                options.append(texts)
    longest = max(longest, run, key=len)
    if longest:
        options.append(frozenset({longest}))
    if likelihood is not None:
        return min(options, key=likelihood, default=None)
    # fewest texts to test; among equals the one whose shortest text is longest (rarer)
    return min(options, key=lambda texts: (len(texts), -min(map(len, texts))), default=None)


def derive(pattern: str, char: str) -> str | None:
    """A regex for the rest of a match: at a position holding `char`, `pattern` matches
    exactly when `char` followed by the result matches there, with the same end.

    `lexicon` rewrites a list as `c1(?:rest)|c2(?:rest)|...` this way: every branch then
    starts with a plain character, so `re` skips to candidate positions itself. Leading look-arounds move
    behind the character (`(?<![不没])着火` → `(?<=(?<![不没])着)火`), a leading group is
    derived branch by branch, a leading repeat of a class loses one repetition. None when
    the pattern has capturing groups or starts with something else (a nullable group, a
    repeated group, an unbounded class): then the caller keeps its slower, general path.
    """
    try:
        if _captures(pattern):
            return None
        rest = _derive_alt(pattern, _parse(pattern), char)
    except Unknown:
        return None
    return "(?!)" if rest is None else rest


def _derive_alt(src: str, alt: _Alt, char: str) -> str | None:
    """None when no branch can start with `char` (they all fail at such a position)."""
    rests = [rest for branch in alt.branches if (rest := _derive_seq(src, branch, char)) is not None]
    return "|".join(rests) if rests else None


def _derive_seq(src: str, seq: _Seq, char: str) -> str | None:
    looks: list[str] = []  # look-arounds before the first character, as written
    for item in seq.items:
        if isinstance(item, _Zero):
            looks.append(src[item.start : item.end])
            continue
        head = _derive_head(src, item, char)
        if head is None:
            return None
        # The look-arounds held at the first character: checked from one position later.
        moved = f"(?<={''.join(looks)}{re.escape(char)})" if looks else ""
        return moved + head + src[item.end : seq.end]
    raise Unknown("may match the empty string")


def _derive_head(src: str, item: _Node, char: str) -> str | None:
    """What is left of the first consuming `item` once it has read `char`; None if it cannot."""
    if isinstance(item, _Char):
        if item.chars is None:
            raise Unknown("any character")
        return "" if char in item.chars else None
    if isinstance(item, _Group):
        if item.capturing or _info(item).nullable:
            raise Unknown("capturing or nullable group")
        inner = _derive_alt(src, item.alt, char)
        if inner is None:
            return None
        return f"{_opener(src, item)}{inner})"
    if isinstance(item, _Repeat):
        one = item.item
        if not isinstance(one, _Char) or one.chars is None or item.low < 1:
            raise Unknown("repeat that is not of one bounded class")
        if char not in one.chars:
            return None
        quantifier = src[one.end : item.end]
        lazy_or_possessive = quantifier[-1] if len(quantifier) > 1 and quantifier[-1] in "?+" else ""
        high = "" if item.high is None else str(item.high - 1)
        return f"{src[one.start : one.end]}{{{item.low - 1},{high}}}{lazy_or_possessive}"
    raise Unknown(type(item).__name__)  # ^ and \A


def _opener(src: str, group: _Group) -> str:
    """How a rewritten non-capturing group opens: atomic stays atomic."""
    return "(?>" if src.startswith("(?>", group.start) else "(?:"


# May a branch, followed by text starting with a character from the second argument (None:
# anything), begin a match where `specialize` or `specialize_pair` is asked about?
_Keep = Callable[[_Node, "frozenset[str] | None"], bool]


def _trim_alt(src: str, alt: _Alt, keep: _Keep, after: frozenset[str] | None) -> str:
    """`alt` as source text without the branches `keep` rules out, and likewise for the
    leading group of each branch kept (looking through look-arounds before it)."""
    kept = [_trim_seq(src, branch, keep, after) for branch in alt.branches if keep(branch, after)]
    return "|".join(kept) if kept else "(?!)"


def _trim_seq(src: str, seq: _Seq, keep: _Keep, after: frozenset[str] | None) -> str:
    for index, item in enumerate(seq.items):
        if isinstance(item, _Zero):
            continue  # look-arounds before the first character stay as they are
        if isinstance(item, _Group) and not _info(item).nullable:
            inner = _trim_alt(src, item.alt, keep, _first_of(seq.items[index + 1 :], after))
            return src[seq.start : item.start] + f"{_opener(src, item)}{inner})" + src[item.end : seq.end]
        break
    return src[seq.start : seq.end]


def _may_start(node: _Node, char: str) -> bool:
    info = _info(node)
    return info.nullable or info.at_start or info.chars is None or char in info.chars


def _literal_starts(alt: _Alt) -> bool:
    """Every top-level branch starts with a plain literal character (no quantifier on it),
    looking through non-capturing groups: `re` then finds candidate positions itself."""
    for branch in alt.branches:
        if not branch.items:
            return False
        head = branch.items[0]
        while isinstance(head, _Group) and not head.capturing and len(head.alt.branches) == 1:
            items = head.alt.branches[0].items
            if not items:
                return False
            head = items[0]
        if not (isinstance(head, _Char) and head.chars is not None and len(head.chars) == 1):
            return False
    return True


# --- parser -----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _captures(pattern: str) -> bool:
    return _has_capture(_parse(pattern))


@lru_cache(maxsize=4096)
def _parse(pattern: str) -> _Alt:
    """The syntax tree of `pattern` (cached: trees are never modified after parsing)."""
    reader = _Reader(pattern)
    tree = reader.alternation()
    if reader.pos != len(pattern):
        raise Unknown("unbalanced parenthesis")
    return tree


class _Reader:
    """Recursive descent over the pattern text."""

    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.pos = 0

    def _peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def alternation(self) -> _Alt:
        start = self.pos
        branches = [self.sequence()]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        return _Alt(start, self.pos, branches)

    def sequence(self) -> _Seq:
        start = self.pos
        items: list[_Node] = []
        while self.pos < len(self.src) and self._peek() not in "|)":
            items.append(self.quantified())
        return _Seq(start, self.pos, items)

    def quantified(self) -> _Node:
        start = self.pos
        item = self.atom()
        char = self._peek()
        low, high = 1, None
        if char == "*":
            low, high = 0, None
        elif char == "+":
            low, high = 1, None
        elif char == "?":
            low, high = 0, 1
        elif char == "{":
            match = _QUANT.match(self.src, self.pos)
            if match is None or not (match.group(1) or match.group(2)):
                return item  # a literal "{": read as the next atom
            low = int(match.group(1) or 0)
            high = low  # {m}
            if match.group(2) is not None:  # {m,} {,n} {m,n}
                high = int(match.group(3)) if match.group(3) else None
            self.pos = match.end() - 1
        else:
            return item
        self.pos += 1
        if self._peek() in ("?", "+"):
            self.pos += 1  # lazy or possessive: same characters
        if isinstance(item, _Start | _Zero):
            raise Unknown("quantified zero-width item")
        return _Repeat(start, self.pos, item, low, high)

    def atom(self) -> _Node:
        start = self.pos
        char = self._peek()
        self.pos += 1
        if char == "(":
            return self.group(start)
        if char == "[":
            chars = self.char_set()  # read first: the node's span must end after the "]"
            return _Char(start, self.pos, chars)
        if char == "\\":
            return self.escape(start)
        if char == "^":
            return _Start(start, self.pos)
        if char == "$":
            return _Zero(start, self.pos)
        if char == ".":
            return _Char(start, self.pos, None)
        if char in "*+?":
            raise Unknown("nothing to repeat")
        return _Char(start, self.pos, frozenset(char))

    def group(self, start: int) -> _Node:
        capturing = True
        lookaround = False
        if self.src.startswith("?", self.pos):
            rest = self.src[self.pos + 1 : self.pos + 4]
            if rest.startswith((":", ">")):  # non-capturing or atomic
                self.pos += 2
                capturing = False
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
                return _Zero(start, self.pos)
            else:
                raise Unknown("flags, back-reference or conditional")
        alt = self.alternation()
        if self._peek() != ")":
            raise Unknown("unbalanced parenthesis")
        self.pos += 1
        if lookaround:
            if _has_capture(alt):
                raise Unknown("capturing group inside a look-around")
            positive = self.src.startswith(("(?=", "(?<="), start)
            return _Zero(start, self.pos, alt if positive else None)
        return _Group(start, self.pos, alt, capturing)

    def escape(self, start: int) -> _Node:
        char = self._peek()
        if not char:
            raise Unknown("trailing backslash")
        self.pos += 1
        if char in "bBZ":
            return _Zero(start, self.pos)
        if char == "A":
            return _Start(start, self.pos)
        escaped = self._escaped_char(char)
        return _Char(start, self.pos, None if escaped is None else frozenset(escaped))

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

    def char_set(self) -> frozenset[str] | None:
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
                return None if out is None else frozenset(out)
            first = False
            low: str | None = char
            if char == "\\":
                escaped = self._peek()
                if not escaped:
                    raise Unknown("trailing backslash")
                self.pos += 1
                low = self._escaped_char(escaped)
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
