"""Personal data redacted before a record leaves the tap: typed columns and ``raw`` alike.

A stream map (``md5(email)``) only reaches the top-level columns it names; the complete
vendor object in ``raw`` would still carry the address. The ``redact`` setting names
vendor field paths per stream (``{"candidates": ["personalInformation.email"]}``); each
path is matched as a suffix of the dotted path of every field inside ``raw`` (lists are
crossed transparently), and every typed column read from a matching field (its stream's
:attr:`~tap_hrdata.streams.VendorStream.column_sources`) is redacted with it. A path may
also name a typed column directly (``email``), which redacts the fields it is read from.

``hash`` replaces a value by the hex HMAC-SHA256 of its text under ``redact_salt`` (strings
as they are, anything else as compact JSON): equal values stay equal, so joins and
distinct counts still work, and without the salt no one can test a guessed address.
``drop`` removes the field from ``raw`` and nulls the column.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import json
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

FieldPath = tuple[str, ...]
MIN_SALT_CHARS = 16
RAW = "raw"


def parse_path(text: str) -> FieldPath:
    """``personalInformation.email`` as its segments."""
    return tuple(text.split("."))


def ends_with(path: FieldPath, suffix: FieldPath) -> bool:
    """Whether ``suffix`` is the end of ``path``."""
    return len(suffix) <= len(path) and path[len(path) - len(suffix) :] == suffix


def within(source: FieldPath, path: FieldPath) -> bool:
    """Whether the field at ``source`` is one ``path`` matches, or lies inside one."""
    return any(ends_with(source[:end], path) for end in range(len(path), len(source) + 1))


@dataclass(frozen=True)
class StreamRedaction:
    """What one stream redacts: the field paths inside ``raw`` and the typed columns."""

    paths: tuple[FieldPath, ...]
    columns: frozenset[str]

    @classmethod
    def of(cls, configured: Sequence[str], column_sources: Mapping[str, tuple[FieldPath, ...]]) -> StreamRedaction:
        """The redaction the configured paths mean for a stream whose columns read ``column_sources``."""
        paths = [parse_path(text) for text in configured]
        columns = set()
        for column, sources in column_sources.items():
            if (column,) in paths:
                columns.add(column)
                paths.extend(sources)  # a column named directly: the fields it is read from too
            elif any(within(source, path) for source in sources for path in paths):
                columns.add(column)
        named = {path[0] for path in paths if len(path) == 1}
        return cls(paths=tuple(dict.fromkeys(paths)), columns=frozenset(columns | (named - {RAW})))


class Redactor:
    """Applies one stream's redaction to its records (new objects; the input is not changed)."""

    def __init__(self, redaction: StreamRedaction, mode: str, salt: str | None) -> None:
        self.redaction = redaction
        self.drop = mode == "drop"
        self._key = (salt or "").encode()
        self._last = max((len(path) for path in redaction.paths), default=0)
        self._names = {path[-1] for path in redaction.paths}

    def mask(self, value: t.Any) -> str:
        """The salted hash of a value (strings as their text, others as compact JSON)."""
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def apply(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record with its personal fields hashed or dropped."""
        redacted = dict(record)
        for column in self.redaction.columns:
            if redacted.get(column) is not None:
                redacted[column] = None if self.drop else self.mask(redacted[column])
        if isinstance(redacted.get(RAW), (dict, list)):
            redacted[RAW] = self._tree(redacted[RAW], ())
        return redacted

    def _matches(self, path: FieldPath) -> bool:
        return path[-1] in self._names and any(ends_with(path, suffix) for suffix in self.redaction.paths)

    def _tree(self, value: t.Any, path: FieldPath) -> t.Any:
        if isinstance(value, list):
            return [self._tree(item, path) for item in value]
        if not isinstance(value, dict):
            return value
        result: dict[str, t.Any] = {}
        for name, item in value.items():
            here = (*path, name)
            if self._matches(here):
                if not self.drop:
                    result[name] = None if item is None else self.mask(item)
                continue
            result[name] = self._tree(item, here) if isinstance(item, (dict, list)) else item
        return result


def redaction_problems(
    config: Mapping[str, t.Any], streams: Mapping[str, t.Any], candidates: Sequence[str]
) -> list[str]:
    """What is wrong with ``redact``, ``redact_mode`` and ``redact_salt`` for these streams.

    ``streams``: the configured streams by name (each with its keys, schema and column
    sources); ``candidates``: every stream name of the tap, for a did-you-mean.
    """
    redact = config.get("redact") or {}
    mode = config.get("redact_mode") or "hash"  # its values: checked by the settings schema
    problems = []
    if not isinstance(redact, dict):
        return ['redact must be an object: {"stream": ["field.path", ...]}']
    salt = config.get("redact_salt")
    if redact and mode == "hash" and (not isinstance(salt, str) or len(salt) < MIN_SALT_CHARS):
        problems.append(f"redact_salt: set a secret of at least {MIN_SALT_CHARS} characters to hash redacted fields")
    for stream_name, paths in redact.items():
        where = f"redact.{stream_name}"
        if stream_name not in candidates:
            close = difflib.get_close_matches(stream_name, list(candidates), n=1)
            problems.append(f"{where}: no such stream" + (f" (did you mean '{close[0]}'?)" if close else ""))
            continue
        if not isinstance(paths, list) or not all(isinstance(p, str) and p.strip(".") == p and p for p in paths):
            problems.append(f"{where} must be a list of dotted field paths such as personalInformation.email")
            continue
        stream = streams.get(stream_name)
        if stream is None:
            continue  # a stream of a source not configured in this run
        redaction = StreamRedaction.of(paths, stream.column_sources)
        keys = {*stream.primary_keys, *([stream.replication_key] if stream.replication_key else [])}
        for column in sorted(redaction.columns & keys):
            problems.append(f"{where}: cannot redact '{column}', a key of the stream (records would collide)")
        if mode == "hash":
            properties = stream.schema["properties"]
            for column in sorted(redaction.columns - keys):
                kinds = properties.get(column, {}).get("type", "string")
                kinds = [kinds] if isinstance(kinds, str) else kinds
                if "string" not in kinds:
                    problems.append(
                        f"{where}: column '{column}' is not text, so a hash cannot replace it; "
                        "set redact_mode to drop, or leave it out"
                    )
    return problems
