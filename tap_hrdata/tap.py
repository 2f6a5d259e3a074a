"""TapHrData: the settings contract, discovery of the configured sources only, run-wide services."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import signal
import typing as t
from functools import cached_property

import click
from singer_sdk import Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import StateMessage
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_hrdata import partitions
from tap_hrdata.http.urls import check_transport
from tap_hrdata.preflight import Preflight, PreflightError, settings_problems, without_secret_values
from tap_hrdata.privacy import redaction_problems
from tap_hrdata.settings import CONFIG_SCHEMA, global_settings, source_settings
from tap_hrdata.sources import all_sources
from tap_hrdata.statecheck import StateError, check_shape
from tap_hrdata.storage import FileStorage
from tap_hrdata.streams import VendorStream

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

    from singer_sdk import Stream
    from singer_sdk.singerlib import Message
    from singer_sdk.tap_base import _ConfigInput

    from tap_hrdata.http.client import VendorClient
    from tap_hrdata.sources import Source

ClientT = t.TypeVar("ClientT", bound="VendorClient")


class MessageWriter(MsgSpecWriter):
    """The SDK's msgspec writer; a message is always written whole, whatever signal arrives meanwhile.

    A target that reads slowly leaves the tap blocked in this write. A termination signal
    that arrives then takes effect once the line is complete (``hold``), never leaving a
    cut line, nor a STATE written into the middle of another message.
    """

    def __init__(self, hold: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext) -> None:
        super().__init__()
        self.hold = hold
        #: STATE messages this run wrote: until the first, a stopped run writes none.
        self.states_written = 0

    @override
    def write_message(self, message: Message) -> None:
        """Write ``message`` whole before a termination signal takes effect."""
        with self.hold():
            super().write_message(message)
            if isinstance(message, StateMessage):
                self.states_written += 1


def _about_description() -> str:
    """One line (the --about formatters expect one): each source, what enables it, its streams."""
    parts = []
    for source in all_sources():
        streams = ", ".join(cls.name for cls in source.stream_types)  # type: ignore[misc]  # class attribute
        parts.append(f"{source.title} (enabled by {source.enabled_by()}): {streams}")
    return "Singer tap for HR data. Sources and their streams: " + "; ".join(parts) + "."


class TapHrData(Tap):
    """Singer tap for HR data."""

    name = "tap-hrdata"
    # A copy: the SDK adds its built-in settings (stream_maps ...) to this dict in place.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    message_writer_class = MessageWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._clients: dict[type[VendorClient], VendorClient] = {}
        self._preflight_done = False
        self._summaries_logged = False
        # Termination signals (see _handle_termination); set first: a signal may come at any time.
        self._held = 0  # depth of the steps a signal must not cut in half
        self._held_signal: int | None = None
        self._stopping = False
        state = kwargs.get("state")
        if state is not None and not isinstance(state, (dict, str, os.PathLike)):
            check_shape(state)  # a list ...: the SDK would take it for a file path
        kwargs.setdefault("message_writer", MessageWriter(hold=self.uninterrupted))
        try:
            super().__init__(*args, **kwargs)
        except ConfigValidationError as exc:  # the SDK's schema check: its messages may hold a secret
            errors = without_secret_values(exc.errors or [str(exc)])
            raise PreflightError(errors[0], errors=errors) from None

    @override
    def load_state(self, state: dict[str, t.Any]) -> None:
        """Check the state before the SDK merges it: a corrupt or foreign one stops the run at once.

        The SDK's own merge raises a bare ``TypeError`` or ``AttributeError`` on a list, on
        ``bookmarks: []`` or on a stream state that is not an object, naming nothing; and a
        stream trusting a bad bookmark would skip records or pay for an empty request.
        :class:`StateError` names the path of the bad value. Each stream class checks its own
        bookmarks (:meth:`VendorStream.check_state`), for the configured sources only (another
        pipeline's leftovers are not this run's business).
        """
        check_shape(state)
        bookmarks = state.get("bookmarks", {})
        for source in self.configured_sources():
            for stream_type in source.stream_types:
                name = stream_type.name  # type: ignore[misc]  # class attribute
                if name in bookmarks:
                    stream_type.check_state(bookmarks[name])
        self.check_partition_state(bookmarks)
        super().load_state(state)
        if self.partition is not None:  # every stream state this run writes names its partition
            for stream_type in self.partition_stream_types():
                name = stream_type.name  # type: ignore[misc]  # class attribute
                self.state.setdefault("bookmarks", {}).setdefault(name, {})[partitions.STATE_KEY] = (
                    self.partition.fingerprint
                )

    @cached_property
    def partition(self) -> partitions.Partition | None:
        """The ``partition`` setting, once it is known to be valid (None: unpartitioned, or refused later)."""
        configured = [s.name for s in all_sources() if s.is_configured(source_settings(self.config, s.name))]
        if partitions.problems(self.config, configured):
            return None
        return partitions.parse(self.config)

    def partition_stream_types(self) -> list[type[VendorStream]]:
        """The stream classes this run syncs: every one of the configured sources, or the partition's."""
        return [
            stream_type
            for source in self.configured_sources()
            for stream_type in source.stream_types
            if self.partition is None or self.partition.covers(stream_type.name, self.config)  # type: ignore[misc]
        ]

    def check_partition_state(self, bookmarks: dict[str, t.Any]) -> None:
        """Refuse a state written by another partition, or by an unpartitioned run (:class:`StateError`).

        Each partition keeps its own state (a Meltano state id per partition); a state that
        reached the wrong run would skip records of the slice, or delete YouServe files it
        does not cover. Every stream state a partition run writes names the partition's
        fingerprint (``bookmarks.<stream>.partition``); a stream state without one is an
        unpartitioned run's.
        """
        expected = self.partition.fingerprint if self.partition is not None else None
        for stream_type in self.partition_stream_types():
            name = stream_type.name  # type: ignore[misc]  # class attribute
            stream_state = bookmarks.get(name)
            if not stream_state:
                continue
            found = stream_state.get(partitions.STATE_KEY)
            if found == expected:
                continue
            this = "unpartitioned"
            if self.partition is not None:
                this = f"partition {expected} ({self.partition.describe()})"
            written = f"partition {found}" if found else "an unpartitioned run"
            msg = (
                f"state: bookmarks.{name}.{partitions.STATE_KEY}: this state was written by {written}, this run is "
                f"{this}; give each partition its own state (meltano run --state-id-suffix <partition name>)"
            )
            raise StateError(msg)

    @classmethod
    @override
    def invoke(  # type: ignore[override]  # the SDK's own signature, as Tap declares it
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        state: t.IO[str] | None = None,
        catalog: t.IO[str] | None = None,
    ) -> None:
        """The SDK's run, with a bad ``--state`` file one line naming it, exit code 1, before any request.

        The SDK reads the file with ``load_json`` and gives the value to the tap: a file that
        is not JSON, or JSON that is not a state, would end in a traceback naming neither.
        """
        if state is None or about:
            super().invoke(about=about, about_format=about_format, config=config, state=state, catalog=catalog)
            return
        where = f"state file {getattr(state, 'name', '--state')}"
        ctx = click.get_current_context()
        try:
            text = state.read()
            json.loads(text)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            cls.logger.error("%s is not JSON (%s)", where, exc)  # noqa: TRY400  # the line is the message
            ctx.exit(1)
        try:
            super().invoke(
                about=about, about_format=about_format, config=config, state=io.StringIO(text), catalog=catalog
            )
        except StateError as exc:
            cls.logger.error("%s (%s)", exc, where)  # noqa: TRY400  # the line is the message
            ctx.exit(1)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # An SDK internal, overridden because the SDK gives no other way: it registers this
        # method for SIGTERM and SIGINT itself, writes the state and exits 0, so an
        # orchestrator records a stopped run as a success. Here the run stops with exit code
        # 128 + the signal (143, 130), after one last STATE, and never in the middle of a
        # message or of a paid request (see uninterrupted). Tested by tests/faults/test_signals.py.
        if self._stopping:
            return  # a second signal: the first one's stop is under way
        if self._held:
            self._held_signal = self._held_signal or signum
            return
        self._stop(signum)

    def _stop(self, signum: int) -> t.NoReturn:
        """Write the state as it is now (once the run wrote its first STATE), then exit 128 + ``signum``.

        The state is consistent at any moment: every position in it counts only records already
        written. Before the run's first STATE nothing is written: the state then may not even
        be loaded, and an empty STATE would replace the bookmarks a target holds.
        """
        self._stopping = True
        self._held_signal = None
        name = signal.Signals(signum).name
        writer = getattr(self, "message_writer", None)
        wrote_state = isinstance(writer, MessageWriter) and writer.states_written > 0
        if wrote_state:
            self.state_writer.write_state(self.state)
        self.logger.warning(
            "%s received: the run stops with exit code %d; %s",
            name,
            128 + signum,
            "the last STATE written is where the next run resumes"
            if wrote_state
            else "no STATE was written, the next run starts from this run's state",
        )
        raise SystemExit(128 + signum)

    @contextlib.contextmanager
    def uninterrupted(self) -> Iterator[None]:
        """A step that a termination signal must not cut in half; a signal meanwhile acts right after it.

        Writing a message, and a paid Coresignal request until its id is journalled and in a
        STATE. A step that fails lets its exception through (the run fails, exit code 1).
        """
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held and self._held_signal is not None:
            self._stop(self._held_signal)

    @override
    def discover_streams(self) -> list[Stream]:
        """Streams of the configured sources, once the settings make sense (no network yet).

        Every problem of the settings is one line of one ConfigValidationError, raised before
        any request: a misspelled or halfway configured source is an error, never a source
        silently left out.
        """
        problems = settings_problems(self.config, self.config_jsonschema["properties"], all_sources())
        configured = [s.name for s in all_sources() if s.is_configured(source_settings(self.config, s.name))]
        problems += partitions.problems(self.config, configured)
        wanted = set(self.partition_stream_types())
        streams: list[Stream] = []
        for source in self.configured_sources():
            client = self.client(source.client_type)
            problems += client.problems()
            for setting, url in client.urls().items():
                try:
                    check_transport(url, f"{source.name}.{setting}")
                except ConfigValidationError as exc:
                    problems += exc.errors
            streams.extend(stream_type(tap=self) for stream_type in source.stream_types if stream_type in wanted)
        names = [kind.name for source in all_sources() for kind in source.stream_types]  # type: ignore[misc]
        problems += redaction_problems(self.config, {stream.name: stream for stream in streams}, names)
        if problems:
            raise PreflightError(problems[0], errors=problems)
        return streams

    @property
    @override
    def streams(self) -> dict[str, Stream]:
        """The streams in the order they sync: source by source, Coresignal (paid) last.

        The SDK sorts streams by name, which put ``bulk_jobs`` first: a paid data request
        would be bought before a failure elsewhere stopped the run. In this order a failure
        in any other source stops the run before a credit is spent.
        """
        kinds = [kind for source in all_sources() for kind in source.stream_types]
        order: dict[type[Stream], int] = {kind: rank for rank, kind in enumerate(kinds)}
        by_name = super().streams
        return dict(sorted(by_name.items(), key=lambda item: order.get(type(item[1]), len(order))))

    def configured_sources(self) -> list[Source]:
        """The sources whose settings are there (in documentation order: Coresignal, the paid one, last).

        With a ``partition``, its source only.
        """
        configured = [s for s in all_sources() if s.is_configured(source_settings(self.config, s.name))]
        if self.partition is not None:
            return [s for s in configured if s.name == self.partition.source]
        return configured

    def client(self, client_type: type[ClientT]) -> ClientT:
        """The one client of a source for this run, shared by its streams (and its token)."""
        if client_type not in self._clients:
            client = client_type(self.config, self.logger, before_first_send=self.ensure_preflight)
            if self.partition is not None and self.partition.source == client.source:
                client.settings = self.partition.settings(client.settings)
            self._clients[client_type] = client
            self._clients[client_type].workers.hold = self.uninterrupted  # a signal never cuts a submit in half
        return t.cast("ClientT", self._clients[client_type])

    @cached_property
    def preflight(self) -> Preflight:
        """The checks made once before the first request: storage, then each source's credentials."""
        checks = {source.name: self.client(source.client_type).check for source in self.configured_sources()}
        return Preflight(storage=lambda: self.storage, checks=checks)

    def ensure_preflight(self) -> None:
        """Run the preflight once (before the run's first request); raise when anything failed.

        Nothing paid (a Coresignal data request), deleted (YouServe files) or extracted
        happens before it passed.
        """
        if self._preflight_done:
            return
        self._preflight_done = True  # the checks' own requests must not start it again
        problems = self.preflight.run()
        if problems:
            for problem in problems:
                self.logger.error("Preflight: %s", problem)
            raise PreflightError(problems[0], errors=problems)
        self.logger.info("Preflight: storage and the credentials of %s work", ", ".join(self.preflight.checks))

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: the preflight and nothing else; one line per source, OK or the reason.

        (``--test=schema`` writes the schemas, as the SDK does.) A dry run would create a paid
        Coresignal request or read real records; the preflight proves the same settings
        and credentials for free.
        """
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config = ctx.params.get("config")
        try:
            tap = cls(
                config=config.config if config is not None else None,
                parse_env_config=bool(config is not None and config.parse_env),
                validate_config=True,
            )
            _ = tap.streams
        except ConfigValidationError as exc:
            for error in exc.errors or [str(exc)]:
                click.echo(f"settings: {error}", err=True)
            ctx.exit(1)
        tap._preflight_done = True
        problems = tap.preflight.run()
        if tap.preflight.storage_problem:
            click.echo(f"storage: {tap.preflight.storage_problem}", err=True)
        for source, reason in tap.preflight.verdicts.items():
            click.echo(f"{source}: {'OK' if reason is None else reason}", err=True)
        ctx.exit(1 if problems else 0)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with ``--list-partitions``."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--list-partitions"],
                is_flag=True,
                help="Print the partitions of a backfill for the current config (one JSON object a line: name and "
                "partition setting), then exit. Makes no request.",
                callback=cls.cb_list_partitions,
                expose_value=False,
            )
        )
        return command

    @classmethod
    def cb_list_partitions(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        """``--list-partitions``: the backfill's partitions of every configured source, no request made.

        Exit 1 with one line on stderr when the settings are wrong or cannot be partitioned.
        """
        del param
        if not value:
            return
        config = ctx.params.get("config")
        try:
            tap = cls(
                config=config.config if config is not None else None,
                parse_env_config=bool(config is not None and config.parse_env),
                validate_config=True,
                setup_mapper=False,
            )
            _ = tap.streams  # every settings problem, before any request
            configured = [s.name for s in all_sources() if s.is_configured(source_settings(tap.config, s.name))]
            listed = partitions.backfill(tap.config, configured)
        except ConfigValidationError as exc:
            click.echo(f"settings: {(exc.errors or [str(exc)])[0]}", err=True)
            ctx.exit(1)
        except (partitions.ListingError, StateError) as exc:
            click.echo(str(exc), err=True)
            ctx.exit(1)
        for entry in listed:
            click.echo(json.dumps(entry, sort_keys=True))
        ctx.exit(0)

    def log_summaries(self, failed: Stream) -> None:
        """Every stream's summary so far, once, when ``failed`` stops the run."""
        if self._summaries_logged:
            return
        self._summaries_logged = True
        self.logger.error("Stream '%s' failed; what this run did until then:", failed.name)
        for stream in self.streams.values():
            if isinstance(stream, VendorStream) and (stream.moved or stream is failed):
                stream.logger.info(stream.summary(" (failed)" if stream is failed else ""))

    @cached_property
    def storage(self) -> FileStorage:
        """Where file bytes go (``files_storage_url``)."""
        settings = global_settings(self.config)
        return FileStorage(
            settings["files_storage_url"],
            inline_max_bytes=int(settings["inline_files_max_bytes"]),
            options=settings.get("files_storage_options"),
        )


TapHrData.__doc__ = _about_description()
