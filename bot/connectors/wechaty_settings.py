"""Settings for the Wechaty Puppet Service connector: environment, endpoint discovery, TLS.

Kept apart from the connector so configuration errors surface at boot, before any socket is opened.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ENV_PREFIX = "GRIDBOT_WECHATY_"
DEFAULT_AUTHORITY = "api.chatie.io"
DEFAULT_HEARTBEAT_TIMEOUT = 90.0
DEFAULT_LOGIN_TIMEOUT = 120.0
DEFAULT_RPC_TIMEOUT = 30.0
DEFAULT_RECONNECT_CAP = 60.0
DEFAULT_SEND_INTERVAL = 1.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class WechatyError(Exception):
    """Base class for Wechaty connector failures."""


class WechatyConfigError(WechatyError):
    """The settings are incomplete or inconsistent; fix the environment and restart."""


class WechatyAuthError(WechatyError):
    """The puppet service rejected the token (gRPC UNAUTHENTICATED)."""

    def __init__(self, token: str, detail: str = "") -> None:
        masked = mask_token(token)
        msg = (
            f"Wechaty 令牌被服务端拒绝（UNAUTHENTICATED），请检查 GRIDBOT_WECHATY_TOKEN：{masked}。"
            f" / The Wechaty puppet service rejected the token {masked} (UNAUTHENTICATED);"
            " check GRIDBOT_WECHATY_TOKEN."
        )
        if detail:
            msg += f" [{detail}]"
        super().__init__(msg)
        self.masked_token = masked


def mask_token(token: str) -> str:
    """Show enough of a token to tell two apart in logs, never enough to use it."""
    if not token:
        return "<empty>"
    prefix, sep, rest = token.rpartition("_")
    tail = rest if sep else token
    visible = tail[:4] + "…" + tail[-2:] if len(tail) > 8 else "…"
    return f"{prefix}{sep}{visible}" if sep else visible


def sni_from_token(token: str) -> str | None:
    """Wechaty tokens look like `<sni>_<uuid>`: the SNI is the prefix before the last `_`."""
    prefix, sep, _ = token.rpartition("_")
    return prefix.lower() if sep and prefix else None


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise WechatyConfigError(f"{name}={raw!r}: expected on/off (1/0, true/false)")


def _parse_seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError as exc:
        raise WechatyConfigError(f"{name}={raw!r}: expected a number of seconds") from exc
    if value <= 0:
        raise WechatyConfigError(f"{name}={raw!r}: must be positive")
    return value


def parse_endpoint(raw: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:port`) → (host, port)."""
    host, sep, port = raw.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise WechatyConfigError(f"endpoint {raw!r}: expected host:port")
    return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class WechatySettings:
    token: str
    endpoint: str | None = None  # host:port; None = discover from the token
    authority: str = DEFAULT_AUTHORITY
    tls: bool = True
    ca_path: Path | None = None
    server_name_override: str | None = None
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT
    account: str = "default"
    login_timeout: float = (
        DEFAULT_LOGIN_TIMEOUT  # start() gives up if neither LOGIN nor READY arrives by then
    )
    rpc_timeout: float = (
        DEFAULT_RPC_TIMEOUT  # each unary call; a half-open connection must not hang a send forever
    )
    reconnect_base: float = 1.0
    reconnect_cap: float = DEFAULT_RECONNECT_CAP
    replay_grace: float = 120.0  # tolerated clock skew between the provider and us
    dedupe_size: int = 10_000
    image_max_bytes: int = 20 * 1024 * 1024
    send_interval: float = (
        DEFAULT_SEND_INTERVAL  # minimum spacing between two sends (account bans for flooding)
    )
    send_jitter: float = 0.5
    discovery_scheme: str = "https"  # tests point discovery at a plain-HTTP loopback server

    @property
    def server_name(self) -> str | None:
        return self.server_name_override or sni_from_token(self.token)

    @property
    def masked_token(self) -> str:
        return mask_token(self.token)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WechatySettings:
        def get(key: str) -> str | None:
            value = env.get(ENV_PREFIX + key, "").strip()
            return value or None

        token = get("TOKEN")
        if token is None:
            raise WechatyConfigError(
                "GRIDBOT_WECHATY_TOKEN 未设置 / GRIDBOT_WECHATY_TOKEN is required"
                " (the puppet service authenticates every call with it)"
            )
        endpoint = get("ENDPOINT")
        if endpoint is not None:
            parse_endpoint(endpoint)  # fail at boot, not at first connect
        seconds = _seconds_reader(get)
        tls_raw = get("TLS")
        ca_raw = get("CA")
        settings = cls(
            token=token,
            endpoint=endpoint,
            authority=get("AUTHORITY") or DEFAULT_AUTHORITY,
            tls=True if tls_raw is None else _parse_bool(ENV_PREFIX + "TLS", tls_raw),
            ca_path=Path(ca_raw) if ca_raw else None,
            server_name_override=get("SERVER_NAME"),
            account=get("ACCOUNT") or "default",
            heartbeat_timeout=seconds("HEARTBEAT_TIMEOUT", DEFAULT_HEARTBEAT_TIMEOUT),
            login_timeout=seconds("LOGIN_TIMEOUT", DEFAULT_LOGIN_TIMEOUT),
            rpc_timeout=seconds("RPC_TIMEOUT", DEFAULT_RPC_TIMEOUT),
            reconnect_cap=seconds("RECONNECT_MAX", DEFAULT_RECONNECT_CAP),
            send_interval=seconds("SEND_INTERVAL", DEFAULT_SEND_INTERVAL),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.tls and self.ca_path is None:
            # Wechaty's own root CA is not bundled (it cannot be fetched offline and is not ours to ship).
            raise WechatyConfigError(
                "TLS 已开启但未配置 CA：请将 GRIDBOT_WECHATY_CA 指向 Wechaty 根证书（PEM），"
                "或设置 GRIDBOT_WECHATY_TLS=off 使用明文 h2c。 / TLS is on but no CA is configured:"
                " point GRIDBOT_WECHATY_CA at the Wechaty root CA (PEM) or set GRIDBOT_WECHATY_TLS=off."
            )
        if self.tls and self.ca_path is not None and not self.ca_path.is_file():
            raise WechatyConfigError(f"GRIDBOT_WECHATY_CA={self.ca_path}: file not found")
        if self.tls and not self.server_name:
            raise WechatyConfigError(
                f"token {self.masked_token} has no `<sni>_` prefix: set GRIDBOT_WECHATY_SERVER_NAME"
            )

    def ssl_context(self) -> ssl.SSLContext | None:
        """Client TLS context trusting only the configured CA; None for plain h2c."""
        if not self.tls:
            return None
        assert self.ca_path is not None  # validate() guarantees it
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_path))
        # Python 3.13 turns on strict X.509 checks that Wechaty's root CA does not pass.
        ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
        ctx.set_alpn_protocols(["h2"])
        return ctx


