"""Partitions: slices of one source's data that one tap invocation extracts on its own, with its own state.

The ``partition`` setting (absent: the usual unpartitioned run) names a source and a slice
of it. A partition run extracts only that source, and only the slice: its records are
exactly those an unpartitioned run would emit for the slice, so the union of every
partition of a backfill equals one full run (same primary keys, none missing, none twice).

The slices, where the vendor gives a stable cut:

- Coresignal ``bulk_jobs``: ``[start, end)`` on ``last_updated``. The API's timestamps are
  whole seconds and ``last_updated_lte`` is inclusive, so the window asks for
  ``last_updated_gte`` = max(start, bookmark) and ``last_updated_lte`` = end - 1 second; the
  10,000-record cap halves inside the window as it does without partitions.
- YouServe ``delivered_files``: ``business_types`` (a subset of ``youserve.business_types``;
  any types when that is empty) and ``[start, end)`` on the upload date (``uploadDate ge`` /
  ``uploadDate lt``). Deletion (``youserve.delete_after_download``) lists only the
  partition's slice, so a partition deletes only files its own starting state covers.
- HrFlow: ``source_keys`` (profiles, their attachments, and trackings/ratings when they are
  read by source) and ``board_keys`` (jobs, and trackings/ratings when no source key is
  configured), each a subset of the configured keys.
- Talentsoft ``vacancies`` / ``candidates`` (and the candidates' applications and
  attachments), in ``talentsoft.replication: modified`` only: ``[start, end)`` on the
  modification date (``updateDate:ge:start`` / ``updateDate:lt:end``; the first window
  starts where ``start_date`` does, ``gt``). A record edited during the backfill moves to a
  later window: it may be loaded twice (two versions, one key), never lost. In ``offset``
  mode, or without ``start_date``, the whole source is one partition.

Streams that cannot be sliced (referentials, translations, HrFlow sources and boards, the
webhook event journals) are emitted only by the partition carrying ``full_tables: true``.

State: each partition is meant to have its own state (a Meltano state id per partition).
Every stream state a partition run writes carries the partition's fingerprint
(``bookmarks.<stream>.partition``: a digest of the slice, ``name`` and ``end`` left out so
that the open-ended last window keeps its state once a later window closes it), and a run
refuses a state written by another partition, or by an unpartitioned run, naming the path.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tap_hrdata.settings import global_settings, source_settings
from tap_hrdata.values import utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

SOURCES = ("talentsoft", "hrflow", "youserve", "coresignal")
FIELDS = ("source", "name", "start", "end", "business_types", "source_keys", "board_keys", "full_tables")
#: Fields that only one source can honour.
OWNED_BY = {"business_types": "youserve", "source_keys": "hrflow", "board_keys": "hrflow"}
#: Sources sliced by a [start, end) window.
DATED = ("youserve", "coresignal")
#: Streams no partition can slice: emitted only by the partition with ``full_tables: true``.
FULL_TABLES = frozenset(
    {
        "referentials",
        "referential_translations",
        "talentsoft_events",
        "hrflow_sources",
        "hrflow_boards",
        "hrflow_events",
    }
)
#: State key of the fingerprint, in every stream state a partition run writes.
STATE_KEY = "partition"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Partition:
    """A checked ``partition`` setting."""

    source: str
    name: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    business_types: tuple[int, ...] | None = None
    source_keys: tuple[str, ...] | None = None
    board_keys: tuple[str, ...] | None = None
    full_tables: bool = False

    @property
    def fingerprint(self) -> str:
        """What identifies the slice's state: everything but ``name`` and ``end``."""
        value = {
            "source": self.source,
            "start": self.start.isoformat() if self.start else None,
            "business_types": list(self.business_types) if self.business_types is not None else None,
            "source_keys": sorted(self.source_keys) if self.source_keys is not None else None,
            "board_keys": sorted(self.board_keys) if self.board_keys is not None else None,
            "full_tables": self.full_tables,
        }
        digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
        return f"{self.source}:{digest}"

    def describe(self) -> str:
        """For logs: the name, else the fingerprint."""
        return self.name or self.fingerprint

    def covers(self, stream_name: str, config: Mapping[str, t.Any]) -> bool:
        """True when this partition emits ``stream_name`` (a stream of its source)."""
        if stream_name in FULL_TABLES:
            return self.full_tables
        if self.source != "hrflow":
            return True
        dimension = _hrflow_dimension(stream_name, config)
        if dimension is None:
            return True
        sliced = self.source_keys is not None or self.board_keys is not None
        if not sliced:
            return True
        return (self.source_keys if dimension == "source" else self.board_keys) is not None

    def settings(self, settings: dict[str, t.Any]) -> dict[str, t.Any]:
        """The source's settings as the slice's streams read them (HrFlow: the partition's keys)."""
        if self.source != "hrflow" or (self.source_keys is None and self.board_keys is None):
            return settings
        return {**settings, "source_keys": list(self.source_keys or ()), "board_keys": list(self.board_keys or ())}


