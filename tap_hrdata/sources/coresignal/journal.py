"""The journal of paid Coresignal data requests, beside the files, so no run ever pays twice.

The state alone cannot carry the guarantee: Meltano stores no state for a failed run, so
a run that paid for a request and then failed (in the tap, in the target) hands the next
run the *old* state, which names no pending request, and the next POST either pays again
or, while the first is in progress, is refused with 409. The journal lives under
``files_storage_url`` (``coresignal/requests/{key}.json``), where the next run finds it
whatever happened to the state:

- an entry is written as soon as the POST's answer names the request, before anything is
  done with it;
- a run about to POST looks for an entry of the same request first (same API, same
  filters or ids, same lower bound of ``last_updated``) and resumes that one instead;
- an entry is marked done once every record of its request is emitted, and removed only
  when a later run starts from a state that covers those records (its bookmark at or past
  the request's), that is when the target has committed them.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import typing as t

from tap_hrdata.values import utc_timestamp

if t.TYPE_CHECKING:
    import logging
    from datetime import datetime

    from tap_hrdata.storage import FileStorage

FOLDER = ("coresignal", "requests")


def request_key(generation: str, endpoint: str, body: object, since: datetime | None) -> str:
    """The journal key of a request: its API, endpoint, body and lower bound.

    The body leaves out the window's upper bound, which the halving computes from the clock.
    """
    digest = hashlib.sha256(
        json.dumps([generation, endpoint, body], sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()[:24]
    return f"{digest}-{since:%Y%m%dT%H%M%S}" if since is not None else f"{digest}-start"


class RequestJournal:
    """Entries of paid data requests, one small JSON object each, under the storage root."""

    def __init__(self, storage: FileStorage, logger: logging.Logger) -> None:
        self.storage = storage
        self.logger = logger

    def _path(self, key: str) -> str:
        return self.storage.key_path(*FOLDER, f"{key}.json")

    def read(self, key: str) -> dict[str, t.Any] | None:
        """The entry of ``key``, or None (an unreadable entry is reported and ignored)."""
        path = self._path(key)
        fs = self.storage.fs
        if not fs.exists(path):
            return None
        try:
            entry = json.loads(fs.cat_file(path))
        except (OSError, ValueError) as exc:
            self.logger.warning("coresignal: journal entry %s is unreadable (%s); ignored", key, type(exc).__name__)
            return None
        return entry if isinstance(entry, dict) and entry.get("id") else None

    def write(self, key: str, entry: dict[str, t.Any]) -> None:
        """Write (or replace) an entry, atomically."""
        self.storage.write((*FOLDER, f"{key}.json"), [json.dumps(entry, sort_keys=True).encode()])

    def record(self, key: str, pending: dict[str, t.Any]) -> None:
        """A request was just paid for: journal it before anything else."""
        kept: dict[str, t.Any] = {
            name: pending[name] for name in ("id", "api", "created_at", "window") if name in pending
        }
        self.write(key, {"key": key, **kept})

    def done(self, key: str, bookmark: str | None) -> None:
        """Every record of the request is emitted; ``bookmark``: the bookmark that covers them."""
        entry = self.read(key)
        if entry is None:
            return
        if bookmark is None:  # nothing was delivered, nothing to wait for
            self.forget(key)
            return
        self.write(key, {**entry, "done": True, "bookmark": bookmark})

    def forget(self, key: str) -> None:
        """Remove an entry and its claim (missing is fine)."""
        path = self._path(key)
        if self.storage.fs.exists(path):
            self.storage.fs.rm(path)
        self.release(key)

    def _claim_path(self, key: str) -> str:
        return self.storage.key_path(*FOLDER, f"{key}.claim")

    def claim(self, key: str) -> bool:
        """Claim the right to POST the request of ``key``: True for the one run whose exclusive create wins.

        Local storage: ``open(path, "x")`` (O_EXCL). Object stores: fsspec's ``"xb"`` mode, a
        conditional put (If-None-Match) where the backend has one (s3fs does); a backend
        without it falls back to look-then-write, which two runs starting within the same
        instant can both pass (logged as a warning).
        """
        path = self._claim_path(key)
        fs = self.storage.fs
        if self.storage.local:
            fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        owner = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}).encode()
        try:
            with fs.open(path, "xb") as claim:
                claim.write(owner)
        except FileExistsError:
            return False
        except (ValueError, NotImplementedError, TypeError):
            self.logger.warning(
                "coresignal: this storage has no exclusive create; two runs of one partition at once could both pay"
            )
            if fs.exists(path):
                return False
            fs.pipe_file(path, owner)
        return True

    def abandoned(self, key: str, lease_seconds: float) -> str | None:
        """Why the claim of ``key`` belongs to no live run (None while it may): its owner died.

        A run killed (SIGKILL, a lost machine) between its claim and the journal entry leaves
        the claim behind; waiting on it would stop every later run. On this host a claim whose
        process is gone is abandoned at once; from another host, once it is older than
        ``lease_seconds`` (longer than a POST may take). Taking it over is safe: if the dead
        run's POST was charged, the vendor refuses the same request again (409), as before
        claims existed.
        """
        try:
            owner = json.loads(self.storage.fs.cat_file(self._claim_path(key)))
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(owner, dict):
            return "its claim file is not a claim"
        pid, host, at = owner.get("pid"), owner.get("host"), owner.get("at")
        if host == socket.gethostname() and isinstance(pid, int) and pid != os.getpid() and not _alive(pid):
            return f"its process {pid} on this host is gone"
        if isinstance(at, (int, float)) and time.time() - at > lease_seconds:
            return f"it is older than {lease_seconds:.0f} s"
        return None

    def claimed(self, key: str) -> bool:
        """True while some run holds the claim of ``key``."""
        return bool(self.storage.fs.exists(self._claim_path(key)))

    def release(self, key: str) -> None:
        """Give the claim of ``key`` up (missing is fine)."""
        path = self._claim_path(key)
        if self.storage.fs.exists(path):
            self.storage.fs.rm(path)

    def prune(
        self,
        committed: str | None,
        pending_id: str | None,
        within: tuple[datetime | None, datetime | None] | None = None,
    ) -> int:
        """Remove the done entries the starting state covers; how many.

        ``committed`` is the bookmark of the state the run started with (a target wrote it
        after committing the records before it); ``pending_id`` the request that state
        names as pending, never removed. ``within``: a partition's ``[start, end)``, outside
        which entries belong to other partitions (whose own states decide), never removed here.
        """
        committed_at = utc_timestamp(committed)
        if committed_at is None:
            return 0
        removed = 0
        for path in self.storage.fs.glob(self.storage.key_path(*FOLDER) + "/*.json"):
            key = path.rsplit("/", 1)[-1].removesuffix(".json")
            entry = self.read(key)
            if entry is None or not entry.get("done") or entry.get("id") == pending_id:
                continue
            if within is not None and not _inside(entry, *within):
                continue
            covered = utc_timestamp(entry.get("bookmark"))
            if covered is not None and covered <= committed_at:
                self.forget(key)
                removed += 1
        return removed


def _inside(entry: dict[str, t.Any], start: datetime | None, end: datetime | None) -> bool:
    """True when the entry's window starts inside ``[start, end)``."""
    window = entry.get("window")
    since = utc_timestamp(window.get("gte")) if isinstance(window, dict) else None
    if since is None:
        return start is None
    return (start is None or since >= start) and (end is None or since < end)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
