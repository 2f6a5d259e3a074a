"""The project's promises about itself: README, meltano.yml and --about agree."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tap_hrdata.settings import CONFIG_SCHEMA

ROOT = Path(__file__).resolve().parent.parent


def contract_settings() -> dict[str, dict]:
    flat = {}
    for name, prop in CONFIG_SCHEMA["properties"].items():
        if prop.get("properties"):
            flat.update({f"{name}.{sub}": sub_prop for sub, sub_prop in prop["properties"].items()})
        else:
            flat[name] = prop
    return flat


def test_readme_settings_table_is_current() -> None:
    check = subprocess.run([sys.executable, "scripts/readme_settings.py", "--check"], cwd=ROOT, check=False)
    assert check.returncode == 0, "README settings table is stale: run python scripts/readme_settings.py"


@functools.cache
def about() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tap_hrdata", "--about", "--format", "json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout))


def expected_kind(prop: dict[str, Any]) -> str:
    """The Meltano kind of a schema property. Numbers are `integer`: Meltano 4.4 turns a `decimal`
    setting read from the environment into a Decimal and then fails to serialize the tap's config."""
    if prop.get("format") == "date-time":
        return "date_iso8601"
    if prop.get("enum"):
        return "options"
    types = prop.get("type", "string")
    types = [t for t in ([types] if isinstance(types, str) else types) if t != "null"]
    return {"number": "integer"}.get(types[0], types[0])


def check_declarations(settings: list[dict[str, Any]], where: str) -> None:
    """Every setting of the contract declared as the schema says (kind, options, secret, default);
    the other declared settings are the SDK's (in --about), never a setting the tap does not have."""
    declared = {s["name"]: s for s in settings}
    assert len(declared) == len(settings), f"{where}: a setting is declared twice"
    contract = contract_settings()
    assert not set(contract) - set(declared), f"{where} lacks {sorted(set(contract) - set(declared))}"
    sdk = set(about()["settings"]["properties"]) - set(CONFIG_SCHEMA["properties"])
    unknown = set(declared) - set(contract) - sdk
    assert not unknown, f"{where} declares settings the tap does not have: {sorted(unknown)}"
    for name, prop in contract.items():
        setting = declared[name]
        assert setting["kind"] == expected_kind(prop), f"{where}: {name} kind"
        assert bool(setting.get("sensitive")) == bool(prop.get("secret")), f"{where}: {name} sensitive"
        if "default" in prop:
            assert "value" in setting, f"{where}: {name} has no value (the schema's default: {prop['default']!r})"
            assert setting["value"] == prop["default"], f"{where}: {name} value is not the default {prop['default']!r}"
        else:
            assert setting.get("value") is None, f"{where}: {name} has a value, the schema no default"
        if setting["kind"] == "options":
            assert [o["value"] for o in setting["options"]] == [v for v in prop["enum"] if v is not None], name


def test_meltano_yml_declares_every_setting_and_secret() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    tap = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-hrdata")
    check_declarations(tap["settings"], "meltano.yml")
    assert tap["pip_url"] == "-e .[s3]"  # the project itself, with s3fs for s3:// files_storage_url
    assert tap["namespace"] == "tap_hrdata"
    loaders = {p["name"]: p for p in project["plugins"]["loaders"]}
    assert loaders["target-postgres"]["pip_url"].startswith("meltanolabs-target-postgres")
    # target-postgres starts only with a password (or a URL): the demo environment's, which trust
    # auth ignores; the others' come from the environment or .env, never from meltano.yml.
    postgres = {"": loaders["target-postgres"].get("config", {})}
    for environment in project["environments"]:
        for loader in environment.get("config", {}).get("plugins", {}).get("loaders", []):
            if loader["name"] == "target-postgres":
                postgres[environment["name"]] = loader.get("config", {})
    assert {"password", "sqlalchemy_url"} & set(postgres.pop("demo"))
    assert not [name for name, config in postgres.items() if {"password", "sqlalchemy_url"} & set(config)]
    assert loaders["target-duckdb"]["pip_url"].startswith("target-duckdb~=0.8")


def test_about_lists_every_stream_and_setting() -> None:
    about = subprocess.run(
        [sys.executable, "-m", "tap_hrdata", "--about", "--format", "json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(about.stdout)
    for stream in ("vacancies", "candidates", "applications", "attachments", "referentials"):
        assert stream in info["description"]
    assert info["settings"]["properties"]["talentsoft"]["properties"]["client_secret"]["secret"] is True


def test_hub_definition_is_current() -> None:
    check = subprocess.run([sys.executable, "scripts/hub_definition.py", "--check"], cwd=ROOT, check=False)
    assert check.returncode == 0, "hub/tap-hrdata.yml is stale: run python scripts/hub_definition.py"


def test_hub_definition_declares_the_settings_of_meltano_yml() -> None:
    hub = yaml.safe_load((ROOT / "hub" / "tap-hrdata.yml").read_text())
    check_declarations(hub["settings"], "hub/tap-hrdata.yml")
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    tap = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-hrdata")
    hub_names, project_names = {s["name"] for s in hub["settings"]}, {s["name"] for s in tap["settings"]}
    assert hub_names == project_names, (
        f"only in hub/tap-hrdata.yml: {sorted(hub_names - project_names)}; "
        f"only in meltano.yml: {sorted(project_names - hub_names)}"
    )
