"""`#command args` → (command code, CommandArgs).

Choice where the spec was silent: an unknown `#word` is still kind "command" with
command=None and args.text holding the word and the rest, so the workflow can answer with
the help text instead of treating an instruction as a report.
"""

from __future__ import annotations

import re

from handlers.parsing.lexicon import Lexicon
from handlers.parsing.numerals import cn_to_int
from handlers.parsing.result import CommandArgs

COMMAND_START = re.compile(r"^[#/]\s*(?=[^\W_])")
_STAR_RATING = re.compile(r"([1-5一二三四五两])\s*(?:星|分|颗星)")
_BARE_RATING = re.compile(r"(?<![0-9A-Za-z.])([1-5])(?![0-9A-Za-z.])")
_GRADE = re.compile(r"(?<![0-9A-Za-z])([ABCabc])(?:类|级)?(?![0-9A-Za-z])")
# A topic tag as WeChat and Weibo write it, closed by a second # (#垃圾分类打卡#, #小区管理#):
# what follows is a post under that topic, not an instruction to the bot.
_TOPIC_TAG = re.compile(r"#\s*([^#\s]{1,20})#")


def is_command(text: str) -> bool:
    # startswith first: it settles almost every message without running the regex
    return text.startswith(("#", "/")) and COMMAND_START.match(text) is not None


def _ref_regex(prefixes: str) -> re.Pattern[str]:
    letters = "".join(sorted({p.upper() for p in prefixes} | {p.lower() for p in prefixes}))
    return re.compile(rf"(?<![0-9A-Za-z])([{letters}])\s?([0-9]{{1,7}})(?![0-9])")


class CommandParser:
    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon
        self._refs = _ref_regex(lexicon.ref_prefixes)
        # command words by their lower-case form, and their lengths longest first: a lookup per
        # length instead of a comparison per word
        self._words = {word.lower(): code for word, code in lexicon.commands.items()}
        self._lengths = sorted({len(word) for word in self._words}, reverse=True)

    def is_command(self, text: str) -> bool:
        """`is_command`, except for a post under a topic tag (#小区管理# 1号楼窨井盖松了): a tag
        that is not a command word (#收到# M3 still is one) makes the message an ordinary one."""
        if not is_command(text):
            return False
        tag = _TOPIC_TAG.match(text)
        if tag is None:
            return True
        code, rest = self._command_word(tag.group(1))
        return code is not None and rest.isascii()  # #收到M3#, not #帮助邻里#

    def parse(self, text: str) -> tuple[str | None, CommandArgs]:
        body = COMMAND_START.sub("", text, count=1)
        code, rest = self._command_word(body)
        args = CommandArgs()
        refs: list[str] = []

        def take_ref(match: re.Match[str]) -> str:
            refs.append(f"{match.group(1).upper()}{int(match.group(2))}")
            return " "

        rest = self._refs.sub(take_ref, rest)
        args.refs = refs
        if code in self._lex.grade_commands:
            match = _GRADE.search(rest)
            if match is not None:
                args.grade = match.group(1).upper()
                rest = rest[: match.start()] + " " + rest[match.end() :]
        if code == "rate":
            args.rating, rest = self._rating(rest)
        args.text = " ".join(rest.split())
        return code, args

    def _command_word(self, body: str) -> tuple[str | None, str]:
        for length in self._lengths:  # longest first: 零报告 before 零报
            code = self._words.get(body[:length].lower())
            if code is not None:
                return code, body[length:]
        return None, body  # unknown command: the word stays in args.text

    def _rating(self, rest: str) -> tuple[int | None, str]:
        match = _STAR_RATING.search(rest) or _BARE_RATING.search(rest)
        if match is not None:
            value = cn_to_int(match.group(1))
            if value is not None and 1 <= value <= 5:
                return value, rest[: match.start()] + " " + rest[match.end() :]
        for word, value in self._lex.ratings:  # longest first: 不满意 before 满意
            index = rest.find(word)
            if index >= 0:
                return value, rest
        return None, rest
