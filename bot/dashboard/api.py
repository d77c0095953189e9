"""JSON shapes of the dashboard API and its OpenAPI 3 description (kept next to each other so they
stay in step; tests check that every served path is documented)."""

# ruff: noqa: E501  (HTML and OpenAPI literals read better unwrapped)
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.dashboard.queries import (
    ComplianceView,
    IncidentRow,
    PointsRow,
    TicketDetail,
    TicketRow,
    TodayView,
)


def iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat()


def today_json(view: TodayView, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "day": view.day.isoformat(),
        "total": view.total,
        "counts": {k: view.count(k) for k in ("zero", "basic", "major", "missed")},
        "comp_grids": [
            {
                "id": g.comp_id,
                "name": g.comp_name,
                "community": g.community_name,
                "grids": [
                    {
                        "id": t.grid.id,
                        "code": t.grid.code,
                        "name": t.grid.name,
                        "status": t.status,
                        "status_name": t.status_name,
                        "reporter": t.reporter,
                        "first_at": iso(t.first_at, tz),
                        "summary": t.summary,
                    }
                    for t in g.tiles
                ],
            }
            for g in view.groups
        ],
    }


def compliance_json(view: ComplianceView) -> dict[str, Any]:
    return {
        "days": [d.isoformat() for d in view.days],
        "rate": round(view.rate, 4),
        "comp_grids": [
            {
                "id": c.comp_id,
                "name": c.comp_name,
                "community": c.community_name,
                "reported": c.reported,
                "due": c.due,
                "rate": round(c.rate, 4),
                "grids": [
                    {
                        "id": g.grid.id,
                        "code": g.grid.code,
                        "name": g.grid.name,
                        "reported": g.reported,
                        "rate": round(g.rate, 4),
                        "statuses": g.statuses,
                    }
                    for g in c.grids
                ],
            }
            for c in view.comps
        ],
    }


def ticket_json(r: TicketRow, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "number": r.number,
        "grid_id": r.grid_id,
        "grid": r.grid_name,
        "comp_grid": r.comp_name,
        "category": r.category,
        "category_name": r.category_name,
        "grade": r.grade,
        "status": r.status,
        "status_name": r.status_name,
        "text": r.text,
        "location": r.location,
        "created_at": iso(r.created_at, tz),
        "deadline": iso(r.deadline, tz),
        "resolved_at": iso(r.resolved_at, tz),
        "in_time": r.in_time,
        "rating": r.rating,
        "overdue": r.overdue,
        "seconds_left": r.seconds_left,
        "has_photo": r.has_photo,
    }


def ticket_detail_json(d: TicketDetail, tz: ZoneInfo) -> dict[str, Any]:
    out = ticket_json(d.row, tz)
    out.update(
        {
            "reporter": d.reporter,
            "reporter_phone": d.reporter_phone,
            "accepted_by": d.accepted_by,
            "resolved_by": d.resolved_by,
            "resolution": d.resolution,
            "original_text": d.original_text,
            "photo_url": f"/admin/tickets/{d.row.id}/photo" if d.photo_path else None,
            "events": [
                {
                    "at": iso(ev.at, tz),
                    "actor": ev.actor,
                    "action": ev.action,
                    "action_name": ev.action_name,
                    "note": ev.note,
                }
                for ev in d.events
            ],
        }
    )
    return out


def incident_json(i: IncidentRow, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": i.id,
        "number": i.number,
        "grid": i.grid_name,
        "comp_grid": i.comp_name,
        "community": i.community_name,
        "category": i.category,
        "category_name": i.category_name,
        "location": i.location,
        "text": i.text,
        "status": i.status,
        "level": i.level,
        "level_name": i.level_name,
        "created_at": iso(i.created_at, tz),
        "acked_by": i.acked_by or None,
        "acked_at": iso(i.acked_at, tz),
        "minutes_to_ack": i.minutes_to_ack,
        "alerts": [
            {
                "at": iso(a.at, tz),
                "level": a.level,
                "level_name": a.level_name,
                "person": a.person,
                "action": a.action,
                "action_name": a.action_name,
            }
            for a in i.alerts
        ],
    }


def points_json(rows: list[PointsRow], month: str) -> dict[str, Any]:
    return {
        "month": month,
        "ranking": [
            {
                "rank": r.rank,
                "person_id": r.person_id,
                "name": r.name,
                "grids": r.grids,
                "points": r.points,
                "entries": r.entries,
            }
            for r in rows
        ],
    }


