"""Coresignal "data request ready" notifications: the receiver's route, what the tap reads of them, the run hook.

Coresignal's Bulk Collect POSTs take a ``webhook_url`` and notify it "when your data
request is ready"; the notification's body is not documented and nothing signs it. So:

- the route authenticates with the receiver's token (``coresignal.webhook_secret`` in the
  callback URL's path, ``/coresignal/{secret}``; the tap writes the secret into
  ``coresignal.webhook_url`` where it holds ``{secret}``, when it POSTs);
- a body is read liberally: one JSON object (or an array of them) naming its data request
  in ``data_request_id`` / ``request_id`` / ``requestId`` / ``dataRequestId`` / ``id``, at
  the top level or inside ``data`` / ``payload`` / ``data_request``; it is journalled
  whole, as event ``data_request_ready``; a body naming no request is refused (400) and
  the receiver's log says why;
- ``bulk_jobs`` reads the journal (:class:`ReadyNotices`): a pending request Coresignal
  said is ready is listed at once, and a run waiting between two polls lists it as soon
  as its notification arrives, instead of sleeping ``poll_interval_seconds``;
- ``serve --on-coresignal-ready COMMAND`` runs a command (a Meltano job) after each
  notification is journalled (:class:`ReadyCommand`): started after the answer is
  decided, never two at once.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time
import typing as t

from tap_hrdata.webhooks.talentsoft import BadEventError, ParsedEvent, event_key

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Mapping, Sequence

    from tap_hrdata.webhooks.journal import JournalReader

#: The one event of the route.
READY_EVENT = "data_request_ready"
ID_FIELDS = ("data_request_id", "request_id", "requestId", "dataRequestId", "id")
NESTS = ("data", "payload", "data_request", "dataRequest")
#: Most notifications in one body.
MAX_BATCH = 100
#: How often a run waiting for a data request looks for its notification (seconds).
CHECK_SECONDS = 0.25


def request_id_of(body: Mapping[str, t.Any]) -> str | None:
    """The data request a notification names, or None."""
    places: list[Mapping[str, t.Any]] = [body]
    places += [body[nest] for nest in NESTS if isinstance(body.get(nest), dict)]
    for place in places:
        for name in ID_FIELDS:
            value = place.get(name)
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                continue
            found = str(value).strip()
            if found:
                return found
    return None


def parse_notifications(body: bytes, hint: str | None = None) -> list[ParsedEvent]:
    """The notifications of a callback body; :class:`BadEventError` when it is not acceptable."""
    if hint is not None:
        msg = "the Coresignal route is /coresignal/{secret}: the URL names no event"
        raise BadEventError(msg)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        msg = "the body is not JSON"
        raise BadEventError(msg) from None
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > MAX_BATCH:
        msg = f"the body holds no notification, or more than {MAX_BATCH}"
        raise BadEventError(msg)
    events = []
    for item in items:
        if not isinstance(item, dict):
            msg = "a notification is not a JSON object"
            raise BadEventError(msg)
        if request_id_of(item) is None:
            fields = ", ".join(sorted(str(name)[:40] for name in item)[:20]) or "none"
            msg = f"a notification names no data request (data_request_id, request_id or id); its fields: {fields}"
            raise BadEventError(msg)
        events.append(ParsedEvent(event=READY_EVENT, event_key=event_key(READY_EVENT, item), body=item))
    return events


class ReadyNotices:
    """The data requests Coresignal notified as ready, read from the receiver's journal (read-only).

    Reads the journal from where it last stopped up to the end of its complete lines; keeps
    what it read in memory only (no state: the journal is the record).
    """

    def __init__(self, reader: JournalReader | None) -> None:
        self.reader = reader
        self.position = 0
        self.notified: set[str] = set()

    def read(self) -> set[str]:
        """Read what was journalled since the last read; the request ids it names."""
        reader = self.reader
        if reader is None:
            return set()
        end = reader.complete_end()
        if end == self.position:
            return set()
        if end < self.position or not reader.at_line_start(self.position):  # replaced or cut: read it again
            self.position = 0
            self.notified.clear()
        fresh: set[str] = set()
        for entry in reader.entries(after=self.position, until=end):
            body = entry.fields.get("body")
            found = request_id_of(body) if isinstance(body, dict) else None
            if found is not None:
                fresh.add(found)
        self.position = end
        self.notified |= fresh
        return fresh

    def ready(self, request_id: str) -> bool:
        """Whether a notification for ``request_id`` is journalled (read up to the journal's end)."""
        self.read()
        return str(request_id) in self.notified

    def wait(self, request_id: str, seconds: float, sleep: t.Callable[[float], None]) -> bool:
        """Sleep up to ``seconds``; True as soon as a *new* notification names ``request_id``."""
        if self.reader is None:
            sleep(seconds)
            return False
        deadline = time.monotonic() + seconds
        while True:
            if str(request_id) in self.read():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            sleep(min(CHECK_SECONDS, remaining))


class ReadyCommand:
    """``serve --on-coresignal-ready COMMAND``: run COMMAND after each journalled notification.

    The command is started in a thread of its own, so the receiver's answer never waits for
    it; while it runs, further notifications ask for one more run after it (never two at
    once, none lost: the run that follows reads what arrived meanwhile). The command line is
    the user's, split like a shell's words and run without a shell: nothing is added to it
    (the secrets stay in the environment or config the command reads itself). Its output
    goes where the receiver's goes; only its program name and exit code are logged.
    """

    def __init__(self, command: str, logger: logging.Logger) -> None:
        self.argv: Sequence[str] = shlex.split(command)
        if not self.argv:
            msg = "--on-coresignal-ready needs a command, e.g. 'meltano run tap-hrdata target-postgres'"
            raise ValueError(msg)
        self.logger = logger
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def program(self) -> str:
        """The command's program, as logs name it."""
        return self.argv[0]

    def __call__(self, events: Sequence[ParsedEvent]) -> None:
        """The receiver's listener: a run after these notifications (returns at once)."""
        self.trigger()

    def trigger(self) -> None:
        """Start a run, or ask for one more after the run going on."""
        with self._lock:
            if self._running:
                self._again = True
                self.logger.info("webhooks: coresignal: %s is running; it runs once more after it", self.program)
                return
            self._running = True
        threading.Thread(target=self._loop, name="coresignal-ready-command", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._run_once()
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def _run_once(self) -> None:
        try:
            process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, close_fds=True)  # noqa: S603  # the user's command, no shell
        except OSError as exc:
            self.logger.error(  # noqa: TRY400  # the command line is not logged, only its program
                "webhooks: coresignal: %s could not be started (%s)", self.program, exc.strerror or type(exc).__name__
            )
            return
        self.process = process
        self.runs += 1
        self.logger.info("webhooks: coresignal: data request ready: started %s (pid %d)", self.program, process.pid)
        code = process.wait()
        log = self.logger.info if code == 0 else self.logger.warning
        log("webhooks: coresignal: %s (pid %d) exited with code %d", self.program, process.pid, code)

    def running(self) -> subprocess.Popen[bytes] | None:
        """The command's process while it runs, else None."""
        with self._lock:
            process = self.process if self._running else None
        return process if process is not None and process.poll() is None else None
