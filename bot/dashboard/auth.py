"""Accounts, passwords, sessions and CSRF for the supervisors' dashboard.

* Passwords: scrypt (hashlib) with a per-user random salt; the parameters travel in the hash string
  ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>`` so they can be raised later without breaking old hashes.
* Sessions: ``<user id>.<expiry unix>.<password fingerprint>.<hmac>`` in an HttpOnly, SameSite=Lax
  cookie. The fingerprint ties a session to the password it was opened with: changing the password
  ends every session. Nothing is stored server-side.
* CSRF: forms of a logged-in user carry HMAC(secret, "csrf:" + session token); the login form uses a
  double-submit token (a random cookie that the form must repeat).
* Lockout: 5 failed logins in a row lock the account for 15 minutes (DashboardUser.failed_logins /
  locked_until), counted in the database so that every worker sees the same count.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from storage.models import Community, DashboardUser

SESSION_COOKIE = "gridbot_admin"
LOGIN_CSRF_COOKIE = "gridbot_login_csrf"
SESSION_TTL = timedelta(hours=8)
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(key)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so both cases take the same time."""
    return hash_password(secrets.token_hex(8))


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).digest())


def make_session_token(secret: bytes, user: DashboardUser, now: datetime) -> str:
    expiry = int((now + SESSION_TTL).timestamp())
    payload = f"{user.id}.{expiry}.{_fingerprint(user.password_hash)}"
    return f"{payload}.{_sign(secret, payload)}"


def read_session_token(secret: bytes, token: str, now: datetime) -> tuple[int, str] | None:
    """(user id, password fingerprint) of a valid, unexpired token; None otherwise."""
    parts = token.split(".")
    if len(parts) != 4:
        return None
    user_id, expiry, fingerprint, signature = parts
    if not hmac.compare_digest(_sign(secret, f"{user_id}.{expiry}.{fingerprint}"), signature):
        return None
    try:
        if int(expiry) < now.timestamp():
            return None
        return int(user_id), fingerprint
    except ValueError:
        return None


def session_user(session: Session, secret: bytes, token: str, now: datetime) -> DashboardUser | None:
    parsed = read_session_token(secret, token, now)
    if parsed is None:
        return None
    user = session.get(DashboardUser, parsed[0])
    if user is None or not hmac.compare_digest(_fingerprint(user.password_hash), parsed[1]):
        return None
    return user


def csrf_token(secret: bytes, session_token: str) -> str:
    return _sign(secret, "csrf:" + session_token)


def check_csrf(secret: bytes, session_token: str, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(secret, session_token), submitted)


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: DashboardUser | None
    error: str = ""


def attempt_login(session: Session, username: str, password: str, now: datetime) -> LoginResult:
    """Check a password and keep the lockout counters; commits. The error is a Chinese message that
    does not reveal whether the username exists (except for the lock, which only a real account has)."""
    user = session.exec(select(DashboardUser).where(col(DashboardUser.username) == username)).first()
    if user is None:
        verify_password(password, _dummy_hash())
        return LoginResult(None, "用户名或密码错误")
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return LoginResult(None, f"登录失败次数过多，账号已锁定，请 {minutes} 分钟后再试")
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.failed_logins = 0
            user.locked_until = now + LOCKOUT
            session.add(user)
            session.commit()
            return LoginResult(None, "登录失败次数过多，账号已锁定 15 分钟")
        session.add(user)
        session.commit()
        return LoginResult(None, "用户名或密码错误")
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    session.commit()
    return LoginResult(user)


def scope_community_ids(session: Session, user: DashboardUser) -> frozenset[int]:
    """The communities an account may see: its own community, or every community of its street."""
    if user.community_id is not None:
        return frozenset({user.community_id})
    if user.street:
        ids = session.exec(select(col(Community.id)).where(col(Community.street) == user.street)).all()
        return frozenset(i for i in ids if i is not None)
    return frozenset()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)
