"""hub/tap-hrdata.yml installs: ``meltano add --from-ref`` in a fresh ``meltano init`` project.

The project sits beside a ``tap-hrdata`` directory (a link to this repository), as the
definition's ``pip_url`` expects of a clone; Meltano builds and installs the tap from it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_project import contract_settings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MELTANO = shutil.which("meltano", path=str(Path(sys.executable).parent)) or shutil.which("meltano")


def meltano(*args: str, cwd: Path) -> str:
    assert MELTANO, "meltano is not installed (pip install -e '.[dev]')"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "MELTANO_"))}
    done = subprocess.run(
        [MELTANO, *args],
        cwd=cwd,
        env={**env, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"meltano {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
    return done.stdout


def test_meltano_add_from_ref_installs_the_extractor(tmp_path: Path) -> None:
    hub = yaml.safe_load((ROOT / "hub" / "tap-hrdata.yml").read_text())
    (tmp_path / "tap-hrdata").symlink_to(ROOT)
    meltano("init", "project", cwd=tmp_path)
    project = tmp_path / "project"
    meltano("add", "--from-ref", "../tap-hrdata/hub/tap-hrdata.yml", "tap-hrdata", cwd=project)

    # An extractor, and nothing else.
    plugins = yaml.safe_load((project / "meltano.yml").read_text())["plugins"]
    assert list(plugins) == ["extractors"]
    (plugin,) = plugins["extractors"]
    assert plugin["name"] == "tap-hrdata"
    assert plugin["pip_url"] == hub["pip_url"] == "${MELTANO_PROJECT_ROOT}/../tap-hrdata"

    # Installed from the clone beside the project: the tap answers.
    about = json.loads(meltano("invoke", "tap-hrdata", "--about", "--format", "json", cwd=project))
    assert about["name"] == "tap-hrdata"

    # Only the tap's settings (its contract, and the SDK's stream maps and flattening), with their defaults.
    listing = meltano("config", "list", "tap-hrdata", "--all", cwd=project)
    listed = set(re.findall(r"^(\S+) \[env: TAP_HRDATA_\w+\]", listing, re.MULTILINE))
    assert listed == {setting["name"] for setting in hub["settings"]}
    contract = contract_settings()
    assert set(contract) <= listed
    assert listed - set(contract) == {"stream_maps", "stream_map_config", "flattening_enabled", "flattening_max_depth"}
    assert not [name for name in listed if name.startswith(("faker_config", "batch_config"))]
    for name, prop in contract.items():
        env = "TAP_HRDATA_" + name.replace(".", "_").upper()
        if "default" in prop:
            assert f"{name} [env: {env}] current value: {prop['default']!r} (default)" in listing, name
