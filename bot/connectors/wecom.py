"""WeCom (企业微信) group robot: a send-only channel for supervisors (digests, major alerts).

`POST {base}/cgi-bin/webhook/send?key=KEY` with `{"msgtype": "markdown", "markdown": {"content"}}`.
Markdown is limited to 4096 bytes and a robot to 20 messages a minute; the outbox sender paces
(account "wecom", Pacing(per_minute=20)), this class only formats, trims and reports errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import aiohttp

from bot.connectors.base import EventSink, SendError
from handlers.events import Outbound

ACCOUNT = "wecom"
DEFAULT_BASE = "https://qyapi.weixin.qq.com"
MAX_BYTES = 4096
RATE_LIMITED = 45009  # "api freq out of limit"
TITLES = {
    "major_alert": "🚨 重大情况",
    "major_escalation": "🚨 重大情况升级",
    "digest": "📋 网格日报",
    "weekly_bulletin": "📊 网格周报",
    "monthly_bulletin": "📊 网格月报",
}


def trim_utf8(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` UTF-8 bytes without splitting a character."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - len("…".encode())].decode("utf-8", "ignore") + "…"


def markdown_for(message: Outbound) -> str:
    title = TITLES.get(message.kind, "GridBot")
    body = message.text.replace("\n", "\n> ")
    return trim_utf8(f"**{title}**\n> {body}", MAX_BYTES)


class WeComRobot:
    name = "wecom"
    account = ACCOUNT

    def __init__(self, key: str, base_url: str = DEFAULT_BASE, timeout: float = 10.0) -> None:
        if not key:
            raise ValueError("企业微信机器人 webhook key 为空 / empty WeCom webhook key")
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WeComRobot | None:
        key = env.get("GRIDBOT_WECOM_WEBHOOK_KEY", "")
        return cls(key, env.get("GRIDBOT_WECOM_BASE_URL", DEFAULT_BASE)) if key else None

    async def start(self, sink: EventSink) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, message: Outbound) -> str:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        payload = {"msgtype": "markdown", "markdown": {"content": markdown_for(message)}}
        url = f"{self.base_url}/cgi-bin/webhook/send"
        try:
            async with self._session.post(url, params={"key": self.key}, json=payload) as resp:
                if resp.status >= 500:
                    raise SendError(f"WeCom HTTP {resp.status}")
                if resp.status >= 400:
                    raise SendError(f"WeCom HTTP {resp.status}", retryable=False)
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"WeCom unreachable: {type(exc).__name__}") from exc
        code = int(data.get("errcode", -1))
        if code != 0:
            raise SendError(f"WeCom errcode {code}: {data.get('errmsg', '')}", retryable=code == RATE_LIMITED)
        return message.dedupe_key
