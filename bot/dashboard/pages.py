"""Server-rendered HTML of the dashboard. Every value that comes from people or the database goes
through `e()` (html.escape, quotes too), so a name like ``<script>`` renders as text."""

# ruff: noqa: E501  (HTML and OpenAPI literals read better unwrapped)
from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bot.dashboard.ledgers import LEDGER_KEYS, LEDGER_TITLES
from bot.dashboard.queries import (
    GRADE_NAMES,
    REPORT_NAMES,
    ComplianceView,
    GridRow,
    IncidentRow,
    PointsRow,
    TicketDetail,
    TicketFilter,
    TicketRow,
    TodayView,
)
from handlers.labels import CATEGORY_NAMES, STATUS_NAMES

NAV = (
    ("today", "/admin", "今日"),
    ("compliance", "/admin/compliance", "合规"),
    ("tickets", "/admin/tickets", "诉求"),
    ("incidents", "/admin/incidents", "重大情况"),
    ("people", "/admin/people", "积分"),
    ("export", "/admin/export", "台账下载"),
    ("roster", "/admin/roster", "花名册导入"),
)
WEEKDAYS = "一二三四五六日"
TICKET_CATEGORIES = ("safety", "dispute", "sanitation", "facility", "security", "livelihood", "care", "other")
HEAT_COLOURS = {"zero": "#3aa36a", "basic": "#2f6fd6", "major": "#d64541", "missed": "#f6dfbd"}


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt_dt(moment: datetime | None, tz: ZoneInfo, *, year: bool = False) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")


def fmt_span(seconds: float) -> str:
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    return f"{minutes}分钟"


def pct(rate: float) -> str:
    return f"{round(rate * 100)}%"


def layout(title: str, active: str, body: str, *, username: str = "", csrf: str = "", scope: str = "") -> str:
    nav = ""
    user = ""
    if username:
        links = "".join(
            f'<a href="{href}"{" class=on aria-current=page" if key == active else ""}>{label}</a>'
            for key, href, label in NAV
        )
        nav = f'<nav class="tabs" aria-label="主菜单">{links}</nav>'
        user = (
            f'<div class="user"><span class="scope">{e(scope)}</span><span>{e(username)}</span>'
            f'<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="{e(csrf)}">'
            '<button type="submit" class="link">退出</button></form></div>'
        )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · 微网格治理平台</title>
<link rel="stylesheet" href="/admin/static/dashboard.css">
<script src="/admin/static/dashboard.js" defer></script>
</head><body>
<header class="top"><div class="bar"><a class="brand" href="/admin"><span class="logo">网</span>
<span>微网格治理 · 督办平台</span></a>{user}</div>{nav}</header>
<main>{body}</main>
<footer>GridBot 微网格治理群机器人 · 数据仅供工作使用，请勿外传</footer>
</body></html>"""


def login_page(csrf: str, error: str = "", username: str = "", next_url: str = "") -> str:
    err = f'<p class="alert" role="alert">{e(error)}</p>' if error else ""
    body = f"""<section class="card login">
