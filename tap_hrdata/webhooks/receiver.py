"""The webhook receiver: one WSGI application, served by waitress, for every vendor that pushes events.

Routes (``{vendor}`` is a key of :data:`VENDORS`)::

    GET  /healthz                          200 while every journal is open
    POST /{vendor}/{secret}[/{event}]      an event callback: journalled, then 200
    GET  /{vendor}/{secret}/ping           a ping (or POST, HEAD): 200, nothing stored
    POST /{vendor}[/{event}]               the same, the secret in an X-Webhook-Token header
    GET  /{vendor}/ping                    ... (or Authorization: Bearer {secret})
    POST /hrflow                           HrFlow: signed (HTTP-HRFLOW-SIGNATURE), no secret in the path

A delivery is authenticated first (the vendor's verifier; the default compares the
secret with :func:`hmac.compare_digest`): anything else gets 401 and is not parsed.
A body that is not an acceptable event gets 400 and nothing is stored. An accepted
delivery is appended to the vendor's journal and fsynced *before* the 2xx is sent; a
journal the disk refuses answers 503, so the vendor delivers again. Nothing a request
carries in its path or headers is ever logged (the path holds the secret).

Adding a vendor is one entry in :data:`VENDORS`: a function that reads its settings and
returns its :class:`VendorHooks` (its parser, and its verifier and the part of a delivery
the parser reads when it signs deliveries instead of carrying a token, as HrFlow does).
A listener (``serve --on-coresignal-ready``) may be told of a vendor's journalled events;
it is called after the append, and must return at once.
"""

from __future__ import annotations

import hmac
import json
import logging
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tap_hrdata.webhooks import coresignal, hrflow, talentsoft
from tap_hrdata.webhooks.config import webhook_secret
from tap_hrdata.webhooks.journal import JournalError, JournalWriter, encode_line

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

#: Largest callback body read (bigger: 413, nothing stored).
MAX_BODY_BYTES = 4 << 20
TOKEN_HEADER = "HTTP_X_WEBHOOK_TOKEN"  # noqa: S105  # a header name, not a secret
PING = "ping"

StartResponse: t.TypeAlias = "Callable[[str, list[tuple[str, str]]], t.Any]"


@dataclass(frozen=True)
class Delivery:
    """What a verifier sees of one request."""

    method: str
    #: The secret as the path carried it, or None.
    path_token: str | None
    headers: Mapping[str, str]
    body: bytes


def token_matches(delivery: Delivery, secret: str) -> bool:
    """The default verifier: the secret in the path, an X-Webhook-Token header, or a bearer token.

    Compared in constant time (:func:`hmac.compare_digest`), so the answer's timing tells
    nothing about how much of a guess was right.
    """
    given = delivery.path_token
    if given is None:
        given = delivery.headers.get(TOKEN_HEADER)
    if given is None:
        scheme, _, token = delivery.headers.get("HTTP_AUTHORIZATION", "").partition(" ")
        given = token if scheme.lower() == "bearer" else None
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), secret.encode())


def body_of(delivery: Delivery, secret: str) -> bytes:
    """What a parser reads of a token-authenticated delivery: its body."""
    return delivery.body


@dataclass(frozen=True)
class VendorHooks:
    """One vendor's route: its name (the first path segment), secret, parser and verifier."""

    name: str
    secret: str = field(repr=False)
    #: The events of a callback body (``hint``: the event the URL names); raises ValueError when bad.
    parse: Callable[[bytes, str | None], list[talentsoft.ParsedEvent]]
    verify: Callable[[Delivery, str], bool] = token_matches
    #: What the parser reads of an authenticated delivery: its body, or the payload its signature covers.
    payload: Callable[[Delivery, str], bytes] = body_of


def talentsoft_hooks(config: Mapping[str, t.Any]) -> VendorHooks | None:
    """Talentsoft's route, when ``talentsoft.webhook_secret`` is set."""
    secret = webhook_secret(config, "talentsoft")
    return None if secret is None else VendorHooks("talentsoft", secret, talentsoft.parse_events)


def hrflow_hooks(config: Mapping[str, t.Any]) -> VendorHooks | None:
    """HrFlow's route, when ``hrflow.webhook_secret`` is set: signed deliveries, the signed payload journalled."""
    secret = webhook_secret(config, "hrflow")
    if secret is None:
        return None
    return VendorHooks("hrflow", secret, hrflow.parse_events, hrflow.signature_matches, hrflow.signed_payload)


def coresignal_hooks(config: Mapping[str, t.Any]) -> VendorHooks | None:
    """Coresignal's route ("data request ready" notifications), when ``coresignal.webhook_secret`` is set."""
    secret = webhook_secret(config, "coresignal")
    return None if secret is None else VendorHooks("coresignal", secret, coresignal.parse_notifications)


#: Every vendor that pushes events: its name and how its route is made from the config.
VENDORS: dict[str, Callable[[Mapping[str, t.Any]], VendorHooks | None]] = {
    "talentsoft": talentsoft_hooks,
    "hrflow": hrflow_hooks,
    "coresignal": coresignal_hooks,
}

#: What a listener is told: the events just journalled (it must return at once).
Listener: t.TypeAlias = "Callable[[list[talentsoft.ParsedEvent]], None]"


def configured_hooks(config: Mapping[str, t.Any]) -> list[VendorHooks]:
    """The routes of the vendors whose webhook settings are set."""
    return [hooks for make in VENDORS.values() if (hooks := make(config)) is not None]


def _json(status: str, payload: object, start_response: StartResponse) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
    )
    return [body]


