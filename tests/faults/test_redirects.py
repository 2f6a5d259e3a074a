"""Redirects: credentials never follow a server's redirect to another origin or to plain http.

An "elsewhere" server (a second emulator on another port: another origin) records every
request it receives. Vendors answer 302/307 pointing there, or to plain http on a public
name, from their token endpoints and their APIs. A token request follows no redirect at
all; an API call follows a redirect to its own origin with its credentials; to another
origin only a GET goes, stripped of every credential and source header.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import run_tap, run_tap_partial
from tests.emulator.server import Emulator, Request, Response
from tests.faults.conftest import POLL, assert_exactly_once, setup_source
from tests.faults.test_secrets import leaks, secrets_of

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Elsewhere:
    """A server of another origin that keeps what it was sent."""

    prefix = "/elsewhere"

    def __init__(self) -> None:
        self.received: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.received.append(request)
        return Response.json(200, {"code": 200, "message": "elsewhere", "data": [], "meta": {"maxPage": 1}})

    def seen(self) -> str:
        """Everything it was sent, as text."""
        return "\n".join(
            f"{r.method} {r.path}?{r.raw_query}\n{dict(r.headers.items())}\n{r.body.decode(errors='replace')}"
            for r in self.received
        )


@pytest.fixture
def elsewhere() -> Iterator[tuple[Elsewhere, Emulator]]:
    server = Elsewhere()
    other = Emulator([server]).start()
    yield server, other
    other.stop()


def redirect_once(vendor: Any, path: str, method: str, location: str, status: int) -> None:
    """``vendor`` answers the first ``method`` on ``path`` with a redirect to ``location``."""
    original = vendor.handle
    fired: list[bool] = []

    def handle(request: Request) -> Response:
        if not fired and request.method == method and request.path.endswith(path):
            fired.append(True)
            return Response(status=status, headers={"Location": location, "Content-Length": "0"})
        return original(request)

    vendor.handle = handle


TOKEN_ENDPOINTS = [("talentsoft", "/api/token"), ("youserve", "/authentication/token")]


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("endpoint", TOKEN_ENDPOINTS, ids=[s for s, _ in TOKEN_ENDPOINTS])
def test_a_token_request_follows_no_redirect(
    emulator: Emulator, tmp_path: Path, elsewhere: tuple[Elsewhere, Emulator], endpoint: tuple[str, str], status: int
) -> None:
    source, token_path = endpoint
    server, other = elsewhere
    setup = setup_source(emulator, source, tmp_path)
    redirect_once(setup.vendor, token_path, "POST", other.url("/elsewhere/token"), status)
    partial, error = run_tap_partial(setup.config)
    message = str(error)
    assert f"was redirected (HTTP {status}) to http://127.0.0.1:{other.port}" in message
    assert "a token request follows no redirect" in message
    assert server.received == []  # the form with the client secret went nowhere else
    assert partial.records(next(iter(setup.expected()))) == []


def test_an_api_redirect_to_another_origin_carries_no_credential(
    emulator: Emulator, tmp_path: Path, elsewhere: tuple[Elsewhere, Emulator]
) -> None:
    server, other = elsewhere
    setup = setup_source(emulator, "hrflow", tmp_path)
    redirect_once(setup.vendor, "/storing/profiles", "GET", other.url("/elsewhere/profiles"), 307)
    run_tap(setup.config)  # the other origin answers an empty page: the list ends there
    assert len(server.received) == 1  # a GET may go to another origin (a file host) ...
    sent = server.received[0]
    assert sent.method == "GET"
    header_names = {name.lower() for name in sent.headers}
    assert not header_names & {"x-api-key", "x-user-email", "authorization"}  # ... without credentials
    assert not leaks(server.seen(), secrets_of(setup.vendor))
    assert setup.vendor.user_email not in server.seen()


def test_a_post_is_not_redirected_to_another_origin(
    emulator: Emulator, tmp_path: Path, elsewhere: tuple[Elsewhere, Emulator]
) -> None:
    server, other = elsewhere
    setup = setup_source(emulator, "coresignal", tmp_path)
    redirect_once(setup.vendor, "/bulk_collect/filter", "POST", other.url("/elsewhere/filter"), 307)
    _, error = run_tap_partial(setup.config)
    assert f"to http://127.0.0.1:{other.port}: refused, a POST is not sent to another origin" in str(error)
    assert server.received == []
    assert setup.vendor.post_count == 0


@pytest.mark.parametrize("location", ["http://files.example.com/profiles", "ftp://files.example.com/profiles"])
def test_a_redirect_off_https_is_refused_naming_its_origin(emulator: Emulator, tmp_path: Path, location: str) -> None:
    setup = setup_source(emulator, "hrflow", tmp_path)
    redirect_once(setup.vendor, "/storing/profiles", "GET", location, 302)
    _, error = run_tap_partial(setup.config)
    scheme = location.split(":", 1)[0]
    port = {"http": 80, "ftp": None}[scheme]
    assert f"to {scheme}://files.example.com:{port}: refused, requests go over https only" in str(error)


@pytest.mark.parametrize(("source", "path"), [("hrflow", r"^/storing/profiles$"), ("coresignal", POLL)])
def test_a_redirect_within_the_origin_is_followed_with_credentials(
    emulator: Emulator, tmp_path: Path, source: str, path: str
) -> None:
    setup = setup_source(emulator, source, tmp_path)
    original = setup.vendor.handle
    moved: list[str] = []

    def handle(request: Request) -> Response:
        if request.path.startswith("/moved/"):
            request.path = request.path.removeprefix("/moved")
            return original(request)
        if request.method == "GET" and re.search(path, request.path):
            moved.append(request.path)
            query = f"?{request.raw_query}" if request.raw_query else ""
            return Response(status=307, headers={"Location": f"{setup.vendor.prefix}/moved{request.path}{query}"})
        return original(request)

    setup.vendor.handle = handle
    result = run_tap(setup.config)
    assert moved  # every answer came through a redirect, followed with the vendor's credentials
    assert_exactly_once(result, setup)


def test_a_chain_of_redirects_ends(emulator: Emulator, tmp_path: Path) -> None:
    setup = setup_source(emulator, "hrflow", tmp_path)
    original = setup.vendor.handle

    def handle(request: Request) -> Response:
        if request.path == "/storing/profiles":
            return Response(status=302, headers={"Location": f"{setup.vendor.prefix}/storing/profiles"})
        return original(request)

    setup.vendor.handle = handle
    _, error = run_tap_partial(setup.config)
    assert "redirected more than 5 times" in str(error)
    assert json.dumps(str(error))  # a plain message
