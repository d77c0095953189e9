"""The one interface every connector implements (web simulator, Wechaty puppet service, ...)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from handlers.events import InboundEvent, Outbound

# The application hands each connector a sink; the connector awaits it for every inbound event.
# The sink returns once the event is durably stored, so a connector may ack/advance after it.
EventSink = Callable[[InboundEvent], Awaitable[None]]


class SendError(Exception):
    """Sending failed. `retryable` False means retrying cannot help (e.g. unknown room)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Connector(Protocol):
    name: str  # "web", "wechaty", ...
    account: str  # the bot account this connector speaks for (outbox rows are per account)

    async def start(self, sink: EventSink) -> None:
        """Connect and begin delivering events to `sink`; returns once connected (runs in background)."""

    async def stop(self) -> None:
        """Disconnect and release resources; idempotent."""

    async def send(self, message: Outbound) -> str:
        """Deliver one message; returns the platform's message id. Raises SendError on failure."""
