"""Fuzz the roster loader: whatever the file, the outcome is a Roster or a RosterError with a
Chinese message — never another exception, never unbounded time or memory — and a failed import
leaves the database as it was."""

from __future__ import annotations

import copy
import csv
import io
import resource
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from bot.cli import main as gridbot
from config.roster import COLUMNS, Roster, RosterError, load_roster
from tests.hardening.helpers import CJK

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo_roster.yaml"
DEMO_DATA: Any = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LOAD_SECONDS = 3.0


def outcome(path: Path) -> Roster | RosterError:
    started = time.perf_counter()
    try:
        result: Roster | RosterError = load_roster(path)
    except RosterError as exc:
        result = exc
    # any other exception type fails the test with its traceback
    assert time.perf_counter() - started < LOAD_SECONDS
    if isinstance(result, RosterError):
        message = str(result)
        assert CJK.search(message) and result.problems, message
        assert "Traceback" not in message
    return result


# -- YAML ----------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=20),
    st.sampled_from(["16:00", "25:99", "MON 09:00", "周八 9:00", "res:x", "13812345678", "\u202e", "\x00"]),
)
junk_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


ALL_PATHS = _paths(DEMO_DATA)[1:]


def _mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif action == "nest":
        parent[last] = [[[{"x": parent[last]}]]]
    elif action == "add_key" and isinstance(parent[last], dict):
        parent[last][f"未知键{len(parent[last])}"] = value
    return data


mutation = st.tuples(
    st.sampled_from(ALL_PATHS), st.sampled_from(["delete", "replace", "nest", "add_key"]), junk_values
)


@FUZZ
@given(st.lists(mutation, min_size=1, max_size=3))
def test_fuzz_yaml_structure(tmp_path_factory: pytest.TempPathFactory, mutations: list[Any]) -> None:
    data = copy.deepcopy(DEMO_DATA)
    for path, action, value in mutations:
        try:
            data = _mutate(data, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the path
    path = tmp_path_factory.mktemp("y") / "roster.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    outcome(path)


@FUZZ
@given(st.integers(0, len(DEMO.read_bytes())), st.binary(max_size=12), st.integers(0, 40))
def test_fuzz_yaml_bytes(tmp_path_factory: pytest.TempPathFactory, at: int, insert: bytes, cut: int) -> None:
    raw = DEMO.read_bytes()
    path = tmp_path_factory.mktemp("y") / "roster.yml"
    path.write_bytes(raw[:at] + insert + raw[at + cut :])
    outcome(path)


def _laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines)


BOMBS = {
    # 9**9 ≈ 387 million "lol"s if anything walks or prints the aliases
    "billion-laughs-communities": _laughs(9) + "\ncommunities: *l8\n",
    "billion-laughs-admins": _laughs(9) + "\ncommunities: [{code: x, name: y, street: *l8}]\nadmins: *l8\n",
    "billion-laughs-policy": _laughs(9) + "\ncommunities: *l8\npolicy: {timezone: *l8, digest: *l8}\n",
    "billion-laughs-mapping": "a: &a {k1: x, k2: x, k3: x}\n"
    + "".join(
        f"{c}: &{c} {{{', '.join(f'k{i}: *{p}' for i in range(9))}}}\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=False)
    )
    + "communities: [*i]\npeople: *i\n",
    "deep-lists": "communities: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-maps": "communities:\n  - x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "deep-block": "communities:\n" + "".join("  " * i + "- \n" for i in range(1, 400)),
    "huge-key": "communities: []\n" + "k" * 2_000_000 + ": 1\n",
    "recursive-alias": "communities: &c [*c]\n",
    "tags": "communities: !!python/object/apply:os.system ['echo pwned']\n",
    "empty": "",
    "scalar": "42\n",
    "bom-only": "\ufeff",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_yaml_bombs(tmp_path: Path, name: str) -> None:
    path = tmp_path / "roster.yaml"
    path.write_text(BOMBS[name], encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, the high-water mark
    result = outcome(path)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert isinstance(result, RosterError)
    assert grown < 200 * 1024, f"peak memory grew {grown // 1024} MiB"


# -- spreadsheets --------------------------------------------------------------------------------

HEADERS = [s for synonyms in COLUMNS.values() for s in synonyms] + ["", "备注", "姓名（必填）", "\x00"]
CELLS = st.one_of(
    st.sampled_from(
        [
            "幸福里社区",
            "第一综合网格",
            "3号楼微网格",
            "网格长",
            "微网格员",
            "街道",
            "社区书记",
            "张三",
            "13812345678",
            "3-5",
            "9-1",
            "1,2,3",
            "是",
            "住宅",
            "商户",
            "组长",
            "=1+1",
            '=HYPERLINK("x")',
        ]
    ),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=15),
    st.integers(-10, 10**12).map(str),
)
sheets = st.tuples(
    st.lists(st.sampled_from(HEADERS), min_size=0, max_size=8),
    st.lists(st.lists(CELLS, max_size=9), max_size=8),
)


def _rows(sheet: tuple[list[str], list[list[str]]]) -> list[list[str]]:
    header, body = sheet
    return [header, *body]


@FUZZ
@given(
    sheets, st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]), st.sampled_from([",", "\t", ";"])
)
def test_fuzz_csv(
    tmp_path_factory: pytest.TempPathFactory, sheet: Any, encoding: str, delimiter: str
) -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerows(_rows(sheet))
    path = tmp_path_factory.mktemp("c") / "花名册.csv"
    try:
        path.write_bytes(buf.getvalue().encode(encoding))
    except UnicodeEncodeError:
        path.write_bytes(buf.getvalue().encode("utf-8", "replace"))
    outcome(path)


