"""Two second opinions, naive Bayes over the characters of a message.

The rules decide what a message is. Where their call is open (a basic situation or chat, not a
notice, thanks, a joke, a zero report or a command) two small models read the whole way the
message is written: the log-odds of one kind over the other, summed over the characters and
character pairs it contains (and the sender's role), learnt by `scripts/train_chatter.py`.

- The chatter model (`config/parser/chatter.tsv`): basic (楼道灯坏了) or chat (谢谢网格员，
  灯修好了; 我奶奶说她年轻时经历过大地震), where the same words appear in both. When very sure
  (|log-odds| above its threshold) it turns the rules' basic into other or the reverse.
- The alarm model (`config/parser/alarm.tsv`): a major the rules' words missed (a neighbour's
  cry and then silence, a scam under way told in new words). When very sure it makes the call
  a major, unless the rules know better (the message says it is over, news, a drill, or every
  major sign in it was negated): a missed major costs far more than a false alarm.

Each file holds `bias`, `unseen` and `threshold`, then one `feature<TAB>weight` a line (lines
split on \n only: a feature may be any character but \n). Retrain them when the labelled set
grows; delete a file and the rules decide alone. `Opinions` reads both in one walk.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

FEATURE_CHARS = 200  # the start of a message says what it is; a long paste costs no more
_HEADER = frozenset({"bias", "unseen", "threshold"})


# Punctuation, spaces and stickers go, and every number reads as one 0: the same message written
# with full stops or spaces, 7栋 or 七栋, 10栋 or 十栋, must get the same opinion
# (tests/parser/test_invariance.py).
_NOT_WORDS = re.compile(r"[^\w?!]+|_")
_NUMERAL_CHARS = "0123456789〇零一二三四五六七八九十两"
_NUMERALS = str.maketrans(dict.fromkeys(_NUMERAL_CHARS, "0"))
_NUMBER = re.compile("00+")
# the followers of a character that begins no stored pair
_NO_PAIRS: dict[str, tuple[float, float]] = {}
_Entry = tuple[float, float, dict[str, tuple[float, float]], str, bool]


def words(text: str) -> str:
    """The text the model reads: the rules' reading of a message, without punctuation."""
    return _NUMBER.sub("0", _NOT_WORDS.sub("", text).translate(_NUMERALS))


def features(text: str, role: str | None) -> list[str]:
    """What the model reads of a message (`words`): each character, each pair of neighbouring
    characters, and the role. `ChatterModel.score` walks the same without making the list."""
    text = words(text[: FEATURE_CHARS * 2])[:FEATURE_CHARS]
    out = [f"ROLE={role}"]
    out += text
    out += (text[i : i + 2] for i in range(len(text) - 1))
    return out


class ChatterModel:
    """Log-odds of one kind over another (basic over other; for the alarm model, major over the
    rest); `verdict` gives "basic", "other" or None (not sure)."""

    def __init__(self, weights: dict[str, float], bias: float, unseen: float, threshold: float) -> None:
        self.weights = weights  # as learnt: every numeral written 0 (`words`)
        self.bias = bias  # the log-odds before reading anything: how common each kind is
        self.unseen = unseen  # the weight of a feature not in the file
        self.threshold = threshold
        self._alone: Opinions | None = None  # `score`'s walk, made on first use

    def score(self, text: str, role: str | None) -> float:
        """The sum of the weights of `features(text, role)`: `Opinions` walks the text, this
        model alone (the parser asks both models in one walk)."""
        if self._alone is None:
            self._alone = Opinions(self, None)
        return self._alone.scores(text, role)[0]

    def verdict(self, text: str, role: str | None) -> str | None:
        return self.call(self.score(text, role))

    def call(self, score: float) -> str | None:
        """What a score says: "basic" or "other" beyond the threshold, else None (not sure)."""
        if score > self.threshold:
            return "basic"
        if score < -self.threshold:
            return "other"
        return None

    @classmethod
    def load(cls, path: Path) -> ChatterModel | None:
        """The model in `path`, or None when there is no such file. A broken file raises
        ValueError naming the line, like a broken lexicon file: better than a silent fallback."""
        if not path.exists():
            return None
        header: dict[str, float] = {}
        weights: dict[str, float] = {}
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines, 1):
            if not line or (number == 1 and line.startswith("#")):
                continue  # the first line may say what the file is
            try:
                key, value = line.rsplit("\t", 1)
                # a feature is one or two characters or ROLE=…; longer names are the header's
                target = header if key in _HEADER else weights
                target[key] = float(value)
            except ValueError as exc:
                raise ValueError(
                    f"{path.name} 第 {number} 行格式错误 (line {number} is malformed): {line[:60]!r}"
                ) from exc
        missing = sorted(name for name in _HEADER if name not in header)
        if missing:
            raise ValueError(f"{path.name} 缺少表头 (header missing): {', '.join(missing)}")
        return cls(weights, header["bias"], header["unseen"], header["threshold"])


