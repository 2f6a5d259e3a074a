"""Visma YouServe File API (being built: see issue 4)."""

from __future__ import annotations

from tap_hrdata.sources import Source

SOURCE = Source(
    name="youserve",
    title="Visma YouServe File API",
    required=("client_id", "client_secret", "tenant_id"),
    stream_types=(),
)
