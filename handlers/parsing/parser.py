"""`Parser`: one chat message → ParseResult. Never raises; always returns a valid kind."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from handlers.parsing.address import Address, extract_address
from handlers.parsing.chatter import ChatterModel, Opinions
from handlers.parsing.classify import Classification, Classifier
from handlers.parsing.commands import CommandParser
from handlers.parsing.lexicon import Lexicon, default_lexicon_dir, load_lexicon
from handlers.parsing.normalize import normalize_parts, quoted
from handlers.parsing.pii import blank_pii, find_pii, mask_pii
from handlers.parsing.result import Kind, ParseResult, PiiSpan
from handlers.parsing.times import extract_times

# Rules read at most this many characters: a 1 MB paste is classified by its start
# (every real report fits), while PII masking still covers the whole text in one linear pass.
CLASSIFY_CHARS = 2000
# The items of a list report: 1.4栋消防通道畅通；2.6栋… or one item a line, or numbered on one
# line (1. 3栋楼道畅通 2. 5栋消防栓完好 3. 10栋有住户飞线充电: a space, then "2." not "2.5").
_ITEMS = re.compile(r"[;\n]|\s+(?=[0-9]{1,2}\s*[.、)](?![0-9]))")
_OTHER = Classification("other")


class Parser:
    """Loads the lexicon once (config/parser/*.yaml, or `lexicon_dir`) and parses messages."""

    def __init__(self, lexicon_dir: Path | None = None, *, precompile: bool = False) -> None:
        """`precompile=True` also compiles every per-character keyword regex now (~0.1 s)
        instead of on first use, so no early message pays for a compile."""
        self.lexicon: Lexicon = load_lexicon(lexicon_dir)
        if precompile:
            self.compile_all()
        self._classifier = Classifier(self.lexicon)
        # the second opinion on basic versus chat (chatter.py); None: the rules alone
        self.chatter = ChatterModel.load((lexicon_dir or default_lexicon_dir()) / "chatter.tsv")
        # the second opinion on "is this a major the rules' words missed?" (chatter.py)
        self.alarm = ChatterModel.load((lexicon_dir or default_lexicon_dir()) / "alarm.tsv")
        self._opinions = Opinions(self.chatter, self.alarm)
        self._commands = CommandParser(self.lexicon)

    def compile_all(self) -> None:
        """Compile every per-character keyword regex now (once; later calls cost nothing)."""
        self.lexicon.majors.compile_all()
        self.lexicon.basics.compile_all()

    def parse(
        self,
        text: str,
        chat: str = "group",
        role: str | None = None,
        now: datetime | None = None,
    ) -> ParseResult:
        return self.parse_any(text, chat, role, now)

    def parse_any(
        self, text: object, chat: object = "group", role: object = None, now: object = None
    ) -> ParseResult:
        """`parse` for values of any type (None, numbers from a JSON line): the compiled build
        checks argument types at the call, so this is what takes anything; it never raises."""
        safe = text if isinstance(text, str) else "" if text is None else str(text)
        try:
            return self._parse(
                safe,
                chat if isinstance(chat, str) else "group",
                role if isinstance(role, str) else None,
                now if isinstance(now, datetime) else None,
            )
        except Exception:  # last line of defence: a message must never crash the bot
            return ParseResult(kind="other", text="", masked_text=mask_pii(safe[:CLASSIFY_CHARS]))

    def _parse(self, text: str, chat: str, role: str | None, now: datetime | None) -> ParseResult:
        mentions, norm = normalize_parts(text)
        pii, masked = find_pii(norm)
        head = self._head(text, norm, pii)
        category = handled = command = args = grade = None
        if self._commands.is_command(head):
            kind: Kind = "command"
            command, args = self._commands.parse(head)
        else:
            verdict = self._classifier.classify(head, role, "@所有人" in mentions)
            if verdict.body:
                verdict = self._second_opinions(verdict, role)
            kind, category = verdict.kind, verdict.category
            if kind == "basic":
                handled = verdict.handled
                if category is not None:
                    grade = self._grade(head, category)
        addr = extract_address(head)
        if kind in ("major", "basic") and addr.building is not None and _ITEMS.search(head) is not None:
            addr = self._item_address(head, kind, role) or addr
        # One constructor call with every field: cheaper than filling in a default result.
        return ParseResult(
            kind,
            norm,
            masked,
            category,
            addr.building,
            addr.unit,
            addr.floor,
            addr.room,
            handled,
            command,
            args,
            grade,
            extract_times(head, now),
            pii,
        )

    def _head(self, text: str, norm: str, pii: list[PiiSpan]) -> str:
        """What the rules read: the start of the normalised text, personal numbers blanked,
        with what a reply quotes where it needs it."""
        head = norm[:CLASSIFY_CHARS]
        if pii:
            head = blank_pii(head, [s for s in pii if s.start < CLASSIFY_CHARS])
        if text[:1] == "「" or text.lstrip().startswith("「"):
            head = self._with_quote(text, head)
        return head

    def chatter_input(self, text: str, role: str | None) -> str | None:
        """What the chatter model reads of `text`, as in `parse`; None where it is not asked
        (scripts/train_chatter.py learns from the same)."""
        head = self._head_of(text)
        if self._commands.is_command(head):
            return None
        return self._classifier.classify(head, role, False).body or None

    def _second_opinions(self, verdict: Classification, role: str | None) -> Classification:
        """The rules' open call (`verdict.body`) put to the two models (chatter.py): the chatter
        model may turn basic into chat or back when sure; the alarm model may make it a major
        when sure (a missed one costs far more than a false alarm) and the rules do not know
        better."""
        opinions = self._opinions
        if opinions.chatter is not self.chatter or opinions.alarm is not self.alarm:
            opinions = self._opinions = Opinions(self.chatter, self.alarm)  # a model swapped in
        body = verdict.body
        chat, alarm = opinions.scores(body, role)
        if self.alarm is not None and alarm > self.alarm.threshold:
            category = self._classifier.alarm_category(body)
            if category is not None:
                return Classification("major", category)
        if self.chatter is not None:
            second = self.chatter.call(chat)
            if second is not None and second != verdict.kind:
                return self._classifier.as_basic(body) if second == "basic" else _OTHER
        return verdict

    def alarm_input(self, text: str, role: str | None) -> str | None:
        """What the alarm model reads of `text`: the rules' reading, for any message that is not a
        command (scripts/train_chatter.py --model alarm learns from the same)."""
        head = self._head_of(text)
        return None if self._commands.is_command(head) else self._classifier.body(head)

    def _head_of(self, text: str) -> str:
        """`_head` of a raw message, as `_parse` computes it."""
        norm = normalize_parts(text)[1]
        return self._head(text, norm, find_pii(norm)[0])

    def _item_address(self, head: str, kind: Kind, role: str | None) -> Address | None:
        """In a report of several items (1.4栋消防通道畅通；2.6栋地下车库有人躺着…, or one a
        line), the address of the first item that alone reads as the whole does: the others are
        checks passed. Without one of its own, it is at the heading's (7栋今日巡查：…), else at the
        first address outside a check passed (地点：7栋…), else at none: never at the check's,
        unless the item names a unit or a room and so goes on in the building named before it."""
        items = _ITEMS.split(head)
        kinds = [self._classifier.classify(item, role, False).kind for item in items]
        if kind not in kinds:
            return None
        found = own = extract_address(items[kinds.index(kind)])
        if found.building is None and ":" in items[0]:
            found = extract_address(items[0].split(":", 1)[0])
        if found.building is not None:
            return found
        passed = self._classifier.passed_check
        for item, item_kind in zip(items, kinds, strict=True):
            if item_kind != "zero_report" and not passed(item):
                where = extract_address(item)
                if where.building is not None:
                    return where
        if own.unit is not None or own.room is not None:
            return None  # 另外巡到2单元1203门口…: a unit or a room in the building named before
        return found

    def _with_quote(self, raw: str, reply: str) -> str:
        """A reply that bears out what it quotes (我也闻到了，越来越重了), or answers what it asks
        (「是不是11栋有人晕倒了？」 是的，就在3楼楼梯口), is read together with the quote: alone it
        names nothing. Any other reply (收到，马上过去; 没打架，是两个司机在对账) stands alone."""
        classifier = self._classifier
        if not reply.strip():  # a quote passed on with nothing added: it is the message
            return self._quote_text(raw) or reply
        corroborates = classifier.corroborates(reply)
        if not corroborates and (not classifier.answers(reply) or classifier.denies(reply)):
            return reply  # most replies (收到), and a denial (没打架): the quote is never cut out
        quote = self._quote_text(raw)
        if not quote or not (corroborates or classifier.asks(quote)) or not classifier.answers(quote):
            return reply  # (a quoted greeting or 收到 adds nothing to what the reply says)
        return f"{quote},{reply}"

    @staticmethod
    def _quote_text(raw: str) -> str:
        """The quoted message, as the rules read it (a phone number is no building or room)."""
        quote = quoted(raw)[:CLASSIFY_CHARS]
        pii, _ = find_pii(quote)
        return blank_pii(quote, pii) if pii else quote

    def _grade(self, text: str, category: str) -> str:
        for grade, regex in self.lexicon.grade_keywords:  # C, then B, then A
            if regex is not None and grade != "A" and regex.search(text):
                return grade
        return self.lexicon.grade_default.get(category, "A")


_default: Parser | None = None


def default_parser() -> Parser:
    global _default
    if _default is None:
        _default = Parser()
    return _default


def warm_parser() -> Parser:
    """The default Parser with every keyword regex compiled: for a long-running service, whose
    first messages should not each pay for some of the compiling while others wait."""
    parser = default_parser()
    parser.compile_all()
    return parser


def parse(text: object, chat: object = "group", role: object = None, now: object = None) -> ParseResult:
    """Parse with the lazily created default Parser; takes values of any type, never raises."""
    return default_parser().parse_any(text, chat, role, now)