# -- OpenAPI ---------------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}},
        "401": {
            "description": "未登录 / not authenticated",
            "content": {"application/json": {"schema": _ref("Error")}},
        },
    }


def _q(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_STR = {"type": "string"}
_STR_N = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_DT_N = {"type": ["string", "null"], "format": "date-time"}
_DT = {"type": "string", "format": "date-time"}

REPORT_STATUS = {"type": "string", "enum": ["zero", "basic", "major", "missed"]}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "properties": {"error": _STR}, "required": ["error"]},
    "Me": {
        "type": "object",
        "properties": {
            "username": _STR,
            "can_see_pii": {"type": "boolean"},
            "community_ids": {"type": "array", "items": _INT},
            "street": _STR,
        },
    },
    "Grid": {
        "type": "object",
        "properties": {
            "id": _INT,
            "code": _STR,
            "name": _STR,
            "kind": _STR,
            "active": {"type": "boolean"},
            "comp_grid_id": _INT,
            "comp_grid": _STR,
            "community_id": _INT,
            "community": _STR,
        },
    },
    "Today": {
        "type": "object",
        "properties": {
            "day": {"type": "string", "format": "date"},
            "total": _INT,
            "counts": {"type": "object", "additionalProperties": _INT},
            "comp_grids": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": _INT,
                        "name": _STR,
                        "community": _STR,
                        "grids": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": _INT,
                                    "code": _STR,
                                    "name": _STR,
                                    "status": REPORT_STATUS,
                                    "status_name": _STR,
                                    "reporter": _STR,
                                    "first_at": _DT_N,
                                    "summary": _STR,
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "Compliance": {
        "type": "object",
        "properties": {
            "days": {"type": "array", "items": {"type": "string", "format": "date"}},
            "rate": {"type": "number"},
            "comp_grids": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": _INT,
                        "name": _STR,
                        "community": _STR,
                        "reported": _INT,
                        "due": _INT,
                        "rate": {"type": "number"},
                        "grids": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": _INT,
                                    "code": _STR,
                                    "name": _STR,
                                    "reported": _INT,
                                    "rate": {"type": "number"},
                                    "statuses": {"type": "array", "items": REPORT_STATUS},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "Ticket": {
        "type": "object",
        "properties": {
            "id": _INT,
            "number": _STR,
            "grid_id": {"type": ["integer", "null"]},
            "grid": _STR,
            "comp_grid": _STR,
            "category": _STR,
            "category_name": _STR,
            "grade": {"type": "string", "enum": ["A", "B", "C"]},
            "status": {"type": "string", "enum": ["open", "accepted", "resolved", "rated", "suspended"]},
            "status_name": _STR,
            "text": _STR,
            "location": _STR,
            "created_at": _DT,
            "deadline": _DT,
            "resolved_at": _DT_N,
            "in_time": {"type": ["boolean", "null"]},
            "rating": {"type": ["integer", "null"]},
            "overdue": {"type": "boolean"},
            "seconds_left": {
                "type": ["integer", "null"],
                "description": "距时限秒数，超时为负；已办结或挂起为 null / seconds to the deadline",
            },
            "has_photo": {"type": "boolean"},
        },
    },
    "TicketDetail": {
        "allOf": [
            _ref("Ticket"),
            {
                "type": "object",
                "properties": {
                    "reporter": _STR,
                    "reporter_phone": {"type": "string", "description": "无权限时打码 / masked"},
                    "accepted_by": _STR,
                    "resolved_by": _STR,
                    "resolution": _STR,
                    "original_text": {"type": ["string", "null"], "description": "仅限可查看个人信息的账号"},
                    "photo_url": _STR_N,
                    "events": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "at": _DT,
                                "actor": _STR,
                                "action": _STR,
                                "action_name": _STR,
                                "note": _STR,
                            },
                        },
                    },
                },
            },
        ]
    },
    "Incident": {
        "type": "object",
        "properties": {
            "id": _INT,
            "number": _STR,
            "grid": _STR,
            "comp_grid": _STR,
            "community": _STR,
            "category": _STR,
            "category_name": _STR,
            "location": _STR,
            "text": _STR,
            "status": {"type": "string", "enum": ["open", "acked"]},
            "level": _INT,
            "level_name": _STR,
            "created_at": _DT,
            "acked_by": _STR_N,
            "acked_at": _DT_N,
            "minutes_to_ack": {"type": ["number", "null"]},
            "alerts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "at": _DT,
                        "level": _INT,
                        "level_name": _STR,
                        "person": _STR,
                        "action": {"type": "string", "enum": ["alert", "escalation", "ack"]},
                        "action_name": _STR,
                    },
                },
            },
        },
    },
    "Points": {
        "type": "object",
        "properties": {
            "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
            "ranking": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "rank": _INT,
                        "person_id": _INT,
                        "name": _STR,
                        "grids": _STR,
                        "points": _INT,
                        "entries": _INT,
                    },
                },
            },
        },
    },
}


