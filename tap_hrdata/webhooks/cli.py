"""``tap-hrdata-webhooks``: the webhook receiver and the subscription CLI.

    tap-hrdata-webhooks [--config FILE|ENV ...] serve --port N [--host 127.0.0.1] [--threads 4]
                        [--on-coresignal-ready 'meltano run tap-hrdata target-postgres']
    tap-hrdata-webhooks [--config ...] talentsoft subscribe --event vacancy_new --callback-url URL --ping-url URL
    tap-hrdata-webhooks [--config ...] talentsoft list
    tap-hrdata-webhooks [--config ...] talentsoft unsubscribe HOOK_ID

The config is the tap's (see :mod:`tap_hrdata.webhooks.config`). In a callback or ping
URL, ``{secret}`` stands for ``talentsoft.webhook_secret``, so the secret need not be
typed on a command line; what is printed and kept in the registry has it masked.

``serve`` opens a route for each vendor whose ``webhook_secret`` is set (Talentsoft,
HrFlow, Coresignal). ``--on-coresignal-ready COMMAND`` runs COMMAND (without a shell,
nothing added to it) after each Coresignal "data request ready" notification is
journalled: after the answer is decided, never two at once (see
:class:`tap_hrdata.webhooks.coresignal.ReadyCommand`).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import typing as t
from datetime import datetime, timezone
from urllib.parse import quote

from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.streams.rest import HTTPRequest

from tap_hrdata.http.urls import check_transport
from tap_hrdata.settings import global_settings
from tap_hrdata.sources.talentsoft.client import TalentsoftClient
from tap_hrdata.storage import FileStorage
from tap_hrdata.webhooks.config import WEBHOOK_VENDORS, ConfigError, load_config, webhook_secret
from tap_hrdata.webhooks.coresignal import ReadyCommand
from tap_hrdata.webhooks.journal import JournalError, JournalWriter, journal_path
from tap_hrdata.webhooks.receiver import Receiver, configured_hooks
from tap_hrdata.webhooks.registry import HookRegistry, masked
from tap_hrdata.webhooks.talentsoft import is_known_event

if t.TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

PROG = "tap-hrdata-webhooks"
WEBHOOKS_PATH = "/api/system/v1/webhooks"
logger = logging.getLogger(PROG)


class CommandError(Exception):
    """A failure the command reports in one line (exit code 1)."""


def storage_of(config: t.Mapping[str, t.Any]) -> FileStorage:
    """The tap's file storage (``files_storage_url``)."""
    settings = global_settings(config)
    return FileStorage(str(settings["files_storage_url"]), options=settings.get("files_storage_options"))


# ---- serve -------------------------------------------------------------------------------


