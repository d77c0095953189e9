"""The roster (花名册): who is in which micro-grid, who supervises, and the community's policy.

Two sources, one model (`Roster`):

* YAML (`load_roster("roster.yaml")`), the full format with policy — see config/ROSTER.md and
  config/demo_roster.yaml.
* The spreadsheet communities actually keep (`load_roster("花名册.xlsx")` or `.csv`): one row per
  person and role; the policy is the default one. Columns (header synonyms in brackets; order free,
  unknown columns ignored; a title row above the header is fine):

  ======== ==== ================================================================================
  column   req. meaning
  ======== ==== ================================================================================
  社区     yes  community name [社区名称, 所属社区]
  综合网格 *    comprehensive grid [综合网格名称, 所属综合网格]; needed for every role but 社区书记/街道
  微网格   *    micro-grid name [微网格名称, 所属微网格]; needed for 微网格长 and members
  类型     no   住宅 | 商户 [微网格类型, 网格类型]; default 住宅
  群名称   no   the micro-grid's WeChat group topic [群名, 微信群, 微信群名称, 群聊名称]
  角色     yes  网格长/微网格长 (leader); 网格员/微网格员/楼栋长/志愿者/党员中心户 (member);
                综合网格长 (supervisor level 1); 社区书记/总网格长 (level 2); 街道 (level 3)
                [职务, 身份, 岗位]
  姓名     yes  [名字, 人员姓名]
  微信名   no   WeChat display name [微信昵称, 昵称, 群昵称]; default the name
  手机号   no   [手机, 电话, 联系电话, 手机号码]; kept as the record, printed masked only
  楼栋     no   buildings: "3", "3,4", "3、4号楼", "3-5", "3号楼" [楼号, 负责楼栋]
  街道     no   the community's street office [所属街道]
  管理员   no   是/否: may bind groups (#绑定) [是否管理员]. If nobody is marked, the
                community-level supervisors (社区书记) are the admins.
  编码列   no   社区编码, 综合网格编码, 微网格编码, 人员编码: stable keys. Without them codes are
                derived from names ("幸福里社区/3号楼微网格"); people from name + phone.
  ======== ==== ================================================================================

  Files: .xlsx (first sheet, or one named 花名册) or .csv (UTF-8 with or without BOM, else GB18030).
  Every row is checked and all problems are reported at once ("第 5 行：角色「组长」无法识别");
  nothing is imported unless the whole file is valid.

`apply_roster(session, roster)` writes a roster into the database (storage.models) in the caller's
transaction, keyed by codes, so importing the same roster again changes nothing. Its scope is the
communities it names: their micro-grids missing from the roster are deactivated, and roles and
supervisor posts in them not in the roster are removed. History rows are never deleted.

Errors are `RosterError` with a Chinese message naming the file and the key path or row.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import reprlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlmodel import Session, col, select

from config.yaml_keys import UniqueKeys
from handlers.policy import WorkflowPolicy
from storage.models import Community, CompGrid, GridRole, MicroGrid, Person, Supervisor

# ---------------------------------------------------------------------------------------------
# errors and masking
# ---------------------------------------------------------------------------------------------

MAX_LISTED_PROBLEMS = 50


class RosterError(ValueError):
    """An invalid roster. `str(err)` is the whole Chinese message; `problems` the single items."""

    def __init__(self, source: str | Path, problems: Sequence[str]) -> None:
        self.source = str(source)
        self.problems = list(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return f"花名册 {self.source} 有错误：{self.problems[0]}"
        listed = [f"  - {p}" for p in self.problems[:MAX_LISTED_PROBLEMS]]
        if len(self.problems) > MAX_LISTED_PROBLEMS:
            listed.append(f"  … 另有 {len(self.problems) - MAX_LISTED_PROBLEMS} 处错误")
        return "\n".join([f"花名册 {self.source} 有 {len(self.problems)} 处错误：", *listed])


def mask_phone(phone: str) -> str:
    """138****5678 for output; the stored record keeps the number as given."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return ""
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(len(digits) - 4, 2) + digits[-min(4, len(digits) // 2) :]


# ---------------------------------------------------------------------------------------------
# field types
# ---------------------------------------------------------------------------------------------

_HHMM = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


def _scalar(value: Any, what: str) -> str:
    """The text of a scalar; a list or mapping is refused before str() (a YAML alias bomb's str()
    is exponential)."""
    if isinstance(value, list | tuple | dict | set):
        raise ValueError(f"{what}应为一个值，不能是列表或键值对")
    return str(value)


def _parse_hhmm(value: Any) -> time:
    if isinstance(value, time):
        return value
    text = _scalar(value, "时间").strip()
    match = _HHMM.match(text)
    if not match:
        raise ValueError(f'时间「{text}」无效，应为 HH:MM（00:00–23:59），如 "09:00"')
    return time(int(match.group(1)), int(match.group(2)))


def _format_hhmm(value: time) -> str:
    return value.strftime("%H:%M")


HHMM = Annotated[time, BeforeValidator(_parse_hhmm), PlainSerializer(_format_hhmm, return_type=str)]


def _parse_weekly(value: Any) -> str:
    """ "MON 09:00" (also "周一 09:00", "星期一 9:00") → "MON 09:00"."""
    parts = _scalar(value, "每周时间").split()
    if len(parts) == 2:
        day = parts[0].upper()
        if day in WEEKDAYS:
            return f"{day} {_format_hhmm(_parse_hhmm(parts[1]))}"
        tail = parts[0].removeprefix("星期").removeprefix("周")
        if tail in _CN_WEEKDAYS:
            return f"{WEEKDAYS[_CN_WEEKDAYS[tail]]} {_format_hhmm(_parse_hhmm(parts[1]))}"
    raise ValueError(f"每周时间「{value}」无效，应为「MON 09:00」这样的星期 + 时间（MON…SUN 或 周一…周日）")


def _parse_monthly(value: Any) -> str:
    """ "1 09:00" → day of month 1–28 (every month has it) and a time."""
    parts = _scalar(value, "每月时间").split()
    if len(parts) == 2 and parts[0].removesuffix("日").removesuffix("号").isdigit():
        day = int(parts[0].removesuffix("日").removesuffix("号"))
        if 1 <= day <= 28:
            return f"{day} {_format_hhmm(_parse_hhmm(parts[1]))}"
    raise ValueError(f"每月时间「{value}」无效，应为「1 09:00」这样的日期（1–28）+ 时间")


Weekly = Annotated[str, BeforeValidator(_parse_weekly)]
Monthly = Annotated[str, BeforeValidator(_parse_monthly)]

_KIND_ALIASES = {"住宅": "residential", "居民": "residential", "商户": "merchant", "商业": "merchant"}
_UNIT_ALIASES = {"自然日": "calendar", "日历日": "calendar", "工作日": "working"}


def _alias(table: dict[str, str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return table.get(str(value).strip(), value) if isinstance(value, str) else value

    return convert


Kind = Annotated[Literal["residential", "merchant"], BeforeValidator(_alias(_KIND_ALIASES))]
DeadlineUnit = Annotated[Literal["calendar", "working"], BeforeValidator(_alias(_UNIT_ALIASES))]
Code = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_default=True)


# ---------------------------------------------------------------------------------------------
# policy
# ---------------------------------------------------------------------------------------------


class PatrolPolicy(_Model):
    """一日一巡查: remind at `reminder`, chase grids not yet reported at `chase`, missed at `deadline`."""

    reminder: HHMM = time(9, 0)
    chase: HHMM = time(16, 0)
    deadline: HHMM = time(18, 0)
    workdays_only: bool = False  # patrol only on official working days

    @model_validator(mode="after")
    def _ordered(self) -> PatrolPolicy:
        if not self.reminder <= self.chase <= self.deadline:
            raise ValueError("巡查时间顺序不对：应 reminder（提醒）≤ chase（催报）≤ deadline（截止）")
        return self


class EscalationPolicy(_Model):
    """重大情况: unacknowledged after `timeout_minutes`, alert the next level (1 → 2 → 3); after
    level 3 keep re-alerting level 3. `max_rounds` caps the alerts in all, the first included."""

    timeout_minutes: PositiveInt = 10
    max_rounds: PositiveInt = 3


class GradingPolicy(_Model):
    """Time limit per grade (004 "133"): A/B/C in days, counted as calendar or working days."""

    A: PositiveInt = 1
    B: PositiveInt = 3
    C: PositiveInt = 7
    unit: DeadlineUnit = "calendar"
    holiday_file: Path | None = None  # relative to the roster file; see handlers/workdays.py

    def days(self) -> dict[str, int]:
        return {"A": self.A, "B": self.B, "C": self.C}


class TicketPolicy(_Model):
    due_soon_hours: PositiveInt = 4  # remind the handler this long before the deadline
    overdue_chase: HHMM = time(10, 0)  # daily chase of overdue tickets


class PointsPolicy(_Model):
    zero_report: StrictInt = 1
    basic_report: StrictInt = 2
    ticket_closed_in_time: StrictInt = 3
    ticket_overdue: StrictInt = -2
    major_report: StrictInt = 2


class Policy(_Model):
    patrol: PatrolPolicy = Field(default_factory=PatrolPolicy)
    digest: HHMM = time(21, 0)  # daily digest to supervisors
    weekly: Weekly = "MON 09:00"  # weekly bulletin
    monthly: Monthly = "1 09:00"  # monthly bulletin
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    grading: GradingPolicy = Field(default_factory=GradingPolicy)
    tickets: TicketPolicy = Field(default_factory=TicketPolicy)
    points: PointsPolicy = Field(default_factory=PointsPolicy)
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"时区「{value}」无法识别，应为如 Asia/Shanghai 的 IANA 时区名") from None
        return value

    def weekly_at(self) -> tuple[int, time]:
        """(weekday 0=Monday, time) of the weekly bulletin."""
        day, hhmm = self.weekly.split()
        return WEEKDAYS.index(day), _parse_hhmm(hhmm)

    def monthly_at(self) -> tuple[int, time]:
        """(day of month, time) of the monthly bulletin."""
        day, hhmm = self.monthly.split()
        return int(day), _parse_hhmm(hhmm)

    def to_workflow(self) -> WorkflowPolicy:
        """The value object the handlers use."""
        return WorkflowPolicy(
            tz=ZoneInfo(self.timezone),
            grade_days=self.grading.days(),
            deadline_unit=self.grading.unit,
            escalation_timeout_minutes=self.escalation.timeout_minutes,
            escalation_max_rounds=self.escalation.max_rounds,
            points=self.points.model_dump(),
            patrol_reminder=self.patrol.reminder,
            patrol_chase=self.patrol.chase,
            patrol_deadline=self.patrol.deadline,
            workdays_only=self.patrol.workdays_only,
            digest_time=self.digest,
            weekly_bulletin=self.weekly_at(),
            monthly_bulletin=self.monthly_at(),
            due_soon_hours=self.tickets.due_soon_hours,
            overdue_chase=self.tickets.overdue_chase,
        )


class IdentityPolicy(_Model):
    """How a chat contact becomes a roster person whose `wechat_id` is not in the roster.

    false (default): only with proof — the person sends `#认领 <6位认领码>` (codes: `gridbot roster
    codes`). true: by WeChat display name on first sight — convenient for demos and trials, but
    whoever first speaks under a leader's name becomes the leader.
    """

    claim_by_name: bool = False


# ---------------------------------------------------------------------------------------------
# people and the hierarchy
# ---------------------------------------------------------------------------------------------

_PHONE_OK = re.compile(r"^[0-9+\-\s()（）]*$")


def derive_person_code(name: str, phone: str) -> str:
    """Stable key for people without an explicit code: the name, plus the phone's last 4 digits
    when known (tells namesakes apart without putting the number itself in the key)."""
    digits = re.sub(r"\D", "", phone)
    return f"{name}-{digits[-4:]}" if digits else name


class RosterPerson(_Model):
    code: Code | None = None  # stable key; default derived from name + phone
    name: Annotated[str, Field(min_length=1, max_length=64)]
    wechat_name: Annotated[str, Field(max_length=128)] = ""  # WeChat display name; default the name
    wechat_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None  # platform contact id
    phone: Annotated[str, Field(max_length=32)] = ""

    @field_validator("code")
    @classmethod
    def _not_resident_code(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("res:"):
            raise ValueError("编码不能以「res:」开头（系统为居民保留）")
        return value

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # YAML reads an unquoted number as an int
        if isinstance(value, str) and not _PHONE_OK.match(value):
            raise ValueError(f"手机号格式不对（{mask_phone(value) or '无数字'}），只能含数字、空格、+、-")
        return value

    @property
    def key(self) -> str:
        return self.code or derive_person_code(self.name, self.phone)

    @property
    def display_name(self) -> str:
        return self.wechat_name or self.name


def _as_supervisor(level: int) -> Callable[[Any], Any]:
    """A bare name in a supervisors list means the list's own level."""

    def convert(value: Any) -> Any:
        return {"person": value, "level": level} if isinstance(value, str) else value

    return convert


class SupervisorRef(_Model):
    person: Annotated[str, Field(min_length=1)]  # a person's code or name
    level: Literal[1, 2, 3]
    title: str = ""  # 综合网格长 / 社区书记 / 街道…, shown in digests


GridSupervisor = Annotated[SupervisorRef, BeforeValidator(_as_supervisor(1))]
CommunitySupervisor = Annotated[SupervisorRef, BeforeValidator(_as_supervisor(2))]


class MicroGridSpec(_Model):
    code: Code
    name: Name
    kind: Kind = "residential"
    room_topic: Annotated[str, Field(max_length=128)] = ""  # the WeChat group's topic
    leader: Annotated[str, Field(min_length=1)]  # a person's code or name
    members: list[str] = Field(default_factory=list)
    buildings: list[StrictInt] = Field(default_factory=list)
    account: Annotated[str, Field(min_length=1, max_length=64)] | None = None  # bot account in the group


class CompGridSpec(_Model):
    code: Code
    name: Name
    supervisors: list[GridSupervisor] = Field(default_factory=list)  # level 1: 综合网格长
    micro_grids: list[MicroGridSpec] = Field(default_factory=list)


class CommunitySpec(_Model):
    code: Code
    name: Name
    street: Annotated[str, Field(max_length=128)] = ""
    supervisors: list[CommunitySupervisor] = Field(default_factory=list)  # level 2 社区, 3 街道
    grids: list[CompGridSpec] = Field(default_factory=list)


class Roster(_Model):
    people: list[RosterPerson] = Field(default_factory=list)
    communities: Annotated[list[CommunitySpec], Field(min_length=1)]
    admins: list[str] = Field(default_factory=list)  # people who may bind groups (#绑定)
    policy: Policy = Field(default_factory=Policy)
    identity: IdentityPolicy = Field(default_factory=IdentityPolicy)

    _by_key: dict[str, RosterPerson] = PrivateAttr(default_factory=dict)
    _by_name: dict[str, list[RosterPerson]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any) -> None:
        for person in self.people:
            self._by_key.setdefault(person.key, person)
            self._by_name.setdefault(person.name, []).append(person)

    def find_person(self, ref: str) -> RosterPerson | None:
        """A person by code, else by name if the name is unique."""
        if ref in self._by_key:
            return self._by_key[ref]
        named = self._by_name.get(ref, [])
        return named[0] if len(named) == 1 else None

    def person(self, ref: str) -> RosterPerson:
        found = self.find_person(ref)
        if found is None:
            raise KeyError(ref)
        return found

    def workflow_policy(self) -> WorkflowPolicy:
        """What the handlers use: the `policy` section and the `identity` switch."""
        return replace(self.policy.to_workflow(), claim_by_name=self.identity.claim_by_name)

    def micro_grids(self) -> Iterator[tuple[CommunitySpec, CompGridSpec, MicroGridSpec]]:
        for community in self.communities:
            for grid in community.grids:
                for micro in grid.micro_grids:
                    yield community, grid, micro

    def stats(self) -> dict[str, int]:
        micro = [m for _, _, m in self.micro_grids()]
        members = sum(len(m.members) for m in micro)
        supervisors = {(s.person, s.level) for c in self.communities for s in c.supervisors}
        supervisors |= {(s.person, 1) for c in self.communities for g in c.grids for s in g.supervisors}
        return {
            "communities": len(self.communities),
            "comp_grids": sum(len(c.grids) for c in self.communities),
            "micro_grids": len(micro),
            "residential": sum(m.kind == "residential" for m in micro),
            "merchant": sum(m.kind == "merchant" for m in micro),
            "people": len(self.people),
            "leaders": len(micro),
            "members": members,
            "supervisors": len(supervisors),
            "admins": len(self.admins),
        }


# ---------------------------------------------------------------------------------------------
# validation messages
# ---------------------------------------------------------------------------------------------


def _known_keys() -> set[str]:
    models: list[type[BaseModel]] = [
        Roster, RosterPerson, CommunitySpec, CompGridSpec, MicroGridSpec, SupervisorRef, Policy,
        PatrolPolicy, EscalationPolicy, GradingPolicy, TicketPolicy, PointsPolicy, IdentityPolicy,
    ]  # fmt: skip
    return {name for model in models for name in model.model_fields}


def key_path(loc: Iterable[int | str]) -> str:
    """("communities", 0, "grids", 2, "leader") → "communities[0].grids[2].leader"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "（顶层）"


_BOUNDED = reprlib.Repr()
_BOUNDED.maxlevel, _BOUNDED.maxstring, _BOUNDED.maxother = 3, 40, 40


def _describe(value: Any) -> str:
    # A container is shown bounded: str() of a YAML alias bomb ("billion laughs") is exponential.
    text = _BOUNDED.repr(value) if isinstance(value, list | tuple | dict | set) else str(value)
    return f"「{text[:40]}」" if len(text) <= 40 else f"「{text[:40]}…」"


def _explain(error: Any) -> str:
    """One pydantic error in Chinese."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    last = next((p for p in reversed(error["loc"]) if isinstance(p, str)), "")
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(str(last), _known_keys(), n=1)
        return f"未知的键「{last}」" + (f"（是不是「{hint[0]}」？）" if hint else "")
    if kind == "missing":
        return f"缺少必填项「{last}」"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    simple = {
        "string_type": "应为文字",
        "int_type": f"应为整数，实际是{_describe(value)}",
        "int_parsing": f"应为整数，实际是{_describe(value)}",
        "int_from_float": f"应为整数，实际是{_describe(value)}",
        "bool_type": "应为 true 或 false",
        "bool_parsing": "应为 true 或 false",
        "list_type": "应为列表（每项一行以「- 」开头，或写成 [a, b]）",
        "model_type": "应为键值对（key: value）",
        "model_attributes_type": "应为键值对（key: value）",
        "dict_type": "应为键值对（key: value）",
        "greater_than_equal": f"应不小于 {ctx.get('ge')}，实际是{_describe(value)}",
        "too_short": "不能为空",
        "string_too_short": "不能为空",
        "string_too_long": f"太长（最多 {ctx.get('max_length')} 个字）",
        "path_type": "应为文件路径",
    }
    if kind in simple:
        return simple[kind]
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", " 或 ")
        return f"只能是 {expected}，实际是{_describe(value)}"
    return str(error["msg"])


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = [p for p in error["loc"] if isinstance(p, int | str)]
        problems.append(f"{key_path(loc)}：{_explain(error)}")
    return problems


# ---------------------------------------------------------------------------------------------
# cross-references: what pydantic cannot see
# ---------------------------------------------------------------------------------------------


class _Checker:
    def __init__(self, roster: Roster) -> None:
        self.roster = roster
        self.problems: list[str] = []

    def run(self) -> list[str]:
        self._people()
        self._codes()
        for ci, community in enumerate(self.roster.communities):
            base = f"communities[{ci}]"
            self._supervisors(community.supervisors, f"{base}.supervisors", allowed=(2, 3))
            for gi, grid in enumerate(community.grids):
                self._supervisors(grid.supervisors, f"{base}.grids[{gi}].supervisors", allowed=(1,))
                for mi, micro in enumerate(grid.micro_grids):
                    self._micro(micro, f"{base}.grids[{gi}].micro_grids[{mi}]")
        for ai, ref in enumerate(self.roster.admins):
            self._ref(ref, f"admins[{ai}]")
        return self.problems

    def _people(self) -> None:
        seen: dict[str, int] = {}
        ids: dict[str, int] = {}
        for i, person in enumerate(self.roster.people):
            if person.key in seen:
                self.problems.append(
                    f"people[{i}]：人员编码「{person.key}」与 people[{seen[person.key]}] 重复"
                    "（同名且手机尾号相同？请填写 code 区分）"
                )
            seen.setdefault(person.key, i)
            if person.wechat_id:
                if person.wechat_id in ids:
                    self.problems.append(f"people[{i}].wechat_id：与 people[{ids[person.wechat_id]}] 重复")
                ids.setdefault(person.wechat_id, i)

    def _codes(self) -> None:
        def dupes(label: str, items: Iterable[tuple[str, str]]) -> None:
            first: dict[str, str] = {}
            for path, value in items:
                if value and value in first:
                    self.problems.append(f"{path}：{label}「{value}」重复（已用于 {first[value]}）")
                first.setdefault(value, path)

        communities = list(enumerate(self.roster.communities))
        dupes("社区编码", ((f"communities[{i}].code", c.code) for i, c in communities))
        grids = [(f"communities[{i}].grids[{j}]", g) for i, c in communities for j, g in enumerate(c.grids)]
        dupes("综合网格编码", ((f"{p}.code", g.code) for p, g in grids))
        micros = [(f"{p}.micro_grids[{k}]", m) for p, g in grids for k, m in enumerate(g.micro_grids)]
        dupes("微网格编码", ((f"{p}.code", m.code) for p, m in micros))
        dupes("群名称", ((f"{p}.room_topic", m.room_topic) for p, m in micros))

    def _ref(self, ref: str, path: str) -> RosterPerson | None:
        found = self.roster.find_person(ref)
        if found is not None:
            return found
        namesakes = [p.key for p in self.roster.people if p.name == ref]
        if namesakes:
            self.problems.append(
                f"{path}：「{ref}」同名 {len(namesakes)} 人，请改写编码：{'、'.join(namesakes)}"
            )
        else:
            self.problems.append(f"{path}：「{ref}」不在 people 名单中（须写 people 里某人的 name 或 code）")
        return None

    def _supervisors(self, refs: list[SupervisorRef], path: str, allowed: tuple[int, ...]) -> None:
        seen: set[tuple[str, int]] = set()
        for i, ref in enumerate(refs):
            person = self._ref(ref.person, f"{path}[{i}].person")
            if ref.level not in allowed:
                where = (
                    "综合网格下只能写一级（综合网格长）"
                    if allowed == (1,)
                    else "社区下只能写二级（社区）或三级（街道）"
                )
                self.problems.append(f"{path}[{i}].level：{where}，实际是 {ref.level}")
            if person is not None:
                if (person.key, ref.level) in seen:
                    self.problems.append(f"{path}[{i}]：「{ref.person}」重复列出")
                seen.add((person.key, ref.level))

    def _micro(self, micro: MicroGridSpec, path: str) -> None:
        leader = self._ref(micro.leader, f"{path}.leader")
        keys = {leader.key: f"{path}.leader"} if leader else {}
        for i, ref in enumerate(micro.members):
            person = self._ref(ref, f"{path}.members[{i}]")
            if person is None:
                continue
            if person.key in keys:
                self.problems.append(f"{path}.members[{i}]：「{ref}」已在 {keys[person.key]} 中出现")
            keys.setdefault(person.key, f"{path}.members[{i}]")


def validate_roster(data: Any, source: str | Path = "<roster>") -> Roster:
    """Build and fully check a roster from plain data (parsed YAML); RosterError on any problem."""
    if not isinstance(data, dict):
        raise RosterError(source, ["顶层应为键值对（people / communities / admins / policy）"])
    try:
        roster = Roster.model_validate(data)
    except ValidationError as exc:
        raise RosterError(source, _pydantic_problems(exc)) from None
    problems = _Checker(roster).run()
    if problems:
        raise RosterError(source, problems)
    return roster


# ---------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------


class _RosterLoader(UniqueKeys, yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a second `leader:` would silently win) and reads
    16:00 as text: YAML 1.1 turns unquoted 16:00 into the base-60 integer 960."""


# PyYAML's int and float patterns without base 60 ("16:00" → 960) and without YAML 1.1 octal (an
# unquoted phone number 07551234567 would become 1040556919).
_YAML_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_YAML_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


def _drop_sexagesimal() -> None:
    replacement = {"tag:yaml.org,2002:int": _YAML_INT, "tag:yaml.org,2002:float": _YAML_FLOAT}
    _RosterLoader.yaml_implicit_resolvers = {
        first: [(tag, replacement.get(tag, regexp)) for tag, regexp in entries]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_drop_sexagesimal()


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(path, ["文件不是 UTF-8 编码，请另存为 UTF-8"]) from None
    try:
        return yaml.load(text, Loader=_RosterLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列：" if mark else ""
        raise RosterError(path, [f"{where}YAML 格式错误：{exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise RosterError(path, [f"YAML 格式错误：{exc}"]) from None
    except RecursionError:  # "[[[[…" a few hundred deep
        raise RosterError(path, ["YAML 嵌套层级过深，无法读取"]) from None


def _resolve_holiday_file(roster: Roster, path: Path) -> None:
    from handlers.workdays import HolidayFileError, load_holiday_file

    grading = roster.policy.grading
    if grading.holiday_file is None:
        return
    resolved = (
        grading.holiday_file if grading.holiday_file.is_absolute() else path.parent / grading.holiday_file
    )
    if not resolved.is_file():
        raise RosterError(path, [f"policy.grading.holiday_file：找不到节假日文件 {resolved}"])
    try:
        load_holiday_file(resolved)
    except HolidayFileError as exc:
        raise RosterError(path, [f"policy.grading.holiday_file：{exc}"]) from None
    grading.holiday_file = resolved.resolve()


def load_roster(path: str | Path) -> Roster:
    """Read a roster: .yaml/.yml, or a 花名册 spreadsheet (.xlsx/.csv). RosterError if invalid."""
    path = Path(path)
    if not path.is_file():
        raise RosterError(path, ["找不到该文件"])
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".csv"):
        return load_spreadsheet(path)
    if suffix not in (".yaml", ".yml"):
        raise RosterError(path, [f"不支持的文件类型「{suffix or '无扩展名'}」：请用 .yaml、.xlsx 或 .csv"])
    roster = validate_roster(_read_yaml(path), path)
    _resolve_holiday_file(roster, path)
    return roster


# ---------------------------------------------------------------------------------------------
# spreadsheet (花名册)
# ---------------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "社区": ("社区", "社区名称", "所属社区", "community"),
    "综合网格": ("综合网格", "综合网格名称", "所属综合网格", "comp_grid"),
    "微网格": ("微网格", "微网格名称", "所属微网格", "micro_grid"),
    "类型": ("类型", "微网格类型", "网格类型", "kind"),
    "群名称": ("群名称", "群名", "微信群", "微信群名称", "群聊名称", "room_topic"),
    "角色": ("角色", "职务", "身份", "岗位", "role"),
    "姓名": ("姓名", "名字", "人员姓名", "name"),
    "微信名": ("微信名", "微信昵称", "昵称", "群昵称", "wechat_name"),
    "手机号": ("手机号", "手机", "电话", "联系电话", "手机号码", "phone"),
    "楼栋": ("楼栋", "楼号", "负责楼栋", "楼栋号", "buildings"),
    "街道": ("街道", "所属街道", "街道名称", "street"),
    "管理员": ("管理员", "是否管理员", "admin"),
    "社区编码": ("社区编码", "社区编号"),
    "综合网格编码": ("综合网格编码", "综合网格编号"),
    "微网格编码": ("微网格编码", "微网格编号"),
    "人员编码": ("人员编码", "人员编号", "code"),
}
REQUIRED_COLUMNS = ("社区", "角色", "姓名")

LEADER_ROLES = ("微网格长", "网格长")
MEMBER_ROLES = ("微网格员", "网格员", "楼栋长", "志愿者", "党员中心户")
SUPERVISOR_ROLES = {
    "综合网格长": 1,
    "社区书记": 2,
    "总网格长": 2,
    "社区总网格长": 2,
    "街道": 3,
    "街道网格长": 3,
}
ALL_ROLES = (*LEADER_ROLES, *MEMBER_ROLES, *SUPERVISOR_ROLES)
_TRUE = {"是", "y", "yes", "1", "true", "√", "✓", "✔"}
_BUILDING_SPLIT = re.compile(r"[,，、/;；\s]+")
_BUILDING_RANGE = re.compile(r"^(\d+)[-~～—至到](\d+)$")


def _norm_header(text: str) -> str:
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)  # "手机号（必填）"
    return re.sub(r"[\s*＊:：]", "", text).lower()


_HEADER_INDEX = {_norm_header(s): canon for canon, synonyms in COLUMNS.items() for s in synonyms}


def _cell(value: Any) -> str:
    """Cell → text; Excel hands numbers over as int/float (13812345678, 3.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_buildings(text: str) -> list[int]:
    """ "3" | "3,4" | "3、4号楼" | "3-5" | "3号楼" → building numbers; ValueError otherwise."""
    out: list[int] = []
    for token in _BUILDING_SPLIT.split(text.strip()):
        token = re.sub(r"(号楼|号|栋|幢|楼)$", "", token)
        if not token:
            continue
        span = _BUILDING_RANGE.match(token)
        if span and int(span.group(1)) <= int(span.group(2)) <= int(span.group(1)) + 200:
            out.extend(range(int(span.group(1)), int(span.group(2)) + 1))
        elif token.isdigit():
            out.append(int(token))
        else:
            raise ValueError(token)
    return sorted(set(out))


def _read_csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterError(path, ["无法识别文件编码：请另存为 UTF-8 的 CSV"])
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as exc:  # e.g. a cell over the csv module's field limit (128 KiB)
        raise RosterError(path, [f"CSV 格式错误：{exc}"]) from None


def _read_xlsx_rows(path: Path) -> list[list[str]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise RosterError(
            path, [f"无法打开 Excel 文件（{type(exc).__name__}），请确认是 .xlsx 格式"]
        ) from None
    try:
        sheet = book["花名册"] if "花名册" in book.sheetnames else book.worksheets[0]
        return [[_cell(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


@dataclass
class _Row:
    number: int  # as the user sees it in the sheet: header is usually row 1
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


def _find_header(rows: list[list[str]], path: Path) -> tuple[int, dict[int, str]]:
    for index, row in enumerate(rows[:10]):  # allow a title row or two above the header
        mapping = {
            i: _HEADER_INDEX[_norm_header(c)] for i, c in enumerate(row) if _norm_header(c) in _HEADER_INDEX
        }
        if "姓名" in mapping.values() and "角色" in mapping.values():
            missing = [c for c in REQUIRED_COLUMNS if c not in mapping.values()]
            if missing:
                raise RosterError(path, [f"第 {index + 1} 行表头缺少必需的列：{'、'.join(missing)}"])
            return index, mapping
    raise RosterError(
        path,
        [
            "找不到表头：前 10 行中没有同时含「姓名」和「角色」的一行"
            f"（必需列：{'、'.join(REQUIRED_COLUMNS)}）"
        ],
    )


def _sheet_rows(path: Path) -> list[_Row]:
    rows = _read_xlsx_rows(path) if path.suffix.lower() == ".xlsx" else _read_csv_rows(path)
    header_index, mapping = _find_header(rows, path)
    out = []
    for offset, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        cells = {mapping[i]: v for i, v in enumerate(row) if i in mapping and v}
        if cells:
            out.append(_Row(offset, cells))
    return out


@dataclass
class _SheetMicro:
    code: str
    name: str
    comp_key: tuple[str, str]
    first_row: int
    kind: str = ""
    kind_row: int = 0
    topic: str = ""
    topic_row: int = 0
    buildings: set[int] = field(default_factory=set)
    leaders: list[tuple[int, str]] = field(default_factory=list)  # (row, person key)
    members: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _SheetCommunity:
    code: str
    name: str
    street: str = ""
    comp_grids: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # name → (code, supervisors)
    supervisors: list[tuple[str, int, str]] = field(default_factory=list)  # (person key, level, title)


class _SheetBuilder:
    """Turns rows into a Roster, collecting every row's problems before failing."""

    def __init__(self, path: Path, rows: list[_Row]) -> None:
        self.path = path
        self.rows = rows
        self.problems: list[str] = []
        self.people: dict[str, RosterPerson] = {}
        self.person_rows: dict[str, int] = {}
        self.admins: list[str] = []
        self.communities: dict[str, _SheetCommunity] = {}
        self.micros: dict[tuple[str, str], _SheetMicro] = {}
        self.street_wide: list[tuple[str, str]] = []  # 街道 rows without 社区: (person key, title)
        self._phones_by_name: dict[str, set[str]] = defaultdict(set)

    def error(self, row: _Row | int, message: str) -> None:
        number = row.number if isinstance(row, _Row) else row
        self.problems.append(f"第 {number} 行：{message}")

    def build(self) -> Roster:
        if not self.rows:
            raise RosterError(self.path, ["表中没有人员数据"])
        for row in self.rows:
            digits = re.sub(r"\D", "", row.get("手机号"))
            if row.get("姓名") and digits:
                self._phones_by_name[row.get("姓名")].add(digits)
        for row in self.rows:
            self._row(row)
        self._check_micros()
        if self.problems:
            raise RosterError(self.path, sorted(self.problems, key=_row_number))
        try:
            return self._roster()
        except ValidationError as exc:  # lengths etc. the row checks let through
            raise RosterError(self.path, _pydantic_problems(exc)) from None

    # -- one row -------------------------------------------------------------------------------

    def _row(self, row: _Row) -> None:
        role = row.get("角色")
        if role not in ALL_ROLES:
            shown = f"「{role}」无法识别" if role else "未填写"
            self.error(row, f"角色{shown}（可用：{'、'.join(ALL_ROLES)}）")
            return
        person_key = self._person(row)
        if person_key is None:
            return
        if row.get("管理员").lower() in _TRUE:
            self.admins.append(person_key)
        level = SUPERVISOR_ROLES.get(role)
        if level == 3 and not row.get("社区"):
            self.street_wide.append((person_key, role))
            return
        community = self._community(row)
        if community is None:
            return
        if level in (2, 3):
            community.supervisors.append((person_key, level, role))
            return
        comp_name = row.get("综合网格")
        if not comp_name:
            self.error(row, f"角色「{role}」需要填写「综合网格」")
            return
        _, comp_supervisors = self._comp_grid(row, community, comp_name)
        if level == 1:
            comp_supervisors.append(person_key)
            return
        micro = self._micro(row, community, comp_name)
        if micro is not None:
            (micro.leaders if role in LEADER_ROLES else micro.members).append((row.number, person_key))

    def _person(self, row: _Row) -> str | None:
        name, phone = row.get("姓名"), row.get("手机号")
        if not name:
            self.error(row, "缺少姓名")
            return None
        digits = re.sub(r"\D", "", phone)
        if not digits and len(self._phones_by_name[name]) == 1:
            digits = next(iter(self._phones_by_name[name]))  # same person, phone given on another row
        data = {"name": name, "wechat_name": row.get("微信名") or name, "phone": phone}
        if row.get("人员编码"):
            data["code"] = row.get("人员编码")
        try:
            person = RosterPerson.model_validate(data)
        except ValidationError as exc:
            columns = {"name": "姓名", "wechat_name": "微信名", "phone": "手机号", "code": "人员编码"}
            for error in exc.errors():
                column, what = columns.get(str(error["loc"][0]), ""), _explain(error)
                self.error(row, what if what.startswith(column) else f"{column}{what}")
            return None
        key = person.code or derive_person_code(name, digits)
        known = self.people.get(key)
        if known is None:
            self.people[key] = person.model_copy(update={"code": key}) if not person.code else person
            self.person_rows[key] = row.number
        elif row.get("微信名") and known.wechat_name != person.wechat_name:
            self.error(row, f"「{name}」的微信名与第 {self.person_rows[key]} 行不一致")
        elif phone and not known.phone:
            self.people[key] = known.model_copy(update={"phone": phone})
        return key

    def _community(self, row: _Row) -> _SheetCommunity | None:
        name = row.get("社区")
        if not name:
            self.error(row, "缺少「社区」")
            return None
        community = self.communities.get(name)
        if community is None:
            code = row.get("社区编码") or name
            community = self.communities[name] = _SheetCommunity(code=code, name=name)
            self._code_length(row, code, "社区编码")
        if row.get("街道") and not community.street:
            community.street = row.get("街道")
        return community

    def _comp_grid(self, row: _Row, community: _SheetCommunity, name: str) -> tuple[str, list[str]]:
        if name not in community.comp_grids:
            code = row.get("综合网格编码") or f"{community.code}/{name}"
            self._code_length(row, code, "综合网格编码")
            community.comp_grids[name] = (code, [])
        return community.comp_grids[name]

    def _micro(self, row: _Row, community: _SheetCommunity, comp_name: str) -> _SheetMicro | None:
        name = row.get("微网格")
        if not name:
            self.error(row, f"角色「{row.get('角色')}」需要填写「微网格」")
            return None
        micro = self.micros.get((community.name, name))
        if micro is None:
            code = row.get("微网格编码") or f"{community.code}/{name}"
            self._code_length(row, code, "微网格编码")
            micro = _SheetMicro(
                code=code, name=name, comp_key=(community.name, comp_name), first_row=row.number
            )
            self.micros[(community.name, name)] = micro
        elif micro.comp_key[1] != comp_name:
            self.error(
                row,
                f"微网格「{name}」在第 {micro.first_row} 行属于「{micro.comp_key[1]}」，"
                f"此处为「{comp_name}」",
            )
            return None
        self._micro_details(row, micro)
        return micro

    def _micro_details(self, row: _Row, micro: _SheetMicro) -> None:
        kind_text = row.get("类型")
        if kind_text:
            kind = _KIND_ALIASES.get(kind_text, kind_text if kind_text in ("residential", "merchant") else "")
            if not kind:
                self.error(row, f"类型「{kind_text}」无法识别（住宅 或 商户）")
            elif micro.kind and micro.kind != kind:
                self.error(row, f"微网格「{micro.name}」的类型与第 {micro.kind_row} 行不一致")
            else:
                micro.kind, micro.kind_row = kind, micro.kind_row or row.number
        topic = row.get("群名称")
        if topic:
            if micro.topic and micro.topic != topic:
                self.error(
                    row,
                    f"微网格「{micro.name}」的群名称「{topic}」"
                    f"与第 {micro.topic_row} 行「{micro.topic}」不一致",
                )
            elif len(topic) > 128:
                self.error(row, "群名称太长（最多 128 个字）")
            else:
                micro.topic, micro.topic_row = topic, micro.topic_row or row.number
        if row.get("楼栋"):
            try:
                micro.buildings.update(parse_buildings(row.get("楼栋")))
            except ValueError as exc:
                text = row.get("楼栋")
                where = f"楼栋「{text}」" if str(exc) == text else f"楼栋「{text}」中的「{exc}」"
                self.error(row, f"{where}不是整数（可写 3、3,4、3号楼、3-5）")

    def _code_length(self, row: _Row, code: str, label: str) -> None:
        if len(code) > 64:
            self.error(row, f"{label}「{code[:20]}…」超过 64 个字：请填写较短的「{label}」列")

    # -- whole-sheet checks --------------------------------------------------------------------

    def _check_micros(self) -> None:
        topics: dict[str, _SheetMicro] = {}
        for micro in self.micros.values():
            rows = f"第 {micro.first_row} 行起"
            if not micro.leaders:
                self.problems.append(f"{rows}：微网格「{micro.name}」没有微网格长（角色填「微网格长」）")
            elif len(micro.leaders) > 1:
                listed = "、".join(f"第 {n} 行「{self.people[k].name}」" for n, k in micro.leaders)
                self.problems.append(
                    f"{rows}：微网格「{micro.name}」有 {len(micro.leaders)} 位微网格长：{listed}"
                )
            seen: dict[str, int] = {}
            for number, key in micro.leaders + micro.members:
                if key in seen:
                    self.error(
                        number,
                        f"「{self.people[key].name}」在微网格「{micro.name}」中已出现（第 {seen[key]} 行）",
                    )
                seen.setdefault(key, number)
            if micro.topic and micro.topic in topics:
                other = topics[micro.topic]
                self.error(
                    micro.topic_row,
                    f"群名称「{micro.topic}」与微网格「{other.name}」（第 {other.topic_row} 行）重复",
                )
            if micro.topic:
                topics.setdefault(micro.topic, micro)

    # -- assemble ------------------------------------------------------------------------------

    def _roster(self) -> Roster:
        communities = []
        for community in self.communities.values():
            supervisors = [
                SupervisorRef.model_validate({"person": k, "level": level, "title": t})
                for k, level, t in community.supervisors
            ]
            supervisors += [SupervisorRef(person=k, level=3, title=t) for k, t in self.street_wide]
            grids = []
            for comp_name, (comp_code, comp_sups) in community.comp_grids.items():
                micros = [
                    MicroGridSpec(
                        code=m.code,
                        name=m.name,
                        kind="merchant" if m.kind == "merchant" else "residential",
                        room_topic=m.topic,
                        leader=m.leaders[0][1],
                        members=[k for _, k in m.members],
                        buildings=sorted(m.buildings),
                    )
                    for m in self.micros.values()
                    if m.comp_key == (community.name, comp_name)
                ]
                grid_sups = [
                    SupervisorRef(person=k, level=1, title="综合网格长") for k in dict.fromkeys(comp_sups)
                ]
                grids.append(
                    CompGridSpec(code=comp_code, name=comp_name, supervisors=grid_sups, micro_grids=micros)
                )
            communities.append(
                CommunitySpec(
                    code=community.code,
                    name=community.name,
                    street=community.street,
                    supervisors=_unique_supervisors(supervisors),
                    grids=grids,
                )
            )
        if not communities:
            raise RosterError(self.path, ["表中没有任何社区的数据（街道人员须随社区一起导入）"])
        admins = list(dict.fromkeys(self.admins)) or list(
            dict.fromkeys(s.person for c in communities for s in c.supervisors if s.level == 2)
        )
        roster = Roster(people=list(self.people.values()), communities=communities, admins=admins)
        problems = _Checker(roster).run()  # safety net: the row checks above should catch all
        if problems:
            raise RosterError(self.path, problems)
        return roster


def _row_number(problem: str) -> int:
    found = re.match(r"第 (\d+) 行", problem)
    return int(found.group(1)) if found else 0


def _unique_supervisors(refs: list[SupervisorRef]) -> list[SupervisorRef]:
    seen: dict[tuple[str, int], SupervisorRef] = {}
    for ref in refs:
        seen.setdefault((ref.person, ref.level), ref)
    return list(seen.values())


def load_spreadsheet(path: str | Path) -> Roster:
    """A 花名册 (.xlsx or .csv, columns in the module docstring) as a Roster with the default policy."""
    path = Path(path)
    return _SheetBuilder(path, _sheet_rows(path)).build()


# ---------------------------------------------------------------------------------------------
# applying a roster to the database
# ---------------------------------------------------------------------------------------------

ENTITY_LABELS = {
    "community": "社区",
    "comp_grid": "综合网格",
    "micro_grid": "微网格",
    "person": "人员",
    "role": "网格职务",
    "supervisor": "督办职务",
}


@dataclass
class ApplySummary:
    """What an import changed; all zero (`changed` False) when re-importing the same roster."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)  # grids: deactivated; roles: deleted
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(+self.created or +self.updated or +self.removed)

    def lines(self) -> list[str]:
        out = []
        for entity, label in ENTITY_LABELS.items():
            counts = (self.created[entity], self.updated[entity], self.removed[entity])
            if any(counts):
                removed = "停用" if entity == "micro_grid" else "移除"
                out.append(f"{label}：新增 {counts[0]}，更新 {counts[1]}，{removed} {counts[2]}")
        if not out:
            out.append("数据库已是最新，没有变化")
        return out + [f"注意：{w}" for w in self.warnings]


def _set(obj: Any, values: dict[str, Any]) -> bool:
    """Assign changed attributes only; True if anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


class _Applier:
    def __init__(self, session: Session, roster: Roster) -> None:
        self.s = session
        self.roster = roster
        self.summary = ApplySummary()
        self.community_ids: dict[str, int] = {}
        self.comp_ids: dict[str, int] = {}
        self.micro_ids: dict[str, int] = {}
        self.person_ids: dict[str, int] = {}

    def _upsert(self, model: type[Any], entity: str, code: str, values: dict[str, Any]) -> int:
        row = self.s.exec(select(model).where(model.code == code)).first()
        if row is None:
            row = model(code=code, **values)
            self.summary.created[entity] += 1
        elif _set(row, values):
            self.summary.updated[entity] += 1
        self.s.add(row)
        self.s.flush()
        assert row.id is not None
        return int(row.id)

    def run(self) -> ApplySummary:
        for community in self.roster.communities:
            self.community_ids[community.code] = self._upsert(
                Community, "community", community.code, {"name": community.name, "street": community.street}
            )
            for grid in community.grids:
                self.comp_ids[grid.code] = self._upsert(
                    CompGrid, "comp_grid", grid.code,
                    {"name": grid.name, "community_id": self.community_ids[community.code]},
                )  # fmt: skip
        self._people()
        self._micro_grids()
        self._roles()
        self._supervisors()
        self._admins()
        self.s.flush()
        return self.summary

    def _people(self) -> None:
        admins = {self.roster.person(ref).key for ref in self.roster.admins}
        for person in self.roster.people:
            values: dict[str, Any] = {
                "name": person.name,
                "wechat_name": person.display_name,
                "phone": person.phone,
                "is_resident": False,
                "is_admin": person.key in admins,
            }
            if person.wechat_id:  # otherwise keep a binding learnt in chat (#绑定 / first message)
                self._free_contact_id(person.wechat_id, person.key)
                values["wechat_id"] = person.wechat_id
            self.person_ids[person.key] = self._upsert(Person, "person", person.key, values)

    def _free_contact_id(self, contact_id: str, key: str) -> None:
        """The roster is the record: a contact id held by another row (typically the resident row
        made when this person chatted before being listed) moves to the roster person."""
        holder = self.s.exec(select(Person).where(Person.wechat_id == contact_id)).first()
        if holder is not None and holder.code != key:
            holder.wechat_id = None
            self.s.add(holder)
            self.s.flush()
            self.summary.warnings.append(
                f"微信号 {contact_id} 原属「{holder.name}」（{holder.code}），已改归 {key}"
            )

    def _scope_micro_ids(self) -> list[int]:
        stmt = (
            select(MicroGrid.id)
            .join(CompGrid, col(CompGrid.id) == MicroGrid.comp_grid_id)
            .where(col(CompGrid.community_id).in_(list(self.community_ids.values())))
        )
        return [int(i) for i in self.s.exec(stmt) if i is not None]

    def _micro_grids(self) -> None:
        for _, grid, micro in self.roster.micro_grids():
            values: dict[str, Any] = {
                "comp_grid_id": self.comp_ids[grid.code],
                "name": micro.name,
                "kind": micro.kind,
                "room_topic": micro.room_topic,
                "buildings": list(micro.buildings),
                "active": True,
            }
            if micro.account:
                values["account"] = micro.account
            self.micro_ids[micro.code] = self._upsert(MicroGrid, "micro_grid", micro.code, values)
        keep = set(self.micro_ids.values())
        for grid_id in self._scope_micro_ids():
            row = self.s.get(MicroGrid, grid_id)
            if row is not None and grid_id not in keep and row.active:
                row.active = False  # gone from the roster: keep it (history refers to it), stop using it
                self.s.add(row)
                self.summary.removed["micro_grid"] += 1
        self._topic_clashes()

    def _topic_clashes(self) -> None:
        topics = {m.room_topic: m.code for _, _, m in self.roster.micro_grids() if m.room_topic}
        if not topics:
            return
        stmt = select(MicroGrid).where(
            col(MicroGrid.room_topic).in_(list(topics)),
            col(MicroGrid.active).is_(True),
            col(MicroGrid.code).not_in(list(self.micro_ids)),
        )
        for other in self.s.exec(stmt):
            self.summary.warnings.append(f"群名称「{other.room_topic}」也是库中微网格 {other.code} 的群名称")

    def _roles(self) -> None:
        wanted: dict[tuple[int, int], str] = {}
        for _, _, micro in self.roster.micro_grids():
            grid_id = self.micro_ids[micro.code]
            for ref in micro.members:
                wanted[(self.person_ids[self.roster.person(ref).key], grid_id)] = "member"
            wanted[(self.person_ids[self.roster.person(micro.leader).key], grid_id)] = "leader"
        existing = self.s.exec(
            select(GridRole, Person.is_resident)
            .join(Person, col(Person.id) == GridRole.person_id)
            .where(col(GridRole.micro_grid_id).in_(self._scope_micro_ids()))
        ).all()
        for role, is_resident in existing:
            key = (role.person_id, role.micro_grid_id)
            if key in wanted:
                if _set(role, {"role": wanted.pop(key)}):
                    self.summary.updated["role"] += 1
                    self.s.add(role)
            elif role.role in ("leader", "member") and not is_resident:
                self.s.delete(role)  # roster staff no longer listed here lose the role
                self.summary.removed["role"] += 1
        self.s.flush()
        for (person_id, grid_id), role_name in wanted.items():
            self.s.add(GridRole(person_id=person_id, micro_grid_id=grid_id, role=role_name))
            self.summary.created["role"] += 1

    def _supervisors(self) -> None:
        wanted: set[tuple[int, int, int | None, int | None]] = set()
        for community in self.roster.communities:
            cid = self.community_ids[community.code]
            for ref in community.supervisors:
                wanted.add((self.person_ids[self.roster.person(ref.person).key], ref.level, cid, None))
            for grid in community.grids:
                for ref in grid.supervisors:
                    wanted.add(
                        (
                            self.person_ids[self.roster.person(ref.person).key],
                            1,
                            cid,
                            self.comp_ids[grid.code],
                        )
                    )
        scope_comp = select(CompGrid.id).where(
            col(CompGrid.community_id).in_(list(self.community_ids.values()))
        )
        existing = self.s.exec(
            select(Supervisor).where(
                col(Supervisor.community_id).in_(list(self.community_ids.values()))
                | col(Supervisor.comp_grid_id).in_(scope_comp)
            )
        ).all()
        for row in existing:
            key = (row.person_id, row.level, row.community_id, row.comp_grid_id)
            if key in wanted:
                wanted.discard(key)  # a second identical row falls through to deletion below
            else:
                self.s.delete(row)
                self.summary.removed["supervisor"] += 1
        for person_id, level, community_id, comp_id in sorted(wanted, key=str):
            self.s.add(
                Supervisor(person_id=person_id, level=level, community_id=community_id, comp_grid_id=comp_id)
            )
            self.summary.created["supervisor"] += 1
        self.s.flush()

    def _admins(self) -> None:
        """People dropped from the roster who now hold no post anywhere lose admin rights too."""
        listed = list(self.person_ids.values())
        posts = select(GridRole.person_id).union(select(Supervisor.person_id))
        stmt = select(Person).where(
            col(Person.is_admin).is_(True),
            col(Person.is_resident).is_(False),
            col(Person.id).not_in(listed),
            col(Person.id).not_in(posts),
        )
        for person in self.s.exec(stmt):
            person.is_admin = False
            self.s.add(person)
            self.summary.updated["person"] += 1


def apply_roster(session: Session, roster: Roster) -> ApplySummary:
    """Upsert the roster into the database within the session's transaction; the caller commits
    (or rolls back: nothing is written until then)."""
    return _Applier(session, roster).run()


def summarize(roster: Roster) -> list[str]:
    """Counts for `gridbot roster check` (no personal data)."""
    st = roster.stats()
    return [
        f"社区 {st['communities']} 个，综合网格 {st['comp_grids']} 个，"
        f"微网格 {st['micro_grids']} 个（住宅 {st['residential']}、商户 {st['merchant']}）",
        f"人员 {st['people']} 人：微网格长 {st['leaders']}，微网格成员 {st['members']}，"
        f"督办人 {st['supervisors']}，管理员 {st['admins']}",
    ]


def person_line(person: RosterPerson) -> str:
    """One person for output, phone masked."""
    phone = mask_phone(person.phone)
    wechat = (
        f"（微信名 {person.wechat_name}）" if person.wechat_name and person.wechat_name != person.name else ""
    )
    return f"{person.name}{wechat}" + (f" {phone}" if phone else "")


__all__ = [
    "ApplySummary",
    "CommunitySpec",
    "CompGridSpec",
    "IdentityPolicy",
    "MicroGridSpec",
    "Policy",
    "Roster",
    "RosterError",
    "RosterPerson",
    "SupervisorRef",
    "apply_roster",
    "load_roster",
    "load_spreadsheet",
    "mask_phone",
    "validate_roster",
]
