"""The project's promises about itself: README, meltano.yml and --about agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_meltano_yml_declares_every_setting_and_secret() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    tap = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-hrdata")
    declared = {s["name"]: s for s in tap["settings"]}
    contract = contract_settings()
    assert set(contract) <= set(declared)
    for name, prop in contract.items():
        assert bool(declared[name].get("sensitive")) == bool(prop.get("secret")), name
    assert tap["pip_url"] == "-e ."
    assert tap["namespace"] == "tap_hrdata"
    loaders = {p["name"]: p for p in project["plugins"]["loaders"]}
    assert loaders["target-postgres"]["pip_url"].startswith("meltanolabs-target-postgres")
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
