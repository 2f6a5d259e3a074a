"""The Meltano project the code location drives, and the partitions the tap lists for it.

Everything here runs Meltano as a subprocess in the project directory, with this
process's environment: the tap's settings come from the ``TAP_HRDATA_*`` variables (or
the project's ``.env`` / ``meltano.yml``) exactly as for ``meltano run`` by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCES = ("talentsoft", "hrflow", "youserve", "coresignal")

PROJECT_ENV = "TAP_HRDATA_MELTANO_PROJECT"
"""The Meltano project's directory (default: this repository's root, else the working directory)."""
LOADER_ENV = "TAP_HRDATA_DAGSTER_LOADER"
"""The Meltano loader each run writes to (default ``target-postgres``; ``target-duckdb`` works the same)."""
PARTITIONS_ENV = "HRDATA_DAGSTER_PARTITIONS"
"""The partition list, as ``--list-partitions`` printed it. Set by the code location once it has asked the
tap, so that the processes Dagster starts from it (run workers, multiprocess steps) inherit the list instead
of asking again; set it yourself to pin a list."""


def default_project_dir() -> Path:
    """``$TAP_HRDATA_MELTANO_PROJECT``, else the checkout this package lives in, else the working directory."""
    if os.environ.get(PROJECT_ENV):
        return Path(os.environ[PROJECT_ENV]).resolve()
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "meltano.yml").is_file():
        return checkout
    return Path.cwd()


MELTANO_ENV = "TAP_HRDATA_DAGSTER_MELTANO"
"""The ``meltano`` executable to run (default: the one next to this Python, else the one on PATH)."""


def meltano_executable() -> str:
    """``$TAP_HRDATA_DAGSTER_MELTANO``, else the ``meltano`` next to this Python (the same venv), else PATH's."""
    if os.environ.get(MELTANO_ENV):
        return os.environ[MELTANO_ENV]
    found = shutil.which("meltano", path=str(Path(sys.executable).parent)) or shutil.which("meltano")
    if not found:
        raise RuntimeError("meltano is not installed: pip install meltano (or tap-hrdata[dev])")
    return found


@dataclass(frozen=True)
class Partition:
    """One line of ``tap-hrdata --list-partitions``: a stable name and the tap's ``partition`` object."""

    name: str
    spec: dict[str, Any]

    @property
    def source(self) -> str:
        """The source the partition slices."""
        return str(self.spec["source"])

    @property
    def open_ended(self) -> bool:
        """True for the partitions that reach to now (the last window of a source, every HrFlow key)."""
        return self.spec.get("end") is None

    @property
    def mapping_key(self) -> str:
        """The name as a Dagster dynamic mapping key (``[A-Za-z0-9_]``)."""
        return self.name.replace("-", "_")

    def to_json(self) -> str:
        """The ``partition`` object as ``TAP_HRDATA_PARTITION`` carries it."""
        return json.dumps(self.spec, separators=(",", ":"), sort_keys=True)


def parse_partitions(text: str) -> list[Partition]:
    """The partitions of ``--list-partitions`` output (one JSON object a line; other lines are refused)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            partition = Partition(name=str(item["name"]), spec=dict(item["partition"]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"line {number} of the partition list is not a partition: {line[:200]!r}") from error
        if partition.source not in SOURCES:
            raise ValueError(f"line {number} of the partition list names an unknown source {partition.source!r}")
        found.append(partition)
    names = [p.name for p in found]
    if len(set(names)) != len(names):
        raise ValueError("the partition list repeats a name")
    return found


def list_partitions(project_dir: Path | None = None, *, refresh: bool = False) -> list[Partition]:
    """The backfill's partitions for the current config.

    ``meltano invoke tap-hrdata --list-partitions`` in the project (Meltano hands the tap its config),
    unless ``$HRDATA_DAGSTER_PARTITIONS`` already holds them (``refresh`` asks the tap anyway). The answer
    is kept in that variable for the processes Dagster starts from this one.
    """
    if not refresh and os.environ.get(PARTITIONS_ENV):
        return parse_partitions(os.environ[PARTITIONS_ENV])
    project = project_dir or default_project_dir()
    done = subprocess.run(  # noqa: S603 (a fixed command, no shell)
        [meltano_executable(), "invoke", "tap-hrdata", "--list-partitions"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"tap-hrdata --list-partitions failed in {project} (exit {done.returncode}): {tail}")
    partitions = parse_partitions(done.stdout)
    os.environ[PARTITIONS_ENV] = done.stdout
    return partitions


def run_command(partition: Partition | None, loader: str, meltano: str | None = None) -> list[str]:
    """``meltano run [--state-id-suffix NAME] tap-hrdata LOADER``: one partition under its own state id."""
    command = [meltano or meltano_executable(), "run"]
    if partition is not None:
        command += ["--state-id-suffix", partition.name]
    return [*command, "tap-hrdata", loader]


#: The plugin folders of ``.meltano/`` that every partition's run shares (the installed venvs).
SHARED_SYS_DIRS = ("extractors", "loaders", "mappers", "utilities", "transformers", "orchestrators", "files")


def run_env(partition: Partition | None, project_dir: Path | None = None) -> dict[str, str]:
    """The variables a partition's run adds to the environment.

    ``TAP_HRDATA_PARTITION``, and a ``.meltano`` folder of its own (``MELTANO_SYS_DIR_ROOT``): Meltano
    writes each run's catalog to the fixed path ``.meltano/run/tap-hrdata/tap.properties.json``, so two
    runs at once in one project overwrite each other's. The partition's folder links to the project's
    installed plugins and keeps the project's system database (``MELTANO_DATABASE_URI``, unless set).
    """
    if partition is None:
        return {}
    project = project_dir or default_project_dir()
    shared = project / ".meltano"
    own = shared / "partitions" / partition.name
    own.mkdir(parents=True, exist_ok=True)
    for name in SHARED_SYS_DIRS:
        link = own / name
        if (shared / name).is_dir() and not link.exists():
            with contextlib.suppress(FileExistsError):  # another run of the same partition made it first
                link.symlink_to(shared / name, target_is_directory=True)
    env = {"TAP_HRDATA_PARTITION": partition.to_json(), "MELTANO_SYS_DIR_ROOT": str(own)}
    if not os.environ.get("MELTANO_DATABASE_URI"):
        env["MELTANO_DATABASE_URI"] = f"sqlite:///{shared / 'meltano.db'}"
    return env


def incremental_partitions(partitions: list[Partition], sources: list[str] | tuple[str, ...]) -> list[Partition]:
    """What the daily job runs: each source's open-ended partitions.

    They carry the backfill's bookmarks forward under the same state ids. The first of each source gets
    ``full_tables``, so that the streams that cannot be sliced (referentials, HrFlow sources and boards)
    are refreshed once a day, by one run.
    """
    chosen: list[Partition] = []
    for source in sources:
        tails = [p for p in partitions if p.source == source and p.open_ended]
        for index, tail in enumerate(tails):
            chosen.append(Partition(tail.name, {**tail.spec, "full_tables": index == 0}))
    return chosen