@settings(FUZZ, max_examples=15)
@given(sheets)
def test_fuzz_xlsx(tmp_path_factory: pytest.TempPathFactory, sheet: Any) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    for row in _rows(sheet):
        try:
            ws.append(row)
        except Exception:  # openpyxl refuses some control characters in cells
            ws.append(["?"] * len(row))
    path = tmp_path_factory.mktemp("x") / "花名册.xlsx"
    book.save(path)
    outcome(path)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


BAD_FILES: dict[str, bytes] = {
    "empty.csv": b"",
    "empty.xlsx": b"",
    "garbage.xlsx": bytes(range(256)) * 40,
    "png-renamed.xlsx": b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    "zip-junk.xlsx": _zip({"[Content_Types].xml": b"<x", "xl/workbook.xml": b"\xff\xfe"}),
    "zip-empty.xlsx": _zip({}),
    "latin1.csv": "社区,角色,姓名\n".encode("gb18030") + b"\xff\xfe\xfd\x80\x81",
    "huge-cell.csv": ('社区,角色,姓名\n"' + "x" * 200_000 + '",网格长,张三\n').encode(),
    "nul.csv": b"\x00\x00\x00,\x00\n\x00",
    "only-header.csv": "社区,角色,姓名\n".encode(),
    "header-missing.csv": "姓名,角色\n张三,网格长\n".encode(),
    "unterminated.csv": '社区,角色,姓名\n"幸福里'.encode(),
    "utf16.csv": "社区,角色,姓名\n幸福里,街道,张三\n".encode("utf-16"),
    "wide.csv": ("社区,角色,姓名" + ",x" * 20_000 + "\n").encode(),
    "no-suffix": b"communities: []",
    "yaml-as-csv.csv": DEMO.read_bytes(),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_spreadsheets(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    assert isinstance(outcome(path), RosterError)


# -- the database after a failed import ----------------------------------------------------------


def _snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(map(str, row)) for row in conn.execute(text(f'SELECT * FROM "{t.name}"')))
            for t in SQLModel.metadata.sorted_tables
        }


def test_failed_import_leaves_database_untouched(
    roster_loaded: Engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(roster_loaded)
    broken = copy.deepcopy(DEMO_DATA)
    broken["people"].append({"name": "新人", "phone": "13800000000"})  # valid on its own …
    broken["communities"][0]["grids"][0]["micro_grids"][0]["leader"] = "不存在的人"  # … but not this
    cases = {
        "ref.yaml": yaml.safe_dump(broken, allow_unicode=True).encode(),
        "bomb.yaml": BOMBS["billion-laughs-admins"].encode(),
        "garbage.xlsx": BAD_FILES["garbage.xlsx"],
        "huge-cell.csv": BAD_FILES["huge-cell.csv"],
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert gridbot(["roster", "import", str(path), "--url", db_url]) == 2
        err = capsys.readouterr().err
        assert CJK.search(err) and "Traceback" not in err, err
        assert _snapshot(roster_loaded) == before, name
