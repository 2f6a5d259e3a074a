"""Authenticators: fixed credentials never renew; OAuth tokens renew before expiry; reprs show no secret."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tap_hrdata.http.auth import ClientCredentials, StaticBearerToken, StaticHeaders


def oauth(answers: list[object]) -> ClientCredentials:
    def post(request: object) -> object:
        return answers.pop(0)

    return ClientCredentials(
        source="talentsoft", token_url="https://h/token", client_id="id", client_secret="secret-xyz", post_token=post
    )


def request() -> requests.PreparedRequest:
    return requests.Request("GET", "https://h/x").prepare()


def test_fixed_credentials_never_renew_and_never_show() -> None:
    for auth in (StaticBearerToken("tok-123456"), StaticHeaders("X-API-KEY", "key-123456", **{"X-USER-EMAIL": "e@x"})):
        signed = auth.authenticate_request(request())
        assert "tok-123456" in str(signed.headers) or "key-123456" in str(signed.headers)
        assert not auth.renew_after_rejection(signed)
        assert "123456" not in repr(auth)
    assert (
        StaticHeaders("X-API-KEY", "k", **{"X-USER-EMAIL": "e@x"})
        .authenticate_request(request())
        .headers["X-USER-EMAIL"]
        == "e@x"
    )


def test_a_token_is_renewed_shortly_before_it_expires() -> None:
    auth = oauth([{"access_token": "t1", "expires_in": 3600}, {"access_token": "t2", "expires_in": "3600"}])
    assert auth.authenticate_request(request()).headers["Authorization"] == "Bearer t1"
    assert auth.authenticate_request(request()).headers["Authorization"] == "Bearer t1"  # one token per run
    auth.last_refreshed = datetime.now(timezone.utc) - timedelta(seconds=3600 - 30)  # inside the 60 s margin
    assert auth.authenticate_request(request()).headers["Authorization"] == "Bearer t2"
    assert auth.token_requests == 2
    assert "secret-xyz" not in repr(auth)
    basic = base64.b64encode(b"id:secret-xyz").decode()  # as HTTP Basic would write the pair
    assert set(auth.secrets()) == {"secret-xyz", "t2", basic}


@pytest.mark.parametrize("token", ["t1\n", " t1 ", "t1\r\n"])
def test_a_token_is_trimmed_when_it_arrives(token: str) -> None:
    assert oauth([{"access_token": token}]).authenticate_request(request()).headers["Authorization"] == "Bearer t1"


@pytest.mark.parametrize("token", ["t 1", "t\x001", "tök"])
def test_a_token_no_header_can_carry_is_refused_without_showing_it(token: str) -> None:
    with pytest.raises(FatalAPIError, match="characters a request header cannot carry") as caught:
        oauth([{"access_token": token}]).authenticate_request(request())
    assert token not in str(caught.value)


@pytest.mark.parametrize("answer", [{}, {"access_token": ""}, {"access_token": 42}, ["t"]])
def test_an_answer_without_a_token_is_a_clear_error(answer: object) -> None:
    with pytest.raises(FatalAPIError, match="talentsoft: the token endpoint answered without an access_token"):
        oauth([answer]).authenticate_request(request())


def test_one_renewal_per_episode_of_refusals() -> None:
    auth = oauth([{"access_token": "t1"}, {"access_token": "t2"}, {"access_token": "t3"}])
    refused = auth.authenticate_request(request())
    assert auth.renew_after_rejection(refused)  # the first 401: renew
    refused = auth.authenticate_request(request())  # t2
    assert not auth.renew_after_rejection(refused)  # t2 refused too: the credentials are wrong
    auth.note_accepted()  # ... but if a request goes through later, a new episode may renew again
    assert auth.renew_after_rejection(refused)