def openapi_document() -> dict[str, Any]:
    date_q = {"type": "string", "format": "date"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GridBot 督办平台 API",
            "version": "1.0.0",
            "description": "微网格治理督办数据（只读）。认证：登录后的会话 Cookie，或 `Authorization: Bearer <会话令牌>`。"
            "每个账号只能看到自己社区或街道的数据；个人信息按账号权限打码。",
        },
        "servers": [{"url": "/"}],
        "security": [{"cookieAuth": []}, {"bearerAuth": []}],
        "components": {
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "gridbot_admin"},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            },
            "schemas": SCHEMAS,
        },
        "paths": {
            "/admin/api/me": {
                "get": {"summary": "当前账号 / the signed-in account", "responses": _ok(_ref("Me"))}
            },
            "/admin/api/grids": {
                "get": {
                    "summary": "辖区内的微网格 / micro-grids in scope",
                    "responses": _ok(
                        {"type": "object", "properties": {"grids": {"type": "array", "items": _ref("Grid")}}}
                    ),
                }
            },
            "/admin/api/today": {
                "get": {
                    "summary": "各微网格某日报告状态 / each micro-grid's report status for a day",
                    "parameters": [_q("day", "本地日期，默认今天 / local date, default today", date_q)],
                    "responses": _ok(_ref("Today")),
                }
            },
            "/admin/api/compliance": {
                "get": {
                    "summary": "近 N 天报告合规 / reporting over the last N days",
                    "parameters": [
                        _q("end", "截止日期（含），默认昨天 / last day, default yesterday", date_q),
                        _q(
                            "days",
                            "天数 1–92，默认 30 / number of days",
                            {"type": "integer", "minimum": 1, "maximum": 92},
                        ),
                    ],
                    "responses": _ok(_ref("Compliance")),
                }
            },
            "/admin/api/tickets": {
                "get": {
                    "summary": "诉求列表 / tickets, newest first (max 500)",
                    "parameters": [
                        _q(
                            "status",
                            "状态 / status",
                            {
                                "type": "string",
                                "enum": ["open", "accepted", "resolved", "rated", "suspended"],
                            },
                        ),
                        _q("grade", "等级 / grade", {"type": "string", "enum": ["A", "B", "C"]}),
                        _q("category", "类别代码 / category code", _STR),
                        _q("grid", "微网格 id / micro-grid id", _INT),
                        _q(
                            "overdue",
                            "1 仅超时，0 仅未超时 / overdue only (1) or not (0)",
                            {"type": "string", "enum": ["0", "1"]},
                        ),
                    ],
                    "responses": _ok(
                        {
                            "type": "object",
                            "properties": {"tickets": {"type": "array", "items": _ref("Ticket")}},
                        }
                    ),
                }
            },
            "/admin/api/tickets/{ticket_id}": {
                "get": {
                    "summary": "诉求详情与办理记录 / a ticket with its history",
                    "parameters": [{"name": "ticket_id", "in": "path", "required": True, "schema": _INT}],
                    "responses": {
                        **_ok(_ref("TicketDetail")),
                        "404": {
                            "description": "不存在或不在辖区内 / not found or out of scope",
                            "content": {"application/json": {"schema": _ref("Error")}},
                        },
                    },
                }
            },
            "/admin/api/incidents": {
                "get": {
                    "summary": "重大情况及提醒链 / major incidents with their alert chains (max 500)",
                    "parameters": [
                        _q(
                            "days",
                            "最近天数，默认全部 / only the last N days",
                            {"type": "integer", "minimum": 1},
                        )
                    ],
                    "responses": _ok(
                        {
                            "type": "object",
                            "properties": {"incidents": {"type": "array", "items": _ref("Incident")}},
                        }
                    ),
                }
            },
            "/admin/api/points": {
                "get": {
                    "summary": "月度积分排名 / points ranking of a month",
                    "parameters": [
                        _q(
                            "month",
                            "YYYY-MM，默认本月 / default this month",
                            {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                        )
                    ],
                    "responses": _ok(_ref("Points")),
                }
            },
            "/admin/api/openapi.json": {
                "get": {
                    "summary": "本文档 / this document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
    }
