"""Kind and category of one normalised message: zero_report, basic, major, command, other.

Order of the decision (each step documented where it happens):
  1. no words at all (stickers, [图片]) → other
  2. major cues that are not negated (无人员受伤), not hypothetical (怕掉下来), not in a
     drill, a notice or second-hand news → major
  3. an explicit zero report (零报告, 重大情况:无 基本情况:无) → zero_report
  4. notices, adverts, supervisors' broadcasts → other
  5. "nothing found" cue and no real problem → zero_report
  6. a category hit, a request or a work record → basic
  7. anything else → other
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from handlers.parsing.lexicon import CategorySet, Lexicon
from handlers.parsing.result import Kind

_DELIMS = re.compile(r"[,。;!?\n]")
# WeChat emoji codes ([强], [捂脸]) and media placeholders ([图片], [视频]) carry no report.
_EMOJI_CODE = re.compile(r"\[[^\[\]\n]{1,6}\]")
_WORDY = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")


@dataclass(slots=True)
class Classification:
    kind: Kind
    category: str | None = None
    handled: bool | None = None


@dataclass(slots=True)
class _Scope:
    """Clause structure of one message, shared by every keyword check."""

    delims: list[int]  # clause delimiter positions
    bounds: list[int]  # delimiters + scope breakers (但是, 却): where a negation stops
    negs: list[int]  # end positions of negation cues
    hyps: list[int]  # end positions of hypothetical cues (major cues only)

    def clause(self, pos: int) -> int:
        return bisect_right(self.delims, pos)

    def covered(self, pos: int, cue_ends: list[int]) -> bool:
        """True when a cue ends before `pos` with no clause bound in between."""
        for end in reversed(cue_ends):
            if end > pos:
                continue
            # first bound at or after the cue's end must lie after pos
            i = bisect_left(self.bounds, end)
            return i >= len(self.bounds) or self.bounds[i] >= pos
        return False


class Classifier:
    def __init__(self, lexicon: Lexicon) -> None:
        self._lex = lexicon
        self._cue = lexicon.cues

    def _has(self, name: str, text: str) -> bool:
        regex = self._cue.get(name)
        return regex is not None and regex.search(text) is not None

    def _ends(self, name: str, text: str) -> list[int]:
        regex = self._cue.get(name)
        return [] if regex is None else [m.end() for m in regex.finditer(text)]

    def _scope(self, text: str) -> _Scope:
        delims = [m.start() for m in _DELIMS.finditer(text)]
        breaker_re = self._cue.get("scope_breakers")
        breakers = [m.start() for m in breaker_re.finditer(text)] if breaker_re is not None else []
        return _Scope(
            delims=delims,
            bounds=sorted(delims + breakers),
            negs=self._ends("negation", text),
            hyps=self._ends("hypothetical", text),
        )

    def _scores(
        self, cats: CategorySet, text: str, scope: _Scope, cue_ends: list[int], skip: set[int]
    ) -> dict[str, int]:
        scores: dict[str, int] = {}
        if cats.regex is None:
            return scores
        for pos, match in cats.matches(text):
            group = match.lastgroup
            if group is None:
                continue
            if skip and scope.clause(pos) in skip:
                continue
            if cue_ends and scope.covered(pos, cue_ends):
                continue
            category, weight = cats.groups[group]
            scores[category] = scores.get(category, 0) + weight
        for category, (when, unless) in cats.suppress.items():
            suppressed = when is not None and when.search(text) is not None
            if category in scores and suppressed and (unless is None or not unless.search(text)):
                del scores[category]
        return scores

    @staticmethod
    def _best(scores: dict[str, int], priority: list[str]) -> tuple[str | None, int]:
        if not scores:
            return None, 0
        rank = {c: i for i, c in enumerate(priority)}
        best = max(scores, key=lambda c: (scores[c], -rank.get(c, len(rank))))
        return best, scores[best]

    def _clauses_with(self, names: tuple[str, ...], text: str, scope: _Scope) -> set[int]:
        out: set[int] = set()
        for name in names:
            regex = self._cue.get(name)
            if regex is not None:
                out.update(scope.clause(m.start()) for m in regex.finditer(text))
        return out

    def classify(self, text: str, role: str | None, broadcast_mention: bool) -> Classification:
        body = _EMOJI_CODE.sub(" ", text)
        if _WORDY.search(body) is None:
            return Classification("other")
        scope = self._scope(body)
        major = self._major(body, scope)
        if major is not None:
            return Classification("major", major)
        if self._has("zero_explicit", body):
            return Classification("zero_report")
        if self._is_notice_or_ad(body, role, broadcast_mention):
            return Classification("other")
        return self._basic_or_zero(body, role, scope)

    def _major(self, body: str, scope: _Scope) -> str | None:
        if self._has("drill", body) or self._has("news", body):
            return None  # 消防演练 is not a fire; a fire in the news is not ours
        cue_ends = sorted(scope.negs + scope.hyps)
        scores = self._scores(self._lex.majors, body, scope, cue_ends, set())
        best, score = self._best(scores, self._lex.majors.priority)
        if best is None or score < self._lex.majors.threshold:
            return None
        regex = self._cue.get("ad")
        if regex is not None and len(regex.findall(body)) >= 3:
            return None  # an advert shouting 重大/爆炸价 is still an advert
        return best

    def _is_notice_or_ad(self, body: str, role: str | None, broadcast_mention: bool) -> bool:
        if self._has("notice", body):
            return True
        regex = self._cue.get("ad")
        ads = len(regex.findall(body)) if regex is not None else 0
        if ads + (role == "merchant") >= 2:
            return True
        if role == "supervisor" or broadcast_mention:
            # Supervisors broadcast and instruct staff; a forwarded concrete problem stays basic.
            return self._has("broadcast", body) or broadcast_mention
        return False

    def _basic_or_zero(self, body: str, role: str | None, scope: _Scope) -> Classification:
        zero = self._has("zero", body)
        skip: set[int] = set()
        if zero:
            # "消防通道畅通" in a patrol report is a checked item, not a problem.
            skip = self._clauses_with(("positive_state",), body, scope)
            # In a patrol report, "检查了消防栓和灭火器" names what was checked, not a problem.
            inspected = self._clauses_with(("inspection",), body, scope)
            found = self._clauses_with(("finding",), body, scope)
            skip |= inspected - found
        scores = self._scores(self._lex.basics, body, scope, scope.negs, skip)
        category, score = self._best(scores, self._lex.basics.priority)
        if zero and score < 2:
            return Classification("zero_report")
        if zero and not self._has("finding", body) and score < 4:
            return Classification("zero_report")
        request = self._has("request", body)
        if self._has("ack", body) and score <= 1 and not request:
            return Classification("other")  # 谢谢/收到/欢迎 with at most a stray word
        if self._has("warning", body) and score <= 2 and not request:
            return Classification("other")  # 大家注意保暖: a reminder, not a report
        if category is None or score == 0:
            if request or (role in ("leader", "member") and self._has("work_record", body)):
                return Classification("basic", "other", self._handled(body, scope))
            return Classification("other")
        return Classification("basic", category, self._handled(body, scope))

    def _handled(self, body: str, scope: _Scope) -> bool:
        regex = self._cue.get("handled")
        if regex is None:
            return False
        blocked = self._clauses_with(("not_handled",), body, scope)
        for match in regex.finditer(body):
            if scope.clause(match.start()) in blocked:
                continue
            if scope.negs and scope.covered(match.start(), scope.negs):
                continue
            return True
        return False
