"""One native pass over a message for every list that asks which of its texts the message holds.

The keyword scans of majors.yaml and basic.yaml (each a `CategorySet.automaton` of the keys its
matches can begin with, and for majors a `gate` of the texts they need) and the cue gate of
cues.yaml (`_Cues` in classify.py) each used to walk the same message with an automaton of
their own: five passes, each with its call into the native library and its list of findings.
`Scanner` walks it once with one Aho-Corasick automaton of all their texts (a text several lists
ask for is looked for once) and deals the findings out to each list. Only how the texts are
found changes, not what: `CategorySet.matches_found` gives what `CategorySet.matches` gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ahocorasick_rs

from handlers.parsing.lexicon import CategorySet

# What a text of the joint automaton is to the lists (bits of `Scanner._roles`).
_MAJOR_KEY, _MAJOR_GATE, _BASIC_KEY, _BASIC_GATE, _CUE = 1, 2, 4, 8, 16
_NO_CUES = -1  # without a cue gate every list may match


@dataclass(slots=True)
class Found:
    """What one pass found in one text, dealt out per list."""

    text: str
    major_keys: list[tuple[int, int]]  # (key index, start) of majors' `automaton`
    major_texts: set[int] | None  # indexes into majors' `gate_texts`; None without a gate
    basic_keys: list[tuple[int, int]]
    basic_texts: set[int] | None
    cue_lists: int  # the bits of the cue lists that can match (see `_Cues`)


class Scanner:
    """The joint automaton of the majors' and basics' keys and gate texts and of the cue gate's
    texts (`cue_bits[i]`: the bits of the cue lists that need `cue_texts[i]`)."""

    def __init__(
        self, majors: CategorySet, basics: CategorySet, cue_texts: list[str], cue_bits: list[int]
    ) -> None:
        self.majors = majors
        self.basics = basics
        self._has_cues = bool(cue_texts)
        index: dict[str, int] = {}
        texts: list[str] = []
        roles: list[int] = []
        # per joint text, its index in each list it belongs to (0 where it belongs to none)
        major_key: list[int] = []
        major_gate: list[int] = []
        basic_key: list[int] = []
        basic_gate: list[int] = []
        cues: list[int] = []
        groups: list[tuple[int, list[str], list[int]]] = [
            (_MAJOR_KEY, majors.keys if majors.automaton is not None else [], major_key),
            (_MAJOR_GATE, majors.gate_texts if majors.gate is not None else [], major_gate),
            (_BASIC_KEY, basics.keys if basics.automaton is not None else [], basic_key),
            (_BASIC_GATE, basics.gate_texts if basics.gate is not None else [], basic_gate),
        ]
        columns = [major_key, major_gate, basic_key, basic_gate, cues]

        def joint(text: str) -> int:
            number = index.get(text)
            if number is None:
                number = index[text] = len(texts)
                texts.append(text)
                roles.append(0)
                for column in columns:
                    column.append(0)
            return number

        for role, own, column in groups:
            for position, text in enumerate(own):
                number = joint(text)
                roles[number] |= role
                column[number] = position
        for text, bits in zip(cue_texts, cue_bits, strict=True):
            number = joint(text)
            roles[number] |= _CUE
            cues[number] |= bits
        self._automaton = (
            ahocorasick_rs.AhoCorasick(texts, matchkind=ahocorasick_rs.MatchKind.Standard) if texts else None
        )
        self._roles = roles
        self._major_key, self._major_gate = major_key, major_gate
        self._basic_key, self._basic_gate = basic_key, basic_gate
        self._cues = cues
        self._major_gated = majors.gate is not None
        self._basic_gated = basics.gate is not None
        # the last text scanned and what was found in it (the text is held, so its id cannot be
        # reused by another while it is compared by identity)
        self._last = Found("", [], None, [], None, 0)
        self._scanned = False

    def found(self, text: str) -> Found:
        """What the pass finds in `text`; the last text's findings are kept, as the classifier
        asks of one message's body many times over."""
        last = self._last
        if self._scanned and last.text is text:
            return last
        major_keys: list[tuple[int, int]] = []
        basic_keys: list[tuple[int, int]] = []
        major_texts: set[int] | None = set() if self._major_gated else None
        basic_texts: set[int] | None = set() if self._basic_gated else None
        lists = 0 if self._has_cues else _NO_CUES
        if self._automaton is not None:
            roles = self._roles
            for number, start, _end in self._automaton.find_matches_as_indexes(text, overlapping=True):
                role = roles[number]
                if role & _MAJOR_KEY:
                    major_keys.append((self._major_key[number], start))
                if role & _MAJOR_GATE and major_texts is not None:
                    major_texts.add(self._major_gate[number])
                if role & _BASIC_KEY:
                    basic_keys.append((self._basic_key[number], start))
                if role & _BASIC_GATE and basic_texts is not None:
                    basic_texts.add(self._basic_gate[number])
                if role & _CUE:
                    lists |= self._cues[number]
        found = self._last = Found(text, major_keys, major_texts, basic_keys, basic_texts, lists)
        self._scanned = True
        return found

    def matches(self, cats: CategorySet, text: str) -> list[tuple[int, re.Match[str]]]:
        """`cats.matches(text)`, from the joint pass where `cats` is one of its two sets."""
        if cats.automaton is not None:
            if cats is self.majors:
                found = self.found(text)
                return cats.matches_found(text, found.major_texts, found.major_keys)
            if cats is self.basics:
                found = self.found(text)
                return cats.matches_found(text, found.basic_texts, found.basic_keys)
        return cats.matches(text)

    def cue_lists(self, text: str) -> int:
        """The bits of the cue lists that can match `text` (-1, all, without a cue gate)."""
        return self.found(text).cue_lists
