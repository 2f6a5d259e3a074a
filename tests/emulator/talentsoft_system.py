"""Talentsoft's system API and referential translations, as the emulator serves them.

Webhook subscriptions, callbacks and pings:

``POST /api/system/v1/webhooks`` with ``{"event", "callbackUrl", "pingUrl"}`` answers
``{"hookId": ...}``; ``DELETE /api/system/v1/webhooks/{hookId}`` answers 204 (404 for an
unknown hook). Every call needs a token the emulator issued (the exports' ``_auth``).

The emulator can then call the subscribers, as Recruiting does: :meth:`fire` POSTs an
event to the callback URL of every hook subscribed to it, :meth:`ping` calls a hook's ping
URL. The callback body is not documented; the emulator sends
``{"eventId", "event", "hookId", "date", "data": {...}}``.

Referential translations, as the doc's referentials cinematic calls them:
``GET /api/referentials/{category}/{id}/translations`` (every translation of one item) and
``GET /api/referentials/{category}/{id}/translations/{lcid}`` (one language). The doc shows
no answer; the emulator's choice: a JSON array of ``{"lcid": "fr-FR", "label": ...}``
(one object for ``/{lcid}``), and 404 for an unknown category, item or language, and for an
item without translations (every :data:`UNTRANSLATED_EVERY`-th item of a category). ``{id}``
is the item's key as the ``referentials`` stream keys it: its ``id``, else ``code``, else
``clientCode``. Every call is recorded in :attr:`TalentsoftSystem.translation_calls`, the
most in flight at once in :attr:`TalentsoftSystem.translations_max_in_flight`;
:attr:`TalentsoftSystem.translation_delay` makes each answer wait (concurrency tests).

Wired into :class:`tests.emulator.talentsoft.TalentsoftEmulator` by two lines::

    self.system = TalentsoftSystem(self._auth, self._referentials)   # in __init__
    if self.system.handles(path): return self.system.route(request)  # first in _route
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.emulator.server import Request, Response

if TYPE_CHECKING:
    from collections.abc import Callable

PATH = "/api/system/v1/webhooks"
TRANSLATIONS = re.compile(r"/api/referentials/([^/]+)/([^/]+)/translations(?:/([^/]+))?")
#: Every n-th item of a category (1-based) has no translations: its call answers 404.
UNTRANSLATED_EVERY = 7
EVENTS = frozenset(
    {"vacancy_new", "vacancy_update", "application_event_new", "applicant_new", "applicant_update", "applicant_delete"}
)


@dataclass
class Hook:
    """One subscription."""

    hook_id: str
    event: str
    callback_url: str
    ping_url: str


@dataclass
class Delivery:
    """One call the emulator made to a subscriber: which hook, what, and the status it got (None: no answer)."""

    hook_id: str
    kind: str  # "event" or "ping"
    body: dict[str, Any] | None
    status: int | None


@dataclass
class TalentsoftSystem:
    """Webhook subscriptions of one emulated Talentsoft site."""

    authorize: Callable[[Request], Response | None]
    #: The site's referential categories (category -> items), as ``/api/v1/referentials/{category}`` lists them.
    referentials: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hooks: dict[str, Hook] = field(default_factory=dict)
    #: Every subscription call, in order: ("subscribe" | "unsubscribe", hook id, body or None).
    calls: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    #: Every authorized translations call, in arrival order: (category, item key, lcid or None).
    translation_calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    #: Seconds each translations answer waits before it is sent (0: none).
    translation_delay: float = 0.0
    #: The most translations calls in flight at once so far.
    translations_max_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` is one of this API's."""
        return path == PATH or path.startswith(PATH + "/") or TRANSLATIONS.fullmatch(path) is not None

    def route(self, request: Request) -> Response:
        """Answer one call of the system API or of the translations."""
        if request.method != "GET" and TRANSLATIONS.fullmatch(request.path):
            return Response.json(405, {"message": "use GET"}, {"Allow": "GET"})
        denied = self.authorize(request)
        if denied is not None:
            return denied
        match = TRANSLATIONS.fullmatch(request.path)
        if match:
            return self._translations(request, unquote(match[1]), unquote(match[2]), match[3] and unquote(match[3]))
        if request.path == PATH:
            if request.method != "POST":
                return Response.json(405, {"message": "use POST"}, {"Allow": "POST"})
            return self._subscribe(request)
        hook_id = request.path[len(PATH) + 1 :]
        if request.method != "DELETE" or "/" in hook_id:
            return Response.json(405, {"message": "use DELETE"}, {"Allow": "DELETE"})
        with self._lock:
            hook = self.hooks.pop(hook_id, None)
            self.calls.append(("unsubscribe", hook_id, None))
        if hook is None:
            return Response.json(404, {"message": f"unknown hook {hook_id!r}"})
        return Response(status=204)

    def _subscribe(self, request: Request) -> Response:
        try:
            body = json.loads(request.body)
        except ValueError:
            return Response.json(400, {"message": "the body is not JSON"})
        if not isinstance(body, dict):
            return Response.json(400, {"message": "the body is not an object"})
        missing = [name for name in ("event", "callbackUrl", "pingUrl") if not isinstance(body.get(name), str)]
        if missing:
            return Response.json(400, {"message": f"missing {', '.join(missing)}"})
        if body["event"] not in EVENTS:
            return Response.json(400, {"message": f"unknown event {body['event']!r}"})
        hook = Hook(str(uuid.uuid4()), body["event"], body["callbackUrl"], body["pingUrl"])
        with self._lock:
            self.hooks[hook.hook_id] = hook
            self.calls.append(("subscribe", hook.hook_id, body))
        return Response.json(200, {"hookId": hook.hook_id})

    # ---- referential translations ---------------------------------------------------------

    @staticmethod
    def item_key(item: dict[str, Any]) -> str | None:
        """The key of a referential item: its ``id``, else ``code``, else ``clientCode``."""
        return next(
            (str(item[name]) for name in ("id", "code", "clientCode") if item.get(name) not in (None, "")), None
        )

    @classmethod
    def item_translations(cls, item: dict[str, Any], number: int) -> list[dict[str, Any]]:
        """The translations of the ``number``-th item (1-based) of a category; none for every seventh."""
        if number % UNTRANSLATED_EVERY == 0:
            return []
        given = item.get("translations")
        if isinstance(given, dict):  # the seed shape's items carry theirs
            return [{"lcid": lcid, "label": label} for lcid, label in given.items()]
        from tests.emulator.talentsoft import COUNTRIES, LANGUAGES  # it imports this module

        french = {english: french for _, english, french in (*COUNTRIES, *LANGUAGES)}
        label = str(item.get("label") or "")
        return [{"lcid": "en-GB", "label": label}, {"lcid": "fr-FR", "label": french.get(label, f"{label} (fr)")}]

    def translations(self, category: str) -> dict[str, list[dict[str, Any]]]:
        """Every item key of ``category`` and its translations, in the category's order (none: an empty list)."""
        items = self.referentials.get(category, [])
        return {str(self.item_key(item)): self.item_translations(item, n) for n, item in enumerate(items, 1)}

    def _translations(self, request: Request, category: str, key: str, lcid: str | None) -> Response:
        if request.query:
            return Response.json(400, {"message": f"unknown query parameters: {', '.join(sorted(request.query))}"})
        with self._lock:
            self.translation_calls.append((category, key, lcid))
            self._in_flight += 1
            self.translations_max_in_flight = max(self.translations_max_in_flight, self._in_flight)
        try:
            if self.translation_delay:
                time.sleep(self.translation_delay)
            if category not in self.referentials:
                return Response.json(404, {"message": f"unknown referential {category!r}"})
            found = self.translations(category)
            if key not in found:
                return Response.json(404, {"message": f"unknown item {key!r} of referential {category!r}"})
            translations = [t for t in found[key] if lcid is None or t["lcid"].lower() == lcid.lower()]
            if not translations:
                return Response.json(404, {"message": f"no translation of item {key!r} of referential {category!r}"})
            return Response.json(200, translations[0] if lcid is not None else translations)
        finally:
            with self._lock:
                self._in_flight -= 1

    # ---- calling the subscribers -----------------------------------------------------------

    def _send(self, hook: Hook, kind: str, url: str, body: dict[str, Any] | None) -> int | None:
        data = None if body is None else json.dumps(body).encode()
        method = "POST" if data is not None else "GET"
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310  # loopback test URLs
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                status: int | None = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = None
        with self._lock:
            self.deliveries.append(Delivery(hook.hook_id, kind, body, status))
        return status

    def fire(self, event: str, data: dict[str, Any], *, event_id: str | None = None) -> list[int | None]:
        """Deliver ``event`` about ``data`` to every hook subscribed to it; the statuses they answered."""
        with self._lock:
            hooks = [hook for hook in self.hooks.values() if hook.event == event]
        statuses = []
        for hook in hooks:
            body = {
                "eventId": event_id or str(uuid.uuid4()),
                "event": event,
                "hookId": hook.hook_id,
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "data": data,
            }
            statuses.append(self._send(hook, "event", hook.callback_url, body))
        return statuses

    def ping(self, hook_id: str) -> int | None:
        """Call a hook's ping URL; the status it answered."""
        with self._lock:
            hook = self.hooks[hook_id]
        return self._send(hook, "ping", hook.ping_url, None)
