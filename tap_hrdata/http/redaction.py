"""What the tap may show of a request or an answer: never a credential, never a query string.

Servers echo what they were sent (debugging proxies, verbose error pages, hostile
servers), so every excerpt of an answer is cut free of the credentials of the request
that caused it and of the source's configured secrets, in each form a server may write
them back.
"""

from __future__ import annotations

import json
import re
import typing as t
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

if t.TYPE_CHECKING:
    import requests

#: Longest excerpt of an answer shown in an error.
EXCERPT_CHARS = 300
#: Names of headers, query parameters and form fields whose values are credentials.
SECRET_NAMES = re.compile(r"authorization|api[-_]?key|token|secret|password|signature|credential", re.IGNORECASE)
REDACTED = "<redacted>"
_QUERY = re.compile(r"(/[^\s?'\"]*)\?[^\s'\")]*")
#: Shorter values are not worth cutting out (and would cut ordinary words).
_MIN_SECRET_CHARS = 4


def request_secrets(request: requests.PreparedRequest | None) -> list[str]:
    """The credentials a request carried: values of its secret-named headers, parameters and form fields.

    ``Authorization: Bearer <token>`` gives the token on its own too.
    """
    if request is None:
        return []
    found: list[str] = []
    for name, value in request.headers.items():
        if SECRET_NAMES.search(name) and value:
            found.append(str(value))
            found.extend(part for part in str(value).split() if len(part) >= 8)
    pairs = parse_qsl(urlsplit(request.url or "").query, keep_blank_values=False)
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str) and "=" in body and len(body) < 1 << 16:
        pairs += parse_qsl(body, keep_blank_values=False)
    found.extend(value for name, value in pairs if SECRET_NAMES.search(name) and value)
    return found


def redact(text: str, secrets: t.Iterable[str]) -> str:
    """``text`` with every secret replaced by ``<redacted>``.

    In every form a server or an error may write it: raw, URL-encoded (``%2F`` or ``+``),
    JSON-escaped (with and without PHP's escaped slash), Python-escaped, trimmed. (Base64 of
    ``id:secret`` is among the secrets the OAuth authenticator lists.)
    """
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < _MIN_SECRET_CHARS:
            continue
        escaped = json.dumps(secret)[1:-1]
        forms.update((secret, quote(secret, safe=""), quote_plus(secret, safe=""), escaped))
        forms.add(escaped.replace("/", "\\/"))  # PHP's json_encode escapes "/"
        forms.add(repr(secret)[1:-1])  # as Python writes it in an error (b'Bearer abc\n')
        forms.add(secret.strip())  # what is left of it once a server or a header trims it
    for form in sorted(forms, key=len, reverse=True):  # the longest first: a secret holding another is cut whole
        text = text.replace(form, REDACTED)
    return text


def without_query(text: str) -> str:
    """``text`` with the query string of any URL or path in it dropped (it may carry filters or keys)."""
    return _QUERY.sub(r"\1", text)


def excerpt(text: str, secrets: t.Iterable[str]) -> str:
    """A short one-line excerpt of an answer, safe to show."""
    return " ".join(without_query(redact(text, secrets)).split())[:EXCERPT_CHARS]


def request_line(request: requests.PreparedRequest | None, url: str | None = None) -> str:
    """``GET /path`` of a request: its method and path, never its query string or host."""
    method = (request.method if request is not None else None) or "GET"
    path = urlsplit(url or (request.url if request is not None else None) or "").path
    return f"{method} {path}"
