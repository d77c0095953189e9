"""aiohttp handlers of the dashboard: authentication, pages, downloads, roster import, JSON API."""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import time as systime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from sqlmodel import Session, col, select

from bot.dashboard import api, auth, pages, queries
from bot.dashboard.ledgers import LEDGER_KEYS, LedgerRequest, export
from bot.dashboard.queries import TicketFilter, Viewer
from config.roster import Roster, RosterError, apply_roster, load_spreadsheet, summarize
from handlers.clock import Clock
from storage.models import Community, DashboardUser

T = TypeVar("T")
STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"dashboard.css": "text/css", "dashboard.js": "text/javascript"}
PHOTO_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
ROSTER_SUFFIXES = (".xlsx", ".csv")
MAX_ROSTER_BYTES = 5 * 1024 * 1024
PENDING_TTL = 30 * 60  # seconds an uploaded, validated roster waits for its confirmation
MAX_EXPORT_DAYS = 366
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class Account:
    user_id: int
    username: str
    street: str
    token: str
    viewer: Viewer
    scope_name: str


@dataclass(slots=True)
class PendingRoster:
    user_id: int
    path: Path
    filename: str
    expires: float


DASHBOARD_KEY: web.AppKey[Dashboard] = web.AppKey("gridbot_dashboard")
Handler = Callable[[web.Request, Account], Awaitable[web.StreamResponse]]


