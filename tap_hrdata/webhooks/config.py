"""The receiver's and the subscription CLI's settings: the tap's config, read the way the tap reads it.

``--config FILE`` (repeatable, later files win) and ``--config ENV``: the tap's own
environment variables, ``TAP_HRDATA_<SETTING>`` for the top-level settings (the SDK's
rule, a ``.env`` file included) and ``TAP_HRDATA_<BLOCK>_<SETTING>`` for a source's
settings (``TAP_HRDATA_TALENTSOFT_WEBHOOK_SECRET``), as Meltano names them. Without
``--config``, the environment.
"""

from __future__ import annotations

import copy
import json
import os
import re
import typing as t
from pathlib import Path

from singer_sdk import typing as th
from singer_sdk.configuration._dict_config import parse_environment_config

from tap_hrdata.settings import CONFIG_SCHEMA, SOURCE_SETTINGS

ENV_PREFIX = "TAP_HRDATA_"

#: The receiver's setting, one per vendor that pushes events; each vendor's block in
#: ``tap_hrdata/settings.py`` declares it too (with its own description), where the tap's contract lives.
WEBHOOK_SECRET = th.Property(
    "webhook_secret",
    th.StringType,
    secret=True,
    description="Secret of the webhook receiver (tap-hrdata-webhooks serve): the token callbacks must carry in "
    "their URL (/talentsoft/{secret}) or in an X-Webhook-Token header. At least 16 characters of "
    "A-Z a-z 0-9 . _ ~ -.",
)
#: The blocks that have a ``webhook_secret`` (the receiver's routes).
WEBHOOK_VENDORS = ("talentsoft", "hrflow", "coresignal")
#: What a secret may look like: a URL path segment that needs no encoding, long enough not to be guessed.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9._~-]{16,512}")


class ConfigError(ValueError):
    """A config that cannot be used, naming the setting or file."""


def config_schema() -> dict[str, t.Any]:
    """The tap's config schema, with the webhook settings in each vendor block that pushes events."""
    schema = copy.deepcopy(CONFIG_SCHEMA)
    for block in WEBHOOK_VENDORS:
        properties = schema["properties"][block].setdefault("properties", {})
        properties.setdefault(WEBHOOK_SECRET.name, WEBHOOK_SECRET.to_dict()[WEBHOOK_SECRET.name])
    return schema


def environment_config() -> dict[str, t.Any]:
    """The settings the environment gives: top-level ones by the SDK's rule, a block's one by one."""
    schema = config_schema()
    config = parse_environment_config(schema, ENV_PREFIX)
    for block in SOURCE_SETTINGS:
        properties = schema["properties"][block].get("properties", {})
        for name, prop in properties.items():
            value = os.environ.get(f"{ENV_PREFIX}{block.upper()}_{name.upper()}")
            if value is None:
                continue
            kinds = prop.get("type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            parsed: t.Any = value
            if "integer" in kinds:
                parsed = int(value)
            elif "number" in kinds:
                parsed = float(value)
            elif "boolean" in kinds:
                parsed = value.lower() in {"true", "1", "yes", "on"}
            elif "array" in kinds or "object" in kinds:
                parsed = json.loads(value)
            block_config = config.get(block)
            config[block] = {**(block_config if isinstance(block_config, dict) else {}), name: parsed}
    return config


def load_config(sources: t.Sequence[str] | None) -> dict[str, t.Any]:
    """The merged config of ``sources`` (files, or ``ENV``); the environment when none is given."""
    config: dict[str, t.Any] = {}
    for source in sources or ["ENV"]:
        if source == "ENV":
            given = environment_config()
        else:
            try:
                given = json.loads(Path(source).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                msg = f"config file {source}: {exc.__class__.__name__}: cannot be read as JSON"
                raise ConfigError(msg) from None
            if not isinstance(given, dict):
                msg = f"config file {source}: not a JSON object"
                raise ConfigError(msg)
        for name, value in given.items():
            if isinstance(value, dict) and isinstance(config.get(name), dict):
                config[name] = {**config[name], **value}
            else:
                config[name] = value
    return config


def webhook_secret(config: t.Mapping[str, t.Any], vendor: str) -> str | None:
    """``{vendor}.webhook_secret``, checked; None when it is not set."""
    block = config.get(vendor)
    secret = block.get(WEBHOOK_SECRET.name) if isinstance(block, dict) else None
    if secret in (None, ""):
        return None
    if not isinstance(secret, str) or not SECRET_PATTERN.fullmatch(secret):
        msg = f"{vendor}.{WEBHOOK_SECRET.name} must be 16 to 512 characters of A-Z a-z 0-9 . _ ~ -"
        raise ConfigError(msg)
    return secret
