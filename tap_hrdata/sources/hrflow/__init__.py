"""HrFlow.ai (being built: see issue 3)."""

from __future__ import annotations

from tap_hrdata.sources import Source

SOURCE = Source(name="hrflow", title="HrFlow.ai", required=("api_key", "user_email"), stream_types=())
