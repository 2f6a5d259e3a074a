"""Which redirects a request may follow, and how (the rules of tap_hrdata.http.redirects)."""

from __future__ import annotations

import re

import pytest
import requests

from tap_hrdata.http.redirects import RedirectRefused, next_hop, origin


def sent(method: str = "GET", url: str = "https://api.vendor.example/v1/items?page=2") -> requests.PreparedRequest:
    return requests.Request(method, url, headers={"X-API-KEY": "k"}, data=b"x" if method == "POST" else None).prepare()


def answer(status: int, location: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if location is not None:
        response.headers["Location"] = location
    return response


def test_origins() -> None:
    assert origin("https://API.vendor.example/x") == "https://api.vendor.example:443"
    assert origin("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"


def test_no_redirect_is_no_hop() -> None:
    assert next_hop(sent(), answer(200, None), token=False, hops=0) is None
    assert next_hop(sent(), answer(302, None), token=False, hops=0) is None  # nowhere to go


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [(301, "GET", "GET"), (302, "POST", "GET"), (303, "POST", "GET"), (307, "POST", "POST"), (308, "PUT", "PUT")],
)
def test_same_origin_keeps_credentials_and_the_method_rules(status: int, method: str, expected: str) -> None:
    hop = next_hop(sent(method), answer(status, "/v1/moved?page=2"), token=False, hops=0)
    assert hop is not None
    assert hop.url == "https://api.vendor.example/v1/moved?page=2"
    assert hop.same_origin
    assert hop.method == expected
    assert hop.keeps_body == (expected == method)


def test_another_origin_only_for_a_get() -> None:
    hop = next_hop(sent(), answer(302, "https://files.example/blob"), token=False, hops=0)
    assert hop is not None
    assert not hop.same_origin
    with pytest.raises(RedirectRefused, match=re.escape("to https://files.example:443: refused, a POST is not sent")):
        next_hop(sent("POST"), answer(307, "https://files.example/blob"), token=False, hops=0)


@pytest.mark.parametrize(
    ("location", "named"),
    [("http://files.example/blob", "http://files.example:80"), ("http://10.0.0.5/blob", "http://10.0.0.5:80")],
)
def test_plain_http_off_this_machine_is_refused(location: str, named: str) -> None:
    with pytest.raises(RedirectRefused, match=re.escape(f"to {named}: refused, requests go over https only")):
        next_hop(sent(), answer(302, location), token=False, hops=0)
    assert next_hop(sent(url="http://127.0.0.1:9/x"), answer(302, "http://localhost:9/y"), token=False, hops=0)


def test_token_requests_and_long_chains() -> None:
    with pytest.raises(RedirectRefused, match="a token request follows no redirect"):
        next_hop(sent("POST"), answer(307, "/token2"), token=True, hops=0)
    with pytest.raises(RedirectRefused, match="redirected more than 5 times"):
        next_hop(sent(), answer(302, "/again"), token=False, hops=5)
