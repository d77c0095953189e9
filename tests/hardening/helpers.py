"""Shared checks for the hardening tests."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from storage.models import OutboxMessage

# A mainland mobile number that escaped masking (full-width digits folded first). Glued to a
# letter it is not one (the masker's rule too): "R13812345678" is a ticket reference.
_FOLD = str.maketrans("０１２３４５６７８９", "0123456789")
UNMASKED_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
CJK = re.compile(r"[\u4e00-\u9fff]")


def unmasked(text: str) -> list[str]:
    return UNMASKED_MOBILE.findall(text.translate(_FOLD))


def outbox_leaks(session: Session) -> list[tuple[str, str]]:
    """(kind, text) of every outbox row that still shows an 11-digit mobile number."""
    rows = session.exec(select(OutboxMessage)).all()
    return [(r.kind, r.text) for r in rows if unmasked(r.text)]
