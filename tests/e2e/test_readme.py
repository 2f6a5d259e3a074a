"""Every ```bash block of README.md, run as written, so none of them rots.

A block runs as in a new terminal: a fresh ``bash`` (with ``set -eo pipefail``, so a failing
command fails the block) in its own process group, at the repository root unless its
scenario says otherwise, without the activated venv and without any TAP_HRDATA_*,
TARGET_*, MELTANO_*, PG* or PYTHON* variable of the test run (PYTHONUNBUFFERED, set on
some machines, once hid that ``--print-config > file &`` writes nothing). Its scenario
adds only environment variables and the services the block expects:

- Meltano's system database (runs and state) in a temporary directory (MELTANO_DATABASE_URI);
- target-postgres loads into a temporary schema (TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA),
  dropped afterwards;
- port 8765 must be free: the blocks start the emulator there themselves;
- the "real APIs" block gets TAP_HRDATA_* variables pointing at an emulator of this test
  process, and TARGET_POSTGRES_PASSWORD, as a user's .env would;
- ``bash scripts/test.sh`` runs one small test file (PYTEST_ADDOPTS), not the whole suite again.

A block must leave nothing running behind it (a user's terminal would keep it).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.test_meltano_postgres import env_for
from tests.emulator.__main__ import demo_vendors, hosts, tap_config
from tests.emulator.server import Emulator
from tests.test_project import contract_settings

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
DEMO_PORT = 8765
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
SCRUBBED_PREFIXES = ("TAP_", "TARGET_", "MELTANO_", "PYTEST_", "PG", "PYTHON", "VIRTUAL_ENV")
STREAMS = {
    "vacancies",
    "candidates",
    "applications",
    "attachments",
    "referentials",
    "referential_translations",
    "talentsoft_events",
    "hrflow_profiles",
    "hrflow_jobs",
    "hrflow_sources",
    "hrflow_boards",
    "hrflow_profile_attachments",
    "hrflow_events",
    "hrflow_trackings",
    "hrflow_ratings",
    "delivered_files",
    "bulk_jobs",
}
#: Streams with no record in these blocks: no webhook receiver runs, so the events journals are empty.
NO_RECORDS = {"talentsoft_events", "hrflow_events"}
#: Streams a catalog from --discover leaves unselected (Meltano's default select, *.*, selects them).
OFF_BY_DEFAULT = {"hrflow_profile_attachments"}

if not (VENV_BIN / "activate").exists():
    pytest.skip(
        "the README's blocks run in the project's .venv (bash scripts/test.sh makes it)", allow_module_level=True
    )


def readme_blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def pg(sql: str) -> list[tuple]:
    with psycopg.connect(PG_DSN, autocommit=True) as db:
        cursor = db.execute(sql)
        return cursor.fetchall() if cursor.description else []


def drop_schema(schema: str) -> None:
    pg(f'drop schema if exists "{schema}" cascade')


def table_counts(schema: str) -> dict[str, int]:
    tables = [r[0] for r in pg(f"select table_name from information_schema.tables where table_schema = '{schema}'")]
    return {table: pg(f'select count(*) from "{schema}"."{table}"')[0][0] for table in tables}


def env_var(setting: str) -> str:
    return "TAP_HRDATA_" + setting.replace(".", "_").upper()


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Run:
    """One block's run: where, with what, and what it printed."""

    tmp: Path
    cwd: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    output: str = ""
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def fresh_schema(self) -> str:
        schema = f"readme_{uuid.uuid4().hex[:10]}"
        self.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
        self.cleanups.append(lambda: drop_schema(schema))
        return schema

    def own_meltano_database(self) -> None:
        self.env["MELTANO_DATABASE_URI"] = f"sqlite:///{self.tmp / 'meltano.db'}"

    def needs_demo_port(self) -> None:
        if port_in_use(DEMO_PORT):
            pytest.fail(f"port {DEMO_PORT} is in use: the README's blocks start the emulator there; stop what holds it")


