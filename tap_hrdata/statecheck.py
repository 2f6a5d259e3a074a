"""The state a run starts from, checked before anything trusts it.

A state comes from outside: a target, an orchestrator, a person editing it by hand. A
corrupt or foreign one must stop the run with a message naming where in the state the
bad value is (``bookmarks.delivered_files.replication_key_value``), never a bare
``TypeError`` deep in a stream; and a bookmark in the future must never be trusted: it
would make incremental streams skip everything, Coresignal pay for empty requests, and
YouServe delete files no target has committed. State values are not secret: a message
shows them (shortened).
"""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

from tap_hrdata.values import utc_timestamp

#: How far ahead of this machine's clock a bookmark may be (vendor clocks drift a little).
CLOCK_SKEW = timedelta(minutes=10)


class StateError(ValueError):
    """The state handed to the run cannot be used; the message names the path of the bad value."""


def shown(value: object) -> str:
    """A state value for a message: its repr, shortened."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_shape(state: object) -> dict[str, t.Any]:
    """``state`` as the SDK expects it: an object whose ``bookmarks`` maps streams to objects."""
    if not isinstance(state, dict):
        msg = f"state: must be a JSON object, found {type(state).__name__} {shown(state)}"
        raise StateError(msg)
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        msg = f"state: bookmarks must be an object of streams, found {shown(bookmarks)}"
        raise StateError(msg)
    for stream, stream_state in bookmarks.items():
        if not isinstance(stream_state, dict):
            msg = f"state: bookmarks.{stream} must be an object, found {shown(stream_state)}"
            raise StateError(msg)
        partitions = stream_state.get("partitions", [])
        if not isinstance(partitions, list) or not all(
            isinstance(p, dict) and isinstance(p.get("context", {}), dict) for p in partitions
        ):
            msg = (
                f"state: bookmarks.{stream}.partitions must be a list of objects with a context, "
                f"found {shown(partitions)}"
            )
            raise StateError(msg)
    return state


def bookmark_time(
    stream: str, value: object, path: str = "replication_key_value", *, now: datetime | None = None
) -> datetime | None:
    """A timestamp bookmark, UTC; None when there is none.

    Raises :class:`StateError` for a value that is not a timestamp, or one later than now
    (plus :data:`CLOCK_SKEW`).
    """
    if value is None:
        return None
    moment = utc_timestamp(value)
    if moment is None:
        msg = f"state: bookmarks.{stream}.{path} must be a timestamp, found {shown(value)}"
        raise StateError(msg)
    now = now or datetime.now(timezone.utc)
    if moment > now + CLOCK_SKEW:
        msg = (
            f"state: bookmarks.{stream}.{path} is in the future ({moment.isoformat()}, now {now:%Y-%m-%dT%H:%M:%SZ}): "
            "a state from another clock or edited by hand; correct or remove it"
        )
        raise StateError(msg)
    return moment


def bookmark_offset(stream: str, value: object, path: str = "replication_key_value") -> int | None:
    """An offset bookmark (the position of the last record emitted, -1 or more); None when there is none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        msg = f"state: bookmarks.{stream}.{path} must be a record offset (an integer, -1 or more), found {shown(value)}"
        raise StateError(msg)
    return value
