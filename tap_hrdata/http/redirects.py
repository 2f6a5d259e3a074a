"""Where a redirect may take a request: credentials never leave the origin they were set for.

A token request follows no redirect (its form carries the client secret). Another call
follows a redirect to its own origin (scheme, host and port) with its credentials, like
a configured URL; to another origin only a GET is followed, without any credential or
source header (a download handed to a file host); and never to plain http, loopback
aside. Everything else is refused, naming the origin.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

from tap_hrdata.http.urls import is_loopback

if t.TYPE_CHECKING:
    import requests

REDIRECT_STATUSES = frozenset(
    {
        HTTPStatus.MOVED_PERMANENTLY,
        HTTPStatus.FOUND,
        HTTPStatus.SEE_OTHER,
        HTTPStatus.TEMPORARY_REDIRECT,
        HTTPStatus.PERMANENT_REDIRECT,
    }
)
MAX_REDIRECTS = 5
#: Headers a request keeps when it follows a redirect to another origin: none is a credential.
NEUTRAL_HEADERS = frozenset({"accept", "accept-encoding", "range", "if-range", "user-agent"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """``https://host:port`` of a URL (what a message may show of it)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    return f"{parts.scheme}://{host}:{port}"


@dataclass(frozen=True)
class Hop:
    """Where and how a redirected request goes next."""

    url: str
    method: str
    keeps_body: bool
    same_origin: bool


class RedirectRefused(Exception):  # noqa: N818  # a decision, raised for the client to report
    """The redirect may not be followed; the message names the target's origin."""


def next_hop(request: requests.PreparedRequest, response: requests.Response, *, token: bool, hops: int) -> Hop | None:
    """The request's next hop after ``response``; None when the answer is no redirect.

    Raises :class:`RedirectRefused` when it may not be followed.
    """
    location = response.headers.get("Location")
    if response.status_code not in REDIRECT_STATUSES or not location:
        return None
    target = urljoin(request.url or "", location)
    where = origin(target)
    if token:
        msg = f"redirected (HTTP {response.status_code}) to {where}: a token request follows no redirect"
        raise RedirectRefused(msg)
    if hops >= MAX_REDIRECTS:
        msg = f"redirected more than {MAX_REDIRECTS} times (last to {where})"
        raise RedirectRefused(msg)
    parts = urlsplit(target)
    if not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))):
        msg = f"redirected (HTTP {response.status_code}) to {where}: refused, requests go over https only"
        raise RedirectRefused(msg)
    sent = (request.method or "GET").upper()
    status = response.status_code
    # 307 and 308 repeat the request as it was; the others turn it into a GET (HEAD stays HEAD).
    repeats = sent == "HEAD" or status in {HTTPStatus.TEMPORARY_REDIRECT, HTTPStatus.PERMANENT_REDIRECT}
    method = sent if repeats else "GET"
    same = where == origin(request.url or "")
    if not same and method not in {"GET", "HEAD"}:
        msg = f"redirected (HTTP {status}) to {where}: refused, a {method} is not sent to another origin"
        raise RedirectRefused(msg)
    return Hop(url=target, method=method, keeps_body=method == sent, same_origin=same)
