"""What the tap may show: never a credential a request carried, in any form a server echoes it; no query strings."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import requests

from tap_hrdata.http.redaction import excerpt, redact, request_line, request_secrets, without_query

SECRET = "ts/S3cr3t+Val/ue=="


def prepared(**kwargs: object) -> requests.PreparedRequest:
    return requests.Request(**kwargs).prepare()  # type: ignore[arg-type]


def test_the_credentials_a_request_carried() -> None:
    request = prepared(
        method="POST",
        url="https://api.example.com/token?api_key=query-key-123&page=2",
        headers={"Authorization": "Bearer tok-abcdefgh", "X-API-KEY": "header-key", "Accept": "x"},
        data={"grant_type": "client_credentials", "client_secret": SECRET},
    )
    found = set(request_secrets(request))
    assert {"Bearer tok-abcdefgh", "tok-abcdefgh", "header-key", "query-key-123", SECRET} <= found
    assert not found & {"2", "x", "client_credentials"}


def test_every_form_a_server_may_echo_is_cut() -> None:
    escaped = json.dumps(SECRET)[1:-1]
    for form in (SECRET, quote(SECRET, safe=""), quote_plus(SECRET), escaped, escaped.replace("/", "\\/")):
        assert redact(f"you sent <{form}>", [SECRET]) == "you sent <<redacted>>", form


def test_short_values_are_not_cut_out_of_ordinary_words() -> None:
    assert redact("a bad request", ["a", "bad"]) == "a bad request"


def test_excerpts_are_short_single_lines_without_query_strings() -> None:
    text = "line one\n  GET /files?role=subscriber&$filter=x  " + "y" * 1000
    shown = excerpt(text, [])
    assert "\n" not in shown
    assert "?role" not in shown
    assert len(shown) == 300
    assert without_query("see https://h/p?a=1 and /q?b=2.") == "see https://h/p and /q"
    assert request_line(prepared(method="DELETE", url="https://h/files/1?role=subscriber")) == "DELETE /files/1"