<h1>督办平台登录</h1>
<p class="muted">社区、街道工作人员使用</p>{err}
<form method="post" action="/admin/login">
<input type="hidden" name="csrf" value="{e(csrf)}">
<input type="hidden" name="next" value="{e(next_url)}">
<label>用户名<input name="username" autocomplete="username" required value="{e(username)}"></label>
<label>密码<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" class="primary">登录</button>
</form></section>"""
    return layout("登录", "", body)


def _chips(view: TodayView) -> str:
    items = [("zero", view.count("zero")), ("basic", view.count("basic")), ("major", view.count("major"))]
    items.append(("missed", view.count("missed")))
    chips = "".join(
        f'<div class="stat s-{k}"><b>{n}</b><span>{REPORT_NAMES[k]}</span></div>' for k, n in items
    )
    reported = view.total - view.count("missed")
    rate = pct(reported / view.total) if view.total else "—"
    return f'<div class="stats"><div class="stat s-rate"><b>{rate}</b><span>报告率</span></div>{chips}</div>'


def today_page(view: TodayView, tz: ZoneInfo) -> str:
    day = view.day
    head = (
        f'<div class="pagehead"><h1>今日巡查 <small>{day:%Y年%m月%d日} 星期{WEEKDAYS[day.weekday()]}</small></h1>'
        f'<form class="inline" method="get"><input type="date" name="day" value="{day.isoformat()}" '
        'aria-label="日期"><button>查看</button></form></div>'
    )
    if not view.groups:
        return head + '<p class="empty card">本辖区暂无微网格。请先导入花名册。</p>'
    parts = [head, _chips(view)]
    for group in view.groups:
        tiles = []
        for t in group.tiles:
            who = f"{e(t.reporter)} {fmt_dt(t.first_at, tz)[6:]}" if t.reporter else "尚未报告"
            summary = f'<span class="sum">{e(t.summary)}</span>' if t.summary else ""
            tiles.append(
                f'<div class="tile t-{t.status}" title="{e(t.grid.name)}：{t.status_name}">'
                f'<span class="gname">{e(t.grid.name)}</span><span class="badge">{t.status_name}</span>'
                f'<span class="who">{who}</span>{summary}</div>'
            )
        parts.append(
            f'<section class="card"><h2>{e(group.comp_name)} <small>{e(group.community_name)} · '
            f"已报 {group.reported}/{len(group.tiles)}</small></h2>"
            f'<div class="tiles">{"".join(tiles)}</div></section>'
        )
    parts.append(_legend())
    return "".join(parts)


def _legend() -> str:
    return (
        '<p class="legend">'
        + "".join(f'<span><i class="sw t-{k}"></i>{REPORT_NAMES[k]}</span>' for k in REPORT_NAMES)
        + "</p>"
    )


def heatmap_svg(view: ComplianceView) -> str:
    cell, gap, label_w, rate_w, head_h = 16, 2, 150, 48, 34
    rows = [(c, g) for c in view.comps for g in c.grids]
    width = label_w + len(view.days) * (cell + gap) + rate_w
    height = head_h + len(rows) * (cell + gap) + 4
    out = [
        f'<svg class="heat" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="近{len(view.days)}天报告热力图">'
    ]
    for i, d in enumerate(view.days):
        x = label_w + i * (cell + gap) + cell / 2
        if i % 5 == 0 or i == len(view.days) - 1:
            out.append(f'<text x="{x}" y="12" class="dl" text-anchor="middle">{d:%m-%d}</text>')
        week = "周" + WEEKDAYS[d.weekday()]
        out.append(f'<text x="{x}" y="28" class="wk" text-anchor="middle">{week[1]}</text>')
    for r, (comp, g) in enumerate(rows):
        y = head_h + r * (cell + gap)
        name = g.grid.name if len(g.grid.name) <= 10 else g.grid.name[:9] + "…"
        out.append(
            f'<text x="{label_w - 6}" y="{y + 12}" class="gl" text-anchor="end">'
            f"<title>{e(comp.comp_name)} / {e(g.grid.name)}</title>{e(name)}</text>"
        )
        for i, (d, st) in enumerate(zip(view.days, g.statuses, strict=True)):
            x = label_w + i * (cell + gap)
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" rx="3" fill="{HEAT_COLOURS[st]}">'
                f"<title>{e(g.grid.name)} {d:%m-%d}：{REPORT_NAMES[st]}</title></rect>"
            )
        rate_x = label_w + len(view.days) * (cell + gap) + 6
        cls = "rt low" if g.rate < 0.8 else "rt"
        out.append(f'<text x="{rate_x}" y="{y + 12}" class="{cls}">{pct(g.rate)}</text>')
    out.append("</svg>")
    return "".join(out)


def compliance_page(view: ComplianceView) -> str:
    first, last = (view.days[0], view.days[-1]) if view.days else (date.today(), date.today())
    head = (
        f'<div class="pagehead"><h1>报告合规 <small>{first:%m月%d日}—{last:%m月%d日}，共 {len(view.days)} 天</small></h1>'
        f'<form class="inline" method="get"><label class="sr">截止日期</label><input type="date" name="end" '
        f'value="{last.isoformat()}" aria-label="截止日期"><button>查看</button></form></div>'
    )
    if not view.comps:
        return head + '<p class="empty card">本辖区暂无微网格。</p>'
    rows = "".join(
        f"<tr><td>{e(c.comp_name)}</td><td>{e(c.community_name)}</td><td class=num>{len(c.grids)}</td>"
        f'<td class=num>{c.reported}/{c.due}</td><td class="num{" low" if c.rate < 0.8 else ""}">{pct(c.rate)}</td>'
        f'<td class="barcell"><meter min="0" max="1" low="0.8" high="0.95" optimum="1" value="{c.rate:.3f}"></meter></td></tr>'
        for c in view.comps
    )
    return (
        head
        + f'<div class="stats"><div class="stat s-rate"><b>{pct(view.rate)}</b><span>总报告率</span></div></div>'
        + '<section class="card"><h2>综合网格报告率</h2><div class="scroll"><table class="grid">'
        "<thead><tr><th>综合网格</th><th>社区</th><th class=num>微网格数</th><th class=num>已报/应报</th><th class=num>报告率</th><th></th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div></section>"
        + '<section class="card"><h2>微网格 × 日期热力图 <small>右侧为各微网格报告率</small></h2>'
        f'<div class="scroll">{heatmap_svg(view)}</div>{_legend()}</section>'
    )


def _select(name: str, label: str, options: Iterable[tuple[str, str]], current: str | None) -> str:
    opts = "".join(
        f'<option value="{e(v)}"{" selected" if current == v else ""}>{e(t)}</option>' for v, t in options
    )
    return f'<label>{label}<select name="{name}"><option value="">全部</option>{opts}</select></label>'


def sla_text(row: TicketRow) -> tuple[str, str]:
    """(css class, text) of the SLA state."""
    if row.status == "suspended":
        return "sla-paused", "已挂起，时限暂停"
    if row.seconds_left is None:
        if row.in_time is None:
            return "sla-done", "已办结"
        return ("sla-done", "按时办结") if row.in_time else ("sla-late", "超时办结")
    if row.seconds_left < 0:
        return "sla-late", f"已超时 {fmt_span(row.seconds_left)}"
    return ("sla-soon" if row.seconds_left < 4 * 3600 else "sla-ok"), f"剩余 {fmt_span(row.seconds_left)}"


def tickets_page(
    rows: Sequence[TicketRow], flt: TicketFilter, grid_rows: Sequence[GridRow], tz: ZoneInfo
) -> str:
    grid_opts = [(str(g.id), f"{g.comp_name} / {g.name}") for g in grid_rows]
    overdue = "1" if flt.overdue else ("0" if flt.overdue is False else None)
    form = (
        '<form class="filters card" method="get" action="/admin/tickets">'
        + _select("status", "状态", STATUS_NAMES.items(), flt.status)
        + _select("grade", "等级", ((g, g + "级") for g in "ABC"), flt.grade)
        + _select("category", "类别", ((c, CATEGORY_NAMES[c]) for c in TICKET_CATEGORIES), flt.category)
        + _select("grid", "微网格", grid_opts, str(flt.grid_id) if flt.grid_id is not None else None)
        + _select("overdue", "超时", (("1", "已超时"), ("0", "未超时")), overdue)
        + '<div class="actions"><button type="submit" class="primary">筛选</button>'
        '<a class="button" href="/admin/tickets">重置</a></div></form>'
    )
    if not rows:
        table = '<p class="empty card">没有符合条件的诉求。</p>'
    else:
        trs = []
        for r in rows:
            cls, sla = sla_text(r)
            cells = (
                ("编号", f'<a href="/admin/tickets/{r.id}">{r.number}</a>'),
                ("网格", f"{e(r.grid_name)}<br><small>{e(r.comp_name)}</small>"),
                (
                    "内容",
                    f'<a href="/admin/tickets/{r.id}">{e(r.text[:60])}</a>'
                    + (f"<br><small>{e(r.location)}</small>" if r.location else ""),
                ),
                ("类别", e(r.category_name)),
                ("等级", f'<span class="grade g{e(r.grade)}">{e(r.grade)}</span>'),
                ("状态", f'<span class="st st-{e(r.status)}">{e(r.status_name)}</span>'),
                ("上报", fmt_dt(r.created_at, tz)),
                ("时限", f'<span class="{cls}">{sla}</span>'),
            )
            trs.append(
                "<tr>"
                + "".join(
                    f'<td data-l="{label}"{" class=text" if label == "内容" else ""}><div>{value}</div></td>'
                    for label, value in cells
                )
                + "</tr>"
            )
        table = (
            f'<section class="card"><h2>诉求列表 <small>共 {len(rows)} 条</small></h2><div class="scroll">'
            '<table class="grid list"><thead><tr><th>编号</th><th>网格</th><th>内容</th><th>类别</th>'
            "<th>等级</th><th>状态</th><th>上报时间</th><th>办理时限</th></tr></thead>"
            f"<tbody>{''.join(trs)}</tbody></table></div></section>"
        )
    return '<div class="pagehead"><h1>群众诉求</h1></div>' + form + table


def ticket_page(d: TicketDetail, tz: ZoneInfo) -> str:
    r = d.row
    cls, sla = sla_text(r)
    deadline_attr = f' data-deadline="{r.deadline.isoformat()}"' if r.seconds_left is not None else ""
    facts = [
        ("网格", f"{e(r.comp_name)} / {e(r.grid_name)}"),
        ("位置", e(r.location) or "—"),
        ("类别", e(r.category_name)),
        ("等级", e(GRADE_NAMES.get(r.grade, r.grade))),
        ("状态", f'<span class="st st-{e(r.status)}">{e(r.status_name)}</span>'),
        ("反映人", f"{e(d.reporter) or '—'} {e(d.reporter_phone)}"),
        ("上报时间", fmt_dt(r.created_at, tz, year=True)),
        ("办结时限", fmt_dt(r.deadline, tz, year=True)),
        ("接单人", e(d.accepted_by) or "—"),
        (
            "办结",
            f"{e(d.resolved_by) or '—'} {fmt_dt(r.resolved_at, tz, year=True) if r.resolved_at else ''}",
        ),
        ("办理结果", e(d.resolution) or "—"),
        ("群众评价", f"{r.rating} 分" if r.rating is not None else "—"),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    original = (
        f'<p class="orig"><b>原始消息（含个人信息）：</b>{e(d.original_text)}</p>' if d.original_text else ""
    )
    photo = (
        f'<figure class="photo"><img src="/admin/tickets/{r.id}/photo" alt="现场照片"><figcaption>现场照片</figcaption></figure>'
        if d.photo_path
        else ""
    )
    events = "".join(
        f"<li><time>{fmt_dt(ev.at, tz, year=True)}</time><b>{e(ev.action_name)}</b>"
        f"{(' · ' + e(ev.actor)) if ev.actor else ''}"
        f"{('<p>' + e(ev.note) + '</p>') if ev.note else ''}</li>"
        for ev in d.events
    )
    return (
        f'<div class="pagehead"><h1>诉求 {r.number} <small>{e(r.category_name)}</small></h1>'
        '<a class="button" href="/admin/tickets">返回列表</a></div>'
        f'<section class="card"><div class="sla {cls}"{deadline_attr}><span class="sla-label">办理时限</span>'
        f'<b class="sla-text">{sla}</b></div>'
        f'<p class="ticket-text">{e(r.text)}</p>{original}<dl class="facts">{dl}</dl>{photo}</section>'
        f'<section class="card"><h2>办理记录</h2><ol class="timeline">{events or "<li>暂无记录</li>"}</ol></section>'
    )


def incidents_page(rows: Sequence[IncidentRow], tz: ZoneInfo) -> str:
    head = '<div class="pagehead"><h1>重大情况 <small>单独报告、逐级提醒直至确认</small></h1></div>'
    if not rows:
        return head + '<p class="empty card">暂无重大情况。</p>'
    cards = []
    for i in rows:
        if i.acked_at is not None:
            state = f'<span class="st st-resolved">已确认</span> {e(i.acked_by)} 于 {fmt_dt(i.acked_at, tz)} 确认，用时 {i.minutes_to_ack} 分钟'
        else:
            state = f'<span class="st st-open">未确认</span> 已提醒至 {e(i.level_name)}'
        chain = "".join(
            f'<li class="a-{e(a.action)}"><time>{fmt_dt(a.at, tz)}</time><b>{e(a.action_name)}</b> '
            f"{e(a.level_name)}{(' · ' + e(a.person)) if a.person else ''}</li>"
            for a in i.alerts
        )
        cards.append(
            f'<section class="card incident{" open" if i.acked_at is None else ""}">'
            f"<h2>{i.number} {e(i.category_name)} <small>{e(i.comp_name)} / {e(i.grid_name)} · {fmt_dt(i.created_at, tz, year=True)}</small></h2>"
            f'<p class="ticket-text">{e(i.text)}</p>'
            f"{('<p class=muted>位置：' + e(i.location) + '</p>') if i.location else ''}"
            f'<p class="ack">{state}</p><h3>提醒链</h3><ol class="timeline chain">{chain or "<li>无提醒记录</li>"}</ol></section>'
        )
    return head + "".join(cards)


def people_page(rows: Sequence[PointsRow], year: int, month: int) -> str:
    head = (
        f'<div class="pagehead"><h1>积分排名 <small>{year}年{month}月</small></h1>'
        f'<form class="inline" method="get"><input type="month" name="month" value="{year:04d}-{month:02d}" '
        'aria-label="月份"><button>查看</button></form></div>'
    )
    if not rows:
        return head + '<p class="empty card">本月暂无积分记录。</p>'
    trs = "".join(
        f'<tr><td class="num rank r{r.rank}">{r.rank}</td><td>{e(r.name)}</td><td>{e(r.grids) or "—"}</td>'
        f'<td class="num">{r.entries}</td><td class="num pts">{r.points}</td></tr>'
        for r in rows
    )
    return (
        head
        + '<section class="card"><div class="scroll"><table class="grid"><thead><tr><th class=num>名次</th><th>姓名</th>'
        f"<th>微网格</th><th class=num>记录数</th><th class=num>积分</th></tr></thead><tbody>{trs}</tbody></table></div></section>"
    )


def export_page(grid_rows: Sequence[GridRow], first: date, last: date, error: str = "") -> str:
    groups: dict[str, list[GridRow]] = {}
    for g in grid_rows:
        groups.setdefault(g.comp_name, []).append(g)
    boxes = "".join(
        f"<fieldset class=grids><legend>{e(comp)}</legend>"
        + "".join(
            f'<label class="check"><input type="checkbox" name="grid" value="{g.id}">{e(g.name)}</label>'
            for g in items
        )
        + "</fieldset>"
        for comp, items in groups.items()
    )
    ledgers = "".join(
        f'<label class="check"><input type="checkbox" name="ledger" value="{k}" checked>{LEDGER_TITLES[k]}</label>'
        for k in LEDGER_KEYS
    )
    err = f'<p class="alert" role="alert">{e(error)}</p>' if error else ""
    return (
        '<div class="pagehead"><h1>台账下载</h1></div>'
        + err
        + '<form class="card form" method="get" action="/admin/export/download">'
        f'<div class="row"><label>开始日期<input type="date" name="from" value="{first.isoformat()}" required></label>'
        f'<label>结束日期<input type="date" name="to" value="{last.isoformat()}" required></label></div>'
        f'<h3>台账</h3><div class="checks">{ledgers}</div>'
        f"<h3>微网格 <small>不选即全部</small></h3>{boxes or '<p class=muted>暂无微网格</p>'}"
        '<h3>格式</h3><div class="checks"><label class="check"><input type="radio" name="format" value="xlsx" checked>'
        'Excel（.xlsx，每个台账一个工作表）</label><label class="check"><input type="radio" name="format" value="csv">'
        "CSV（多个台账打包为 .zip）</label></div>"
        '<div class="actions"><button type="submit" class="primary" id="download">下载台账</button></div></form>'
    )


def roster_page(csrf: str, *, problems: Sequence[str] = (), summary: Sequence[str] = (),
                token: str = "", filename: str = "", done: Sequence[str] = ()) -> str:  # fmt: skip
    parts = ['<div class="pagehead"><h1>花名册导入</h1></div>']
    if done:
        items = "".join(f"<li>{e(x)}</li>" for x in done)
        parts.append(f'<section class="card ok"><h2>导入完成</h2><ul>{items}</ul></section>')
    if problems:
        items = "".join(f"<li>{e(p)}</li>" for p in problems)
        parts.append(
            f'<section class="card bad" role="alert"><h2>{e(filename)} 有 {len(problems)} 处错误，未导入任何数据</h2>'
            f'<ol class="problems">{items}</ol><p>请修改后重新上传。</p></section>'
        )
    if token:
        items = "".join(f"<li>{e(x)}</li>" for x in summary)
        parts.append(
            f'<section class="card ok"><h2>{e(filename)} 校验通过</h2><ul>{items}</ul>'
            "<p>确认后将在一个事务中写入数据库；重复导入不会产生重复数据。</p>"
            '<form method="post" action="/admin/roster/confirm">'
            f'<input type="hidden" name="csrf" value="{e(csrf)}"><input type="hidden" name="token" value="{e(token)}">'
            '<button type="submit" class="primary">确认导入</button> <a class="button" href="/admin/roster">取消</a>'
            "</form></section>"
        )
    parts.append(
        '<form class="card form" method="post" action="/admin/roster" enctype="multipart/form-data">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        "<p>上传社区花名册（.xlsx 或 .csv）。系统先逐行校验并列出全部错误，确认后才会保存。</p>"
        '<label>花名册文件<input type="file" name="file" accept=".xlsx,.csv" required></label>'
        '<div class="actions"><button type="submit" class="primary">上传并校验</button></div></form>'
    )
    return "".join(parts)


def error_page(status: int, message: str) -> str:
    return layout(
        str(status),
        "",
        f'<section class="card"><h1>{status}</h1><p>{e(message)}</p><p><a href="/admin">返回首页</a></p></section>',
    )


def not_found_body(message: str) -> str:
    return f'<section class="card"><h1>未找到</h1><p>{e(message)}</p><p><a href="/admin/tickets">返回诉求列表</a></p></section>'


def query_string(**params: object) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def days_ago(day: date, n: int) -> date:
    return day - timedelta(days=n)
