"""Talentsoft webhook callbacks: which events are accepted, how a body becomes journal entries.

The vendor documents the subscription (``POST /api/system/v1/webhooks`` with ``event``,
``callbackUrl`` and ``pingUrl``; ``DELETE /api/system/v1/webhooks/{hookId}``) and the
event names useful for indexing (``vacancy_new``, ``vacancy_update``,
``application_event_new``, and the applicant events), not the callback body. So a body
is read liberally: one JSON object, or a JSON array of them (a batch), each naming its
event in ``event`` / ``eventType`` / ``eventName`` / ``type``, or, when it does not, the
event named by the callback URL's last segment (``/talentsoft/{secret}/vacancy_new``).
Every event object is journalled whole; nothing of it is dropped.

An event's key is its id when the body gives one (``eventId`` / ``id`` / ``event_id`` /
``notificationId``), else the sha256 of the event name and the canonical JSON of the
object: a delivery retried by the vendor is the same key, so a target keyed on it stores
it once.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t
from dataclasses import dataclass

#: The events of the vendor's documentation, and the applicant events (``applicant_*``).
DOCUMENTED_EVENTS = frozenset({"vacancy_new", "vacancy_update", "application_event_new"})
APPLICANT_EVENT = re.compile(r"applicant_[a-z][a-z0-9_]{0,60}")
#: Most events in one callback body.
MAX_BATCH = 1000
EVENT_FIELDS = ("event", "eventType", "eventName", "type")
ID_FIELDS = ("eventId", "id", "event_id", "notificationId")
#: Where an event names the vacancy or applicant it is about (first found wins): at the top
#: level, or inside ``data`` / ``payload`` / ``resource``.
VACANCY_ID_FIELDS = ("vacancyReference", "offerReference", "reference", "vacancyId", "offerId")
APPLICANT_ID_FIELDS = ("applicantId", "candidateId", "username", "applicantUsername", "userName")
NESTS = ("data", "payload", "resource", "object")


class BadEventError(ValueError):
    """A callback body that is not an acceptable event (answered 400, nothing stored)."""


@dataclass(frozen=True)
class ParsedEvent:
    """One event of a callback body, ready to journal."""

    event: str
    event_key: str
    body: dict[str, t.Any]


def is_known_event(name: str) -> bool:
    """Whether ``name`` is an event the receiver accepts."""
    return name in DOCUMENTED_EVENTS or APPLICANT_EVENT.fullmatch(name) is not None


def object_type(event: str) -> str | None:
    """``vacancy``, ``application`` or ``applicant``: what an event is about."""
    head = event.split("_", 1)[0]
    return head if head in {"vacancy", "application", "applicant"} else None


def _scalar(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        text = str(value).strip()
        return text or None
    return None


def _first(body: t.Mapping[str, t.Any], names: t.Sequence[str]) -> str | None:
    places: list[t.Mapping[str, t.Any]] = [body]
    places += [body[nest] for nest in NESTS if isinstance(body.get(nest), dict)]
    for place in places:
        for name in names:
            found = _scalar(place.get(name))
            if found is not None:
                return found
    return None


def object_id(event: str, body: t.Mapping[str, t.Any]) -> str | None:
    """The vacancy reference or applicant id an event names, when the body carries one."""
    kind = object_type(event)
    if kind == "vacancy":
        return _first(body, VACANCY_ID_FIELDS) or _first({k: v for k, v in body.items() if k in NESTS}, ("id",))
    if kind in {"applicant", "application"}:
        return _first(body, APPLICANT_ID_FIELDS) or _first({k: v for k, v in body.items() if k in NESTS}, ("id",))
    return None


def event_key(event: str, body: t.Mapping[str, t.Any]) -> str:
    """The event's id when it has one, else a hash of its name and canonical body."""
    given = next((_scalar(body.get(name)) for name in ID_FIELDS if _scalar(body.get(name))), None)
    if given is not None:
        return given
    canonical = json.dumps([event, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def parse_events(body: bytes, hint: str | None = None) -> list[ParsedEvent]:
    """The events of a callback body; :class:`BadEventError` when the body is not acceptable.

    ``hint`` is the event named by the callback URL, for bodies that do not name theirs.
    """
    if hint is not None and not is_known_event(hint):
        msg = "the callback URL names an unknown event"
        raise BadEventError(msg)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        msg = "the body is not JSON"
        raise BadEventError(msg) from None
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        msg = "the body holds no event"
        raise BadEventError(msg)
    if len(items) > MAX_BATCH:
        msg = f"the body holds more than {MAX_BATCH} events"
        raise BadEventError(msg)
    events = []
    for item in items:
        if not isinstance(item, dict):
            msg = "an event is not a JSON object"
            raise BadEventError(msg)
        named = next((item[name] for name in EVENT_FIELDS if isinstance(item.get(name), str)), None) or hint
        if named is None:
            msg = "an event does not name its event type"
            raise BadEventError(msg)
        if not is_known_event(named):
            msg = "an event's type is not one the receiver accepts"
            raise BadEventError(msg)
        events.append(ParsedEvent(event=named, event_key=event_key(named, item), body=item))
    return events


def named_ids(events: t.Iterable[tuple[str, t.Mapping[str, t.Any]]]) -> dict[str, set[str]]:
    """The vacancy references and candidate ids that ``(event, body)`` pairs name, per export.

    What the next run's ``vacancies`` / ``candidates`` re-export (one event, one targeted refresh).
    """
    named: dict[str, set[str]] = {"vacancies": set(), "candidates": set()}
    for event, body in events:
        found = object_id(event, body)
        if found is None:
            continue
        named["vacancies" if object_type(event) == "vacancy" else "candidates"].add(found)
    return named
