"""What kind of picture a byte string is: by its magic bytes, not by the name a sender gave it."""

from __future__ import annotations


def sniff_image(data: bytes) -> str | None:
    """ "png", "jpg", "gif" or "webp" for those formats, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None
