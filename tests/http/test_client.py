"""The one request loop: bodies read inside the retry, resumable streams, answers, throttle, renewal, messages."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.pagination import JSONPathPaginator
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_hrdata.http.auth import ClientCredentials, SourceAuthenticator, StaticHeaders
from tap_hrdata.http.client import JsonResponse, VendorClient
from tap_hrdata.http.retry import BrokenBodyError, RetryPolicy
from tests.conftest import mount
from tests.emulator.server import Emulator, Request, Response

LOGGER = logging.getLogger("tests.http")
SECRET = "ts/S3cr3t+Val/ue=="


class Script:
    """A vendor that answers from a list of scripted answers (the last one repeats), logging requests."""

    prefix = "/script"

    def __init__(self, *answers: Response | Callable[[Request], Response]) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer


class ProbeClient(VendorClient):
    """A client of the ``hrflow`` settings block with a fixed key (the loop is the same for every source)."""

    source = "hrflow"

    @override
    def make_authenticator(self) -> SourceAuthenticator:
        return StaticHeaders("X-API-KEY", str(self.settings["api_key"]))


class TokenClient(ProbeClient):
    """A client with an OAuth2 token fetched from ``{base_url}/token`` (``client_id`` and ``client_secret`` given)."""

    @override
    def make_authenticator(self) -> SourceAuthenticator:
        return ClientCredentials.of(self, f"{self.base_url}/token")


def token_client(emulator: Emulator) -> TokenClient:
    settings = {"base_url": emulator.url(Script.prefix), "api_key": "k", "client_id": "id", "client_secret": SECRET}
    return TokenClient({"hrflow": settings}, LOGGER)


class CountingThrottle:
    def __init__(self) -> None:
        self.sends = 0
        self.statuses: list[int] = []

    def before_send(self) -> None:
        self.sends += 1

    def answered(self, status: int) -> None:
        self.statuses.append(status)


def make_client(emulator: Emulator, policy: RetryPolicy | None = None, **settings: Any) -> ProbeClient:
    config = {"hrflow": {"base_url": emulator.url(Script.prefix), "api_key": SECRET, "user_email": "a@b.c", **settings}}
    client = ProbeClient(config, LOGGER)
    if policy is not None:
        client.retry_policy = policy  # type: ignore[misc]  # one instance, not the class
    return client


def get(client: VendorClient, path: str = "/x") -> HTTPRequest:
    return HTTPRequest(url=f"{client.base_url}{path}")


def json_body(payload: object) -> Response:
    return Response.json(200, payload)


# ---- whole answers ----------------------------------------------------------------------------


def test_a_json_body_that_breaks_is_asked_for_again_inside_the_retry(emulator: Emulator) -> None:
    payload = {"items": list(range(2000))}
    broken = json_body(payload)
    broken.abort_after = 100
    script = mount(emulator, Script(broken, json_body(payload)))
    client = make_client(emulator)
    answer = client.json(get(client), stream="s")
    assert answer.json() == payload
    assert answer.size == len(json.dumps(payload).encode())
    assert len(script.requests) == 2
    assert client.calls["s"] == 2
    assert client.retries["s"] == 1


def test_a_json_answer_works_with_the_sdk_paginators(emulator: Emulator) -> None:
    mount(emulator, Script(json_body({"next": "page-2", "data": [1]})))
    client = make_client(emulator)
    paginator = JSONPathPaginator("$.next")
    answer = client.json(get(client), stream="s")
    paginator.advance(answer)
    assert paginator.current_value == "page-2"
    assert isinstance(answer, JsonResponse)
    with pytest.raises(RuntimeError, match=r"use \.json"):
        next(answer.iter_content())  # the bytes are gone; .json() is the body


def test_a_json_body_past_the_cap_is_refused_not_retried(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VendorClient, "max_json_bytes", 1000)
    script = mount(emulator, Script(json_body({"x": "y" * 5000})))
    client = make_client(emulator)
    with pytest.raises(FatalAPIError, match=r"hrflow stream 's': GET /script/x answered more than 1000 bytes"):
        client.json(get(client), stream="s")
    assert len(script.requests) == 1


def test_a_body_that_is_not_json_is_retried_then_named(emulator: Emulator) -> None:
    script = mount(emulator, Script(Response(200, b"<html>proxy error</html>")))
    client = make_client(emulator, RetryPolicy(max_tries=3, base_seconds=0.001, max_seconds=0.001))
    with pytest.raises(FatalAPIError) as raised:
        client.json(get(client), stream="s")
    message = str(raised.value)
    assert "hrflow stream 's': GET /script/x answered HTTP 200 with a body that is not JSON" in message
    assert "(gave up after 3 attempts)" in message
    assert len(script.requests) == 3


def test_an_error_status_that_is_an_answer_reaches_the_reader(emulator: Emulator) -> None:
    mount(emulator, Script(Response.json(404, {"message": "gone"})))
    client = make_client(emulator)
    assert client.call(get(client), lambda r: r.status_code, stream="s", answers={404}) == 404
    with pytest.raises(FatalAPIError, match=r"hrflow stream 's': GET /script/x failed with HTTP 404"):
        client.call(get(client), lambda r: r.status_code, stream="s")


def test_retriable_statuses_then_fatal_ones(emulator: Emulator) -> None:
    script = mount(emulator, Script(Response.json(503, {}), Response.json(429, {}), Response.json(400, {"m": "no"})))
    client = make_client(emulator)
    with pytest.raises(FatalAPIError, match="HTTP 400"):
        client.json(get(client), stream="s")
    assert len(script.requests) == 3  # 503 and 429 retried, 400 not
    assert client.retries["s"] == 2


# ---- streamed bodies ----------------------------------------------------------------------------


def numbered_lines(request: Request) -> Response:
    """Lines ``start`` to 99, one per number, where ``start`` is the query's."""
    start = int(request.arg("start") or 0)
    return Response(200, b"".join(b"%d\n" % n for n in range(start, 100)))