def _hrflow_dimension(stream_name: str, config: Mapping[str, t.Any]) -> str | None:
    """Which HrFlow keys slice ``stream_name``: "source", "board", or None (not sliced by keys)."""
    if stream_name in {"hrflow_profiles", "hrflow_profile_attachments"}:
        return "source"
    if stream_name == "hrflow_jobs":
        return "board"
    if stream_name in {"hrflow_trackings", "hrflow_ratings"}:  # read by source keys, else by board keys
        return "source" if source_settings(config, "hrflow").get("source_keys") else "board"
    return None


def _given(raw: Mapping[str, t.Any] | None) -> bool:
    """A partition setting is given (Meltano may pass an empty object for an unset one)."""
    return isinstance(raw, dict) and bool(raw)


def problems(config: Mapping[str, t.Any], configured: Iterable[str]) -> list[str]:
    """What makes ``config['partition']`` impossible to honour, one line each, naming the field."""
    raw = config.get("partition")
    if raw is None or raw == {}:
        return []
    if not isinstance(raw, dict):
        return ["partition must be an object (see --about)"]
    found: list[str] = [
        f"partition.{name} is not a partition field (fields: {', '.join(FIELDS)})" for name in raw if name not in FIELDS
    ]
    source = raw.get("source")
    if source not in SOURCES:
        return [*found, f"partition.source must be one of {', '.join(SOURCES)}"]
    if source not in set(configured):
        found.append(f"partition.source: {source} is not configured")
    for name, owner in OWNED_BY.items():
        if raw.get(name) is not None and owner != source:
            found.append(f"partition.{name} applies to {owner} only, not {source}")
    if raw.get("name") is not None and not isinstance(raw["name"], str):
        found.append("partition.name must be a string")
    if raw.get("full_tables") is not None and not isinstance(raw["full_tables"], bool):
        found.append("partition.full_tables must be true or false")
    found += _window_problems(config, raw, source)
    settings = source_settings(config, source)
    if source == "youserve" and raw.get("business_types") is not None:
        types = raw["business_types"]
        if not isinstance(types, list) or not types or not all(_is_int(v) for v in types):
            found.append("partition.business_types must be a non-empty list of business type ids")
        elif settings.get("business_types") and not set(types) <= set(settings["business_types"]):
            found.append("partition.business_types must be among youserve.business_types")
    if source == "hrflow":
        for name in ("source_keys", "board_keys"):
            keys = raw.get(name)
            if keys is None:
                continue
            if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
                found.append(f"partition.{name} must be a non-empty list of keys")
            elif not set(keys) <= set(settings.get(name) or ()):
                found.append(f"partition.{name} must be among hrflow.{name}")
    return found


