"""A source's credentials on its requests: one authenticator per source and run.

The client needs three things of an authenticator, and only these (:class:`SourceAuthenticator`):
sign a request, say whether a 401 is worth one renewal, and hear that a request went
through. Static credentials (API keys, a fixed token) never renew. OAuth2 client
credentials (Talentsoft, YouServe) fetch one token per run, renew it shortly before
``expires_in`` runs out, and once more when a request is refused with 401; Talentsoft
asks partners for exactly that (one token per session, renewed only when it expires).
"""

from __future__ import annotations

import base64
import re
import threading
import typing as t
from datetime import datetime, timedelta, timezone

from singer_sdk.authenticators import APIKeyAuthenticator, BearerTokenAuthenticator, OAuthAuthenticator
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.streams.rest import HTTPRequest
from typing_extensions import override

from tap_hrdata.values import integer

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    import requests

    from tap_hrdata.http.client import VendorClient

#: What an access token may hold: visible ASCII, no space (RFC 6750's b64token and the
#: opaque tokens vendors issue). Anything else could not travel in a header.
TOKEN_CHARACTERS = re.compile(r"[\x21-\x7e]+")


class SourceAuthenticator(t.Protocol):
    """What a source's client asks of its authenticator."""

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Put the credentials on ``request`` (renewing a token first when it is due)."""
        ...

    def renew_after_rejection(self, request: requests.PreparedRequest) -> bool:
        """``request`` was refused with 401: True when a retry with new credentials may work."""
        ...

    def note_accepted(self) -> None:
        """A request went through: the current credentials work."""
        ...

    def secrets(self) -> Iterable[str]:
        """The credentials in use now, to be cut out of anything the tap shows."""
        ...


class StaticCredentials:
    """Credentials that never change during a run: a 401 is final."""

    def renew_after_rejection(self, request: requests.PreparedRequest) -> bool:
        """Never: a fixed key refused once is refused again."""
        return False

    def note_accepted(self) -> None:
        """Nothing to remember."""


class StaticBearerToken(StaticCredentials, BearerTokenAuthenticator):
    """``Authorization: Bearer <token>`` with a token from the settings."""

    def __init__(self, token: str) -> None:
        super().__init__(token=token)
        self._token = token

    def secrets(self) -> Iterable[str]:
        """The token."""
        return (self._token,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


class StaticHeaders(StaticCredentials, APIKeyAuthenticator):
    """Fixed credential headers (an API key, and any companion header such as a user's email)."""

    def __init__(self, key: str, value: str, **more: str) -> None:
        super().__init__(key=key, value=value, location="header")
        self.auth_headers.update(more)
        self._secret = value

    def secrets(self) -> Iterable[str]:
        """The key."""
        return (self._secret,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


class ClientCredentials(OAuthAuthenticator):
    """An OAuth2 client-credentials token, renewed before expiry and once after a 401.

    ``form`` adds fields to the token request (Visma Connect wants the ``tenant_id``).

    The token request is sent by the source's client (``post_token``), with the same
    timeouts, retries and redaction as every other call; the SDK's own token request
    (its own session and retries) is never used.
    """

    #: Renew this long before expiry (capped at a tenth of the token's lifetime).
    RENEW_MARGIN = timedelta(seconds=60)

    def __init__(
        self,
        *,
        source: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        post_token: Callable[[HTTPRequest], t.Any],
        scope: str | None = None,
        scheme: str = "Bearer",
        form: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            auth_endpoint=token_url,
            oauth_scopes=scope,
            client_id=client_id,
            client_secret=client_secret,
        )
        self.source = source
        self.scheme = scheme
        self.form = dict(form or {})
        self.token_requests = 0
        self._post_token = post_token
        self._renewed_for_rejection = False
        self._lock = threading.Lock()  # one renewal however many threads find the token due

    @classmethod
    def of(
        cls,
        client: VendorClient,
        token_url: str,
        *,
        scope: str | None = None,
        scheme: str = "Bearer",
        form: Mapping[str, str] | None = None,
    ) -> ClientCredentials:
        """The credentials of ``client``'s settings block (``client_id``, ``client_secret``), fetched through it."""
        return cls(
            source=client.source,
            token_url=token_url,
            client_id=str(client.settings["client_id"]),
            client_secret=str(client.settings["client_secret"]),
            post_token=client.post_token,
            scope=scope,
            scheme=scheme,
            form=form,
        )

    @property
    @override
    def oauth_request_body(self) -> dict[str, t.Any]:
        """The form fields of the token request."""
        body = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.oauth_scopes:
            body["scope"] = self.oauth_scopes
        return {**body, **self.form}

    @override
    def is_token_valid(self) -> bool:
        """Valid unless absent or within the renewal margin of its expiry."""
        if self.access_token is None or self.last_refreshed is None:
            return False
        if not self.expires_in:
            return True
        margin = min(self.RENEW_MARGIN, timedelta(seconds=self.expires_in / 10))
        expiry = self.last_refreshed + timedelta(seconds=self.expires_in)
        return datetime.now(timezone.utc) < expiry - margin

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set ``Authorization: <scheme> <token>``, fetching or renewing the token when due."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            request.headers["Authorization"] = self._authorization()
        return request

    def renew_after_rejection(self, request: requests.PreparedRequest) -> bool:
        """After a 401: drop the token and retry, once per episode of refusals.

        False when the refused token was itself fetched because of a 401 and has not
        worked since: the credentials or permissions are wrong, and retrying would loop.
        A later, separate episode (some request went through in between) renews again.
        """
        with self._lock:
            if request.headers.get("Authorization") != self._authorization():
                return True  # renewed meanwhile (another thread): retry with the new token
            if self._renewed_for_rejection:
                return False
            self.access_token = None
            self.last_refreshed = None
            self._renewed_for_rejection = True
            return True

    def note_accepted(self) -> None:
        """A request went through: the current token works, a later 401 is a new episode."""
        self._renewed_for_rejection = False

    def secrets(self) -> Iterable[str]:
        """The client secret, the token in use, and ``client_id:client_secret`` as HTTP Basic writes it."""
        pair = f"{self.client_id}:{self.client_secret}".encode()
        basic = (base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode())
        return tuple(value for value in (self.client_secret, self.access_token, *basic) if value)

    @override
    def update_access_token(self) -> None:
        """Fetch a token through the source's client (``POST`` of the form, no redirects)."""
        requested_at = datetime.now(timezone.utc)
        self.token_requests += 1
        payload = self._post_token(
            HTTPRequest(
                url=self.auth_endpoint,
                method="POST",
                headers={"Accept": "application/json"},
                data=self.oauth_request_body,
            )
        )
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token.strip():
            msg = f"{self.source}: the token endpoint answered without an access_token"
            raise FatalAPIError(msg)
        token = token.strip()  # a trailing newline would make every request fail (and print the token)
        if not TOKEN_CHARACTERS.fullmatch(token):
            msg = (
                f"{self.source}: the token endpoint answered an access_token ({len(token)} characters) with "
                "characters a request header cannot carry; it is not used"
            )
            raise FatalAPIError(msg)
        self.access_token = token
        self.expires_in = integer(payload.get("expires_in")) or None
        self.last_refreshed = requested_at
        self.logger.info("%s: obtained an access token (expires in %ss)", self.source, self.expires_in)

    def _authorization(self) -> str:
        return f"{self.scheme} {self.access_token}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, <secret redacted>)"
