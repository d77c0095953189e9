"""Chinese display names for the parser's category codes and ticket states (used in replies)."""

from __future__ import annotations

CATEGORY_NAMES = {
    "safety": "安全隐患",
    "dispute": "矛盾纠纷",
    "sanitation": "环境卫生",
    "facility": "设施维修",
    "security": "治安",
    "livelihood": "民生服务",
    "care": "重点人群关爱",
    "other": "其他",
    "fire": "火情",
    "gas": "燃气",
    "casualty": "人员伤亡/急病",
    "violence": "暴力事件",
    "missing": "人员走失",
    "self_harm": "自伤风险",
    "mass_incident": "群体性事件",
    "disaster": "灾害/险情",
}

STATUS_NAMES = {
    "open": "待接单",
    "accepted": "办理中",
    "resolved": "已办结",
    "rated": "已评价",
    "suspended": "挂起",
}

LEVEL_NAMES = {1: "综合网格长", 2: "社区", 3: "街道"}


def category_name(code: str | None) -> str:
    return CATEGORY_NAMES.get(code or "other", code or "其他")
