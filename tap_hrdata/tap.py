"""TapHrData: the settings contract, discovery of the configured sources only, run-wide services."""

from __future__ import annotations

import copy
import typing as t
from functools import cached_property

import click
from singer_sdk import Tap
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_hrdata.http.urls import check_transport
from tap_hrdata.preflight import Preflight, PreflightError, settings_problems, without_secret_values
from tap_hrdata.privacy import redaction_problems
from tap_hrdata.settings import CONFIG_SCHEMA, global_settings, source_settings
from tap_hrdata.sources import all_sources
from tap_hrdata.storage import FileStorage
from tap_hrdata.streams import VendorStream

if t.TYPE_CHECKING:
    from singer_sdk import Stream

    from tap_hrdata.http.client import VendorClient
    from tap_hrdata.sources import Source

ClientT = t.TypeVar("ClientT", bound="VendorClient")


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
    message_writer_class = MsgSpecWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._clients: dict[type[VendorClient], VendorClient] = {}
        self._preflight_done = False
        self._summaries_logged = False
        try:
            super().__init__(*args, **kwargs)
        except ConfigValidationError as exc:  # the SDK's schema check: its messages may hold a secret
            errors = without_secret_values(exc.errors or [str(exc)])
            raise PreflightError(errors[0], errors=errors) from None

    @override
    def discover_streams(self) -> list[Stream]:
        """Streams of the configured sources, once the settings make sense (no network yet).

        Every problem of the settings is one line of one ConfigValidationError, raised before
        any request: a misspelled or halfway configured source is an error, never a source
        silently left out.
        """
        problems = settings_problems(self.config, self.config_jsonschema["properties"], all_sources())
        streams: list[Stream] = []
        for source in self.configured_sources():
            client = self.client(source.client_type)
            problems += client.problems()
            for setting, url in client.urls().items():
                try:
                    check_transport(url, f"{source.name}.{setting}")
                except ConfigValidationError as exc:
                    problems += exc.errors
            streams.extend(stream_type(tap=self) for stream_type in source.stream_types)
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
        order: dict[type[Stream], int] = {}
        for source in all_sources():
            order.update({kind: len(order) for kind in source.stream_types})
        by_name = super().streams
        return dict(sorted(by_name.items(), key=lambda item: order.get(type(item[1]), len(order))))

    def configured_sources(self) -> list[Source]:
        """The sources whose settings are there (in documentation order: Coresignal, the paid one, last)."""
        return [s for s in all_sources() if s.is_configured(source_settings(self.config, s.name))]

    def client(self, client_type: type[ClientT]) -> ClientT:
        """The one client of a source for this run, shared by its streams (and its token)."""
        if client_type not in self._clients:
            self._clients[client_type] = client_type(self.config, self.logger, before_first_send=self.ensure_preflight)
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
        return FileStorage(settings["files_storage_url"], inline_max_bytes=int(settings["inline_files_max_bytes"]))


TapHrData.__doc__ = _about_description()
