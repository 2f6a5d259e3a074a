"""OAuth2 client credentials, one token per source and run.

Talentsoft asks partners to request one token per session and renew it only when it
expires; YouServe works the same way. The tap therefore holds one authenticator per
source (see ``TapHrData.authenticator_for``), renews the token shortly before
``expires_in`` runs out, and once more when a request is refused with 401.
"""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

import backoff
import requests
from singer_sdk.authenticators import OAuthAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_hrdata.http import (
    REQUEST_ERRORS,
    TRANSPORT_ERRORS,
    RetryPolicy,
    check_transport,
    redacted_error,
    transport_error,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable


class ClientCredentialsAuthenticator(OAuthAuthenticator):
    """Client-credentials token, renewed before expiry and once after a 401."""

    #: Renew this long before expiry (capped at a tenth of the token's lifetime).
    RENEW_MARGIN = timedelta(seconds=60)

    def __init__(
        self,
        *,
        source: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        scheme: str = "Bearer",
        timeout: float = 60.0,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        check_transport(token_url, f"{source} token URL")
        super().__init__(
            auth_endpoint=token_url,
            oauth_scopes=scope,
            client_id=client_id,
            client_secret=client_secret,
        )
        self.source = source
        self.scheme = scheme
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy()
        self.token_requests = 0
        self._renewed_for_rejection = False
        self._token_session = requests.Session()

    @property
    def oauth_request_body(self) -> dict[str, t.Any]:
        """The form fields of the token request."""
        body = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.oauth_scopes:
            body["scope"] = self.oauth_scopes
        return body

    def is_token_valid(self) -> bool:
        """Valid unless absent or within the renewal margin of its expiry."""
        if self.access_token is None or self.last_refreshed is None:
            return False
        if not self.expires_in:
            return True
        margin = min(self.RENEW_MARGIN, timedelta(seconds=self.expires_in / 10))
        expiry = self.last_refreshed + timedelta(seconds=self.expires_in)
        return datetime.now(timezone.utc) < expiry - margin

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set ``Authorization: <scheme> <token>``, renewing the token when due."""
        if not self.is_token_valid():
            self.update_access_token()
        request.headers["Authorization"] = f"{self.scheme} {self.access_token}"
        return request

    def renew_after_rejection(self, used_authorization: str | None) -> bool:
        """After a 401: drop the token and tell the caller to retry, once in a row.

        Returns False when the rejected token was itself fetched because of a 401 and has
        not worked since: the credentials or permissions are wrong, and retrying would
        only loop.
        """
        current = f"{self.scheme} {self.access_token}" if self.access_token else None
        if used_authorization != current:
            return True  # the token was renewed meanwhile: retry with the new one
        if self._renewed_for_rejection:
            return False
        self.access_token = None
        self.last_refreshed = None
        self._renewed_for_rejection = True
        return True

    def note_accepted(self) -> None:
        """A request went through: the current token works."""
        self._renewed_for_rejection = False

    def update_access_token(self) -> None:
        """Request a token, with the same retry conduct as every other call."""
        requested_at = datetime.now(timezone.utc)
        fetch: Callable[[], requests.Response] = backoff.on_exception(
            self.retry_policy.wait_gen,
            REQUEST_ERRORS,
            max_tries=self.retry_policy.max_tries,
            jitter=None,
            logger=None,
        )(self._post_token_request)
        try:
            response = fetch()
        except TRANSPORT_ERRORS as exc:  # outlasted the retries: say where, not requests' host and query
            raise FatalAPIError(transport_error(self.source, "token", None, exc)) from exc
        try:
            payload = response.json()
            token = payload["access_token"]
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"{self.source}: the token endpoint answered without an access_token"
            raise FatalAPIError(msg) from exc
        self.access_token = str(token)
        self.expires_in = int(payload["expires_in"]) if payload.get("expires_in") else None
        self.last_refreshed = requested_at
        self.logger.info("%s: obtained an access token (expires in %ss)", self.source, self.expires_in)

    def _post_token_request(self) -> requests.Response:
        self.token_requests += 1
        response = self._token_session.post(
            self.auth_endpoint,
            data=self.oauth_request_body,
            headers={"Accept": "application/json"},
            timeout=self.timeout,
        )
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetriableAPIError(redacted_error(self.source, "token", response), response)
        if status >= 400:
            msg = redacted_error(self.source, "token", response)
            raise FatalAPIError(f"{msg} (check the client id, secret and scope)")
        return response