def read_numbers(response: requests.Response) -> Iterator[int]:
    """Each complete line as soon as its bytes arrive (small reads: a cut body still gives its first lines)."""
    buffer = b""
    for piece in response.iter_content(8):
        buffer += piece
        *lines, buffer = buffer.split(b"\n")
        yield from (int(line) for line in lines)


def test_a_streamed_body_resumes_from_the_callers_position(emulator: Emulator) -> None:
    def cut(after: int) -> Callable[[Request], Response]:
        def answer(request: Request) -> Response:
            response = numbered_lines(request)
            response.abort_after = after
            return response

        return answer

    # Five breaks, each after some progress: more than max_tries in all, never in a row.
    script = mount(emulator, Script(cut(40), cut(40), cut(40), cut(40), cut(40), numbered_lines))
    client = make_client(emulator, RetryPolicy(max_tries=2, base_seconds=0.001, max_seconds=0.001))
    taken: list[int] = []

    def request() -> HTTPRequest:
        return HTTPRequest(url=f"{client.base_url}/lines", params={"start": len(taken)})

    for number in client.body(request, read_numbers, stream="s", where="lines"):
        taken.append(number)
    assert taken == list(range(100))  # each once, in order
    starts = [int(r.arg("start") or 0) for r in script.requests]
    assert starts == sorted(starts)
    assert starts[0] == 0
    assert len(set(starts)) == len(starts)  # every retry started further on


def test_a_body_that_breaks_at_the_same_place_gives_up_naming_the_operation(emulator: Emulator) -> None:
    script = mount(emulator, Script(Response(200, b"1\n2\n")))
    client = make_client(emulator, RetryPolicy(max_tries=3, base_seconds=0.001, max_seconds=0.001))
    taken: list[int] = []

    def read(response: requests.Response) -> Iterator[int]:
        for number in read_numbers(response):
            if number not in taken:  # what an earlier attempt gave is not given again
                yield number
        raise BrokenBodyError("body ended inside frame 3")

    numbers = client.body(lambda: get(client, "/frames"), read, stream="s", where="export at offset 7")
    with pytest.raises(FatalAPIError) as raised:
        taken.extend(numbers)
    assert str(raised.value) == (
        "hrflow stream 's': export at offset 7: body ended inside frame 3 (gave up after 3 attempts)"
    )
    assert taken == [1, 2]
    assert len(script.requests) == 3  # the first attempt made progress; two more without any


# ---- throttle, credentials, messages -----------------------------------------------------------


def test_the_throttle_sees_every_send_retries_and_token_requests_included(emulator: Emulator) -> None:
    script = mount(
        emulator,
        Script(
            json_body({"access_token": "tok", "expires_in": 3600}),
            Response.json(503, {}),
            json_body({"ok": True}),
        ),
    )

    client = token_client(emulator)
    throttle = CountingThrottle()
    client.throttle = throttle
    assert client.json(get(client), stream="s").json() == {"ok": True}
    assert len(script.requests) == 3
    assert throttle.sends == 3
    assert throttle.statuses == [200, 503, 200]


def test_a_separate_second_401_episode_is_renewed_too(emulator: Emulator) -> None:
    tokens = iter(["t1", "t2", "t3", "t4"])
    granted: list[str] = []

    def vendor(request: Request) -> Response:
        if request.path == "/token":
            granted.append(next(tokens))
            return json_body({"access_token": granted[-1], "expires_in": 3600})
        if request.headers.get("Authorization") == f"Bearer {granted[-1]}":
            return json_body({"ok": True})
        return Response.json(401, {})

    script = mount(emulator, Script(vendor))

    client = token_client(emulator)
    assert client.json(get(client), stream="s").json() == {"ok": True}  # token t1
    granted.append("revoked-1")  # the vendor revokes t1
    assert client.json(get(client), stream="s").json() == {"ok": True}  # 401, renewed: t2
    assert client.json(get(client), stream="s").json() == {"ok": True}  # t2 works: the episode is over
    granted.append("revoked-2")  # a second, separate revocation later in the run
    assert client.json(get(client), stream="s").json() == {"ok": True}  # 401 again: renewed again (t3)
    assert [r.path for r in script.requests].count("/token") == 3


def test_errors_never_show_a_secret_in_any_form_a_server_echoes(emulator: Emulator) -> None:
    echoed = json.dumps({"message": f"bad key {SECRET}"})  # JSON-escaped: ts\/S3cr3t... when PHP writes it
    php = echoed.replace("/", "\\/")
    for body in (echoed, php, f"key={requests.utils.quote(SECRET, safe='')}"):
        mount(emulator, Script(Response(400, body.encode())))
        client = make_client(emulator)
        with pytest.raises(FatalAPIError) as raised:
            client.json(get(client), stream="s")
        message = str(raised.value)
        assert "S3cr3t" not in message, message
        assert "<redacted>" in message
