"""How a reader of a live bounded queue waits for its first item. Every such queue (broker
subscriptions, log-session feeds, drain buffers) sets an event when an item comes or it closes."""

from __future__ import annotations

import asyncio


async def wait_for_items(event: asyncio.Event, wait: float | None) -> bool:
    """Wait until `event` is set, at most `wait` seconds (None: no limit). False when the time ran out."""
    if wait is not None and wait <= 0:
        return False  # (wait_for with no time would still make a task and cancel it)
    event.clear()
    try:
        if wait is None:
            await event.wait()
        else:
            await asyncio.wait_for(event.wait(), wait)
    except TimeoutError:
        return False
    return True