def serve(
    config: t.Mapping[str, t.Any], host: str, port: int, threads: int, on_coresignal_ready: str | None = None
) -> None:
    """Open every configured vendor's journal and serve until SIGTERM or SIGINT."""
    import waitress  # noqa: PLC0415  # only the receiver needs it

    hooks = configured_hooks(config)
    if not hooks:
        names = ", ".join(f"{vendor}.webhook_secret" for vendor in WEBHOOK_VENDORS)
        msg = f"no vendor is set up to receive webhooks: set one of {names}"
        raise CommandError(msg)
    listeners = {}
    ready_command = None
    if on_coresignal_ready is not None:
        if "coresignal" not in {hook.name for hook in hooks}:
            msg = "--on-coresignal-ready needs the Coresignal route: set coresignal.webhook_secret"
            raise CommandError(msg)
        ready_command = ReadyCommand(on_coresignal_ready, logger)
        listeners["coresignal"] = ready_command
    storage = storage_of(config)
    journals: dict[str, JournalWriter] = {}
    try:
        for hook in hooks:
            journals[hook.name] = JournalWriter(journal_path(storage, hook.name), logger).open()
        server = waitress.create_server(
            Receiver(hooks, journals, logger, listeners=listeners), host=host, port=port, threads=threads, ident=PROG
        )
        bound = f"http://{server.effective_host}:{server.effective_port}"
        logger.info("webhooks: journals %s", ", ".join(str(j.path) for j in journals.values()))
        print(f"listening on {bound} for {', '.join(sorted(journals))}", flush=True)

        def stop(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        try:
            server.run()
        except (SystemExit, KeyboardInterrupt):
            pass
        finally:
            server.close()
            server.task_dispatcher.shutdown()  # requests in flight finish (waitress waits up to 5 s)
    finally:
        for journal in journals.values():
            journal.close()
    running = ready_command.running() if ready_command is not None else None
    if ready_command is not None and running is not None:
        logger.info("webhooks: %s (pid %d) is still running; left to finish", ready_command.program, running.pid)
    logger.info("webhooks: stopped; every acknowledged event is in its journal")


# ---- talentsoft subscriptions ----------------------------------------------------------


def _talentsoft(config: t.Mapping[str, t.Any]) -> TalentsoftClient:
    """The Talentsoft client (one token for the command), its settings checked."""
    given = config.get("talentsoft")
    block: dict[str, t.Any] = given if isinstance(given, dict) else {}
    missing = [f"talentsoft.{name}" for name in ("base_url", "client_id", "client_secret") if not block.get(name)]
    if missing:
        msg = f"set {', '.join(missing)}"
        raise CommandError(msg)
    client = TalentsoftClient(config, logger)
    try:
        check_transport(client.base_url, "talentsoft.base_url")
    except ConfigValidationError as exc:
        raise CommandError(str(exc)) from None
    return client


def _with_secret(url: str, secret: str | None, name: str) -> str:
    if "{secret}" in url:
        if secret is None:
            msg = f"{name} holds {{secret}}: set talentsoft.webhook_secret"
            raise CommandError(msg)
        url = url.replace("{secret}", secret)
    try:
        check_transport(url, name)
    except ConfigValidationError as exc:
        raise CommandError(str(exc)) from None
    if secret is None or secret not in url:
        msg = f"{name} must carry talentsoft.webhook_secret (write {{secret}} in it): the receiver refuses the rest"
        raise CommandError(msg)
    return url


def subscribe(config: t.Mapping[str, t.Any], event: str, callback_url: str, ping_url: str) -> dict[str, t.Any]:
    """``POST /api/system/v1/webhooks``; the subscription recorded in the registry (secret masked)."""
    if not is_known_event(event):
        msg = f"unknown event {event!r}: vacancy_new, vacancy_update, application_event_new or applicant_..."
        raise CommandError(msg)
    secret = webhook_secret(config, "talentsoft")
    callback = _with_secret(callback_url, secret, "--callback-url")
    ping = _with_secret(ping_url, secret, "--ping-url")
    client = _talentsoft(config)
    body = {"event": event, "callbackUrl": callback, "pingUrl": ping}
    request = HTTPRequest(
        url=client.base_url + WEBHOOKS_PATH,
        method="POST",
        headers={"Content-Type": "application/json"},
        data=json.dumps(body).encode(),
    )
    answer = client.json(request, stream="webhooks").json()
    hook_id = answer.get("hookId") or answer.get("id") if isinstance(answer, dict) else answer
    if not isinstance(hook_id, (str, int)) or isinstance(hook_id, bool) or str(hook_id) == "":
        msg = "talentsoft answered the subscription without a hookId"
        raise CommandError(msg)
    hook = {
        "hook_id": str(hook_id),
        "event": event,
        "callback_url": masked(callback, secret),
        "ping_url": masked(ping, secret),
        "subscribed_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    HookRegistry(storage_of(config), "talentsoft").add(hook)
    return hook


def unsubscribe(config: t.Mapping[str, t.Any], hook_id: str) -> bool:
    """``DELETE /api/system/v1/webhooks/{hookId}`` (a 404: already gone); whether the registry knew it."""
    client = _talentsoft(config)
    request = HTTPRequest(url=f"{client.base_url}{WEBHOOKS_PATH}/{quote(hook_id, safe='')}", method="DELETE")
    status = client.call(request, lambda response: response.status_code, stream="webhooks", answers={404})
    if status == 404:
        logger.warning("talentsoft: hook %s was not found there (already removed)", hook_id)
    return HookRegistry(storage_of(config), "talentsoft").remove(hook_id)


# ---- the command line ------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The command line."""

    def config_option(target: argparse.ArgumentParser, default: object) -> None:
        target.add_argument(
            "--config",
            action="append",
            default=default,
            metavar="FILE|ENV",
            help="the tap's config file (repeatable; ENV: from TAP_HRDATA_* variables). Default: ENV",
        )

    main = argparse.ArgumentParser(prog=PROG, description="Webhook receiver and subscriptions of tap-hrdata.")
    config_option(main, None)
    commands = main.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="receive vendor callbacks and journal them")
    config_option(serve_cmd, argparse.SUPPRESS)
    serve_cmd.add_argument("--port", type=int, required=True)
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--threads", type=int, default=4)
    serve_cmd.add_argument(
        "--on-coresignal-ready",
        metavar="COMMAND",
        help="run COMMAND (no shell) after each Coresignal data request ready notification, one run at a time, "
        "e.g. 'meltano run tap-hrdata target-postgres'",
    )
    ts = commands.add_parser("talentsoft", help="Talentsoft webhook subscriptions")
    ts_commands = ts.add_subparsers(dest="action", required=True)
    sub = ts_commands.add_parser("subscribe", help="POST /api/system/v1/webhooks")
    config_option(sub, argparse.SUPPRESS)
    sub.add_argument("--event", required=True)
    sub.add_argument("--callback-url", required=True, help="e.g. https://hooks.example.com/talentsoft/{secret}")
    sub.add_argument("--ping-url", required=True, help="e.g. https://hooks.example.com/talentsoft/{secret}/ping")
    listing = ts_commands.add_parser("list", help="the subscriptions in the registry")
    config_option(listing, argparse.SUPPRESS)
    unsub = ts_commands.add_parser("unsubscribe", help="DELETE /api/system/v1/webhooks/{hookId}")
    config_option(unsub, argparse.SUPPRESS)
    unsub.add_argument("hook_id")
    return main


def run(args: argparse.Namespace, config: t.Mapping[str, t.Any]) -> int:
    """Carry out one parsed command."""
    if args.command == "serve":
        serve(config, args.host, args.port, args.threads, args.on_coresignal_ready)
        return 0
    if args.action == "subscribe":
        hook = subscribe(config, args.event, args.callback_url, args.ping_url)
        print(hook["hook_id"])
        logger.info("talentsoft: subscribed %s to %s (hook %s)", hook["callback_url"], hook["event"], hook["hook_id"])
        return 0
    if args.action == "list":
        for hook in HookRegistry(storage_of(config), "talentsoft").hooks():
            fields = (hook.get("hook_id"), hook.get("event"), hook.get("callback_url"), hook.get("subscribed_at"))
            print("\t".join(str(value) for value in fields))
        return 0
    known = unsubscribe(config, args.hook_id)
    print(args.hook_id)
    if not known:
        logger.warning("talentsoft: hook %s was not in the registry", args.hook_id)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The console script."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    args = parser().parse_args(argv)
    secrets: list[str] = []

    def shown(text: str) -> str:
        for secret in secrets:
            text = masked(text, secret)
        return text

    try:
        config = load_config(args.config)
        for vendor in WEBHOOK_VENDORS:
            try:
                secret = webhook_secret(config, vendor)
            except ConfigError:
                secret = None
            if secret is not None:
                secrets.append(secret)
        return run(args, config)
    except (CommandError, ConfigError, JournalError, ValueError, OSError) as exc:
        print(f"{PROG}: {shown(str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:  # the client's errors (FatalAPIError ...) are already redacted
        if type(exc).__module__.startswith(("singer_sdk", "tap_hrdata")):
            print(f"{PROG}: {shown(str(exc))}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
