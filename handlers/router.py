"""aiogram-style routing: handlers declare what they match; the dispatcher stays small.

    router = Router()

    @router.message(kind="zero_report")
    async def on_zero(ctx: MessageContext) -> None: ...

    @router.message(kind="command", command="accept")
    async def on_accept(ctx: MessageContext) -> None: ...

The first route whose filters all match handles the message. Permission checks are not filters:
a resident who tries `#办结` must be *answered* (politely refused), not silently skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.context import MessageContext

Handler = Callable[[MessageContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    kind: str | None = None
    command: str | None = None
    any_command: bool = False  # matches every command (the fallback for unknown ones)
    chat: str | None = None

    def matches(self, ctx: MessageContext) -> bool:
        parsed = ctx.parsed
        if self.kind is not None and parsed.kind != self.kind:
            return False
        if self.command is not None and parsed.command != self.command:
            return False
        if self.any_command and parsed.kind != "command":
            return False
        return self.chat is None or str(ctx.event.chat) == self.chat


class Router:
    def __init__(self, name: str = "") -> None:
        self.name = name
        self.routes: list[Route] = []

    def message(
        self,
        *,
        kind: str | None = None,
        command: str | None = None,
        any_command: bool = False,
        chat: str | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(handler, kind, command, any_command, chat))
            return handler

        return register

    def include(self, other: Router) -> None:
        self.routes.extend(other.routes)

    async def dispatch(self, ctx: MessageContext) -> Handler | None:
        for route in self.routes:
            if route.matches(ctx):
                await route.handler(ctx)
                return route.handler
        return None
