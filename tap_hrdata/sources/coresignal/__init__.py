"""Coresignal Bulk Collect (being built: see issue 5)."""

from __future__ import annotations

from tap_hrdata.sources import Source

SOURCE = Source(name="coresignal", title="Coresignal Jobs Data API Bulk Collect", required=("api_token",), stream_types=())
