"""The done-when test of issue 15: healthy canaries are promoted, ten in a row, while a CPU
burner holds one core — no false rollback from a busy machine — with 0 failed requests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.deploy.e2e.helpers import World, deploy_under_load, index_code, make_world, settled_on

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="the local target uses /proc"),
]

RUNS = 10
BURN_SECONDS = 900  # a bound: the burner ends on its own even if the test is killed


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = make_world(tmp_path_factory.mktemp("busy-core"))
    try:
        yield built
    finally:
        built.deploy("stop")


@pytest.fixture
def burner() -> Iterator[subprocess.Popen[bytes]]:
    code = (
        f"import time\nend = time.monotonic() + {BURN_SECONDS}\n"
        "while time.monotonic() < end: pass\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_ten_healthy_canaries_in_a_row_are_promoted_on_a_busy_core(
    world: World, burner: subprocess.Popen[bytes]
) -> None:
    first = world.deploy(str(world.version("v1", "1.0.1", index_code("v1"))), "--env", "dev")
    assert first.code == 0, first.stdout + first.stderr
    outcomes: list[str] = []
    for run in range(2, RUNS + 2):
        assert burner.poll() is None, "the CPU burner stopped early"
        release = world.version(f"v{run}", f"1.0.{run}", index_code(f"v{run}"))
        result, load = deploy_under_load(world, release)
        outcomes.append(result.stdout.strip().splitlines()[-1] if result.stdout else "")
        assert result.code == 0, f"run {run}: {result.stdout}{result.stderr}"
        assert load.failed == 0, (run, load.errors[:3])
        settled_on(world, f"1.0.{run}")
    assert len(outcomes) == RUNS and all(o.startswith("promoted") for o in outcomes), outcomes
