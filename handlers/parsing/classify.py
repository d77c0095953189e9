"""Kind and category of one normalised message: zero_report, basic, major, command, other.

Order of the decision (each step documented where it happens):
  1. no words at all (stickers, [图片]) → other
  2. major cues that are not negated (无人员受伤), not hypothetical (怕掉下来), not in a
     drill, a notice or second-hand news → major; a cue one point short counts when the
     message pleads for help (快来人); a category may outrank another (a stabbing is violence,
     not the casualty it caused)
  3. an explicit zero report (零报告, 重大情况:无 基本情况:无) → zero_report
  4. notices, adverts, supervisors' broadcasts, staff notices to the residents → other
  5. "nothing found" cue from staff and no real problem → zero_report
  6. chat that carries a stray keyword or two: thanks, reminders, news of elsewhere,
     neighbours asking one another (`_is_chat`) → other
  7. a category hit, a request or a work record → basic (where two categories both score,
     `prefer` in basic.yaml may pick by the message's form: a staff visit is care)
  8. anything else → other
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import ahocorasick_rs

from handlers.parsing.lexicon import CategorySet, Lexicon, Search
from handlers.parsing.result import Kind

_DELIMS = re.compile(r"[,。;!?\n]")
# WeChat emoji codes ([强], [捂脸]) and media placeholders ([图片], [视频]) carry no report.
_EMOJI_CODE = re.compile(r"\[[^\[\]\n]{1,6}\]")
# Spaces between Chinese characters, which many people type for commas (巡查燃气 没有闻到异味):
# read as commas, so a negation stops at them and the rules written for commas apply.
# Digits count on either side (已无意识 120正在抢救; 打了120 人还没醒).
_CJK_SPACES = re.compile(r"(?<=[\u3400-\u9fff)]) +(?=[\u3400-\u9fff0-9])|(?<=[0-9]) +(?=[\u3400-\u9fff])")
# Names and citations, not reports: a title (看了《唐山大地震》) or the words on a sign or a
# poster (广告写着'一氧化碳中毒怎么办'), or a question someone asked (有居民问"闻到煤气味怎么办").
# Their text is left out of the classification.
_CITED = re.compile(
    r"《[^《》\n]{0,40}》"
    r"|(?:(?<=写着|写的|标着|印着|贴着|标题|题目|叫做|名为|主题|问道|咨询|转发)|(?<=问))(?:是|的是)?:?\s*"
    r"(?:'[^'\n]{1,40}'|\"[^\"\n]{1,40}\"|“[^”\n]{1,40}”|‘[^’\n]{1,40}’)"
    # A word in scare quotes between words (作业又“失踪”了, 那只“跳楼”的猫): not meant as said;
    # a longer quote is more likely words on a sign (“禁止游泳”的警示牌), which stay.
    # Not after a verb of saying (喊“救命”, 说“不想活了”): that is what someone said.
    r"|(?<=[\u3400-\u9fff0-9])(?<![喊说叫道嚷吼呼写问])(?:“[\u3400-\u9fff]{1,3}”|\"[\u3400-\u9fff]{1,3}\")"
    r"(?=[\u3400-\u9fff])"
)
_CITE_MARKS = re.compile("[《'\"“‘]")


def _cited_away(match: re.Match[str]) -> str:
    """Cited words go, but a title leaves its empty marks: that a show, film or book is named
    (《急诊科医生》重温第三遍了) is itself a cue (cues.yaml `news`)."""
    return "《》" if match.group().startswith("《") else ""


# Someone's own words, quoted as they posted them (朋友圈写的“再见了大家…”): the matter itself.
_OWN_WORDS = re.compile("朋友圈|纸条|留言|遗书|动态|短信")
# What a negation inside a keyword hit must be followed by to deny the hit (`negated_within`).
_FINDING_VERB = re.compile("发现|闻到|闻见|看到|看见|见到|听到|查到|检测到|检出")
_WORDY = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
# A checklist's answer right after the item (燃气异味：无; 可疑人员　无; 消防隐患: 未发现; a table's
# | 打架斗殴 | 无 |): the item was checked and is not there. Only a whole answer counts: 燃气泄漏，
# 无人受伤 still reports a leak. Or the item said not to have been met with (煤气味儿没闻着).
_ANSWERED_NO = re.compile(
    r"(?:[^,。;!?\n:|]{0,4}[:|][ \t]*|[ \t,|]*)(?:无|没有|未发现|暂无|否|正常)(?=[,。;!?\n \t|]|$)"
    r"|儿?(?:都|也)?没(?:有)?(?:闻|发现|看|见|听|查)(?:到|着|见)(?=[,。;!?\n \t]|$)"
)
_NO_MATCH = re.compile("(?!)")  # stands in for a cue list that is missing or empty
_NONE: tuple[re.Match[str], ...] = ()
# A hit longer than this may span keywords of other categories (`_add_hidden`).
_LONG_HIT = 8
_STAFF = frozenset({"leader", "member"})  # grid staff: their "已处理" is a work record
_OVER_CUES = ("false_alarm", "thanks", "news", "drill", "laugh")
# who sends zero reports (None: unknown); in a merchant grid (商户网格) the shops check themselves
_REPORTERS = frozenset({"leader", "member", "merchant", None})


@dataclass(slots=True)
class Classification:
    kind: Kind
    category: str | None = None
    handled: bool | None = None
    # what the rules read, where their basic-or-chat call is open to the chatter model's second
    # opinion (chatter.py); empty where they recognised the form (a notice, thanks, a joke)
    body: str = ""


_OTHER = Classification("other")


def _as_commas(match: re.Match[str]) -> str:
    return "," * len(match.group(0))


def _word_spaced(text: str) -> bool:
    """Written with a space between nearly every word (older writers, some input methods): five
    pieces or more, of under 3.5 characters on average."""
    pieces = text.split()
    return len(pieces) >= 5 and sum(map(len, pieces)) < 3.5 * len(pieces)


def _wordy_start(text: str) -> bool:
    """The first character is one `_WORDY` finds: most messages need no search."""
    first = text[:1]
    return "\u3400" <= first <= "\u9fff" or (first.isascii() and first.isalnum())


class _Scope:
    """Clause structure of one message, shared by every keyword check.

    Each part is computed on first use: most messages have no keyword hit, and then the
    negation and clause positions are never needed.
    """

    __slots__ = ("_after", "_bounds", "_cues", "_delims", "_hyps", "_negs", "text")

    def __init__(self, text: str, cues: _Cues) -> None:
        self.text = text
        self._cues = cues
        self._delims: list[int] | None = None
        self._bounds: list[int] | None = None
        self._negs: list[int] | None = None
        self._hyps: list[int] | None = None
        self._after: list[int] | None = None

    def delims(self) -> list[int]:
        """Clause delimiter positions."""
        if self._delims is None:
            self._delims = [m.start() for m in _DELIMS.finditer(self.text)]
        return self._delims

    def bounds(self) -> list[int]:
        """Delimiters + scope breakers (但是, 却): where a negation stops."""
        if self._bounds is None:
            breakers = [m.start() for m in self._cues.iter("scope_breakers", self.text)]
            self._bounds = sorted(self.delims() + breakers)
        return self._bounds

    def negs(self) -> list[int]:
        """End positions of negation cues."""
        if self._negs is None:
            self._negs = [m.end() for m in self._cues.iter("negation", self.text)]
        return self._negs

    def hyps(self) -> list[int]:
        """End positions of hypothetical cues (major cues only)."""
        if self._hyps is None:
            self._hyps = [m.end() for m in self._cues.iter("hypothetical", self.text)]
        return self._hyps

    def imagined_after(self, end: int) -> bool:
        """A cue later in the clause makes the hit ending at `end` imagined (着火了都跑不出去:
        what a fire would do, `hypothetical_after`). The cue may share the hit's last
        character (泄漏了 / 了都跑不出去)."""
        if self._after is None:
            self._after = [m.end() for m in self._cues.iter("hypothetical_after", self.text)]
        for cue_end in self._after:
            if cue_end > end:
                if cue_end - end > _CUE_REACH + 8:  # the cue's own few characters, then the reach
                    return False
                bounds = self.delims()
                return bisect_left(bounds, end) == bisect_left(bounds, cue_end)
        return False

    def negated_within(self, start: int, end: int) -> bool:
        """A keyword hit that spans a negation of its own last words: 燃气没有闻到异味 or
        燃气管道未发现漏气, written without the comma that would end the clause before the
        negation. Only when a finding verb (闻到, 发现) follows the negation: in 燃气没关好漏了
        or 叫了几声没反应 the negation is of something else, or is itself the sign. And only when
        the hit goes on after the verb: in 一周没见到 nothing found is denied, someone is unseen."""
        for neg_end in self.negs():
            if start < neg_end < end:
                verb = _FINDING_VERB.match(self.text, neg_end)
                if verb is not None and verb.end() < end:
                    return True
        return False

    def clause(self, pos: int) -> int:
        return bisect_right(self.delims(), pos)

    def covered(self, pos: int, cue_ends: list[int]) -> bool:
        """True when a cue ends before `pos` with no clause bound in between, and not far before:
        in a run-on without punctuation (狗没拴绳把一个小女孩扑倒咬了脸上都是血) a negation
        does not reach the words `_CUE_REACH` characters on."""
        for end in reversed(cue_ends):
            if end > pos:
                continue
            if pos - end > _CUE_REACH:
                return False
            # first bound at or after the cue's end must lie after pos
            bounds = self.bounds()
            i = bisect_left(bounds, end)
            return i >= len(bounds) or bounds[i] >= pos
        return False


# How far (in characters) a negation or hypothetical cue reaches within its clause.
_CUE_REACH = 16


class _Cues:
    """The cue lists of cues.yaml: `search[name](text)` finds a list's first match, `iter(name,
    text)` each; a missing list never matches.

    Most messages hold none of the texts a list needs (`Lexicon.cue_needs`: 新闻, 演练, 谢谢 …):
    one native pass over the text finds which of all the lists' texts are there, and a list
    without one of its own is not searched at all. Only whether `re` runs changes, not what
    it would find."""

    def __init__(
        self,
        cues: dict[str, re.Pattern[str] | None],
        searchers: dict[str, Callable[[str], re.Match[str] | None]],
        needs: dict[str, frozenset[str]],
    ) -> None:
        def get(name: str) -> re.Pattern[str]:
            regex = cues.get(name)
            return _NO_MATCH if regex is None else regex

        self._regexes = {name: get(name) for name in cues}
        self.has_after = cues.get("hypothetical_after") is not None
        gate_texts = sorted(set().union(*needs.values()))
        self._gate = ahocorasick_rs.AhoCorasick(gate_texts) if gate_texts else None
        # One bit per gated list (about 35: a machine word, so no set is built or probed per
        # message). Each gate text carries the bits of the lists that need it; a text's bits
        # together say which lists can match it.
        self._bit = {name: 1 << index for index, name in enumerate(sorted(needs))}
        lists_of: dict[str, int] = dict.fromkeys(gate_texts, 0)
        for name, needed in needs.items():
            for text in needed:
                lists_of[text] |= self._bit[name]
        self._text_bits = [lists_of[text] for text in gate_texts]
        # the last text the gate read and the bits of the lists that can match it (one tuple,
        # so that a reader never sees the text of one call with the findings of another)
        self._seen: tuple[str, int] = ("", 0)
        self.search: dict[str, Callable[[str], re.Match[str] | None]] = {
            name: searchers.get(name) or get(name).search
            for name in (
                "zero_explicit",
                "zero",
                "positive_state",
                "inspection",
                "finding",
                "notice",
                "drill",
                "rehearsal",
                "interrupted",
                "broadcast",
                "news",
                "ack",
                "request",
                "question",
                "thanks",
                "work_record",
                "warning",
                "witnessed",
                "urgent",
                "staff_notice",
                "neighbourly",
                "local",
                "not_handled",
                "corroborate",
                "laugh",
                "visit",
                "false_alarm",
                "asks",
                "bare_reply",
                "denial",
                "confirmed",
                "handled",
            )
        }
        for name, search in self.search.items():
            if name in self._bit:
                self.search[name] = self._gated(name, search)

    def absent(self, name: str, text: str) -> bool:
        """True when `text` holds none of the texts every match of list `name` needs."""
        bit = self._bit.get(name, 0)
        return bit != 0 and not self._lists(text) & bit

    def _lists(self, text: str) -> int:
        """The bits of the lists that can match `text` (all of them without a gate)."""
        seen = self._seen
        if seen[0] is text:  # (the text is held in `_seen`: its id cannot be reused)
            return seen[1]
        if self._gate is None:
            return -1
        lists = 0
        text_bits = self._text_bits
        for index, _start, _end in self._gate.find_matches_as_indexes(text, overlapping=True):
            lists |= text_bits[index]
        self._seen = (text, lists)
        return lists

    def iter(self, name: str, text: str) -> Iterator[re.Match[str]]:
        """Every match of list `name` in `text`, left to right."""
        regex = self._regexes.get(name)
        if regex is None or self.absent(name, text):
            return iter(_NONE)
        return regex.finditer(text)

    def _gated(self, name: str, search: Search) -> Search:
        bit = self._bit[name]

        def gated(text: str) -> re.Match[str] | None:
            return None if not self._lists(text) & bit else search(text)

        return gated


class Classifier:
    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon
        self._cues = _Cues(lexicon.cues, lexicon.cue_search, lexicon.cue_needs)
        self._search = self._cues.search
        for _winner, _loser, cue, _roles in lexicon.basics.prefer:
            if cue not in self._search:  # a typo would silently never match
                known = ", ".join(sorted(self._search))
                raise ValueError(f"basic.yaml prefer: unknown cue list {cue!r} (one of: {known})")
        self._rank = {
            id(cats): {c: i for i, c in enumerate(cats.priority)} for cats in (lexicon.majors, lexicon.basics)
        }
        # One native pass finds the dialect words, the longest at each place (咗喺 before 咗): a
        # regex alternation of a few hundred words cost several times as much on every message.
        words = list(lexicon.dialect)
        self._dialect_standard = [lexicon.dialect[word] for word in words]
        self._dialect = (
            ahocorasick_rs.AhoCorasick(words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
            if words
            else None
        )

    def _scores(
        self, cats: CategorySet, text: str, scope: _Scope, major: bool, skip: set[int]
    ) -> dict[str, int]:
        scores: dict[str, int] = {}
        hits = cats.matches(text)
        if not hits:
            return scores
        cue_ends: list[int] | None = None
        negs: list[int] = []
        for pos, match in hits:
            group = match.lastgroup
            if group is None:
                continue
            if skip and scope.clause(pos) in skip:
                continue
            if cue_ends is None:
                negs = scope.negs()
                cue_ends = sorted(negs + scope.hyps()) if major else negs
            if cue_ends and scope.covered(pos, cue_ends):
                continue
            category, weight = cats.groups[group]
            if weight < cats.threshold:  # a strong keyword inside a weak one's span counts instead
                inner = self._stronger_inside(cats, text, match, weight)
                if inner is not None and not (cue_ends and scope.covered(inner.start(), cue_ends)):
                    pos, match = inner.start(), inner
                    category, weight = cats.groups[inner.lastgroup or ""]
            if negs and scope.negated_within(pos, match.end()):
                continue
            if _ANSWERED_NO.match(text, match.end()) is not None:
                continue
            if major and self._cues.has_after and scope.imagined_after(match.end()):
                continue
            scores[category] = scores.get(category, 0) + weight
            if match.end() - pos > _LONG_HIT:
                self._add_hidden(cats, text, scope, match, category, scores, cue_ends)
        for category, rules in cats.suppress.items():
            if category not in scores:
                continue
            for when, unless in rules:
                suppressed = when is not None and when.search(text) is not None
                if suppressed and (unless is None or not unless.search(text)):
                    del scores[category]
                    break
        for category, others in cats.outranks.items():
            if scores.get(category, 0) >= cats.threshold:
                for other in others:
                    scores.pop(other, None)
        return scores

    @staticmethod
    def _add_hidden(
        cats: CategorySet,
        text: str,
        scope: _Scope,
        match: re.Match[str],
        category: str,
        scores: dict[str, int],
        cue_ends: list[int] | None,
    ) -> None:
        """Keywords of other categories inside a long hit, which the scan did not look at: in
        独居老人家里煤气味特别大，敲门没人开 (a casualty sign over two clauses) the 煤气味 is a gas
        leak all the same. Each other category counts once, at its strongest."""
        found: dict[str, int] = {}
        for inner in cats.hits_within(text, match.start(), match.end()):
            if inner.end() >= match.end():
                continue  # the hit's own last words (电梯卡住了…喊救命): its evidence, not another sign
            other, weight = cats.groups[inner.lastgroup or ""]
            if other == category or found.get(other, 0) >= weight:
                continue
            if cue_ends and scope.covered(inner.start(), cue_ends):
                continue
            found[other] = weight
        for other, weight in found.items():
            scores[other] = scores.get(other, 0) + weight

    @staticmethod
    def _stronger_inside(
        cats: CategorySet, text: str, match: re.Match[str], weight: int
    ) -> re.Match[str] | None:
        """A keyword of more than `weight` inside `match`'s span, which the scan skipped."""
        for inner in cats.hits_within(text, match.start(), match.end()):
            if cats.groups[inner.lastgroup or ""][1] > weight:
                return inner
        return None

    def _best(self, scores: dict[str, int], cats: CategorySet) -> tuple[str | None, int]:
        if not scores:
            return None, 0
        rank = self._rank.get(id(cats))
        if rank is None:
            rank = {c: i for i, c in enumerate(cats.priority)}
        best = max(scores, key=lambda c: (scores[c], -rank.get(c, len(rank))))
        return best, scores[best]

    def _clauses_with(self, names: tuple[str, ...], text: str, scope: _Scope) -> set[int]:
        out: set[int] = set()
        for name in names:
            out.update(scope.clause(m.start()) for m in self._cues.iter(name, text))
        return out

    def classify(self, text: str, role: str | None, broadcast_mention: bool) -> Classification:
        body = self.body(text)
        if not _wordy_start(body) and _WORDY.search(body) is None:
            return _OTHER
        scope = _Scope(body, self._cues)
        ads: list[int] = []  # the number of advert cues, counted once on first use
        major = self._major(body, scope, ads, role == "merchant")
        if major is not None:
            return Classification("major", major)
        # (a supervisor writing 零报告 speaks of the rule or the tally: 无情况零报告，不得漏报)
        if role != "supervisor" and self._search["zero_explicit"](body) is not None:
            return Classification("zero_report")
        if self._is_notice_or_ad(body, role, broadcast_mention, ads):
            return _OTHER
        return self._basic_or_zero(body, role, scope)

    def as_basic(self, body: str) -> Classification:
        """A message the rules read as `body` (a `Classification.body`) taken as a basic
        situation, whatever they made of it (the chatter model's call, see chatter.py): its best
        basic category, else other, and whether it was handled."""
        scope = _Scope(body, self._cues)
        basics = self._lex.basics
        category, _score = self._best(self._scores(basics, body, scope, False, set()), basics)
        return Classification("basic", category or "other", self._handled(body, scope))

    def alarm_category(self, body: str) -> str | None:
        """Where the alarm model (chatter.py) thinks `body` is a major the rules missed: the
        category to report it under, or None where the rules know better. That is where the
        message says it is over, was a false alarm, is news or a drill, thanks someone or laughs,
        and where every major sign the rules found was negated or explained away (没动手, 没人受伤):
        the model reads words, not what is said of them. Otherwise the category of the strongest
        major sign, though too weak for the rules alone, else other."""
        scope = _Scope(body, self._cues)
        search = self._search
        if self._handled(body, scope) or any(search[name](body) is not None for name in _OVER_CUES):
            return None
        majors = self._lex.majors
        scores = self._scores(majors, body, scope, True, set())
        if not scores and majors.matches(body):
            return None
        return self._best(scores, majors)[0] or "other"

    def body(self, text: str) -> str:
        """What the rules read: stickers, spacing, cited words and dialect dealt with."""
        body = _EMOJI_CODE.sub(" ", text) if "[" in text else text
        if " " in body:
            # Spaces stand for commas (楼道灯坏了 晚上黑乎乎的), unless they fall between nearly
            # every word (摔倒 了 头上 都是 血): then they separate nothing and are dropped.
            body = _CJK_SPACES.sub("" if _word_spaced(body) else _as_commas, body)
        if _CITE_MARKS.search(body) is not None and _OWN_WORDS.search(body) is None:
            body = _CITED.sub(_cited_away, body)
        return self._standardised(body)

    def _standardised(self, body: str) -> str:
        """`body` with each dialect word (dialect.yaml) in its standard form."""
        found = self._dialect.find_matches_as_indexes(body) if self._dialect is not None else None
        if not found:
            return body
        pieces: list[str] = []
        pos = 0
        for index, start, end in found:
            pieces.append(body[pos:start])
            pieces.append(self._dialect_standard[index])
            pos = end
        pieces.append(body[pos:])
        return "".join(pieces)

    def passed_check(self, text: str) -> bool:
        """Something checked and found in order (消防通道畅通, 5栋正常: cues.yaml `positive_state`)."""
        return self._search["positive_state"](text) is not None

    def corroborates(self, reply: str) -> bool:
        """The reply says the quoted thing is so, or worse (cues.yaml `corroborate`)."""
        return self._search["corroborate"](reply) is not None

    def asks(self, quote: str) -> bool:
        """The quoted message is a question (cues.yaml `asks`: 还有味道吗？, 什么情况)."""
        return self._search["asks"](quote) is not None

    def denies(self, reply: str) -> bool:
        """The reply says the quoted thing is not so (cues.yaml `denial`: 没打架，是两个司机在对账)."""
        return self._search["denial"](reply) is not None

    def answers(self, reply: str) -> bool:
        """The reply says something of its own, not only 收到 or 好的 (cues.yaml `bare_reply`)."""
        if "[" in reply:  # 收到[抱拳]: a sticker code adds no words
            reply = _EMOJI_CODE.sub("", reply)
        return _wordy_start(reply) and self._search["bare_reply"](reply) is None

    def _ad_count(self, body: str, ads: list[int]) -> int:
        if not ads:
            ads.append(sum(1 for _match in self._cues.iter("ad", body)))
        return ads[0]

    def _major(self, body: str, scope: _Scope, ads: list[int], merchant: bool) -> str | None:
        majors = self._lex.majors
        scores = self._scores(majors, body, scope, True, set())
        best, score = self._best(scores, majors)
        if best is None:
            return None
        if (
            score < majors.threshold
            and (score + 1 < majors.threshold or self._search["urgent"](body) is None)
            and sum(scores.values()) <= majors.threshold
        ):
            # A weak sign alone; with a plea for help (快来人) it is enough, and so are weak signs
            # of several kinds that together say more than a strong one (屋里嘶嘶响，门缝里一股臭鸡蛋味，
            # 敲门没人应: a hiss, a smell and a silence).
            return None
        # Checked after the keywords (the order does not change the outcome): few messages
        # get this far, so most never pay for the drill, news and advert searches.
        search = self._search
        if (
            search["drill"](body) is not None
            and (best != "missing" or search["rehearsal"](body))
            and search["interrupted"](body) is None
        ):
            # 消防演练 is not a fire; but someone gone is gone, whatever lecture they went to,
            # unless the going is itself rehearsed (模拟老人走失搜寻); and what befell someone
            # in the middle of a training is real (培训到一半有个志愿者突然晕倒了)
            return None
        if search["news"](body) is not None and search["confirmed"](body) is None:
            return None  # a fire in the news is not ours, unless the writer went and saw it
        if self._ad_count(body, ads) + merchant >= 3:
            # an advert shouting 重大/爆炸价 is still an advert; a shop's post needs one cue less
            return None
        return best

    def _is_notice_or_ad(self, body: str, role: str | None, broadcast_mention: bool, ads: list[int]) -> bool:
        if self._search["notice"](body) is not None:
            return True
        # A shop counts once towards an advert, unless it reports on itself (本店今日自查，无异常).
        merchant = role == "merchant" and self._search["zero"](body) is None
        if self._ad_count(body, ads) + merchant >= 2:
            return True
        if role in _STAFF:
            if self._staff_notice(body):
                return True
            if self._search["drill"](body) is not None:
                # Staff announcing a drill or a talk to the residents (请大家准时参加) is a notice.
                return self._search["broadcast"](body) is not None
        if role == "supervisor" or broadcast_mention:
            if role in _STAFF and self._search["zero"](body) is not None:
                return False  # @所有人 9号楼今日无情况: a zero report put to everyone
            # Supervisors broadcast and instruct staff; a forwarded concrete problem stays basic.
            return self._search["broadcast"](body) is not None or broadcast_mention
        return False

    def _staff_notice(self, body: str) -> bool:
        """Staff telling the residents something, with no finding or work of their own in it."""
        search = self._search
        return (
            search["staff_notice"](body) is not None
            and search["finding"](body) is None
            # 各位邻居好，今天巡查了一圈，都正常: a greeting before a patrol report
            and search["zero"](body) is None
            and self._search["handled"](body) is None
        )

    def _basic_or_zero(self, body: str, role: str | None, scope: _Scope) -> Classification:
        search = self._search
        # "Nothing much, just asking when the water comes back" asks; it does not report nothing.
        # Only staff report "nothing" (all zero reports come from them): a resident's 没事 is chat.
        # A false alarm explained (昨晚报警器响是煮糊了，虚惊一场，没事) is chat, not a zero report.
        zero = (
            role in _REPORTERS
            and search["zero"](body) is not None
            and search["question"](body) is None
            and search["false_alarm"](body) is None
        )
        if role not in _STAFF and search["thanks"](body) is not None and self._handled(body, scope):
            return _OTHER  # 谢谢网格员，灯已经修好了: gratitude, not a report
        skip: set[int] = set()
        finding: bool | None = None
        if zero:
            # "消防通道畅通" in a patrol report is a checked item, not a problem.
            skip = self._clauses_with(("positive_state",), body, scope)
            # In a patrol report, "检查了消防栓和灭火器" names what was checked, not a problem.
            inspected = self._clauses_with(("inspection",), body, scope)
            if inspected:
                found = self._clauses_with(("finding",), body, scope)
                finding = bool(found)
                skip |= inspected - found
        basics = self._lex.basics
        scores = self._scores(basics, body, scope, False, skip)
        category, score = self._best(scores, basics)
        if basics.prefer and category is not None:
            category = self._preferred(basics, scores, category, body, role)
        if zero and score and score < 4 and self._handled(body, scope):
            zero = False  # a thing found and dealt with is a work record: 共享单车已挪走，通道已畅通
        if zero and score < 2:
            return Classification("zero_report")
        if zero and score < 4:
            if finding is None:
                finding = search["finding"](body) is not None
            if not finding:
                return Classification("zero_report")
        request = search["request"](body) is not None
        if self._is_chat(body, score, request):
            return _OTHER
        if category is None or score == 0:
            if request or (role in _STAFF and search["work_record"](body) is not None):
                return Classification("basic", "other", self._handled(body, scope), body)
            return Classification("other", body=body)
        return Classification("basic", category, self._handled(body, scope), body)

    def _preferred(
        self, cats: CategorySet, scores: dict[str, int], best: str, body: str, role: str | None
    ) -> str:
        """The category the form of the message points to, where two both scored (`prefer`)."""
        for winner, loser, cue, roles in cats.prefer:
            if best == loser and winner in scores and role in roles:
                search = self._search.get(cue)
                if search is not None and search(body) is not None:
                    return winner
        return best

    def _is_chat(self, body: str, score: int, request: bool) -> bool:
        """Chat despite a stray keyword or two (a real problem scores more than these allow)."""
        search = self._search
        if request:
            if score <= 1 and search["thanks"](body) is not None:
                return True  # 谢谢王姐帮我家老人拿药: the help asked for was given
            return score <= 2 and search["neighbourly"](body) is not None
        if score <= 1 and search["ack"](body) is not None:
            return True  # 谢谢/收到/欢迎 with at most a stray word
        if score > 2:
            return False
        if search["laugh"](body) is not None or search["false_alarm"](body) is not None:
            return True  # 笑死，小狗追着外卖小哥跑了半条街: told for fun; 刚才是误报: taken back
        if search["warning"](body) is not None and search["witnessed"](body) is None:
            return True  # 大家注意保暖: a reminder, not a report
        if search["news"](body) is not None and search["local"](body) is None:
            return True  # 看了个新闻，一个老人走失…: news of elsewhere is chat
        return search["neighbourly"](body) is not None  # 谁家有多余的纸箱子: among neighbours

    def _handled(self, body: str, scope: _Scope) -> bool:
        matches = list(self._cues.iter("handled", body))
        if not matches:
            return False
        blocked = self._clauses_with(("not_handled",), body, scope)
        negs = scope.negs()
        for match in matches:
            if scope.clause(match.start()) in blocked:
                continue
            if negs and scope.covered(match.start(), negs):
                continue
            return True
        return False