class Opinions:
    """The chatter and alarm models read in one walk: both ask the same features of the same
    text, so one dictionary look-up per feature gives both weights."""

    def __init__(self, chatter: ChatterModel | None, alarm: ChatterModel | None) -> None:
        self.chatter = chatter
        self.alarm = alarm
        none = ChatterModel({}, 0.0, 0.0, math.inf)  # a model that is absent says nothing
        first, second = chatter or none, alarm or none
        # Both weights of a feature in one entry (chatter, alarm): one look-up gives both. The
        # walk is bound by cache misses, not instructions, so the features are kept per
        # character: its weights and the weights of the pairs it begins (by the pair's second
        # character). A character is then one look-up among a few thousand and its pair one among
        # that character's followers, where a table of all 50,000 features took two look-ups that
        # missed the cache and a new two-character string per character. The weights are summed
        # as two floats, which the compiled build keeps unboxed (a complex sum made a new object
        # at every step). The ROLE= features have their own table.
        self._unseen: tuple[float, float] = (first.unseen, second.unseen)
        self._bias: tuple[float, float] = (first.bias, second.bias)
        # character -> (chatter weight, alarm weight, the pairs it begins, how the pairs name it,
        # whether it is a numeral)
        self._chars: dict[str, _Entry] = {}
        self._others: dict[str, tuple[float, float]] = {}
        pairs: dict[str, dict[str, tuple[float, float]]] = {}
        singles: dict[str, tuple[float, float]] = {}
        for feature in first.weights.keys() | second.weights.keys():
            weight = (first.weights.get(feature, first.unseen), second.weights.get(feature, second.unseen))
            if weight == self._unseen:  # what an unseen feature weighs in both need not be stored
                continue
            if len(feature) == 1:
                singles[feature] = weight
            elif len(feature) == 2:
                pairs.setdefault(feature[0], {})[feature[1]] = weight
            else:
                self._others[feature] = weight
        for char in singles.keys() | pairs.keys():
            single = singles.get(char, self._unseen)
            self._chars[char] = (single[0], single[1], pairs.get(char, _NO_PAIRS), char, False)
        # Every numeral reads as 0 (`words`): its entry is 0's, marked as a numeral.
        zero = self._chars.get("0", (*self._unseen, _NO_PAIRS, "0", True))
        for char in _NUMERAL_CHARS:
            self._chars[char] = (zero[0], zero[1], zero[2], "0", True)

    def scores(self, text: str, role: str | None) -> tuple[float, float]:
        """(chatter score, alarm score) of `text`: the sums of each model's weights of
        `features(text, role)`, walked in place (no list, no rewritten copy of the text)."""
        chars = self._chars
        unseen_chat, unseen_alarm = unseen = self._unseen
        role_chat, role_alarm = self._others.get(f"ROLE={role}", unseen)
        chat = role_chat + self._bias[0]
        alarm = role_alarm + self._bias[1]
        # the pairs the previous character begins; None before the first character
        followers: dict[str, tuple[float, float]] | None = None
        in_number = False
        kept = 0
        for char in text[: FEATURE_CHARS * 2]:
            # One look-up answers most characters: the table holds every character the models
            # know and every numeral; only the others need asking whether they are words.
            entry = chars.get(char)
            if entry is None:
                if not (char.isalnum() or char == "?" or char == "!"):
                    continue  # what `words` drops (\w is alphanumeric or _)
                in_number = False
                chat += unseen_chat
                alarm += unseen_alarm
            else:
                if entry[4]:
                    if in_number:
                        continue  # a number is read as its first numeral, any of which reads as 0
                    in_number = True
                else:
                    in_number = False
                chat += entry[0]
                alarm += entry[1]
            # The character, then the pair it ends: the order of `features`, so the sums are
            # the same to the last bit.
            if followers is not None:
                pair = followers.get(char if entry is None else entry[3])
                if pair is None:
                    chat += unseen_chat
                    alarm += unseen_alarm
                else:
                    chat += pair[0]
                    alarm += pair[1]
            followers = _NO_PAIRS if entry is None else entry[2]
            kept += 1
            if kept == FEATURE_CHARS:
                break
        return chat, alarm
