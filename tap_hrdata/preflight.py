"""Everything checked before anything is paid, deleted or extracted.

Two passes. :func:`settings_problems` reads the config only (no network): unknown settings
(with a did-you-mean), sources configured halfway, conflicting credentials, what a source
needs to make sense (Coresignal's filters), dates, URLs. :meth:`Preflight.run` then
touches the world once, cheaply: a write-and-delete under ``files_storage_url`` and each
configured source's cheapest authenticated call (the OAuth token the run keeps using,
HrFlow's ``/sources``, a Coresignal files listing that costs nothing). Every problem is one
line naming the setting, never its value.
"""

from __future__ import annotations

import difflib
import typing as t
from dataclasses import dataclass, field

from singer_sdk.exceptions import ConfigValidationError, FatalAPIError

from tap_hrdata.settings import CONFIG_SCHEMA, SOURCE_SETTINGS, source_settings
from tap_hrdata.values import utc_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from tap_hrdata.sources import Source
    from tap_hrdata.storage import FileStorage


#: Settings the SDK reads without declaring them in the schema.
SDK_READS = frozenset({"emit_activate_version_messages", "user_agent"})


class PreflightError(ConfigValidationError):
    """The run cannot start: one line per problem in ``errors``."""


def settings_problems(config: Mapping[str, t.Any], known: Iterable[str], sources: Iterable[Source]) -> list[str]:
    """What is wrong with ``config`` before anything is sent (``known``: every top-level setting)."""
    problems: list[str] = []
    known = {*known, *SDK_READS}
    dotted = sorted(
        {
            *known,
            *(f"{name}.{sub}" for name in SOURCE_SETTINGS for sub in _properties(CONFIG_SCHEMA["properties"][name])),
        }
    )
    for name in config:
        if name not in known:
            problems.append(f"unknown setting '{name}'{_did_you_mean(name, dotted)}")
    for source_name in SOURCE_SETTINGS:
        block = config.get(source_name)
        if block is not None and not isinstance(block, dict):
            problems.append(f"{source_name} must be an object of settings")
            continue
        allowed = _properties(CONFIG_SCHEMA["properties"][source_name])
        for name in block or {}:
            if name not in allowed:
                problems.append(
                    f"unknown setting '{source_name}.{name}'{_did_you_mean(f'{source_name}.{name}', dotted)}"
                )
    configured = []
    for source in sources:
        settings = source_settings(config, source.name)
        if source.is_configured(settings):
            configured.append(source)
            problems += source.conflicts(settings)
        elif engaged := _engaged(config.get(source.name) or {}, source.name):
            missing = source.missing(settings)
            problems.append(
                f"{source.name} is configured halfway ({', '.join(f'{source.name}.{n}' for n in engaged)} set): "
                f"also set {', '.join(missing)}"
            )
    if not configured and not any("halfway" in problem for problem in problems):
        problems.append(
            "no source is configured: set the settings of at least one of "
            + "; ".join(f"{source.title} ({source.enabled_by()})" for source in sources)
        )
    start = config.get("start_date")
    if start not in (None, "") and utc_timestamp(start) is None:
        problems.append("start_date is not a date or date-time (e.g. 2024-01-01 or 2024-01-01T00:00:00Z)")
    return problems


def _secret_paths() -> dict[str, str]:
    """``config['talentsoft']['client_secret']`` (as the SDK's messages write a path) -> dotted name."""
    paths = {}
    for name, schema in CONFIG_SCHEMA["properties"].items():
        if schema.get("secret"):
            paths[f"config[{name!r}]"] = name
        for sub, sub_schema in schema.get("properties", {}).items():
            if sub_schema.get("secret"):
                paths[f"config[{name!r}][{sub!r}]"] = f"{name}.{sub}"
    return paths


def without_secret_values(errors: Iterable[str]) -> list[str]:
    """The SDK's schema messages, those about a secret setting rewritten without its value.

    The SDK writes ``<value> is not of type 'string' in config[...]``: for a secret that
    would print the secret itself.
    """
    secrets = _secret_paths()
    cleaned = []
    for error in errors:
        path = next((path for path in secrets if error.endswith(f" in {path}")), None)
        if path is None:
            cleaned.append(error)
        else:
            cleaned.append(f"{secrets[path]} is not a valid value for this secret setting (its value is not shown)")
    return cleaned


def _properties(schema: Mapping[str, t.Any]) -> set[str]:
    return set(schema.get("properties", {}))


def _engaged(block: Mapping[str, t.Any], source_name: str) -> list[str]:
    """The settings of a block a user set on purpose: values that are not the schema's defaults.

    Meltano passes every setting's default (meltano.yml ``value:``) for every source block,
    so a block holding defaults only is not a source the user meant to configure.
    """
    schema = CONFIG_SCHEMA["properties"][source_name]["properties"]
    return [
        name
        for name, value in block.items()
        if name in schema and value not in (None, "", [], {}) and value != schema[name].get("default")
    ]


def _did_you_mean(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.75)
    if not close and "." not in name:  # a source's setting written at the top level
        close = difflib.get_close_matches(name.lower(), [c for c in candidates if "." in c], n=1, cutoff=0.6)
        close = close or [c for c in candidates if c.rsplit(".", 1)[-1].replace("_", "") == name.lower()][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass
class Preflight:
    """The one look at the world before a run: storage, then each source's credentials."""

    storage: Callable[[], FileStorage]
    #: Per configured source: a check raising on failure (its client's cheapest authenticated call).
    checks: dict[str, Callable[[], None]]
    #: Per source: None (OK) or the reason; empty until :meth:`run`.
    verdicts: dict[str, str | None] = field(default_factory=dict)
    storage_problem: str | None = None

    def run(self) -> list[str]:
        """Run every check once; the problems, one line each."""
        try:
            self.storage().probe()
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "refused"
            self.storage_problem = f"files_storage_url: cannot write and delete a file there ({reason})"
        for source, check in self.checks.items():
            try:
                check()
            except (FatalAPIError, ConfigValidationError) as exc:
                self.verdicts[source] = str(exc)
            else:
                self.verdicts[source] = None
        problems = [self.storage_problem] if self.storage_problem else []
        return problems + [reason for reason in self.verdicts.values() if reason]
