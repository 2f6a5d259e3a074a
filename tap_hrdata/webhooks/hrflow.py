"""HrFlow.ai webhook callbacks: the signature, and how a signed event becomes journal entries.

HrFlow signs each delivery in the ``HTTP-HRFLOW-SIGNATURE`` header, as its Python SDK
reads it (``hrflow/webhook/__init__.py`` of Riminder/python-hrflow-api,
``Webhook._decode_request``): the header value is ``base64url(signature) + "." +
base64url(payload)``, where ``payload`` is the JSON text of the event and ``signature``
the hex digest of HMAC-SHA256 of the payload keyed with the workspace's webhook secret.
The SDK reads the event from that header only, never from the body; so does the
receiver: what is journalled is the payload the signature covers, never the body's
bytes. (WSGI names the header ``HTTP_HTTP_HRFLOW_SIGNATURE``; ``HRFLOW-SIGNATURE`` is
taken too.)

The payload is one JSON object naming its event in ``type`` (``profile.parsing.success``,
``job.storing.update``, ``action.stage.success`` ...; the SDK lists the older names, the
vendor's documentation the current ones, and new ones appear: any dotted name is
accepted), or a JSON array of them. Each event object is journalled whole; its key is its
id when it has one, else a hash of its type and canonical JSON, so a delivery HrFlow
repeats is the same key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import typing as t

from tap_hrdata.webhooks.talentsoft import BadEventError, ParsedEvent, event_key

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_hrdata.webhooks.receiver import Delivery

#: The header as the SDK names it (``SIGNATURE_HEADER``), and the WSGI environ keys it may arrive under.
SIGNATURE_HEADER = "HTTP-HRFLOW-SIGNATURE"
SIGNATURE_ENVIRON = ("HTTP_HTTP_HRFLOW_SIGNATURE", "HTTP_HRFLOW_SIGNATURE")
#: What an event type may look like: dotted lower-case words (``profile.parsing.success``).
EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]{0,40}(?:\.[a-z0-9_]{1,40}){1,4}")
#: Most events in one payload.
MAX_BATCH = 1000
#: The objects an event may name, each with the key of its container (a profile's source, a job's board).
OBJECTS = {"profile": "source", "job": "board"}
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


def signature_header(headers: Mapping[str, str]) -> str | None:
    """The signature header of a request's WSGI headers, or None."""
    return next((headers[name] for name in SIGNATURE_ENVIRON if name in headers), None)


def _base64url(value: str) -> bytes | None:
    """Bytes of base64 text, URL-safe or standard alphabet, padding optional; None when it is not base64."""
    value = value.strip()
    if not _BASE64.fullmatch(value):
        return None
    value = value.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def verified_payload(header: str | None, secret: str) -> bytes | None:
    """The payload a signature header carries when its signature is right, else None.

    As the SDK checks it: the two base64 parts, the signature being the hex HMAC-SHA256 of
    the payload keyed with ``secret``; compared in constant time.
    """
    if not header:
        return None
    parts = header.split(".")
    if len(parts) != 2:  # signature.payload
        return None
    signature, payload = (_base64url(part) for part in parts)
    if signature is None or payload is None:
        return None
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest().encode()
    return payload if hmac.compare_digest(expected, signature) else None


def signature_matches(delivery: Delivery, secret: str) -> bool:
    """The receiver's verifier of HrFlow deliveries: a right signature header; the path holds no secret."""
    if delivery.path_token is not None:
        return False
    return verified_payload(signature_header(delivery.headers), secret) is not None


def signed_payload(delivery: Delivery, secret: str) -> bytes:
    """What the receiver parses of a verified delivery: the payload of its signature header (not the body)."""
    payload = verified_payload(signature_header(delivery.headers), secret)
    if payload is None:  # verified just before: only a changed secret gets here
        msg = "the signature does not match"
        raise BadEventError(msg)
    return payload


def parse_events(payload: bytes, hint: str | None = None) -> list[ParsedEvent]:
    """The events of a verified payload; :class:`BadEventError` when it is not acceptable.

    The callback URL names no event (``/hrflow`` is the route): a ``hint`` is refused.
    """
    if hint is not None:
        msg = "the HrFlow route is /hrflow: the URL names no event"
        raise BadEventError(msg)
    try:
        decoded = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        msg = "the signed payload is not JSON"
        raise BadEventError(msg) from None
    items = decoded if isinstance(decoded, list) else [decoded]
    if not items:
        msg = "the signed payload holds no event"
        raise BadEventError(msg)
    if len(items) > MAX_BATCH:
        msg = f"the signed payload holds more than {MAX_BATCH} events"
        raise BadEventError(msg)
    events = []
    for item in items:
        if not isinstance(item, dict):
            msg = "an event is not a JSON object"
            raise BadEventError(msg)
        kind = item.get("type")
        if not isinstance(kind, str) or not EVENT_TYPE.fullmatch(kind):
            msg = "an event does not name its type (profile.parsing.success ...)"
            raise BadEventError(msg)
        events.append(ParsedEvent(event=kind, event_key=event_key(kind, item), body=item))
    return events


def _key(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def named_object(event: str, body: Mapping[str, t.Any]) -> tuple[str | None, str | None]:
    """``(kind, key)`` of the profile or job an event names (``profile.key`` / ``job.key``), or ``(None, None)``.

    The kind is the type's first word when it is ``profile`` or ``job``; for other events
    (``action.*``), the first of the two the payload carries.
    """
    head = event.split(".", 1)[0]
    kinds = [head] if head in OBJECTS else list(OBJECTS)
    for kind in kinds:
        given = body.get(kind)
        key = _key(given.get("key")) if isinstance(given, dict) else None
        key = key or _key(body.get(f"{kind}_key"))
        if key is not None:
            return kind, key
    return (head, None) if head in OBJECTS else (None, None)


def container_key(kind: str, body: Mapping[str, t.Any]) -> str | None:
    """The key of the source (``profile.source.key``) or board (``job.board.key``) an event names."""
    container = OBJECTS[kind]
    given = body.get(kind)
    inner = given.get(container) if isinstance(given, dict) else None
    found = _key(inner.get("key")) if isinstance(inner, dict) else None
    return found or _key(body.get(f"{container}_key"))