def _modified(config: Mapping[str, t.Any]) -> bool:
    """Talentsoft in ``modified`` replication (the default): sliced by modification date."""
    return source_settings(config, "talentsoft").get("replication", "modified") == "modified"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _window_problems(config: Mapping[str, t.Any], raw: Mapping[str, t.Any], source: str) -> list[str]:
    found = []
    bounds = {}
    for name in ("start", "end"):
        value = raw.get(name)
        if value is None:
            continue
        if source not in DATED and not (source == "talentsoft" and _modified(config)):
            found.append(
                f"partition.{name}: {source} is not sliced by date (talentsoft: only with talentsoft.replication: "
                "modified; hrflow: use its keys)"
            )
            continue
        moment = utc_timestamp(value)
        if moment is None:
            found.append(f"partition.{name} is not a date-time (e.g. 2024-01-01T00:00:00Z)")
            continue
        if moment.microsecond:
            found.append(f"partition.{name} must be a whole second")
        bounds[name] = moment
        if source == "coresignal" and source_settings(config, source).get("job_ids"):
            found.append(f"partition.{name}: coresignal.job_ids requests cannot be sliced by last_updated")
    if "start" in bounds and "end" in bounds and bounds["start"] >= bounds["end"]:
        found.append("partition.start must be before partition.end")
    return found


def parse(config: Mapping[str, t.Any]) -> Partition | None:
    """The partition of ``config`` (checked by :func:`problems` first), or None."""
    raw = config.get("partition")
    if not _given(raw):
        return None
    raw = t.cast("dict[str, t.Any]", raw)

    def keys(name: str) -> tuple[str, ...] | None:
        return tuple(sorted(set(raw[name]))) if raw.get(name) is not None else None

    return Partition(
        source=str(raw["source"]),
        name=raw.get("name"),
        start=utc_timestamp(raw.get("start")),
        end=utc_timestamp(raw.get("end")),
        business_types=tuple(sorted({int(v) for v in raw["business_types"]}))
        if raw.get("business_types") is not None
        else None,
        source_keys=keys("source_keys"),
        board_keys=keys("board_keys"),
        full_tables=bool(raw.get("full_tables")),
    )


def safe_name(text: str) -> str:
    """A Dagster partition key: [A-Za-z0-9_-] only."""
    return _UNSAFE.sub("_", text)


class ListingError(ValueError):
    """The config cannot be partitioned (one line)."""


def backfill(
    config: Mapping[str, t.Any], configured: Iterable[str], now: datetime | None = None
) -> list[dict[str, t.Any]]:
    """The partitions of a backfill for ``config``: ``{"name": ..., "partition": {...}}`` each, stable.

    Dated sources: windows of ``partition_days`` from ``start_date``, the last one open-ended.
    Talentsoft in ``offset`` replication and Coresignal with ``job_ids`` cannot be sliced:
    one partition each. HrFlow: one per source key, then one per board key.
    """
    now = now or datetime.now(timezone.utc)
    settings = global_settings(config)
    days = int(settings.get("partition_days") or 30)
    start = utc_timestamp(config.get("start_date"))
    listed: list[dict[str, t.Any]] = []
    for source in configured:
        own = source_settings(config, source)
        entries: list[tuple[str, dict[str, t.Any]]] = []
        unsliced = (
            source not in {*DATED, "hrflow", "talentsoft"}
            or (source == "coresignal" and own.get("job_ids"))
            or (source == "talentsoft" and (not _modified(config) or start is None))
        )
        if source == "hrflow":
            entries += [
                (f"hrflow-source-{key}", {"source": source, "source_keys": [key]})
                for key in own.get("source_keys") or ()
            ]
            entries += [
                (f"hrflow-board-{key}", {"source": source, "board_keys": [key]}) for key in own.get("board_keys") or ()
            ]
            if not entries:  # nothing to slice by: the whole source
                entries.append(("hrflow", {"source": source}))
        elif unsliced:
            entries.append((source, {"source": source}))
        else:
            if start is None:
                msg = f"{source} is partitioned by date: set start_date (the first window starts there)"
                raise ListingError(msg)
            moment = start
            while True:
                following = moment + timedelta(days=days)
                partition: dict[str, t.Any] = {"source": source, "start": _iso(moment)}
                if following <= now:
                    partition["end"] = _iso(following)
                entries.append((f"{source}-{moment:%Y%m%d}", partition))
                if following > now:
                    break
                moment = following
        for index, (name, partition) in enumerate(entries):
            partition["name"] = safe_name(name)
            partition["full_tables"] = index == 0
            listed.append({"name": safe_name(name), "partition": partition})
    return listed


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
