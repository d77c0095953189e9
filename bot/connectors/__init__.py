"""Connectors: platform traffic in as typed events (handlers.events), outbound messages out."""

from bot.connectors.base import Connector, EventSink, SendError

__all__ = ["Connector", "EventSink", "SendError"]