def clean_env() -> dict[str, str]:
    """The environment of a new terminal: no venv activated, none of this run's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN)
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def run_block(block: str, run: Run, timeout: float = 300) -> None:
    """Run ``block`` in a fresh bash; fail on a non-zero exit, a hang, or processes it left running."""
    log = run.tmp / "block.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", "set -eo pipefail\n" + block],
            cwd=run.cwd,
            env={**clean_env(), **run.env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code: int | str = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = f"still running after {timeout} s"
        deadline = time.monotonic() + 10
        while group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left_running = group_alive(process.pid)
        if left_running:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    run.output = log.read_text(errors="replace")
    assert code == 0, f"README block failed ({code}):\n{block}\n--- its output (tail) ---\n{run.output[-6000:]}"
    assert not left_running, f"README block left processes running (stop them in the block):\n{block}"


# ---- one scenario per block: what it needs before, what it must have done after ------------------------------


def quickstart(run: Run) -> Iterator[None]:
    run.needs_demo_port()
    run.own_meltano_database()
    run.env["PYTEST_ADDOPTS"] = "tests/test_values.py"  # the suite is running already: one file proves the command
    yield
    assert re.search(r"hrdata\.vacancies\s+\d+ rows", run.output), run.output[-3000:]
    assert re.search(r"\d+ passed", run.output), run.output[-3000:]


def postgres_demo(run: Run) -> Iterator[None]:
    run.needs_demo_port()
    run.own_meltano_database()
    schema = run.fresh_schema()
    yield
    counts = table_counts(schema)
    assert set(counts) == STREAMS
    assert all(count for table, count in counts.items() if table not in NO_RECORDS), counts


def outside_meltano(run: Run) -> Iterator[None]:
    run.needs_demo_port()
    yield
    catalog = json.loads((ROOT / "output" / "catalog.json").read_text())
    lines = (ROOT / "output" / "messages.jsonl").read_text().split("\n")  # not splitlines: U+2028 is JSON text
    messages = [json.loads(line) for line in lines if line.startswith("{")]
    assert {s["tap_stream_id"] for s in catalog["streams"]} == STREAMS
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == STREAMS - NO_RECORDS - OFF_BY_DEFAULT
    assert any(m["type"] == "STATE" for m in messages)


def real_apis(run: Run) -> Iterator[None]:
    vendors = demo_vendors()
    emulator = Emulator(hosts(vendors)).start()
    run.cleanups.append(emulator.stop)
    run.env.update(env_for(tap_config(emulator, vendors, files_storage_url=str(run.tmp / "files"))))
    run.env["TARGET_POSTGRES_PASSWORD"] = "trust-auth-ignores-it"  # the user's .env holds the real one
    run.own_meltano_database()
    schema = run.fresh_schema()
    yield
    counts = table_counts(schema)
    assert set(counts) == STREAMS
    assert all(count for table, count in counts.items() if table not in NO_RECORDS), counts


def another_project(run: Run) -> Iterator[None]:
    run.cwd = run.tmp / "work"
    run.cwd.mkdir()
    (run.cwd / "tap-hrdata").symlink_to(ROOT)  # the clone beside the project
    run.env["PATH"] = os.pathsep.join([str(VENV_BIN), clean_env()["PATH"]])  # Meltano installed
    yield
    assert re.search(r"^talentsoft\.page_size .* current value: 100 \(default\)$", run.output, re.MULTILINE)


def state_set(run: Run) -> Iterator[None]:
    run.own_meltano_database()
    yield
    state = json.loads(next(line for line in run.output.splitlines() if line.startswith('{"singer_state"')))
    assert state["singer_state"]["bookmarks"]["bulk_jobs"]["pending_request"]["id"]


def config_list(run: Run) -> Iterator[None]:
    run.own_meltano_database()
    yield
    for name, prop in contract_settings().items():  # every default of the schema, shown as Meltano's default
        if "default" in prop:
            assert f"{name} [env: {env_var(name)}] current value: {prop['default']!r} (default)" in run.output, name
    assert re.search(r"^talentsoft\.base_url .* 'http://127\.0\.0\.1:8765/ts'", run.output, re.MULTILINE)


#: (a command that identifies the block, its scenario), in README order
SCENARIOS: list[tuple[str, Callable[[Run], Iterator[None]]]] = [
    ("bash scripts/demo.sh", quickstart),
    ("meltano --environment=demo run tap-hrdata target-postgres", postgres_demo),
    ("--print-config", outside_meltano),
    ("\nmeltano run tap-hrdata target-postgres", real_apis),
    ("meltano add --from-ref", another_project),
    ("meltano state set", state_set),
    ("meltano --environment=demo config list", config_list),
]


def scenarios_of(block: str) -> list[Callable[[Run], Iterator[None]]]:
    return [scenario for key, scenario in SCENARIOS if key in "\n" + block]


def scenario_of(block: str) -> Callable[[Run], Iterator[None]]:
    matches = scenarios_of(block)
    assert len(matches) == 1, f"README block needs exactly one scenario in {__name__} (has {len(matches)}):\n{block}"
    return matches[0]


def block_id(block: str) -> str:
    matches = scenarios_of(block)
    return matches[0].__name__ if len(matches) == 1 else "without_scenario"


def test_every_block_has_a_scenario() -> None:
    blocks = readme_blocks()
    assert len(blocks) == len(SCENARIOS), "a README bash block was added or removed: give it a scenario"
    assert [scenario_of(block) for block in blocks] == [scenario for _, scenario in SCENARIOS]


@pytest.mark.parametrize("block", readme_blocks(), ids=block_id)
def test_readme_block(block: str, tmp_path: Path) -> None:
    run = Run(tmp=tmp_path)
    scenario = scenario_of(block)(run)
    try:
        next(scenario)
        run_block(block, run)
        next(scenario, None)
    finally:
        for cleanup in reversed(run.cleanups):
            cleanup()
