"""Keyspace notifications as a test sees them: switched on, subscribed on a
connection of its own, and switched off again however the test ends."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

Received = Callable[..., list[tuple[bytes, bytes]]]


@contextlib.contextmanager
def keyspace_events(client: Any, pattern: str) -> Iterator[Received]:
    """With notify-keyspace-events KEA, PSUBSCRIBEs to `pattern` and yields
    `received(timeout=0.5)`: the (channel, message) pairs that arrive until
    none comes within `timeout` seconds."""
    client.config_set("notify-keyspace-events", "KEA")
    subscriber = client.pubsub()
    try:
        subscriber.psubscribe(pattern)
        assert subscriber.get_message(timeout=1)["type"] == "psubscribe"

        def received(timeout: float = 0.5) -> list[tuple[bytes, bytes]]:
            events = []
            while (message := subscriber.get_message(timeout=timeout)) is not None:
                events.append((message["channel"], message["data"]))
            return events

        yield received
    finally:
        subscriber.close()
        client.config_set("notify-keyspace-events", "")