class Dashboard:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        clock: Clock,
        secret: bytes,
        data_dir: Path,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("dashboard secret must be at least 16 bytes")
        self.session_factory = session_factory
        self.clock = clock
        self.tz = clock.tz
        self.secret = secret
        self.data_dir = data_dir
        self.pending: dict[str, PendingRoster] = {}
        self._upload_dir = Path(tempfile.mkdtemp(prefix="gridbot-roster-"))

    # -- plumbing --------------------------------------------------------------------------------

    async def db(self, fn: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.session_factory() as session:
                return fn(session)

        return await asyncio.to_thread(run)

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()

    def html(self, body: str, status: int = 200) -> web.Response:
        return web.Response(
            text=body, status=status, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )

    def page(self, account: Account, title: str, active: str, body: str, status: int = 200) -> web.Response:
        return self.html(
            pages.layout(
                title,
                active,
                body,
                username=account.username,
                csrf=auth.csrf_token(self.secret, account.token),
                scope=account.scope_name,
            ),
            status,
        )

    @staticmethod
    def json(data: Any, status: int = 200) -> web.Response:
        return web.Response(
            text=json.dumps(data, ensure_ascii=False),
            status=status,
            content_type="application/json",
            charset="utf-8",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    def _token(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :].strip()
        return request.cookies.get(auth.SESSION_COOKIE, "")

    async def account(self, request: web.Request) -> Account | None:
        token = self._token(request)
        if not token:
            return None
        now = self.now()

        def load(session: Session) -> Account | None:
            user = auth.session_user(session, self.secret, token, now)
            if user is None or user.id is None:
                return None
            ids = auth.scope_community_ids(session, user)
            scope = user.street
            if user.community_id is not None:
                community = session.get(Community, user.community_id)
                scope = community.name if community else ""
            return Account(
                user.id,
                user.username,
                user.street,
                token,
                Viewer(ids, user.can_see_pii, user.username),
                scope,
            )

        return await self.db(load)

    def html_view(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            account = await self.account(request)
            if account is None:
                target = request.path_qs if request.method == "GET" else "/admin"
                raise web.HTTPFound("/admin/login?" + pages.query_string(next=target))
            if request.method == "POST":
                form = await request.post()
                submitted = form.get("csrf")
                if not isinstance(submitted, str) or not auth.check_csrf(
                    self.secret, account.token, submitted
                ):
                    return self.html(
                        pages.error_page(403, "请求已失效（CSRF 校验失败），请刷新页面后重试。"), 403
                    )
            return await handler(request, account)

        return wrapped

    def api_view(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            account = await self.account(request)
            if account is None:
                return self.json({"error": "未登录或会话已过期 / not authenticated"}, 401)
            try:
                return await handler(request, account)
            except ValueError as exc:
                return self.json({"error": str(exc)}, 400)

        return wrapped

    # -- login -----------------------------------------------------------------------------------

    @staticmethod
    def _safe_next(value: object) -> str:
        if (
            isinstance(value, str)
            and value.startswith("/admin")
            and not value.startswith("//")
            and "\\" not in value
        ):
            return value
        return "/admin"

    def _login_form(
        self, error: str = "", username: str = "", next_url: str = "", status: int = 200
    ) -> web.Response:
        token = auth.new_login_csrf()
        response = self.html(pages.login_page(token, error, username, next_url), status)
        response.set_cookie(
            auth.LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/admin/login", max_age=3600
        )
        return response

    async def login_get(self, request: web.Request) -> web.StreamResponse:
        if await self.account(request) is not None:
            raise web.HTTPFound(self._safe_next(request.query.get("next")))
        return self._login_form(next_url=self._safe_next(request.query.get("next", "/admin")))

    async def login_post(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        next_url = self._safe_next(form.get("next"))
        cookie = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
        submitted = str(form.get("csrf") or "")
        if not cookie or not secrets.compare_digest(cookie, submitted):
            return self._login_form("页面已过期（CSRF 校验失败），请重新登录。", username, next_url, 403)
        now = self.now()
        result = await self.db(lambda s: auth.attempt_login(s, username, password, now))
        if result.user is None:
            return self._login_form(result.error, username, next_url, 401)
        token = auth.make_session_token(self.secret, result.user, now)
        response = web.HTTPFound(next_url)
        response.set_cookie(
            auth.SESSION_COOKIE,
            token,
            httponly=True,
            samesite="Lax",
            secure=request.secure,
            path="/admin",
            max_age=int(auth.SESSION_TTL.total_seconds()),
        )
        response.del_cookie(auth.LOGIN_CSRF_COOKIE, path="/admin/login")
        raise response

    async def logout(self, request: web.Request, account: Account) -> web.StreamResponse:
        response = web.HTTPFound("/admin/login")
        response.del_cookie(auth.SESSION_COOKIE, path="/admin")
        raise response

    # -- pages -----------------------------------------------------------------------------------

    def _day(self, value: str | None, default: date) -> date:
        if not value:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"日期格式应为 YYYY-MM-DD：{value}") from exc

    async def today_page(self, request: web.Request, account: Account) -> web.StreamResponse:
        day = self._day_or_default(request.query.get("day"), self.today())
        view = await self.db(lambda s: queries.today(s, account.viewer, day))
        return self.page(account, "今日", "today", pages.today_page(view, self.tz))

    def _day_or_default(self, value: str | None, default: date) -> date:
        try:
            return self._day(value, default)
        except ValueError:
            return default

    async def compliance_page(self, request: web.Request, account: Account) -> web.StreamResponse:
        end = self._day_or_default(request.query.get("end"), self.today() - timedelta(days=1))
        view = await self.db(lambda s: queries.compliance(s, account.viewer, end, 30))
        return self.page(account, "合规", "compliance", pages.compliance_page(view))

    @staticmethod
    def _ticket_filter(query: Any) -> TicketFilter:
        status = query.get("status") or None
        if status is not None and status not in ("open", "accepted", "resolved", "rated", "suspended"):
            raise ValueError(f"未知状态：{status}")
        grade = query.get("grade") or None
        if grade is not None and grade not in ("A", "B", "C"):
            raise ValueError(f"未知等级：{grade}")
        grid = query.get("grid") or None
        try:
            grid_id = int(grid) if grid is not None else None
        except ValueError as exc:
            raise ValueError(f"微网格 id 应为整数：{grid}") from exc
        overdue_raw = query.get("overdue") or None
        overdue = {None: None, "1": True, "true": True, "0": False, "false": False}.get(overdue_raw)
        if overdue_raw is not None and overdue is None:
            raise ValueError(f"overdue 只能是 0 或 1：{overdue_raw}")
        return TicketFilter(status, grade, query.get("category") or None, grid_id, overdue)

    async def tickets_page(self, request: web.Request, account: Account) -> web.StreamResponse:
        try:
            flt = self._ticket_filter(request.query)
        except ValueError:
            flt = TicketFilter()
        now = self.now()

        def load(s: Session) -> tuple[list[queries.TicketRow], list[queries.GridRow]]:
            return queries.tickets(s, account.viewer, now, flt), queries.grids(s, account.viewer)

        rows, grid_rows = await self.db(load)
        return self.page(account, "诉求", "tickets", pages.tickets_page(rows, flt, grid_rows, self.tz))

    def _ticket_id(self, request: web.Request) -> int:
        try:
            return int(request.match_info["ticket_id"])
        except ValueError as exc:
            raise web.HTTPNotFound() from exc

    async def ticket_page(self, request: web.Request, account: Account) -> web.StreamResponse:
        tid = self._ticket_id(request)
        now = self.now()
        detail = await self.db(lambda s: queries.ticket(s, account.viewer, tid, now))
        if detail is None:
            return self.page(
                account,
                "未找到",
                "tickets",
                pages.not_found_body("没有这条诉求，或不在您的辖区内。"),
                404,
            )
        return self.page(account, f"诉求 {detail.row.number}", "tickets", pages.ticket_page(detail, self.tz))

    def _photo_file(self, stored: str) -> Path | None:
        """The stored photo as a file inside the data folder, or None (never a path outside it)."""
        base = self.data_dir.resolve()
        candidates = [Path(stored), base / "images" / Path(stored).name]
        for candidate in candidates:
            try:
                path = candidate.resolve()
            except (OSError, RuntimeError):
                continue
            if path.is_relative_to(base) and path.suffix.lower() in PHOTO_TYPES and path.is_file():
                return path
        return None

    async def ticket_photo(self, request: web.Request, account: Account) -> web.StreamResponse:
        tid = self._ticket_id(request)
        now = self.now()
        detail = await self.db(lambda s: queries.ticket(s, account.viewer, tid, now))
        path = self._photo_file(detail.photo_path) if detail is not None and detail.photo_path else None
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(
            path,
            headers={
                "Content-Type": PHOTO_TYPES[path.suffix.lower()],
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, max-age=3600",
                "Content-Disposition": "inline",
            },
        )

    async def incidents_page(self, request: web.Request, account: Account) -> web.StreamResponse:
        rows = await self.db(lambda s: queries.incidents(s, account.viewer, limit=100))
        return self.page(account, "重大情况", "incidents", pages.incidents_page(rows, self.tz))

    def _month(self, value: str | None) -> tuple[int, int]:
        if value:
            try:
                year, month = (int(x) for x in value.split("-", 1))
                if 2000 <= year <= 2100 and 1 <= month <= 12:
                    return year, month
            except ValueError:
                pass
            raise ValueError(f"月份格式应为 YYYY-MM：{value}")
        today = self.today()
        return today.year, today.month

    async def people_page(self, request: web.Request, account: Account) -> web.StreamResponse:
        try:
            year, month = self._month(request.query.get("month"))
        except ValueError:
            year, month = self._month(None)
        rows = await self.db(lambda s: queries.points(s, account.viewer, self.tz, year, month))
        return self.page(account, "积分", "people", pages.people_page(rows, year, month))

    async def export_page(
        self, request: web.Request, account: Account, error: str = "", status: int = 200
    ) -> web.StreamResponse:
        grid_rows = await self.db(lambda s: queries.grids(s, account.viewer))
        today = self.today()
        first = today.replace(day=1)
        return self.page(
            account, "台账下载", "export", pages.export_page(grid_rows, first, today, error), status
        )

    async def export_download(self, request: web.Request, account: Account) -> web.StreamResponse:
        q = request.query
        try:
            first = self._day(q.get("from"), self.today().replace(day=1))
            last = self._day(q.get("to"), self.today())
            if last < first:
                raise ValueError("结束日期不能早于开始日期")
            if (last - first).days >= MAX_EXPORT_DAYS:
                raise ValueError(f"一次最多导出 {MAX_EXPORT_DAYS} 天")
            fmt = q.get("format", "xlsx")
            if fmt not in ("xlsx", "csv"):
                raise ValueError(f"未知格式：{fmt}")
            grid_ids = [int(g) for g in q.getall("grid", [])] or None
            kinds = [k for k in q.getall("ledger", []) if k in LEDGER_KEYS] or list(LEDGER_KEYS)
        except ValueError as exc:
            return await self.export_page(request, account, str(exc), 400)
        req = LedgerRequest(first, last, grid_ids, kinds)
        name, ctype, data = await self.db(lambda s: export(s, account.viewer, req, fmt, self.tz))  # type: ignore[arg-type]
        disposition = (
            f"attachment; filename=\"ledger.{name.rsplit('.', 1)[-1]}\"; filename*=UTF-8''{quote(name)}"
        )
        return web.Response(
            body=data,
            headers={
                "Content-Type": ctype,
                "Content-Disposition": disposition,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # -- roster import ---------------------------------------------------------------------------

    def _expire_pending(self) -> None:
        now = systime.monotonic()
        for token, item in list(self.pending.items()):
            if item.expires < now:
                item.path.unlink(missing_ok=True)
                del self.pending[token]

    async def roster_page(self, request: web.Request, account: Account) -> web.StreamResponse:
        return self._roster(account)

    def _roster(self, account: Account, status: int = 200, **kw: Any) -> web.Response:
        csrf = auth.csrf_token(self.secret, account.token)
        return self.page(account, "花名册导入", "roster", pages.roster_page(csrf, **kw), status)

    def _scope_problems(self, session: Session, roster: Roster, account: Account) -> list[str]:
        """A roster may only touch the communities the account is responsible for."""
        problems = []
        user = session.get(DashboardUser, account.user_id)
        for spec in roster.communities:
            existing = session.exec(select(Community).where(col(Community.code) == spec.code)).first()
            if existing is not None and existing.id in account.viewer.community_ids:
                continue
            street_account = user is not None and user.community_id is None and bool(user.street)
            if existing is None and street_account and user is not None and spec.street == user.street:
                continue
            problems.append(f"社区「{spec.name}」（{spec.code}）不在您的管理范围内，不能导入")
        return problems

    async def roster_upload(self, request: web.Request, account: Account) -> web.StreamResponse:
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return self._roster(account, 400, problems=["请选择花名册文件"], filename="")
        filename = Path(upload.filename or "花名册").name
        suffix = Path(filename).suffix.lower()
        if suffix not in ROSTER_SUFFIXES:
            return self._roster(account, 400, problems=["只支持 .xlsx 或 .csv 文件"], filename=filename)
        data = upload.file.read(MAX_ROSTER_BYTES + 1)
        if len(data) > MAX_ROSTER_BYTES:
            return self._roster(account, 400, problems=["文件太大，不能超过 5 MB"], filename=filename)
        self._expire_pending()
        token = secrets.token_urlsafe(24)
        path = self._upload_dir / f"{token}{suffix}"
        path.write_bytes(data)

        def check(session: Session) -> tuple[list[str], list[str]]:
            try:
                roster = load_spreadsheet(path)
            except RosterError as exc:
                return exc.problems, []
            except Exception as exc:  # an unreadable file is a user error, not a crash
                return [f"文件无法读取：{type(exc).__name__}"], []
            problems = self._scope_problems(session, roster, account)
            return problems, summarize(roster)

        problems, summary = await self.db(check)
        if problems:
            path.unlink(missing_ok=True)
            return self._roster(account, 422, problems=problems, filename=filename)
        for old, item in list(self.pending.items()):
            if item.user_id == account.user_id:
                item.path.unlink(missing_ok=True)
                del self.pending[old]
        self.pending[token] = PendingRoster(
            account.user_id, path, filename, systime.monotonic() + PENDING_TTL
        )
        return self._roster(account, summary=summary, token=token, filename=filename)

    async def roster_confirm(self, request: web.Request, account: Account) -> web.StreamResponse:
        form = await request.post()
        self._expire_pending()
        item = self.pending.get(str(form.get("token") or ""))
        if item is None or item.user_id != account.user_id:
            return self._roster(account, 400, problems=["上传已过期，请重新上传花名册"], filename="")

        def apply(session: Session) -> tuple[list[str], list[str]]:
            try:
                roster = load_spreadsheet(item.path)
            except RosterError as exc:
                return exc.problems, []
            problems = self._scope_problems(session, roster, account)
            if problems:
                return problems, []
            try:
                summary = apply_roster(session, roster)
                session.commit()
            except Exception:
                session.rollback()
                raise
            return [], summary.lines()

        problems, lines = await self.db(apply)
        del self.pending[str(form.get("token"))]
        item.path.unlink(missing_ok=True)
        if problems:
            return self._roster(account, 422, problems=problems, filename=item.filename)
        return self._roster(account, done=lines)

    # -- API -------------------------------------------------------------------------------------

    async def api_me(self, request: web.Request, account: Account) -> web.StreamResponse:
        v = account.viewer
        return self.json(
            {
                "username": account.username,
                "can_see_pii": v.pii,
                "community_ids": sorted(v.community_ids),
                "street": account.street,
            }
        )

    async def api_grids(self, request: web.Request, account: Account) -> web.StreamResponse:
        rows = await self.db(lambda s: queries.grids(s, account.viewer))
        return self.json(
            {
                "grids": [
                    {
                        "id": g.id, "code": g.code, "name": g.name, "kind": g.kind, "active": g.active,
                        "comp_grid_id": g.comp_id, "comp_grid": g.comp_name,
                        "community_id": g.community_id, "community": g.community_name,
                    }
                    for g in rows
                ]
            }
        )  # fmt: skip

    async def api_today(self, request: web.Request, account: Account) -> web.StreamResponse:
        day = self._day(request.query.get("day"), self.today())
        view = await self.db(lambda s: queries.today(s, account.viewer, day))
        return self.json(api.today_json(view, self.tz))

    async def api_compliance(self, request: web.Request, account: Account) -> web.StreamResponse:
        end = self._day(request.query.get("end"), self.today() - timedelta(days=1))
        try:
            days = int(request.query.get("days", "30"))
        except ValueError as exc:
            raise ValueError("days 应为整数") from exc
        if not 1 <= days <= 92:
            raise ValueError("days 应在 1 到 92 之间")
        view = await self.db(lambda s: queries.compliance(s, account.viewer, end, days))
        return self.json(api.compliance_json(view))

    async def api_tickets(self, request: web.Request, account: Account) -> web.StreamResponse:
        flt = self._ticket_filter(request.query)
        now = self.now()
        rows = await self.db(lambda s: queries.tickets(s, account.viewer, now, flt))
        return self.json({"tickets": [api.ticket_json(r, self.tz) for r in rows]})

    async def api_ticket(self, request: web.Request, account: Account) -> web.StreamResponse:
        try:
            tid = int(request.match_info["ticket_id"])
        except ValueError:
            return self.json({"error": "not found"}, 404)
        now = self.now()
        detail = await self.db(lambda s: queries.ticket(s, account.viewer, tid, now))
        if detail is None:
            return self.json({"error": "没有这条诉求，或不在您的辖区内 / not found"}, 404)
        return self.json(api.ticket_detail_json(detail, self.tz))

    async def api_incidents(self, request: web.Request, account: Account) -> web.StreamResponse:
        since = None
        if request.query.get("days"):
            try:
                since = self.now() - timedelta(days=int(request.query["days"]))
            except ValueError as exc:
                raise ValueError("days 应为整数") from exc
        rows = await self.db(lambda s: queries.incidents(s, account.viewer, since=since))
        return self.json({"incidents": [api.incident_json(i, self.tz) for i in rows]})

    async def api_points(self, request: web.Request, account: Account) -> web.StreamResponse:
        year, month = self._month(request.query.get("month"))
        rows = await self.db(lambda s: queries.points(s, account.viewer, self.tz, year, month))
        return self.json(api.points_json(rows, f"{year:04d}-{month:02d}"))

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        return self.json(api.openapi_document())

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.Response(
            body=(STATIC_DIR / name).read_bytes(),
            content_type=STATIC_FILES[name],
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    # -- routes ----------------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        h, a = self.html_view, self.api_view
        return [
            web.get("/admin/static/{name}", self.static),
            web.get("/admin/login", self.login_get),
            web.post("/admin/login", self.login_post),
            web.post("/admin/logout", h(self.logout)),
            web.get("/admin", h(self.today_page)),
            web.get("/admin/", h(self.today_page)),
            web.get("/admin/compliance", h(self.compliance_page)),
            web.get("/admin/tickets", h(self.tickets_page)),
            web.get("/admin/tickets/{ticket_id}", h(self.ticket_page)),
            web.get("/admin/tickets/{ticket_id}/photo", h(self.ticket_photo)),
            web.get("/admin/incidents", h(self.incidents_page)),
            web.get("/admin/people", h(self.people_page)),
            web.get("/admin/export", h(self.export_page)),
            web.get("/admin/export/download", h(self.export_download)),
            web.get("/admin/roster", h(self.roster_page)),
            web.post("/admin/roster", h(self.roster_upload)),
            web.post("/admin/roster/confirm", h(self.roster_confirm)),
            web.get("/admin/api/openapi.json", self.openapi),
            web.get("/admin/api/me", a(self.api_me)),
            web.get("/admin/api/grids", a(self.api_grids)),
            web.get("/admin/api/today", a(self.api_today)),
            web.get("/admin/api/compliance", a(self.api_compliance)),
            web.get("/admin/api/tickets", a(self.api_tickets)),
            web.get("/admin/api/tickets/{ticket_id}", a(self.api_ticket)),
            web.get("/admin/api/incidents", a(self.api_incidents)),
            web.get("/admin/api/points", a(self.api_points)),
        ]