class Receiver:
    """The WSGI application (see the module docstring)."""

    def __init__(
        self,
        hooks: Iterable[VendorHooks],
        journals: Mapping[str, JournalWriter],
        logger: logging.Logger,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        listeners: Mapping[str, Listener] | None = None,
    ) -> None:
        self.hooks = {hook.name: hook for hook in hooks}
        self.journals = dict(journals)
        self.logger = logger
        self.max_body_bytes = max_body_bytes
        #: Per vendor, who is told of its events once they are journalled.
        self.listeners = dict(listeners or {})

    def __call__(self, environ: dict[str, t.Any], start_response: StartResponse) -> list[bytes]:
        """Answer one request; never raises (a raised error would be logged with the path, i.e. the secret)."""
        try:
            return self.answer(environ, start_response)
        except Exception as exc:  # logged by type only: the message could quote the request
            self.logger.error("webhooks: internal error (%s); answered 500, nothing acknowledged", type(exc).__name__)  # noqa: TRY400
            return _json("500 Internal Server Error", {"error": "internal error"}, start_response)

    def answer(self, environ: dict[str, t.Any], start_response: StartResponse) -> list[bytes]:
        """Route one request."""
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        segments = [s for s in str(environ.get("PATH_INFO", "")).split("/") if s]
        if segments == ["healthz"]:
            return self.health(start_response)
        hook = self.hooks.get(segments[0]) if segments else None
        if hook is None:
            return _json("404 Not Found", {"error": "not found"}, start_response)
        headers = {k: str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        body = self.read_body(environ)
        if body is None:
            return _json("413 Content Too Large", {"error": "body too large"}, start_response)
        rest = self.authenticated(hook, method, segments[1:], headers, body)
        if rest is None:
            return self.refuse(hook, environ, start_response)
        if len(rest) > 1:
            return _json("404 Not Found", {"error": "not found"}, start_response)
        if rest == [PING]:
            if method not in {"GET", "HEAD", "POST"}:
                return self.not_allowed("GET, HEAD, POST", start_response)
            self.logger.info("webhooks: %s ping answered", hook.name)
            return _json("200 OK", {"status": "ok"}, start_response)
        if method != "POST":
            return self.not_allowed("POST", start_response)
        try:
            payload = hook.payload(Delivery(method, None, headers, body), hook.secret)
            events = hook.parse(payload, rest[0] if rest else None)
        except ValueError as exc:
            self.logger.warning("webhooks: %s delivery refused, nothing stored: %s", hook.name, exc)
            return _json("400 Bad Request", {"error": str(exc)}, start_response)
        return self.journal(hook, events, start_response)

    @staticmethod
    def authenticated(
        hook: VendorHooks, method: str, rest: list[str], headers: Mapping[str, str], body: bytes
    ) -> list[str] | None:
        """The path after the secret when the delivery is authenticated, else None.

        The secret is looked for in the path first (``/{vendor}/{secret}/...``), then in the
        headers (``/{vendor}/...``); each check is the vendor's verifier (constant time).
        """
        if rest and hook.verify(Delivery(method, rest[0], headers, body), hook.secret):
            return rest[1:]
        if hook.verify(Delivery(method, None, headers, body), hook.secret):
            return rest
        return None

    @staticmethod
    def not_allowed(allowed: str, start_response: StartResponse) -> list[bytes]:
        """405, naming the methods the route takes."""
        start_response("405 Method Not Allowed", [("Allow", allowed), ("Content-Length", "0")])
        return [b""]

    def refuse(self, hook: VendorHooks, environ: Mapping[str, t.Any], start_response: StartResponse) -> list[bytes]:
        """401: not authenticated; nothing stored."""
        self.logger.warning(
            "webhooks: %s delivery from %s refused: not authenticated", hook.name, environ.get("REMOTE_ADDR", "?")
        )
        return _json("401 Unauthorized", {"error": "unauthorized"}, start_response)

    def read_body(self, environ: Mapping[str, t.Any]) -> bytes | None:
        """The request body, or None when it is longer than :attr:`max_body_bytes`."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            return None
        stream = environ["wsgi.input"]
        body = stream.read(length) if length else stream.read(self.max_body_bytes + 1)
        return None if len(body) > self.max_body_bytes else bytes(body)

    def journal(
        self, hook: VendorHooks, events: list[talentsoft.ParsedEvent], start_response: StartResponse
    ) -> list[bytes]:
        """Append the events, fsynced, then acknowledge; 503 (nothing acknowledged) when the disk refuses."""
        received_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lines = [
            encode_line(
                {
                    "vendor": hook.name,
                    "event": event.event,
                    "event_key": event.event_key,
                    "received_at": received_at,
                    "body": event.body,
                }
            )
            for event in events
        ]
        try:
            self.journals[hook.name].append(lines)
        except JournalError as exc:
            self.logger.error("webhooks: %s; answered 503, the vendor will deliver again", exc)  # noqa: TRY400
            return _json("503 Service Unavailable", {"error": "journal unavailable"}, start_response)
        names = sorted({event.event for event in events})
        self.logger.info("webhooks: %s: %d event(s) journalled (%s)", hook.name, len(events), ", ".join(names))
        listener = self.listeners.get(hook.name)
        if listener is not None:
            try:
                listener(events)
            except Exception as exc:  # the events are journalled: the answer stays 200
                self.logger.error("webhooks: %s: the listener failed (%s)", hook.name, type(exc).__name__)  # noqa: TRY400
        return _json("200 OK", {"status": "accepted", "events": len(events)}, start_response)

    def health(self, start_response: StartResponse) -> list[bytes]:
        """200 with the vendors served while every journal is open; 503 otherwise."""
        closed = [name for name, journal in self.journals.items() if not journal.is_open]
        if closed:
            return _json("503 Service Unavailable", {"status": "journal closed", "vendors": closed}, start_response)
        return _json("200 OK", {"status": "ok", "vendors": sorted(self.hooks)}, start_response)
