"""Where credentials may travel: https, or plain http to loopback only."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_hrdata.http.urls import check_transport


@pytest.mark.parametrize(
    "url", ["https://api.example.com", "http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/"]
)
def test_transport_allowed(url: str) -> None:
    check_transport(url, "x.base_url")


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.1/", "ftp://127.0.0.1/", "api.example.com"])
def test_transport_refused(url: str) -> None:
    with pytest.raises(ConfigValidationError) as refused:
        check_transport(url, "x.base_url")
    assert refused.value.errors  # the SDK's CLI prints these
    assert "x.base_url" in refused.value.errors[0]