def _seconds_reader(get: Callable[[str], str | None]) -> Callable[[str, float], float]:
    """Optional timing overrides: an absent key keeps the default."""

    def read(key: str, default: float) -> float:
        raw = get(key)
        return default if raw is None else _parse_seconds(ENV_PREFIX + key, raw)

    return read


async def discover_endpoint(settings: WechatySettings, *, timeout: float = 15.0) -> tuple[str, int]:
    """Resolve the puppet service address: the direct endpoint, else Wechaty's token discovery."""
    if settings.endpoint:
        return parse_endpoint(settings.endpoint)
    url = f"{settings.discovery_scheme}://{settings.authority}/v0/hosties/{settings.token}"
    shown = url.replace(settings.token, settings.masked_token)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url) as resp,
        ):
            if resp.status == 404:
                raise WechatyConfigError(
                    f"令牌 {settings.masked_token} 未找到服务（404）/ token unknown to discovery at {shown}"
                )
            if resp.status != 200:
                raise WechatyError(f"discovery {shown} answered HTTP {resp.status}")
            body = json.loads(await resp.text())
    except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
        raise WechatyError(f"discovery {shown} failed: {exc!r}") from exc
    return _endpoint_from_discovery(body, settings.masked_token)


def _endpoint_from_discovery(body: object, masked: str) -> tuple[str, int]:
    if not isinstance(body, dict):
        raise WechatyError(f"discovery for {masked}: unexpected reply {body!r}")
    host = str(body.get("ip") or body.get("host") or "")
    port = body.get("port")
    if not host or host == "0.0.0.0" or not isinstance(port, int) or port <= 0:
        raise WechatyConfigError(
            f"令牌 {masked} 当前没有在线的服务端 / no puppet service is online for token {masked}"
            f" (discovery answered {body!r})"
        )
    return host, port
